//! `missions report [MISSION] [--format json] [--html FILE]`: the mission breakdown.

use std::io::Write;
use std::path::Path;

use super::check::Format;
use crate::analysis::report::{compute, render_html, render_json, render_text};
use crate::model::persist;
use crate::runner::report;

/// Prints the report (text or JSON) and, with `html`, writes the HTML page there.
/// Exit 0, or 2 when there is no mission or the page cannot be written.
pub fn run(mission: Option<&Path>, format: Format, html: Option<&Path>, quiet: bool, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let cwd = std::env::current_dir().unwrap_or_default();
    let dir = match super::locate_mission(mission, err) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let input = report::load(&dir);
    let r = compute(&input);
    if let Some(path) = html {
        let path = if path.is_absolute() { path.to_path_buf() } else { cwd.join(path) };
        if let Err(e) = persist::write_atomic(&path, render_html(&r).as_bytes()) {
            let _ = writeln!(err, "missions: cannot write {}: {e}", path.display());
            return 2;
        }
        if !quiet {
            let _ = writeln!(err, "missions: wrote {}", path.display());
        }
    }
    let text = match format {
        Format::Json => render_json(&r),
        Format::Text => render_text(&r),
    };
    let _ = out.write_all(text.as_bytes());
    0
}
