//! Explains why a node exited or never became ready, from its Docker state and its log. Pure: the
//! caller gathers the facts (state, log, configured memory) and records the diagnosis.
//!
//! Rules, most specific first: the kernel's OOM kill; a JVM whose heap cannot fit the container;
//! a clock out of step (HBase rejecting a region server, a ZooKeeper client whose clock jumped);
//! data a server refuses to start on, inconsistent (a ZooKeeper data directory whose epoch files,
//! snapshots and transaction log disagree or are damaged; a bookie whose cookie does not match)
//! or missing (a ZooKeeper snapshot, a bookie's cookie on its disk or in the metadata store); an
//! expired ZooKeeper session; a ZooKeeper it could not reach; Pinpoint's HBase tables missing; its
//! storage unreachable (PostgreSQL, HBase); any other exit (exit code 0 included: Pinpoint's
//! collector and web exit with 0 when they could not launch), quoting the failure's first error
//! and the innermost cause of its stack trace, not what the process printed as it went down
//! (`Exiting JVM with code 1`, a shutdown hook's complaints); never ready.

mod jvm;
mod log;

use serde::{Deserialize, Serialize};

use crate::backend::{NodeState, Status};
use crate::scenario::SystemKind;

pub use jvm::format_bytes;
pub use log::{DataFault, DataProblem};
pub(crate) use log::{bookie_data, hbase_unreachable, postgres_unreachable, quote, zookeeper_data};

/// What is known about one node when it is diagnosed.
#[derive(Debug, Clone, Copy)]
pub struct NodeFacts<'a> {
    pub node: &'a str,
    pub system: SystemKind,
    pub state: &'a NodeState,
    /// Everything the node printed.
    pub log: &'a str,
    /// The container's memory limit in bytes.
    pub memory_limit: Option<u64>,
    /// The JVM memory flags: the value of PULSAR_MEM, BOOKIE_MEM or JVMFLAGS.
    pub heap: Option<&'a str>,
    /// ZooKeeper's configured tickTime.
    pub tick_time_ms: Option<u64>,
    /// Whether the node ever passed its readiness probe.
    pub became_ready: bool,
}

/// Why a node failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// The kernel killed it for exceeding its container's memory limit.
    OomKilled,
    /// The JVM could not get the heap (or memory) it was configured for.
    HeapExceedsLimit,
    /// Its ZooKeeper session expired.
    SessionExpired,
    /// It could not connect to ZooKeeper.
    ZookeeperUnreachable,
    /// It could not reach its storage: PostgreSQL for the SkyWalking OAP nodes, HBase for
    /// Pinpoint's collectors and webs.
    StorageUnreachable,
    /// Its storage answered but lacks the tables it needs (Pinpoint's tables in HBase).
    SchemaMissing,
    /// Its clock is out of step with the others' (HBase rejected it, or a clock jump broke its
    /// ZooKeeper session).
    ClockSkew,
    /// It advertised an address its peers cannot dial (0.0.0.0, 127.0.0.1).
    IllegalAdvertisedAddress,
    /// It refused to start on inconsistent data: a ZooKeeper data directory whose epoch files,
    /// snapshots and transaction log disagree or are damaged, a bookie whose cookie does not
    /// match the metadata store's.
    DataInconsistent,
    /// It refused to start on missing data: a ZooKeeper transaction log without its snapshot, a
    /// bookie whose disk or metadata store lost its cookie.
    DataMissing,
    /// Its storage refuses writes: OpenSearch made indices read-only after a node's disk passed
    /// the flood-stage watermark.
    StorageReadOnly,
    /// Its storage cluster went red: a primary shard without a copy on a running node.
    StorageRed,
    /// It exited for another reason.
    Exited,
    /// It runs but never became ready.
    NeverReady,
}

impl Cause {
    pub const ALL: [Cause; 14] = [
        Cause::OomKilled,
        Cause::HeapExceedsLimit,
        Cause::SessionExpired,
        Cause::ZookeeperUnreachable,
        Cause::StorageUnreachable,
        Cause::SchemaMissing,
        Cause::ClockSkew,
        Cause::IllegalAdvertisedAddress,
        Cause::DataInconsistent,
        Cause::DataMissing,
        Cause::StorageReadOnly,
        Cause::StorageRed,
        Cause::Exited,
        Cause::NeverReady,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Cause::OomKilled => "oom-killed",
            Cause::HeapExceedsLimit => "heap-exceeds-limit",
            Cause::SessionExpired => "session-expired",
            Cause::ZookeeperUnreachable => "zookeeper-unreachable",
            Cause::StorageUnreachable => "storage-unreachable",
            Cause::SchemaMissing => "schema-missing",
            Cause::ClockSkew => "clock-skew",
            Cause::IllegalAdvertisedAddress => "illegal-advertised-address",
            Cause::DataInconsistent => "data-inconsistent",
            Cause::DataMissing => "data-missing",
            Cause::StorageReadOnly => "storage-read-only",
            Cause::StorageRed => "storage-red",
            Cause::Exited => "exited",
            Cause::NeverReady => "never-ready",
        }
    }

    /// The cause with this kebab-case name.
    pub fn from_name(name: &str) -> Option<Cause> {
        Cause::ALL.into_iter().find(|cause| cause.name() == name)
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why one node failed, for a person, with the log lines that show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub node: String,
    pub cause: Cause,
    pub explanation: String,
    /// Log lines quoted, at most 5.
    pub evidence: Vec<String>,
}

/// A workload's client container that failed (`failure` says how), quoting its last lines the
/// way a node's are quoted.
pub fn client_failed(node: &str, failure: &str, oom_killed: bool, log: &str) -> Diagnosis {
    Diagnosis {
        node: node.to_owned(),
        cause: if oom_killed {
            Cause::OomKilled
        } else {
            Cause::Exited
        },
        explanation: format!(
            "{failure}; its last lines are quoted (a client should log to stderr and print only \
             operations on stdout)"
        ),
        evidence: log::evidence(&log::last_lines(log, log::EVIDENCE)),
    }
}

/// A node that kept running while its log shows trouble its system knows the phrases of (an
/// index turned read-only, a storage cluster gone red): `System::running_trouble`.
pub fn running_trouble(facts: &NodeFacts) -> Option<Diagnosis> {
    let trouble = facts.system.running_trouble(facts.log)?;
    Some(Diagnosis {
        node: facts.node.to_owned(),
        cause: trouble.cause,
        explanation: format!("{}: {}", facts.node, trouble.explanation),
        evidence: log::evidence(&trouble.lines),
    })
}

/// A node that kept running although its ZooKeeper session expired (it reconnected with a new
/// one): what a too-low tickTime does to a broker or bookie, worth naming even without a crash.
/// When its ZooKeeper client saw its clock jump, the clock skew is named instead.
pub fn expired_session(facts: &NodeFacts) -> Option<Diagnosis> {
    if !facts.system.zookeeper_client() {
        return None;
    }
    let expired = log::session_expiry(facts.log);
    if expired.is_empty() {
        return None;
    }
    // A clock that jumped expires sessions; the clock is what to fix.
    if let Some((explanation, evidence)) =
        clock_skew(facts, "kept running, but its ZooKeeper session expired", "")
    {
        return Some(Diagnosis {
            node: facts.node.to_string(),
            cause: Cause::ClockSkew,
            explanation,
            evidence,
        });
    }
    let timeout = session_timeout_text(log::negotiated_timeout_ms(facts.log), facts);
    Some(Diagnosis {
        node: facts.node.to_string(),
        cause: Cause::SessionExpired,
        explanation: format!("{}'s ZooKeeper session expired{timeout}", facts.node),
        evidence: log::evidence(&expired),
    })
}

/// An OAP node registered in ZooKeeper under an address its peers cannot dial. `members` are the
/// addresses ZooKeeper lists; `advertised` is what the node was configured to advertise.
pub fn illegal_advertised_address(
    node: &str,
    advertised: &str,
    members: &[String],
) -> Option<Diagnosis> {
    let unusable = |host: &str| {
        host == "localhost"
            || host
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| ip.is_unspecified() || ip.is_loopback())
    };
    if !unusable(advertised) {
        return None;
    }
    let listed: Vec<&String> = members
        .iter()
        .filter(|m| m.rsplit_once(':').map_or(m.as_str(), |(host, _)| host) == advertised)
        .collect();
    let seen = if listed.is_empty() {
        "(ZooKeeper lists no member with it yet)".to_string()
    } else {
        format!("and ZooKeeper lists it as a member: {}", listed[0])
    };
    Some(Diagnosis {
        node: node.to_string(),
        cause: Cause::IllegalAdvertisedAddress,
        explanation: format!(
            "{node} advertises {advertised} to its cluster peers {seen}; a peer that dials it \
             reaches itself, so data meant for {node} never arrives; set \
             SW_CLUSTER_INTERNAL_COM_HOST to an address the peers can reach"
        ),
        evidence: members
            .iter()
            .map(|m| format!("member {m}"))
            .take(log::EVIDENCE)
            .collect(),
    })
}

/// What to try about a clock out of step.
const CLOCK_ADVICE: &str =
    "keep every node on one time source (NTP or chrony) and in one time zone";

/// A ZooKeeper client silent for longer than this was not slow: its clock jumped.
const CLOCK_JUMP_MS: u64 = 10 * 60 * 1_000;
/// Nor when silent for more than this many negotiated session timeouts...
const CLOCK_JUMP_TIMEOUTS: u64 = 10;
/// ...and at least this long: a paused container (the pause fault) is silent for as long as it
/// is paused, and scenarios pause for seconds to a minute.
const CLOCK_JUMP_FLOOR_MS: u64 = 2 * 60 * 1_000;

/// A node whose clock is `offset_ms` off the others' (positive: ahead), found by other means than
/// its log, e.g. transactions recorded far from when they were sent; `evidence` is quoted.
pub fn clock_skew_explanation(node: &str, offset_ms: i64, evidence: &str) -> Diagnosis {
    let direction = if offset_ms < 0 { "behind" } else { "ahead of" };
    let off = offset_ms.unsigned_abs();
    Diagnosis {
        node: node.to_string(),
        cause: Cause::ClockSkew,
        explanation: format!(
            "{node}'s clock is {} {direction} the others' ({offset_ms:+} ms){}; {CLOCK_ADVICE}",
            human_duration(off),
            time_zone_hint(off)
        ),
        evidence: [evidence]
            .into_iter()
            .filter(|line| !line.trim().is_empty())
            .map(log::quote)
            .collect(),
    }
}

/// A clock out of step in the log: HBase's master rejecting a region server, or a ZooKeeper client
/// that had not heard from its server for far longer than any session lasts. `failed` says how
/// the node failed, `note` is appended to the explanation.
fn clock_skew(facts: &NodeFacts, failed: &str, note: &str) -> Option<(String, Vec<String>)> {
    let node = facts.node;
    if let Some(sync) = log::clock_out_of_sync(facts.log) {
        let server = sync
            .server
            .map(|s| format!("region server {s}"))
            .unwrap_or_else(|| "a region server".to_string());
        let measured = match (sync.difference_ms, sync.max_ms) {
            (Some(diff), Some(max)) => format!(
                ": its clock was {diff} ms ({}) off the master's, more than \
                 hbase.master.maxclockskew = {max} ms{}",
                human_duration(diff),
                time_zone_hint(diff)
            ),
            (Some(diff), None) => format!(
                ": its clock was {diff} ms ({}) off the master's{}",
                human_duration(diff),
                time_zone_hint(diff)
            ),
            _ => " for its clock".to_string(),
        };
        let explanation =
            format!("{node} {failed}: HBase rejected {server}{measured}; {CLOCK_ADVICE}{note}");
        return Some((explanation, log::evidence(&sync.lines)));
    }
    if !facts.system.zookeeper_client() {
        return None;
    }
    let negotiated = log::negotiated_timeout_ms(facts.log);
    let jumped = |silence: u64| {
        silence > CLOCK_JUMP_MS
            || (silence >= CLOCK_JUMP_FLOOR_MS
                && negotiated.is_some_and(|n| silence > CLOCK_JUMP_TIMEOUTS * n))
    };
    let jumps: Vec<(&str, u64)> = log::client_silences(facts.log)
        .into_iter()
        .filter(|(_, silence)| jumped(*silence))
        .collect();
    let &(_, silence) = jumps.iter().max_by_key(|(_, silence)| *silence)?;
    let session = negotiated
        .map(|n| format!("its negotiated session timeout is {n} ms"))
        .unwrap_or_else(|| "no session outlives a few minutes of silence".to_string());
    let explanation = format!(
        "{node} {failed}: its clock jumped forward about {}: its ZooKeeper client had \"not heard \
         from server in {silence}ms\", while {session}, so time moved rather than the server \
         stalling; {CLOCK_ADVICE}{note}",
        human_duration(silence)
    );
    let lines: Vec<&str> = jumps.iter().map(|(line, _)| *line).collect();
    Some((explanation, log::evidence(&lines)))
}

/// Explains a node that exited or never became ready; `None` for a node that is up (running or
/// paused) and was ready.
pub fn diagnose(facts: &NodeFacts) -> Option<Diagnosis> {
    let failure = Failure::of(facts)?;
    let node = facts.node;
    let memory = facts.heap.map(jvm::JvmMemory::parse).unwrap_or_default();
    let variable = facts.system.memory().advice;
    let limit = facts.memory_limit;
    let diagnosis = |cause: Cause, explanation: String, lines: &[&str]| Diagnosis {
        node: node.to_string(),
        cause,
        explanation,
        evidence: log::evidence(lines),
    };
    let errors = log::error_lines(facts.log);
    let memory_errors = log::memory_errors(facts.log);

    if facts.state.oom_killed {
        let explanation = match (memory.describe(), limit) {
            (Some(sized), Some(limit)) if memory.total().is_some_and(|total| total > limit) => {
                format!(
                    "{node} was OOM-killed: its {} ({sized}) cannot fit in the {} container \
                     limit; size {variable} for the limit",
                    memory.what(),
                    format_bytes(limit)
                )
            }
            (Some(sized), Some(limit)) => format!(
                "{node} was OOM-killed: its {} ({sized}) {} in the {} container limit, but the \
                 JVM needs more than that (metaspace, thread stacks, native buffers); leave \
                 headroom between {variable} and the limit",
                memory.what(),
                if memory.max_direct.is_some() {
                    "fit"
                } else {
                    "fits"
                },
                format_bytes(limit)
            ),
            (None, Some(limit)) => format!(
                "{node} was OOM-killed: it used more than its {} container limit and no \
                 {variable} was given, so the image's default heap applied; size {variable} for \
                 the limit",
                format_bytes(limit)
            ),
            (sized, None) => format!(
                "{node} was OOM-killed without a container memory limit, so the host ran out of \
                 memory{}",
                sized
                    .map(|sized| format!(" (its {}: {sized})", memory.what()))
                    .unwrap_or_default()
            ),
        };
        let lines = if memory_errors.is_empty() {
            last_errors(&errors)
        } else {
            &memory_errors
        };
        return Some(diagnosis(Cause::OomKilled, explanation, lines));
    }

    let heap_over = match (memory.heap(), limit) {
        (Some(heap), Some(limit)) => heap.bytes > limit,
        _ => false,
    };
    // `lines` are quoted as evidence; with `jvm_said` the first is quoted in the explanation.
    let heap_exceeds = |lines: &[&str], jvm_said: bool| {
        let said = lines
            .first()
            .filter(|_| jvm_said)
            .map(|line| format!(" (the JVM said: \"{}\")", jvm_message(line)))
            .unwrap_or_default();
        let sized = match (memory.describe(), limit) {
            (Some(sized), Some(limit)) if memory.total().is_some_and(|total| total > limit) => {
                format!(
                    "its {} ({sized}) {} the {} container limit",
                    memory.what(),
                    if memory.max_direct.is_some() {
                        "exceed"
                    } else {
                        "exceeds"
                    },
                    format_bytes(limit)
                )
            }
            (Some(sized), Some(limit)) => format!(
                "it ran out of memory with its {} at {sized} in a {} container limit",
                memory.what(),
                format_bytes(limit)
            ),
            (Some(sized), None) => {
                format!("it ran out of memory with its {} at {sized}", memory.what())
            }
            (None, Some(limit)) => format!(
                "it ran out of memory in its {} container limit with no {variable} given",
                format_bytes(limit)
            ),
            (None, None) => "it ran out of memory".to_string(),
        };
        let explanation = format!(
            "{node} {}: {sized}{said}; size {variable} for the limit",
            failure.text()
        );
        diagnosis(Cause::HeapExceedsLimit, explanation, lines)
    };
    if !memory_errors.is_empty() {
        return Some(heap_exceeds(&memory_errors, true));
    }

    // Without a JVM memory error, a heap larger than the limit is a suspect, but ZooKeeper
    // trouble in the log is the more direct explanation; the heap is then noted.
    let heap_note = match (heap_over, memory.heap(), limit) {
        (true, Some(heap), Some(limit)) => format!(
            " (its heap, {} = {}, is also larger than the {} container limit)",
            heap.text,
            format_bytes(heap.bytes),
            format_bytes(limit)
        ),
        _ => String::new(),
    };
    // A clock out of step also expires sessions and breaks connections; it is the cause of those.
    if let Some((explanation, evidence)) = clock_skew(facts, &failure.text(), &heap_note) {
        return Some(Diagnosis {
            node: node.to_string(),
            cause: Cause::ClockSkew,
            explanation,
            evidence,
        });
    }
    // Data a server refuses to start on explains its exit more directly than the ZooKeeper
    // trouble or the heap around it.
    if let Some(data) = facts.system.refused_data(facts.log) {
        let cause = if data.fault.missing() {
            Cause::DataMissing
        } else {
            Cause::DataInconsistent
        };
        let explanation = format!(
            "{node} {}: {}{heap_note}",
            failure.text(),
            data_explanation(&data)
        );
        return Some(diagnosis(cause, explanation, &data.lines));
    }
    // A ZooKeeper server has no ZooKeeper session of its own; its log speaks of its clients'.
    if facts.system.zookeeper_client() {
        let expired = log::session_expiry(facts.log);
        if !expired.is_empty() {
            let timeout = session_timeout_text(log::negotiated_timeout_ms(facts.log), facts);
            let explanation = format!(
                "{node} {} after its ZooKeeper session expired{timeout}{heap_note}",
                failure.text()
            );
            return Some(diagnosis(Cause::SessionExpired, explanation, &expired));
        }
        let unreachable = log::zookeeper_unreachable(facts.log);
        if let Some(last) = unreachable.last() {
            let explanation = format!(
                "{node} {}: it could not reach ZooKeeper (\"{}\"); check that the ensemble is up \
                 and has a quorum{}{heap_note}",
                failure.text(),
                log::quote(last),
                facts.system.zookeeper_setting()
            );
            return Some(diagnosis(
                Cause::ZookeeperUnreachable,
                explanation,
                &unreachable,
            ));
        }
    }
    // A missing table means HBase answered, so it comes before HBase being unreachable.
    if facts.system.needs_tables() {
        let (lines, tables) = log::missing_tables(facts.log);
        if let Some(last) = lines.last() {
            let missing = match tables.as_slice() {
                [] => "some of Pinpoint's tables are".to_string(),
                [table] => format!("Pinpoint's table {table} is"),
                tables => format!("Pinpoint's tables {} are", tables.join(", ")),
            };
            let explanation = format!(
                "{node} {}: {missing} missing from HBase (\"{}\"); create Pinpoint's tables: \
                 chaosbed's HBase image creates them at its first start, so check the HBase \
                 node's log for its schema step (the lines with \"schema:\"){heap_note}",
                failure.text(),
                log::quote(last)
            );
            return Some(diagnosis(Cause::SchemaMissing, explanation, &lines));
        }
    }
    if let Some(crate::system::protocol::Unreachable {
        storage: store,
        lines,
        advice,
    }) = facts.system.storage_unreachable(facts.log)
        && let Some(last) = lines.last()
    {
        let explanation = format!(
            "{node} {}: it could not reach its storage, {store} (\"{}\"); {advice}{heap_note}",
            failure.text(),
            log::quote(last)
        );
        return Some(diagnosis(Cause::StorageUnreachable, explanation, &lines));
    }
    if heap_over {
        return Some(heap_exceeds(last_errors(&errors), false));
    }

    // The failure's root, not the lines the process printed last as it went down.
    let root = log::root_error(facts.log);
    let mut lines = match &root {
        Some(root) => root.lines.clone(),
        None => log::last_lines(facts.log, 3),
    };
    // Pinpoint's launcher returns normally when the start failed, so the exit code is 0.
    let launch_failure = log::launch_failure(facts.log);
    let launch = launch_failure
        .map(|line| {
            if !lines.contains(&line) {
                lines.insert(0, line);
            }
            format!(" after it could not launch (\"{}\")", log::quote(line))
        })
        .unwrap_or_default();
    let said = |line: &str| format!("\"{}\"", log::quote(log::message(line)));
    let shown = match (&root, lines.last()) {
        (Some(root), _) => {
            let caused = root
                .cause
                .map(|cause| format!(", caused by {}", said(cause)))
                .unwrap_or_default();
            if launch_failure == Some(root.first) {
                caused
            } else {
                format!("; the error behind it: {}{caused}", said(root.first))
            }
        }
        (None, Some(line)) => format!(
            "; its log shows no error (last line: \"{}\")",
            log::quote(line)
        ),
        (None, None) => "; its log is empty".to_string(),
    };
    let cause = if failure.exited() {
        Cause::Exited
    } else {
        Cause::NeverReady
    };
    let explanation = format!("{node} {}{launch}{shown}", failure.text());
    Some(diagnosis(cause, explanation, &lines))
}

/// What to try about a ZooKeeper data directory that would not load.
const ZOOKEEPER_DATA_ADVICE: &str = "restore the node's data (version-2 under dataDir and \
     dataLogDir) from a backup, or delete those version-2 directories, keeping myid, and restart \
     it: it then resyncs from the leader, which needs a quorum of the other nodes";

/// How to make a bookie start afresh, its old data discarded.
const BOOKIE_FORMAT: &str = "format it to join as a new bookie (`bookkeeper shell bookieformat \
     -nonInteractive -force -deleteCookie`) and let autorecovery re-replicate the ledgers it held";

/// What a server's data problem means and what to try, its own words quoted.
fn data_explanation(data: &log::DataProblem) -> String {
    use log::DataFault;
    let said = log::quote(log::message(data.line));
    let epochs = log::zookeeper_epochs(data.fault, data.line);
    match data.fault {
        DataFault::EpochBehindLog => {
            let detail = epochs
                .map(|(file, held)| {
                    format!(
                        "its currentEpoch file says epoch {file}, but its snapshots and \
                         transaction log hold transactions of epoch {held}"
                    )
                })
                .unwrap_or_else(|| {
                    "its currentEpoch file is older than the transactions its snapshots and \
                     transaction log hold"
                        .to_string()
                });
            format!(
                "its data directory is inconsistent (\"{said}\"): {detail}; {ZOOKEEPER_DATA_ADVICE}"
            )
        }
        DataFault::AcceptedEpochBehind => {
            let detail = epochs
                .map(|(file, current)| {
                    format!(
                        "its acceptedEpoch file says epoch {file}, behind the epoch {current} of \
                         its currentEpoch file"
                    )
                })
                .unwrap_or_else(|| "its acceptedEpoch file is behind its currentEpoch file".into());
            format!(
                "its data directory is inconsistent (\"{said}\"): {detail}; {ZOOKEEPER_DATA_ADVICE}"
            )
        }
        DataFault::SnapshotMissing => format!(
            "its snapshot is missing (\"{said}\"): its transaction log holds transactions, but no \
             snapshot is left to replay them onto; {ZOOKEEPER_DATA_ADVICE}"
        ),
        DataFault::NoValidSnapshot => {
            format!("none of its snapshots can be read (\"{said}\"); {ZOOKEEPER_DATA_ADVICE}")
        }
        DataFault::Damaged => format!(
            "its data on disk would not load (\"{said}\"): its snapshots or transaction log are \
             damaged; {ZOOKEEPER_DATA_ADVICE}"
        ),
        DataFault::CookieMissingOnDisk => format!(
            "its disk lost its cookie (\"{said}\"): journal or ledger directories have no cookie \
             (VERSION file) while the metadata store still has the bookie's, as after a disk \
             wipe or a new volume; restore the disk, or {BOOKIE_FORMAT}"
        ),
        DataFault::CookieMissingInMetadata => format!(
            "its cookie is missing from the metadata store (\"{said}\"): its directories have a \
             cookie, but ZooKeeper has none for this bookie, as after ZooKeeper's data was wiped \
             or the bookie was pointed at another cluster; point it at the metadata store it was \
             formatted in (metadataServiceUri), or {BOOKIE_FORMAT}"
        ),
        DataFault::CookieMismatch => {
            let changed = if data.line.contains("instanceId") {
                "the cluster's instance id changed (its metadata was initialized anew)"
            } else {
                "its address or its directories changed"
            };
            format!(
                "its cookie does not match (\"{said}\"): the cookie in its directories differs \
                 from the one in the metadata store, so {changed}; start it with the address and \
                 directories it was formatted with, or {BOOKIE_FORMAT}"
            )
        }
        DataFault::DirectoriesNotEmpty => format!(
            "its directories hold data but no cookie, and the metadata store has none for it \
             (\"{said}\"): the data is of a bookie this cluster does not know; restore its \
             cookie with the disk it came from, or {BOOKIE_FORMAT}"
        ),
        DataFault::InvalidCookie => format!(
            "its cookie check failed (\"{said}\"); start it with the address and directories it \
             was formatted with, or {BOOKIE_FORMAT}"
        ),
    }
}

/// The last [`log::EVIDENCE`] error lines.
fn last_errors<'a, 'b>(errors: &'b [&'a str]) -> &'b [&'a str] {
    &errors[errors.len().saturating_sub(log::EVIDENCE)..]
}

/// The JVM's own words in a log line: from the error's name on when the line is a log entry.
fn jvm_message(line: &str) -> String {
    let from = ["java.lang.OutOfMemoryError", "OutOfMemoryError"]
        .iter()
        .find_map(|name| line.find(name))
        .unwrap_or(0);
    log::quote(line[from..].trim_start_matches(['#', ' ']))
}

/// `: the servers negotiated timeout = 2000 ms, and tickTime=100 caps every session at 2 s ..`.
fn session_timeout_text(negotiated_ms: Option<u64>, facts: &NodeFacts) -> String {
    let bounds = |tick: u64| {
        format!(
            "tickTime={tick} caps every session at {} (sessions are bounded to [2, 20] x \
             tickTime)",
            human_ms(20 * tick)
        )
    };
    match (negotiated_ms, facts.tick_time_ms) {
        (Some(n), Some(tick)) => format!(
            ": the server granted it negotiated timeout = {n} ms, and {}, so a stall of more than \
             {} expires it",
            bounds(tick),
            human_ms(n)
        ),
        (Some(n), None) => format!(
            ": the server granted it negotiated timeout = {n} ms, so a stall of more than {} \
             expires it",
            human_ms(n)
        ),
        (None, Some(tick)) => format!(": {}", bounds(tick)),
        (None, None) => String::new(),
    }
}

/// Milliseconds for a person: `800 ms`, `2 s`, `1.5 s`.
fn human_ms(ms: u64) -> String {
    match ms {
        ms if ms < 1_000 => format!("{ms} ms"),
        ms if ms % 1_000 == 0 => format!("{} s", ms / 1_000),
        ms => format!("{} s", ms as f64 / 1_000.0),
    }
}

/// A duration for a person, to the second: `1 h 13 s`, `10 min`, `1.5 s`, `800 ms`.
fn human_duration(ms: u64) -> String {
    if ms < 60_000 {
        return human_ms(ms);
    }
    let secs = (ms + 500) / 1_000;
    let parts = [
        (secs / 3_600, "h"),
        (secs / 60 % 60, "min"),
        (secs % 60, "s"),
    ];
    parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n} {unit}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// For an offset within a minute of a whole number of hours: it may be a time zone.
fn time_zone_hint(ms: u64) -> &'static str {
    const HOUR: u64 = 3_600_000;
    let near = ms.abs_diff((ms + HOUR / 2) / HOUR * HOUR);
    if ms >= HOUR - 60_000 && near <= 60_000 {
        " (a whole number of hours: a node set to another time zone shows the same)"
    } else {
        ""
    }
}

/// How the node failed, from its state.
enum Failure {
    Exited(Option<i64>),
    Gone,
    NeverStarted,
    NeverReady,
}

impl Failure {
    /// `None` for a node that is up (running or paused) and became ready.
    fn of(facts: &NodeFacts) -> Option<Self> {
        let state = facts.state;
        match state.status {
            Status::Running | Status::Paused if facts.became_ready => None,
            Status::Running | Status::Paused => Some(Failure::NeverReady),
            Status::Created if !facts.became_ready => Some(Failure::NeverStarted),
            Status::Missing => Some(Failure::Gone),
            Status::Created | Status::Restarting | Status::Exited | Status::Dead => {
                Some(Failure::Exited(state.exit_code))
            }
        }
    }

    fn exited(&self) -> bool {
        matches!(self, Failure::Exited(_) | Failure::Gone)
    }

    /// `exited with code 1`, `never became ready`, ...
    fn text(&self) -> String {
        match self {
            Failure::Exited(Some(code)) => format!("exited with code {code}{}", signal(*code)),
            Failure::Exited(None) => "exited".to_string(),
            Failure::Gone => "is gone (its container no longer exists)".to_string(),
            Failure::NeverStarted => "was created but never started".to_string(),
            Failure::NeverReady => "is running but never became ready".to_string(),
        }
    }
}

/// The signal an exit code above 128 stands for: ` (SIGKILL)`.
fn signal(code: i64) -> String {
    match code {
        137 => " (SIGKILL)".to_string(),
        143 => " (SIGTERM)".to_string(),
        139 => " (SIGSEGV)".to_string(),
        134 => " (SIGABRT)".to_string(),
        129..=192 => format!(" (signal {})", code - 128),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests;
