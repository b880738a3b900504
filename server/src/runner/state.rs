//! state.json: the mission's status, milestone and round, plus the runner's bookkeeping that
//! a resume needs (the feature in flight and the commit it started from), always written
//! atomically before the loop acts on it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::folder::{self, STATE_FILE};
use crate::model::persist::write_json_atomic;
use crate::model::records::{self, MissionState};
use crate::model::timestamp::now_rfc3339;

/// The feature a worker session is running: enough to resume after a crash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveFeature {
    pub feature_id: String,
    pub session_id: String,
    /// HEAD when the session started: verification counts commits from here, and a resume
    /// discards the interrupted session's changes back to it.
    pub base_commit: String,
    /// 1 for the first session of the feature, 2 for its one retry.
    pub attempt: u32,
    /// What the retry session is told about the first one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The git worktree a parallel worker runs in (`<mission>/worktrees/<feature>`); `None`
    /// for a feature run in the working directory itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worktree: Option<String>,
}

const ACTIVE_FEATURE: &str = "activeFeature";
const MILESTONE_BASES: &str = "milestoneBases";
const FIXED_ROUNDS: &str = "fixedRounds";
const BRANCH: &str = "branch";

pub struct StateStore {
    path: PathBuf,
    pub state: MissionState,
}

impl StateStore {
    /// Reads state.json; a folder written by hand without one gets a fresh state.
    pub fn load(mission: &Path) -> Result<Self, String> {
        let path = mission.join(STATE_FILE);
        let state = match folder::read_optional(&path) {
            Ok(Some(text)) => records::load::<MissionState>(&text)
                .value
                .ok_or_else(|| format!("{}: not a valid mission state", path.display()))?,
            Ok(None) => {
                let uuid = uuid::Uuid::new_v4();
                let now = now_rfc3339();
                MissionState {
                    id: format!("mis_{}", &uuid.simple().to_string()[..8]),
                    uuid: Some(uuid.to_string()),
                    title: mission.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                    status: "planning".into(),
                    created_at: now.clone(),
                    updated_at: now,
                    ..MissionState::default()
                }
            }
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        Ok(StateStore { path, state })
    }

    pub fn save(&mut self) -> std::io::Result<()> {
        self.state.updated_at = now_rfc3339();
        write_json_atomic(&self.path, &self.state)
    }

    pub fn status(&self) -> &str {
        &self.state.status
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
    /// object a serial run (and every earlier version) writes.
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
            self.state.extra.remove(ACTIVE_FEATURE);
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
                self.state.extra.remove(ACTIVE_FEATURE);
            }
        }
    }

    /// The commit a milestone's first feature started from (the base of its diff).
    pub fn milestone_base(&self, milestone: &str) -> Option<String> {
        self.state.extra.get(MILESTONE_BASES)?.get(milestone)?.as_str().map(str::to_string)
    }

    pub fn set_milestone_base(&mut self, milestone: &str, commit: &str) {
        let bases = self.state.extra.entry(MILESTONE_BASES).or_insert_with(|| Value::Object(Default::default()));
        if let Value::Object(map) = bases {
            map.entry(milestone.to_string()).or_insert_with(|| Value::String(commit.into()));
        }
    }

    /// Whether the orchestrator already added fix features for round `round` of `milestone`.
    pub fn fixed_round(&self, milestone: &str, round: u32) -> bool {
        let key = round_key(milestone, round);
        self.state.extra.get(FIXED_ROUNDS).and_then(Value::as_array).is_some_and(|a| a.iter().any(|v| v.as_str() == Some(&key)))
    }

    pub fn mark_fixed_round(&mut self, milestone: &str, round: u32) {
        let list = self.state.extra.entry(FIXED_ROUNDS).or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(items) = list {
            items.push(Value::String(round_key(milestone, round)));
        }
    }

    pub fn branch(&self) -> Option<String> {
        self.state.extra.get(BRANCH).and_then(Value::as_str).map(str::to_string)
    }

    pub fn set_branch(&mut self, branch: &str) {
        self.state.extra.insert(BRANCH.into(), Value::String(branch.into()));
    }
}

fn round_key(milestone: &str, round: u32) -> String {
    format!("{milestone}#{round}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bookkeeping_survives_a_reload_and_unknown_fields_stay() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(STATE_FILE), r#"{"id":"mis_1","title":"t","status":"running","round":0,"createdAt":"a","updatedAt":"b","x-owner":"me"}"#).unwrap();
        let mut s = StateStore::load(dir.path()).unwrap();
        let active = ActiveFeature { feature_id: "f".into(), session_id: "s".into(), base_commit: "abc".into(), attempt: 1, note: None, worktree: None };
        s.set_active_feature(Some(&active));
        s.set_milestone_base("m", "abc");
        s.set_milestone_base("m", "later");
        s.mark_fixed_round("m", 1);
        s.save().unwrap();
        let again = StateStore::load(dir.path()).unwrap();
        assert_eq!(again.active_feature(), Some(active));
        assert_eq!(again.milestone_base("m").as_deref(), Some("abc"), "the first base wins");
        assert!(again.fixed_round("m", 1) && !again.fixed_round("m", 2));
        assert_eq!(again.state.extra["x-owner"], "me");
    }

    #[test]
    fn active_features_read_the_single_form_and_the_list_form() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(STATE_FILE), r#"{"id":"mis_1","title":"t","status":"running","round":0,"createdAt":"a","updatedAt":"b","activeFeature":{"featureId":"old","sessionId":"s0","baseCommit":"c0","attempt":2}}"#).unwrap();
        let mut s = StateStore::load(dir.path()).unwrap();
        let old = s.active_features();
        assert_eq!(old.len(), 1);
        assert_eq!((old[0].feature_id.as_str(), old[0].attempt, old[0].worktree.as_deref()), ("old", 2, None));
        assert_eq!(s.active_feature(), Some(old[0].clone()));
        let wt = |id: &str| ActiveFeature { feature_id: id.into(), session_id: format!("s-{id}"), base_commit: "c1".into(), attempt: 1, note: None, worktree: Some(format!("/m/worktrees/{id}")) };
        s.set_active_features(&[wt("a"), wt("b")]);
        s.save().unwrap();
        let again = StateStore::load(dir.path()).unwrap();
        assert!(again.state.extra["activeFeature"].is_array());
        assert_eq!(again.active_features(), vec![wt("a"), wt("b")]);
        assert_eq!(again.active_feature(), None, "worktree features are not the working directory's");
        let mut again = again;
        again.set_active_features(&[]);
        assert!(again.state.extra.get("activeFeature").is_none());
    }

    #[test]
    fn a_folder_without_state_gets_a_fresh_one() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateStore::load(dir.path()).unwrap();
        assert!(s.state.id.starts_with("mis_") && s.status() == "planning");
        std::fs::write(dir.path().join(STATE_FILE), "{broken").unwrap();
        assert!(StateStore::load(dir.path()).is_err());
    }
}
