//! Inlay hints in features.json: the assertion title after each id of `fulfills`, and the
//! feature description after each precondition that names a feature, truncated.

use super::mission::MissionAnalysis;
use crate::model::Span;

/// Longest hint, in characters (an ellipsis replaces the rest).
pub const MAX_HINT_CHARS: usize = 40;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    /// Byte offset the hint follows (the end of the id's string).
    pub at: usize,
    pub label: String,
    /// The untruncated text, when the label was cut.
    pub full: Option<String>,
}

/// Hints for the features overlapping the byte range `within`.
pub fn feature_hints(analysis: &MissionAnalysis, within: &Span) -> Vec<Hint> {
    let Some(file) = analysis.features() else { return Vec::new() };
    let first = file.features.partition_point(|f| f.span.end <= within.start);
    let mut out = Vec::new();
    for f in file.features[first..].iter().take_while(|f| f.span.start < within.end) {
        for claim in f.claims() {
            if let Some(a) = analysis.assertion(&claim.value).filter(|a| !a.title.is_empty()) {
                out.push(hint(claim.span.end, &a.title));
            }
        }
        for (i, dep) in f.dependency_refs(|id| analysis.has_feature(id)) {
            if let Some(description) =
                analysis.feature(dep.value).and_then(|d| d.description.as_ref()).filter(|d| !d.value.trim().is_empty())
            {
                out.push(hint(f.preconditions[i].span.end, &description.value));
            }
        }
    }
    out.retain(|h| within.start <= h.at && h.at <= within.end);
    out
}

fn hint(at: usize, text: &str) -> Hint {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() <= MAX_HINT_CHARS {
        return Hint { at, label: text, full: None };
    }
    let cut: String = text.chars().take(MAX_HINT_CHARS - 1).collect();
    Hint { at, label: format!("{}…", cut.trim_end()), full: Some(text) }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::analysis::mission::MissionParts;
    use crate::model::{contract, features};

    #[test]
    fn titles_and_descriptions_truncated_within_the_range() {
        let c = "### VAL-A-001: A title that is much longer than forty characters in all\n";
        let f = "{\"features\": [\n{\"id\": \"f1\", \"description\": \"Login\\nform\", \"fulfills\": [\"VAL-A-001\", \"VAL-A-404\"]},\n{\"id\": \"f2\", \"fulfills\": [], \"preconditions\": [\"f1\"]}]}";
        let a = MissionAnalysis::new(MissionParts {
            contract: Some(Arc::new(contract::parse(c))),
            features: Some(Arc::new(features::parse(f))),
            ..MissionParts::default()
        });
        let all = feature_hints(&a, &(0..f.len()));
        let labels: Vec<&str> = all.iter().map(|h| h.label.as_str()).collect();
        assert_eq!(labels, ["A title that is much longer than forty…", "Login form"]);
        assert_eq!(&f[..all[0].at], &f[..f.find("\"VAL-A-001\"").unwrap() + 11]);
        assert!(all[0].full.is_some());
        let second_line = f.find("{\"id\": \"f2\"").unwrap();
        assert_eq!(feature_hints(&a, &(second_line..f.len())).len(), 1);
        assert!(feature_hints(&a, &(f.len() + 5..f.len() + 9)).is_empty());
    }
}
