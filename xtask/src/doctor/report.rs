//! The doctor's report: a line per item (status, item, detail) in aligned columns, and the
//! verdict that ends it with the exit status. Pure.

use std::fmt;
use std::process::ExitCode;

/// How an item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Warn,
    Missing,
    Unknown,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Missing => "missing",
            Status::Unknown => "unknown",
        };
        f.pad(word)
    }
}

/// What the verdict says about an item that is not fine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// A few words for the verdict line.
    pub text: String,
    /// Whether it stops a scenario from running (exit 1), or only warns.
    pub blocks: bool,
}

/// One item of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub status: Status,
    pub item: String,
    pub detail: String,
    /// For the verdict; None for an item fine as it is (or covered by another line's note).
    pub note: Option<Note>,
}

impl Line {
    pub fn ok(item: &str, detail: impl Into<String>) -> Self {
        Self {
            status: Status::Ok,
            item: item.to_owned(),
            detail: detail.into(),
            note: None,
        }
    }

    /// A line of any status, with nothing for the verdict.
    pub fn quiet(status: Status, item: &str, detail: impl Into<String>) -> Self {
        Self {
            status,
            item: item.to_owned(),
            detail: detail.into(),
            note: None,
        }
    }

    /// A line the verdict warns about.
    pub fn warning(status: Status, item: &str, detail: impl Into<String>, note: &str) -> Self {
        Self::noted(status, item, detail.into(), note, false)
    }

    /// A line that stops a scenario from running.
    pub fn blocker(status: Status, item: &str, detail: impl Into<String>, note: &str) -> Self {
        Self::noted(status, item, detail.into(), note, true)
    }

    fn noted(status: Status, item: &str, detail: String, note: &str, blocks: bool) -> Self {
        Self {
            status,
            item: item.to_owned(),
            detail,
            note: Some(Note {
                text: note.to_owned(),
                blocks,
            }),
        }
    }
}

/// Where details wrap, so that the report reads in an 100-column terminal.
pub const WIDTH: usize = 100;

/// The lines as a table: status and item left-aligned, details wrapped under their column.
pub fn render(lines: &[Line]) -> String {
    let status_width = "unknown".len();
    let item_width = lines.iter().map(|l| l.item.len()).max().unwrap_or(0);
    let indent = status_width + 2 + item_width + 2;
    let mut out = String::new();
    for line in lines {
        let detail = wrap(&line.detail, WIDTH.saturating_sub(indent).max(40));
        for (index, text) in detail.iter().enumerate() {
            if index == 0 {
                out.push_str(&format!(
                    "{:<status_width$}  {:<item_width$}  {text}\n",
                    line.status, line.item
                ));
            } else {
                out.push_str(&format!("{:indent$}{text}\n", ""));
            }
        }
    }
    out
}

/// Words of `text` in lines of at most `width` characters (a longer word stands alone).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        if !current.is_empty() && current.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    lines
}

/// The last line and the exit status: 1 when something stops a scenario from running.
pub fn verdict(lines: &[Line]) -> (String, ExitCode) {
    let notes = |blocks: bool| -> Vec<&str> {
        lines
            .iter()
            .filter_map(|l| l.note.as_ref())
            .filter(|n| n.blocks == blocks)
            .map(|n| n.text.as_str())
            .collect()
    };
    let (problems, warnings) = (notes(true), notes(false));
    let count = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    if !problems.is_empty() {
        let mut text = format!(
            "doctor: {} — a scenario could not run: {}",
            count(problems.len(), "problem"),
            problems.join("; ")
        );
        if !warnings.is_empty() {
            text.push_str(&format!(
                " (and {}: {})",
                count(warnings.len(), "warning"),
                warnings.join("; ")
            ));
        }
        return (text, ExitCode::FAILURE);
    }
    if !warnings.is_empty() {
        return (
            format!(
                "doctor: nothing stops a run; {} — {}",
                count(warnings.len(), "warning"),
                warnings.join("; ")
            ),
            ExitCode::SUCCESS,
        );
    }
    (
        "doctor: ready — every scenario can run".to_owned(),
        ExitCode::SUCCESS,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_details_wrap_under_their_column() {
        let lines = [
            Line::ok("cc", "/usr/bin/cc"),
            Line::warning(
                Status::Missing,
                "netem",
                "CONFIG_NET_SCH_NETEM is not set: latency faults fall back to the proxy",
                "netem missing",
            ),
        ];
        let text = render(&lines);
        assert_eq!(
            text,
            "ok       cc     /usr/bin/cc\n\
             missing  netem  CONFIG_NET_SCH_NETEM is not set: latency faults fall back to the proxy\n"
        );
        let long = [Line::ok("disk", "word ".repeat(40))];
        let text = render(&long);
        let rows: Vec<&str> = text.lines().collect();
        assert!(rows.len() > 1);
        assert!(rows.iter().all(|r| r.len() <= WIDTH), "{text}");
        assert!(
            rows[1].starts_with(&" ".repeat("unknown  disk  ".len())),
            "{text}"
        );
    }

    #[test]
    fn wrap_breaks_between_words() {
        assert_eq!(wrap("a bb ccc dddd", 6), ["a bb", "ccc", "dddd"]);
        assert_eq!(wrap("", 10), [""]);
        assert_eq!(
            wrap("averyveryverylongword x", 5),
            ["averyveryverylongword", "x"]
        );
    }

    #[test]
    fn a_blocker_fails_and_warnings_do_not() {
        let netem = Line::warning(Status::Missing, "netem", "", "netem missing");
        let engine = Line::blocker(Status::Missing, "engine", "", "no Docker engine answers");
        let (text, code) = verdict(&[Line::ok("cc", ""), netem.clone()]);
        assert_eq!(
            text,
            "doctor: nothing stops a run; 1 warning — netem missing"
        );
        assert_eq!(code, ExitCode::SUCCESS);
        let (text, code) = verdict(&[engine, netem]);
        assert_eq!(
            text,
            "doctor: 1 problem — a scenario could not run: no Docker engine answers \
             (and 1 warning: netem missing)"
        );
        assert_eq!(code, ExitCode::FAILURE);
        let (text, code) = verdict(&[Line::ok("cc", "")]);
        assert_eq!(text, "doctor: ready — every scenario can run");
        assert_eq!(code, ExitCode::SUCCESS);
    }
}
