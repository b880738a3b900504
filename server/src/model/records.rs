//! The runner's JSON records: state.json, handoffs, validation rounds, validation-state.json
//! and progress_log.jsonl. Fields beyond the design's land in `extra` and survive a rewrite.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A record read from text: the value when it parsed, and a readable error when it did not.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded<T> {
    pub value: Option<T>,
    pub error: Option<String>,
}

/// Parses JSON text into `T`; never panics (serde_json limits nesting to 128 levels).
pub fn load<T: for<'de> Deserialize<'de>>(text: &str) -> Loaded<T> {
    match serde_json::from_str(text) {
        Ok(value) => Loaded { value: Some(value), error: None },
        Err(e) => Loaded { value: None, error: Some(e.to_string()) },
    }
}

pub const MISSION_STATUSES: [&str; 9] = [
    "planning", "awaiting_answers", "awaiting_approval", "running", "validating", "paused", "halted", "completed", "cancelled",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct MissionState {
    #[serde(default)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_milestone: Option<String>,
    #[serde(default)]
    pub round: u32,
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub halt_reason: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SkillFeedback {
    #[serde(default)]
    pub followed_procedure: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Handoff {
    #[serde(default)]
    pub salient_summary: String,
    #[serde(default)]
    pub what_was_implemented: String,
    #[serde(default)]
    pub what_was_left_undone: String,
    /// A string, or an object such as `{ "commandsRun": [...], "interactiveChecks": [...] }`.
    #[serde(default)]
    pub verification: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skill_feedback: Option<SkillFeedback>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_id: Option<String>,
    /// `completed`, `partial` or `blocked`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests_added: Vec<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

pub const SEVERITIES: [&str; 3] = ["blocking", "non-blocking", "suggestion"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct IssueLocation {
    pub path: String,
    /// 1-based.
    #[serde(default)]
    pub line: u32,
}

impl IssueLocation {
    /// The path, relative to the working directory and inside it (design §2), normalised
    /// (`./a/../b` -> `b`); `None` for an absolute path or one that climbs out with `..`.
    pub fn path_inside(&self) -> Option<String> {
        let mut parts: Vec<&str> = Vec::new();
        if self.path.starts_with(['/', '\\']) || self.path.get(1..2) == Some(":") {
            return None;
        }
        for part in self.path.split(['/', '\\']) {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop()?;
                }
                name => parts.push(name),
            }
        }
        (!parts.is_empty()).then(|| parts.join("/"))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ValidatorIssue {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub severity: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub detail: String,
    #[serde(default)]
    pub assertion_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<IssueLocation>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct AssertionResult {
    pub id: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub evidence: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ValidatorReport {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub session_id: String,
    #[serde(default)]
    pub assertions: Vec<AssertionResult>,
    #[serde(default)]
    pub issues: Vec<ValidatorIssue>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `validation/<milestone>/round-<n>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ValidationRound {
    pub milestone: String,
    pub round: u32,
    #[serde(default)]
    pub validators: Vec<ValidatorReport>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

pub const ASSERTION_STATUSES: [&str; 4] = ["pending", "passed", "failed", "blocked"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct AssertionState {
    #[serde(default)]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub milestone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round: Option<u32>,
    #[serde(default)]
    pub evidence: Vec<String>,
    #[serde(default)]
    pub issues: Vec<ValidatorIssue>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `validation-state.json`: the latest status of every assertion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ValidationState {
    #[serde(default)]
    pub assertions: BTreeMap<String, AssertionState>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One line of progress_log.jsonl.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgressEvent {
    pub ts: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

/// Reads JSONL bytes: every whole line that parses; a torn last line (no newline) is skipped
/// silently, a broken whole line (not UTF-8, not the record) is reported as `line N (why)`.
/// Lines are decoded one by one, so one bad byte loses only its line.
pub fn parse_jsonl<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> (Vec<T>, Vec<String>) {
    let mut values = Vec::new();
    let mut errors = Vec::new();
    let torn_tail = !bytes.is_empty() && !bytes.ends_with(b"\n");
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    let last_index = lines.len() - 1;
    for (i, line) in lines.iter().enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = match std::str::from_utf8(line) {
            Ok(text) => serde_json::from_str(text).map_err(|e| e.to_string()),
            Err(e) => Err(format!("not valid UTF-8 at byte {}", e.valid_up_to())),
        };
        match parsed {
            Ok(v) => values.push(v),
            Err(_) if torn_tail && i == last_index => {}
            Err(e) => errors.push(format!("line {} ({e})", i + 1)),
        }
    }
    (values, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_survive_a_round_trip() {
        let text = r#"{"id":"mis_1","title":"t","status":"running","round":1,"createdAt":"a","updatedAt":"b","droidVersion":"0.9","nested":{"k":[1]}}"#;
        let state: MissionState = load(text).value.unwrap();
        let back = serde_json::to_string(&state).unwrap();
        assert!(back.contains(r#""droidVersion":"0.9""#) && back.contains(r#""nested":{"k":[1]}"#), "{back}");
    }

    #[test]
    fn factory_handoff_reads() {
        let h: Handoff = load(r#"{"salientSummary":"s","whatWasImplemented":"w","whatWasLeftUndone":"","verification":{"commandsRun":["cargo test"]},"commitId":"abc123","skillFeedback":{"followedProcedure":true}}"#).value.unwrap();
        assert_eq!(h.commit_id.as_deref(), Some("abc123"));
        assert!(h.skill_feedback.unwrap().followed_procedure);
    }

    #[test]
    fn jsonl_skips_torn_tail_and_reports_broken_lines() {
        let (events, errors) = parse_jsonl::<ProgressEvent>(b"{\"ts\":\"t\",\"type\":\"a\"}\nnot json\n{\"ts\":\"t\",\"type\":\"b\"}\n{\"ts\":");
        assert_eq!(events.len(), 2);
        assert_eq!(errors, ["line 2 (expected ident at line 1 column 2)"]);
    }

    #[test]
    fn bad_json_is_an_error_not_a_panic() {
        let deep = "[".repeat(100_000);
        assert!(load::<ValidationState>(&deep).error.is_some());
        assert!(load::<ValidationState>("\u{0}").error.is_some());
    }

    #[test]
    fn issue_paths_stay_inside_the_working_directory() {
        let inside = |p: &str| IssueLocation { path: p.into(), line: 1 }.path_inside();
        assert_eq!(inside("src/a.rs").as_deref(), Some("src/a.rs"));
        assert_eq!(inside("./src/../lib/b.rs").as_deref(), Some("lib/b.rs"));
        for outside in ["/etc/passwd", "../x", "a/../../x", "", ".", "C:/x", "\\\\server\\x"] {
            assert_eq!(inside(outside), None, "{outside}");
        }
    }
}