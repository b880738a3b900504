//! Document highlights: every mention of the assertion or feature id under the cursor in the
//! same file, the whole id (an editor's own word highlight would stop at the `-` of
//! `VAL-AUTH-001`), its definition marked as such.

use super::index::IdAt;
use super::mission::MissionAnalysis;
use super::navigate::{self, FileRef};
use crate::model::Span;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Highlight {
    pub span: Span,
    /// The contract heading of an assertion or the `id` of a feature entry.
    pub definition: bool,
}

/// The highlights of the id at byte `offset` of `text`, the text of `file`; none when the
/// cursor is on no id, or on one that is part of a file path (it names a file there).
pub fn highlights(analysis: &MissionAnalysis, file: &FileRef, text: &str, offset: usize) -> Vec<Highlight> {
    let Some(target) = analysis.id_at(text, offset) else {
        return Vec::new();
    };
    let spans = navigate::occurrences(&target, text);
    let under_cursor = match &target {
        IdAt::Assertion { span, .. } | IdAt::Feature { span, .. } => span,
    };
    if !spans.iter().any(|s| s.start <= under_cursor.start && under_cursor.end <= s.end) {
        return Vec::new();
    }
    let definitions: Vec<Span> =
        navigate::definition(analysis, &target).into_iter().filter(|l| &l.file == file).map(|l| l.span).collect();
    spans.into_iter().map(|span| Highlight { definition: definitions.contains(&span), span }).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::analysis::mission::MissionParts;
    use crate::analysis::DocKind;
    use crate::model::{contract, features};

    const CONTRACT: &str = "## Auth\n\n### VAL-AUTH-001: Sign in\nTool: terminal\nEvidence: log\nLike VAL-AUTH-0011, unlike VAL-AUTH-001.\n\n### VAL-AUTH-002: Sign out\nSee `evidence/m/VAL-AUTH-001.txt`.\n";
    const FEATURES: &str = r#"{"features": [
  {"id": "login", "description": "login.b and login.", "milestone": "m", "status": "pending", "fulfills": ["VAL-AUTH-001"]},
  {"id": "login.b", "description": "d", "milestone": "m", "status": "pending", "fulfills": ["VAL-AUTH-002"], "dependsOn": ["login"]}
]}"#;

    fn analysis() -> MissionAnalysis {
        MissionAnalysis::new(MissionParts {
            contract: Some(Arc::new(contract::parse(CONTRACT))),
            features: Some(Arc::new(features::parse(FEATURES))),
            ..MissionParts::default()
        })
    }

    /// (the text under each highlight, whether it is the definition), in order.
    fn shown(file: DocKind, text: &str, needle: &str, skip: usize, into: usize) -> Vec<(usize, String, bool)> {
        let at = text.match_indices(needle).nth(skip).unwrap().0 + into;
        highlights(&analysis(), &FileRef::Doc(file), text, at)
            .into_iter()
            .map(|h| (h.span.start, text[h.span].to_string(), h.definition))
            .collect()
    }

    #[test]
    fn an_assertion_id_highlights_whole_in_the_contract_and_in_features_json() {
        // From the middle of the id (after `VAL-`), the heading is the definition; the longer
        // VAL-AUTH-0011 and the id inside a file path are not mentions.
        let in_contract = shown(DocKind::Contract, CONTRACT, "VAL-AUTH-001:", 0, 6);
        let texts: Vec<(&str, bool)> = in_contract.iter().map(|(_, s, d)| (s.as_str(), *d)).collect();
        assert_eq!(texts, [("VAL-AUTH-001", true), ("VAL-AUTH-001", false)]);
        assert_eq!(in_contract[1].0, CONTRACT.find("unlike VAL").unwrap() + "unlike ".len());
        // In features.json a claim highlights without its quotes, and nothing is a definition.
        let in_features = shown(DocKind::Features, FEATURES, "VAL-AUTH-001", 0, 10);
        assert_eq!(in_features, [(FEATURES.find("VAL-AUTH-001").unwrap(), "VAL-AUTH-001".to_string(), false)]);
    }

    #[test]
    fn a_feature_id_highlights_its_entry_and_dependents_not_longer_names() {
        let found = shown(DocKind::Features, FEATURES, "\"login\"", 1, 2);
        let texts: Vec<(&str, bool)> = found.iter().map(|(_, s, d)| (s.as_str(), *d)).collect();
        // the entry's id (the definition), "login." ending a sentence, and the dependsOn.
        assert_eq!(texts, [("login", true), ("login", false), ("login", false)]);
        assert_eq!(found[0].0, FEATURES.find("\"login\"").unwrap() + 1);
    }

    #[test]
    fn no_highlight_off_an_id_or_inside_a_path() {
        assert!(shown(DocKind::Contract, CONTRACT, "Sign in", 0, 2).is_empty());
        assert!(shown(DocKind::Contract, CONTRACT, "m/VAL-AUTH-001.txt", 0, 5).is_empty());
        assert!(shown(DocKind::Features, FEATURES, "pending", 0, 1).is_empty());
    }
}
