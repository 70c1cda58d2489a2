//! The delivery check (Pulsar): every acknowledged message is consumed (none lost), nothing is
//! consumed that was never sent (none unexpected), duplicates within `max_duplicates`, and each
//! producer's messages in order when the subscription keeps order.
//!
//! Sends whose outcome is unknown (`Info`, or never completed) may or may not be consumed;
//! neither is an error. A send that failed (`Fail`, certainly not sent) but is consumed is an
//! error. Consumers drain the subscription after every fault is healed, so a message never
//! consumed by then is lost.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::timeline::{pairs_of, secs};
use super::{CheckContext, CheckResult, Verdict};
use crate::history::{F, History, Op, OpKind};

const NAME: &str = "delivery";
const READ_BACK_PHASE: &str = crate::workload::pulsar::READ_BACK_PHASE;
const EXAMPLES: usize = 10;

/// Findings of one kind: how many, the first few, and — for those a person wants to see on the
/// report's timeline (lost, not read back) — every id.
#[derive(Default)]
pub(super) struct Found {
    pub count: usize,
    pub examples: Vec<Value>,
    pub ids: Vec<String>,
}

impl Found {
    pub fn add(&mut self, example: impl FnOnce() -> Value) {
        self.count += 1;
        if self.examples.len() < EXAMPLES {
            self.examples.push(example());
        }
    }

    /// Adds a finding and keeps its id (a message id, a znode key, a trace id) in `ids`.
    pub fn add_with_id(&mut self, id: &str, example: impl FnOnce() -> Value) {
        self.ids.push(id.to_string());
        self.add(example);
    }

    pub fn json(&self) -> Value {
        let mut value = json!({"count": self.count, "examples": self.examples});
        if !self.ids.is_empty() {
            value["ids"] = json!(self.ids);
        }
        value
    }

    /// `field` of the first example, to name in a summary.
    pub fn first(&self, field: &str) -> String {
        match self.examples.first().map(|example| &example[field]) {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Null) | None => "?".to_string(),
            Some(other) => other.to_string(),
        }
    }
}

/// What became of a message id's send(s); an id sent twice counts its best outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Failed,
    Unknown,
    Acknowledged,
}

struct Sent<'h> {
    invoke: &'h Op,
    done: Option<&'h Op>,
    outcome: Outcome,
}

pub(super) fn check(
    history: &History,
    ctx: &CheckContext,
    max_duplicates: Option<u64>,
) -> anyhow::Result<CheckResult> {
    // Sends by message id, in the order first invoked.
    let mut sent: HashMap<&str, Sent> = HashMap::new();
    let mut send_order: Vec<&str> = Vec::new();
    let (mut ok, mut fail, mut info, mut incomplete, mut malformed_sends) = (0, 0, 0, 0, 0);
    for (invoke, done) in pairs_of(history, F::Send) {
        let outcome = match done.map(|op| op.kind) {
            Some(OpKind::Ok) => {
                ok += 1;
                Outcome::Acknowledged
            }
            Some(OpKind::Fail) => {
                fail += 1;
                Outcome::Failed
            }
            Some(_) => {
                info += 1;
                Outcome::Unknown
            }
            None => {
                incomplete += 1;
                Outcome::Unknown
            }
        };
        let Some(id) = invoke.value["id"].as_str() else {
            malformed_sends += 1;
            continue;
        };
        match sent.get_mut(id) {
            Some(previous) if previous.outcome >= outcome => {}
            Some(previous) => {
                *previous = Sent {
                    invoke,
                    done,
                    outcome,
                }
            }
            None => {
                send_order.push(id);
                sent.insert(
                    id,
                    Sent {
                        invoke,
                        done,
                        outcome,
                    },
                );
            }
        }
    }

    // Receptions by message id, in history order.
    let mut received: HashMap<&str, Vec<&Op>> = HashMap::new();
    let mut receive_order: Vec<&str> = Vec::new();
    let (mut receives, mut drain_receives, mut malformed_receives) = (0, 0, 0);
    let mut highest: HashMap<&str, u64> = HashMap::new();
    let mut reordered = Found::default();
    // The read-back subscription (`read_back = true`) is judged apart: every acknowledged
    // message must be among what it read from the earliest message after the drain.
    // A read-back that read nothing leaves no op: with `read_back` set, it read nothing at all.
    let mut read_back: Option<std::collections::HashSet<&str>> =
        ctx.read_back.then(Default::default);
    let mut read_back_error: Option<&str> = None;
    let source = ReadBackSource::of(history);
    for op in history
        .with_f(F::Receive)
        .filter(|op| op.value["phase"].as_str() == Some(READ_BACK_PHASE))
    {
        let read = read_back.get_or_insert_with(Default::default);
        match (op.kind, op.value["id"].as_str()) {
            (OpKind::Ok, Some(id)) => {
                read.insert(id);
            }
            (OpKind::Ok, None) => {}
            _ => read_back_error = op.error.as_deref().or(Some("failed")),
        }
    }
    for op in history
        .with_f(F::Receive)
        .filter(|op| op.kind == OpKind::Ok)
        .filter(|op| op.value["phase"].as_str() != Some(READ_BACK_PHASE))
    {
        let Some(id) = op.value["id"].as_str() else {
            malformed_receives += 1;
            continue;
        };
        receives += 1;
        if op.value["phase"].as_str() == Some("drain") {
            drain_receives += 1;
        }
        let deliveries = received.entry(id).or_default();
        deliveries.push(op);
        let first = deliveries.len() == 1;
        if first {
            receive_order.push(id);
        }
        // Reordering: a message received for the first time after a later one of its producer.
        // A second delivery of a message is a duplicate, not a reorder.
        let (Some(producer), Some(seq)) = (op.value["producer"].as_str(), op.value["seq"].as_u64())
        else {
            continue;
        };
        let top = highest.entry(producer).or_insert(seq);
        if first && seq < *top {
            let after = *top;
            reordered.add(|| {
                json!({"id": id, "producer": producer, "seq": seq, "after_seq": after,
                       "at": secs(op.time)})
            });
        }
        *top = (*top).max(seq);
    }

    let mut lost = Found::default();
    let mut not_read_back = Found::default();
    let mut failed_received = Found::default();
    let (mut acknowledged, mut indeterminate_received, mut indeterminate_not_received) = (0, 0, 0);
    for id in &send_order {
        let send = &sent[id];
        let deliveries = received.get(id);
        match send.outcome {
            Outcome::Acknowledged => {
                acknowledged += 1;
                if let Some(read) = &read_back
                    && !read.contains(id)
                {
                    let done = send.done;
                    not_read_back.add_with_id(id, || {
                        json!({"id": id, "producer": send.invoke.value["producer"],
                               "seq": send.invoke.value["seq"],
                               "acked_at": done.map(|op| secs(op.time))})
                    });
                }
                if deliveries.is_none() {
                    let done = send.done;
                    lost.add_with_id(id, || {
                        json!({"id": id, "producer": send.invoke.value["producer"],
                               "seq": send.invoke.value["seq"],
                               "message_id": done.map(|op| &op.value["message_id"]),
                               "acked_at": done.map(|op| secs(op.time))})
                    });
                }
            }
            Outcome::Failed => {
                if let Some(deliveries) = deliveries {
                    let done = send.done;
                    failed_received.add(|| {
                        json!({"id": id, "failed_at": done.map(|op| secs(op.time)),
                               "error": done.and_then(|op| op.error.as_deref()),
                               "received_at": secs(deliveries[0].time)})
                    });
                }
            }
            Outcome::Unknown if deliveries.is_some() => indeterminate_received += 1,
            Outcome::Unknown => indeterminate_not_received += 1,
        }
    }

    let mut unexpected = Found::default();
    let mut duplicated = Found::default();
    let (mut extra_deliveries, mut redelivered) = (0u64, 0u64);
    for id in &receive_order {
        let deliveries = &received[id];
        if !sent.contains_key(id) {
            let op = deliveries[0];
            unexpected.add(|| {
                json!({"id": id, "message_id": op.value["message_id"], "at": secs(op.time),
                       "phase": op.value["phase"]})
            });
        }
        if deliveries.len() > 1 {
            extra_deliveries += deliveries.len() as u64 - 1;
            redelivered += deliveries[1..]
                .iter()
                .filter(|op| op.value["redelivery_count"].as_u64().unwrap_or(0) > 0)
                .count() as u64;
            duplicated.add(|| {
                json!({"id": id, "deliveries": deliveries.len(),
                       "at": deliveries.iter().map(|op| secs(op.time)).collect::<Vec<_>>(),
                       "redelivery_counts": deliveries.iter()
                           .map(|op| &op.value["redelivery_count"]).collect::<Vec<_>>()})
            });
        }
    }
    let consumed = receive_order.len();
    let too_many_duplicates = max_duplicates.is_some_and(|max| extra_deliveries > max);

    let details = json!({
        "sends": {"ok": ok, "fail": fail, "info": info, "incomplete": incomplete,
                  "total": ok + fail + info + incomplete},
        "acknowledged": acknowledged,
        "consumed": consumed,
        "receives": receives,
        "drain_receives": drain_receives,
        "lost": lost.json(),
        "read_back": read_back.as_ref().map(|read| json!({
            "read": read.len(),
            "not_read_back": not_read_back.json(),
            "error": read_back_error,
            "source": source.json(),
        })),
        "unexpected": unexpected.json(),
        "failed_but_received": failed_received.json(),
        "duplicated": {
            "extra_deliveries": extra_deliveries,
            "messages": duplicated.count,
            "redelivered": redelivered,
            "examples": duplicated.examples,
            "max_duplicates": max_duplicates,
        },
        "reordered": {
            "count": reordered.count,
            "judged": ctx.ordered_delivery,
            "examples": reordered.examples,
        },
        "indeterminate_received": indeterminate_received,
        "indeterminate_not_received": indeterminate_not_received,
        "ordered_delivery": ctx.ordered_delivery,
        "malformed_sends": malformed_sends,
        "malformed_receives": malformed_receives,
    });

    let hard_errors = unexpected.count > 0 || failed_received.count > 0;
    if acknowledged == 0 && !hard_errors {
        let attempted = ok + fail + info + incomplete;
        return Ok(CheckResult::new(
            NAME,
            Verdict::Unknown,
            format!(
                "no send was acknowledged ({attempted} attempted, {consumed} consumed), so \
                 delivery cannot be judged"
            ),
        )
        .with_details(details));
    }
    if receives == 0 {
        return Ok(CheckResult::new(
            NAME,
            Verdict::Unknown,
            format!(
                "{acknowledged} acknowledged but nothing was consumed, not even in the drain \
                 after the heal: the consumer never received, so losses cannot be told from a \
                 consumer that did not work"
            ),
        )
        .with_details(details));
    }

    let example = |found: &Found| {
        if found.count > 0 {
            format!(" (e.g. {})", found.first("id"))
        } else {
            String::new()
        }
    };
    let duplicates_note = match max_duplicates {
        Some(max) if too_many_duplicates => format!(" (over the {max} allowed)"),
        _ => String::new(),
    };
    let reorder_note = match (reordered.count, ctx.ordered_delivery) {
        (0, _) => String::new(),
        (_, true) => format!(
            " (e.g. {} seq {} after {})",
            reordered.first("producer"),
            reordered.first("seq"),
            reordered.first("after_seq")
        ),
        (_, false) => " (not judged: the subscription does not keep order)".to_string(),
    };
    let mut summary = format!(
        "{acknowledged} acknowledged, {consumed} consumed; {} lost{}, {} unexpected{}, \
         {extra_deliveries} duplicated{duplicates_note}, {} reordered{reorder_note}",
        lost.count,
        example(&lost),
        unexpected.count,
        example(&unexpected),
        reordered.count,
    );
    if failed_received.count > 0 {
        summary.push_str(&format!(
            "; {} failed {} consumed{}",
            failed_received.count,
            if failed_received.count == 1 {
                "send"
            } else {
                "sends"
            },
            example(&failed_received)
        ));
    }
    if read_back.is_some() {
        summary.push_str(&format!(
            "; read back from the earliest message {}: {} of {acknowledged} acknowledged ({} \
             missing{})",
            source.describe(),
            acknowledged - not_read_back.count,
            not_read_back.count,
            example(&not_read_back),
        ));
        if let Some(error) = read_back_error {
            summary.push_str(&format!(" [{error}]"));
        }
    }
    let indeterminate = indeterminate_received + indeterminate_not_received;
    if indeterminate > 0 {
        summary.push_str(&format!(
            "; {indeterminate} indeterminate ({indeterminate_received} consumed, \
             {indeterminate_not_received} not)"
        ));
    }

    let invalid = lost.count > 0
        || hard_errors
        || too_many_duplicates
        || not_read_back.count > 0
        || (ctx.ordered_delivery && reordered.count > 0);
    let verdict = if invalid {
        Verdict::Invalid
    } else if read_back.is_some() && matches!(source, ReadBackSource::StillLoaded(_)) {
        // Nothing is missing, but a broker's cache may have served what the bookies lost.
        Verdict::Unknown
    } else {
        Verdict::Valid
    };
    Ok(CheckResult::new(NAME, verdict, summary).with_details(details))
}

/// Where the read-back read the topic, from the runner's `read-back` op.
enum ReadBackSource {
    /// Each topic was unloaded from these brokers first: a broker opened it again from the
    /// bookies, with nothing cached.
    Bookies(Vec<String>),
    /// A topic could not be unloaded (why): its owner's cache may have served the read-back.
    StillLoaded(String),
    /// The history does not say (recorded before the read-back unloaded its topic).
    Unrecorded,
}

impl ReadBackSource {
    fn of(history: &History) -> Self {
        let Some(op) = history.with_f(F::ReadBack).last() else {
            return Self::Unrecorded;
        };
        if op.kind != OpKind::Ok {
            return Self::StillLoaded(op.error.clone().unwrap_or_else(|| "failed".into()));
        }
        let brokers = op.value["unloaded_from"]
            .as_array()
            .map(|b| {
                b.iter()
                    .filter_map(|b| b.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        Self::Bookies(brokers)
    }

    fn describe(&self) -> String {
        match self {
            Self::Bookies(brokers) => {
                let mut brokers = brokers.clone();
                brokers.dedup();
                format!(
                    "from the bookies (the topic unloaded from {} first)",
                    brokers.join(", ")
                )
            }
            Self::StillLoaded(why) => format!(
                "through a broker that may have served it from its cache (not unloaded: {why})"
            ),
            Self::Unrecorded => "(where from is not recorded)".to_string(),
        }
    }

    fn json(&self) -> Value {
        match self {
            Self::Bookies(brokers) => json!({"from": "bookies", "unloaded_from": brokers}),
            Self::StillLoaded(why) => json!({"from": "broker, maybe its cache", "error": why}),
            Self::Unrecorded => Value::Null,
        }
    }
}

/// Builds Pulsar histories for the checker tests, on top of [`Script`](super::timeline::script).
#[cfg(test)]
pub(super) mod script {
    use serde_json::{Value, json};

    use super::super::timeline::script::Script;
    use crate::history::{F, OpKind};

    pub const TOPIC: &str = "persistent://public/default/chaos";

    /// The id producer `p` gives its message `seq`.
    pub fn id(producer: u32, seq: u64) -> String {
        format!("p{producer}-{seq:06}")
    }

    pub trait Pulsar: Sized {
        /// Producer `producer` sends message `seq`, invoked at `invoke` and completed with
        /// `outcome` at its time, or never completed when `outcome` is `None`.
        fn send(self, producer: u32, seq: u64, invoke: u64, outcome: Option<(OpKind, u64)>)
        -> Self;

        fn ok_send(self, producer: u32, seq: u64, invoke: u64, done: u64) -> Self {
            self.send(producer, seq, invoke, Some((OpKind::Ok, done)))
        }

        /// Consumer 1 receives `producer`'s message `seq` at `ms`.
        fn receive(self, ms: u64, producer: u32, seq: u64, redelivery: u64, phase: &str) -> Self;

        /// A monitor sample of topic owners, as `(topic, brokers)`.
        fn owners(self, ms: u64, owners: &[(&str, &[&str])], unreachable: &[&str]) -> Self;

        fn bookies(self, ms: u64, registered: &[&str]) -> Self;

        fn diagnosis(self, ms: u64, node: &str, cause: &str, explanation: &str) -> Self;
    }

    impl Pulsar for Script {
        fn send(
            self,
            producer: u32,
            seq: u64,
            invoke: u64,
            outcome: Option<(OpKind, u64)>,
        ) -> Self {
            let process = format!("producer-{producer}");
            let value = json!({"id": id(producer, seq), "producer": format!("p{producer}"),
                               "seq": seq, "topic": TOPIC});
            let script = self.op(invoke, &process, F::Send, OpKind::Invoke, value.clone());
            match outcome {
                Some((kind, done)) => {
                    let mut value = value;
                    if kind == OpKind::Ok {
                        value["message_id"] = json!(format!("7:{seq}:-1:0"));
                    }
                    script.op(done, &process, F::Send, kind, value)
                }
                None => script,
            }
        }

        fn receive(self, ms: u64, producer: u32, seq: u64, redelivery: u64, phase: &str) -> Self {
            let value = json!({"id": id(producer, seq), "producer": format!("p{producer}"),
                               "seq": seq, "message_id": format!("7:{seq}:-1:0"),
                               "redelivery_count": redelivery, "phase": phase});
            self.op(ms, "consumer-1", F::Receive, OpKind::Ok, value)
        }

        fn owners(self, ms: u64, owners: &[(&str, &[&str])], unreachable: &[&str]) -> Self {
            let owners: serde_json::Map<String, Value> = owners
                .iter()
                .map(|(topic, brokers)| (topic.to_string(), json!(brokers)))
                .collect();
            let value = json!({"owners": owners, "unreachable": unreachable});
            self.op(ms, "monitor", F::Ownership, OpKind::Ok, value)
        }

        fn bookies(self, ms: u64, registered: &[&str]) -> Self {
            let value = json!({"registered": registered});
            self.op(ms, "monitor", F::Bookies, OpKind::Ok, value)
        }

        fn diagnosis(self, ms: u64, node: &str, cause: &str, explanation: &str) -> Self {
            let value = json!({"node": node, "cause": cause, "explanation": explanation,
                               "evidence": ["a log line"]});
            self.op(ms, "diagnosis", F::Diagnosis, OpKind::Ok, value)
        }
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::super::timeline::script::Script;
    use super::script::{Pulsar, id};
    use super::*;

    fn ctx(ordered: bool) -> CheckContext {
        CheckContext {
            ordered_delivery: ordered,
            ..CheckContext::default()
        }
    }

    /// Producer 0 sends 1..=5, all acknowledged, consumed once each in order in the run.
    fn clean() -> Script {
        let mut script = Script::new();
        for seq in 1..=5 {
            script = script.ok_send(0, seq, seq * 100, seq * 100 + 10).receive(
                seq * 100 + 20,
                0,
                seq,
                0,
                "run",
            );
        }
        script
    }

    fn run(script: Script, ordered: bool, max_duplicates: Option<u64>) -> CheckResult {
        check(&script.build(), &ctx(ordered), max_duplicates).unwrap()
    }

    #[test]
    fn every_acknowledged_message_consumed_once_is_valid() {
        let result = run(clean(), true, Some(0));
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert_eq!(
            result.summary,
            "5 acknowledged, 5 consumed; 0 lost, 0 unexpected, 0 duplicated, 0 reordered"
        );
        assert_eq!(result.details["sends"]["total"], 5);
    }

    #[test]
    fn an_acknowledged_message_never_consumed_is_lost() {
        let script = clean()
            .ok_send(0, 6, 600, 610)
            .receive(5_000, 0, 7, 0, "drain");
        let result = run(
            script.send(0, 7, 700, Some((OpKind::Info, 900))),
            true,
            None,
        );
        assert_eq!(result.verdict, Verdict::Invalid);
        assert_eq!(
            result.summary,
            "6 acknowledged, 6 consumed; 1 lost (e.g. p0-000006), 0 unexpected, 0 duplicated, \
             0 reordered; 1 indeterminate (1 consumed, 0 not)"
        );
        assert_eq!(
            result.details["lost"]["examples"][0],
            json!({"id": "p0-000006", "producer": "p0", "seq": 6, "message_id": "7:6:-1:0",
                   "acked_at": 0.61})
        );
        assert_eq!(result.details["drain_receives"], 1);
    }

    #[test]
    fn the_read_back_must_return_every_acknowledged_message() {
        // Read back in full: valid, and the read-back receives are no duplicates.
        let mut whole = clean();
        for seq in 1..=5 {
            whole = whole.receive(9_000 + seq, 0, seq, 0, READ_BACK_PHASE);
        }
        let result = run(whole, true, Some(0));
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert!(
            result
                .summary
                .ends_with("read back from the earliest message (where from is not recorded): 5 of 5 acknowledged (0 missing)"),
            "{}",
            result.summary
        );
        assert_eq!(result.details["read_back"]["read"], 5);
        // One acknowledged (and consumed) message missing from the read-back: invalid.
        let mut partial = clean();
        for seq in [1, 2, 4, 5] {
            partial = partial.receive(9_000 + seq, 0, seq, 0, READ_BACK_PHASE);
        }
        let result = run(partial, true, Some(0));
        assert_eq!(result.verdict, Verdict::Invalid, "{}", result.summary);
        assert!(
            result
                .summary
                .contains("4 of 5 acknowledged (1 missing (e.g. p0-000003))"),
            "{}",
            result.summary
        );
        // Without a read-back nothing changes.
        assert!(run(clean(), true, Some(0)).details["read_back"].is_null());
    }

    /// Five acknowledged messages, all read back after the runner's `read-back` op of `kind`.
    fn read_back_after(kind: OpKind) -> Script {
        let mut script = clean().op(
            8_000,
            "read-back",
            F::ReadBack,
            kind,
            json!({"topics": [script::TOPIC], "unloaded_from": ["broker-2"]}),
        );
        for seq in 1..=5 {
            script = script.receive(9_000 + seq, 0, seq, 0, READ_BACK_PHASE);
        }
        script
    }

    #[test]
    fn the_read_back_says_where_it_read() {
        let result = run(read_back_after(OpKind::Ok), true, Some(0));
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert!(
            result.summary.ends_with(
                "read back from the earliest message from the bookies (the topic unloaded from \
                 broker-2 first): 5 of 5 acknowledged (0 missing)"
            ),
            "{}",
            result.summary
        );
        assert_eq!(result.details["read_back"]["source"]["from"], "bookies");
    }

    #[test]
    fn a_read_back_a_cache_may_have_served_proves_nothing() {
        // Nothing missing, but the topic was never unloaded: the broker's entry cache may have
        // answered for bookies that lost the data.
        let result = run(read_back_after(OpKind::Fail), true, Some(0));
        assert_eq!(result.verdict, Verdict::Unknown, "{}", result.summary);
        assert!(
            result.summary.contains("may have served it from its cache"),
            "{}",
            result.summary
        );
    }

    #[test]
    fn indeterminate_sends_are_no_error_either_way() {
        let script = clean()
            .send(0, 6, 600, Some((OpKind::Info, 700)))
            .send(0, 7, 800, None)
            .receive(900, 0, 7, 0, "drain");
        let result = run(script, true, None);
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert_eq!(result.details["indeterminate_received"], 1);
        assert_eq!(result.details["indeterminate_not_received"], 1);
    }

    #[test]
    fn a_message_never_sent_is_unexpected() {
        let script = clean().receive(900, 3, 1, 0, "drain");
        let result = run(script, true, None);
        assert_eq!(result.verdict, Verdict::Invalid);
        assert!(
            result.summary.contains("1 unexpected (e.g. p3-000001)"),
            "{}",
            result.summary
        );
    }

    #[test]
    fn a_failed_send_consumed_is_invalid_and_a_failed_send_not_consumed_is_fine() {
        let failed = || clean().send(0, 6, 600, Some((OpKind::Fail, 610)));
        let result = run(failed(), true, None);
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);

        let result = run(failed().receive(700, 0, 6, 0, "run"), true, None);
        assert_eq!(result.verdict, Verdict::Invalid);
        assert!(
            result
                .summary
                .ends_with("; 1 failed send consumed (e.g. p0-000006)"),
            "{}",
            result.summary
        );
        assert_eq!(
            result.details["failed_but_received"]["examples"][0]["error"],
            "connection lost"
        );
    }

    #[rstest]
    #[case(None, Verdict::Valid)]
    #[case(Some(2), Verdict::Valid)]
    #[case(Some(1), Verdict::Invalid)]
    fn duplicates_are_judged_only_against_a_maximum(
        #[case] max: Option<u64>,
        #[case] verdict: Verdict,
    ) {
        // Message 2 delivered three times: once in the run, then twice redelivered.
        let script = clean()
            .receive(1_000, 0, 2, 1, "run")
            .receive(2_000, 0, 2, 0, "drain");
        let result = run(script, true, max);
        assert_eq!(result.verdict, verdict, "{}", result.summary);
        assert_eq!(result.details["duplicated"]["extra_deliveries"], 2);
        assert_eq!(result.details["duplicated"]["messages"], 1);
        assert_eq!(result.details["duplicated"]["redelivered"], 1);
        assert_eq!(
            result.details["reordered"]["count"], 0,
            "a duplicate is no reorder"
        );
        if verdict == Verdict::Invalid {
            assert!(
                result.summary.contains("2 duplicated (over the 1 allowed)"),
                "{}",
                result.summary
            );
        }
    }

    #[rstest]
    #[case(true, Verdict::Invalid)]
    #[case(false, Verdict::Valid)]
    fn reorders_are_judged_only_when_the_subscription_keeps_order(
        #[case] ordered: bool,
        #[case] verdict: Verdict,
    ) {
        let mut script = Script::new();
        for seq in 1..=3 {
            script = script.ok_send(0, seq, seq * 100, seq * 100 + 10);
        }
        let script = script
            .ok_send(1, 1, 100, 110)
            .receive(500, 0, 1, 0, "run")
            .receive(510, 0, 3, 0, "run")
            .receive(520, 1, 1, 0, "run")
            .receive(530, 0, 2, 0, "run");
        let result = run(script, ordered, None);
        assert_eq!(result.verdict, verdict, "{}", result.summary);
        assert_eq!(
            result.details["reordered"]["examples"][0],
            json!({"id": id(0, 2), "producer": "p0", "seq": 2, "after_seq": 3, "at": 0.53})
        );
        let note = if ordered {
            "1 reordered (e.g. p0 seq 2 after 3)"
        } else {
            "1 reordered (not judged: the subscription does not keep order)"
        };
        assert!(result.summary.ends_with(note), "{}", result.summary);
    }

    #[test]
    fn nothing_acknowledged_is_unknown() {
        let script = Script::new().send(0, 1, 100, Some((OpKind::Fail, 200)));
        let result = run(script, true, None);
        assert_eq!(result.verdict, Verdict::Unknown);
        assert_eq!(
            result.summary,
            "no send was acknowledged (1 attempted, 0 consumed), so delivery cannot be judged"
        );
    }

    #[test]
    fn nothing_acknowledged_but_something_unexpected_is_invalid() {
        let script = Script::new()
            .send(0, 1, 100, Some((OpKind::Fail, 200)))
            .receive(300, 0, 1, 0, "drain");
        assert_eq!(run(script, true, None).verdict, Verdict::Invalid);
    }

    #[test]
    fn nothing_consumed_at_all_is_unknown() {
        let script = Script::new().ok_send(0, 1, 100, 200);
        let result = run(script, true, None);
        assert_eq!(result.verdict, Verdict::Unknown);
        assert!(
            result
                .summary
                .starts_with("1 acknowledged but nothing was consumed"),
            "{}",
            result.summary
        );
    }
}
