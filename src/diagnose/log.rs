//! What a node's log says: lines that show JVM memory errors, ZooKeeper session expiry or an
//! unreachable ZooKeeper, the negotiated session timeout, an unreachable store (PostgreSQL,
//! HBase), Pinpoint's missing HBase tables, clocks out of step, data a server refuses to start on
//! (ZooKeeper's data directory, a bookie's cookie), error-looking lines in general, and the root
//! error of a failure (its first error and the innermost cause of its stack trace).
//!
//! The phrases are those the JVM, the ZooKeeper client (ClientCnxn) and server, Curator,
//! BookKeeper, Pulsar, the PostgreSQL driver, HBase and its client print; matching is on
//! substrings, so a message wrapped in an exception still counts.

/// Lines quoted as evidence, at most.
pub(super) const EVIDENCE: usize = 5;
/// Longest quoted line, in characters.
const LINE_CHARS: usize = 300;

/// The JVM could not get the memory it was told to use, or ran out of it.
const MEMORY_ERRORS: [&str; 5] = [
    "Could not reserve enough space",
    "There is insufficient memory for the Java Runtime Environment",
    "OutOfMemoryError",
    "Cannot allocate memory",
    "Native memory allocation (mmap) failed",
];

/// The ZooKeeper client logs this on every lost connection, expired session or not.
const RECONNECT_NOTE: &str = "attempting reconnect except it is a sessionexpiredexception";

/// Case-insensitive phrases of a session expiry (matched against the line lowercased).
const EXPIRY_PHRASES: [&str; 5] = [
    "session expired",
    "sessionexpiredexception",
    "session with metadata service was lost",
    // Pulsar 2.9 and later printed it misspelt.
    "session with metdata service was lost",
    "zookeeper session expired",
];

/// Case-sensitive markers of a session expiry: BookKeeper's `SESSIONEXPIRED` code and Pulsar's
/// `SessionLost` metadata event.
const EXPIRY_MARKERS: [&str; 2] = ["SESSIONEXPIRED", "SessionLost"];

/// Case-insensitive phrases of a ZooKeeper that could not be reached (line lowercased).
const UNREACHABLE_PHRASES: [&str; 9] = [
    "unable to connect to zookeeper",
    "connectionlossexception",
    "keepererrorcode = connectionloss",
    "failed to connect to zookeeper",
    "zookeeper client connection timed out",
    "unable to read additional data from server sessionid 0x0,",
    // A client that never got a session: `Session 0x0 for server zk-1/..:2181, unexpected
    // error` (3.5) or `.., Closing socket connection` (3.6 on, some releases spell it "sever").
    "session 0x0 for se",
    // The HBase client's, when its ZooKeeper lookups gave up (HBase itself, Pinpoint).
    "can't retrieve clusterid from zookeeper",
    // Curator's (Pinpoint's cluster membership).
    "connection timed out for connection string",
];

/// Case-insensitive phrases of a JDBC store that could not be reached (line lowercased): the
/// PostgreSQL driver's and HikariCP's.
const POSTGRES_PHRASES: [&str; 4] = [
    ":5432",
    "the connection attempt failed",
    "hikaripool",
    "failed to initialize pool",
];

/// Case-insensitive phrases of an HBase its client could not reach or get answers from (line
/// lowercased), as the HBase 1.7 client in Pinpoint's collector and web prints them. A missing
/// master znode means ZooKeeper answered but no HBase master registered in it.
const HBASE_PHRASES: [&str; 8] = [
    "failed to warmup for table",
    // `Cannot get the location for replica0 ..` and `Can't get the location for replica 0`.
    "get the location for replica",
    "can't get master address from zookeeper",
    // `Call to hbase-1/172.20.0.5:16020 failed on local exception: ..`
    "failed on local exception",
    "failed on connection exception",
    "failed to get result within timeout",
    "retriesexhausted",
    "masternotrunningexception",
];

/// HBase's exception for a table that does not exist; its message names the table.
const TABLE_NOT_FOUND: &str = "TableNotFoundException";

/// HBase's master rejecting a region server whose clock is too far from its own.
const CLOCK_OUT_OF_SYNC: &str = "ClockOutOfSyncException";

/// The ZooKeeper client's `Client session timed out, have not heard from server in 3613344ms`.
const NOT_HEARD: &str = "have not heard from server in ";

/// Pinpoint's collector and web log this when their start failed, and then exit with code 0.
const LAUNCH_FAILED: &str = "could not launch app";

/// How many lines before a `Connection refused` may name the ZooKeeper port it was refused on.
const REFUSED_LOOKBACK: usize = 3;
const ZOOKEEPER_PORT: &str = ":2181";

fn lines(log: &str) -> impl DoubleEndedIterator<Item = &str> {
    log.lines()
        .map(str::trim_end)
        .filter(|line| !line.trim().is_empty())
}

/// JVM flags that name a memory error without one having happened (a command line echoed to
/// the log carries them).
const MEMORY_FLAGS: [&str; 3] = [
    "ExitOnOutOfMemoryError",
    "CrashOnOutOfMemoryError",
    "HeapDumpOnOutOfMemoryError",
];

/// Lines with a JVM memory error.
pub(super) fn memory_errors(log: &str) -> Vec<&str> {
    lines(log)
        .filter(|line| {
            let mut text = line.to_string();
            for flag in MEMORY_FLAGS {
                text = text.replace(flag, "");
            }
            MEMORY_ERRORS.iter().any(|phrase| text.contains(phrase))
        })
        .collect()
}

/// Lines that say a ZooKeeper session expired or was lost.
pub(super) fn session_expiry(log: &str) -> Vec<&str> {
    lines(log)
        .filter(|line| {
            let lower = line.to_ascii_lowercase().replace(RECONNECT_NOTE, "");
            EXPIRY_PHRASES.iter().any(|phrase| lower.contains(phrase))
                || EXPIRY_MARKERS.iter().any(|marker| line.contains(marker))
                || (lower.contains("session 0x") && lower.contains(" has expired"))
                || (lower.contains("zookeeper session") && lower.contains(" is expired"))
        })
        .collect()
}

/// Lines that say ZooKeeper could not be reached: connection losses, a client that never got a
/// session, lookups given up after their retries, or a connection refused on the ZooKeeper port.
pub(super) fn zookeeper_unreachable(log: &str) -> Vec<&str> {
    let all: Vec<&str> = lines(log).collect();
    all.iter()
        .enumerate()
        .filter(|(at, line)| {
            let lower = line.to_ascii_lowercase();
            if UNREACHABLE_PHRASES
                .iter()
                .any(|phrase| lower.contains(phrase))
                || zookeeper_gave_up(&lower)
            {
                return true;
            }
            // The refusal is for the nearest address named at or before it, if that is
            // ZooKeeper's and the client had not just connected there.
            lower.contains("connection refused")
                && all[at.saturating_sub(REFUSED_LOOKBACK)..=*at]
                    .iter()
                    .rev()
                    .find(|line| line.contains(ZOOKEEPER_PORT) || names_other_port(line))
                    .is_some_and(|line| !names_other_port(line) && !zookeeper_connected(line))
        })
        .map(|(_, line)| *line)
        .collect()
}

/// HBase's RecoverableZooKeeper giving up: `ZooKeeper exists failed after 4 attempts` (any
/// operation in place of `exists`).
fn zookeeper_gave_up(lower: &str) -> bool {
    lower.match_indices("zookeeper ").any(|(at, found)| {
        lower[at + found.len()..]
            .split_once(' ')
            .is_some_and(|(operation, rest)| {
                !operation.is_empty()
                    && operation.chars().all(|c| c.is_ascii_alphabetic())
                    && rest.starts_with("failed after ")
                    && rest.contains(" attempts")
            })
    })
}

/// A ZooKeeper client line that says it connected: a refusal after it was for something else
/// (an HBase client reads ZooKeeper, then dials a region server).
fn zookeeper_connected(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    lower.contains("socket connection established") || lower.contains("establishment complete")
}

/// Whether a line names a port other than ZooKeeper's (`Connection refused: hbase-1/..:16020`);
/// a time of day (`10:00:02`) or a source line (`ClientCnxn.java:1164`) is no port.
fn names_other_port(line: &str) -> bool {
    line.match_indices(':').any(|(at, _)| {
        let digits: String = line[at + 1..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        (3..=5).contains(&digits.len())
            && digits != ZOOKEEPER_PORT[1..]
            && !line[..at].ends_with(".java")
    })
}

/// Lines that say the JDBC store (PostgreSQL) could not be reached.
pub(crate) fn postgres_unreachable(log: &str) -> Vec<&str> {
    lines(log)
        .filter(|line| {
            let lower = line.to_ascii_lowercase();
            POSTGRES_PHRASES.iter().any(|phrase| lower.contains(phrase))
                && (lower.contains("refused")
                    || lower.contains("failed")
                    || lower.contains("unknownhost")
                    || lower.contains("timed out")
                    || lower.contains("not available"))
        })
        .collect()
}

/// Lines that say HBase could not be reached or did not answer in time.
pub(crate) fn hbase_unreachable(log: &str) -> Vec<&str> {
    lines(log)
        .filter(|line| {
            let lower = line.to_ascii_lowercase();
            HBASE_PHRASES.iter().any(|phrase| lower.contains(phrase))
        })
        .collect()
}

/// HBase tables a client was told do not exist: the lines, and the tables they name in order of
/// first mention (`TableNotFoundException: AgentInfo`, or `.. Table 'AgentInfo' was not found`).
pub(super) fn missing_tables(log: &str) -> (Vec<&str>, Vec<String>) {
    let found: Vec<&str> = lines(log)
        .filter(|line| line.contains(TABLE_NOT_FOUND))
        .collect();
    let mut tables: Vec<String> = Vec::new();
    for line in &found {
        let Some(rest) = line
            .split_once(TABLE_NOT_FOUND)
            .and_then(|(_, rest)| rest.strip_prefix(':'))
        else {
            continue;
        };
        let rest = rest.trim_start();
        let name = match rest.strip_prefix("Table '") {
            Some(quoted) => quoted.split('\'').next().unwrap_or_default(),
            None => rest.split_whitespace().next().unwrap_or_default(),
        };
        let name = name.trim_matches(|c: char| matches!(c, '\'' | '"' | ',' | ';' | '.'));
        if !name.is_empty() && !tables.iter().any(|t| t == name) {
            tables.push(name.to_string());
        }
    }
    (found, tables)
}

/// What HBase's master said when it rejected a region server for its clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ClockOutOfSync<'a> {
    pub lines: Vec<&'a str>,
    /// The rejected region server's host, when the message names it.
    pub server: Option<&'a str>,
    pub difference_ms: Option<u64>,
    pub max_ms: Option<u64>,
}

/// HBase's `ClockOutOfSyncException: Server hbase-2,16020,1700000000000 has been rejected; ..
/// Time difference of 3600000ms > max allowed of 30000ms`, the last one the log explains.
pub(super) fn clock_out_of_sync(log: &str) -> Option<ClockOutOfSync<'_>> {
    let found: Vec<&str> = lines(log)
        .filter(|line| line.contains(CLOCK_OUT_OF_SYNC))
        .collect();
    let explained = found
        .iter()
        .rev()
        .find(|line| line.contains("Time difference of "))
        .or(found.last())?;
    // `Server hbase-2,16020,1700000000000 has been rejected`: the host is the name's first part.
    let server = explained
        .find(" has been rejected")
        .and_then(|end| explained[..end].rsplit_once("Server "))
        .and_then(|(_, name)| name.split(',').next())
        .filter(|host| !host.is_empty() && !host.contains(char::is_whitespace));
    Some(ClockOutOfSync {
        server,
        difference_ms: number_after(explained, "Time difference of "),
        max_ms: number_after(explained, "max allowed of "),
        lines: found,
    })
}

/// The ZooKeeper client's silences: each `have not heard from server in 3613344ms` line with its
/// milliseconds.
pub(super) fn client_silences(log: &str) -> Vec<(&str, u64)> {
    lines(log)
        .filter_map(|line| Some((line, number_after(line, NOT_HEARD)?)))
        .collect()
}

/// Pinpoint's `[CollectorApp] could not launch app.` (or `[WebApp]`), the first time.
pub(super) fn launch_failure(log: &str) -> Option<&str> {
    lines(log).find(|line| line.contains(LAUNCH_FAILED))
}

/// The digits right after `phrase` in `line`.
fn number_after(line: &str, phrase: &str) -> Option<u64> {
    let rest = &line[line.find(phrase)? + phrase.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The last session timeout a ZooKeeper server granted, from `negotiated timeout = 2000`.
pub(super) fn negotiated_timeout_ms(log: &str) -> Option<u64> {
    const PHRASE: &str = "negotiated timeout = ";
    lines(log).rev().find_map(|line| number_after(line, PHRASE))
}

/// Whether a line looks like an error: an ERROR, FATAL or SEVERE entry, or an exception or
/// `Error:` outside INFO/DEBUG/TRACE entries. Stack frames (`at ...`) are not.
fn is_error(line: &str) -> bool {
    let trimmed = line.trim_start();
    if trimmed.starts_with("at ") || trimmed.starts_with("... ") {
        return false;
    }
    if ["ERROR", "FATAL", "SEVERE"]
        .iter()
        .any(|level| line.contains(level))
    {
        return true;
    }
    let quiet = [" INFO ", " DEBUG ", " TRACE ", "[INFO]", "[DEBUG]"]
        .iter()
        .any(|level| line.contains(level));
    !quiet
        && ["Exception", "Error:", "Caused by:"]
            .iter()
            .any(|word| line.contains(word))
}

/// The error-looking lines, in log order.
pub(super) fn error_lines(log: &str) -> Vec<&str> {
    lines(log).filter(|line| is_error(line)).collect()
}

/// The last `n` non-empty lines.
pub(super) fn last_lines(log: &str, n: usize) -> Vec<&str> {
    let all: Vec<&str> = lines(log).collect();
    all[all.len().saturating_sub(n)..].to_vec()
}

/// Lines to quote: repeats dropped, at most [`EVIDENCE`] (the first and the last ones), each
/// trimmed and cut to a readable length.
pub(super) fn evidence(found: &[&str]) -> Vec<String> {
    let mut distinct: Vec<&str> = Vec::new();
    for line in found {
        if !distinct.contains(line) {
            distinct.push(line);
        }
    }
    if distinct.len() > EVIDENCE {
        let tail = distinct.split_off(distinct.len() - (EVIDENCE - 1));
        distinct.truncate(1);
        distinct.extend(tail);
    }
    distinct.into_iter().map(quote).collect()
}

/// One line, trimmed and cut to [`LINE_CHARS`] characters.
pub(crate) fn quote(line: &str) -> String {
    let line = line.trim();
    match line.char_indices().nth(LINE_CHARS) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line.to_string(),
    }
}

/// What a server found wrong with its data when it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFault {
    /// ZooKeeper: its `currentEpoch` file is older than the transactions it holds.
    EpochBehindLog,
    /// ZooKeeper: its `acceptedEpoch` file is behind its `currentEpoch` file.
    AcceptedEpochBehind,
    /// ZooKeeper: transaction log entries but no snapshot.
    SnapshotMissing,
    /// ZooKeeper: snapshots, none of them readable.
    NoValidSnapshot,
    /// ZooKeeper: a damaged transaction log, or a database that would not load.
    Damaged,
    /// BookKeeper: directories without a cookie while the metadata store has the bookie's.
    CookieMissingOnDisk,
    /// BookKeeper: a cookie on disk but none in the metadata store.
    CookieMissingInMetadata,
    /// BookKeeper: the cookies on disk and in the metadata store differ.
    CookieMismatch,
    /// BookKeeper: no cookie anywhere, yet directories that are not empty.
    DirectoriesNotEmpty,
    /// BookKeeper: another invalid cookie.
    InvalidCookie,
}

impl DataFault {
    /// Whether data (or the record of it) is gone, rather than there but inconsistent.
    pub fn missing(self) -> bool {
        matches!(
            self,
            DataFault::SnapshotMissing
                | DataFault::CookieMissingOnDisk
                | DataFault::CookieMissingInMetadata
        )
    }
}

/// ZooKeeper's messages for a data directory it will not load, most specific first: QuorumPeer's
/// epoch checks, FileTxnSnapLog's and FileSnap's restore, FileTxnLog's reading, and QuorumPeer's
/// error around them all. A partial last transaction or one damaged snapshot among good ones is
/// logged too, but ZooKeeper recovers from those (a killed server leaves the first), so they are
/// no reason to exit and are not matched.
const ZOOKEEPER_DATA: [(&str, DataFault); 7] = [
    ("is older than the last zxid", DataFault::EpochBehindLog),
    (
        "is less than the current epoch",
        DataFault::AcceptedEpochBehind,
    ),
    (
        "No snapshot found, but there are log entries",
        DataFault::SnapshotMissing,
    ),
    (
        "Not able to find valid snapshots in",
        DataFault::NoValidSnapshot,
    ),
    ("CRC check failed", DataFault::Damaged),
    ("has invalid magic number", DataFault::Damaged),
    (ZOOKEEPER_LOAD_FAILED, DataFault::Damaged),
];

/// QuorumPeer's error when its database would not load; its cause says why.
const ZOOKEEPER_LOAD_FAILED: &str = "Unable to load database on disk";

/// A bookie's cookie checks (LegacyCookieValidation, Cookie), most specific first.
const BOOKIE_DATA: [(&str, DataFault); 5] = [
    (
        "There are directories without a cookie",
        DataFault::CookieMissingOnDisk,
    ),
    (
        "Cookie for this bookie is not stored in metadata store",
        DataFault::CookieMissingInMetadata,
    ),
    // Cookie's `Cookie [..] is not matching with [..]` and `instanceId .. is not matching with ..`.
    ("is not matching with", DataFault::CookieMismatch),
    (
        "Not all the new directories are empty",
        DataFault::DirectoriesNotEmpty,
    ),
    (INVALID_COOKIE, DataFault::InvalidCookie),
];

/// The exception every failed cookie check throws.
const INVALID_COOKIE: &str = "InvalidCookieException";

/// Data a server refused to start on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataProblem<'a> {
    pub fault: DataFault,
    /// The line that says what is wrong, to quote.
    pub line: &'a str,
    /// Every line that speaks of it.
    pub lines: Vec<&'a str>,
}

/// A ZooKeeper server's data directory that it would not load.
pub(crate) fn zookeeper_data(log: &str) -> Option<DataProblem<'_>> {
    let mut found = data_problem(log, &ZOOKEEPER_DATA)?;
    // QuorumPeer's own error says only that loading failed; its cause says why.
    if found.line.contains(ZOOKEEPER_LOAD_FAILED)
        && let Some(cause) = innermost_cause(&entries(log), found.line)
    {
        found.line = cause;
        if !found.lines.contains(&cause) {
            found.lines.push(cause);
        }
    }
    Some(found)
}

/// A bookie whose cookie check failed.
pub(crate) fn bookie_data(log: &str) -> Option<DataProblem<'_>> {
    // Cookie's mismatch phrase is plain words; it counts with the exception the check throws.
    let thrown = lines(log).find(|line| line.contains(INVALID_COOKIE));
    let phrases: Vec<(&str, DataFault)> = BOOKIE_DATA
        .into_iter()
        .filter(|(_, fault)| thrown.is_some() || *fault != DataFault::CookieMismatch)
        .collect();
    let mut found = data_problem(log, &phrases)?;
    // A cookie printed on several lines leaves the phrase on a line of its own; the exception's
    // line is the one to quote then.
    if let Some(thrown) = thrown
        && found.fault == DataFault::CookieMismatch
        && !found.line.contains(INVALID_COOKIE)
    {
        found.line = thrown;
    }
    Some(found)
}

/// The first of `phrases` found (in their order), with every line that has any of them.
fn data_problem<'a>(log: &'a str, phrases: &[(&str, DataFault)]) -> Option<DataProblem<'a>> {
    let found: Vec<&str> = lines(log)
        .filter(|line| phrases.iter().any(|(phrase, _)| line.contains(phrase)))
        .collect();
    let (fault, line) = phrases.iter().find_map(|(phrase, fault)| {
        let line = found.iter().find(|line| line.contains(phrase))?;
        Some((*fault, *line))
    })?;
    Some(DataProblem {
        fault,
        line,
        lines: found,
    })
}

/// The epochs a ZooKeeper epoch check compared: the epoch its file holds and the one it fell
/// behind. `The current epoch, b8, is older than the last zxid, 794568949761` (the epoch in hex,
/// the zxid in decimal, its epoch in the high 32 bits) gives (0xb8, 0xb9); `The accepted epoch,
/// 0 is less than the current epoch, 1` gives (0, 1).
pub(super) fn zookeeper_epochs(fault: DataFault, line: &str) -> Option<(u64, u64)> {
    let hex_after = |phrase: &str| {
        let rest = &line[line.find(phrase)? + phrase.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
        u64::from_str_radix(&digits, 16).ok()
    };
    match fault {
        DataFault::EpochBehindLog => Some((
            hex_after("The current epoch, ")?,
            number_after(line, "the last zxid, ")? >> 32,
        )),
        DataFault::AcceptedEpochBehind => Some((
            hex_after("The accepted epoch, ")?,
            hex_after("the current epoch, ")?,
        )),
        _ => None,
    }
}

/// How far before a failure's last error its other errors reach, in seconds: the errors that led
/// to the exit and those of the shutdown after it (hooks closing clients, the JVM's last words)
/// fall within this.
const FAILURE_SECS: i64 = 30;
const DAY_SECS: i64 = 24 * 3_600;
/// How far into a line its level is looked for, in characters.
const LEVEL_CHARS: usize = 160;
/// How far into a line its timestamp is looked for, in bytes.
const TIME_BYTES: usize = 40;

const LEVELS: [&str; 8] = [
    "ERROR", "FATAL", "SEVERE", "WARN", "WARNING", "INFO", "DEBUG", "TRACE",
];

/// The error a failure follows from, as its log tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RootError<'a> {
    /// The failure's first ERROR (or FATAL, SEVERE) line with a stack trace, else its first
    /// ERROR line, else its first error-looking line.
    pub first: &'a str,
    /// The innermost cause of its stack trace (the first in the chain: the last `Caused by:`),
    /// when that is another line than `first`.
    pub cause: Option<&'a str>,
    /// The lines to quote: `first` and the exception chain the cause is from.
    pub lines: Vec<&'a str>,
}

/// The root error of the failure a log ends with. The failure is its errors within
/// [`FAILURE_SECS`] before its last one (without timestamps, from its last error with a stack
/// trace on); its root is the first of them logged at ERROR with a stack trace (else the first
/// at ERROR, else the first), explained by the innermost cause of the first stack trace from
/// there on. What a process prints as it exits (`Exiting JVM with code 1`, a shutdown
/// hook's complaints) thus never stands for why it exited.
pub(super) fn root_error(log: &str) -> Option<RootError<'_>> {
    let entries = entries(log);
    let errors: Vec<&Entry> = entries.iter().filter(|entry| entry.is_error()).collect();
    let last = errors.last()?;
    let from = match last.time {
        Some(end) => {
            let within = |entry: &&Entry| {
                entry.time.is_some_and(|time| {
                    // Seconds before `end`, across midnight too.
                    let before = (end - time + DAY_SECS + DAY_SECS / 2) % DAY_SECS - DAY_SECS / 2;
                    before <= FAILURE_SECS
                })
            };
            errors
                .iter()
                .rposition(|entry| !within(entry))
                .map_or(0, |at| at + 1)
        }
        None => errors
            .iter()
            .rposition(|entry| !entry.chain().is_empty())
            .unwrap_or(errors.len() - 1),
    };
    let failure = &errors[from..];
    // An ERROR with a stack trace is what a failing start or a fatal error logs; an ERROR line
    // alone is often a complaint the process survived.
    let at = failure
        .iter()
        .position(|entry| entry.severe() && !entry.chain().is_empty())
        .or_else(|| failure.iter().position(|entry| entry.severe()))
        .unwrap_or(0);
    let entry = failure[at];
    let first = if entry.severe() {
        entry.head()
    } else {
        entry.lines.iter().copied().find(|line| is_error(line))?
    };
    let chain = failure[at..]
        .iter()
        .map(|entry| entry.chain())
        .find(|chain| !chain.is_empty())
        .unwrap_or_default();
    let cause = chain.last().copied().filter(|cause| *cause != first);
    let mut lines = vec![first];
    lines.extend(chain.into_iter().filter(|line| *line != first));
    Some(RootError {
        first,
        cause,
        lines,
    })
}

/// A line's message: `Caused by: ` dropped, and for a log entry what follows its level and
/// logger (`.. ERROR [main:o.a.z.s.q.QuorumPeer@1203] - Unable to load database on disk` gives
/// `Unable to load database on disk`).
pub(super) fn message(line: &str) -> &str {
    let line = line.trim();
    if let Some(cause) = line.strip_prefix("Caused by: ") {
        return cause;
    }
    let Some((at, level)) = level(line) else {
        return line;
    };
    let rest = &line[at + level.len()..];
    [" - ", " -- "]
        .iter()
        .filter_map(|separator| Some((rest.find(separator)?, separator.len())))
        .min()
        .map(|(at, len)| rest[at + len..].trim())
        .filter(|message| !message.is_empty())
        .unwrap_or(line)
}

/// One log entry: its first line and the lines that continue it (a stack trace, a message on
/// several lines).
struct Entry<'a> {
    lines: Vec<&'a str>,
    /// Its time of day in seconds: its own, or the last one logged before it.
    time: Option<i64>,
}

impl<'a> Entry<'a> {
    fn head(&self) -> &'a str {
        self.lines[0]
    }

    fn is_error(&self) -> bool {
        self.lines.iter().any(|line| is_error(line))
    }

    /// Whether it was logged at ERROR, FATAL or SEVERE.
    fn severe(&self) -> bool {
        level(self.head()).is_some_and(|(_, level)| matches!(level, "ERROR" | "FATAL" | "SEVERE"))
    }

    /// Its exception and causes, outermost first: the unindented exception and `Caused by:`
    /// lines (a suppressed exception's are indented).
    fn chain(&self) -> Vec<&'a str> {
        self.lines
            .iter()
            .copied()
            .filter(|line| exception_line(line) || line.starts_with("Caused by:"))
            .collect()
    }
}

/// The log's entries: a line with a timestamp or a level starts one, other lines continue it.
fn entries(log: &str) -> Vec<Entry<'_>> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut time = None;
    for line in lines(log) {
        match entries.last_mut() {
            Some(entry) if !starts_entry(line) => entry.lines.push(line),
            _ => {
                time = time_of_day(line).or(time);
                entries.push(Entry {
                    lines: vec![line],
                    time,
                });
            }
        }
    }
    entries
}

/// The innermost cause in the stack trace of the entry that `line` is in.
fn innermost_cause<'a>(entries: &[Entry<'a>], line: &str) -> Option<&'a str> {
    entries
        .iter()
        .find(|entry| entry.lines.contains(&line))?
        .chain()
        .last()
        .copied()
}

fn starts_entry(line: &str) -> bool {
    let trimmed = line.trim_start();
    let continues = trimmed.len() != line.len()
        || ["at ", "... ", "Caused by:", "Suppressed:"]
            .iter()
            .any(|start| trimmed.starts_with(start))
        || exception_line(line);
    !continues && (time_of_day(line).is_some() || level(line).is_some())
}

/// Whether a line starts with an exception's class name: `java.io.IOException: ..`,
/// `org.apache.zookeeper.KeeperException$ConnectionLossException: ..`.
fn exception_line(line: &str) -> bool {
    let name = line.split([':', ' ', '\t']).next().unwrap_or_default();
    let simple = name.rsplit(['.', '$']).next().unwrap_or_default();
    name.contains('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '$'))
        && ["Exception", "Error", "Throwable"]
            .iter()
            .any(|kind| simple.ends_with(kind))
}

/// A line's level and where it is: the first whole word among [`LEVELS`] near its start.
fn level(line: &str) -> Option<(usize, &'static str)> {
    let end = line
        .char_indices()
        .nth(LEVEL_CHARS)
        .map_or(line.len(), |(at, _)| at);
    let head = &line[..end];
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    LEVELS
        .iter()
        .filter_map(|level| {
            head.match_indices(level)
                .find(|(at, _)| {
                    !word(head[..*at].chars().next_back())
                        && !word(head[at + level.len()..].chars().next())
                })
                .map(|(at, _)| (at, *level))
        })
        .min_by_key(|(at, _)| *at)
}

/// The time of day near a line's start (`10:00:03` in `2024-05-01T10:00:03,000+0000 ..`), in
/// seconds.
fn time_of_day(line: &str) -> Option<i64> {
    let bytes = &line.as_bytes()[..line.len().min(TIME_BYTES)];
    bytes.windows(8).enumerate().find_map(|(at, w)| {
        let digits = |i: usize| w[i].is_ascii_digit() && w[i + 1].is_ascii_digit();
        let fits = digits(0)
            && w[2] == b':'
            && digits(3)
            && w[5] == b':'
            && digits(6)
            && (at == 0 || !bytes[at - 1].is_ascii_digit());
        let two = |i: usize| i64::from(w[i] - b'0') * 10 + i64::from(w[i + 1] - b'0');
        fits.then(|| two(0) * 3_600 + two(3) * 60 + two(6))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A broker that loses ZooKeeper for a moment and reconnects: connection trouble, no expiry.
    const RECONNECT: &str = "\
2024-05-01T10:00:00,000+0000 [main-SendThread(zk-1:2181)] INFO  org.apache.zookeeper.ClientCnxn - Session establishment complete on server zk-1/172.18.0.2:2181, session id = 0x100000a2b3c0001, negotiated timeout = 30000
2024-05-01T10:00:05,000+0000 [main-SendThread(zk-1:2181)] WARN  org.apache.zookeeper.ClientCnxn - Session 0x100000a2b3c0001 for server zk-1/172.18.0.2:2181, Closing socket connection. Attempting reconnect except it is a SessionExpiredException.
org.apache.zookeeper.ClientCnxn$EndOfStreamException: Unable to read additional data from server sessionid 0x100000a2b3c0001, likely server has closed socket
\tat org.apache.zookeeper.ClientCnxnSocketNIO.doIO(ClientCnxnSocketNIO.java:77)
2024-05-01T10:00:06,000+0000 [main-SendThread(zk-2:2181)] INFO  org.apache.zookeeper.ClientCnxn - Session establishment complete on server zk-2/172.18.0.3:2181, session id = 0x100000a2b3c0001, negotiated timeout = 2000
";

    #[test]
    fn an_oap_that_cannot_reach_postgresql() {
        // As an OAP 9.6 printed it with its JDBC URL on a stopped PostgreSQL.
        let log = "ERROR [main] c.z.h.p.HikariPool - HikariPool-1 - Exception during pool initialization.\n\
                   org.postgresql.util.PSQLException: Connection to 172.18.0.10:5432 refused. Check that the hostname and port are correct and that the postmaster is accepting TCP/IP connections.\n\
                   \tat org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl(ConnectionFactoryImpl.java:342)\n\
                   ERROR [main] o.a.s.o.s.s.OAPServerBootstrap - Failed to initialize pool: Connection to 172.18.0.10:5432 refused. Check that the hostname and port are correct\n\
                   INFO [main] something unrelated on port 5432 went fine\n";
        let lines = postgres_unreachable(log);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[1].contains("Failed to initialize pool"));
    }

    #[test]
    fn a_memory_flag_on_a_command_line_is_no_memory_error() {
        let log = "exec java -Xmx512m -XX:+ExitOnOutOfMemoryError -cp x Main\n\
                   java.lang.OutOfMemoryError: Java heap space\n";
        assert_eq!(
            memory_errors(log),
            vec!["java.lang.OutOfMemoryError: Java heap space"]
        );
    }

    #[test]
    fn a_reconnect_is_not_an_expiry() {
        assert!(session_expiry(RECONNECT).is_empty());
        assert!(zookeeper_unreachable(RECONNECT).is_empty());
        assert_eq!(negotiated_timeout_ms(RECONNECT), Some(2000));
    }

    #[test]
    fn expiry_phrases_of_each_client() {
        let log = "\
WARN  org.apache.zookeeper.ClientCnxn - Unable to reconnect to ZooKeeper service, session 0x100000a2b3c0001 has expired
INFO  org.apache.pulsar.metadata.impl.PulsarZooKeeperClient - ZooKeeper session 100000a2b3c0001 is expired from zk-1:2181,zk-2:2181.
INFO  org.apache.pulsar.broker.PulsarService - Received metadata service session event: SessionLost
WARN  org.apache.bookkeeper.meta.AbstractZkLedgerManager - Conditional update ledger metadata failed: SESSIONEXPIRED
ERROR x - org.apache.zookeeper.KeeperException$SessionExpiredException: KeeperErrorCode = Session expired for /ledgers
INFO  org.apache.pulsar.broker.PulsarService - zookeeperSessionExpiredPolicy=shutdown
";
        assert_eq!(session_expiry(log).len(), 5);
    }

    #[test]
    fn refused_on_the_zookeeper_port_is_unreachable_elsewhere_not() {
        let log = "\
WARN  org.apache.zookeeper.ClientCnxn - Session 0x0 for sever zk-1/172.18.0.2:2181, Closing socket connection. Attempting reconnect except it is a SessionExpiredException.
java.net.ConnectException: Connection refused
INFO  something else
INFO  something else
INFO  something else
WARN  org.apache.bookkeeper.proto.PerChannelBookieClient - Could not connect to bookie bookie-1:3181: Connection refused
";
        assert_eq!(
            zookeeper_unreachable(log),
            [
                "WARN  org.apache.zookeeper.ClientCnxn - Session 0x0 for sever zk-1/172.18.0.2:2181, Closing socket connection. Attempting reconnect except it is a SessionExpiredException.",
                "java.net.ConnectException: Connection refused"
            ]
        );
        assert!(session_expiry(log).is_empty());
    }

    #[test]
    fn errors_skip_info_lines_and_stack_frames() {
        let log = "\
2024 [main] INFO  org.apache.pulsar.PulsarBrokerStarter - Starting, no Exception here
2024 [main] ERROR org.apache.pulsar.PulsarBrokerStarter - Failed to start pulsar service.
java.lang.IllegalStateException: boom
\tat org.apache.pulsar.Foo.bar(Foo.java:1)
Caused by: java.io.IOException: disk
";
        assert_eq!(
            error_lines(log),
            [
                "2024 [main] ERROR org.apache.pulsar.PulsarBrokerStarter - Failed to start pulsar service.",
                "java.lang.IllegalStateException: boom",
                "Caused by: java.io.IOException: disk"
            ]
        );
        assert_eq!(last_lines(log, 1), ["Caused by: java.io.IOException: disk"]);
    }

    #[test]
    fn evidence_drops_repeats_and_keeps_the_first_and_last_lines() {
        let found = ["a", "a", "b", "c", "d", "e", "f", "f"];
        assert_eq!(evidence(&found), ["a", "c", "d", "e", "f"]);
        let long = "x".repeat(400);
        assert_eq!(quote(&long).chars().count(), 303);
    }

    #[test]
    fn recoverable_zookeeper_giving_up_is_unreachable() {
        let log = "\
2024-04-29 10:00:30,512 WARN  [main] zookeeper.RecoverableZooKeeper: Possibly transient ZooKeeper, quorum=zk-1:2181, exception=org.apache.zookeeper.KeeperException$OperationTimeoutException
2024-04-29 10:00:34,512 ERROR [main] zookeeper.RecoverableZooKeeper: ZooKeeper exists failed after 4 attempts
04-29 10:00:35.002 [           main] WARN  o.a.h.h.c.ZKConnectionRegistry           -- Can't retrieve clusterId from Zookeeper
2024-04-29 10:00:36,000 INFO  [main] zookeeper.ZKUtil: ZooKeeper getData succeeded after 2 attempts
2024-04-29 10:00:36,001 INFO  [main] zookeeper.RecoverableZooKeeper: Process identifier=hconnection-0x5d1b1c2a connecting to ZooKeeper ensemble=zk-1:2181
";
        assert_eq!(
            zookeeper_unreachable(log).len(),
            2,
            "{:?}",
            zookeeper_unreachable(log)
        );
        assert!(zookeeper_gave_up(
            "zookeeper getchildren failed after 3 attempts"
        ));
        assert!(!zookeeper_gave_up("zookeeper failed after 3 attempts"));
    }

    #[test]
    fn a_refusal_after_zookeeper_connected_is_for_something_else() {
        // An HBase client reads ZooKeeper fine, then a region server refuses it.
        let log = "\
04-29 10:00:09.260 [-1-SendThread(zk-1:2181)] INFO  o.a.z.ClientCnxn                         -- Session establishment complete on server zk-1/172.20.0.2:2181, sessionid = 0x10001cdd5df0006, negotiated timeout = 30000
04-29 10:00:09.301 [hconnection-0x5d1b1c2a-shared--pool1-t1] WARN  o.a.h.h.c.AsyncProcess -- #1, table=AgentInfo, attempt=3/10 failed=1ops, last exception: java.net.ConnectException: Call to hbase-1/172.20.0.5:16020 failed on connection exception: Connection refused
java.net.ConnectException: Connection refused
04-29 10:00:09.302 [main] WARN  x -- io.netty.channel.AbstractChannel$AnnotatedConnectException: Connection refused: hbase-1/172.20.0.5:16020
";
        assert!(
            zookeeper_unreachable(log).is_empty(),
            "{:?}",
            zookeeper_unreachable(log)
        );
        assert_eq!(hbase_unreachable(log).len(), 1);
        assert!(!names_other_port(
            "2024-05-01T10:00:02,001+0000 Connection refused"
        ));
        assert!(!names_other_port(
            "Connection refused (ClientCnxn.java:1164)"
        ));
        assert!(names_other_port("Connection refused: /172.20.0.5:16020"));
    }

    #[test]
    fn missing_tables_are_named_once_each() {
        let log = "\
04-29 10:00:10.871 [           main] WARN  c.n.p.c.h.HbaseTemplate2 -- Failed to warmup for Table:AgentInfo, message:AgentInfo
org.apache.hadoop.hbase.TableNotFoundException: AgentInfo
\tat org.apache.hadoop.hbase.client.ConnectionManager$HConnectionImplementation.locateRegionInMeta(ConnectionManager.java:1312)
Caused by: org.apache.hadoop.hbase.TableNotFoundException: AgentInfo
org.apache.hadoop.hbase.TableNotFoundException: Table 'ApplicationIndex' was not found, got: AgentInfo.
";
        let (lines, tables) = missing_tables(log);
        assert_eq!(lines.len(), 3);
        assert_eq!(tables, ["AgentInfo", "ApplicationIndex"]);
    }

    #[test]
    fn hbase_rejecting_a_region_server_for_its_clock() {
        let log = "\
2024-04-29 10:00:40,001 ERROR [RS:0;hbase-2:16020] regionserver.HRegionServer: ***** ABORTING region server hbase-2,16020,1700000000000: Unhandled: org.apache.hadoop.hbase.ClockOutOfSyncException: Server hbase-2,16020,1700000000000 has been rejected; Reported time is too far out of sync with master.  Time difference of 3600000ms > max allowed of 30000ms
Caused by: org.apache.hadoop.hbase.ipc.RemoteWithExtrasException(org.apache.hadoop.hbase.ClockOutOfSyncException): org.apache.hadoop.hbase.ClockOutOfSyncException
";
        let sync = clock_out_of_sync(log).unwrap();
        assert_eq!(sync.server, Some("hbase-2"));
        assert_eq!(sync.difference_ms, Some(3_600_000));
        assert_eq!(sync.max_ms, Some(30_000));
        assert_eq!(sync.lines.len(), 2);
        assert_eq!(clock_out_of_sync(RECONNECT), None);
    }

    #[test]
    fn client_silences_and_launch_failures() {
        let log = "\
04-29 11:00:13.344 [-1-SendThread(zk-1:2181)] INFO  o.a.z.ClientCnxn -- Client session timed out, have not heard from server in 3613344ms for sessionid 0x10001cdd5df0006, closing socket connection and attempting reconnect
04-29 11:00:14.001 [           main] ERROR c.n.p.w.WebApp -- [WebApp] could not launch app.
";
        assert_eq!(
            client_silences(log),
            [(log.lines().next().unwrap(), 3_613_344)]
        );
        assert!(
            launch_failure(log)
                .unwrap()
                .ends_with("[WebApp] could not launch app.")
        );
        assert!(client_silences(RECONNECT).is_empty());
        assert_eq!(launch_failure(RECONNECT), None);
    }

    #[test]
    fn the_root_error_of_a_real_zookeeper_exit_is_its_first_cause() {
        let log = include_str!("fixtures/zookeeper-3.9-epoch-older-than-zxid.log");
        let root = root_error(log).unwrap();
        assert!(root.first.ends_with("- Unable to load database on disk"));
        assert_eq!(
            root.cause,
            Some(
                "java.io.IOException: The current epoch, 0, is older than the last zxid, 4294967300"
            )
        );
        assert_eq!(root.lines.len(), 2);
        assert_eq!(message(root.first), "Unable to load database on disk");
        // What the old rule quoted: the last error line.
        assert!(
            error_lines(log)
                .last()
                .unwrap()
                .ends_with("Exiting JVM with code 1")
        );
    }

    #[test]
    fn a_failure_reaches_back_half_a_minute_across_midnight() {
        let log = "\
2024-05-01 23:50:00,000 ERROR [main] x - an old complaint
2024-05-01 23:59:50,000 ERROR [main] x - the failure
java.lang.IllegalStateException: first cause
2024-05-02 00:00:10,000 ERROR [hook] x - a shutdown hook
java.io.IOException: closed
";
        let root = root_error(log).unwrap();
        assert_eq!(message(root.first), "the failure");
        assert_eq!(
            root.cause,
            Some("java.lang.IllegalStateException: first cause")
        );
        assert_eq!(
            time_of_day("2024-05-01T10:00:03,000+0000 [main]"),
            Some(36_003)
        );
        assert_eq!(time_of_day("04-29 10:00:10.871 [main]"), Some(36_010));
        assert_eq!(time_of_day("java.io.IOException: 123:45:67"), None);
    }

    #[test]
    fn without_a_stack_trace_the_first_error_line_is_the_root() {
        let log = "\
2024-04-29 10:00:29,514 ERROR [main] zookeeper.RecoverableZooKeeper: ZooKeeper exists failed after 4 attempts
2024-04-29 10:00:29,520 ERROR [main] master.HMasterCommandLine: Master exiting
";
        let root = root_error(log).unwrap();
        assert!(
            root.first
                .ends_with("ZooKeeper exists failed after 4 attempts")
        );
        assert_eq!(root.cause, None);
        // A WARN with a stack trace, where no ERROR is.
        let reconnect = root_error(RECONNECT).unwrap();
        assert!(reconnect.first.contains("Attempting reconnect"));
        assert!(
            reconnect
                .cause
                .unwrap()
                .starts_with("org.apache.zookeeper.ClientCnxn$EndOfStreamException")
        );
        assert_eq!(root_error("INFO all is well\n"), None);
    }

    #[test]
    fn messages_drop_the_log_prefix() {
        assert_eq!(
            message(
                "2024-05-01T10:00:03,000+0000 [main] ERROR org.apache.pulsar.PulsarBrokerStarter - \
                 Failed to start pulsar service."
            ),
            "Failed to start pulsar service."
        );
        assert_eq!(
            message(
                "04-29 10:00:04.220 [ main] ERROR c.n.p.c.CollectorApp -- [CollectorApp] could not launch app."
            ),
            "[CollectorApp] could not launch app."
        );
        assert_eq!(
            message("Caused by: java.net.BindException: Address already in use"),
            "java.net.BindException: Address already in use"
        );
        assert_eq!(
            message(
                "2024-04-29 10:00:29,520 ERROR [main] master.HMasterCommandLine: Master exiting"
            ),
            "2024-04-29 10:00:29,520 ERROR [main] master.HMasterCommandLine: Master exiting"
        );
    }

    #[test]
    fn zookeeper_epochs_are_read_as_it_prints_them() {
        // The epoch in hex, the zxid in decimal: 794568949761 is 0xb9_0000_0001.
        assert_eq!(
            zookeeper_epochs(
                DataFault::EpochBehindLog,
                "java.io.IOException: The current epoch, b8, is older than the last zxid, 794568949761"
            ),
            Some((0xb8, 0xb9))
        );
        assert_eq!(
            zookeeper_epochs(
                DataFault::AcceptedEpochBehind,
                "java.io.IOException: The accepted epoch, 1f is less than the current epoch, 20"
            ),
            Some((0x1f, 0x20))
        );
        assert_eq!(
            zookeeper_epochs(DataFault::Damaged, "CRC check failed"),
            None
        );
    }
}
