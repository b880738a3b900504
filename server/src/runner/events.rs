//! progress_log.jsonl: the append-only record of every transition, one JSON object a line.

use std::io;
use std::path::Path;

use serde_json::{Map, Value};

use super::progress::EventSink;
use crate::model::folder::PROGRESS_LOG_FILE;
use crate::model::persist;
use crate::model::records::{self, ProgressEvent};
use crate::model::timestamp::now_rfc3339;

/// Appends `{ts, type, ...fields}` and returns the event as written.
pub fn log(mission: &Path, kind: &str, fields: Value) -> io::Result<ProgressEvent> {
    let fields = match fields {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        other => Map::from_iter([("value".to_string(), other)]),
    };
    let event = ProgressEvent { ts: now_rfc3339(), kind: kind.to_string(), fields };
    persist::append_jsonl(&mission.join(PROGRESS_LOG_FILE), &event)?;
    Ok(event)
}

/// Every whole event of the log (a torn last line is skipped; broken lines are dropped).
pub fn read_all(mission: &Path) -> Vec<ProgressEvent> {
    match crate::model::folder::read_text(&mission.join(PROGRESS_LOG_FILE)) {
        Ok(text) => records::parse_jsonl(&text).0,
        Err(_) => Vec::new(),
    }
}

/// What makes an event the same event: a resumed run that redoes a step logs it only once.
/// `None` for events that may repeat (a mission is paused, resumed or halted many times).
pub fn identity(kind: &str, fields: &Map<String, Value>) -> Option<String> {
    let field = |k: &str| fields.get(k).map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).unwrap_or_default();
    let key = match kind {
        "feature_started" | "handoff_received" => field("sessionId"),
        "feature_completed" => field("featureId"),
        "feature_failed" => format!("{}/{}", field("featureId"), field("sessionId")),
        "validation_started" | "validation_round" | "fix_features_added" => format!("{}/{}", field("milestone"), field("round")),
        "milestone_started" | "milestone_passed" => field("milestone"),
        "mission_completed" | "plan_approved" | "plan_submitted" | "contract_written" | "features_written" => String::new(),
        _ => return None,
    };
    Some(format!("{kind}/{key}"))
}

/// The progress log of one run: appends events, skipping one already logged with the same
/// identity (so a step redone after a crash is not logged twice).
pub struct Journal {
    mission: std::path::PathBuf,
    seen: std::collections::HashSet<String>,
    /// Gets every event once it is on disk.
    sink: Option<EventSink>,
}

impl Journal {
    pub fn open(mission: &Path) -> Self {
        Journal::open_with(mission, None)
    }

    /// A journal that also hands each written event to `sink`.
    pub fn open_with(mission: &Path, sink: Option<EventSink>) -> Self {
        let seen = read_all(mission).iter().filter_map(|e| identity(&e.kind, &e.fields)).collect();
        Journal { mission: mission.to_path_buf(), seen, sink }
    }

    /// Logs the event unless its identity was logged before; `Ok(None)` when skipped.
    pub fn log(&mut self, kind: &str, fields: Value) -> io::Result<Option<ProgressEvent>> {
        let map = match &fields {
            Value::Object(m) => m.clone(),
            _ => Map::new(),
        };
        if let Some(id) = identity(kind, &map) {
            if !self.seen.insert(id) {
                return Ok(None);
            }
        }
        let event = log(&self.mission, kind, fields)?;
        if let Some(sink) = &self.sink {
            sink(&event);
        }
        Ok(Some(event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_logs_an_identified_event_once_even_across_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path());
        assert!(j.log("feature_completed", serde_json::json!({"featureId": "a"})).unwrap().is_some());
        assert!(j.log("feature_completed", serde_json::json!({"featureId": "a"})).unwrap().is_none());
        assert!(j.log("mission_resumed", serde_json::json!({})).unwrap().is_some());
        let mut again = Journal::open(dir.path());
        assert!(again.log("feature_completed", serde_json::json!({"featureId": "a"})).unwrap().is_none());
        assert!(again.log("mission_resumed", serde_json::json!({})).unwrap().is_some());
        assert_eq!(read_all(dir.path()).len(), 3);
    }
}
