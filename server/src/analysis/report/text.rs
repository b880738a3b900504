//! The report as plain text: a headline, then each section as an aligned table.

use std::fmt::Write as _;

use super::tables::{count, duration, percent, tables};
use super::MissionReport;

pub fn render_text(r: &MissionReport) -> String {
    let mut out = String::new();
    let title = if r.mission.title.is_empty() { "(untitled mission)" } else { &r.mission.title };
    let id = if r.mission.id.is_empty() { String::new() } else { format!(" ({})", r.mission.id) };
    let _ = writeln!(out, "{title}{id}: {}", r.mission.status);
    if let Some(h) = &r.mission.halt_reason {
        let _ = writeln!(out, "halted: {h}");
    }
    // Without a diff the line counts are unknown, not zero.
    let lines = match r.code.unavailable {
        Some(_) => "lines unknown (no diff)".to_string(),
        None => {
            format!("{} lines ({} tests)", count(r.code.added), percent(r.code.test_lines as f64, r.code.added as f64))
        }
    };
    let _ = writeln!(
        out,
        "{} agent runtime ({} wall clock), {} agent runs, {}, {lines}",
        duration(r.time.role_seconds_total),
        duration(r.time.wall_seconds),
        r.runs.total,
        if r.tokens.recorded { format!("{} tokens", count(r.tokens.total)) } else { "tokens not recorded".to_string() },
    );
    for t in tables(r) {
        let _ = writeln!(out, "\n{}", t.title);
        if !t.head.is_empty() {
            let cols = t.head.len();
            let mut widths = vec![0; cols];
            for row in std::iter::once(&t.head).chain(&t.rows) {
                for (i, c) in row.iter().enumerate().take(cols) {
                    widths[i] = widths[i].max(c.chars().count());
                }
            }
            for row in std::iter::once(&t.head).chain(&t.rows) {
                let mut line = String::from(" ");
                for (i, c) in row.iter().enumerate().take(cols) {
                    let pad = widths[i] - c.chars().count();
                    // Words left-aligned, figures right-aligned.
                    if i == 0 || t.text_columns.contains(&i) {
                        let _ = write!(line, " {c}{}", " ".repeat(pad));
                    } else {
                        let _ = write!(line, " {}{c}", " ".repeat(pad));
                    }
                }
                let _ = writeln!(out, "{}", line.trim_end());
            }
        }
        if let Some(n) = &t.note {
            let _ = writeln!(out, "  {n}");
        }
    }
    if !r.notes.is_empty() {
        let _ = writeln!(out, "\nNotes");
        for n in &r.notes {
            let _ = writeln!(out, "  {n}");
        }
    }
    out
}
