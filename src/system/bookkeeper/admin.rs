//! The bookie's HTTP admin API: readiness (`/api/v1/bookie/is_ready`), the registered bookies
//! (`/api/v1/bookie/list_bookies`), ledger metadata (`/api/v1/ledger/metadata`), garbage
//! collection on demand (`/api/v1/bookie/gc`), and waiting until every started bookie is ready and
//! registered.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde::Deserialize;

use super::{HTTP_PORT, bookie_id};
use crate::system::http;

const POLL: Duration = Duration::from_millis(500);
const ASK_TIMEOUT: Duration = Duration::from_secs(3);

/// Whether the bookie at `address` answers `is_ready` with 200 (running, registered, writable
/// or read-only as it chose).
pub async fn is_ready(address: Ipv4Addr, timeout: Duration) -> anyhow::Result<bool> {
    let url = http::url(address, HTTP_PORT, &["api", "v1", "bookie", "is_ready"])?;
    Ok(http::get(&url, timeout).await?.is_success())
}

/// Starts a garbage collection with major and minor compaction on the bookie at `address` (`PUT
/// /api/v1/bookie/gc`): entry logs whose ledgers were deleted are removed, and logs mostly of
/// deleted ledgers are compacted, instead of at the next `gcWaitTime` or compaction interval.
pub async fn force_gc(address: Ipv4Addr) -> anyhow::Result<()> {
    let url = http::url(address, HTTP_PORT, &["api", "v1", "bookie", "gc"])?;
    let body = serde_json::json!({ "forceMajor": true, "forceMinor": true });
    let answer = http::put_json(&url, &body, ASK_TIMEOUT)
        .await
        .with_context(|| format!("starting a garbage collection on the bookie at {address}"))?;
    answer.ensure_success(|| format!("the bookie at {address} refused a garbage collection"))
}

/// Whether a garbage collection started by [`force_gc`] still runs on the bookie at `address`
/// (`GET /api/v1/bookie/gc`).
pub async fn gc_running(address: Ipv4Addr) -> anyhow::Result<bool> {
    let url = http::url(address, HTTP_PORT, &["api", "v1", "bookie", "gc"])?;
    let body = http::get_ok(&url, ASK_TIMEOUT)
        .await
        .with_context(|| format!("asking the bookie at {address} about its garbage collection"))?;
    parse_gc_status(&body).with_context(|| format!("reading the gc status of {address}: {body}"))
}

/// `{"is_in_force_gc": "true"}` (a string in the versions seen) or a boolean.
fn parse_gc_status(body: &str) -> anyhow::Result<bool> {
    let status: serde_json::Value = serde_json::from_str(body)?;
    match &status["is_in_force_gc"] {
        serde_json::Value::Bool(running) => Ok(*running),
        serde_json::Value::String(running) => Ok(running == "true"),
        _ => bail!("no is_in_force_gc"),
    }
}

/// The bookies registered in the cluster's metadata, as the bookie at `address` reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registered {
    /// Writable bookie ids (`ip:3181`), sorted.
    pub writable: Vec<String>,
    /// Read-only bookie ids (a full disk, or a bookie told to be), sorted.
    pub read_only: Vec<String>,
}

impl Registered {
    /// Every registered id, writable first.
    pub fn all(&self) -> impl Iterator<Item = &String> {
        self.writable.iter().chain(&self.read_only)
    }
}

/// `list_bookies` for writable and read-only bookies, asked of the bookie at `address`.
pub async fn list_bookies(address: Ipv4Addr, timeout: Duration) -> anyhow::Result<Registered> {
    let mut lists = Vec::with_capacity(2);
    for kind in ["rw", "ro"] {
        let mut url = http::url(address, HTTP_PORT, &["api", "v1", "bookie", "list_bookies"])?;
        url.query_pairs_mut().append_pair("type", kind);
        let body = http::get_ok(&url, timeout)
            .await
            .with_context(|| format!("listing the {kind} bookies through {address}"))?;
        lists.push(
            parse_bookie_list(&body)
                .with_context(|| format!("reading the {kind} bookie list from {address}"))?,
        );
    }
    let read_only = lists.pop().unwrap_or_default();
    let writable = lists.pop().unwrap_or_default();
    Ok(Registered {
        writable,
        read_only,
    })
}

/// `{"172.18.0.5:3181": null, ...}` (or hostnames as values) -> sorted ids.
fn parse_bookie_list(body: &str) -> anyhow::Result<Vec<String>> {
    let map: BTreeMap<String, Option<String>> =
        serde_json::from_str(body).with_context(|| format!("not a bookie list: {body}"))?;
    Ok(map.into_keys().collect())
}

/// Expected bookies compared with the registered ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registration {
    /// Expected ids that are not registered at all.
    pub missing: Vec<String>,
    /// Expected ids registered read-only.
    pub read_only: Vec<String>,
    /// Registered ids no expected bookie has (a stale registration, or a stranger).
    pub unexpected: Vec<String>,
}

impl Registration {
    /// Every expected bookie is registered writable, and nothing else is registered.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty() && self.read_only.is_empty() && self.unexpected.is_empty()
    }
}

impl std::fmt::Display for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_complete() {
            return f.write_str("every expected bookie is registered writable");
        }
        let mut parts = Vec::new();
        for (what, ids) in [
            ("not registered", &self.missing),
            ("read-only", &self.read_only),
            ("unexpected", &self.unexpected),
        ] {
            if !ids.is_empty() {
                parts.push(format!("{what}: {}", ids.join(", ")));
            }
        }
        f.write_str(&parts.join("; "))
    }
}

/// The "bookies registered vs expected" check: the bookies at `expected` addresses against what
/// the cluster's metadata lists.
pub fn registration(expected: &[Ipv4Addr], registered: &Registered) -> Registration {
    let expected: Vec<String> = expected.iter().map(|a| bookie_id(*a)).collect();
    let is_registered = |id: &String| registered.all().any(|r| r == id);
    Registration {
        missing: expected
            .iter()
            .filter(|id| !is_registered(id))
            .cloned()
            .collect(),
        read_only: expected
            .iter()
            .filter(|id| registered.read_only.contains(id))
            .cloned()
            .collect(),
        unexpected: registered
            .all()
            .filter(|id| !expected.contains(id))
            .cloned()
            .collect(),
    }
}

/// The bookie ids of the last (current) ensemble of ledger `ledger_id`, from the ledger's
/// metadata as the bookie at `address` reads it.
pub async fn ledger_ensemble(
    address: Ipv4Addr,
    ledger_id: u64,
    timeout: Duration,
) -> anyhow::Result<Vec<String>> {
    let mut url = http::url(address, HTTP_PORT, &["api", "v1", "ledger", "metadata", ""])?;
    url.query_pairs_mut()
        .append_pair("ledger_id", &ledger_id.to_string());
    let body = http::get_ok(&url, timeout)
        .await
        .with_context(|| format!("reading the metadata of ledger {ledger_id} through {address}"))?;
    parse_ledger_ensemble(&body, ledger_id)
}

/// `{"<id>": {"allEnsembles": {"0": [{"id": "ip:3181"}, ...], "57": [...]}, ...}}` -> the
/// ensemble starting at the highest entry id (plain strings are accepted as ids too).
fn parse_ledger_ensemble(body: &str, ledger_id: u64) -> anyhow::Result<Vec<String>> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Metadata {
        all_ensembles: BTreeMap<String, Vec<serde_json::Value>>,
    }
    let answer: BTreeMap<String, Metadata> = serde_json::from_str(body)
        .with_context(|| format!("not the metadata of ledger {ledger_id}: {body}"))?;
    let metadata = answer
        .get(&ledger_id.to_string())
        .or_else(|| answer.values().next())
        .with_context(|| format!("no metadata for ledger {ledger_id} in {body}"))?;
    let (_, ensemble) = metadata
        .all_ensembles
        .iter()
        .filter_map(|(first, ensemble)| Some((first.parse::<u64>().ok()?, ensemble)))
        .max_by_key(|(first, _)| *first)
        .with_context(|| format!("ledger {ledger_id} has no ensemble: {body}"))?;
    ensemble
        .iter()
        .map(|bookie| match bookie {
            serde_json::Value::String(id) => Ok(id.clone()),
            serde_json::Value::Object(fields) => fields
                .get("id")
                .and_then(|id| id.as_str())
                .map(str::to_string)
                .with_context(|| format!("a bookie without an id in {body}")),
            other => bail!("unexpected bookie {other} in {body}"),
        })
        .collect()
}

/// What readiness found.
#[derive(Debug, Clone)]
pub struct Readiness {
    pub elapsed: Duration,
    /// The registration check at the moment every bookie was ready.
    pub registered: Registered,
}

/// Polls until every bookie in `nodes` answers `is_ready` and is registered writable, or
/// `timeout` passes.
pub async fn wait_ready(
    nodes: &[(String, Ipv4Addr)],
    timeout: Duration,
) -> anyhow::Result<Readiness> {
    let begin = Instant::now();
    let addresses: Vec<Ipv4Addr> = nodes.iter().map(|(_, a)| *a).collect();
    loop {
        let answers = futures_util::future::join_all(
            addresses
                .iter()
                .map(|address| is_ready(*address, ASK_TIMEOUT)),
        )
        .await;
        let not_ready: Vec<String> = nodes
            .iter()
            .zip(&answers)
            .filter(|(_, answer)| !matches!(answer, Ok(true)))
            .map(|((name, address), answer)| match answer {
                Ok(_) => format!("{name} ({address}) answers but is not ready"),
                Err(e) => format!("{name} ({address}): {e:#}"),
            })
            .collect();
        let seen;
        if not_ready.is_empty() {
            match list_bookies(addresses[0], ASK_TIMEOUT).await {
                Ok(registered) => {
                    // Only the expected bookies must be writable; strangers don't block.
                    let check = registration(&addresses, &registered);
                    if check.missing.is_empty() && check.read_only.is_empty() {
                        return Ok(Readiness {
                            elapsed: begin.elapsed(),
                            registered,
                        });
                    }
                    seen = check.to_string();
                }
                Err(e) => seen = format!("{e:#}"),
            }
        } else {
            seen = not_ready.join("; ");
        }
        if begin.elapsed() >= timeout {
            bail!(
                "waited {timeout:?} for {} bookies to be ready and registered writable; last \
                 seen: {seen}. The bookie logs say why (ZooKeeper unreachable, a cookie \
                 mismatch on a reused volume, a full disk)",
                nodes.len()
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gc_status_is_read_as_a_string_or_a_boolean() {
        assert!(parse_gc_status(r#"{"is_in_force_gc":"true"}"#).unwrap());
        assert!(!parse_gc_status(r#"{"is_in_force_gc":"false"}"#).unwrap());
        assert!(parse_gc_status(r#"{"is_in_force_gc":true}"#).unwrap());
        assert!(parse_gc_status(r#"{"other":1}"#).is_err());
    }

    #[test]
    fn bookie_lists_parse_with_or_without_hostnames() {
        assert_eq!(
            parse_bookie_list(r#"{ "172.18.0.6:3181" : null, "172.18.0.5:3181" : null }"#).unwrap(),
            ["172.18.0.5:3181", "172.18.0.6:3181"]
        );
        assert_eq!(
            parse_bookie_list(r#"{"172.18.0.5:3181":"172.18.0.5"}"#).unwrap(),
            ["172.18.0.5:3181"]
        );
        assert!(parse_bookie_list("{}").unwrap().is_empty());
        assert!(parse_bookie_list("<html>").is_err());
    }

    #[test]
    fn registration_reports_missing_read_only_and_strangers() {
        let expected: Vec<Ipv4Addr> = vec![[10, 0, 0, 1].into(), [10, 0, 0, 2].into()];
        let registered = Registered {
            writable: vec!["10.0.0.1:3181".into(), "10.0.0.9:3181".into()],
            read_only: vec![],
        };
        let check = registration(&expected, &registered);
        assert_eq!(check.missing, ["10.0.0.2:3181"]);
        assert_eq!(check.unexpected, ["10.0.0.9:3181"]);
        assert!(!check.is_complete());
        let text = check.to_string();
        assert!(text.contains("not registered: 10.0.0.2:3181"), "{text}");

        let registered = Registered {
            writable: vec!["10.0.0.1:3181".into()],
            read_only: vec!["10.0.0.2:3181".into()],
        };
        let check = registration(&expected, &registered);
        assert!(check.missing.is_empty());
        assert_eq!(check.read_only, ["10.0.0.2:3181"]);

        let registered = Registered {
            writable: vec!["10.0.0.1:3181".into(), "10.0.0.2:3181".into()],
            read_only: vec![],
        };
        assert!(registration(&expected, &registered).is_complete());
    }

    #[test]
    fn the_current_ensemble_is_the_one_with_the_highest_first_entry() {
        let body = r#"{"12":{"ensembleSize":3,"allEnsembles":{
            "0":["10.0.0.1:3181","10.0.0.2:3181","10.0.0.3:3181"],
            "100":["10.0.0.1:3181","10.0.0.4:3181","10.0.0.3:3181"],
            "9":["10.0.0.5:3181","10.0.0.2:3181","10.0.0.3:3181"]}}}"#;
        assert_eq!(
            parse_ledger_ensemble(body, 12).unwrap(),
            ["10.0.0.1:3181", "10.0.0.4:3181", "10.0.0.3:3181"]
        );
        // As BookKeeper 4.16 answers (trimmed): bookie ids are objects.
        let real = r#"{
  "0" : {
    "ledgerId" : 0, "metadataFormatVersion" : 3, "ensembleSize" : 1, "writeQuorumSize" : 1,
    "ackQuorumSize" : 1, "state" : "OPEN", "lastEntryId" : -1, "digestType" : "CRC32C",
    "customMetadata" : { "application" : "cHVsc2Fy" }, "closed" : false,
    "allEnsembles" : { "0" : [ { "id" : "192.168.112.3:3181" } ] }, "ctoken" : 0
  }
}"#;
        assert_eq!(
            parse_ledger_ensemble(real, 0).unwrap(),
            ["192.168.112.3:3181"]
        );
        assert!(parse_ledger_ensemble(r#"{"7":{"allEnsembles":{}}}"#, 7).is_err());
    }
}
