//! The broker's REST API: readiness (`/admin/v2/brokers/ready`), health (`/admin/v2/brokers/health`,
//! which writes and reads a heartbeat topic through the bookies), topic lookup for "the broker
//! that owns a topic", a topic's current ledger, and topic unloading and deletion.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde::Deserialize;

use super::HTTP_PORT;
use crate::system::{bookkeeper, http};

const POLL: Duration = Duration::from_millis(500);
const READY_TIMEOUT: Duration = Duration::from_secs(3);
/// A health check produces and consumes through the bookies; give it time.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(15);
/// A lookup may first have to assign the topic's bundle to a broker.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(15);
const BOOKIE_TIMEOUT: Duration = Duration::from_secs(5);
/// Unloading a topic closes its clients and its managed ledger on the owner.
const UNLOAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Deleting a topic closes its clients and deletes its ledgers from the bookies.
const DELETE_TIMEOUT: Duration = Duration::from_secs(30);

/// A topic name split as the REST API paths want it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    /// `persistent` or `non-persistent`.
    pub domain: String,
    pub tenant: String,
    pub namespace: String,
    pub name: String,
}

impl Topic {
    /// `persistent://tenant/ns/name`, `tenant/ns/name`, or a bare `name` (in `public/default`),
    /// as Pulsar's clients accept them.
    pub fn parse(topic: &str) -> anyhow::Result<Self> {
        let (domain, rest) = match topic.split_once("://") {
            Some((domain @ ("persistent" | "non-persistent"), rest)) => (domain, rest),
            Some((other, _)) => bail!(
                "topic {topic:?}: unknown domain {other:?}; use persistent:// or non-persistent://"
            ),
            None => ("persistent", topic),
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let (tenant, namespace, name) = match parts.as_slice() {
            [name] => ("public", "default", *name),
            [tenant, namespace, name] => (*tenant, *namespace, *name),
            _ => bail!(
                "topic {topic:?}: expected persistent://tenant/namespace/name, \
                 tenant/namespace/name or a bare name"
            ),
        };
        if [tenant, namespace, name].iter().any(|p| p.is_empty()) {
            bail!("topic {topic:?} has an empty tenant, namespace or name");
        }
        Ok(Self {
            domain: domain.to_string(),
            tenant: tenant.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        })
    }

    fn segments(&self) -> [&str; 4] {
        [&self.domain, &self.tenant, &self.namespace, &self.name]
    }
}

impl std::fmt::Display for Topic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}://{}/{}/{}",
            self.domain, self.tenant, self.namespace, self.name
        )
    }
}

/// Whether the broker at `address` answers `/admin/v2/brokers/ready` with `ok`: started and
/// holding its metadata session.
pub async fn is_ready(address: Ipv4Addr, timeout: Duration) -> anyhow::Result<bool> {
    let url = http::url(address, HTTP_PORT, &["admin", "v2", "brokers", "ready"])?;
    let answer = http::get(&url, timeout).await?;
    Ok(answer.is_success() && answer.body.trim() == "ok")
}

/// Whether the broker at `address` answers `/admin/v2/brokers/health` with `ok`: it wrote and
/// read its heartbeat topic, so the bookies take its writes.
pub async fn health(address: Ipv4Addr, timeout: Duration) -> anyhow::Result<bool> {
    let url = http::url(address, HTTP_PORT, &["admin", "v2", "brokers", "health"])?;
    let answer = http::get(&url, timeout).await?;
    Ok(answer.is_success() && answer.body.trim() == "ok")
}

/// What readiness found.
#[derive(Debug, Clone)]
pub struct Readiness {
    pub elapsed: Duration,
}

/// Polls until every broker in `nodes` is ready and healthy, or `timeout` passes.
pub async fn wait_ready(
    nodes: &[(String, Ipv4Addr)],
    timeout: Duration,
) -> anyhow::Result<Readiness> {
    let begin = Instant::now();
    let mut healthy = vec![false; nodes.len()];
    loop {
        let mut seen = Vec::new();
        for ((name, address), healthy) in nodes.iter().zip(healthy.iter_mut()) {
            if *healthy {
                continue;
            }
            match is_ready(*address, READY_TIMEOUT).await {
                Ok(true) => {}
                Ok(false) => {
                    seen.push(format!("{name} ({address}) is not ready"));
                    continue;
                }
                Err(e) => {
                    seen.push(format!("{name} ({address}): {e:#}"));
                    continue;
                }
            }
            match health(*address, HEALTH_TIMEOUT).await {
                Ok(true) => *healthy = true,
                Ok(false) => seen.push(format!(
                    "{name} ({address}) is ready but its health check fails (bookies?)"
                )),
                Err(e) => seen.push(format!("{name} ({address}) health: {e:#}")),
            }
        }
        if healthy.iter().all(|h| *h) {
            return Ok(Readiness {
                elapsed: begin.elapsed(),
            });
        }
        if begin.elapsed() >= timeout {
            bail!(
                "waited {timeout:?} for {} brokers to be ready and healthy; last seen: {}. The \
                 broker logs say why (ZooKeeper or the bookies unreachable, cluster metadata not \
                 initialised, fewer writable bookies than the ensemble size)",
                nodes.len(),
                seen.join("; ")
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Sets the persistence policy of `topic`'s namespace through the broker at `address`
/// (`POST /admin/v2/namespaces/{tenant}/{namespace}/persistence`): its topics' ledgers are
/// written to `write` of `ensemble` bookies and acknowledged by `ack`.
pub async fn set_namespace_persistence(
    address: Ipv4Addr,
    topic: &str,
    ensemble: u32,
    write: u32,
    ack: u32,
) -> anyhow::Result<()> {
    let topic = Topic::parse(topic)?;
    let segments = [
        "admin",
        "v2",
        "namespaces",
        &topic.tenant,
        &topic.namespace,
        "persistence",
    ];
    let url = http::url(address, HTTP_PORT, &segments)?;
    let body = serde_json::json!({
        "bookkeeperEnsemble": ensemble,
        "bookkeeperWriteQuorum": write,
        "bookkeeperAckQuorum": ack,
        "managedLedgerMaxMarkDeleteRate": 0.0,
    });
    let what = format!(
        "setting the persistence of {}/{}",
        topic.tenant, topic.namespace
    );
    let answer = http::post_json(&url, &body, LOOKUP_TIMEOUT)
        .await
        .with_context(|| format!("{what} through broker {address}"))?;
    answer.ensure_success(|| format!("{what} through broker {address}"))
}

/// Unloads `topic` through the broker at `address` (`PUT .../{name}/unload`, redirected to its
/// owner): the owner closes the topic and its managed ledger and drops what it cached, and the
/// next client's lookup makes a broker open it again from the ledgers on the bookies.
pub async fn unload_topic(address: Ipv4Addr, topic: &str) -> anyhow::Result<()> {
    let topic = Topic::parse(topic)?;
    let url = admin_url(address, &topic, Some("unload"))?;
    let answer = http::put(&url, UNLOAD_TIMEOUT)
        .await
        .with_context(|| format!("unloading {topic} through broker {address}"))?;
    answer.ensure_success(|| format!("unloading {topic} through broker {address}"))
}

/// Deletes `topic` through the broker at `address`, closing its producers and consumers
/// (`DELETE /admin/v2/{domain}/{tenant}/{namespace}/{name}?force=true`): its ledgers are deleted
/// too, and the bookies reclaim their space at their next garbage collection. A topic that does
/// not exist (404) counts as deleted.
pub async fn delete_topic(address: Ipv4Addr, topic: &str) -> anyhow::Result<()> {
    let topic = Topic::parse(topic)?;
    let url = delete_url(address, &topic)?;
    let answer = http::delete(&url, DELETE_TIMEOUT)
        .await
        .with_context(|| format!("deleting {topic} through broker {address}"))?;
    if !answer.is_success() && answer.status != 404 {
        bail!(
            "deleting {topic} through broker {address}: {} {}",
            answer.status,
            answer.body.trim()
        );
    }
    Ok(())
}

fn delete_url(address: Ipv4Addr, topic: &Topic) -> anyhow::Result<reqwest::Url> {
    let mut url = admin_url(address, topic, None)?;
    url.set_query(Some("force=true"));
    Ok(url)
}

/// `/admin/v2/{domain}/{tenant}/{namespace}/{name}`, then `action` when given, on `address`.
fn admin_url(
    address: Ipv4Addr,
    topic: &Topic,
    action: Option<&str>,
) -> anyhow::Result<reqwest::Url> {
    let mut segments = vec!["admin", "v2"];
    segments.extend(topic.segments());
    segments.extend(action);
    http::url(address, HTTP_PORT, &segments)
}

/// A lookup answer; `brokerUrl` is the owner's advertised `pulsar://host:6650`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Lookup {
    broker_url: Option<String>,
    native_url: Option<String>,
    http_url: Option<String>,
}

/// The advertised host of the broker that owns `topic`, asking the broker at `address`
/// (`/lookup/v2/topic/...`; an unowned topic gets an owner, as a client's lookup would). For a
/// partitioned topic, name a partition (`name-partition-0`).
pub async fn lookup_owner(address: Ipv4Addr, topic: &str) -> anyhow::Result<String> {
    let topic = Topic::parse(topic)?;
    let mut segments = vec!["lookup", "v2", "topic"];
    segments.extend(topic.segments());
    let url = http::url(address, HTTP_PORT, &segments)?;
    let body = http::get_ok(&url, LOOKUP_TIMEOUT)
        .await
        .with_context(|| format!("looking up the owner of {topic} through broker {address}"))?;
    parse_lookup(&body).with_context(|| format!("reading the lookup of {topic} from {address}"))
}

fn parse_lookup(body: &str) -> anyhow::Result<String> {
    let lookup: Lookup =
        serde_json::from_str(body).with_context(|| format!("not a lookup answer: {body}"))?;
    let url = [lookup.broker_url, lookup.native_url, lookup.http_url]
        .into_iter()
        .flatten()
        .find(|u| !u.is_empty())
        .with_context(|| format!("the lookup answer names no broker: {body}"))?;
    let parsed = reqwest::Url::parse(&url).with_context(|| format!("broker URL {url:?}"))?;
    parsed
        .host_str()
        .map(str::to_string)
        .with_context(|| format!("broker URL {url:?} has no host"))
}

/// The broker node (of `nodes`) that owns `topic`, for the role target `owner`: asks each
/// broker in turn until one answers the lookup.
pub async fn topic_owner(nodes: &[(String, Ipv4Addr)], topic: &str) -> anyhow::Result<String> {
    let mut errors = Vec::new();
    for (name, address) in nodes {
        match lookup_owner(*address, topic).await {
            Ok(host) => {
                return nodes
                    .iter()
                    .find(|(_, a)| a.to_string() == host)
                    .map(|(n, _)| n.clone())
                    .with_context(|| {
                        format!(
                            "{topic} is owned by {host}, which is none of the brokers ({}); do \
                             the brokers advertise their addresses?",
                            nodes
                                .iter()
                                .map(|(n, a)| format!("{n} {a}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    });
            }
            Err(e) => errors.push(format!("{name}: {e:#}")),
        }
    }
    bail!(
        "no broker answered the lookup of {topic}: {}",
        errors.join("; ")
    )
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InternalStats {
    #[serde(default)]
    ledgers: Vec<LedgerInfo>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LedgerInfo {
    ledger_id: u64,
}

/// The ledger `topic` currently writes to (its newest), asking the broker at `address` (which
/// redirects to the owner). None when the topic has no ledger yet.
pub async fn current_ledger(address: Ipv4Addr, topic: &str) -> anyhow::Result<Option<u64>> {
    let topic = Topic::parse(topic)?;
    let url = admin_url(address, &topic, Some("internalStats"))?;
    let body = http::get_ok(&url, LOOKUP_TIMEOUT)
        .await
        .with_context(|| format!("reading the internal stats of {topic} through {address}"))?;
    parse_current_ledger(&body)
}

fn parse_current_ledger(body: &str) -> anyhow::Result<Option<u64>> {
    let stats: InternalStats = serde_json::from_str(body)
        .with_context(|| format!("not a topic's internal stats: {body}"))?;
    Ok(stats.ledgers.last().map(|l| l.ledger_id))
}

/// The bookie nodes (of `bookies`) in the current ensemble of `topic`'s current ledger, for the
/// role target `ensemble`: the ledger from the first broker that answers, its ensemble from the
/// first bookie that answers.
pub async fn ensemble_nodes(
    brokers: &[(String, Ipv4Addr)],
    bookies: &[(String, Ipv4Addr)],
    topic: &str,
) -> anyhow::Result<Vec<String>> {
    let mut errors = Vec::new();
    let mut ledger = None;
    for (name, address) in brokers {
        match current_ledger(*address, topic).await {
            Ok(Some(id)) => {
                ledger = Some(id);
                break;
            }
            Ok(None) => bail!("{topic} has no ledger yet: nothing was written to it"),
            Err(e) => errors.push(format!("{name}: {e:#}")),
        }
    }
    let Some(ledger) = ledger else {
        bail!(
            "no broker told the current ledger of {topic}: {}",
            errors.join("; ")
        );
    };
    for (name, address) in bookies {
        match bookkeeper::ledger_ensemble(*address, ledger, BOOKIE_TIMEOUT).await {
            Ok(ids) => return ensemble_to_nodes(&ids, bookies, ledger),
            Err(e) => errors.push(format!("{name}: {e:#}")),
        }
    }
    bail!(
        "no bookie told the ensemble of ledger {ledger} of {topic}: {}",
        errors.join("; ")
    )
}

fn ensemble_to_nodes(
    ids: &[String],
    bookies: &[(String, Ipv4Addr)],
    ledger: u64,
) -> anyhow::Result<Vec<String>> {
    ids.iter()
        .map(|id| {
            bookies
                .iter()
                .find(|(_, a)| bookkeeper::bookie_id(*a) == *id)
                .map(|(n, _)| n.clone())
                .with_context(|| {
                    format!("ledger {ledger} is on bookie {id}, which is none of the bookies")
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_topic_is_deleted_by_its_admin_path_with_force() {
        let topic = Topic::parse("persistent://public/default/bench-1024-0").unwrap();
        let url = delete_url([172, 18, 0, 9].into(), &topic).unwrap();
        assert_eq!(
            url.as_str(),
            "http://172.18.0.9:8080/admin/v2/persistent/public/default/bench-1024-0?force=true"
        );
    }

    #[test]
    fn topic_names_parse_in_every_client_form() {
        let full = Topic::parse("persistent://public/default/chaos").unwrap();
        assert_eq!(full.to_string(), "persistent://public/default/chaos");
        assert_eq!(Topic::parse("chaos").unwrap(), full);
        assert_eq!(Topic::parse("public/default/chaos").unwrap(), full);
        let np = Topic::parse("non-persistent://t/ns/x").unwrap();
        assert_eq!(np.segments(), ["non-persistent", "t", "ns", "x"]);
        assert!(Topic::parse("kafka://a/b/c").is_err());
        assert!(Topic::parse("a/b").is_err());
        assert!(Topic::parse("persistent://a//c").is_err());
    }

    #[test]
    fn a_lookup_answer_names_the_owner() {
        let body = r#"{"brokerUrl":"pulsar://172.18.0.11:6650","httpUrl":"http://172.18.0.11:8080","nativeUrl":"pulsar://172.18.0.11:6650","brokerUrlSsl":""}"#;
        assert_eq!(parse_lookup(body).unwrap(), "172.18.0.11");
        let only_http = r#"{"httpUrl":"http://broker-2:8080"}"#;
        assert_eq!(parse_lookup(only_http).unwrap(), "broker-2");
        assert!(parse_lookup(r#"{"brokerUrl":""}"#).is_err());
        assert!(parse_lookup("Internal Server Error").is_err());
    }

    #[test]
    fn the_current_ledger_is_the_last_one() {
        let body = r#"{"entriesAddedCounter":3,"numberOfEntries":3,"ledgers":[
            {"ledgerId":9,"entries":2,"size":10,"offloaded":false},
            {"ledgerId":14,"entries":0,"size":0,"offloaded":false}],"cursors":{}}"#;
        assert_eq!(parse_current_ledger(body).unwrap(), Some(14));
        assert_eq!(parse_current_ledger(r#"{"ledgers":[]}"#).unwrap(), None);
        assert_eq!(parse_current_ledger("{}").unwrap(), None);
    }

    #[test]
    fn ensemble_ids_map_to_bookie_nodes() {
        let bookies = vec![
            ("bookie-1".to_string(), Ipv4Addr::new(10, 0, 0, 1)),
            ("bookie-2".to_string(), Ipv4Addr::new(10, 0, 0, 2)),
        ];
        let ids = vec!["10.0.0.2:3181".to_string(), "10.0.0.1:3181".to_string()];
        assert_eq!(
            ensemble_to_nodes(&ids, &bookies, 5).unwrap(),
            ["bookie-2", "bookie-1"]
        );
        let stranger = vec!["10.0.0.9:3181".to_string()];
        let err = ensemble_to_nodes(&stranger, &bookies, 5)
            .unwrap_err()
            .to_string();
        assert!(err.contains("10.0.0.9:3181"), "{err}");
    }
}
