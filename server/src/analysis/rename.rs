//! Rename of an assertion or feature id across the mission files that define the plan.
//! Append-only logs, handoffs and past validation rounds are history and keep the old name.

use super::index::IdAt;
use super::mission::MissionAnalysis;
use super::navigate::{occurrences, FileRef};
use crate::model::{folder, ids, Span};

/// The files a rename edits (design §4), besides the contract and features.json.
pub const RENAMED_FILES: [&str; 2] = [folder::MISSION_FILE, folder::VALIDATION_STATE_FILE];

/// One file's text edits: byte ranges of the old text and their replacement, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEdits {
    pub file: FileRef,
    pub edits: Vec<(Span, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenameError(pub String);

impl std::fmt::Display for RenameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// True when a rename edits `file` (the contract, features.json, mission.md,
/// validation-state.json).
pub fn in_scope(file: &FileRef) -> bool {
    match file {
        FileRef::Doc(_) => true,
        FileRef::Other(path) => RENAMED_FILES.contains(&path.as_str()),
    }
}

/// The edits that rename `target` to `new_name` in every text given that is in scope.
pub fn rename(
    analysis: &MissionAnalysis,
    target: &IdAt,
    new_name: &str,
    texts: &[(FileRef, &str)],
) -> Result<Vec<FileEdits>, RenameError> {
    let new_name = new_name.trim();
    match target {
        IdAt::Assertion { id, .. } => {
            if !ids::is_assertion_id(new_name) {
                return Err(RenameError(format!("`{new_name}` is not a valid assertion id: expected `VAL-AREA-NNN` (AREA upper-case letters and digits, NNN three or more digits)")));
            }
            if new_name != id && analysis.has_assertion(new_name) {
                return Err(RenameError(format!("`{new_name}` is already an assertion of the validation contract")));
            }
        }
        IdAt::Feature { id, .. } => {
            if new_name.is_empty()
                || !new_name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            {
                return Err(RenameError(format!(
                    "`{new_name}` is not a usable feature id: use letters, digits, `-`, `_` and `.`"
                )));
            }
            if ids::looks_like_assertion_id(new_name) {
                return Err(RenameError(format!("`{new_name}` looks like an assertion id; feature ids must not")));
            }
            if new_name != id && analysis.has_feature(new_name) {
                return Err(RenameError(format!("`{new_name}` is already a feature id")));
            }
        }
    }
    let mut out = Vec::new();
    for (file, text) in texts.iter().filter(|(file, _)| in_scope(file)) {
        let edits: Vec<(Span, String)> =
            occurrences(target, text).into_iter().map(|span| (span, new_name.to_string())).collect();
        if !edits.is_empty() {
            out.push(FileEdits { file: file.clone(), edits });
        }
    }
    Ok(out)
}

/// Applies non-overlapping, ordered edits to `text` (used by tests and by callers that
/// preview a rename).
pub fn apply(text: &str, edits: &[(Span, String)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (span, new) in edits {
        out.push_str(&text[at..span.start]);
        out.push_str(new);
        at = span.end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::analysis::diagnostic::DocKind;
    use crate::analysis::mission::MissionParts;
    use crate::model::{contract, features};

    const CONTRACT: &str = "### VAL-A-001: One\nTool: terminal\nEvidence: log\n### VAL-A-002: Two\nLike VAL-A-001.\n";
    const FEATURES: &str = r#"{"features":[{"id":"feat-a","description":"d","milestone":"m","status":"pending","fulfills":["VAL-A-001","VAL-A-002"]},{"id":"feat-b","description":"after feat-a","milestone":"m","status":"pending","fulfills":[],"dependsOn":["feat-a"]}]}"#;

    fn analysis() -> MissionAnalysis {
        MissionAnalysis::new(MissionParts {
            contract: Some(Arc::new(contract::parse(CONTRACT))),
            features: Some(Arc::new(features::parse(FEATURES))),
            ..MissionParts::default()
        })
    }

    fn texts() -> Vec<(FileRef, &'static str)> {
        vec![
            (FileRef::Doc(DocKind::Contract), CONTRACT),
            (FileRef::Doc(DocKind::Features), FEATURES),
            (FileRef::Other("mission.md".into()), "Done when VAL-A-001 passes; feat-a first."),
            (FileRef::Other("handoffs/s1.json".into()), r#"{"featureId":"feat-a","salientSummary":"VAL-A-001"}"#),
        ]
    }

    #[test]
    fn renames_an_assertion_in_scope_only() {
        let a = analysis();
        let target = IdAt::Assertion { id: "VAL-A-001".into(), span: 0..0 };
        let edits = rename(&a, &target, "VAL-AUTH-010", &texts()).unwrap();
        let files: Vec<&FileRef> = edits.iter().map(|e| &e.file).collect();
        assert_eq!(
            files,
            [&FileRef::Doc(DocKind::Contract), &FileRef::Doc(DocKind::Features), &FileRef::Other("mission.md".into())]
        );
        assert_eq!(apply(CONTRACT, &edits[0].edits), CONTRACT.replace("VAL-A-001", "VAL-AUTH-010"));
        assert_eq!(apply(FEATURES, &edits[1].edits), FEATURES.replace("VAL-A-001", "VAL-AUTH-010"));
    }

    #[test]
    fn renames_a_feature_and_its_dependents() {
        let a = analysis();
        let target = IdAt::Feature { id: "feat-a".into(), span: 0..0 };
        let edits = rename(&a, &target, "feat-login", &texts()).unwrap();
        assert_eq!(
            edits.iter().map(|e| &e.file).collect::<Vec<_>>(),
            [&FileRef::Doc(DocKind::Features), &FileRef::Other("mission.md".into())]
        );
        assert_eq!(
            apply(FEATURES, &edits[0].edits),
            FEATURES.replace("\"feat-a\"", "\"feat-login\"").replace("after feat-a", "after feat-login")
        );
        assert_eq!(edits[1].edits.len(), 1);
    }

    #[test]
    fn refuses_bad_or_taken_names() {
        let a = analysis();
        let assertion = IdAt::Assertion { id: "VAL-A-001".into(), span: 0..0 };
        assert!(rename(&a, &assertion, "VAL-a-1", &texts()).unwrap_err().0.contains("not a valid assertion id"));
        assert!(rename(&a, &assertion, "VAL-A-002", &texts()).unwrap_err().0.contains("already"));
        let feature = IdAt::Feature { id: "feat-a".into(), span: 0..0 };
        assert!(rename(&a, &feature, "feat b", &texts()).is_err());
        assert!(rename(&a, &feature, "feat-b", &texts()).is_err());
        assert!(rename(&a, &feature, "VAL-X-001", &texts()).is_err());
    }
}
