//! Errors in scenario files, rendered as `file:line:col` with the offending line and the valid choices.

use std::fmt;
use std::ops::Range;

/// One problem at one place in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// What would be valid here, e.g. the list of choices.
    pub help: Option<String>,
    source_line: String,
    underline: Range<usize>,
}

/// Every problem found in one scenario file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    pub file: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl ScenarioError {
    /// A problem at byte range `span` of `source`. An empty or out-of-range span points at 1:1.
    pub fn at(file: &str, source: &str, span: Range<usize>, message: impl Into<String>) -> Self {
        Self {
            file: file.to_string(),
            diagnostics: vec![Diagnostic::new(source, span, message.into(), None)],
        }
    }

    /// A problem with the file as a whole (unreadable, for instance).
    pub fn whole_file(file: &str, message: impl Into<String>) -> Self {
        Self::at(file, "", 0..0, message)
    }

    pub fn first(&self) -> &Diagnostic {
        &self.diagnostics[0]
    }
}

impl Diagnostic {
    pub fn new(source: &str, span: Range<usize>, message: String, help: Option<String>) -> Self {
        let start = floor_char_boundary(source, span.start);
        let end = floor_char_boundary(source, span.end.max(start));
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        let line = source[..start].matches('\n').count() + 1;
        let column = source[line_start..start].chars().count() + 1;
        let width = source[start..end.min(line_end)].chars().count().max(1);
        Self {
            line,
            column,
            message,
            help,
            source_line: source[line_start..line_end].to_string(),
            underline: (column - 1)..(column - 1 + width),
        }
    }
}

/// The largest char boundary at or below `index`, within `text`.
fn floor_char_boundary(text: &str, index: usize) -> usize {
    let mut index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, d) in self.diagnostics.iter().enumerate() {
            if n > 0 {
                writeln!(f)?;
            }
            writeln!(
                f,
                "error: {}:{}:{}: {}",
                self.file, d.line, d.column, d.message
            )?;
            if !d.source_line.is_empty() {
                let gutter = d.line.to_string().len();
                writeln!(f, "{:gutter$} |", "")?;
                writeln!(f, "{} | {}", d.line, d.source_line)?;
                let carets = "^".repeat(d.underline.len().max(1));
                writeln!(
                    f,
                    "{:gutter$} | {}{}",
                    "",
                    " ".repeat(d.underline.start),
                    carets
                )?;
            }
            if let Some(help) = &d.help {
                writeln!(f, "  = help: {help}")?;
            }
        }
        Ok(())
    }
}

/// Collects diagnostics for one file while validating.
pub(super) struct Diagnostics<'a> {
    file: &'a str,
    source: &'a str,
    found: Vec<Diagnostic>,
}

impl<'a> Diagnostics<'a> {
    pub fn new(file: &'a str, source: &'a str) -> Self {
        Self {
            file,
            source,
            found: Vec::new(),
        }
    }

    pub fn error(&mut self, span: Range<usize>, message: impl Into<String>, help: Option<String>) {
        self.found
            .push(Diagnostic::new(self.source, span, message.into(), help));
    }

    pub fn finish(mut self) -> Result<(), ScenarioError> {
        if self.found.is_empty() {
            return Ok(());
        }
        self.found.sort_by_key(|d| (d.line, d.column));
        Err(ScenarioError {
            file: self.file.to_string(),
            diagnostics: self.found,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_at_line_and_column() {
        let source = "name = \"x\"\nkind = \"kil\"\n";
        let at = source.find("\"kil\"").unwrap();
        let err = ScenarioError::at("s.toml", source, at..at + 5, "unknown fault kind");
        assert_eq!((err.first().line, err.first().column), (2, 8));
        let text = err.to_string();
        assert!(
            text.starts_with("error: s.toml:2:8: unknown fault kind"),
            "{text}"
        );
        assert!(text.contains("2 | kind = \"kil\""), "{text}");
        assert!(text.contains("^^^^^"), "{text}");
    }

    #[test]
    fn out_of_range_spans_do_not_panic() {
        let err = ScenarioError::at("s.toml", "ab", 10..20, "x");
        assert_eq!(err.first().line, 1);
    }
}
