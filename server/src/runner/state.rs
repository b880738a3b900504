//! state.json as the runner keeps it: droid's keys (`missionId`, `state` — one of droid's seven
//! values — `workingDirectory`, the times), the finer status in `detailedState`, and the
//! bookkeeping a resume needs (the feature in flight and the commit it started from, the
//! validation round in progress, the branch) in extra keys droid keeps. Always written
//! atomically before the loop acts on it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::folder::{self, STATE_FILE};
use crate::model::persist::write_json_atomic;
use crate::model::records::{self, DroidState, MissionState, MissionStatus};
use crate::model::timestamp::now_rfc3339;

/// The feature a worker session is running: enough to resume after a crash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveFeature {
    pub feature_id: String,
    pub session_id: String,
    /// HEAD when the session started: verification counts commits from here, and a resume
    /// sets the interrupted session's changes aside back to it.
    pub base_commit: String,
    /// 1 for the first session of the feature, 2 for its one retry.
    pub attempt: u32,
    /// What the retry session is told about the first one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The git worktree a parallel worker runs in; `None` for a feature run in the working
    /// directory itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worktree: Option<String>,
    /// The commit the feature's first session started from (its retry starts later): the red
    /// side of its red-green proof. `None` in a state written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_base: Option<String>,
}

impl ActiveFeature {
    /// Where the feature's work began: its first session's start commit.
    pub fn feature_start(&self) -> &str {
        self.feature_base.as_deref().unwrap_or(&self.base_commit)
    }
}

/// A validation round in progress: the validators of `milestone` whose handoff is newer than
/// `startedAt` already ran in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveRound {
    pub milestone: String,
    pub round: u32,
    pub started_at: String,
    /// Passed assertions of other milestones that later commits made stale
    /// (`analysis::drift`): this round validates them again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revalidate: Vec<String>,
}

/// An orchestrator's fix session in progress: a resume runs it again, and lets the plan not
/// lint meanwhile (the session edits features.json with its tools; a kill can land between
/// two edits).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveFix {
    pub milestone: String,
    pub round: u32,
    /// The feature ids before the first fix session: what was added since is the fix.
    pub known: Vec<String>,
}

const ACTIVE_FIX: &str = "activeFix";
const ACTIVE_FEATURE: &str = "activeFeature";
const ACTIVE_ROUND: &str = "activeRound";

/// A new mission's state: a fresh `mis_` id, droid's `planning`, the repository it works on.
pub fn fresh_state(repo: &Path) -> MissionState {
    let uuid = uuid::Uuid::new_v4();
    let now = now_rfc3339();
    let mut state = MissionState {
        mission_id: format!("mis_{}", &uuid.simple().to_string()[..8]),
        working_directory: repo.display().to_string(),
        created_at: now.clone(),
        updated_at: now,
        ..MissionState::default()
    };
    state.set_status(MissionStatus::Planning);
    state
}

pub struct StateStore {
    path: PathBuf,
    pub state: MissionState,
}

impl StateStore {
    /// Reads state.json; a folder written by hand without one gets a fresh state. A state
    /// without droid's required keys gets them (an id, a `state` matching its status).
    pub fn load(mission: &Path, repo: &Path) -> Result<Self, String> {
        let path = mission.join(STATE_FILE);
        let mut state = match folder::read_optional(&path) {
            Ok(Some(text)) => records::load::<MissionState>(&text)
                .value
                .ok_or_else(|| format!("{}: not a valid mission state", path.display()))?,
            Ok(None) => fresh_state(repo),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        if state.mission_id.is_empty() {
            state.mission_id = fresh_state(repo).mission_id;
        }
        if state.working_directory.is_empty() {
            state.working_directory = repo.display().to_string();
        }
        if DroidState::parse(&state.state).is_none() {
            let status = state.status();
            state.set_status(status);
        }
        Ok(StateStore { path, state })
    }

    /// Reads state.json of a mission whose repository is named by the folder (for readers that
    /// are not a run: the editor's commands).
    pub fn open(mission: &Path) -> Result<Self, String> {
        let repo = folder::working_directory(mission).unwrap_or_else(|| mission.to_path_buf());
        StateStore::load(mission, &repo)
    }

    /// The mission's name for messages: mission.md's title, else its id.
    pub fn label(&self, mission: &Path) -> String {
        folder::mission_title(mission).unwrap_or_else(|| self.state.mission_id.clone())
    }

    pub fn save(&mut self) -> std::io::Result<()> {
        self.state.updated_at = now_rfc3339();
        write_json_atomic(&self.path, &self.state)
    }

    pub fn status(&self) -> MissionStatus {
        self.state.status()
    }

    pub fn set_status(&mut self, status: MissionStatus) {
        self.state.set_status(status);
        if status != MissionStatus::Halted {
            self.state.halt_reason = None;
        }
    }

    /// The one feature in flight in the working directory: `activeFeature` as one object (a
    /// serial run), or the single entry of a list without a worktree.
    pub fn active_feature(&self) -> Option<ActiveFeature> {
        let all = self.active_features();
        match all.as_slice() {
            [one] if one.worktree.is_none() => Some(one.clone()),
            _ => None,
        }
    }

    /// Every feature in flight: `activeFeature` as a list (parallel workers) or as the single
    /// object a serial run writes.
    pub fn active_features(&self) -> Vec<ActiveFeature> {
        match self.state.extra.get(ACTIVE_FEATURE) {
            Some(Value::Array(items)) => items.iter().filter_map(|v| serde_json::from_value(v.clone()).ok()).collect(),
            Some(v) => serde_json::from_value(v.clone()).ok().into_iter().collect(),
            None => Vec::new(),
        }
    }

    /// Records the features of a parallel batch as a list (none removes the entry).
    pub fn set_active_features(&mut self, active: &[ActiveFeature]) {
        if active.is_empty() {
            self.state.extra.shift_remove(ACTIVE_FEATURE);
        } else {
            self.state.extra.insert(ACTIVE_FEATURE.into(), serde_json::to_value(active).unwrap_or(Value::Null));
        }
    }

    pub fn set_active_feature(&mut self, active: Option<&ActiveFeature>) {
        match active {
            Some(a) => {
                self.state.extra.insert(ACTIVE_FEATURE.into(), serde_json::to_value(a).unwrap_or(Value::Null));
            }
            None => {
                self.state.extra.shift_remove(ACTIVE_FEATURE);
            }
        }
    }

    /// The fix session in progress, if one was interrupted.
    pub fn active_fix(&self) -> Option<ActiveFix> {
        serde_json::from_value(self.state.extra.get(ACTIVE_FIX)?.clone()).ok()
    }

    pub fn set_active_fix(&mut self, fix: Option<&ActiveFix>) {
        match fix {
            Some(f) => {
                self.state.extra.insert(ACTIVE_FIX.into(), serde_json::to_value(f).unwrap_or(Value::Null));
            }
            None => {
                self.state.extra.shift_remove(ACTIVE_FIX);
            }
        }
    }

    /// The validation round in progress, if one was interrupted.
    pub fn active_round(&self) -> Option<ActiveRound> {
        serde_json::from_value(self.state.extra.get(ACTIVE_ROUND)?.clone()).ok()
    }

    pub fn set_active_round(&mut self, round: Option<&ActiveRound>) {
        match round {
            Some(r) => {
                self.state.extra.insert(ACTIVE_ROUND.into(), serde_json::to_value(r).unwrap_or(Value::Null));
            }
            None => {
                self.state.extra.shift_remove(ACTIVE_ROUND);
            }
        }
    }

    /// The commit a milestone's first feature started from (the base of its diff).
    pub fn milestone_base(&self, milestone: &str) -> Option<String> {
        self.state.milestone_base(milestone).map(str::to_string)
    }

    pub fn set_milestone_base(&mut self, milestone: &str, commit: &str) {
        self.state.set_milestone_base(milestone, commit);
    }

    pub fn branch(&self) -> Option<String> {
        self.state.branch().map(str::to_string)
    }

    pub fn set_branch(&mut self, branch: &str) {
        self.state.set_branch(branch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(dir: &Path) -> StateStore {
        StateStore::load(dir, Path::new("/repo")).unwrap()
    }

    #[test]
    fn bookkeeping_survives_a_reload_and_droids_keys_stay_first() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(STATE_FILE), r#"{"missionId":"mis_1","state":"running","workingDirectory":"/r","createdAt":"a","updatedAt":"b","initialFeatureCount":3}"#).unwrap();
        let mut s = load(dir.path());
        let active = ActiveFeature {
            feature_id: "f".into(),
            session_id: "s".into(),
            base_commit: "abc".into(),
            attempt: 1,
            note: None,
            worktree: None,
            feature_base: None,
        };
        s.set_active_feature(Some(&active));
        s.set_milestone_base("m", "abc");
        s.set_milestone_base("m", "later");
        s.set_active_round(Some(&ActiveRound {
            milestone: "m".into(),
            round: 2,
            started_at: "t".into(),
            revalidate: Vec::new(),
        }));
        s.set_status(MissionStatus::Validating);
        s.save().unwrap();
        let text = std::fs::read_to_string(dir.path().join(STATE_FILE)).unwrap();
        assert!(text.starts_with("{\n  \"missionId\": \"mis_1\",\n  \"state\": \"running\",\n  \"workingDirectory\": \"/r\",\n  \"createdAt\": \"a\",\n  \"updatedAt\": \""), "{text}");
        assert!(!text.ends_with('\n'), "droid writes state.json without a trailing newline");
        let again = load(dir.path());
        assert_eq!(again.active_feature(), Some(active));
        assert_eq!(again.milestone_base("m").as_deref(), Some("abc"), "the first base wins");
        assert_eq!(again.active_round().map(|r| r.round), Some(2));
        assert_eq!(again.status(), MissionStatus::Validating);
        assert_eq!(again.state.extra["initialFeatureCount"], 3);
    }

    #[test]
    fn active_features_read_the_single_form_and_the_list_form() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(STATE_FILE), r#"{"missionId":"mis_1","state":"running","activeFeature":{"featureId":"old","sessionId":"s0","baseCommit":"c0","attempt":2}}"#).unwrap();
        let mut s = load(dir.path());
        let old = s.active_features();
        assert_eq!((old[0].feature_id.as_str(), old[0].attempt, old[0].worktree.as_deref()), ("old", 2, None));
        let wt = |id: &str| ActiveFeature {
            feature_id: id.into(),
            session_id: format!("s-{id}"),
            base_commit: "c1".into(),
            attempt: 1,
            note: None,
            worktree: Some(format!("/m/worktrees/{id}")),
            feature_base: Some("c0".into()),
        };
        s.set_active_features(&[wt("a"), wt("b")]);
        s.save().unwrap();
        let mut again = load(dir.path());
        assert_eq!(again.active_features(), vec![wt("a"), wt("b")]);
        assert_eq!(again.active_feature(), None, "worktree features are not the working directory's");
        again.set_active_features(&[]);
        assert!(again.state.extra.get("activeFeature").is_none());
    }

    #[test]
    fn a_folder_without_state_gets_a_fresh_droid_state() {
        let dir = tempfile::tempdir().unwrap();
        let s = load(dir.path());
        assert!(s.state.mission_id.starts_with("mis_") && s.state.mission_id.len() == 12);
        assert_eq!(
            (s.state.state.as_str(), s.status(), s.state.working_directory.as_str()),
            ("planning", MissionStatus::Planning, "/repo")
        );
        std::fs::write(dir.path().join(STATE_FILE), "{broken").unwrap();
        assert!(StateStore::load(dir.path(), Path::new("/repo")).is_err());
    }
}
