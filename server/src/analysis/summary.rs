//! A mission's state at a glance (for `missions status` and the LSP's `missions/status`):
//! counts of features and assertions by status. Pure.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::records::{MissionState, ValidationState};
use crate::model::{Contract, FeaturesFile};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MissionSummary {
    pub id: String,
    pub title: String,
    pub status: String,
    pub current_milestone: Option<String>,
    pub round: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub halt_reason: Option<String>,
    /// Feature count per status (`pending`, `completed`, …).
    pub features: BTreeMap<String, usize>,
    /// Assertion count per latest validation status; assertions never validated are `pending`.
    pub assertions: BTreeMap<String, usize>,
}

pub fn summarize(state: &MissionState, contract: Option<&Contract>, features: Option<&FeaturesFile>, validation: Option<&ValidationState>) -> MissionSummary {
    let mut feature_counts = BTreeMap::new();
    for f in features.map_or(&[][..], |f| f.features.as_slice()) {
        *feature_counts.entry(f.status().unwrap_or("pending").to_string()).or_insert(0) += 1;
    }
    let mut assertion_counts = BTreeMap::new();
    for a in contract.map_or(&[][..], |c| c.assertions.as_slice()) {
        let status = validation.and_then(|v| v.assertions.get(&a.id.value)).map_or("pending", |s| if s.status.is_empty() { "pending" } else { s.status.as_str() });
        *assertion_counts.entry(status.to_string()).or_insert(0) += 1;
    }
    MissionSummary {
        id: state.id.clone(),
        title: state.title.clone(),
        status: state.status.clone(),
        current_milestone: state.current_milestone.clone(),
        round: state.round,
        halt_reason: state.halt_reason.clone(),
        features: feature_counts,
        assertions: assertion_counts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{contract, features, records};

    #[test]
    fn counts_by_status() {
        let c = contract::parse("### VAL-A-001: a\n### VAL-A-002: b\n### VAL-A-003: c\n");
        let f = features::parse(r#"{"features": [{"id": "x", "status": "completed"}, {"id": "y", "status": "pending"}, {"id": "z"}]}"#);
        let v: ValidationState = records::load(r#"{"assertions": {"VAL-A-001": {"status": "passed"}, "VAL-A-002": {"status": "failed"}}}"#).value.unwrap();
        let state = MissionState { id: "mis_1".into(), status: "running".into(), ..Default::default() };
        let s = summarize(&state, Some(&c), Some(&f), Some(&v));
        assert_eq!(s.features, BTreeMap::from([("completed".into(), 1), ("pending".into(), 2)]));
        assert_eq!(s.assertions, BTreeMap::from([("failed".into(), 1), ("passed".into(), 1), ("pending".into(), 1)]));
    }
}
