//! A check's details (any JSON) as HTML a person can read: objects as key/value tables, lists of
//! records (windows, examples) as tables with a column per field, long lists cut with a count;
//! every string that names an operation of the history links to it on the timeline.

use std::collections::HashMap;
use std::fmt::Write;

use serde_json::Value;

use super::escape;

/// How many rows of a list are shown before "… and N more".
const MAX_ROWS: usize = 40;
/// Nested deeper than this, a value is shown as compact JSON.
const MAX_DEPTH: usize = 6;

/// Operation ids and keys of a history, to the index of the op that started them.
#[derive(Debug, Default)]
pub struct Anchors {
    by_name: HashMap<String, u64>,
}

impl Anchors {
    /// The first op of each id (`"id"`: messages, traces) and each key (`"key"`: znodes).
    pub fn from_ops(ops: &[crate::history::Op]) -> Self {
        let mut by_name = HashMap::new();
        for op in ops {
            for field in ["id", "key"] {
                if let Some(name) = op.value.get(field).and_then(Value::as_str) {
                    by_name.entry(name.to_string()).or_insert(op.index);
                }
            }
        }
        Self { by_name }
    }

    pub fn get(&self, name: &str) -> Option<u64> {
        self.by_name.get(name).copied()
    }
}

/// The details as HTML.
pub fn render(details: &Value, anchors: &Anchors) -> String {
    let mut out = String::new();
    value(&mut out, details, anchors, 0);
    out
}

fn value(out: &mut String, v: &Value, anchors: &Anchors, depth: usize) {
    if depth > MAX_DEPTH {
        let _ = write!(
            out,
            "<code>{}</code>",
            escape(&serde_json::to_string(v).unwrap_or_default())
        );
        return;
    }
    match v {
        Value::Null => out.push_str("<span class=\"none\">—</span>"),
        Value::Bool(b) => out.push_str(if *b { "yes" } else { "no" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => string(out, s, anchors),
        Value::Array(items) if items.is_empty() => out.push_str("<span class=\"none\">none</span>"),
        Value::Array(items) if items.iter().all(is_record) => records(out, items, anchors, depth),
        Value::Array(items) => {
            out.push_str("<span class=\"list\">");
            for (i, item) in items.iter().take(MAX_ROWS).enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                value(out, item, anchors, depth + 1);
            }
            more(out, items.len());
            out.push_str("</span>");
        }
        Value::Object(map) if map.is_empty() => out.push_str("<span class=\"none\">none</span>"),
        Value::Object(map) => {
            out.push_str("<table class=\"kv\">");
            for (key, item) in map {
                let _ = write!(out, "<tr><th>{}</th><td>", escape(key));
                value(out, item, anchors, depth + 1);
                out.push_str("</td></tr>");
            }
            out.push_str("</table>");
        }
    }
}

/// An object whose fields are all scalars or short lists: one table row.
fn is_record(v: &Value) -> bool {
    v.as_object().is_some_and(|map| {
        !map.is_empty()
            && map.values().all(|item| match item {
                Value::Object(_) => false,
                Value::Array(inner) => inner.len() <= 8 && !inner.iter().any(Value::is_object),
                _ => true,
            })
    })
}

fn records(out: &mut String, items: &[Value], anchors: &Anchors, depth: usize) {
    let mut columns: Vec<&str> = Vec::new();
    for item in items {
        for key in item.as_object().into_iter().flat_map(|m| m.keys()) {
            if !columns.contains(&key.as_str()) {
                columns.push(key);
            }
        }
    }
    out.push_str("<table class=\"records\"><tr>");
    for column in &columns {
        let _ = write!(out, "<th>{}</th>", escape(column));
    }
    out.push_str("</tr>");
    for item in items.iter().take(MAX_ROWS) {
        out.push_str("<tr>");
        for column in &columns {
            out.push_str("<td>");
            match item.get(*column) {
                Some(v) => value(out, v, anchors, depth + 1),
                None => out.push_str("<span class=\"none\">—</span>"),
            }
            out.push_str("</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    more(out, items.len());
}

fn more(out: &mut String, len: usize) {
    if len > MAX_ROWS {
        let _ = write!(
            out,
            " <span class=\"none\">… and {} more</span>",
            len - MAX_ROWS
        );
    }
}

fn string(out: &mut String, s: &str, anchors: &Anchors) {
    match anchors.get(s) {
        Some(index) => {
            let _ = write!(
                out,
                "<a class=\"op-link\" href=\"#op-{index}\" title=\"show operation {index} on the timeline\">{}</a>",
                escape(s)
            );
        }
        None => out.push_str(&escape(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{F, Op, OpKind};
    use serde_json::json;

    fn anchors() -> Anchors {
        Anchors::from_ops(&[
            Op {
                index: 7,
                time: 0,
                process: "producer-0".into(),
                f: F::Send,
                kind: OpKind::Invoke,
                value: json!({"id": "p0-1"}),
                error: None,
            },
            Op {
                index: 9,
                time: 0,
                process: "producer-0".into(),
                f: F::Send,
                kind: OpKind::Ok,
                value: json!({"id": "p0-1"}),
                error: None,
            },
        ])
    }

    #[test]
    fn an_example_id_links_to_the_op_that_started_it() {
        let html = render(&json!({"lost": {"examples": ["p0-1", "p9-9"]}}), &anchors());
        assert!(
            html.contains("<a class=\"op-link\" href=\"#op-7\""),
            "{html}"
        );
        assert!(html.contains("p9-9") && !html.contains("#op-9"), "{html}");
    }

    #[test]
    fn windows_are_a_table_with_a_column_per_field() {
        let html = render(
            &json!({"windows": [{"start": 1.5, "end": 3.0}, {"start": 9.0, "end": 9.5, "open_at_end": true}]}),
            &Anchors::default(),
        );
        assert!(
            html.contains(
                "<table class=\"records\"><tr><th>end</th><th>start</th><th>open_at_end</th></tr>"
            ),
            "{html}"
        );
        assert!(
            html.contains("<td>3.0</td><td>1.5</td><td><span class=\"none\">—</span></td>"),
            "{html}"
        );
    }

    #[test]
    fn long_lists_are_cut_and_text_is_escaped() {
        let items: Vec<Value> = (0..50).map(|i| json!(i)).collect();
        let html = render(&json!({"<b>": items}), &Anchors::default());
        assert!(html.contains("&lt;b&gt;"));
        assert!(html.contains("… and 10 more"));
    }
}
