//! Where a mission stands, from its files on disk (state.json, mission.md's title, the
//! contract, features.json, the validation records): what `missions status` prints and
//! `missions/status` answers. The files, not an editor's unsaved buffers, say where the
//! runner is.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::live::{self, LiveSession, Spend};
use super::lock;
use crate::analysis::summary::{summarize, MissionSummary};
use crate::model::folder::{self, STATE_FILE};
use crate::model::records::{self, Loaded, MissionState, MissionStatus};
use crate::model::{contract, features};

/// The summary, and the mission files that could not be read (left out of the counts).
pub struct OnDisk {
    pub summary: MissionSummary,
    pub unreadable: Vec<(PathBuf, String)>,
}

/// Reads the mission at `dir`. A plan written by hand has no state.json yet: it is planning.
pub fn on_disk(dir: &Path) -> Result<OnDisk, String> {
    let state = match folder::read_optional(&dir.join(STATE_FILE)) {
        Ok(Some(text)) => match records::load::<MissionState>(&text) {
            Loaded { value: Some(s), .. } => s,
            Loaded { error, .. } => {
                return Err(format!(
                    "{}: not a valid mission state: {}",
                    dir.join(STATE_FILE).display(),
                    error.unwrap_or_default()
                ))
            }
        },
        Ok(None) => {
            let mut s = MissionState::default();
            s.set_status(MissionStatus::Planning);
            s
        }
        Err(e) => return Err(format!("{}: {e}", dir.join(STATE_FILE).display())),
    };
    let texts = folder::read_mission(dir);
    let c = texts.contract.as_deref().map(contract::parse);
    let f = texts.features.as_deref().map(features::parse);
    let title = folder::mission_title(dir);
    let mut summary = summarize(&state, title.as_deref(), c.as_ref(), f.as_ref(), Some(&texts.validation));
    summary.stale = super::drift::stale(dir).into_iter().map(|s| s.assertion).collect();
    let mut unreadable = texts.errors;
    // A handoff droid was writing when it stopped (its writes are not atomic) is named.
    unreadable.extend(folder::read_handoffs(dir).1);
    Ok(OnDisk { summary, unreadable })
}

/// What runs now and what the mission has spent so far: whether a runner holds the mission
/// (`run.lock`), and `run-progress.json` (the sessions in flight only while one does).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunNow {
    pub alive: bool,
    pub sessions: Vec<LiveSession>,
    /// `None` when no run of ours recorded any (a folder droid ran, a mission not run yet).
    pub spend: Option<Spend>,
}

/// Reads what runs now in the mission at `dir` (blocking: two small files).
pub fn run_now(dir: &Path) -> RunNow {
    let alive = lock::run_alive(dir);
    let file = live::read(dir);
    RunNow {
        alive,
        sessions: file.as_ref().filter(|_| alive).map(|f| f.sessions.clone()).unwrap_or_default(),
        spend: file.map(|f| f.spend).or_else(|| recorded_spend(dir)),
    }
}

/// The tokens the transcript recorded, for a mission whose run kept no live figures (one run
/// before they existed, or a folder copied without run-progress.json): what `report` counts.
/// Unpriced: status reads no missions.toml.
fn recorded_spend(dir: &Path) -> Option<live::Spend> {
    let rollup =
        crate::agent::transcript::rollup_from_transcript(&dir.join(crate::agent::transcript::TRANSCRIPT_FILE)).ok()?;
    (!rollup.by_session.is_empty())
        .then(|| live::Spend::of(&rollup, &Default::default(), crate::analysis::cost::Budgets::default()))
}

impl RunNow {
    /// Adds `runAlive`, `now` (the sessions in flight, each with its `description` and, when it
    /// waits, `waiting.seconds`) and, when recorded, `tokens`, `cost`, `budgets` (each with its
    /// `description`) and `spendText` (the lines `missions status` prints) to a status object;
    /// `missions status --format json` and `missions/status` say the same.
    pub fn add_to(&self, value: &mut Value, at: std::time::SystemTime) {
        value["runAlive"] = json!(self.alive);
        let now: Vec<Value> = self
            .sessions
            .iter()
            .map(|s| {
                let mut v = serde_json::to_value(s).unwrap_or_default();
                v["description"] = json!(live::describe_session(s, at));
                if let Some(w) = &s.waiting {
                    let since = crate::model::timestamp::unix_seconds(&w.since);
                    let now = at.duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
                    v["waiting"]["seconds"] = json!(since.map_or(0, |t| (now - t).max(0.0).round() as u64));
                }
                v
            })
            .collect();
        value["now"] = json!(now);
        if let Some(spend) = &self.spend {
            value["tokens"] = serde_json::to_value(&spend.tokens).unwrap_or_default();
            value["cost"] = serde_json::to_value(&spend.cost).unwrap_or_default();
            value["budgets"] = json!(spend
                .budgets
                .iter()
                .map(|b| {
                    let mut v = serde_json::to_value(b).unwrap_or_default();
                    v["description"] = json!(b.describe());
                    v
                })
                .collect::<Vec<_>>());
            // The same figures as `missions status` prints them, for displays (status bars).
            value["spendText"] =
                json!({"summary": spend.summary(), "tokens": spend.tokens_line(), "cost": spend.cost_line()});
        }
    }
}
