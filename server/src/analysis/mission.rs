//! One analysed mission, owned and shareable: the parsed documents, the records the hover
//! shows (validation state, handoffs), the diagnostics of design §3 and lookup tables for the
//! language server's queries. Built from parsed inputs, so callers can reuse an unchanged
//! document's parse across edits of the other one.

use std::sync::Arc;

use super::checks::{self, MissionInput};
use super::diagnostic::Diagnostic;
use super::index::{self, ClaimRef, IdAt, MissionIndex, MissionTables};
use crate::model::folder::{FoundHandoff, ValidationRecords};
use crate::model::{Assertion, Contract, Feature, FeaturesFile};

/// Everything one mission folder contributes to an analysis.
#[derive(Debug, Clone, Default)]
pub struct MissionParts {
    pub contract: Option<Arc<Contract>>,
    pub features: Option<Arc<FeaturesFile>>,
    pub skills: Option<Vec<String>>,
    pub validation: Option<Arc<ValidationRecords>>,
    /// In file-name order (by time).
    pub handoffs: Arc<Vec<FoundHandoff>>,
    /// The `Check:` commands' results on the mission's base commit, once they ran.
    pub base_checks: Option<Arc<super::checks::base::BaseChecks>>,
    /// The mission's git history, for drift.
    pub history: Option<Arc<super::drift::History>>,
}

/// An assertion's latest validation, as hovers and lenses show it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AssertionValidation {
    /// `pending`, `passed`, `failed` or `blocked`.
    pub status: String,
    pub milestone: Option<String>,
    pub round: Option<u32>,
    pub issues: Option<String>,
    /// Relative to the mission folder.
    pub evidence: Vec<String>,
}

impl AssertionValidation {
    /// `passed (core, round 2)`.
    pub fn label(&self) -> String {
        match (&self.milestone, self.round) {
            (Some(m), Some(r)) => format!("{} ({m}, round {r})", self.status),
            (Some(m), None) => format!("{} ({m})", self.status),
            (None, Some(r)) => format!("{} (round {r})", self.status),
            (None, None) => self.status.clone(),
        }
    }
}

#[derive(Debug)]
pub struct MissionAnalysis {
    pub parts: MissionParts,
    pub diagnostics: Vec<Diagnostic>,
    /// The lookup tables the checks used, kept for the queries.
    tables: MissionTables,
}

impl MissionAnalysis {
    /// Runs every check of design §3 over the parts.
    pub fn new(parts: MissionParts) -> Self {
        Self::reusing(parts, None)
    }

    /// Like [`MissionAnalysis::new`], but when `previous` analysed the very same contract parse
    /// (the same `Arc`), its contract table and the contract's own diagnostics are reused: an
    /// edit of features.json then neither re-hashes nor re-checks every assertion.
    pub fn reusing(parts: MissionParts, previous: Option<&MissionAnalysis>) -> Self {
        let same_contract = previous.filter(|p| match (&p.parts.contract, &parts.contract) {
            (Some(old), Some(new)) => Arc::ptr_eq(old, new),
            _ => false,
        });
        let tables = MissionTables::build(
            parts.contract.as_deref(),
            parts.features.as_deref(),
            same_contract.and_then(|p| p.tables.contract.clone()),
        );
        let input = MissionInput {
            contract: parts.contract.as_deref(),
            features: parts.features.as_deref(),
            skills: parts.skills.as_deref(),
            validation: parts.validation.as_deref(),
            base_checks: parts.base_checks.as_deref(),
            history: parts.history.as_deref(),
        };
        let index = tables.view(input.contract, input.features);
        let diagnostics = checks::check_reusing(&input, &index, same_contract.map(|p| p.diagnostics.as_slice()));
        MissionAnalysis { parts, diagnostics, tables }
    }

    /// The lookups over this analysis's documents.
    pub fn index(&self) -> MissionIndex<'_> {
        self.tables.view(self.contract(), self.features())
    }

    pub fn contract(&self) -> Option<&Contract> {
        self.parts.contract.as_deref()
    }

    pub fn features(&self) -> Option<&FeaturesFile> {
        self.parts.features.as_deref()
    }

    /// The first heading with this assertion id.
    pub fn assertion(&self, id: &str) -> Option<&Assertion> {
        self.index().assertion(id)
    }

    pub fn has_assertion(&self, id: &str) -> bool {
        self.index().has_assertion(id)
    }

    /// The first feature with this id.
    pub fn feature(&self, id: &str) -> Option<&Feature> {
        self.index().feature(id)
    }

    pub fn has_feature(&self, id: &str) -> bool {
        self.index().has_feature(id)
    }

    /// Every `fulfills` entry naming `id`, cancelled features included.
    pub fn claims_of(&self, id: &str) -> &[ClaimRef] {
        self.index().claims_of(id)
    }

    /// The feature the invariant counts as the owner: the first claim by a feature that is not
    /// cancelled.
    pub fn claiming_feature(&self, id: &str) -> Option<&Feature> {
        self.index().claiming_feature(id)
    }

    /// The handoff of the feature's last worker session (its `workerSessionIds` order), or
    /// else the last handoff that names the feature.
    pub fn last_handoff(&self, feature: &Feature) -> Option<&FoundHandoff> {
        let handoffs = self.parts.handoffs.as_slice();
        let by_session = feature
            .worker_session_ids
            .iter()
            .rev()
            .find_map(|s| handoffs.iter().find(|h| h.file.worker_session_id == s.value));
        by_session.or_else(|| {
            let id = feature.id()?;
            handoffs.iter().rev().find(|h| h.file.feature_id == id)
        })
    }

    /// What validation says of an assertion: validation-state.json's entry, told apart into
    /// blocked and failed, with the evidence the reports cite. `None` when not validated yet.
    pub fn validation_of(&self, id: &str) -> Option<AssertionValidation> {
        let records = self.parts.validation.as_deref()?;
        let state = records.state.as_ref()?.assertions.get(id)?;
        let blocked_in_report = records
            .milestones
            .iter()
            .filter_map(|m| m.user_testing.as_ref())
            .any(|u| u.blocked_assertions.iter().any(|b| b.id == id));
        let status = match state.status.as_str() {
            "failed" if state.blocked || blocked_in_report => "blocked",
            "" => "pending",
            s => s,
        };
        // The runner records the checked evidence of the latest round (and its `round`) in
        // validation-state.json; only in a folder droid wrote do the flows' citations stand in.
        let mut evidence: Vec<String> = state.evidence.clone();
        for m in records.milestones.iter().filter(|_| state.evidence.is_empty() && state.round.is_none()) {
            for flow in &m.flows {
                for a in flow.assertions.iter().filter(|a| a.id == id) {
                    for e in a.evidence_paths() {
                        let path = format!("{}/{e}", crate::model::folder::EVIDENCE_DIR);
                        if !evidence.contains(&path) {
                            evidence.push(path);
                        }
                    }
                }
            }
        }
        // A failed assertion has no `validatedAtMilestone`: its milestone is the one whose
        // user-testing report names it.
        let reported_in = || {
            records
                .milestones
                .iter()
                .find(|m| {
                    m.user_testing.as_ref().is_some_and(|u| {
                        u.passed_assertions.iter().any(|p| p == id)
                            || u.failed_assertions.iter().any(|f| f.id == id)
                            || u.blocked_assertions.iter().any(|b| b.id == id)
                    })
                })
                .map(|m| m.user_testing.as_ref().map_or(m.folder.clone(), |u| u.milestone.clone()))
        };
        let milestone = state.validated_at_milestone.clone().or_else(reported_in);
        Some(AssertionValidation {
            status: status.to_string(),
            milestone,
            round: state.round,
            issues: state.issues.clone(),
            evidence,
        })
    }

    /// The assertion or feature id under byte `offset` of `text` (any file of the mission).
    pub fn id_at(&self, text: &str, offset: usize) -> Option<IdAt> {
        index::id_at(&self.index(), text, offset)
    }

    /// The analysis of a contract and a features.json alone, as tests build one.
    #[cfg(test)]
    pub(crate) fn of_texts(contract_text: &str, features_text: &str) -> Self {
        use crate::model::{contract, features};
        MissionAnalysis::new(MissionParts {
            contract: Some(Arc::new(contract::parse(contract_text))),
            features: Some(Arc::new(features::parse(features_text))),
            ..MissionParts::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{contract, features};

    fn analysis(contract_text: &str, features_text: &str) -> MissionAnalysis {
        MissionAnalysis::of_texts(contract_text, features_text)
    }

    #[test]
    fn a_features_edit_reusing_the_contract_table_equals_a_fresh_analysis() {
        let contract_text = "## A\n### VAL-A-001: one\nTool: terminal\nEvidence: e\n\n### VAL-A-002: two\nTool: pigeon\n\n### VAL-A-001: again\nTool: terminal\nEvidence: e\n\n### VAL-A-003: three\nTool: terminal\nEvidence: e\n";
        let before = r#"{"features":[{"id":"f1","description":"d","milestone":"m","status":"pending","fulfills":["VAL-A-001"]},{"id":"f2","description":"d","milestone":"m","status":"pending","fulfills":["VAL-A-002"]}]}"#;
        // Claims move, a claim names an id no heading defines, a feature is cancelled, one is
        // duplicated and one depends on a missing feature.
        let after = r#"{"features":[{"id":"f1","description":"d","milestone":"m","status":"cancelled","fulfills":["VAL-A-001","VAL-B-009"]},{"id":"f2","description":"d","milestone":"m","status":"pending","fulfills":["VAL-A-001","VAL-A-003"]},{"id":"f2","description":"d","milestone":"n","status":"pending","fulfills":["VAL-A-003","VAL-B-009"],"preconditions":["f9-x"]}]}"#;
        let contract = Arc::new(contract::parse(contract_text));
        let parts = |features_text: &str, contract: Arc<Contract>| MissionParts {
            contract: Some(contract),
            features: Some(Arc::new(features::parse(features_text))),
            ..MissionParts::default()
        };
        let first = MissionAnalysis::new(parts(before, contract.clone()));
        let reused = MissionAnalysis::reusing(parts(after, contract.clone()), Some(&first));
        let fresh = MissionAnalysis::new(parts(after, Arc::new(contract::parse(contract_text))));
        let (Some(old_table), Some(reused_table)) = (&first.tables.contract, &reused.tables.contract) else {
            panic!("both analyses have a contract table")
        };
        assert!(Arc::ptr_eq(old_table, reused_table), "the contract's table is reused");
        assert!(!fresh.diagnostics.is_empty());
        assert_eq!(reused.diagnostics, fresh.diagnostics);
        for id in ["VAL-A-001", "VAL-A-002", "VAL-A-003", "VAL-B-009", "VAL-C-001", "f1", "f2", "f9", ""] {
            let (r, f) = (reused.index(), fresh.index());
            assert_eq!(r.assertion_indices(id), f.assertion_indices(id), "{id}");
            assert_eq!(r.feature_indices(id), f.feature_indices(id), "{id}");
            assert_eq!(r.claims_of(id), f.claims_of(id), "{id}");
            assert_eq!(r.claiming_feature(id), f.claiming_feature(id), "{id}");
        }
        assert_eq!(reused.claims_of("VAL-B-009").len(), 2);
        assert_eq!(reused.claiming_feature("VAL-A-001").and_then(Feature::id), Some("f2"));
        // Another contract parse: nothing is reused.
        let other = MissionAnalysis::reusing(parts(after, Arc::new(contract::parse(contract_text))), Some(&first));
        assert!(!Arc::ptr_eq(old_table, other.tables.contract.as_ref().expect("a contract table")));
        assert_eq!(other.diagnostics, fresh.diagnostics);
    }

    #[test]
    fn resolves_ids_and_owners() {
        let a = analysis(
            "## Auth\n### VAL-AUTH-001: Login\nTool: terminal\nEvidence: log\n",
            r#"{"features":[{"id":"old","description":"d","milestone":"m","status":"cancelled","fulfills":["VAL-AUTH-001"]},{"id":"feat-login","description":"d","milestone":"m","status":"pending","fulfills":["VAL-AUTH-001"]}]}"#,
        );
        assert_eq!(a.assertion("VAL-AUTH-001").map(|x| x.title.as_str()), Some("Login"));
        assert_eq!(a.claims_of("VAL-AUTH-001").len(), 2);
        assert_eq!(a.claiming_feature("VAL-AUTH-001").and_then(Feature::id), Some("feat-login"));
        let text = "see feat-login and VAL-AUTH-001";
        assert!(matches!(a.id_at(text, 6), Some(IdAt::Feature { ref id, .. }) if id == "feat-login"));
        assert!(matches!(a.id_at(text, 25), Some(IdAt::Assertion { ref id, .. }) if id == "VAL-AUTH-001"));
        assert_eq!(a.id_at(text, 1), None);
        assert_eq!(a.id_at(text, 10_000), Some(IdAt::Assertion { id: "VAL-AUTH-001".into(), span: 19..31 }));
    }
}
