//! One analysed mission, owned and shareable: the parsed documents, the records the hover
//! shows (validation state, handoffs), the diagnostics of design §3 and lookup tables for the
//! language server's queries. Built from parsed inputs, so callers can reuse an unchanged
//! document's parse across edits of the other one.

use std::sync::{Arc, OnceLock};

use foldhash::HashMap;

use super::checks::{self, MissionInput};
use super::diagnostic::Diagnostic;
use super::index::{token_span_at, IdAt};
use crate::model::records::{Handoff, ValidationState};
use crate::model::{ids, Assertion, Contract, Feature, FeaturesFile};

/// A handoff with the session id its file is named after (`handoffs/<sessionId>.json`).
#[derive(Debug, Clone, PartialEq)]
pub struct NamedHandoff {
    pub session_id: String,
    pub handoff: Handoff,
}

/// Everything one mission folder contributes to an analysis.
#[derive(Debug, Clone, Default)]
pub struct MissionParts {
    pub contract: Option<Arc<Contract>>,
    pub features: Option<Arc<FeaturesFile>>,
    pub skills: Option<Vec<String>>,
    pub validation: Option<Arc<ValidationState>>,
    /// Sorted by session id.
    pub handoffs: Arc<Vec<NamedHandoff>>,
}

#[derive(Debug)]
pub struct MissionAnalysis {
    pub parts: MissionParts,
    pub diagnostics: Vec<Diagnostic>,
    /// Built on the first query, so an edit's diagnostics never wait for it.
    lookup: OnceLock<Lookup>,
}

/// A `fulfills` entry: feature index and item index within its `fulfills`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub feature: usize,
    pub item: usize,
}

#[derive(Debug, Default)]
struct Lookup {
    assertions: HashMap<String, Vec<usize>>,
    features: HashMap<String, Vec<usize>>,
    claims: HashMap<String, Vec<Claim>>,
}

impl MissionAnalysis {
    /// Runs every check of design §3 over the parts.
    pub fn new(parts: MissionParts) -> Self {
        let input = MissionInput {
            contract: parts.contract.as_deref(),
            features: parts.features.as_deref(),
            skills: parts.skills.as_deref(),
            validation: parts.validation.as_deref(),
        };
        let diagnostics = checks::check(&input);
        MissionAnalysis { parts, diagnostics, lookup: OnceLock::new() }
    }

    /// An analysis of `parts` whose diagnostics the caller computed (`checks::check_reusing`).
    pub fn with_diagnostics(parts: MissionParts, diagnostics: Vec<Diagnostic>) -> Self {
        MissionAnalysis { parts, diagnostics, lookup: OnceLock::new() }
    }

    fn lookup(&self) -> &Lookup {
        self.lookup.get_or_init(|| {
            let mut l = Lookup::default();
            if let Some(c) = &self.parts.contract {
                for (i, a) in c.assertions.iter().enumerate() {
                    l.assertions.entry(a.id.value.clone()).or_default().push(i);
                }
            }
            if let Some(f) = &self.parts.features {
                for (fi, feature) in f.features.iter().enumerate() {
                    if let Some(id) = feature.id() {
                        l.features.entry(id.to_string()).or_default().push(fi);
                    }
                    for (item, claim) in feature.claims().iter().enumerate() {
                        l.claims.entry(claim.value.clone()).or_default().push(Claim { feature: fi, item });
                    }
                }
            }
            l
        })
    }

    pub fn contract(&self) -> Option<&Contract> {
        self.parts.contract.as_deref()
    }

    pub fn features(&self) -> Option<&FeaturesFile> {
        self.parts.features.as_deref()
    }

    /// The first heading with this assertion id.
    pub fn assertion(&self, id: &str) -> Option<&Assertion> {
        let i = *self.lookup().assertions.get(id)?.first()?;
        self.contract().map(|c| &c.assertions[i])
    }

    pub fn has_assertion(&self, id: &str) -> bool {
        self.lookup().assertions.contains_key(id)
    }

    /// The first feature with this id.
    pub fn feature(&self, id: &str) -> Option<&Feature> {
        let i = *self.lookup().features.get(id)?.first()?;
        self.features().map(|f| &f.features[i])
    }

    pub fn has_feature(&self, id: &str) -> bool {
        self.lookup().features.contains_key(id)
    }

    /// Every `fulfills` entry naming `id`, cancelled features included.
    pub fn claims_of(&self, id: &str) -> &[Claim] {
        self.lookup().claims.get(id).map_or(&[], Vec::as_slice)
    }

    /// The feature the invariant counts as the owner: the first claim by a feature that is not
    /// cancelled.
    pub fn claiming_feature(&self, id: &str) -> Option<&Feature> {
        let features = self.features()?;
        self.claims_of(id).iter().map(|c| &features.features[c.feature]).find(|f| !f.is_cancelled())
    }

    /// The handoff of the feature's last worker session (its `workerSessionIds` order), or
    /// else the last handoff that names the feature.
    pub fn last_handoff(&self, feature: &Feature) -> Option<&NamedHandoff> {
        let handoffs = self.parts.handoffs.as_slice();
        let by_session = feature.worker_session_ids.iter().rev().find_map(|s| handoffs.iter().find(|h| h.session_id == s.value));
        by_session.or_else(|| {
            let id = feature.id()?;
            handoffs.iter().rev().find(|h| h.handoff.feature_id.as_deref() == Some(id))
        })
    }

    /// The assertion or feature id under byte `offset` of `text` (any file of the mission).
    pub fn id_at(&self, text: &str, offset: usize) -> Option<IdAt> {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let span = token_span_at(text, offset)?;
        let token = &text[span.clone()];
        if ids::is_assertion_id(token) {
            return Some(IdAt::Assertion { id: token.to_string(), span });
        }
        if self.has_feature(token) {
            return Some(IdAt::Feature { id: token.to_string(), span });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{contract, features};

    fn analysis(contract_text: &str, features_text: &str) -> MissionAnalysis {
        MissionAnalysis::new(MissionParts {
            contract: Some(Arc::new(contract::parse(contract_text))),
            features: Some(Arc::new(features::parse(features_text))),
            ..MissionParts::default()
        })
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
