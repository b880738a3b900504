//! Where a mission stands, from its files on disk (state.json, mission.md's title, the
//! contract, features.json, the validation records): what `missions status` prints and
//! `missions/status` answers. The files, not an editor's unsaved buffers, say where the
//! runner is.

use std::path::{Path, PathBuf};

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
            Loaded { error, .. } => return Err(format!("{}: not a valid mission state: {}", dir.join(STATE_FILE).display(), error.unwrap_or_default())),
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
