//! The report page: header, checks with their details, diagnoses with the log lines around
//! their evidence, and the timeline (fault bands, node lanes, client lanes, plots) on one axis.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use serde_json::Value;

use crate::checker::Verdict;
use crate::history::{F, Op};
use crate::report::Results;

use super::details::{self, Anchors};
use super::plots;
use super::svg::{self, Span, Window};
use super::timeline::{self, Band, ClientLane, MarkKind};
use super::{RunFiles, escape};

const CSS: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");
/// Above this many client operations, only failed and unknown ones carry their text in the
/// page (hovering an acknowledged one still shows its index, kind and times).
const TEXT_FOR_ALL_UP_TO: usize = 20_000;
/// Log lines shown before and after a diagnosis's evidence.
const LOG_CONTEXT: usize = 3;

/// The whole page.
pub fn render(run: &RunFiles) -> String {
    let ops = &run.ops;
    let end = run_end(run);
    let bands = timeline::bands(ops, end);
    let mut nodes = timeline::node_lanes(ops, &bands, end);
    // A run stopped during setup recorded no topology: its nodes are those results.json lists.
    for node in run.results.iter().flat_map(|r| r.nodes.keys()) {
        if !nodes.iter().any(|lane| lane.node == *node) {
            nodes.push(timeline::NodeLane {
                node: node.clone(),
                ..timeline::NodeLane::default()
            });
        }
    }
    if let Some(results) = &run.results {
        timeline::engine_states(&mut nodes, results, end);
    }
    let anchors = Anchors::from_ops(ops);
    let mut clients = timeline::client_lanes(ops);
    if let Some(results) = &run.results {
        let losses = loss_lanes(results, &anchors, &clients);
        clients.extend(losses);
    }
    let title = run
        .results
        .as_ref()
        .map_or_else(|| run.scenario_name(), |r| r.scenario.clone());

    let mut out = String::with_capacity(1 << 16);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} — chaosbed</title><style>{CSS}</style></head><body>",
        escape(&title)
    );
    out.push_str("<div id=\"script-errors\" hidden></div>");
    header(&mut out, run, &title);
    if let Some(results) = &run.results {
        checks(&mut out, results, &anchors);
    }
    diagnoses(&mut out, ops, &run.dir);
    let span = Span { start: 0.0, end };
    let windows = availability_windows(run.results.as_ref());
    out.push_str("<section id=\"timeline\"><h2>Timeline</h2>");
    legend(&mut out);
    out.push_str(
        "<p class=\"hint\">Scroll over the timeline to zoom, drag to pan, double-click for the whole run. \
         Hover a band, a lane or an operation for what it was; <code>#op-N</code> in the address shows operation N.</p>\
         <div class=\"toolbar\"><button data-view=\"all\">whole run</button><button data-view=\"workload\">workload</button>\
         <span id=\"view-range\"></span></div>",
    );
    let first_client = clients
        .iter()
        .flat_map(|l| l.ops.first())
        .map(|m| m.start)
        .fold(f64::MAX, f64::min);
    let _ = write!(
        out,
        "<div id=\"rows\" data-start=\"0\" data-end=\"{end:.3}\" data-workload=\"{:.3}\">",
        if first_client < end {
            (first_client - 2.0).max(0.0)
        } else {
            0.0
        }
    );
    row(
        &mut out,
        "time",
        "",
        "<svg id=\"axis\" height=\"22\"></svg>",
        "axis-row",
    );
    phase_marks(&mut out, run.results.as_ref(), span);
    row(
        &mut out,
        "faults",
        &format!(
            "{} fault{}",
            bands.len(),
            if bands.len() == 1 { "" } else { "s" }
        ),
        &svg::band_row(&bands, span),
        "band-row",
    );
    out.push_str("<div class=\"group\">nodes</div>");
    for lane in &nodes {
        let label = match lane.versions.last() {
            Some(v) if lane.versions.len() > 1 => format!("{} → {}", lane.versions[0].what, v.what),
            Some(v) => v.what.clone(),
            None => String::new(),
        };
        row(
            &mut out,
            &lane.node,
            &label,
            &svg::node_lane(lane, &bands, span),
            "node-row",
        );
    }
    if !clients.is_empty() {
        out.push_str("<div class=\"group\">clients</div>");
    }
    for (i, lane) in clients.iter().enumerate() {
        let note = format!("{} ops", lane.ops.len());
        let drawing = svg::client_lane(lane, &bands, span).replacen(
            "<svg ",
            &format!("<svg data-lane=\"{i}\" "),
            1,
        );
        row(&mut out, &lane.process, &note, &drawing, "client-row");
    }
    plots_rows(&mut out, &clients, ops, &bands, &windows, span, end);
    let node_names: Vec<String> = nodes.iter().map(|l| l.node.clone()).collect();
    resource_rows(&mut out, run, &node_names, &bands, span);
    out.push_str("</div><div id=\"tooltip\" hidden></div></section>");
    if let Some(results) = &run.results {
        phases(&mut out, results);
    }
    let _ = write!(
        out,
        "<script type=\"application/json\" id=\"ops-data\">{}</script>",
        ops_json(&clients).replace("</", "<\\/")
    );
    let _ = writeln!(out, "<script>{SCRIPT}</script></body></html>");
    out
}

/// What the checks found lost (every id they list under `lost.ids`, and the read-back's
/// `not_read_back.ids`), each as a lane of its own: a mark where the lost operation started.
fn loss_lanes(results: &Results, anchors: &Anchors, clients: &[ClientLane]) -> Vec<ClientLane> {
    let by_index: std::collections::HashMap<u64, &timeline::OpMark> = clients
        .iter()
        .flat_map(|l| &l.ops)
        .map(|m| (m.index, m))
        .collect();
    let mut lanes = Vec::new();
    for check in &results.checks {
        for (path, what) in [
            ("/lost/ids", "lost"),
            ("/read_back/not_read_back/ids", "not read back"),
        ] {
            let Some(ids) = check.details.pointer(path).and_then(Value::as_array) else {
                continue;
            };
            let mut marks: Vec<timeline::OpMark> = ids
                .iter()
                .filter_map(Value::as_str)
                .filter_map(|id| by_index.get(&anchors.get(id)?))
                .map(|op| timeline::OpMark {
                    end: Some(op.start),
                    kind: MarkKind::Fail,
                    f: format!("{what} ({})", check.name),
                    text: format!("{what} per {}: {}", check.name, op.text),
                    ..(*op).clone()
                })
                .collect();
            if marks.is_empty() {
                continue;
            }
            marks.sort_by(|a, b| a.start.total_cmp(&b.start));
            lanes.push(ClientLane {
                process: format!("{what} ({})", check.name),
                ops: marks,
            });
        }
    }
    lanes
}

/// The run's length: its results' duration, or its last op when it has none.
fn run_end(run: &RunFiles) -> f64 {
    let last = run.ops.iter().map(Op::time_secs).fold(0.0, f64::max);
    let duration = run.results.as_ref().map_or(0.0, |r| r.duration_secs);
    last.max(duration).max(1.0)
}

fn row(out: &mut String, label: &str, note: &str, drawing: &str, class: &str) {
    let _ = write!(
        out,
        "<div class=\"row {class}\"><div class=\"label\" title=\"{0}\">{0}<small>{1}</small></div><div class=\"track\">{drawing}</div></div>",
        escape(label),
        escape(note)
    );
}

fn verdict_word(verdict: Verdict, error: bool) -> (&'static str, &'static str) {
    match (verdict, error) {
        (Verdict::Valid, _) => ("PASS", "valid"),
        (Verdict::Invalid, _) => ("FAIL", "invalid"),
        (Verdict::Unknown, true) => ("ERROR", "unknown"),
        (Verdict::Unknown, false) => ("UNKNOWN", "unknown"),
    }
}

fn header(out: &mut String, run: &RunFiles, title: &str) {
    out.push_str("<header>");
    let Some(r) = &run.results else {
        let _ = write!(
            out,
            "<h1>{} <span class=\"verdict unknown\">NO RESULTS</span></h1><p>The run left no results.json (it was stopped before it could write one); this page shows what its history holds.</p></header>",
            escape(title)
        );
        return;
    };
    let (word, class) = verdict_word(r.verdict, r.error.is_some());
    let _ = write!(
        out,
        "<h1>{} <span class=\"verdict {class}\">{word}</span></h1><p class=\"description\">{}</p>",
        escape(&r.scenario),
        escape(&r.description)
    );
    if let Some(error) = &r.error {
        let _ = write!(
            out,
            "<p class=\"error\">The run could not finish: {}</p>",
            escape(error)
        );
    }
    out.push_str("<table class=\"meta\">");
    let mut meta = |key: &str, value: String| {
        let _ = write!(out, "<tr><th>{key}</th><td>{value}</td></tr>");
    };
    meta("headline", escape(&crate::report::suite::headline(r)));
    meta(
        "duration",
        format!(
            "{:.1} s, started {}",
            r.duration_secs,
            escape(&r.started_at)
        ),
    );
    meta("run", escape(&r.run_id));
    if let Some(seed) = r.seed {
        meta("seed", seed.to_string());
    }
    let images = r
        .images
        .iter()
        .map(|(system, image)| format!("{}: <code>{}</code>", escape(system), escape(image)))
        .collect::<Vec<_>>()
        .join("<br>");
    meta("images", images);
    meta(
        "chaosbed",
        escape(r.chaosbed.as_deref().unwrap_or("(not recorded)")),
    );
    let rerun = format!(
        "<code>chaosbed run {}</code> (the scenario as it ran)<br><code>cargo xtask chaos {}</code> (the suite's file)",
        escape(&run.dir.join("scenario.toml").display().to_string()),
        escape(&r.scenario)
    );
    meta("rerun", rerun);
    meta(
        "files",
        "<a href=\"results.json\">results.json</a> · <a href=\"history.jsonl\">history.jsonl</a> · <a href=\"scenario.toml\">scenario.toml</a> · <a href=\"junit.xml\">junit.xml</a> · <a href=\"logs/\">logs/</a>".into(),
    );
    out.push_str("</table></header>");
}

fn checks(out: &mut String, r: &Results, anchors: &Anchors) {
    out.push_str("<section id=\"checks\"><h2>Checks</h2><table class=\"checks\"><tr><th>check</th><th>verdict</th><th>summary (click for details)</th></tr>");
    for check in &r.checks {
        let expected = match (check.expected, check.observed) {
            (Some(expected), Some(observed)) => format!(
                "<br><small>expected {}, observed {} (a negative control)</small>",
                super::verdict_css(expected),
                super::verdict_css(observed)
            ),
            _ => String::new(),
        };
        let body = if check.details.is_null() {
            "<p class=\"none\">no details</p>".to_string()
        } else {
            details::render(&check.details, anchors)
        };
        let _ = write!(
            out,
            "<tr id=\"check-{name}\"><td>{name}</td><td class=\"verdict {v}\">{v}{expected}</td><td><details><summary>{}</summary>{body}</details></td></tr>",
            escape(&check.summary),
            name = escape(&check.name),
            v = super::verdict_css(check.verdict),
        );
    }
    out.push_str("</table></section>");
}

/// Each diagnosis with its evidence, and the log lines around each piece of evidence found in
/// the node's log.
fn diagnoses(out: &mut String, ops: &[Op], dir: &Path) {
    let found: Vec<&Op> = ops.iter().filter(|op| op.f == F::Diagnosis).collect();
    if found.is_empty() {
        return;
    }
    out.push_str("<section id=\"diagnoses\"><h2>Diagnoses</h2>");
    for op in found {
        let v = &op.value;
        let node = v["node"].as_str().unwrap_or("");
        let _ = write!(
            out,
            "<div class=\"diagnosis\"><h3>{} <span class=\"cause\">{}</span></h3><p>{}</p>",
            escape(if node.is_empty() { "the run" } else { node }),
            escape(v["cause"].as_str().unwrap_or("?")),
            escape(v["explanation"].as_str().unwrap_or(""))
        );
        let log_name = format!("logs/{node}.log");
        let log = (!node.is_empty())
            .then(|| std::fs::read_to_string(dir.join(&log_name)).ok())
            .flatten();
        for evidence in v["evidence"].as_array().into_iter().flatten().take(5) {
            let evidence = evidence.as_str().unwrap_or_default();
            let _ = write!(out, "<p class=\"evidence\">{}</p>", escape(evidence));
            if let Some(context) = log.as_deref().and_then(|log| log_context(log, evidence)) {
                let _ = write!(
                    out,
                    "<pre class=\"log\">{context}</pre><p class=\"log-link\"><a href=\"{log_name}\">{log_name}</a></p>",
                );
            }
        }
        if !node.is_empty() && log.is_some() {
            let _ = write!(
                out,
                "<p class=\"log-link\">the whole log: <a href=\"{log_name}\">{log_name}</a></p>"
            );
        }
        out.push_str("</div>");
    }
    out.push_str("</section>");
}

/// The lines around the first line of `log` that holds `evidence` (or its longest stretch
/// without the harness's words around it), the found line marked; escaped.
pub fn log_context(log: &str, evidence: &str) -> Option<String> {
    let needle = evidence.trim();
    let needle = needle
        .split_once("…")
        .map_or(needle, |(head, _)| head)
        .trim_matches(|c: char| c == '"' || c.is_whitespace());
    if needle.len() < 8 {
        return None;
    }
    let lines: Vec<&str> = log.lines().collect();
    let at = lines.iter().position(|l| l.contains(needle)).or_else(|| {
        // The evidence may quote a line the diagnosis shortened: try its first 60 characters.
        let head: String = needle.chars().take(60).collect();
        (head.len() >= 20)
            .then(|| lines.iter().position(|l| l.contains(head.as_str())))
            .flatten()
    })?;
    let from = at.saturating_sub(LOG_CONTEXT);
    let to = (at + LOG_CONTEXT + 1).min(lines.len());
    let mut out = String::new();
    for (i, line) in lines[from..to].iter().enumerate() {
        let line = timeline::shorten(line, 400);
        if from + i == at {
            let _ = writeln!(out, "<mark>{:>6}  {}</mark>", from + i + 1, escape(&line));
        } else {
            let _ = writeln!(out, "{:>6}  {}", from + i + 1, escape(&line));
        }
    }
    Some(out)
}

fn legend(out: &mut String) {
    out.push_str("<div class=\"legend\"><span>faults:</span>");
    for (class, words) in [
        ("kill", "kill / stop / restart"),
        ("pause", "pause"),
        ("partition", "partition"),
        ("packet", "packet loss / bandwidth / latency"),
        ("clock", "clock skew"),
        ("resource", "memory / CPU / disk"),
        ("upgrade", "upgrade"),
    ] {
        let _ = write!(out, "<span class=\"swatch band {class}\"></span>{words}");
    }
    out.push_str("<br><span>nodes:</span><span class=\"swatch up\"></span>up");
    for (class, words) in [
        ("unstarted", "not started yet"),
        ("down", "down"),
        ("paused", "paused"),
        ("cut-off", "cut off"),
        ("degraded", "network degraded"),
        ("skewed", "clock skewed"),
        ("limited", "limited"),
        ("rolling", "being upgraded"),
    ] {
        let _ = write!(out, "<span class=\"swatch state {class}\"></span>{words}");
    }
    out.push_str(
        "<span class=\"swatch role leader\"></span>leader / owner<span class=\"swatch role member\"></span>follower / member\
         <span class=\"swatch role absent\"></span>unreachable / not serving\
         <br><span>operations:</span><span class=\"swatch op ok\"></span>ok<span class=\"swatch op info\"></span>unknown (info)\
         <span class=\"swatch op fail\"></span>failed<span class=\"swatch op event\"></span>event\
         <span class=\"swatch unavailable\"></span>no success (availability)</div>",
    );
}

/// Where each phase of the run ended, as ticks on the axis row.
fn phase_marks(out: &mut String, results: Option<&Results>, span: Span) {
    let Some(r) = results else { return };
    let mut at = 0.0;
    let mut marks = String::new();
    for phase in &r.phases {
        let start = at;
        at += phase.seconds;
        let _ = write!(
            marks,
            "<rect class=\"phase\" x=\"{start:.3}\" y=\"0\" width=\"{:.3}\" height=\"8\"><title>{}: {:.1} s to {:.1} s</title></rect><line class=\"phase-end\" x1=\"{at:.3}\" x2=\"{at:.3}\" y1=\"0\" y2=\"8\"/>",
            phase.seconds.max(0.05),
            escape(&phase.phase),
            start,
            at
        );
    }
    let drawing = format!(
        "<svg class=\"zoomable phases\" viewBox=\"{:.3} 0 {:.3} 8\" preserveAspectRatio=\"none\" height=\"8\">{marks}</svg>",
        span.start,
        (span.end - span.start).max(0.001)
    );
    row(out, "phases", "", &drawing, "phase-row");
}

fn availability_windows(results: Option<&Results>) -> Vec<Window> {
    let Some(r) = results else { return Vec::new() };
    r.checks
        .iter()
        .filter(|c| c.name == "availability")
        .flat_map(|c| c.details["windows"].as_array().cloned().unwrap_or_default())
        .filter_map(|w| {
            Some(Window {
                start: w["start"].as_f64()?,
                end: w["end"].as_f64()?,
            })
        })
        .collect()
}

fn plots_rows(
    out: &mut String,
    clients: &[ClientLane],
    ops: &[Op],
    bands: &[Band],
    windows: &[Window],
    span: Span,
    end: f64,
) {
    let throughput = plots::throughput(clients, end);
    let latencies = plots::latencies(clients, ops, end);
    if throughput.is_empty() && latencies.is_empty() {
        return;
    }
    out.push_str("<div class=\"group\">plots</div>");
    for t in &throughput {
        let (drawing, max) = svg::throughput_plot(t, bands, windows, span);
        let per = if t.bucket == 1.0 {
            "s".to_string()
        } else {
            format!("{} s", t.bucket)
        };
        let total: u32 = t.counts.iter().map(|c| c[0]).sum();
        let axis = format!("<span class=\"y top\">{max}</span><span class=\"y bottom\">0</span>");
        let _ = write!(
            out,
            "<div class=\"row plot-row\"><div class=\"label\">{} per {per}<small>{total} ok · green ok, pink failed, orange unknown</small>{axis}</div><div class=\"track\">{drawing}</div></div>",
            escape(&t.f)
        );
    }
    for l in &latencies {
        let (drawing, axis) = svg::latency_plot(l, bands, windows, span);
        let mut ticks = String::new();
        for decade in axis.lo..=axis.hi {
            let top = axis.y(10f64.powi(decade));
            let _ = write!(
                ticks,
                "<span class=\"y\" style=\"top:{:.0}px\">{}</span>",
                top - 6.0,
                decade_label(decade)
            );
        }
        let _ = write!(
            out,
            "<div class=\"row plot-row\"><div class=\"label\">{} latency<small>{} ops, {} drawn · lines p50, p99</small>{ticks}</div><div class=\"track\">{drawing}</div></div>",
            escape(&l.f),
            l.operations,
            l.points.len()
        );
    }
}

/// A row per node with its memory against its limit and its CPU, the OOM kill marked.
fn resource_rows(out: &mut String, run: &RunFiles, nodes: &[String], bands: &[Band], span: Span) {
    let resources = plots::resources(&run.ops, nodes);
    if resources.is_empty() {
        return;
    }
    let cpu_top = resources
        .iter()
        .map(plots::NodeResources::max_cpu)
        .fold(0.0, f64::max)
        .max(0.5);
    let _ = write!(
        out,
        "<div class=\"group\">resources, sampled each second <span class=\"legend\"><span class=\"swatch memory\"></span>memory in use<span class=\"swatch limit\"></span>its limit<span class=\"swatch cpu\"></span>CPU (top: {cpu_top:.1} cores)<span class=\"swatch oom\"></span>OOM kill (memory at its limit)</span></div>"
    );
    for r in &resources {
        let oom = run.results.as_ref().and_then(|results| {
            let node = results.nodes.get(&r.node).filter(|n| n.state.oom_killed)?;
            let last = r.samples.last()?.0;
            let killed = node
                .state
                .finished_at
                .as_deref()
                .and_then(|at| timeline::seconds_between(&results.started_at, at))
                .filter(|at| *at >= last);
            Some(killed.unwrap_or(last))
        });
        let limit = r.limit().map_or_else(
            || "no limit".to_string(),
            |l| format!("limit {}", svg::mebibytes(l)),
        );
        let note = format!(
            "max {} · {limit} · CPU max {:.2}{}",
            svg::mebibytes(r.max_memory()),
            r.max_cpu(),
            oom.map(|at| format!(" · OOM-killed at {at:.1} s"))
                .unwrap_or_default()
        );
        let _ = write!(
            out,
            "<div class=\"row resource-row\"><div class=\"label\">{}<small>{}</small></div><div class=\"track\">{}</div></div>",
            escape(&r.node),
            escape(&note),
            svg::resource_row(r, cpu_top, oom, bands, span)
        );
    }
}

fn decade_label(decade: i32) -> String {
    match decade {
        d if d <= -4 => format!("{} µs", 10f64.powi(d + 6)),
        d if d <= -1 => format!("{} ms", 10f64.powi(d + 3)),
        d => format!("{} s", 10f64.powi(d)),
    }
}

fn phases(out: &mut String, r: &Results) {
    if r.phases.is_empty() {
        return;
    }
    out.push_str("<section id=\"phases\"><h2>Phases</h2><table class=\"records\"><tr><th>phase</th><th>seconds</th></tr>");
    for p in &r.phases {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{:.1}</td></tr>",
            escape(&p.phase),
            p.seconds
        );
    }
    out.push_str("</table></section>");
}

/// Every client op for the page's script: `{"f": [names], "lanes": [[[index, start, end, kind,
/// f, text], ...], ...]}`; `end` is -1 for an op that never completed, `kind` 0 ok, 1 unknown,
/// 2 failed, 3 event.
fn ops_json(clients: &[ClientLane]) -> String {
    let total: usize = clients.iter().map(|l| l.ops.len()).sum();
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    for mark in clients.iter().flat_map(|l| &l.ops) {
        let next = names.len();
        names.entry(mark.f.as_str()).or_insert(next);
    }
    let mut by_index: Vec<&str> = vec![""; names.len()];
    for (name, i) in &names {
        by_index[*i] = name;
    }
    let mut out = String::with_capacity(total * 48 + 64);
    out.push_str("{\"f\":");
    out.push_str(&serde_json::to_string(&by_index).unwrap_or_default());
    out.push_str(",\"lanes\":[");
    for (li, lane) in clients.iter().enumerate() {
        if li > 0 {
            out.push(',');
        }
        out.push('[');
        for (i, mark) in lane.ops.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let kind = match mark.kind {
                MarkKind::Ok => 0,
                MarkKind::Info => 1,
                MarkKind::Fail => 2,
                MarkKind::Event => 3,
            };
            let text = if total <= TEXT_FOR_ALL_UP_TO || mark.kind != MarkKind::Ok {
                Value::String(mark.text.clone()).to_string()
            } else {
                "\"\"".to_string()
            };
            let _ = write!(
                out,
                "[{},{:.3},{},{kind},{},{text}]",
                mark.index,
                mark.start,
                mark.end.map_or("-1".to_string(), |e| format!("{e:.3}")),
                names[mark.f.as_str()]
            );
        }
        out.push(']');
    }
    out.push_str("]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_context_marks_the_evidence_line_with_three_lines_around() {
        let log: String = (1..=20).map(|i| format!("line {i} of the log\n")).collect();
        let context = log_context(&log, "line 10 of the log").unwrap();
        assert!(
            context.contains("<mark>    10  line 10 of the log</mark>"),
            "{context}"
        );
        assert!(context.contains("     7  line 7") && context.contains("    13  line 13"));
        assert!(!context.contains("line 6 ") && !context.contains("line 14"));
        assert_eq!(log_context(&log, "nowhere in this log"), None);
    }

    #[test]
    fn decades_read_in_the_unit_a_person_uses() {
        assert_eq!(decade_label(-3), "1 ms");
        assert_eq!(decade_label(-1), "100 ms");
        assert_eq!(decade_label(1), "10 s");
        assert_eq!(decade_label(-5), "10 µs");
    }
}
