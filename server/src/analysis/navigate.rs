//! Go to definition and find references for assertion and feature ids, over the texts of a
//! mission folder that the caller hands in (open editor buffers or files read from disk).

use super::diagnostic::DocKind;
use super::index::IdAt;
use super::mission::MissionAnalysis;
use crate::model::{ids, Span};

/// A file of the mission folder: one of the two live documents, or any other file by its
/// path relative to the folder (`mission.md`, `handoffs/x.json`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileRef {
    Doc(DocKind),
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: FileRef,
    pub span: Span,
}

/// Where the id is defined: the contract heading(s) of an assertion, the `id` string (without
/// its quotes) of a feature.
pub fn definition(analysis: &MissionAnalysis, target: &IdAt) -> Vec<Location> {
    match target {
        IdAt::Assertion { id, .. } => analysis
            .contract()
            .map(|c| {
                c.assertions
                    .iter()
                    .filter(|a| &a.id.value == id)
                    .map(|a| Location { file: FileRef::Doc(DocKind::Contract), span: a.id.span.clone() })
                    .collect()
            })
            .unwrap_or_default(),
        IdAt::Feature { id, .. } => analysis
            .features()
            .map(|f| {
                f.features
                    .iter()
                    .filter_map(|f| f.id.as_ref())
                    .filter(|s| &s.value == id)
                    .map(|s| Location { file: FileRef::Doc(DocKind::Features), span: unquoted(&s.span) })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Every mention of the id in `texts`, in the order given and by position; the definition is
/// left out unless `include_declaration`.
pub fn references(
    analysis: &MissionAnalysis,
    target: &IdAt,
    texts: &[(FileRef, &str)],
    include_declaration: bool,
) -> Vec<Location> {
    let declarations = definition(analysis, target);
    let mut out = Vec::new();
    for (file, text) in texts {
        for span in occurrences(target, text) {
            let location = Location { file: file.clone(), span };
            if include_declaration || !declarations.contains(&location) {
                out.push(location);
            }
        }
    }
    out
}

/// Byte ranges of the id in `text`: assertion ids by the id grammar's token boundaries,
/// feature ids as whole tokens (not inside a longer name). An id that is part of a file path
/// (`evidence/basics/VAL-A-001.txt`) names a file, not the id: renaming it there would break
/// the path.
pub fn occurrences(target: &IdAt, text: &str) -> Vec<Span> {
    let found: Vec<Span> = match target {
        IdAt::Assertion { id, .. } => {
            ids::find_assertion_ids(text).into_iter().filter(|(_, found)| found == id).map(|(span, _)| span).collect()
        }
        IdAt::Feature { id, .. } => feature_occurrences(text, id),
    };
    found.into_iter().filter(|span| !in_path(text.as_bytes(), span)).collect()
}

/// Whether the bytes around `span` make it a path component or a file name.
fn in_path(bytes: &[u8], span: &Span) -> bool {
    let before = span.start.checked_sub(1).map(|i| bytes[i]);
    let after = bytes.get(span.end).copied();
    let extension = after == Some(b'.') && bytes.get(span.end + 1).is_some_and(|b| b.is_ascii_alphanumeric());
    matches!(before, Some(b'/' | b'\\')) || after == Some(b'/') || extension
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
}

fn feature_occurrences(text: &str, id: &str) -> Vec<Span> {
    if id.is_empty() {
        return Vec::new();
    }
    let bytes = text.as_bytes();
    text.match_indices(id)
        .map(|(start, _)| start..start + id.len())
        .filter(|span| {
            let before_ok = span.start == 0 || !is_name_byte(bytes[span.start - 1]);
            // A trailing `.` ends a sentence ("see feat-a."), it does not extend the name.
            let after_ok = match bytes.get(span.end) {
                None => true,
                Some(b'.') => bytes.get(span.end + 1).is_none_or(|b| !is_name_byte(*b)),
                Some(&b) => !is_name_byte(b),
            };
            before_ok && after_ok
        })
        .collect()
}

/// The inside of a JSON string's span (`"abc"` -> `abc`).
pub fn unquoted(span: &Span) -> Span {
    if span.end >= span.start + 2 {
        span.start + 1..span.end - 1
    } else {
        span.clone()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::analysis::mission::MissionParts;
    use crate::model::{contract, features};

    const CONTRACT: &str = "### VAL-A-001: One\nTool: terminal\nEvidence: log\nSee VAL-A-0011 and VAL-A-001.\n";
    const FEATURES: &str = r#"{"features":[{"id":"feat-a","description":"feat-a.b and feat-a.","milestone":"m","status":"pending","fulfills":["VAL-A-001"]},{"id":"feat-a.b","description":"d","milestone":"m","status":"pending","fulfills":[],"dependsOn":["feat-a"]}]}"#;

    fn analysis() -> MissionAnalysis {
        MissionAnalysis::new(MissionParts {
            contract: Some(Arc::new(contract::parse(CONTRACT))),
            features: Some(Arc::new(features::parse(FEATURES))),
            ..MissionParts::default()
        })
    }

    #[test]
    fn definition_and_references_of_an_assertion() {
        let a = analysis();
        let target = IdAt::Assertion { id: "VAL-A-001".into(), span: 0..0 };
        let def = definition(&a, &target);
        assert_eq!(def, [Location { file: FileRef::Doc(DocKind::Contract), span: 4..13 }]);
        let texts = [
            (FileRef::Doc(DocKind::Contract), CONTRACT),
            (FileRef::Doc(DocKind::Features), FEATURES),
            (FileRef::Other("mission.md".into()), "Goal: VAL-A-001"),
        ];
        let refs = references(&a, &target, &texts, false);
        let found: Vec<(&FileRef, &str)> =
            refs.iter().map(|l| (&l.file, &texts.iter().find(|t| t.0 == l.file).unwrap().1[l.span.clone()])).collect();
        assert_eq!(found.len(), 3, "{refs:?}");
        assert!(found.iter().all(|(_, s)| *s == "VAL-A-001"));
        assert_eq!(references(&a, &target, &texts, true).len(), 4);
    }

    #[test]
    fn feature_references_respect_name_boundaries() {
        let a = analysis();
        let target = IdAt::Feature { id: "feat-a".into(), span: 0..0 };
        let def = definition(&a, &target);
        assert_eq!(&FEATURES[def[0].span.clone()], "feat-a");
        let spans = occurrences(&target, FEATURES);
        // the id, "feat-a." at the end of a sentence, and dependsOn; not `feat-a.b`
        assert_eq!(spans.len(), 3, "{spans:?}");
        assert!(spans.iter().all(|s| &FEATURES[s.clone()] == "feat-a"));
    }

    #[test]
    fn an_id_inside_a_file_path_is_not_an_occurrence() {
        let target = IdAt::Assertion { id: "VAL-A-001".into(), span: 0..0 };
        let text = "see `evidence/basics/VAL-A-001.txt`, VAL-A-001/notes and VAL-A-001.";
        let found: Vec<&str> = occurrences(&target, text).into_iter().map(|s| &text[s]).collect();
        assert_eq!(found, ["VAL-A-001"]);
        assert_eq!(occurrences(&target, text)[0].start, text.rfind("VAL-A-001").unwrap());
        let feature = IdAt::Feature { id: "feat-a".into(), span: 0..0 };
        assert_eq!(occurrences(&feature, "handoffs/feat-a/x and feat-a").len(), 1);
    }
}
