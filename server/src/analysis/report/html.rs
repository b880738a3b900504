//! The mission report as one self-contained HTML page (no scripts, no external assets): the
//! milestone waterfall and the agent runs over time, then each table of the report with a
//! chart beside it (time by role and milestone, runs by outcome, tokens by type and role,
//! cost, the code's split, issues by severity). Every chart is inline SVG sized by its
//! `viewBox`, so it shrinks with the window and never overflows it; failed and interrupted
//! sessions and the mission's halts are marked. Pure.

use std::fmt::Write as _;

use super::tables::{count, duration, percent, tables};
use super::{MissionReport, ROLES};
use crate::analysis::cost::usd;

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const CSS: &str = "*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;font-size:15px;line-height:1.4;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1d2330;background:#fff}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #dde;padding-bottom:.2rem}
.lead{color:#555}.figures{display:flex;flex-wrap:wrap;gap:1rem;margin:1rem 0}.figure{border:1px solid #dde;border-radius:6px;padding:.6rem 1rem;min-width:9rem}
.figure b{display:block;font-size:1.4rem}
.pair{display:flex;flex-wrap:wrap;gap:1rem 2.5rem;align-items:flex-start}.pair>.table{max-width:100%;overflow-x:auto}.pair>.chart{flex:1 1 24rem;min-width:min(24rem,100%);max-width:32rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.25rem .8rem;text-align:right;border-bottom:1px solid #eef;white-space:nowrap}
td:first-child,th:first-child{text-align:left}th{font-weight:600;color:#444}td.t,th.t{text-align:left}.note{color:#555;font-size:.9rem}
svg{display:block;width:100%;height:auto;max-width:100%}svg text{font-size:13px;fill:#333}svg.chart text{font-size:14px}svg text.value{fill:#555}svg text.halt{fill:#b3261e;font-weight:600}
.legend{font-size:.9rem;color:#444;margin:.3rem 0}.legend span{display:inline-block;width:.85rem;height:.85rem;margin:0 .3rem 0 1rem;vertical-align:-.1rem;border-radius:2px}.legend span:first-child{margin-left:0}
.legend span.failed{background:#fff;border:2px solid #b3261e}.legend span.interrupted{background:#fff;border:2px dashed #888}";

const ROLE_COLORS: [(&str, &str); 3] =
    [("orchestration", "#8e6bbf"), ("implementation", "#3b7dd8"), ("validation", "#e0902f")];
const TYPE_COLORS: [(&str, &str); 4] =
    [("input", "#3b7dd8"), ("cache read", "#7fb3ea"), ("cache write", "#8e6bbf"), ("output", "#e0902f")];
const SEVERITY_COLORS: [(&str, &str); 3] =
    [("blocking", "#b3261e"), ("non_blocking", "#e0902f"), ("suggestion", "#7fb3ea")];
const FAILED: &str = "#b3261e";

fn color(role: &str) -> &'static str {
    ROLE_COLORS.iter().find(|(r, _)| *r == role).map_or("#999", |(_, c)| c)
}

/// A label that fits its column: at most `chars` characters, the rest as `…`.
fn clip(label: &str, chars: usize) -> String {
    if label.chars().count() <= chars {
        label.to_string()
    } else {
        format!("{}…", label.chars().take(chars.saturating_sub(1)).collect::<String>())
    }
}

/// A tooltip from its parts, the empty ones left out (no `orchestrator : 0.0 s`).
fn tooltip(head: &[&str], rest: &[String]) -> String {
    let head: Vec<&str> = head.iter().copied().filter(|p| !p.trim().is_empty()).collect();
    let rest: Vec<&str> = rest.iter().map(String::as_str).filter(|p| !p.trim().is_empty()).collect();
    match (head.is_empty(), rest.is_empty()) {
        (false, false) => format!("{}: {}", head.join(" "), rest.join(", ")),
        (false, true) => head.join(" "),
        (true, _) => rest.join(", "),
    }
}

fn legend(items: &[(&str, &str)]) -> String {
    let mut out = String::from("<p class=\"legend\">");
    for (name, c) in items {
        let _ = write!(out, "<span style=\"background:{c}\"></span>{}", escape(name));
    }
    out.push_str("</p>");
    out
}

// ---- timelines ------------------------------------------------------------------------------

/// The timelines' drawing width (viewBox units, about CSS pixels at a 1,000 px window).
const TIMELINE_W: f64 = 960.0;
const TIMELINE_LABEL_W: f64 = 150.0;
const TIMELINE_PLOT_W: f64 = TIMELINE_W - TIMELINE_LABEL_W - 20.0;

/// Tick step (seconds) giving at most about eight ticks over `total`.
fn tick_step(total: f64) -> f64 {
    let steps = [
        1.0,
        2.0,
        5.0,
        10.0,
        15.0,
        30.0,
        60.0,
        120.0,
        300.0,
        600.0,
        900.0,
        1800.0,
        3600.0,
        7200.0,
        3.0 * 3600.0,
        6.0 * 3600.0,
        12.0 * 3600.0,
        86400.0,
        2.0 * 86400.0,
        7.0 * 86400.0,
    ];
    steps.iter().copied().find(|s| total / s <= 8.0).unwrap_or(total / 8.0)
}

fn tick_label(t: f64, step: f64) -> String {
    if step >= 3600.0 {
        format!("{}h", (t / 3600.0).round())
    } else if step >= 60.0 {
        format!("{}m", (t / 60.0).round())
    } else {
        format!("{}s", t.round())
    }
}

fn axis(out: &mut String, total: f64, y_top: f64, y_bottom: f64) {
    let step = tick_step(total);
    let mut t = 0.0;
    while t <= total + 1e-9 {
        let x = TIMELINE_LABEL_W + TIMELINE_PLOT_W * t / total;
        let anchor = if t == 0.0 { "start" } else { "middle" };
        let _ = write!(out, "<line x1=\"{x:.1}\" y1=\"{y_top:.1}\" x2=\"{x:.1}\" y2=\"{y_bottom:.1}\" stroke=\"#e4e6ee\" stroke-width=\"1\" /><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text>", y_bottom + 16.0, tick_label(t, step));
        t += step;
    }
}

/// A red line where the mission halted, labelled, with the reason in its tooltip.
fn halts(out: &mut String, r: &MissionReport, total: f64, y_top: f64, y_bottom: f64) {
    for h in &r.time.halts {
        let x = TIMELINE_LABEL_W + TIMELINE_PLOT_W * h.at.clamp(0.0, total) / total;
        let anchor = if x > TIMELINE_W - 60.0 { "end" } else { "start" };
        let _ = write!(out, "<g class=\"halt\"><title>{}</title><line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{y_bottom:.1}\" stroke=\"{FAILED}\" stroke-width=\"2\" /><text class=\"halt\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">halted</text></g>", escape(&tooltip(&["halted"], std::slice::from_ref(&h.reason))), y_top - 4.0, if anchor == "end" { x - 4.0 } else { x + 4.0 }, y_top + 8.0);
    }
}

fn open_svg(out: &mut String, class: &str, height: f64, label: &str) {
    let _ = write!(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"{class}\" viewBox=\"0 0 {TIMELINE_W} {height:.0}\" role=\"img\" aria-label=\"{}\">", escape(label));
}

fn waterfall_svg(r: &MissionReport) -> String {
    let ms = &r.time.milestones;
    let total = ms.iter().flat_map(|m| m.spans.iter().map(|s| s.end)).fold(r.time.wall_seconds, f64::max).max(1.0);
    let row_h = 28.0;
    let top = 22.0;
    let height = top + row_h * ms.len().max(1) as f64 + 30.0;
    let mut out = String::new();
    open_svg(&mut out, "timeline waterfall", height, "Milestone waterfall");
    axis(&mut out, total, top - 6.0, height - 30.0);
    for (i, m) in ms.iter().enumerate() {
        let y = top + row_h * i as f64;
        let _ = write!(out, "<g class=\"milestone-bar\" data-milestone=\"{}\"><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\"><title>{}</title>{}</text>", escape(&m.name), TIMELINE_LABEL_W - 8.0, y + 14.0, escape(&m.name), escape(&clip(&m.name, 20)));
        for s in &m.spans {
            let x = TIMELINE_LABEL_W + TIMELINE_PLOT_W * s.start / total;
            let w = (TIMELINE_PLOT_W * (s.end - s.start) / total).max(1.0);
            let _ = write!(out, "<rect class=\"{}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"20\" rx=\"2\" fill=\"{}\"><title>{}</title></rect>", escape(&s.phase), color(&s.phase), escape(&tooltip(&[&m.name, &s.phase], &[duration(s.end - s.start)])));
        }
        out.push_str("</g>");
    }
    halts(&mut out, r, total, top - 6.0, height - 30.0);
    out.push_str("</svg>");
    out
}

fn runs_svg(r: &MissionReport) -> String {
    let sessions = &r.runs.sessions;
    let total = sessions.iter().map(|s| s.end).fold(r.time.wall_seconds, f64::max).max(1.0);
    // Lanes: each role gets as many rows as it has sessions running at once.
    let mut rows: Vec<(String, Vec<usize>)> = Vec::new();
    let mut lane_ends: Vec<(String, f64)> = Vec::new();
    for (i, s) in sessions.iter().enumerate() {
        match lane_ends.iter().position(|(role, end)| *role == s.role && *end <= s.start) {
            Some(k) => {
                lane_ends[k].1 = s.end;
                rows[k].1.push(i);
            }
            None => {
                lane_ends.push((s.role.clone(), s.end));
                rows.push((s.role.clone(), vec![i]));
            }
        }
    }
    rows.sort_by_key(|(role, _)| ROLES.iter().position(|r| r == role));
    let row_h = 20.0;
    let top = 22.0;
    let height = top + row_h * rows.len().max(1) as f64 + 30.0;
    let mut out = String::new();
    open_svg(&mut out, "timeline runs", height, "Agent runs over time");
    axis(&mut out, total, top - 6.0, height - 30.0);
    let mut last_role = "";
    for (i, (role, members)) in rows.iter().enumerate() {
        let y = top + row_h * i as f64;
        if role != last_role {
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                TIMELINE_LABEL_W - 8.0,
                y + 12.0,
                escape(role)
            );
            last_role = role;
        }
        for &k in members {
            let s = &sessions[k];
            let x = TIMELINE_LABEL_W + TIMELINE_PLOT_W * s.start / total;
            let w = (TIMELINE_PLOT_W * (s.end - s.start) / total).max(2.0);
            let what = s
                .feature_id
                .clone()
                .or_else(|| {
                    s.milestone
                        .as_ref()
                        .map(|m| format!("{m}{}", s.round.map(|r| format!(" round {r}")).unwrap_or_default()))
                })
                .unwrap_or_default();
            let ended = match s.outcome.as_str() {
                "succeeded" => String::new(),
                other if s.status != other => format!("{other} ({})", s.status.replace('_', " ")),
                other => other.to_string(),
            };
            let tip = tooltip(
                &[&s.kind, &what],
                &[
                    duration(s.end - s.start),
                    format!("{} turns", s.turns),
                    format!("{} tokens", count(s.tokens.total())),
                    ended,
                ],
            );
            let mark = match s.outcome.as_str() {
                "failed" => format!(" stroke=\"{FAILED}\" stroke-width=\"2\""),
                "interrupted" => {
                    " stroke=\"#888\" stroke-width=\"1.5\" stroke-dasharray=\"3 2\" fill-opacity=\"0.45\"".to_string()
                }
                _ => String::new(),
            };
            let _ = write!(out, "<rect class=\"run {} {}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"14\" fill=\"{}\"{mark}><title>{}</title></rect>", escape(role), escape(&s.outcome), color(role), escape(&tip));
        }
    }
    halts(&mut out, r, total, top - 6.0, height - 30.0);
    out.push_str("</svg>");
    out
}

// ---- bar charts beside the tables ---------------------------------------------------------

/// One bar: its label and its segments (value, colour, tooltip), and the figure after it.
struct Bar {
    label: String,
    segments: Vec<(f64, &'static str, String)>,
    figure: String,
}

/// The bar charts' drawing width: shown 384 to 512 px wide, their 14-unit labels stay 12 px or more.
const CHART_W: f64 = 440.0;
const CHART_LABEL_W: f64 = 125.0;
const CHART_FIGURE_W: f64 = 70.0;

/// Horizontal bars, stacked when a bar has several segments, scaled to the largest.
fn bar_chart(label: &str, bars: &[Bar]) -> String {
    let row_h = 26.0;
    let height = 8.0 + row_h * bars.len().max(1) as f64;
    let plot = CHART_W - CHART_LABEL_W - CHART_FIGURE_W;
    let max = bars.iter().map(|b| b.segments.iter().map(|s| s.0.max(0.0)).sum::<f64>()).fold(0.0, f64::max);
    let mut out = String::new();
    let _ = write!(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 {CHART_W} {height:.0}\" role=\"img\" aria-label=\"{}\">", escape(label));
    for (i, b) in bars.iter().enumerate() {
        let y = 4.0 + row_h * i as f64;
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\"><title>{}</title>{}</text>",
            CHART_LABEL_W - 8.0,
            y + 14.0,
            escape(&b.label),
            escape(&clip(&b.label, 16))
        );
        let mut x = CHART_LABEL_W;
        for (value, fill, tip) in &b.segments {
            if *value <= 0.0 || max <= 0.0 {
                continue;
            }
            let w = (plot * value / max).max(1.0);
            let _ = write!(out, "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"18\" rx=\"2\" fill=\"{fill}\"><title>{}</title></rect>", escape(tip));
            x += w;
        }
        let _ = write!(
            out,
            "<text class=\"value\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            x + 6.0,
            y + 14.0,
            escape(&b.figure)
        );
    }
    out.push_str("</svg>");
    out
}

/// The chart drawn beside a table of the report (by the table's id), with its legend.
fn chart(r: &MissionReport, id: &str) -> Option<String> {
    let role_bar = |role: &str, value: f64, figure: String| Bar {
        label: role.into(),
        segments: vec![(value, color(role), tooltip(&[role], std::slice::from_ref(&figure)))],
        figure,
    };
    let (label, bars, legend_items): (&str, Vec<Bar>, Vec<(&str, &str)>) = match id {
        "runtime-role" => (
            "Runtime by role",
            ROLES
                .iter()
                .map(|role| {
                    let secs = r.time.by_role_seconds.get(*role).copied().unwrap_or(0.0);
                    role_bar(role, secs, duration(secs))
                })
                .collect(),
            vec![],
        ),
        "runtime-milestone" if !r.time.milestones.is_empty() => (
            "Runtime by milestone",
            r.time
                .milestones
                .iter()
                .map(|m| Bar {
                    label: m.name.clone(),
                    segments: vec![
                        (
                            m.implementation_seconds,
                            color("implementation"),
                            tooltip(&[&m.name, "implementation"], &[duration(m.implementation_seconds)]),
                        ),
                        (
                            m.validation_seconds,
                            color("validation"),
                            tooltip(&[&m.name, "validation"], &[duration(m.validation_seconds)]),
                        ),
                    ],
                    figure: duration(m.implementation_seconds + m.validation_seconds),
                })
                .collect(),
            vec![("implementation", color("implementation")), ("validation", color("validation"))],
        ),
        "runs" => (
            "Agent runs by role and outcome",
            ROLES
                .iter()
                .map(|role| {
                    let of =
                        |o: &str| r.runs.sessions.iter().filter(|s| s.role == *role && s.outcome == o).count() as f64;
                    let (ok, failed, interrupted) = (of("succeeded") + of("running"), of("failed"), of("interrupted"));
                    Bar {
                        label: role.to_string(),
                        segments: vec![
                            (ok, color(role), tooltip(&[role], &[format!("{ok} succeeded or running")])),
                            (failed, FAILED, tooltip(&[role], &[format!("{failed} failed")])),
                            (interrupted, "#b0b0b0", tooltip(&[role], &[format!("{interrupted} interrupted")])),
                        ],
                        figure: r.runs.by_role.get(*role).copied().unwrap_or(0).to_string(),
                    }
                })
                .collect(),
            vec![("failed", FAILED), ("interrupted", "#b0b0b0")],
        ),
        "tokens-type" => {
            let t = &r.tokens.by_type;
            (
                "Tokens by type",
                [
                    ("input", t.input),
                    ("cache read", t.cache_read),
                    ("cache write", t.cache_write),
                    ("output", t.output),
                ]
                .iter()
                .zip(TYPE_COLORS)
                .map(|((name, n), (_, c))| Bar {
                    label: name.to_string(),
                    segments: vec![(*n as f64, c, tooltip(&[name], &[count(*n)]))],
                    figure: count(*n),
                })
                .collect(),
                vec![],
            )
        }
        "tokens-role" => (
            "Tokens by role and type",
            ROLES
                .iter()
                .map(|role| {
                    let t = r.tokens.by_role.get(*role).copied().unwrap_or_default();
                    let parts = [t.input, t.cache_read, t.cache_write, t.output];
                    Bar {
                        label: role.to_string(),
                        segments: parts
                            .iter()
                            .zip(TYPE_COLORS)
                            .map(|(n, (name, c))| (*n as f64, c, tooltip(&[role, name], &[count(*n)])))
                            .collect(),
                        figure: count(t.total()),
                    }
                })
                .collect(),
            TYPE_COLORS.to_vec(),
        ),
        "cost" => {
            let c = r.cost.as_ref()?;
            (
                "Cost by role",
                ROLES
                    .iter()
                    .map(|role| {
                        role_bar(
                            role,
                            c.by_role.get(*role).copied().unwrap_or(0.0),
                            usd(c.by_role.get(*role).copied().unwrap_or(0.0)),
                        )
                    })
                    .collect(),
                vec![],
            )
        }
        "code" => {
            let c = &r.code;
            if c.unavailable.is_some() {
                return None;
            }
            let bar = |name: &str, lines: u64, fill: &'static str| Bar {
                label: name.into(),
                segments: vec![(lines as f64, fill, tooltip(&[name], &[format!("{} lines", count(lines))]))],
                figure: count(lines),
            };
            (
                "Lines added: source and tests",
                vec![
                    bar("source", c.source_lines, "#3b7dd8"),
                    bar("tests", c.test_lines, "#4caf7a"),
                    bar("deleted", c.deleted, "#b0b0b0"),
                ],
                vec![],
            )
        }
        "issues" => (
            "Issues by severity",
            r.issues
                .by_severity
                .iter()
                .map(|(sev, n)| {
                    let fill = SEVERITY_COLORS.iter().find(|(s, _)| s == sev).map_or("#999", |(_, c)| c);
                    Bar {
                        label: sev.clone(),
                        segments: vec![(*n as f64, fill, tooltip(&[sev], &[format!("{n} issues")]))],
                        figure: n.to_string(),
                    }
                })
                .collect(),
            vec![],
        ),
        _ => return None,
    };
    let mut out = bar_chart(label, &bars);
    if !legend_items.is_empty() {
        out.push_str(&legend(&legend_items));
    }
    Some(out)
}

pub fn render_html(r: &MissionReport) -> String {
    let mut out = String::new();
    let title = if r.mission.title.is_empty() { "(untitled mission)".to_string() } else { r.mission.title.clone() };
    let _ = write!(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\" /><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" /><title>Mission report: {}</title><style>{CSS}</style></head><body>\n", escape(&title));
    let _ = writeln!(
        out,
        "<h1>{}</h1><p class=\"lead\">{} · {}{}</p>",
        escape(&title),
        escape(&r.mission.id),
        escape(&r.mission.status),
        r.mission.halt_reason.as_ref().map(|h| format!(" — {}", escape(h))).unwrap_or_default()
    );
    out.push_str("<div class=\"figures\">");
    let unsuccessful: usize = ["failed", "interrupted"].iter().filter_map(|o| r.runs.by_outcome.get(*o)).sum();
    let figures = [
        ("agent runtime", duration(r.time.role_seconds_total)),
        ("wall clock", duration(r.time.wall_seconds)),
        (
            "agent runs",
            if unsuccessful > 0 {
                format!("{} · {unsuccessful} failed", r.runs.total)
            } else {
                r.runs.total.to_string()
            },
        ),
        ("tokens", count(r.tokens.total)),
        (
            "lines of code",
            format!("{} · {} tests", count(r.code.added), percent(r.code.test_lines as f64, r.code.added as f64)),
        ),
        ("fix features", format!("{} / {}", r.features.fix, r.features.total)),
        ("issues", r.issues.total.to_string()),
    ];
    for (k, v) in figures.iter().chain(r.cost.as_ref().map(|c| ("cost", usd(c.total))).iter()) {
        let _ = write!(out, "<div class=\"figure\"><b>{}</b>{}</div>", escape(v), escape(k));
    }
    out.push_str("</div>\n");
    out.push_str("<p class=\"legend\">");
    for (name, c) in ROLE_COLORS {
        let _ = write!(out, "<span style=\"background:{c}\"></span>{name}");
    }
    out.push_str(
        "<span class=\"failed\"></span>failed session<span class=\"interrupted\"></span>interrupted session</p>\n",
    );
    out.push_str("<h2>Milestone waterfall</h2>\n");
    out.push_str(&waterfall_svg(r));
    out.push_str("\n<h2>Agent runs over time</h2>\n");
    out.push_str(&runs_svg(r));
    out.push('\n');
    for t in tables(r) {
        let _ = write!(out, "<section id=\"{}\"><h2>{}</h2><div class=\"pair\">", t.id, escape(&t.title));
        if !t.head.is_empty() {
            out.push_str("<div class=\"table\"><table><thead><tr>");
            let class = |i: usize| if i > 0 && t.text_columns.contains(&i) { " class=\"t\"" } else { "" };
            for (i, h) in t.head.iter().enumerate() {
                let _ = write!(out, "<th{}>{}</th>", class(i), escape(h));
            }
            out.push_str("</tr></thead><tbody>");
            for row in &t.rows {
                out.push_str("<tr>");
                for (i, c) in row.iter().enumerate() {
                    let _ = write!(out, "<td{}>{}</td>", class(i), escape(c));
                }
                out.push_str("</tr>");
            }
            out.push_str("</tbody></table></div>");
            if let Some(chart) = chart(r, t.id) {
                let _ = write!(out, "<div class=\"chart\">{chart}</div>");
            }
        }
        out.push_str("</div>");
        if let Some(n) = &t.note {
            let _ = write!(out, "<p class=\"note\">{}</p>", escape(n));
        }
        out.push_str("</section>\n");
    }
    if !r.notes.is_empty() {
        out.push_str("<h2>Notes</h2><ul>");
        for n in &r.notes {
            let _ = write!(out, "<li>{}</li>", escape(n));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tooltips_leave_out_empty_parts() {
        assert_eq!(tooltip(&["orchestrator", ""], &["0.0 s".into(), "".into()]), "orchestrator: 0.0 s");
        assert_eq!(
            tooltip(&["worker", "feat-add"], &["1.0 s".into(), "3 turns".into()]),
            "worker feat-add: 1.0 s, 3 turns"
        );
        assert_eq!(tooltip(&["halted"], &[String::new()]), "halted");
    }

    #[test]
    fn long_labels_are_clipped_whole_characters() {
        assert_eq!(clip("basics", 20), "basics");
        assert_eq!(clip("ünïcode-milestone-with-a-long-name", 10), "ünïcode-m…");
    }
}
