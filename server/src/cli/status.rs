//! `missions status [MISSION] [--format json]`: where a mission stands.

use std::io::Write;
use std::path::Path;

use serde_json::json;

use super::check::Format;
use crate::analysis::summary::{summarize, MissionSummary};
use crate::model::folder::{self, STATE_FILE};
use crate::model::records::{self, MissionState};
use crate::model::{contract, features};
use crate::runner::events;

/// How many recent progress events the status shows.
const RECENT_EVENTS: usize = 10;

pub fn run(mission: Option<&Path>, format: Format, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let dir = match super::locate_mission(mission, err) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let state = match folder::read_optional(&dir.join(STATE_FILE)) {
        Ok(Some(text)) => match records::load::<MissionState>(&text) {
            Loaded { value: Some(s), .. } => s,
            Loaded { error, .. } => {
                let _ = writeln!(err, "missions: {}: not a valid mission state: {}", dir.join(STATE_FILE).display(), error.unwrap_or_default());
                return 2;
            }
        },
        // A folder with a plan but no state yet (written by hand) has not started.
        Ok(None) => MissionState { status: "planning".into(), ..Default::default() },
        Err(e) => {
            let _ = writeln!(err, "missions: {}: {e}", dir.join(STATE_FILE).display());
            return 2;
        }
    };
    let texts = folder::read_mission(&dir);
    for (path, e) in &texts.errors {
        let _ = writeln!(err, "missions: warning: {}: {e}", path.display());
    }
    let c = texts.contract.as_deref().map(contract::parse);
    let f = texts.features.as_deref().map(features::parse);
    let summary = summarize(&state, c.as_ref(), f.as_ref(), texts.validation.as_ref());
    let all = events::read_all(&dir);
    let recent = &all[all.len().saturating_sub(RECENT_EVENTS)..];
    match format {
        Format::Json => {
            let mut value = serde_json::to_value(&summary).unwrap_or_default();
            value["missionDir"] = json!(dir.display().to_string());
            value["lastEvents"] = serde_json::to_value(recent).unwrap_or_default();
            let _ = writeln!(out, "{}", serde_json::to_string_pretty(&value).unwrap_or_default());
        }
        Format::Text => print_text(&summary, &dir, recent, out),
    }
    0
}

use records::Loaded;

fn print_text(s: &MissionSummary, dir: &Path, recent: &[records::ProgressEvent], out: &mut dyn Write) {
    let title = if s.title.is_empty() { "(untitled mission)" } else { &s.title };
    let id = if s.id.is_empty() { String::new() } else { format!(" ({})", s.id) };
    let _ = writeln!(out, "{title}{id}: {}", s.status);
    let _ = writeln!(out, "  folder:     {}", dir.display());
    if let Some(m) = &s.current_milestone {
        let _ = writeln!(out, "  milestone:  {m}, validation round {}", s.round);
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
    let _ = writeln!(out, "  assertions: {}", counts(&s.assertions));
    if !recent.is_empty() {
        let _ = writeln!(out, "  recent events:");
        for e in recent {
            let detail = ["featureId", "milestone", "reason", "title"].iter().find_map(|k| e.fields.get(*k).and_then(|v| v.as_str()).map(|v| format!(" {v}"))).unwrap_or_default();
            let _ = writeln!(out, "    {} {}{detail}", e.ts, e.kind);
        }
    }
}
