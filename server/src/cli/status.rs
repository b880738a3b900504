//! `missions status [MISSION] [--format json]`: where a mission stands.

use std::io::Write;
use std::path::Path;

use serde_json::json;

use super::check::Format;
use crate::analysis::summary::MissionSummary;
use crate::model::records;
use crate::runner::events;
use crate::runner::live;
use crate::runner::summary::{self, OnDisk, RunNow};

/// How many recent progress events the status shows.
const RECENT_EVENTS: usize = 10;

pub fn run(mission: Option<&Path>, format: Format, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let dir = match super::locate_mission(mission, err) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let OnDisk { summary, unreadable } = match summary::on_disk(&dir) {
        Ok(found) => found,
        Err(e) => {
            let _ = writeln!(err, "missions: {e}");
            return 2;
        }
    };
    for (path, e) in &unreadable {
        let _ = writeln!(err, "missions: warning: {}: {e}", path.display());
    }
    let (all, log_notes) = events::read_all_noted(&dir);
    for n in &log_notes {
        let _ = writeln!(err, "missions: warning: {n}");
    }
    let recent = &all[all.len().saturating_sub(RECENT_EVENTS)..];
    let now = summary::run_now(&dir);
    let at = std::time::SystemTime::now();
    match format {
        Format::Json => {
            let mut value = serde_json::to_value(&summary).unwrap_or_default();
            value["missionDir"] = json!(dir.display().to_string());
            now.add_to(&mut value, at);
            value["lastEvents"] = serde_json::to_value(recent).unwrap_or_default();
            let _ = writeln!(out, "{}", serde_json::to_string_pretty(&value).unwrap_or_default());
        }
        Format::Text => {
            print_text(&summary, &dir, recent, &now, at, out);
        }
    }
    0
}

fn print_text(
    s: &MissionSummary,
    dir: &Path,
    recent: &[records::ProgressEvent],
    now: &RunNow,
    at: std::time::SystemTime,
    out: &mut dyn Write,
) {
    let title = match (s.title.is_empty(), dir.join(crate::model::folder::MISSION_FILE).exists()) {
        (false, _) => s.title.as_str(),
        (true, true) => "(untitled mission: mission.md has no `# ` heading)",
        (true, false) => "(untitled mission: no mission.md)",
    };
    let id = if s.id.is_empty() { String::new() } else { format!(" ({})", s.id) };
    let _ = writeln!(out, "{title}{id}: {}", s.status);
    let _ = writeln!(out, "  folder:     {}", dir.display());
    if let Some(m) = &s.current_milestone {
        match s.round {
            0 => writeln!(out, "  milestone:  {m}"),
            r => writeln!(out, "  milestone:  {m}, validation round {r}"),
        }
        .ok();
    }
    if let Some(reason) = &s.halt_reason {
        let _ = writeln!(out, "  halted:     {reason}");
    }
    let counts = |map: &std::collections::BTreeMap<String, usize>| {
        if map.is_empty() {
            "none".to_string()
        } else {
            map.iter().map(|(k, n)| format!("{n} {k}")).collect::<Vec<_>>().join(", ")
        }
    };
    let _ = writeln!(out, "  features:   {}", counts(&s.features));
    if !s.validators.is_empty() {
        let _ = writeln!(out, "  validators: {}", counts(&s.validators));
    }
    let _ = writeln!(out, "  assertions: {}", counts(&s.assertions));
    if !s.stale.is_empty() {
        let _ = writeln!(out, "  stale:      {} (passed, then later commits changed their features' files; the next validation round checks them again)", s.stale.join(", "));
    }
    for session in &now.sessions {
        let _ = writeln!(out, "  now:        {}", live::describe_session(session, at));
    }
    if !now.alive && matches!(s.status.as_str(), "running" | "validating" | "planning") && now.spend.is_some() {
        let _ =
            writeln!(out, "  now:        no run is alive (state.json says {}; `missions run` resumes it)", s.status);
    }
    if let Some(spend) = &now.spend {
        let _ = writeln!(out, "  tokens:     {}", spend.tokens_line());
        if let Some(cost) = spend.cost_line() {
            let _ = writeln!(out, "  cost:       {cost}");
        }
        for b in &spend.budgets {
            let _ = writeln!(out, "  budget:     {}", b.describe());
        }
    }
    if !recent.is_empty() {
        let _ = writeln!(out, "  recent events:");
        for e in recent {
            let detail = ["featureId", "milestone", "successState", "pauseReason", "reason", "title", "message"]
                .iter()
                .filter_map(|k| e.fields.get(*k).and_then(|v| v.as_str()))
                .take(2)
                .map(|v| format!(" {v}"))
                .collect::<String>();
            let _ = writeln!(out, "    {} {}{detail}", e.timestamp, e.kind);
        }
    }
}
