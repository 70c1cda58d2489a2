//! The timeline's drawings as SVG: every lane and plot shares one x axis in seconds (the page's
//! script zooms them together by changing their viewBox), so nothing inside is text; labels and
//! axes live beside them in HTML.

use std::fmt::Write;

use super::escape;
use super::plots::{Latency, Throughput};
use super::timeline::{Band, ClientLane, MarkKind, NodeLane};

/// Heights, in user units (one unit is one pixel at the page's default size).
pub const NODE_HEIGHT: f64 = 20.0;
pub const CLIENT_HEIGHT: f64 = 14.0;
pub const PLOT_HEIGHT: f64 = 110.0;
pub const BAND_HEIGHT: f64 = 22.0;

/// The x range every drawing spans.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub start: f64,
    pub end: f64,
}

impl Span {
    fn width(self) -> f64 {
        (self.end - self.start).max(0.001)
    }

    /// Ops closer than this merge into one box (about a pixel at 4 screens' width).
    fn resolution(self) -> f64 {
        self.width() / 6000.0
    }
}

fn open_svg(out: &mut String, span: Span, height: f64, class: &str) {
    let _ = write!(
        out,
        "<svg class=\"zoomable {class}\" viewBox=\"{:.3} 0 {:.3} {height}\" preserveAspectRatio=\"none\" height=\"{height}\">",
        span.start,
        span.width()
    );
}

/// The fault bands, faint, behind a lane or plot of `height`.
fn band_backdrop(out: &mut String, bands: &[Band], height: f64) {
    for band in bands {
        let _ = write!(
            out,
            "<rect class=\"backdrop {}\" x=\"{:.3}\" y=\"0\" width=\"{:.3}\" height=\"{height}\"/>",
            band.class.css(),
            band.start,
            (band.end - band.start).max(0.05),
        );
    }
}

/// The row of fault bands themselves, each with its evidence as its hover.
pub fn band_row(bands: &[Band], span: Span) -> String {
    let mut out = String::new();
    open_svg(&mut out, span, BAND_HEIGHT, "bands");
    for (i, band) in bands.iter().enumerate() {
        let status = match (band.applied, band.healed) {
            (false, _) => " (not applied)",
            (true, false) if band.end > band.start => " (never healed)",
            _ => "",
        };
        let _ = write!(
            out,
            "<rect class=\"band {}{}\" data-band=\"{i}\" x=\"{:.3}\" y=\"1\" width=\"{:.3}\" height=\"{}\"><title>{} {} from {:.1} s to {:.1} s{status}\n{}</title></rect>",
            band.class.css(),
            if band.applied { "" } else { " failed" },
            band.start,
            (band.end - band.start).max(0.05),
            BAND_HEIGHT - 2.0,
            escape(&band.kind),
            escape(&band.targets.join(", ")),
            band.start,
            band.end,
            escape(&band.evidence),
        );
    }
    out.push_str("</svg><div class=\"band-labels\">");
    for band in bands {
        let left = (band.start - span.start) / span.width() * 100.0;
        let _ = write!(
            out,
            "<span data-start=\"{:.3}\" data-end=\"{:.3}\" style=\"left:{left:.3}%\">{} {}</span>",
            band.start,
            band.end,
            escape(&band.kind),
            escape(&band.targets.join(", "))
        );
    }
    out.push_str("</div>");
    out
}

/// A node's lane: up unless a state says otherwise; its role along the bottom.
pub fn node_lane(lane: &NodeLane, bands: &[Band], span: Span) -> String {
    let mut out = String::new();
    open_svg(&mut out, span, NODE_HEIGHT, "node");
    band_backdrop(&mut out, bands, NODE_HEIGHT);
    let _ = write!(
        out,
        "<rect class=\"up\" x=\"{:.3}\" y=\"2\" width=\"{:.3}\" height=\"11\"><title>{}: up</title></rect>",
        span.start,
        span.width(),
        escape(&lane.node)
    );
    for state in &lane.states {
        let _ = write!(
            out,
            "<rect class=\"state {}\" x=\"{:.3}\" y=\"2\" width=\"{:.3}\" height=\"11\"><title>{}</title></rect>",
            state.what.css(),
            state.start,
            (state.end - state.start).max(0.05),
            escape(&state.note)
        );
    }
    for role in &lane.roles {
        let _ = write!(
            out,
            "<rect class=\"role {}\" x=\"{:.3}\" y=\"14\" width=\"{:.3}\" height=\"5\"><title>{}</title></rect>",
            role_class(&role.what),
            role.start,
            (role.end - role.start).max(0.05),
            escape(&role.note)
        );
    }
    for (i, version) in lane.versions.iter().enumerate() {
        if i > 0 {
            let _ = write!(
                out,
                "<line class=\"version-change\" x1=\"{0:.3}\" x2=\"{0:.3}\" y1=\"0\" y2=\"{NODE_HEIGHT}\"><title>{1}</title></line>",
                version.start,
                escape(&version.note)
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// The CSS class of a role: what a person looks for first is the leader or owner.
pub fn role_class(role: &str) -> &'static str {
    match role {
        "leader" | "standalone" => "leader",
        "follower" | "observer" | "registered" => "member",
        r if r.starts_with("owner of") => "leader",
        "owns nothing" => "member",
        _ => "absent",
    }
}

/// A client's lane: each operation a box from invocation to completion (one that never
/// completed runs to the end), coloured by how it ended; boxes of acknowledged ops closer than a
/// pixel merge; single events are dots.
pub fn client_lane(lane: &ClientLane, bands: &[Band], span: Span) -> String {
    let mut out = String::new();
    open_svg(&mut out, span, CLIENT_HEIGHT, "client");
    band_backdrop(&mut out, bands, CLIENT_HEIGHT);
    let resolution = span.resolution();
    let y = CLIENT_HEIGHT / 2.0;
    for kind in [
        MarkKind::Ok,
        MarkKind::Event,
        MarkKind::Info,
        MarkKind::Fail,
    ] {
        let mut boxes = String::new();
        let mut dots = String::new();
        let mut run: Option<(f64, f64)> = None;
        for mark in lane.ops.iter().filter(|m| m.kind == kind) {
            let end = mark.end.unwrap_or(span.end);
            if end - mark.start < resolution {
                let _ = write!(dots, "M{:.3} {y}h0", mark.start);
                continue;
            }
            if kind == MarkKind::Ok {
                match &mut run {
                    Some((_, run_end)) if mark.start <= *run_end + resolution => {
                        *run_end = run_end.max(end);
                        continue;
                    }
                    Some((s, e)) => {
                        let _ = write!(boxes, "M{s:.3} {y}H{e:.3}");
                    }
                    None => {}
                }
                run = Some((mark.start, end));
            } else {
                let _ = write!(boxes, "M{:.3} {y}H{end:.3}", mark.start);
            }
        }
        if let Some((s, e)) = run {
            let _ = write!(boxes, "M{s:.3} {y}H{e:.3}");
        }
        if !boxes.is_empty() {
            let _ = write!(out, "<path class=\"ops {}\" d=\"{boxes}\"/>", kind.css());
        }
        if !dots.is_empty() {
            let _ = write!(out, "<path class=\"dots {}\" d=\"{dots}\"/>", kind.css());
        }
    }
    out.push_str("<line class=\"cursor\" x1=\"-1\" x2=\"-1\" y1=\"0\" y2=\"14\"/></svg>");
    out
}

/// Shaded windows (e.g. the availability check's windows without a success).
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start: f64,
    pub end: f64,
}

fn windows_backdrop(out: &mut String, windows: &[Window], height: f64) {
    for w in windows {
        let _ = write!(
            out,
            "<rect class=\"unavailable\" x=\"{:.3}\" y=\"0\" width=\"{:.3}\" height=\"{height}\"><title>no operation succeeded from {:.1} s to {:.1} s</title></rect>",
            w.start,
            (w.end - w.start).max(0.05),
            w.start,
            w.end
        );
    }
}

/// Stacked bars per bucket: acknowledged, failed, unknown. Returns the SVG and the largest
/// bucket's total (the y axis's top).
pub fn throughput_plot(
    t: &Throughput,
    bands: &[Band],
    windows: &[Window],
    span: Span,
) -> (String, u32) {
    let max = t
        .counts
        .iter()
        .map(|c| c.iter().sum::<u32>())
        .max()
        .unwrap_or(0)
        .max(1);
    let scale = (PLOT_HEIGHT - 4.0) / f64::from(max);
    let mut out = String::new();
    open_svg(&mut out, span, PLOT_HEIGHT, "plot");
    band_backdrop(&mut out, bands, PLOT_HEIGHT);
    windows_backdrop(&mut out, windows, PLOT_HEIGHT);
    let mut paths = [String::new(), String::new(), String::new()];
    for (i, counts) in t.counts.iter().enumerate() {
        let x = i as f64 * t.bucket;
        let mut base = PLOT_HEIGHT;
        for (column, count) in counts.iter().enumerate() {
            if *count == 0 {
                continue;
            }
            let h = f64::from(*count) * scale;
            let _ = write!(
                paths[column],
                "M{x:.3} {base:.2}h{:.3}v{:.2}h{:.3}z",
                t.bucket * 0.9,
                -h,
                -t.bucket * 0.9
            );
            base -= h;
        }
    }
    for (path, class) in paths.iter().zip(["ok", "fail", "info"]) {
        if !path.is_empty() {
            let _ = write!(out, "<path class=\"bars {class}\" d=\"{path}\"/>");
        }
    }
    out.push_str("</svg>");
    (out, max)
}

/// Height of a node's resource row.
pub const RESOURCE_HEIGHT: f64 = 44.0;

/// A node's memory as an area against its limit (a dashed line; the row's top is the larger of
/// the two), its CPU as a line against `cpu_top` cores, and an OOM kill as a red mark at `oom`.
pub fn resource_row(
    r: &super::plots::NodeResources,
    cpu_top: f64,
    oom: Option<f64>,
    bands: &[Band],
    span: Span,
) -> String {
    let h = RESOURCE_HEIGHT;
    let top = r.limit().unwrap_or(0).max(r.max_memory()).max(1) as f64;
    let y = |bytes: u64| h - bytes as f64 / top * (h - 2.0);
    let mut out = String::new();
    open_svg(&mut out, span, h, "plot resources");
    band_backdrop(&mut out, bands, h);
    let mut area = String::new();
    if let (Some(first), Some(last)) = (r.samples.first(), r.samples.last()) {
        let _ = write!(area, "M{:.3} {h}", first.0);
        for (at, memory, _, _) in &r.samples {
            let _ = write!(area, "L{at:.3} {:.2}", y(*memory));
        }
        let _ = write!(area, "L{:.3} {h}z", last.0);
        let _ = write!(out, "<path class=\"memory\" d=\"{area}\"/>");
    }
    if let Some(limit) = r.limit() {
        let _ = write!(
            out,
            "<line class=\"limit\" x1=\"{:.3}\" x2=\"{:.3}\" y1=\"{y:.2}\" y2=\"{y:.2}\"><title>memory limit {}</title></line>",
            span.start,
            span.end,
            mebibytes(limit),
            y = y(limit)
        );
    }
    let mut cpu = String::new();
    let mut pen_down = false;
    for (at, _, _, cores) in &r.samples {
        match cores {
            Some(c) => {
                let yc = h - (c / cpu_top.max(0.01)).min(1.0) * (h - 2.0);
                let _ = write!(cpu, "{}{at:.3} {yc:.2}", if pen_down { "L" } else { "M" });
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    if !cpu.is_empty() {
        let _ = write!(out, "<path class=\"cpu\" d=\"{cpu}\"/>");
    }
    if let Some(at) = oom {
        // The kernel OOM-kills in a memory cgroup only when its charge reaches the limit, so
        // the kill is the point where memory met the limit, drawn on from the last sample.
        if let (Some(limit), Some((last_at, last_memory, _, _))) = (r.limit(), r.samples.last()) {
            let _ = write!(
                out,
                "<path class=\"oom-climb\" d=\"M{last_at:.3} {:.2}L{at:.3} {:.2}\"><title>{}: from its last sample ({}) to its limit ({}) at the OOM kill</title></path>",
                y(*last_memory),
                y(limit),
                escape(&r.node),
                mebibytes(*last_memory),
                mebibytes(limit)
            );
        }
        let _ = write!(
            out,
            "<line class=\"oom\" x1=\"{at:.3}\" x2=\"{at:.3}\" y1=\"0\" y2=\"{h}\"><title>{}: OOM-killed at {at:.1} s, its memory at the limit</title></line>",
            escape(&r.node)
        );
    }
    out.push_str("</svg>");
    out
}

pub fn mebibytes(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / 1_048_576.0)
}

/// The latency axis: whole decades of seconds from `lo` to `hi` (log10).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogAxis {
    pub lo: i32,
    pub hi: i32,
}

impl LogAxis {
    pub fn for_values(values: impl Iterator<Item = f64>) -> Self {
        let (mut lo, mut hi) = (f64::MAX, f64::MIN);
        for v in values.filter(|v| *v > 0.0) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if lo > hi {
            return Self { lo: -3, hi: 0 };
        }
        let lo = lo.log10().floor() as i32;
        let hi = (hi.log10().ceil() as i32).max(lo + 1);
        Self { lo, hi }
    }

    pub fn y(self, secs: f64) -> f64 {
        let v = secs.max(10f64.powi(self.lo)).log10();
        let frac = (v - f64::from(self.lo)) / f64::from(self.hi - self.lo);
        (PLOT_HEIGHT - 2.0) - frac * (PLOT_HEIGHT - 4.0)
    }
}

/// Each operation's latency as a dot at its start (log scale), p50 and p99 per bucket as lines.
pub fn latency_plot(
    l: &Latency,
    bands: &[Band],
    windows: &[Window],
    span: Span,
) -> (String, LogAxis) {
    let axis = LogAxis::for_values(l.points.iter().map(|p| p.1));
    let mut out = String::new();
    open_svg(&mut out, span, PLOT_HEIGHT, "plot");
    band_backdrop(&mut out, bands, PLOT_HEIGHT);
    windows_backdrop(&mut out, windows, PLOT_HEIGHT);
    for decade in axis.lo + 1..axis.hi {
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{:.3}\" x2=\"{:.3}\" y1=\"{y:.2}\" y2=\"{y:.2}\"/>",
            span.start,
            span.end,
            y = axis.y(10f64.powi(decade))
        );
    }
    for kind in [MarkKind::Ok, MarkKind::Info, MarkKind::Fail] {
        let mut d = String::new();
        for (at, secs, _) in l.points.iter().filter(|p| p.2 == kind) {
            let _ = write!(d, "M{at:.3} {:.2}h0", axis.y(*secs));
        }
        if !d.is_empty() {
            let _ = write!(out, "<path class=\"dots {}\" d=\"{d}\"/>", kind.css());
        }
    }
    for (name, pick) in [("p50", 1usize), ("p99", 2)] {
        let mut d = String::new();
        let mut previous: Option<f64> = None;
        for q in &l.quantiles {
            let v = if pick == 1 { q.1 } else { q.2 };
            // A bucket without an acknowledged op breaks the line: nothing to join across it.
            let joined = previous.is_some_and(|p| (q.0 - p - l.bucket).abs() < 1e-9);
            let _ = write!(
                d,
                "{}{:.3} {:.2}H{:.3}",
                if joined { "L" } else { "M" },
                q.0,
                axis.y(v),
                q.0 + l.bucket
            );
            previous = Some(q.0);
        }
        if !d.is_empty() {
            let _ = write!(out, "<path class=\"quantile {name}\" d=\"{d}\"/>");
        }
    }
    out.push_str("</svg>");
    (out, axis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::html::timeline::{FaultClass, OpMark};

    const SPAN: Span = Span {
        start: 0.0,
        end: 60.0,
    };

    fn band() -> Band {
        Band {
            kind: "kill".into(),
            class: FaultClass::Kill,
            targets: vec!["zk-3".into()],
            start: 10.0,
            end: 20.0,
            applied: true,
            healed: true,
            evidence: "applied at 10.2 s: {\"took_effect\":true}".into(),
        }
    }

    #[test]
    fn the_band_row_draws_each_fault_where_it_was_with_its_evidence() {
        let svg = band_row(&[band()], SPAN);
        assert!(
            svg.contains(
                "class=\"band kill\" data-band=\"0\" x=\"10.000\" y=\"1\" width=\"10.000\""
            ),
            "{svg}"
        );
        assert!(svg.contains("<title>kill zk-3 from 10.0 s to 20.0 s\napplied at 10.2 s: {&quot;took_effect&quot;:true}</title>"), "{svg}");
        // Labelled with its kind and targets where it starts.
        assert!(svg.contains("<span data-start=\"10.000\" data-end=\"20.000\" style=\"left:16.667%\">kill zk-3</span>"), "{svg}");
    }

    #[test]
    fn acknowledged_ops_closer_than_a_pixel_merge_but_failures_stay_apart() {
        let mark = |start: f64, end: f64, kind| OpMark {
            index: 0,
            start,
            end: Some(end),
            kind,
            f: "write".into(),
            text: String::new(),
        };
        let lane = ClientLane {
            process: "client-0".into(),
            ops: vec![
                mark(1.0, 1.5, MarkKind::Ok),
                mark(1.5, 2.0, MarkKind::Ok),
                mark(5.0, 6.0, MarkKind::Ok),
                mark(7.0, 8.0, MarkKind::Fail),
                mark(8.0, 9.0, MarkKind::Fail),
            ],
        };
        let svg = client_lane(&lane, &[], SPAN);
        assert!(
            svg.contains("<path class=\"ops ok\" d=\"M1.000 7H2.000M5.000 7H6.000\"/>"),
            "{svg}"
        );
        assert!(
            svg.contains("<path class=\"ops fail\" d=\"M7.000 7H8.000M8.000 7H9.000\"/>"),
            "{svg}"
        );
    }

    #[test]
    fn quantile_lines_break_where_no_op_succeeded() {
        let l = Latency {
            f: "write".into(),
            bucket: 1.0,
            points: vec![(0.5, 0.01, MarkKind::Ok)],
            operations: 1,
            quantiles: vec![(0.0, 0.01, 0.01), (1.0, 0.01, 0.01), (5.0, 0.01, 0.01)],
        };
        let (svg, _) = latency_plot(&l, &[], &[], SPAN);
        let p50 = svg.split("class=\"quantile p50\" d=\"").nth(1).unwrap();
        let p50 = &p50[..p50.find('"').unwrap()];
        assert_eq!(p50.matches('M').count(), 2, "{p50}");
        assert_eq!(p50.matches('L').count(), 1, "{p50}");
    }

    #[test]
    fn the_log_axis_spans_whole_decades() {
        let axis = LogAxis::for_values([0.004, 0.2, 3.0].into_iter());
        assert_eq!(axis, LogAxis { lo: -3, hi: 1 });
        assert!(axis.y(0.001) > axis.y(0.01) && axis.y(1.0) > axis.y(10.0));
    }
}
