//! What a node's log says: lines that show JVM memory errors, ZooKeeper session expiry or an
//! unreachable ZooKeeper, the negotiated session timeout, an unreachable store (PostgreSQL,
//! HBase), Pinpoint's missing HBase tables, clocks out of step, and error-looking lines in general.
//!
//! The phrases are those the JVM, the ZooKeeper client (ClientCnxn), Curator, BookKeeper, Pulsar,
//! the PostgreSQL driver, HBase and its client print; matching is on substrings, so a message
//! wrapped in an exception still counts.

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
pub(super) fn postgres_unreachable(log: &str) -> Vec<&str> {
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
pub(super) fn hbase_unreachable(log: &str) -> Vec<&str> {
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
pub(super) fn quote(line: &str) -> String {
    let line = line.trim();
    match line.char_indices().nth(LINE_CHARS) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line.to_string(),
    }
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
}
