//! Operations a user's own client prints on its standard output, one JSON object per line in
//! Jepsen's shape — `{"process": 0, "type": "invoke", "f": "write", "value": ..}` — read into
//! chaosbed's history. chaosbed stamps each with its own time when it reads the line; a line
//! that is not such an operation is counted and kept as an example, never fatal.

use serde_json::Value;

use crate::history::{F, OpKind};

/// Processes of chaosbed's own that a client may not speak as.
const RESERVED: &[&str] = &["nemesis", "monitor", "final", "resources", "reader"];

/// How many malformed lines are kept as examples.
const EXAMPLES: usize = 10;

/// One operation a client printed.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientOp {
    /// `client-<n>` for Jepsen's integer processes, else the name the client gave.
    pub process: String,
    pub f: F,
    pub kind: OpKind,
    pub value: Value,
    pub error: Option<String>,
}

/// Reads one line. `Ok(None)` for a blank line; `Err` says why a line is not an operation.
pub fn parse(line: &str) -> Result<Option<ClientOp>, String> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(None);
    }
    let json: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(mut fields) = json else {
        return Err("not a JSON object".to_string());
    };
    let process = match fields.remove("process") {
        Some(Value::Number(n)) if n.is_u64() => format!("client-{n}"),
        Some(Value::String(name)) if RESERVED.contains(&name.as_str()) => {
            return Err(format!(
                "process \"{name}\" is chaosbed's own (use a number or another name)"
            ));
        }
        Some(Value::String(name)) if !name.trim().is_empty() => name,
        Some(other) => return Err(format!("`process` must be a number or a name, not {other}")),
        None => return Err("no `process`".to_string()),
    };
    let kind = match fields.remove("type") {
        Some(Value::String(t)) => match t.as_str() {
            "invoke" => OpKind::Invoke,
            "ok" => OpKind::Ok,
            "fail" => OpKind::Fail,
            "info" => OpKind::Info,
            other => {
                return Err(format!(
                    "`type` \"{other}\" is none of invoke, ok, fail, info"
                ));
            }
        },
        Some(other) => return Err(format!("`type` must be a string, not {other}")),
        None => return Err("no `type`".to_string()),
    };
    let name = match fields.remove("f") {
        Some(Value::String(f)) if !f.is_empty() => f,
        Some(other) => return Err(format!("`f` must be a name, not {other}")),
        None => return Err("no `f`".to_string()),
    };
    let value = fields.remove("value").unwrap_or(Value::Null);
    let error = match fields.remove("error") {
        None | Some(Value::Null) => None,
        Some(Value::String(e)) => Some(e),
        Some(other) => Some(other.to_string()),
    };
    let (f, value) = match known_f(&name) {
        Some(f) => (f, value),
        None => (F::Custom, serde_json::json!({ "f": name, "value": value })),
    };
    Ok(Some(ClientOp {
        process,
        f,
        kind,
        value,
        error,
    }))
}

/// The operations chaosbed's checks know by name.
fn known_f(name: &str) -> Option<F> {
    Some(match name {
        "write" => F::Write,
        "read" => F::Read,
        "cas" => F::Cas,
        "final-read" => F::FinalRead,
        "send" => F::Send,
        "receive" => F::Receive,
        _ => return None,
    })
}

/// The lines that were not operations: how many, and the first few with why.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Malformed {
    pub count: u64,
    /// (line number from 1, the line, why).
    pub examples: Vec<(u64, String, String)>,
}

impl Malformed {
    pub fn note(&mut self, number: u64, line: &str, why: String) {
        self.count += 1;
        if self.examples.len() < EXAMPLES {
            self.examples
                .push((number, line.chars().take(200).collect(), why));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_jepsen_operation_becomes_one_of_chaosbeds() {
        let op = parse(r#"{"process": 3, "type": "ok", "f": "write", "value": {"key": "k", "value": 1}, "time": 99}"#)
            .unwrap()
            .unwrap();
        assert_eq!(op.process, "client-3");
        assert_eq!(op.f, F::Write);
        assert_eq!(op.kind, OpKind::Ok);
        assert_eq!(op.value, json!({"key": "k", "value": 1}));
        assert_eq!(op.error, None);
        let failed =
            parse(r#"{"process": "app-1", "type": "fail", "f": "send", "error": "timeout"}"#)
                .unwrap()
                .unwrap();
        assert_eq!(failed.process, "app-1");
        assert_eq!(failed.error.as_deref(), Some("timeout"));
        assert_eq!(failed.value, Value::Null);
    }

    #[test]
    fn an_operation_chaosbed_has_no_name_for_keeps_its_own() {
        let op = parse(r#"{"process": 0, "type": "invoke", "f": "acquire-lock", "value": "l1"}"#)
            .unwrap()
            .unwrap();
        assert_eq!(op.f, F::Custom);
        assert_eq!(op.value, json!({"f": "acquire-lock", "value": "l1"}));
    }

    #[test]
    fn a_line_that_is_no_operation_says_why_and_is_counted() {
        assert_eq!(parse("   ").unwrap(), None);
        for (line, why) in [
            ("hello", "not JSON"),
            ("[1]", "not a JSON object"),
            (r#"{"type": "ok", "f": "read"}"#, "no `process`"),
            (
                r#"{"process": 1, "type": "done", "f": "read"}"#,
                "none of invoke",
            ),
            (r#"{"process": 1, "type": "ok"}"#, "no `f`"),
            (
                r#"{"process": "nemesis", "type": "ok", "f": "read"}"#,
                "chaosbed's own",
            ),
            (
                r#"{"process": -1, "type": "ok", "f": "read"}"#,
                "a number or a name",
            ),
        ] {
            let err = parse(line).unwrap_err();
            assert!(err.contains(why), "{line}: {err}");
        }
        let mut malformed = Malformed::default();
        for n in 1..=12 {
            malformed.note(n, "x", "not JSON".into());
        }
        assert_eq!(malformed.count, 12);
        assert_eq!(malformed.examples.len(), EXAMPLES);
    }
}
