//! features.json as the runner reads and updates it, as droid's runner does: a worker session
//! is recorded in `workerSessionIds` and `currentWorkerSessionId`; a completed feature gets
//! `completedWorkerSessionId` and moves to the bottom; any other end puts it back to
//! `pending`. Every update goes through `features_edit`, so indentation and unknown fields
//! stay as they were.

use std::path::Path;

use serde_json::Value;

use crate::model::features::{self, Feature, FeaturesFile};
use crate::model::features_edit::{insert_feature, move_features, set_feature_field};
use crate::model::folder::{self, FEATURES_FILE};
use crate::model::persist::write_atomic;

/// The text of features.json and its parse.
pub struct Queue {
    pub text: String,
    pub file: FeaturesFile,
}

impl Queue {
    pub fn load(mission: &Path) -> Result<Queue, String> {
        let path = mission.join(FEATURES_FILE);
        let text = folder::read_text(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let file = features::parse(&text);
        Ok(Queue { text, file })
    }

    pub fn feature(&self, id: &str) -> Option<&Feature> {
        self.file.feature(id)
    }

    /// The feature object exactly as written in the file (unknown fields included).
    pub fn raw(&self, feature: &Feature) -> &str {
        self.text.get(feature.span.clone()).unwrap_or("")
    }
}

/// Sets fields of one feature and writes the file atomically, touching only those values.
pub fn update(mission: &Path, feature_id: &str, fields: &[(&str, Value)]) -> Result<(), String> {
    let path = mission.join(FEATURES_FILE);
    let mut text = folder::read_text(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    for (key, value) in fields {
        text = set_feature_field(&text, feature_id, key, value).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    write_atomic(&path, text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

pub fn set_status(mission: &Path, feature_id: &str, status: &str) -> Result<(), String> {
    update(mission, feature_id, &[("status", Value::String(status.into()))])
}

/// A worker session starts on the feature: `in_progress`, the session listed and current.
pub fn start_session(mission: &Path, feature: &Feature, session_id: &str) -> Result<(), String> {
    let id = feature.id().unwrap_or_default();
    let mut sessions: Vec<Value> = feature.worker_session_ids.iter().map(|s| Value::String(s.value.clone())).collect();
    if !sessions.iter().any(|s| s == session_id) {
        sessions.push(Value::String(session_id.into()));
    }
    update(mission, id, &[("status", Value::String("in_progress".into())), ("workerSessionIds", Value::Array(sessions)), ("currentWorkerSessionId", Value::String(session_id.into()))])
}

/// The session completed the feature: `completed` with its session, moved to the bottom.
pub fn complete(mission: &Path, feature_id: &str, session_id: &str) -> Result<(), String> {
    update(mission, feature_id, &[("status", Value::String("completed".into())), ("currentWorkerSessionId", Value::Null), ("completedWorkerSessionId", Value::String(session_id.into()))])?;
    edit(mission, |text| move_features(text, &[feature_id], usize::MAX))
}

/// Any other end of a session (partial, failure, refused, interrupted, paused): back to
/// `pending`, no current session. Why it stopped is in the progress log and the handoff.
pub fn back_to_pending(mission: &Path, feature_id: &str) -> Result<(), String> {
    update(mission, feature_id, &[("status", Value::String("pending".into())), ("currentWorkerSessionId", Value::Null)])
}

/// Inserts features at the top of the queue, in order (droid's validators, fix features).
pub fn insert_at_top(mission: &Path, features: &[Value]) -> Result<(), String> {
    edit(mission, |text| features.iter().rev().try_fold(text.to_string(), |t, f| insert_feature(&t, 0, f)))
}

/// Moves features to the top of the queue, keeping their order.
pub fn move_to_top(mission: &Path, ids: &[&str]) -> Result<(), String> {
    edit(mission, |text| move_features(text, ids, 0))
}

/// Rewrites features.json through `change`, atomically.
fn edit(mission: &Path, change: impl FnOnce(&str) -> Result<String, crate::model::features_edit::EditError>) -> Result<(), String> {
    let path = mission.join(FEATURES_FILE);
    let text = folder::read_text(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let new = change(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if new != text {
        write_atomic(&path, new.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_session_goes_through_the_queue_as_in_droid() {
        let dir = tempfile::tempdir().unwrap();
        let text = "{\n  \"features\": [\n    {\n      \"id\": \"a\",\n      \"description\": \"d\",\n      \"status\": \"pending\",\n      \"x-notes\": [1, 2]\n    },\n    {\n      \"id\": \"b\",\n      \"description\": \"d\",\n      \"status\": \"pending\"\n    }\n  ]\n}";
        std::fs::write(dir.path().join(FEATURES_FILE), text).unwrap();
        let queue = Queue::load(dir.path()).unwrap();
        start_session(dir.path(), queue.feature("a").unwrap(), "s1").unwrap();
        let after = std::fs::read_to_string(dir.path().join(FEATURES_FILE)).unwrap();
        assert!(after.contains("\"status\": \"in_progress\",\n      \"workerSessionIds\": [\n        \"s1\"\n      ],\n      \"currentWorkerSessionId\": \"s1\",\n      \"x-notes\": [1, 2]"), "{after}");
        complete(dir.path(), "a", "s1").unwrap();
        let done = Queue::load(dir.path()).unwrap();
        let ids: Vec<_> = done.file.features.iter().map(|f| f.id().unwrap()).collect();
        assert_eq!(ids, ["b", "a"], "a completed feature moves to the bottom");
        let a = done.feature("a").unwrap();
        assert_eq!((a.status(), a.current_worker_session_id.as_ref(), a.completed_worker_session_id.as_ref().map(|s| s.value.as_str())), (Some("completed"), None, Some("s1")));
        back_to_pending(dir.path(), "b").unwrap();
        insert_at_top(dir.path(), &[json!({"id": "v1"}), json!({"id": "v2"})]).unwrap();
        let ids: Vec<String> = Queue::load(dir.path()).unwrap().file.features.iter().map(|f| f.id().unwrap().to_string()).collect();
        assert_eq!(ids, ["v1", "v2", "b", "a"]);
        assert!(!std::fs::read_to_string(dir.path().join(FEATURES_FILE)).unwrap().ends_with('\n'), "no newline is added");
        assert!(set_status(dir.path(), "zz", "completed").unwrap_err().contains("no feature `zz`"));
    }
}
