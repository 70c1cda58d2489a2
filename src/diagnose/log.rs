//! What a node's log says: lines that show JVM memory errors, ZooKeeper session expiry or an
//! unreachable ZooKeeper, the negotiated session timeout, and error-looking lines in general.
//!
//! The phrases are those the JVM, the ZooKeeper client (ClientCnxn), Curator, BookKeeper and
//! Pulsar print; matching is on substrings, so a message wrapped in an exception still counts.

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
const UNREACHABLE_PHRASES: [&str; 7] = [
    "unable to connect to zookeeper",
    "connectionlossexception",
    "keepererrorcode = connectionloss",
    "failed to connect to zookeeper",
    "zookeeper client connection timed out",
    "unable to read additional data from server sessionid 0x0,",
    // A client that never got a session: `Session 0x0 for server zk-1/..:2181, unexpected
    // error` (3.5) or `.., Closing socket connection` (3.6 on, some releases spell it "sever").
    "session 0x0 for se",
];

/// Case-insensitive phrases of a JDBC store that could not be reached (line lowercased): the
/// PostgreSQL driver's and HikariCP's.
const STORAGE_PHRASES: [&str; 4] = [
    ":5432",
    "the connection attempt failed",
    "hikaripool",
    "failed to initialize pool",
];

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
/// session, or a connection refused on the ZooKeeper port.
pub(super) fn zookeeper_unreachable(log: &str) -> Vec<&str> {
    let all: Vec<&str> = lines(log).collect();
    all.iter()
        .enumerate()
        .filter(|(at, line)| {
            let lower = line.to_ascii_lowercase();
            if UNREACHABLE_PHRASES
                .iter()
                .any(|phrase| lower.contains(phrase))
            {
                return true;
            }
            lower.contains("connection refused")
                && all[at.saturating_sub(REFUSED_LOOKBACK)..=*at]
                    .iter()
                    .any(|line| line.contains(ZOOKEEPER_PORT))
        })
        .map(|(_, line)| *line)
        .collect()
}

/// Lines that say the JDBC store could not be reached.
pub(super) fn storage_unreachable(log: &str) -> Vec<&str> {
    lines(log)
        .filter(|line| {
            let lower = line.to_ascii_lowercase();
            STORAGE_PHRASES.iter().any(|phrase| lower.contains(phrase))
                && (lower.contains("refused")
                    || lower.contains("failed")
                    || lower.contains("unknownhost")
                    || lower.contains("timed out")
                    || lower.contains("not available"))
        })
        .collect()
}

/// The last session timeout a ZooKeeper server granted, from `negotiated timeout = 2000`.
pub(super) fn negotiated_timeout_ms(log: &str) -> Option<u64> {
    const PHRASE: &str = "negotiated timeout = ";
    lines(log).rev().find_map(|line| {
        let rest = &line[line.find(PHRASE)? + PHRASE.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    })
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
        let lines = storage_unreachable(log);
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
}
