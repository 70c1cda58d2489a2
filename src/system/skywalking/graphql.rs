//! The OAP's GraphQL query API (`POST http://node:HTTP_PORT/graphql`, also through the NGINX load
//! balancer): readiness, the server's time zone, its health checker, and the trace ids one
//! service left in a time window.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail, ensure};
use chrono::{DateTime, FixedOffset, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::HTTP_PORT;
use crate::system::http;

/// Rows asked for per page when listing traces.
pub const PAGE_SIZE: u32 = 500;
/// A listing that needs more pages than this is refused rather than followed forever.
const MAX_PAGES: u32 = 2_000;
/// `Duration.start`/`end` for `step: SECOND`, in the OAP's own time zone.
const SECOND_FORMAT: &str = "%Y-%m-%d %H%M%S";

const TIME_INFO_QUERY: &str = "query { getTimeInfo { timezone currentTimestamp } }";
const HEALTH_QUERY: &str = "query { checkHealth { score details } }";
const TRACES_QUERY: &str = "query ($condition: TraceQueryCondition) { \
     queryBasicTraces(condition: $condition) { traces { segmentId traceIds } } }";

/// What `getTimeInfo` says of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeInfo {
    /// The OAP's time zone: `Duration` strings and time buckets are written in it.
    pub timezone: FixedOffset,
    /// The server's clock, when it said.
    pub now: Option<DateTime<Utc>>,
}

/// What `checkHealth` says: `score` 0 is healthy, above 0 unhealthy, below 0 not started.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HealthStatus {
    pub score: i64,
    pub details: Option<String>,
}

/// A time window for trace listings: segments whose first span started within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The OAP's time zone (from [`TimeInfo`]), in which the window is written.
    pub timezone: FixedOffset,
}

impl Window {
    /// The GraphQL `Duration` of this window at `step: SECOND`.
    fn duration(&self) -> Value {
        json!({
            "start": self.start.with_timezone(&self.timezone).format(SECOND_FORMAT).to_string(),
            "end": self.end.with_timezone(&self.timezone).format(SECOND_FORMAT).to_string(),
            "step": "SECOND",
        })
    }
}

/// Readiness: the node answers GraphQL. Asks `getTimeInfo`, which every 9.x OAP answers without
/// touching storage (`checkHealth` needs the health-checker module, which 9.6 leaves off unless
/// `SW_HEALTH_CHECKER=default`); returns the answer, whose time zone the trace listings need.
pub async fn ready(node: &str, address: Ipv4Addr, timeout: Duration) -> anyhow::Result<TimeInfo> {
    time_info(node, address, timeout).await
}

/// The server's time zone and clock (`getTimeInfo`).
pub async fn time_info(
    node: &str,
    address: Ipv4Addr,
    timeout: Duration,
) -> anyhow::Result<TimeInfo> {
    let what = "asking for the server's time zone (getTimeInfo)";
    let data = request(
        node,
        address,
        what,
        &json!({ "query": TIME_INFO_QUERY }),
        timeout,
    )
    .await?;
    parse_time_info(&data).with_context(|| format!("{what} of {node} ({address})"))
}

/// The health checker's verdict (`checkHealth`); an error when the module is off.
pub async fn check_health(
    node: &str,
    address: Ipv4Addr,
    timeout: Duration,
) -> anyhow::Result<HealthStatus> {
    let what = "asking for the server's health (checkHealth)";
    let data = request(
        node,
        address,
        what,
        &json!({ "query": HEALTH_QUERY }),
        timeout,
    )
    .await?;
    HealthStatus::deserialize(data.get("checkHealth").unwrap_or(&Value::Null))
        .with_context(|| format!("{what} of {node} ({address}): unexpected answer {data}"))
}

/// The id the OAP gives a normal (agent-reported) service: `base64(name)` + `.1`
/// (`IDManager.ServiceID.buildId(name, true)`).
pub fn service_id(service: &str) -> String {
    format!("{}.1", base64(service.as_bytes()))
}

/// Every trace of `service` with a segment in `window`, each with the number of distinct
/// segments listed for it (`queryBasicTraces`, every page, all states, newest first). `timeout`
/// bounds the whole listing.
pub async fn trace_segments(
    node: &str,
    address: Ipv4Addr,
    service: &str,
    window: &Window,
    timeout: Duration,
) -> anyhow::Result<BTreeMap<String, u32>> {
    let deadline = Instant::now() + timeout;
    let service_id = service_id(service);
    let mut segments: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for page in 1..=MAX_PAGES {
        let what = format!("listing the traces of service {service} (page {page})");
        let left = deadline.saturating_duration_since(Instant::now());
        ensure!(
            !left.is_zero(),
            "{what} on {node} ({address}): the listing took longer than {timeout:?}"
        );
        let body = traces_request(&service_id, window, page, PAGE_SIZE);
        let data = request(node, address, &what, &body, left).await?;
        let rows = parse_traces(&data).with_context(|| format!("{what} on {node} ({address})"))?;
        let full = rows.len() >= PAGE_SIZE as usize;
        for row in rows {
            for trace in row.trace_ids {
                segments
                    .entry(trace)
                    .or_default()
                    .insert(row.segment_id.clone());
            }
        }
        if !full {
            return Ok(segments
                .into_iter()
                .map(|(trace, segs)| (trace, segs.len() as u32))
                .collect());
        }
    }
    bail!(
        "listing the traces of service {service} on {node} ({address}): more than {MAX_PAGES} \
         pages of {PAGE_SIZE}"
    )
}

/// One GraphQL request; returns its `data`. Errors say `what` was asked of which node.
async fn request(
    node: &str,
    address: Ipv4Addr,
    what: &str,
    body: &Value,
    timeout: Duration,
) -> anyhow::Result<Value> {
    let url = http::url(address, HTTP_PORT, &["graphql"])?;
    let answer = http::post_json(&url, body, timeout)
        .await
        .with_context(|| format!("{what} on {node} ({address})"))?;
    parse_answer(&answer).with_context(|| format!("{what} on {node} ({address})"))
}

/// A GraphQL answer's `data`; a non-2xx status, an `errors` list or no `data` are errors.
fn parse_answer(answer: &http::Answer) -> anyhow::Result<Value> {
    ensure!(
        answer.is_success(),
        "HTTP {}: {}",
        answer.status,
        truncate(answer.body.trim(), 500)
    );
    let mut parsed: Value = serde_json::from_str(&answer.body).with_context(|| {
        format!(
            "the answer is not JSON: {}",
            truncate(answer.body.trim(), 500)
        )
    })?;
    if let Some(errors) = parsed.get("errors").and_then(Value::as_array)
        && !errors.is_empty()
    {
        let messages: Vec<String> = errors
            .iter()
            .map(|e| match e.get("message").and_then(Value::as_str) {
                Some(message) => message.to_string(),
                None => e.to_string(),
            })
            .collect();
        bail!("GraphQL errors: {}", messages.join("; "));
    }
    match parsed.get_mut("data").map(Value::take) {
        Some(data) if data.is_object() => Ok(data),
        _ => bail!(
            "no data in the answer: {}",
            truncate(answer.body.trim(), 500)
        ),
    }
}

fn parse_time_info(data: &Value) -> anyhow::Result<TimeInfo> {
    let info = data
        .get("getTimeInfo")
        .filter(|v| v.is_object())
        .ok_or_else(|| anyhow!("no getTimeInfo in {data}"))?;
    let zone = info
        .get("timezone")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("no time zone in {info}"))?;
    let now = info
        .get("currentTimestamp")
        .and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
        .and_then(DateTime::from_timestamp_millis);
    Ok(TimeInfo {
        timezone: parse_offset(zone)?,
        now,
    })
}

/// `+0800`, `-0530`, `+08:00` or `Z` (Java's `ZZZZZZ` writes the first two).
fn parse_offset(zone: &str) -> anyhow::Result<FixedOffset> {
    let bad = || anyhow!("time zone {zone:?} is not of the form +HHMM");
    if zone == "Z" {
        return Ok(FixedOffset::east_opt(0).expect("zero is a valid offset"));
    }
    let (sign, rest) = match zone.as_bytes().first() {
        Some(b'+') => (1, &zone[1..]),
        Some(b'-') => (-1, &zone[1..]),
        _ => return Err(bad()),
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let hours: i32 = digits[..2].parse().map_err(|_| bad())?;
    let minutes: i32 = digits[2..].parse().map_err(|_| bad())?;
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60)).ok_or_else(bad)
}

fn traces_request(service_id: &str, window: &Window, page: u32, page_size: u32) -> Value {
    json!({
        "query": TRACES_QUERY,
        "variables": {
            "condition": {
                "serviceId": service_id,
                "queryDuration": window.duration(),
                "traceState": "ALL",
                "queryOrder": "BY_START_TIME",
                "paging": { "pageNum": page, "pageSize": page_size },
            }
        }
    })
}

/// One row of a trace listing: a segment and the traces it belongs to.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BasicTrace {
    segment_id: String,
    trace_ids: Vec<String>,
}

fn parse_traces(data: &Value) -> anyhow::Result<Vec<BasicTrace>> {
    let brief = data
        .get("queryBasicTraces")
        .filter(|v| v.is_object())
        .ok_or_else(|| {
            anyhow!(
                "no queryBasicTraces in {}",
                truncate(&data.to_string(), 500)
            )
        })?;
    let traces = brief
        .get("traces")
        .ok_or_else(|| anyhow!("no traces in {}", truncate(&brief.to_string(), 500)))?;
    Vec::<BasicTrace>::deserialize(traces).with_context(|| {
        format!(
            "unexpected trace list {}",
            truncate(&traces.to_string(), 500)
        )
    })
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// Standard base64 with padding, as `java.util.Base64.getEncoder()` writes it.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> http::Answer {
        http::Answer {
            status,
            body: body.to_string(),
        }
    }

    #[test]
    fn service_ids_are_base64_of_the_name_dot_one() {
        assert_eq!(service_id("chaosbed"), "Y2hhb3NiZWQ=.1");
        assert_eq!(service_id("a"), "YQ==.1");
        assert_eq!(service_id("ab"), "YWI=.1");
        assert_eq!(service_id("abc"), "YWJj.1");
        assert_eq!(service_id("é/?"), "w6kvPw==.1");
        assert_eq!(base64(b""), "");
    }

    #[test]
    fn a_trace_listing_asks_for_one_service_every_state_by_start_time_in_server_time() {
        let window = Window {
            start: "2024-03-01T23:59:30Z".parse().unwrap(),
            end: "2024-03-02T00:01:05Z".parse().unwrap(),
            timezone: parse_offset("+0800").unwrap(),
        };
        let body = traces_request("Y2hhb3NiZWQ=.1", &window, 3, 500);
        assert_eq!(body["query"], TRACES_QUERY);
        assert_eq!(
            body["variables"],
            json!({
                "condition": {
                    "serviceId": "Y2hhb3NiZWQ=.1",
                    "queryDuration": {
                        "start": "2024-03-02 075930",
                        "end": "2024-03-02 080105",
                        "step": "SECOND",
                    },
                    "traceState": "ALL",
                    "queryOrder": "BY_START_TIME",
                    "paging": { "pageNum": 3, "pageSize": 500 },
                }
            })
        );
    }

    #[test]
    fn utc_windows_are_written_as_they_are() {
        let window = Window {
            start: "2024-03-01T09:08:07Z".parse().unwrap(),
            end: "2024-03-01T10:00:00Z".parse().unwrap(),
            timezone: parse_offset("+0000").unwrap(),
        };
        assert_eq!(
            window.duration(),
            json!({"start": "2024-03-01 090807", "end": "2024-03-01 100000", "step": "SECOND"})
        );
    }

    #[test]
    fn a_listing_page_parses_into_segments_and_their_traces() {
        let data = parse_answer(&answer(
            200,
            r#"{"data":{"queryBasicTraces":{"traces":[
                {"segmentId":"s1","traceIds":["t1"]},
                {"segmentId":"s2","traceIds":["t1","t2"]},
                {"segmentId":"s3","traceIds":[]}
            ]}}}"#,
        ))
        .unwrap();
        let rows = parse_traces(&data).unwrap();
        let pairs: Vec<(&str, Vec<&str>)> = rows
            .iter()
            .map(|r| {
                (
                    r.segment_id.as_str(),
                    r.trace_ids.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            pairs,
            vec![("s1", vec!["t1"]), ("s2", vec!["t1", "t2"]), ("s3", vec![])]
        );
    }

    #[test]
    fn an_empty_listing_is_no_traces_but_a_null_one_is_an_error() {
        let empty = json!({"queryBasicTraces": {"traces": []}});
        assert!(parse_traces(&empty).unwrap().is_empty());
        let null = json!({"queryBasicTraces": null});
        assert!(parse_traces(&null).is_err());
        let odd = json!({"queryBasicTraces": {"traces": [{"segmentId": 1}]}});
        assert!(parse_traces(&odd).is_err());
    }

    #[test]
    fn graphql_errors_are_errors_even_with_status_200() {
        let e = parse_answer(&answer(
            200,
            r#"{"data":null,"errors":[{"message":"Exception while fetching data (/queryBasicTraces) : boom"},{"x":1}]}"#,
        ))
        .unwrap_err();
        let text = format!("{e:#}");
        assert!(text.contains("boom"), "{text}");
        assert!(text.contains(r#"{"x":1}"#), "{text}");
        // Partial data with errors is still an error.
        assert!(
            parse_answer(&answer(
                200,
                r#"{"data":{"checkHealth":null},"errors":[{"message":"no module"}]}"#
            ))
            .is_err()
        );
    }

    #[test]
    fn http_failures_and_garbage_are_errors() {
        let e = parse_answer(&answer(502, "<html>Bad Gateway</html>")).unwrap_err();
        assert!(format!("{e:#}").contains("HTTP 502"), "{e:#}");
        assert!(parse_answer(&answer(200, "not json")).is_err());
        assert!(parse_answer(&answer(200, r#"{"data":null}"#)).is_err());
        assert!(parse_answer(&answer(200, r#"{"errors":[]}"#)).is_err());
        assert!(parse_answer(&answer(200, r#"{"data":{},"errors":[]}"#)).is_ok());
    }

    #[test]
    fn time_info_gives_the_zone_and_the_clock() {
        let data =
            json!({"getTimeInfo": {"timezone": "+0000", "currentTimestamp": 1700000000123_i64}});
        let info = parse_time_info(&data).unwrap();
        assert_eq!(info.timezone.local_minus_utc(), 0);
        assert_eq!(info.now.unwrap().timestamp_millis(), 1700000000123);
        let data = json!({"getTimeInfo": {"timezone": "-0530", "currentTimestamp": "5"}});
        let info = parse_time_info(&data).unwrap();
        assert_eq!(info.timezone.local_minus_utc(), -(5 * 3600 + 30 * 60));
        assert_eq!(info.now.unwrap().timestamp_millis(), 5);
        assert!(parse_time_info(&json!({"getTimeInfo": null})).is_err());
        assert!(parse_time_info(&json!({"getTimeInfo": {"timezone": null}})).is_err());
    }

    #[test]
    fn offsets_parse_in_the_forms_java_writes() {
        let secs = |z: &str| parse_offset(z).map(|o| o.local_minus_utc());
        assert_eq!(secs("+0800").unwrap(), 8 * 3600);
        assert_eq!(secs("+08:00").unwrap(), 8 * 3600);
        assert_eq!(secs("-0000").unwrap(), 0);
        assert_eq!(secs("Z").unwrap(), 0);
        assert!(secs("UTC").is_err());
        assert!(secs("+8").is_err());
        assert!(secs("+2500").is_err());
    }

    #[test]
    fn health_status_deserializes() {
        let data = parse_answer(&answer(
            200,
            r#"{"data":{"checkHealth":{"score":0,"details":""}}}"#,
        ))
        .unwrap();
        let status = HealthStatus::deserialize(&data["checkHealth"]).unwrap();
        assert_eq!(
            status,
            HealthStatus {
                score: 0,
                details: Some(String::new())
            }
        );
    }

    #[test]
    fn long_bodies_are_cut_on_a_character_boundary() {
        assert_eq!(truncate("ééé", 2), "éé…");
        assert_eq!(truncate("abc", 5), "abc");
    }
}
