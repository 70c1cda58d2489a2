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
        finished_at: None,
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
    facts("broker-1", crate::system::pulsar::KIND, state, log)
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
    let mut facts = facts("bookie-2", crate::system::bookkeeper::KIND, &state, "");
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
    let mut facts = facts(
        "bookie-1",
        crate::system::bookkeeper::KIND,
        &state,
        JVM_NO_MEMORY,
    );
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
    let diagnosis = diagnose(&facts(
        "bookie-3",
        crate::system::bookkeeper::KIND,
        &state,
        log,
    ))
    .unwrap();
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
        crate::system::bookkeeper::KIND,
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
    let diagnosis = diagnose(&facts("zk-2", crate::system::zookeeper::KIND, &state, log)).unwrap();
    assert_eq!(diagnosis.cause, Cause::Exited);
    assert_eq!(
        diagnosis.explanation,
        "zk-2 exited with code 1; the error behind it: \"Unexpected exception, exiting \
         abnormally\", caused by \"java.lang.IllegalArgumentException: myid file is missing\""
    );
    assert_eq!(diagnosis.evidence.len(), 2);
}

#[rstest]
#[case(exited(1), "broker-1 exited with code 1")]
#[case(exited(137), "broker-1 exited with code 137 (SIGKILL)")]
#[case(state(Status::Dead, None, false), "broker-1 exited")]
#[case(
    NodeState::missing(),
    "broker-1 is gone (its container no longer exists)"
)]
fn any_other_exit_quotes_the_error_behind_it(#[case] state: NodeState, #[case] failed: &str) {
    let explanation = format!(
        "{failed}; the error behind it: \"Failed to start pulsar service.\", caused by \
         \"java.lang.IllegalArgumentException: advertisedAddress must be set\""
    );
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
fn running_but_never_ready_quotes_the_error_behind_it() {
    let state = running();
    let diagnosis = diagnose(&broker(&state, FAILED_START)).unwrap();
    assert_eq!(diagnosis.cause, Cause::NeverReady);
    assert!(
        diagnosis
            .explanation
            .starts_with("broker-1 is running but never became ready; the error behind it: "),
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
    let d = diagnose(&facts(
        "oap-2",
        crate::system::skywalking::KIND,
        &state,
        log,
    ))
    .unwrap();
    assert_eq!(d.cause, Cause::StorageUnreachable);
    assert!(d.explanation.contains("PostgreSQL"), "{}", d.explanation);
    assert!(
        d.explanation.contains("exited with code 1"),
        "{}",
        d.explanation
    );
}

// Pinpoint's collector and web (HBase client 1.7.2, shaded ZooKeeper client) and HBase 2.5.8, in
// the shapes their logs take in chaosbed's containers.

const COLLECTOR_NO_TABLE: &str = "\
04-29 10:00:01.512 [           main] INFO  c.n.p.c.CollectorApp                     -- Starting CollectorApp using Java 11.0.22 with PID 1
04-29 10:00:09.204 [           main] INFO  o.a.h.h.z.RecoverableZooKeeper           -- Process identifier=hconnection-0x5d1b1c2a connecting to ZooKeeper ensemble=zk-1:2181
04-29 10:00:09.260 [-1-SendThread(zk-1:2181)] INFO  c.n.p.s.o.a.z.ClientCnxn                 -- Session establishment complete on server zk-1/172.20.0.2:2181, sessionid = 0x10001cdd5df0006, negotiated timeout = 30000
04-29 10:00:10.871 [           main] WARN  c.n.p.c.h.HbaseTemplate2                 -- Failed to warmup for Table:AgentInfo, message:AgentInfo
org.apache.hadoop.hbase.TableNotFoundException: AgentInfo
\tat org.apache.hadoop.hbase.client.ConnectionManager$HConnectionImplementation.locateRegionInMeta(ConnectionManager.java:1312)
04-29 10:00:11.002 [           main] ERROR c.n.p.c.CollectorApp                     -- [CollectorApp] could not launch app.
org.springframework.beans.factory.BeanCreationException: Error creating bean with name 'hbaseAgentInfoDao'
Caused by: org.apache.hadoop.hbase.TableNotFoundException: AgentInfo
\tat org.apache.hadoop.hbase.client.HBaseAdmin.getTableDescriptor(HBaseAdmin.java:601)
";

const WEB_NO_MASTER: &str = "\
04-29 10:00:02.100 [           main] INFO  c.n.p.w.WebApp                           -- Starting WebApp using Java 11.0.22 with PID 1
04-29 10:00:08.731 [-1-SendThread(zk-1:2181)] INFO  c.n.p.s.o.a.z.ClientCnxn                 -- Session establishment complete on server zk-1/172.20.0.2:2181, sessionid = 0x10001cdd5df0007, negotiated timeout = 30000
04-29 10:00:38.902 [           main] WARN  o.a.h.h.c.ConnectionManager$HConnectionImplementation -- Can't get master address from ZooKeeper; znode data == null
04-29 10:01:09.330 [           main] WARN  c.n.p.c.h.HbaseTemplate2                 -- Failed to warmup for Table:ApplicationIndex, message:Cannot get the location for replica0 of region for ApplicationIndex,,99999999999999 in hbase:meta
04-29 10:01:09.512 [           main] ERROR c.n.p.w.WebApp                           -- [WebApp] could not launch app.
org.springframework.beans.factory.BeanCreationException: Error creating bean with name 'applicationIndexDao'
";

const COLLECTOR_NO_REGION_SERVER: &str = "\
04-29 10:05:00.101 [-1-SendThread(zk-1:2181)] INFO  c.n.p.s.o.a.z.ClientCnxn                 -- Opening socket connection to server zk-1/172.20.0.2:2181. Will not attempt to authenticate using SASL (unknown error)
04-29 10:05:00.103 [-1-SendThread(zk-1:2181)] INFO  c.n.p.s.o.a.z.ClientCnxn                 -- Socket connection established to zk-1/172.20.0.2:2181, initiating session
04-29 10:05:00.140 [Pinpoint-HBase-Put-1] WARN  o.a.h.h.c.AsyncProcess                   -- #3, table=TraceV2, attempt=4/10 failed=12ops, last exception: java.io.IOException: Call to hbase-1/172.20.0.5:16020 failed on local exception: java.net.ConnectException: Connection refused
java.net.ConnectException: Connection refused
04-29 10:05:31.001 [Pinpoint-HBase-Put-1] WARN  c.n.p.c.h.HbaseTemplate2                 -- Failed to get result within timeout, timeout=30000ms
";

const COLLECTOR_NO_ZOOKEEPER: &str = "\
04-29 10:00:09.204 [           main] INFO  o.a.h.h.z.RecoverableZooKeeper           -- Process identifier=hconnection-0x5d1b1c2a connecting to ZooKeeper ensemble=zk-1:2181
04-29 10:00:21.377 [           main] ERROR o.a.h.h.z.RecoverableZooKeeper           -- ZooKeeper exists failed after 4 attempts
04-29 10:00:21.380 [           main] WARN  o.a.h.h.c.ZKConnectionRegistry          -- Can't retrieve clusterId from Zookeeper
04-29 10:00:51.902 [           main] WARN  c.n.p.c.h.HbaseTemplate2                 -- Failed to warmup for Table:AgentInfo, message:Cannot get the location for replica0 of region for AgentInfo,,99999999999999 in hbase:meta
04-29 10:00:52.004 [           main] ERROR c.n.p.c.CollectorApp                     -- [CollectorApp] could not launch app.
";

const HBASE_CLOCK_REJECTED: &str = "\
2024-04-29 10:00:31,200 INFO  [main] chaosbed.hbase.Launcher: Starting master and region server in one JVM, ZooKeeper at zk-1 (znode /hbase)
2024-04-29 10:00:40,001 ERROR [RS:0;hbase-2:16020] regionserver.HRegionServer: ***** ABORTING region server hbase-2,16020,1700000000000: Unhandled: org.apache.hadoop.hbase.ClockOutOfSyncException: Server hbase-2,16020,1700000000000 has been rejected; Reported time is too far out of sync with master.  Time difference of 3600000ms > max allowed of 30000ms
Caused by: org.apache.hadoop.hbase.ipc.RemoteWithExtrasException(org.apache.hadoop.hbase.ClockOutOfSyncException): org.apache.hadoop.hbase.ClockOutOfSyncException: Server hbase-2,16020,1700000000000 has been rejected; Reported time is too far out of sync with master.  Time difference of 3600000ms > max allowed of 30000ms
2024-04-29 10:00:40,020 WARN  [main-EventThread] zookeeper.ZKWatcher: regionserver:16020-0x10001cdd5df0002, quorum=zk-1:2181, baseZNode=/hbase Unable to set watcher on znode /hbase/rs: org.apache.zookeeper.KeeperException$SessionExpiredException: KeeperErrorCode = Session expired
2024-04-29 10:00:40,101 ERROR [main] chaosbed.hbase.Launcher: Region server aborted; stopping the master
";

/// A Pinpoint web whose clock jumped an hour forward: its ZooKeeper client thinks the server has
/// been silent for that long, and the session it then finds is gone.
const WEB_CLOCK_JUMP: &str = "\
04-29 10:00:08.731 [-1-SendThread(zk-1:2181)] INFO  c.n.p.s.o.a.z.ClientCnxn                 -- Session establishment complete on server zk-1/172.20.0.2:2181, sessionid = 0x10001cdd5df0006, negotiated timeout = 30000
04-29 11:00:13.344 [-1-SendThread(zk-1:2181)] INFO  c.n.p.s.o.a.z.ClientCnxn                 -- Client session timed out, have not heard from server in 3613344ms for sessionid 0x10001cdd5df0006, closing socket connection and attempting reconnect
04-29 11:00:14.100 [-1-SendThread(zk-1:2181)] WARN  c.n.p.s.o.a.z.ClientCnxn                 -- Unable to reconnect to ZooKeeper service, session 0x10001cdd5df0006 has expired
";

/// A ZooKeeper server's ordinary log: clients come and go, sessions expire.
const ZOOKEEPER_SERVER: &str = "\
2024-04-29 10:00:01,001 [myid:1] - INFO  [main:o.a.z.s.q.QuorumPeerConfig@174] - Reading configuration from: /conf/zoo.cfg
2024-04-29 10:00:03,410 [myid:1] - INFO  [QuorumPeer[myid=1](plain=0.0.0.0:2181)(secure=disabled):o.a.z.s.q.Leader@581] - LEADING - LEADER ELECTION TOOK - 212 MS
2024-04-29 10:00:09,255 [myid:1] - INFO  [CommitProcWorkThread-1:o.a.z.s.ZooKeeperServer@1089] - Established session 0x10001cdd5df0006 with negotiated timeout 30000 for client /172.20.0.7:45678
2024-04-29 10:00:40,011 [myid:1] - WARN  [NIOWorkerThread-2:o.a.z.s.NIOServerCnxn@380] - Unable to read additional data from client, it probably closed the socket: address = /172.20.0.5:43210, session = 0x10001cdd5df0002
2024-04-29 10:01:10,000 [myid:1] - INFO  [SessionTracker:o.a.z.s.ZooKeeperServer@632] - Expiring session 0x10001cdd5df0002, timeout of 30000ms exceeded
2024-04-29 10:01:12,500 [myid:1] - INFO  [NIOWorkerThread-1:o.a.z.s.NIOServerCnxn@518] - Processing ruok command from /127.0.0.1:51234
";

/// A SkyWalking OAP that could not reach PostgreSQL.
const OAP_NO_POSTGRES: &str = "\
2024-04-29 10:00:05,000 - org.apache.skywalking.oap.server.starter.OAPServerBootstrap - INFO [main] - Starting OAP server with storage postgresql
2024-04-29 10:00:15,000 - com.zaxxer.hikari.pool.HikariPool - ERROR [main] - HikariPool-1 - Exception during pool initialization.
org.postgresql.util.PSQLException: Connection to pg-1:5432 refused. Check that the hostname and port are correct and that the postmaster is accepting TCP/IP connections.
2024-04-29 10:00:15,100 - org.apache.skywalking.oap.server.starter.OAPServerBootstrap - ERROR [main] - Failed to initialize pool: Connection to pg-1:5432 refused.
";

fn pinpoint<'a>(node: &'a str, state: &'a NodeState, log: &'a str) -> NodeFacts<'a> {
    let system = if node.starts_with("web") {
        crate::system::pinpoint::web::KIND
    } else {
        crate::system::pinpoint::collector::KIND
    };
    facts(node, system, state, log)
}

#[test]
fn a_collector_without_its_table_exits_0_with_the_schema_missing() {
    let state = exited(0);
    let d = diagnose(&pinpoint("collector-1", &state, COLLECTOR_NO_TABLE)).unwrap();
    assert_eq!(d.cause, Cause::SchemaMissing);
    assert_eq!(
        d.explanation,
        "collector-1 exited with code 0: Pinpoint's table AgentInfo is missing from HBase \
         (\"Caused by: org.apache.hadoop.hbase.TableNotFoundException: AgentInfo\"); create \
         Pinpoint's tables: chaosbed's HBase image creates them at its first start, so check the \
         HBase node's log for its schema step (the lines with \"schema:\")"
    );
    assert_eq!(d.evidence.len(), 2, "{:?}", d.evidence);
}

#[test]
fn a_web_missing_several_tables_names_them_all() {
    let log = "\
04-29 10:00:10.871 [           main] WARN  c.n.p.c.h.HbaseTemplate2 -- Failed to warmup for Table:ApplicationIndex, message:ApplicationIndex
org.apache.hadoop.hbase.TableNotFoundException: ApplicationIndex
04-29 10:00:10.903 [           main] WARN  c.n.p.c.h.HbaseTemplate2 -- Failed to warmup for Table:AgentInfo, message:AgentInfo
org.apache.hadoop.hbase.TableNotFoundException: AgentInfo
";
    let state = running();
    let d = diagnose(&pinpoint("web-1", &state, log)).unwrap();
    assert_eq!(d.cause, Cause::SchemaMissing);
    assert!(
        d.explanation.starts_with(
            "web-1 is running but never became ready: Pinpoint's tables ApplicationIndex, \
             AgentInfo are missing from HBase"
        ),
        "{}",
        d.explanation
    );
}

#[test]
fn a_web_without_an_hbase_master_cannot_reach_its_storage() {
    let state = exited(0);
    let d = diagnose(&pinpoint("web-1", &state, WEB_NO_MASTER)).unwrap();
    assert_eq!(d.cause, Cause::StorageUnreachable);
    assert_eq!(
        d.explanation,
        "web-1 exited with code 0: it could not reach its storage, HBase (\"04-29 10:01:09.330 \
         [           main] WARN  c.n.p.c.h.HbaseTemplate2                 -- Failed to warmup \
         for Table:ApplicationIndex, message:Cannot get the location for replica0 of region for \
         ApplicationIndex,,99999999999999 in hbase:meta\"); check that the HBase node is up and \
         ready (its log says why not), and that hbase.zookeeper.quorum (HBASE_CLIENT_HOST) names \
         the ZooKeeper ensemble HBase registers in"
    );
    assert_eq!(d.evidence.len(), 2, "{:?}", d.evidence);
    assert!(d.evidence[0].contains("Can't get master address from ZooKeeper"));
}

#[test]
fn a_collector_refused_by_the_region_server_blames_hbase_not_zookeeper() {
    let state = running();
    let d = diagnose(&pinpoint("collector-2", &state, COLLECTOR_NO_REGION_SERVER)).unwrap();
    assert_eq!(d.cause, Cause::StorageUnreachable);
    assert!(
        d.explanation.starts_with(
            "collector-2 is running but never became ready: it could not reach its storage, \
             HBase (\"04-29 10:05:31.001 [Pinpoint-HBase-Put-1] WARN"
        ),
        "{}",
        d.explanation
    );
    assert!(
        d.explanation
            .contains("-- Failed to get result within timeout, timeout=30000ms\"); check"),
        "{}",
        d.explanation
    );
    assert_eq!(d.evidence.len(), 2, "{:?}", d.evidence);
}

#[test]
fn a_collector_without_zookeeper_blames_zookeeper_before_hbase() {
    let state = exited(0);
    let d = diagnose(&pinpoint("collector-1", &state, COLLECTOR_NO_ZOOKEEPER)).unwrap();
    assert_eq!(d.cause, Cause::ZookeeperUnreachable);
    assert_eq!(
        d.explanation,
        "collector-1 exited with code 0: it could not reach ZooKeeper (\"04-29 10:00:21.380 \
         [           main] WARN  o.a.h.h.c.ZKConnectionRegistry          -- Can't retrieve \
         clusterId from Zookeeper\"); check that the ensemble is up and has a quorum, and that \
         hbase.zookeeper.quorum (HBASE_CLIENT_HOST) names it"
    );
    assert_eq!(d.evidence.len(), 2, "{:?}", d.evidence);
}

#[test]
fn an_hbase_node_without_zookeeper() {
    let log = "\
2024-04-29 10:00:01,200 INFO  [main] chaosbed.hbase.Launcher: Starting master and region server in one JVM, ZooKeeper at zk-1:2181 (znode /hbase)
2024-04-29 10:00:13,512 WARN  [main] zookeeper.RecoverableZooKeeper: Possibly transient ZooKeeper, quorum=zk-1:2181, exception=org.apache.zookeeper.KeeperException$ConnectionLossException: KeeperErrorCode = ConnectionLoss for /hbase
2024-04-29 10:00:29,514 ERROR [main] zookeeper.RecoverableZooKeeper: ZooKeeper exists failed after 4 attempts
2024-04-29 10:00:29,520 ERROR [main] master.HMasterCommandLine: Master exiting
";
    let state = exited(1);
    let d = diagnose(&facts("hbase-1", crate::system::hbase::KIND, &state, log)).unwrap();
    assert_eq!(d.cause, Cause::ZookeeperUnreachable);
    assert!(
        d.explanation.ends_with(
            "check that the ensemble is up and has a quorum, and that hbase.zookeeper.quorum \
             (HBASE_ZOOKEEPER_QUORUM) names it"
        ),
        "{}",
        d.explanation
    );
    assert_eq!(d.evidence.len(), 2, "{:?}", d.evidence);
}

#[test]
fn hbase_rejecting_a_region_server_is_clock_skew_before_its_expired_session() {
    let state = exited(1);
    let d = diagnose(&facts(
        "hbase-2",
        crate::system::hbase::KIND,
        &state,
        HBASE_CLOCK_REJECTED,
    ))
    .unwrap();
    assert_eq!(d.cause, Cause::ClockSkew);
    assert_eq!(
        d.explanation,
        "hbase-2 exited with code 1: HBase rejected region server hbase-2: its clock was 3600000 \
         ms (1 h) off the master's, more than hbase.master.maxclockskew = 30000 ms (a whole \
         number of hours: a node set to another time zone shows the same); keep every node on \
         one time source (NTP or chrony) and in one time zone"
    );
    assert_eq!(d.evidence.len(), 2, "{:?}", d.evidence);
}

#[test]
fn a_clock_jump_seen_by_the_zookeeper_client_is_clock_skew() {
    let state = running();
    let d = diagnose(&pinpoint("web-1", &state, WEB_CLOCK_JUMP)).unwrap();
    assert_eq!(d.cause, Cause::ClockSkew);
    assert_eq!(
        d.explanation,
        "web-1 is running but never became ready: its clock jumped forward about 1 h 13 s: its \
         ZooKeeper client had \"not heard from server in 3613344ms\", while its negotiated \
         session timeout is 30000 ms, so time moved rather than the server stalling; keep every \
         node on one time source (NTP or chrony) and in one time zone"
    );
    assert_eq!(d.evidence.len(), 1);
}

#[rstest]
// An ordinary read timeout: two thirds of the session timeout.
#[case(26_667, Some(40_000), false)]
// A 60 s pause with a short session: long against the timeout, but a pause is that long too.
#[case(60_012, Some(2_000), false)]
#[case(150_000, Some(2_000), true)]
#[case(150_000, Some(30_000), false)]
#[case(700_000, None, true)]
#[case(300_000, None, false)]
fn a_silence_is_a_clock_jump_only_when_no_pause_explains_it(
    #[case] silence_ms: u64,
    #[case] negotiated_ms: Option<u64>,
    #[case] jump: bool,
) {
    let session = negotiated_ms
        .map(|n| {
            format!(
                "INFO  org.apache.zookeeper.ClientCnxn - Session establishment complete on server \
                 zk-1/172.18.0.2:2181, session id = 0x100000a2b3c0001, negotiated timeout = {n}\n"
            )
        })
        .unwrap_or_default();
    let log = format!(
        "{session}INFO  org.apache.zookeeper.ClientCnxn - Client session timed out, have not \
         heard from server in {silence_ms}ms for sessionid 0x100000a2b3c0001, closing socket \
         connection and attempting reconnect\n\
         WARN  org.apache.zookeeper.ClientCnxn - Unable to reconnect to ZooKeeper service, \
         session 0x100000a2b3c0001 has expired\n"
    );
    let state = exited(1);
    let cause = diagnose(&broker(&state, &log)).unwrap().cause;
    let expected = if jump {
        Cause::ClockSkew
    } else {
        Cause::SessionExpired
    };
    assert_eq!(cause, expected);
}

#[test]
fn a_launch_failure_with_exit_code_0_is_still_a_failure() {
    let log = "\
04-29 10:00:01.512 [           main] INFO  c.n.p.c.CollectorApp                     -- Starting CollectorApp using Java 11.0.22 with PID 1
04-29 10:00:04.220 [           main] ERROR c.n.p.c.CollectorApp                     -- [CollectorApp] could not launch app.
org.springframework.context.ApplicationContextException: Failed to start bean 'grpcAgentReceiver'
Caused by: java.io.IOException: Failed to bind to address 0.0.0.0/0.0.0.0:9991
Caused by: java.net.BindException: Address already in use
";
    let state = exited(0);
    let mut facts = pinpoint("collector-1", &state, log);
    facts.became_ready = true;
    let d = diagnose(&facts).unwrap();
    assert_eq!(d.cause, Cause::Exited);
    assert!(
        d.explanation.starts_with(
            "collector-1 exited with code 0 after it could not launch (\"04-29 10:00:04.220 ["
        ),
        "{}",
        d.explanation
    );
    assert!(
        d.explanation.ends_with(
            "[CollectorApp] could not launch app.\"), caused by \"java.net.BindException: \
             Address already in use\""
        ),
        "{}",
        d.explanation
    );
    assert_eq!(d.evidence.len(), 4, "{:?}", d.evidence);
    assert!(d.evidence[0].ends_with("[CollectorApp] could not launch app."));
}

#[test]
fn an_exit_with_code_0_without_a_reason_is_still_an_exit() {
    let state = exited(0);
    let mut facts = broker(&state, STARTING);
    facts.became_ready = true;
    let d = diagnose(&facts).unwrap();
    assert_eq!(d.cause, Cause::Exited);
    assert!(
        d.explanation.starts_with("broker-1 exited with code 0; "),
        "{}",
        d.explanation
    );
}

#[test]
fn a_zookeeper_servers_ordinary_log_names_no_pinpoint_cause() {
    let state = exited(143);
    let d = diagnose(&facts(
        "zk-1",
        crate::system::zookeeper::KIND,
        &state,
        ZOOKEEPER_SERVER,
    ))
    .unwrap();
    assert_eq!(d.cause, Cause::Exited);
    assert!(
        d.explanation
            .starts_with("zk-1 exited with code 143 (SIGTERM); "),
        "{}",
        d.explanation
    );
}

#[test]
fn an_oap_without_postgresql_names_postgresql_not_hbase() {
    let state = exited(1);
    let d = diagnose(&facts(
        "oap-1",
        crate::system::skywalking::KIND,
        &state,
        OAP_NO_POSTGRES,
    ))
    .unwrap();
    assert_eq!(d.cause, Cause::StorageUnreachable);
    assert_eq!(
        d.explanation,
        "oap-1 exited with code 1: it could not reach its storage, PostgreSQL (\"2024-04-29 \
         10:00:15,100 - org.apache.skywalking.oap.server.starter.OAPServerBootstrap - ERROR [main] \
         - Failed to initialize pool: Connection to pg-1:5432 refused.\"); check that PostgreSQL \
         is up and SW_JDBC_URL names it"
    );
}

#[rstest]
#[case(crate::system::pulsar::KIND)]
#[case(crate::system::bookkeeper::KIND)]
#[case(crate::system::skywalking::KIND)]
#[case(crate::system::pinpoint::app::KIND)]
fn pinpoint_log_lines_name_no_storage_or_schema_elsewhere(#[case] system: SystemKind) {
    let log = format!("{COLLECTOR_NO_REGION_SERVER}{COLLECTOR_NO_TABLE}");
    let state = exited(1);
    let d = diagnose(&facts("node-1", system, &state, &log)).unwrap();
    assert_eq!(d.cause, Cause::Exited, "{}", d.explanation);
}

#[test]
fn the_pinpoint_rules_stay_quiet_on_other_systems_logs() {
    let state = exited(1);
    for log in [
        ZOOKEEPER_SERVER,
        OAP_NO_POSTGRES,
        STARTING,
        SESSION_LOST,
        ZK_REFUSED,
    ] {
        for node in ["collector-1", "web-1"] {
            let cause = diagnose(&pinpoint(node, &state, log)).unwrap().cause;
            assert!(
                !matches!(
                    cause,
                    Cause::SchemaMissing | Cause::ClockSkew | Cause::StorageUnreachable
                ),
                "{node}: {cause} from\n{log}"
            );
        }
    }
}

#[test]
fn clock_skew_found_elsewhere_is_explained_with_its_offset() {
    let d = super::clock_skew_explanation(
        "collector-1",
        3_600_000,
        "trace 42 recorded at 11:00:03, sent at 10:00:02",
    );
    assert_eq!(d.node, "collector-1");
    assert_eq!(d.cause, Cause::ClockSkew);
    assert_eq!(
        d.explanation,
        "collector-1's clock is 1 h ahead of the others' (+3600000 ms) (a whole number of hours: \
         a node set to another time zone shows the same); keep every node on one time source \
         (NTP or chrony) and in one time zone"
    );
    assert_eq!(
        d.evidence,
        ["trace 42 recorded at 11:00:03, sent at 10:00:02"]
    );

    let behind = super::clock_skew_explanation("web-1", -600_000, "");
    assert_eq!(
        behind.explanation,
        "web-1's clock is 10 min behind the others' (-600000 ms); keep every node on one time \
         source (NTP or chrony) and in one time zone"
    );
    assert!(behind.evidence.is_empty());
    assert!(
        super::clock_skew_explanation("web-1", 90_500, "x")
            .explanation
            .contains("is 1 min 31 s ahead of")
    );
}

#[test]
fn a_node_that_kept_running_after_a_clock_jump_is_named_for_its_clock() {
    let state = running();
    let mut facts = pinpoint("web-1", &state, WEB_CLOCK_JUMP);
    facts.became_ready = true;
    assert_eq!(diagnose(&facts), None);
    let d = expired_session(&facts).unwrap();
    assert_eq!(d.cause, Cause::ClockSkew);
    assert!(
        d.explanation.starts_with(
            "web-1 kept running, but its ZooKeeper session expired: its clock jumped forward \
             about 1 h 13 s"
        ),
        "{}",
        d.explanation
    );
    // Without a jump, an expired session stays one.
    assert_eq!(
        expired_session(&broker(&state, SESSION_LOST))
            .unwrap()
            .cause,
        Cause::SessionExpired
    );
}

// Exits explained by their root error, and servers that refuse to start on their data.

/// A real log, the last 40 lines `docker logs` gave: chaosbed/zookeeper:3.9 as a one-node
/// ensemble (ZOO_STANDALONE_ENABLED=false, /data and /datalog on host directories), two znode
/// writes in epoch 1, stopped, its /data/version-2/currentEpoch set from 1 to 0, started again.
const ZK_EPOCH_BEHIND: &str = include_str!("fixtures/zookeeper-3.9-epoch-older-than-zxid.log");
/// The same node started once more with its currentEpoch back at 1 and its only snapshot
/// (/data/version-2/snapshot.0) deleted, its transaction log kept.
const ZK_NO_SNAPSHOT: &str = include_str!("fixtures/zookeeper-3.9-no-snapshot.log");

fn zookeeper<'a>(state: &'a NodeState, log: &'a str) -> NodeFacts<'a> {
    facts("zk-1", crate::system::zookeeper::KIND, state, log)
}

fn bookie<'a>(state: &'a NodeState, log: &'a str) -> NodeFacts<'a> {
    facts("bookie-1", crate::system::bookkeeper::KIND, state, log)
}

#[test]
fn an_exit_quotes_its_first_cause_not_its_last_words() {
    // A ZooKeeper 3.9 server that cannot start for another reason than its data: the last error
    // it prints is ServiceUtils' `Exiting JVM with code 1`.
    let log = "\
2024-04-29 10:00:01,001 [myid:] - INFO  [main:o.a.z.s.q.QuorumPeerConfig@177] - Reading configuration from: /conf/zoo.cfg
2024-04-29 10:00:01,480 [myid:4] - ERROR [main:o.a.z.s.q.QuorumPeerMain@114] - Unexpected exception, exiting abnormally
java.lang.RuntimeException: My id 4 not in the peer list
\tat org.apache.zookeeper.server.quorum.QuorumPeer.start(QuorumPeer.java:1130)
2024-04-29 10:00:01,481 [myid:4] - INFO  [main:o.a.z.a.ZKAuditProvider@42] - ZooKeeper audit is disabled.
2024-04-29 10:00:01,482 [myid:4] - ERROR [main:o.a.z.u.ServiceUtils@48] - Exiting JVM with code 1
";
    let state = exited(1);
    let d = diagnose(&zookeeper(&state, log)).unwrap();
    assert_eq!(d.cause, Cause::Exited);
    assert_eq!(
        d.explanation,
        "zk-1 exited with code 1; the error behind it: \"Unexpected exception, exiting \
         abnormally\", caused by \"java.lang.RuntimeException: My id 4 not in the peer list\""
    );
    assert!(
        d.evidence.iter().all(|line| !line.contains("Exiting JVM")),
        "{:?}",
        d.evidence
    );
}

#[test]
fn an_exit_quotes_the_innermost_cause_not_a_shutdown_hook_or_an_old_error() {
    let log = "\
2024-05-01T09:40:00,000+0000 [pulsar-io-4-1] ERROR org.apache.pulsar.broker.service.ServerCnx - Failed to fetch topic stats
2024-05-01T10:00:00,000+0000 [main] INFO  org.apache.pulsar.PulsarBrokerStarter - Starting Pulsar broker
2024-05-01T10:00:03,000+0000 [main] ERROR org.apache.pulsar.PulsarBrokerStarter - Failed to start pulsar service.
org.apache.pulsar.broker.PulsarServerException: java.io.IOException: Failed to bind
\tat org.apache.pulsar.broker.PulsarService.start(PulsarService.java:800)
Caused by: java.io.IOException: Failed to bind
\tat org.apache.pulsar.broker.web.WebService.start(WebService.java:300)
Caused by: java.net.BindException: Address already in use
\tat java.base/sun.nio.ch.Net.bind0(Native Method)
\tSuppressed: java.lang.IllegalStateException: already stopped
\t\tCaused by: java.lang.IllegalStateException: not started
2024-05-01T10:00:03,100+0000 [Thread-1] INFO  org.apache.pulsar.broker.PulsarService - Closing PulsarService
2024-05-01T10:00:04,200+0000 [Thread-1] ERROR org.apache.pulsar.broker.PulsarService - Failed to close the metadata store
java.lang.IllegalStateException: Already closed
2024-05-01T10:00:04,300+0000 [Thread-1] INFO  org.apache.pulsar.PulsarBrokerStarter - Shut down broker service successfully.
";
    let state = exited(1);
    let d = diagnose(&broker(&state, log)).unwrap();
    assert_eq!(d.cause, Cause::Exited);
    assert_eq!(
        d.explanation,
        "broker-1 exited with code 1; the error behind it: \"Failed to start pulsar service.\", \
         caused by \"java.net.BindException: Address already in use\""
    );
    assert_eq!(d.evidence.len(), 4, "{:?}", d.evidence);
    assert!(d.evidence[0].ends_with("Failed to start pulsar service."));
}

#[test]
fn a_zookeeper_whose_epoch_is_behind_its_log_has_inconsistent_data() {
    let state = exited(1);
    let d = diagnose(&zookeeper(&state, ZK_EPOCH_BEHIND)).unwrap();
    assert_eq!(d.cause, Cause::DataInconsistent);
    assert_eq!(
        d.explanation,
        "zk-1 exited with code 1: its data directory is inconsistent (\"java.io.IOException: The \
         current epoch, 0, is older than the last zxid, 4294967300\"): its currentEpoch file says \
         epoch 0, but its snapshots and transaction log hold transactions of epoch 1; restore \
         the node's data (version-2 under dataDir and dataLogDir) from a backup, or delete those \
         version-2 directories, keeping myid, and restart it: it then resyncs from the leader, \
         which needs a quorum of the other nodes"
    );
    assert_eq!(d.evidence.len(), 3, "{:?}", d.evidence);
    assert!(d.evidence[0].ends_with("- Unable to load database on disk"));
    assert!(d.evidence.iter().all(|line| !line.contains("Exiting JVM")));
}

#[test]
fn a_zookeeper_without_its_snapshot_has_missing_data() {
    let state = exited(1);
    let d = diagnose(&zookeeper(&state, ZK_NO_SNAPSHOT)).unwrap();
    assert_eq!(d.cause, Cause::DataMissing);
    assert!(
        d.explanation.starts_with(
            "zk-1 exited with code 1: its snapshot is missing (\"java.io.IOException: No \
             snapshot found, but there are log entries. Something is broken!\"): its transaction \
             log holds transactions, but no snapshot is left to replay them onto; restore"
        ),
        "{}",
        d.explanation
    );
}

#[rstest]
#[case(
    "java.io.IOException: The accepted epoch, a is less than the current epoch, b",
    "its acceptedEpoch file says epoch 10, behind the epoch 11 of its currentEpoch file"
)]
#[case(
    "java.io.IOException: CRC check failed",
    "its data on disk would not load (\"java.io.IOException: CRC check failed\"): its snapshots \
     or transaction log are damaged"
)]
#[case(
    "java.io.IOException: Not able to find valid snapshots in /data/version-2",
    "none of its snapshots can be read"
)]
// QuorumPeer's own error quotes the cause it carries.
#[case(
    "java.io.IOException: Failed to process transaction type: 2 error: KeeperErrorCode = NoNode for /x",
    "its data on disk would not load (\"java.io.IOException: Failed to process transaction type: \
     2 error: KeeperErrorCode = NoNode for /x\")"
)]
fn a_zookeeper_data_directory_that_will_not_load_is_inconsistent(
    #[case] exception: &str,
    #[case] said: &str,
) {
    // QuorumPeer.loadDataBase's error, as ZooKeeper 3.9 prints it.
    let log = format!(
        "2024-04-29 10:00:02,100 [myid:2] - ERROR [main:o.a.z.s.q.QuorumPeer@1203] - Unable to \
         load database on disk\n{exception}\n\
         \tat org.apache.zookeeper.server.quorum.QuorumPeer.loadDataBase(QuorumPeer.java:1195)\n\
         2024-04-29 10:00:02,103 [myid:2] - ERROR [main:o.a.z.u.ServiceUtils@48] - Exiting JVM \
         with code 1\n"
    );
    let state = exited(1);
    let d = diagnose(&zookeeper(&state, &log)).unwrap();
    assert_eq!(d.cause, Cause::DataInconsistent);
    assert!(d.explanation.contains(said), "{}", d.explanation);
    assert!(
        d.explanation.contains("it then resyncs from the leader"),
        "{}",
        d.explanation
    );
}

#[test]
fn a_partial_last_transaction_is_no_reason_to_exit() {
    // ZooKeeper logs it after being killed mid-write, and reads on.
    let log = "\
2024-04-29 10:00:01,200 [myid:4] - ERROR [main:o.a.z.s.p.Util@259] - Last transaction was partial.
2024-04-29 10:00:01,480 [myid:4] - ERROR [main:o.a.z.s.q.QuorumPeerMain@114] - Unexpected exception, exiting abnormally
java.lang.RuntimeException: My id 4 not in the peer list
2024-04-29 10:00:01,482 [myid:4] - ERROR [main:o.a.z.u.ServiceUtils@48] - Exiting JVM with code 1
";
    let state = exited(1);
    let d = diagnose(&zookeeper(&state, log)).unwrap();
    assert_eq!(d.cause, Cause::Exited);
    assert!(
        d.explanation
            .ends_with("caused by \"java.lang.RuntimeException: My id 4 not in the peer list\""),
        "{}",
        d.explanation
    );
}

/// A bookie (BookKeeper 4.16, Pulsar's image) whose journal and ledger disks were wiped while
/// ZooKeeper kept its cookie.
const BOOKIE_DISK_WIPED: &str = "\
2024-05-01T10:00:05,000+0000 [main] INFO  org.apache.bookkeeper.server.Main - Using configuration file /pulsar/conf/bookkeeper.conf
2024-05-01T10:00:05,120+0000 [main] ERROR org.apache.bookkeeper.bookie.LegacyCookieValidation - There are directories without a cookie, and this is neither a new environment, nor is storage expansion enabled. Empty directories are [data/bookkeeper/journal/current, data/bookkeeper/ledgers/current]
2024-05-01T10:00:05,125+0000 [main] ERROR org.apache.bookkeeper.server.Main - Failed to build bookie server
org.apache.bookkeeper.bookie.BookieException$InvalidCookieException: 
\tat org.apache.bookkeeper.bookie.LegacyCookieValidation.checkCookies(LegacyCookieValidation.java:126)
";

#[test]
fn a_bookie_whose_disk_lost_its_cookie_has_missing_data() {
    let state = exited(1);
    let d = diagnose(&bookie(&state, BOOKIE_DISK_WIPED)).unwrap();
    assert_eq!(d.cause, Cause::DataMissing);
    assert!(
        d.explanation.starts_with(
            "bookie-1 exited with code 1: its disk lost its cookie (\"There are directories \
             without a cookie, and this is neither a new environment, nor is storage expansion \
             enabled. Empty directories are [data/bookkeeper/journal/current, \
             data/bookkeeper/ledgers/current]\"): journal or ledger directories have no cookie"
        ),
        "{}",
        d.explanation
    );
    assert!(
        d.explanation.ends_with(
            "restore the disk, or format it to join as a new bookie (`bookkeeper shell \
             bookieformat -nonInteractive -force -deleteCookie`) and let autorecovery \
             re-replicate the ledgers it held"
        ),
        "{}",
        d.explanation
    );
    assert_eq!(d.evidence.len(), 2, "{:?}", d.evidence);
}

#[rstest]
#[case(
    "2024-05-01T10:00:05,120+0000 [main] ERROR org.apache.bookkeeper.bookie.LegacyCookieValidation - Cookie for this bookie is not stored in metadata store. Bookie failing to come up\n",
    Cause::DataMissing,
    "its cookie is missing from the metadata store"
)]
#[case(
    "2024-05-01T10:00:05,125+0000 [main] ERROR org.apache.bookkeeper.server.Main - Failed to build bookie server\n\
     org.apache.bookkeeper.bookie.BookieException$InvalidCookieException: instanceId 7a1c2f is not matching with 3f2b9e\n",
    Cause::DataInconsistent,
    "so the cluster's instance id changed"
)]
// Cookie's own text spans several lines; the exception's line is quoted.
#[case(
    "2024-05-01T10:00:05,125+0000 [main] ERROR org.apache.bookkeeper.server.Main - Failed to build bookie server\n\
     org.apache.bookkeeper.bookie.BookieException$InvalidCookieException: Cookie [4\n\
     bookieHost: \"172.18.0.7:3181\"\n\
     ] is not matching with [4\n\
     bookieHost: \"172.18.0.5:3181\"\n\
     ]\n",
    Cause::DataInconsistent,
    "its cookie does not match (\"org.apache.bookkeeper.bookie.BookieException$InvalidCookieException: \
     Cookie [4\"): the cookie in its directories differs from the one in the metadata store, so \
     its address or its directories changed"
)]
#[case(
    "2024-05-01T10:00:05,120+0000 [main] ERROR org.apache.bookkeeper.bookie.LegacyCookieValidation - Not all the new directories are empty. New directories that are not empty are: [data/bookkeeper/ledgers/current]\n",
    Cause::DataInconsistent,
    "its directories hold data but no cookie"
)]
fn a_bookie_whose_cookie_check_failed(#[case] log: &str, #[case] cause: Cause, #[case] said: &str) {
    let state = exited(1);
    let d = diagnose(&bookie(&state, log)).unwrap();
    assert_eq!(d.cause, cause, "{}", d.explanation);
    assert!(d.explanation.contains(said), "{}", d.explanation);
    assert!(
        d.explanation.contains("bookkeeper shell bookieformat"),
        "{}",
        d.explanation
    );
}

#[test]
fn data_phrases_count_only_for_the_server_that_prints_them() {
    let state = exited(1);
    // ZooKeeper's data errors in a bookie's log, a bookie's cookie in ZooKeeper's, and a
    // mismatch without the cookie check's exception, name no data cause.
    let mismatch = "2024-05-01T10:00:05,125+0000 [main] ERROR x - checksum is not matching with the \
                    stored one\n";
    for d in [
        diagnose(&bookie(&state, ZK_EPOCH_BEHIND)).unwrap(),
        diagnose(&zookeeper(&state, BOOKIE_DISK_WIPED)).unwrap(),
        diagnose(&bookie(&state, mismatch)).unwrap(),
    ] {
        assert_eq!(d.cause, Cause::Exited, "{}", d.explanation);
    }
}

#[test]
fn the_data_causes_are_named() {
    assert_eq!(Cause::DataInconsistent.name(), "data-inconsistent");
    assert_eq!(Cause::DataMissing.name(), "data-missing");
    assert_eq!(Cause::from_name("data-missing"), Some(Cause::DataMissing));
}
