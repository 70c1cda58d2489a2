//! Diagnoses of literal states and log excerpts, one or more per cause.

use rstest::rstest;

use super::*;

const GIB: u64 = 1 << 30;
const PULSAR_DEFAULT_MEM: &str = "-Xms2g -Xmx2g -XX:MaxDirectMemorySize=4g";

fn state(status: Status, exit_code: Option<i64>, oom_killed: bool) -> NodeState {
    NodeState {
        status,
        exit_code,
        oom_killed,
        pid: None,
        started_at: None,
    }
}

fn exited(code: i64) -> NodeState {
    state(Status::Exited, Some(code), false)
}

fn running() -> NodeState {
    state(Status::Running, None, false)
}

fn facts<'a>(
    node: &'a str,
    system: SystemKind,
    state: &'a NodeState,
    log: &'a str,
) -> NodeFacts<'a> {
    NodeFacts {
        node,
        system,
        state,
        log,
        memory_limit: None,
        heap: None,
        tick_time_ms: None,
        became_ready: false,
    }
}

fn broker<'a>(state: &'a NodeState, log: &'a str) -> NodeFacts<'a> {
    facts("broker-1", SystemKind::Pulsar, state, log)
}

const STARTING: &str = "\
2024-05-01T10:00:00,000+0000 [main] INFO  org.apache.pulsar.PulsarBrokerStarter - Starting Pulsar broker
2024-05-01T10:00:01,000+0000 [main] INFO  org.apache.pulsar.broker.PulsarService - Starting Pulsar Broker service
";

const JVM_NO_MEMORY: &str = "\
OpenJDK 64-Bit Server VM warning: INFO: os::commit_memory(0x0000000080000000, 2147483648, 0) failed; error='Cannot allocate memory' (errno=12)
#
# There is insufficient memory for the Java Runtime Environment to continue.
# Native memory allocation (mmap) failed to map 2147483648 bytes for committing reserved memory.
";

const SESSION_LOST: &str = "\
2024-05-01T10:00:02,000+0000 [main-SendThread(zk-1:2181)] INFO  org.apache.zookeeper.ClientCnxn - Session establishment complete on server zk-1/172.18.0.2:2181, session id = 0x100000a2b3c0001, negotiated timeout = 2000
2024-05-01T10:00:20,000+0000 [main-SendThread(zk-1:2181)] WARN  org.apache.zookeeper.ClientCnxn - Session 0x100000a2b3c0001 for server zk-1/172.18.0.2:2181, Closing socket connection. Attempting reconnect except it is a SessionExpiredException.
2024-05-01T10:00:23,000+0000 [main-SendThread(zk-2:2181)] WARN  org.apache.zookeeper.ClientCnxn - Unable to reconnect to ZooKeeper service, session 0x100000a2b3c0001 has expired
2024-05-01T10:00:23,001+0000 [metadata-store-zk-session-watcher-5-1] INFO  org.apache.pulsar.broker.PulsarService - Received metadata service session event: SessionLost
2024-05-01T10:00:23,002+0000 [metadata-store-zk-session-watcher-5-1] WARN  org.apache.pulsar.broker.PulsarService - The session with metadata service was lost. Shutting down.
";

const ZK_REFUSED: &str = "\
2024-05-01T10:00:02,000+0000 [main-SendThread(zk-1:2181)] INFO  org.apache.zookeeper.ClientCnxn - Opening socket connection to server zk-1/172.18.0.2:2181.
2024-05-01T10:00:02,001+0000 [main-SendThread(zk-1:2181)] WARN  org.apache.zookeeper.ClientCnxn - Session 0x0 for sever zk-1/172.18.0.2:2181, Closing socket connection. Attempting reconnect except it is a SessionExpiredException.
java.net.ConnectException: Connection refused
\tat java.base/sun.nio.ch.Net.pollConnect(Native Method)
2024-05-01T10:00:12,000+0000 [main] ERROR org.apache.bookkeeper.server.Main - Failed to build bookie server
org.apache.bookkeeper.meta.exceptions.MetadataException: Failed to initialize metadata bookie driver
Caused by: org.apache.zookeeper.KeeperException$ConnectionLossException: KeeperErrorCode = ConnectionLoss
";

const FAILED_START: &str = "\
2024-05-01T10:00:00,000+0000 [main] INFO  org.apache.pulsar.PulsarBrokerStarter - Starting Pulsar broker
2024-05-01T10:00:03,000+0000 [main] ERROR org.apache.pulsar.PulsarBrokerStarter - Failed to start pulsar service.
java.lang.IllegalArgumentException: advertisedAddress must be set
\tat org.apache.pulsar.broker.PulsarService.start(PulsarService.java:800)
";

#[rstest]
#[case(Status::Running)]
#[case(Status::Paused)]
fn a_node_up_and_ready_needs_no_diagnosis(#[case] status: Status) {
    let state = state(status, None, false);
    let mut facts = broker(&state, JVM_NO_MEMORY);
    facts.became_ready = true;
    assert_eq!(diagnose(&facts), None);
}

#[test]
fn oom_kill_names_the_heap_and_the_limit() {
    let state = state(Status::Exited, Some(137), true);
    let mut facts = broker(&state, STARTING);
    facts.memory_limit = Some(GIB);
    facts.heap = Some(PULSAR_DEFAULT_MEM);
    facts.became_ready = true;
    let diagnosis = diagnose(&facts).unwrap();
    assert_eq!(diagnosis.cause, Cause::OomKilled);
    assert_eq!(diagnosis.node, "broker-1");
    assert_eq!(
        diagnosis.explanation,
        "broker-1 was OOM-killed: its heap and direct memory (-Xmx2g + MaxDirectMemorySize=4g = \
         6 GiB) cannot fit in the 1 GiB container limit; size PULSAR_MEM for the limit"
    );
}

#[test]
fn oom_kill_with_a_heap_that_fits_asks_for_headroom() {
    let state = state(Status::Exited, Some(137), true);
    let mut facts = facts("bookie-2", SystemKind::Bookkeeper, &state, "");
    facts.memory_limit = Some(GIB);
    facts.heap = Some("-Xmx768m");
    let diagnosis = diagnose(&facts).unwrap();
    assert_eq!(diagnosis.cause, Cause::OomKilled);
    assert_eq!(
        diagnosis.explanation,
        "bookie-2 was OOM-killed: its heap (-Xmx768m = 768 MiB) fits in the 1 GiB container \
         limit, but the JVM needs more than that (metaspace, thread stacks, native buffers); \
         leave headroom between BOOKIE_MEM and the limit"
    );
    assert!(diagnosis.evidence.is_empty());
}

#[test]
fn oom_kill_without_a_limit_or_heap() {
    let state = state(Status::Exited, Some(137), true);
    let diagnosis = diagnose(&broker(&state, "")).unwrap();
    assert_eq!(diagnosis.cause, Cause::OomKilled);
    assert_eq!(
        diagnosis.explanation,
        "broker-1 was OOM-killed without a container memory limit, so the host ran out of memory"
    );
}

#[test]
fn a_jvm_that_cannot_get_its_heap_exceeds_the_limit() {
    let state = exited(1);
    let mut facts = facts("bookie-1", SystemKind::Bookkeeper, &state, JVM_NO_MEMORY);
    facts.memory_limit = Some(GIB);
    facts.heap = Some("-Xms2g -Xmx2g");
    let diagnosis = diagnose(&facts).unwrap();
    assert_eq!(diagnosis.cause, Cause::HeapExceedsLimit);
    assert_eq!(
        diagnosis.explanation,
        "bookie-1 exited with code 1: its heap (-Xmx2g = 2 GiB) exceeds the 1 GiB container \
         limit (the JVM said: \"OpenJDK 64-Bit Server VM warning: INFO: os::commit_memory(\
         0x0000000080000000, 2147483648, 0) failed; error='Cannot allocate memory' (errno=12)\"); \
         size BOOKIE_MEM for the limit"
    );
    assert_eq!(diagnosis.evidence.len(), 3);
    assert!(diagnosis.evidence[1].starts_with("# There is insufficient memory"));
}

#[test]
fn an_out_of_memory_error_with_a_heap_that_fits_is_still_memory() {
    let state = exited(1);
    let log = "2024 [pulsar-io-4-1] ERROR org.apache.pulsar.broker.service.ServerCnx - \
               java.lang.OutOfMemoryError: Direct buffer memory\n";
    let mut facts = broker(&state, log);
    facts.memory_limit = Some(4 * GIB);
    facts.heap = Some("-Xmx1g -XX:MaxDirectMemorySize=1g");
    let diagnosis = diagnose(&facts).unwrap();
    assert_eq!(diagnosis.cause, Cause::HeapExceedsLimit);
    assert_eq!(
        diagnosis.explanation,
        "broker-1 exited with code 1: it ran out of memory with its heap and direct memory at \
         -Xmx1g + MaxDirectMemorySize=1g = 2 GiB in a 4 GiB container limit (the JVM said: \
         \"java.lang.OutOfMemoryError: Direct buffer memory\"); size PULSAR_MEM for the limit"
    );
}

#[test]
fn a_heap_over_the_limit_without_other_evidence_exceeds_it() {
    let state = exited(1);
    let mut facts = broker(&state, FAILED_START);
    facts.memory_limit = Some(GIB);
    facts.heap = Some(PULSAR_DEFAULT_MEM);
    let diagnosis = diagnose(&facts).unwrap();
    assert_eq!(diagnosis.cause, Cause::HeapExceedsLimit);
    assert_eq!(
        diagnosis.explanation,
        "broker-1 exited with code 1: its heap and direct memory (-Xmx2g + \
         MaxDirectMemorySize=4g = 6 GiB) exceed the 1 GiB container limit; size PULSAR_MEM for \
         the limit"
    );
    assert_eq!(diagnosis.evidence.len(), 2);
}

#[test]
fn a_heap_that_fits_is_no_suspect() {
    let state = exited(1);
    let mut facts = broker(&state, FAILED_START);
    facts.memory_limit = Some(8 * GIB);
    facts.heap = Some(PULSAR_DEFAULT_MEM);
    assert_eq!(diagnose(&facts).unwrap().cause, Cause::Exited);
}

#[test]
fn session_expiry_is_explained_with_the_negotiated_timeout_and_tick_time() {
    let state = exited(0);
    let mut facts = broker(&state, SESSION_LOST);
    facts.tick_time_ms = Some(100);
    facts.became_ready = true;
    let diagnosis = diagnose(&facts).unwrap();
    assert_eq!(diagnosis.cause, Cause::SessionExpired);
    assert_eq!(
        diagnosis.explanation,
        "broker-1 exited with code 0 after its ZooKeeper session expired: the server granted it \
         negotiated timeout = 2000 ms, and tickTime=100 caps every session at 2 s (sessions are \
         bounded to [2, 20] x tickTime), so a stall of more than 2 s expires it"
    );
    assert_eq!(diagnosis.evidence.len(), 3, "{:?}", diagnosis.evidence);
    assert!(diagnosis.evidence[0].contains("session 0x100000a2b3c0001 has expired"));
}

#[test]
fn session_expiry_without_timeouts_in_view() {
    let state = running();
    let log = "ERROR org.apache.bookkeeper.bookie.BookieStateManager - ZK exception: \
               KeeperErrorCode = Session expired for /ledgers/available\n";
    let diagnosis = diagnose(&facts("bookie-3", SystemKind::Bookkeeper, &state, log)).unwrap();
    assert_eq!(diagnosis.cause, Cause::SessionExpired);
    assert_eq!(
        diagnosis.explanation,
        "bookie-3 is running but never became ready after its ZooKeeper session expired"
    );
}

#[test]
fn session_expiry_notes_a_heap_over_the_limit() {
    let state = exited(1);
    let mut facts = broker(&state, SESSION_LOST);
    facts.memory_limit = Some(GIB);
    facts.heap = Some("-Xmx2g");
    let diagnosis = diagnose(&facts).unwrap();
    assert_eq!(diagnosis.cause, Cause::SessionExpired);
    assert!(
        diagnosis
            .explanation
            .ends_with("(its heap, -Xmx2g = 2 GiB, is also larger than the 1 GiB container limit)"),
        "{}",
        diagnosis.explanation
    );
}

#[test]
fn a_bookie_that_cannot_reach_zookeeper() {
    let state = exited(1);
    let diagnosis = diagnose(&facts(
        "bookie-1",
        SystemKind::Bookkeeper,
        &state,
        ZK_REFUSED,
    ))
    .unwrap();
    assert_eq!(diagnosis.cause, Cause::ZookeeperUnreachable);
    assert_eq!(
        diagnosis.explanation,
        "bookie-1 exited with code 1: it could not reach ZooKeeper (\"Caused by: \
         org.apache.zookeeper.KeeperException$ConnectionLossException: KeeperErrorCode = \
         ConnectionLoss\"); check that the ensemble is up and has a quorum"
    );
    assert_eq!(diagnosis.evidence.len(), 3, "{:?}", diagnosis.evidence);
}

#[test]
fn a_broker_waiting_for_zookeeper_never_became_ready() {
    let state = running();
    let log = "WARN  org.apache.zookeeper.ClientCnxn - Session 0x0 for server zk-1/172.18.0.2:2181, \
               unexpected error, closing socket connection and attempting reconnect\n";
    let diagnosis = diagnose(&broker(&state, log)).unwrap();
    assert_eq!(diagnosis.cause, Cause::ZookeeperUnreachable);
    assert!(
        diagnosis.explanation.starts_with(
            "broker-1 is running but never became ready: it could not reach ZooKeeper"
        ),
        "{}",
        diagnosis.explanation
    );
}

#[test]
fn a_zookeeper_server_is_not_judged_by_its_clients_sessions() {
    let state = exited(1);
    let log = "\
2024 [SessionTracker] INFO  org.apache.zookeeper.server.ZooKeeperServer - Expiring session 0x100000a2b3c0001, timeout of 2000ms exceeded
2024 [main] ERROR org.apache.zookeeper.server.quorum.QuorumPeerMain - Unexpected exception, exiting abnormally
java.lang.IllegalArgumentException: myid file is missing
";
    let diagnosis = diagnose(&facts("zk-2", SystemKind::Zookeeper, &state, log)).unwrap();
    assert_eq!(diagnosis.cause, Cause::Exited);
    assert_eq!(
        diagnosis.explanation,
        "zk-2 exited with code 1; its last error: \"java.lang.IllegalArgumentException: myid file \
         is missing\""
    );
    assert_eq!(diagnosis.evidence.len(), 2);
}

#[rstest]
#[case(
    exited(1),
    "broker-1 exited with code 1; its last error: \"java.lang.IllegalArgumentException: advertisedAddress must be set\""
)]
#[case(
    exited(137),
    "broker-1 exited with code 137 (SIGKILL); its last error: \"java.lang.IllegalArgumentException: advertisedAddress must be set\""
)]
#[case(
    state(Status::Dead, None, false),
    "broker-1 exited; its last error: \"java.lang.IllegalArgumentException: advertisedAddress must be set\""
)]
#[case(
    NodeState::missing(),
    "broker-1 is gone (its container no longer exists); its last error: \"java.lang.IllegalArgumentException: advertisedAddress must be set\""
)]
fn any_other_exit_quotes_the_last_error(#[case] state: NodeState, #[case] explanation: &str) {
    let diagnosis = diagnose(&broker(&state, FAILED_START)).unwrap();
    assert_eq!(diagnosis.cause, Cause::Exited);
    assert_eq!(diagnosis.explanation, explanation);
    assert_eq!(
        diagnosis.evidence,
        [
            "2024-05-01T10:00:03,000+0000 [main] ERROR org.apache.pulsar.PulsarBrokerStarter - Failed to start pulsar service.",
            "java.lang.IllegalArgumentException: advertisedAddress must be set"
        ]
    );
}

#[test]
fn an_exit_after_being_ready_is_still_an_exit() {
    let state = exited(143);
    let mut facts = broker(&state, STARTING);
    facts.became_ready = true;
    let diagnosis = diagnose(&facts).unwrap();
    assert_eq!(diagnosis.cause, Cause::Exited);
    assert_eq!(
        diagnosis.explanation,
        "broker-1 exited with code 143 (SIGTERM); its log shows no error (last line: \
         \"2024-05-01T10:00:01,000+0000 [main] INFO  org.apache.pulsar.broker.PulsarService - \
         Starting Pulsar Broker service\")"
    );
    assert_eq!(diagnosis.evidence.len(), 2);
}

#[test]
fn running_but_never_ready_quotes_the_last_error() {
    let state = running();
    let diagnosis = diagnose(&broker(&state, FAILED_START)).unwrap();
    assert_eq!(diagnosis.cause, Cause::NeverReady);
    assert!(
        diagnosis
            .explanation
            .starts_with("broker-1 is running but never became ready; its last error: "),
        "{}",
        diagnosis.explanation
    );
}

#[rstest]
#[case(
    running(),
    "broker-1 is running but never became ready; its log is empty"
)]
#[case(
    state(Status::Created, None, false),
    "broker-1 was created but never started; its log is empty"
)]
fn never_ready_with_an_empty_log(#[case] state: NodeState, #[case] explanation: &str) {
    let diagnosis = diagnose(&broker(&state, "")).unwrap();
    assert_eq!(diagnosis.cause, Cause::NeverReady);
    assert_eq!(diagnosis.explanation, explanation);
    assert!(diagnosis.evidence.is_empty());
}

#[test]
fn causes_have_kebab_case_names() {
    for cause in Cause::ALL {
        let json = serde_json::to_string(&cause).unwrap();
        assert_eq!(json, format!("\"{}\"", cause.name()));
        assert_eq!(Cause::from_name(cause.name()), Some(cause));
    }
    assert_eq!(Cause::from_name("oom"), None);
    let diagnosis = Diagnosis {
        node: "broker-1".into(),
        cause: Cause::HeapExceedsLimit,
        explanation: "x".into(),
        evidence: vec![],
    };
    assert_eq!(
        serde_json::to_value(&diagnosis).unwrap()["cause"],
        "heap-exceeds-limit"
    );
}

#[test]
fn an_oap_advertising_the_wildcard_is_named_with_the_member_zookeeper_lists() {
    let members = vec!["0.0.0.0:11800".to_string(), "oap-2:11800".to_string()];
    let d = super::illegal_advertised_address("oap-1", "0.0.0.0", &members).unwrap();
    assert_eq!(d.cause, Cause::IllegalAdvertisedAddress);
    assert!(
        d.explanation.contains("oap-1 advertises 0.0.0.0"),
        "{}",
        d.explanation
    );
    assert!(d.explanation.contains("0.0.0.0:11800"), "{}", d.explanation);
    assert!(d.explanation.contains("SW_CLUSTER_INTERNAL_COM_HOST"));
    assert!(super::illegal_advertised_address("oap-2", "oap-2", &members).is_none());
}

#[test]
fn an_oap_that_exits_on_an_unreachable_store_names_the_store() {
    let log = "INFO [main] starting\n\
               ERROR [main] o.a.s.o.s.s.OAPServerBootstrap - Failed to initialize pool: Connection to pg-1:5432 refused. Check that the hostname and port are correct\n";
    let state = exited(1);
    let d = diagnose(&facts("oap-2", SystemKind::Skywalking, &state, log)).unwrap();
    assert_eq!(d.cause, Cause::StorageUnreachable);
    assert!(d.explanation.contains("PostgreSQL"), "{}", d.explanation);
    assert!(
        d.explanation.contains("exited with code 1"),
        "{}",
        d.explanation
    );
}
