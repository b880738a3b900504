//! `missions report [MISSION] [--format json] [--html FILE]`: the mission breakdown.

use std::io::Write;
use std::path::Path;

use super::check::Format;
use crate::analysis::report::{compute, render_html, render_json, render_text};
use crate::model::persist;
use crate::runner::{events, report, summary};

/// Prints the report (text or JSON); with `html`, writes the HTML page there and prints
/// where instead of the text tables (JSON is still printed when asked for).
/// Exit 0, or 2 when there is no mission or the page cannot be written.
pub fn run(
    mission: Option<&Path>,
    format: Format,
    html: Option<&Path>,
    quiet: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let cwd = std::env::current_dir().unwrap_or_default();
    let dir = match super::locate_mission(mission, err) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let mut input = report::load(&dir);
    // Lines of the progress log that were skipped (a torn last line is not worth a note).
    input.notes.extend(events::read_all_noted(&dir).1);
    let mut r = compute(&input);
    // The status as `missions status` says it (a plan written by hand, without state.json, is
    // planning), so the two commands agree.
    if let Ok(found) = summary::on_disk(&dir) {
        if !found.summary.status.is_empty() {
            r.mission.status = found.summary.status;
        }
    }
    if let Some(path) = html {
        let path = if path.is_absolute() { path.to_path_buf() } else { cwd.join(path) };
        if let Err(e) = persist::write_atomic(&path, render_html(&r).as_bytes()) {
            let _ = writeln!(err, "missions: cannot write {}: {e}", path.display());
            return 2;
        }
        // The page replaces the text tables; JSON, asked for by name, still goes to stdout.
        if format == Format::Text {
            if !quiet {
                let _ = writeln!(out, "wrote the report to {}", path.display());
            }
            return 0;
        }
        if !quiet {
            let _ = writeln!(err, "missions: wrote the report to {}", path.display());
        }
    }
    let text = match format {
        Format::Json => render_json(&r),
        Format::Text => render_text(&r),
    };
    let _ = out.write_all(text.as_bytes());
    0
}
