//! Document links: evidence paths (`evidence/<milestone>/…`) in any mission file, and the
//! handoff file of each worker session in features.json. Targets are folder-relative paths;
//! the caller decides which exist.

use super::navigate::unquoted;
use crate::model::folder::FoundHandoff;
use crate::model::json::JsonValue;
use crate::model::{FeaturesFile, Span};

const EVIDENCE_DIR: &str = "evidence/";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub span: Span,
    /// Relative to the mission folder, `/`-separated, never leaving it.
    pub target: String,
}

/// Every `evidence/…` path in `text`: it starts after a quote, backtick, bracket or space and
/// ends at the next one of those, a comma or a line break.
pub fn evidence_links(text: &str) -> Vec<Link> {
    let bytes = text.as_bytes();
    let ends =
        |b: u8| matches!(b, b'"' | b'\'' | b'`' | b')' | b']' | b'>' | b',' | b' ' | b'\t' | b'\r' | b'\n' | b'\\');
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = text[from..].find(EVIDENCE_DIR) {
        let start = from + found;
        from = start + EVIDENCE_DIR.len();
        let starts_path =
            start == 0 || matches!(bytes[start - 1], b'"' | b'\'' | b'`' | b'(' | b'[' | b'<' | b' ' | b'\t' | b'\n');
        if !starts_path {
            continue;
        }
        let len = bytes[start..].iter().position(|&b| ends(b)).unwrap_or(bytes.len() - start);
        let target = &text[start..start + len];
        let trimmed = target.trim_end_matches(['.', ':', ';']);
        if trimmed.len() > EVIDENCE_DIR.len()
            && !trimmed.split('/').any(|part| part == ".." || part.is_empty() && !trimmed.ends_with('/'))
        {
            out.push(Link { span: start..start + trimmed.len(), target: trimmed.to_string() });
        }
        from = start + len.max(EVIDENCE_DIR.len());
    }
    out
}

/// Whether `relative` (a path inside the mission folder, `/`-separated) is a user-testing
/// flow, `validation/<milestone>/user-testing/flows/<group>.json`.
pub fn is_flow_file(relative: &str) -> bool {
    let parts: Vec<&str> = relative.split('/').collect();
    matches!(parts.as_slice(), ["validation", _, "user-testing", "flows", name] if name.ends_with(".json"))
}

/// The evidence a flow cites (`assertions[].evidence`, droid's object of lists, paths relative
/// to `evidence/`), linked to `evidence/<path>`.
pub fn flow_evidence_links(text: &str) -> Vec<Link> {
    let parsed = crate::model::json::parse(text);
    let mut out = Vec::new();
    let Some(assertions) = parsed.value.as_ref().and_then(|v| v.get("assertions")).and_then(|m| m.value.as_array())
    else {
        return out;
    };
    for evidence in assertions.iter().filter_map(|a| a.get("evidence")).filter_map(|m| m.value.as_object()) {
        for member in evidence {
            let values: Vec<&JsonValue> = match member.value.as_array() {
                Some(items) => items.iter().collect(),
                None => vec![&member.value],
            };
            for v in values {
                let Some(path) = v.as_str().and_then(crate::model::records::relative_inside) else { continue };
                out.push(Link { span: unquoted(&v.span), target: format!("{}{path}", EVIDENCE_DIR) });
            }
        }
    }
    out
}

/// Worker session ids (`workerSessionIds`, `currentWorkerSessionId`, `completedWorkerSessionId`)
/// that have a handoff file, linked to it.
pub fn handoff_links(file: &FeaturesFile, handoffs: &[FoundHandoff]) -> Vec<Link> {
    file.features
        .iter()
        .flat_map(|f| {
            f.worker_session_ids.iter().chain(&f.current_worker_session_id).chain(&f.completed_worker_session_id)
        })
        .filter_map(|s| {
            let found = handoffs.iter().find(|h| h.file.worker_session_id == s.value && h.path.ends_with(".json"))?;
            Some(Link { span: unquoted(&s.span), target: found.path.clone() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_paths_in_json_and_markdown() {
        let text = "{\"evidence\": [\"evidence/m/login.png\", \"evidence/../../etc/passwd\"]}\nSee (evidence/m/log.txt). notevidence/x `evidence/m/a b`";
        let found: Vec<&str> = evidence_links(text).iter().map(|l| &text[l.span.clone()]).collect();
        assert_eq!(found, ["evidence/m/login.png", "evidence/m/log.txt", "evidence/m/a"]);
        assert!(evidence_links("evidence/").is_empty());
    }

    #[test]
    fn a_flows_evidence_links_to_the_evidence_folder() {
        let text = r#"{"groupId": "round-1", "assertions": [{"id": "VAL-A-001", "evidence": {"screenshots": ["m/round-1/home.png"], "networkLogs": "m/round-1/browser-network.jsonl", "files": ["../../etc/passwd", 3]}}, {"id": "VAL-A-002", "evidence": {}}]}"#;
        let found: Vec<(&str, String)> =
            flow_evidence_links(text).into_iter().map(|l| (&text[l.span], l.target)).collect();
        assert_eq!(
            found,
            [
                ("m/round-1/home.png", "evidence/m/round-1/home.png".to_string()),
                ("m/round-1/browser-network.jsonl", "evidence/m/round-1/browser-network.jsonl".to_string())
            ]
        );
        assert!(flow_evidence_links("{\"assertions\": [").is_empty(), "a torn file links nothing, and does not panic");
        for (path, flow) in [
            ("validation/m/user-testing/flows/round-1.json", true),
            ("validation/m/user-testing/synthesis.json", false),
            ("validation/m/scrutiny/flows/x.json", false),
        ] {
            assert_eq!(is_flow_file(path), flow, "{path}");
        }
    }
}
