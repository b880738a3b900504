//! A mission's state at a glance (for `missions status` and the LSP's `missions/status`):
//! counts of features and assertions by status. Pure.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::folder::ValidationRecords;
use crate::model::records::MissionState;
use crate::model::{Contract, FeaturesFile};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MissionSummary {
    pub id: String,
    pub title: String,
    /// The runner's status (`awaiting_approval`, `halted`… where it wrote one).
    pub status: String,
    /// droid's `state`, as state.json has it.
    pub state: String,
    pub current_milestone: Option<String>,
    /// The latest validation round of the current milestone (0: none yet).
    pub round: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub halt_reason: Option<String>,
    /// Feature count per status (`pending`, `completed`, …), validators not counted.
    pub features: BTreeMap<String, usize>,
    /// Validator features per status.
    pub validators: BTreeMap<String, usize>,
    /// Assertion count per latest validation status (`passed`, `failed`, `blocked`);
    /// assertions never validated are `pending`.
    pub assertions: BTreeMap<String, usize>,
    /// Passed assertions a later commit made stale (`analysis::drift`), as git tells; filled
    /// by the caller that reads git.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stale: Vec<String>,
}

/// The summary of a mission from its parsed files; `title` is mission.md's first heading.
pub fn summarize(
    state: &MissionState,
    title: Option<&str>,
    contract: Option<&Contract>,
    features: Option<&FeaturesFile>,
    validation: Option<&ValidationRecords>,
) -> MissionSummary {
    let mut feature_counts = BTreeMap::new();
    let mut validator_counts = BTreeMap::new();
    for f in features.map_or(&[][..], |f| f.features.as_slice()) {
        let counts = if f.is_validator() { &mut validator_counts } else { &mut feature_counts };
        *counts.entry(f.status().unwrap_or("pending").to_string()).or_insert(0) += 1;
    }
    let mut assertion_counts = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    for a in contract.map_or(&[][..], |c| c.assertions.as_slice()).iter().filter(|a| seen.insert(a.id.value.as_str())) {
        *assertion_counts.entry(assertion_status(validation, &a.id.value).to_string()).or_insert(0) += 1;
    }
    let round = state.current_milestone.as_deref().and_then(|m| validation?.milestone(m)).map_or(0, latest_round);
    MissionSummary {
        id: state.mission_id.clone(),
        title: title.unwrap_or_default().to_string(),
        status: state.status().as_str().to_string(),
        state: state.state.clone(),
        current_milestone: state.current_milestone.clone(),
        round,
        halt_reason: state.halt_reason.clone(),
        features: feature_counts,
        validators: validator_counts,
        assertions: assertion_counts,
        stale: Vec::new(),
    }
}

/// An assertion's latest status: `pending`, `passed`, `failed` or `blocked` (validation-state
/// records blocked as failed; our `blocked` key or the user-testing synthesis tells).
pub fn assertion_status<'a>(validation: Option<&'a ValidationRecords>, id: &str) -> &'a str {
    let Some(records) = validation else { return "pending" };
    let Some(entry) = records.state.as_ref().and_then(|s| s.assertions.get(id)) else { return "pending" };
    match entry.status.as_str() {
        "" => "pending",
        "failed"
            if entry.blocked
                || records
                    .milestones
                    .iter()
                    .filter_map(|m| m.user_testing.as_ref())
                    .any(|u| u.blocked_assertions.iter().any(|b| b.id == id)) =>
        {
            "blocked"
        }
        s => s,
    }
}

/// The highest round a milestone's syntheses record.
pub fn latest_round(m: &crate::model::folder::MilestoneRecords) -> u32 {
    m.scrutiny.as_ref().map_or(0, |s| s.round).max(m.user_testing.as_ref().map_or(0, |u| u.round))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::records::MissionStatus;
    use crate::model::{contract, features, records};

    #[test]
    fn counts_by_status() {
        let c = contract::parse("### VAL-A-001: a\n### VAL-A-002: b\n### VAL-A-003: c\n### VAL-A-004: d\n");
        let f = features::parse(
            r#"{"features": [{"id": "x", "status": "completed"}, {"id": "y", "status": "pending"}, {"id": "z"}, {"id": "scrutiny-validator-m", "status": "pending"}]}"#,
        );
        let v = ValidationRecords { state: records::load(r#"{"assertions": {"VAL-A-001": {"status": "passed"}, "VAL-A-002": {"status": "failed"}, "VAL-A-004": {"status": "failed", "blocked": true}}}"#).value, milestones: Vec::new() };
        let mut state = MissionState { mission_id: "mis_1".into(), ..Default::default() };
        state.set_status(MissionStatus::Validating);
        let s = summarize(&state, Some("T"), Some(&c), Some(&f), Some(&v));
        assert_eq!((s.status.as_str(), s.state.as_str(), s.title.as_str()), ("validating", "running", "T"));
        assert_eq!(s.features, BTreeMap::from([("completed".into(), 1), ("pending".into(), 2)]));
        assert_eq!(s.validators, BTreeMap::from([("pending".into(), 1)]));
        assert_eq!(
            s.assertions,
            BTreeMap::from([("blocked".into(), 1), ("failed".into(), 1), ("passed".into(), 1), ("pending".into(), 1)])
        );
    }
}
