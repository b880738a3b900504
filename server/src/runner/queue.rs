//! features.json as the runner reads and updates it, as droid's runner does: a worker session
//! is recorded in `workerSessionIds` and `currentWorkerSessionId`; a completed feature gets
//! `completedWorkerSessionId` and moves to the bottom; any other end puts it back to
//! `pending`. The file is rewritten as droid rewrites it (`DroidQueue`): droid's layout and
//! key order, unknown keys kept after droid's.

use std::path::Path;

use serde_json::Value;

use crate::model::features::{self, Feature, FeatureStatus, FeaturesFile};
use crate::model::features_edit::{DroidQueue, EditError};
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

/// Sets fields of one feature; the file is rewritten as droid rewrites it.
pub fn update(mission: &Path, feature_id: &str, fields: &[(&str, Value)]) -> Result<(), String> {
    rewrite(mission, |q| fields.iter().try_for_each(|(k, v)| q.set(feature_id, k, v.clone())))
}

fn status(status: FeatureStatus) -> Value {
    Value::String(status.as_str().into())
}

/// A worker session starts on the feature: `in_progress`, the session listed and current.
pub fn start_session(mission: &Path, feature: &Feature, session_id: &str) -> Result<(), String> {
    let id = feature.id().unwrap_or_default();
    let mut sessions: Vec<Value> = feature.worker_session_ids.iter().map(|s| Value::String(s.value.clone())).collect();
    if !sessions.iter().any(|s| s == session_id) {
        sessions.push(Value::String(session_id.into()));
    }
    update(
        mission,
        id,
        &[
            ("status", status(FeatureStatus::InProgress)),
            ("workerSessionIds", Value::Array(sessions)),
            ("currentWorkerSessionId", Value::String(session_id.into())),
        ],
    )
}

/// The session completed the feature: `completed` with its session, moved to the bottom.
pub fn complete(mission: &Path, feature_id: &str, session_id: &str) -> Result<(), String> {
    rewrite(mission, |q| {
        q.set(feature_id, "status", status(FeatureStatus::Completed))?;
        q.set(feature_id, "currentWorkerSessionId", Value::Null)?;
        q.set(feature_id, "completedWorkerSessionId", Value::String(session_id.into()))?;
        q.move_to(&[feature_id], usize::MAX)
    })
}

/// Any other end of a session (partial, failure, refused, interrupted, paused): back to
/// `pending`, no current session. Why it stopped is in the progress log and the handoff.
pub fn back_to_pending(mission: &Path, feature_id: &str) -> Result<(), String> {
    update(mission, feature_id, &[("status", status(FeatureStatus::Pending)), ("currentWorkerSessionId", Value::Null)])
}

/// Inserts features at the top of the queue, in order (droid's validators, fix features).
pub fn insert_at_top(mission: &Path, features: &[Value]) -> Result<(), String> {
    rewrite(mission, |q| {
        for f in features.iter().rev() {
            q.insert(0, f.clone());
        }
        Ok(())
    })
}

/// Moves features to the top of the queue, keeping their order.
pub fn move_to_top(mission: &Path, ids: &[&str]) -> Result<(), String> {
    rewrite(mission, |q| q.move_to(ids, 0))
}

/// Rewrites features.json through `change`, atomically, as droid's runner writes it. A file
/// that does not parse as JSON (half-written by droid, or by hand) is never rewritten.
fn rewrite(mission: &Path, change: impl FnOnce(&mut DroidQueue) -> Result<(), EditError>) -> Result<(), String> {
    let path = mission.join(FEATURES_FILE);
    let text = folder::read_text(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut queue = DroidQueue::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    change(&mut queue).map_err(|e| format!("{}: {e}", path.display()))?;
    let new = queue.render();
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
        let text = "{\"features\": [{\"id\": \"a\", \"description\": \"d\", \"status\": \"pending\", \"x-notes\": [1, 2]}, {\"id\": \"b\", \"description\": \"d\", \"status\": \"pending\"}], \"version\": 2}\n";
        std::fs::write(dir.path().join(FEATURES_FILE), text).unwrap();
        let queue = Queue::load(dir.path()).unwrap();
        start_session(dir.path(), queue.feature("a").unwrap(), "s1").unwrap();
        let after: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join(FEATURES_FILE)).unwrap()).unwrap();
        assert_eq!(
            (
                after["features"][0]["status"].clone(),
                after["features"][0]["currentWorkerSessionId"].clone(),
                after["features"][0]["x-notes"].clone()
            ),
            (json!("in_progress"), json!("s1"), json!([1, 2]))
        );
        complete(dir.path(), "a", "s1").unwrap();
        let done = Queue::load(dir.path()).unwrap();
        let ids: Vec<_> = done.file.features.iter().map(|f| f.id().unwrap()).collect();
        assert_eq!(ids, ["b", "a"], "a completed feature moves to the bottom");
        let a = done.feature("a").unwrap();
        assert_eq!(
            (
                a.status(),
                a.current_worker_session_id.as_ref(),
                a.completed_worker_session_id.as_ref().map(|s| s.value.as_str())
            ),
            (Some("completed"), None, Some("s1"))
        );
        back_to_pending(dir.path(), "b").unwrap();
        insert_at_top(
            dir.path(),
            &[
                json!({"id": "v1", "description": "d", "status": "pending"}),
                json!({"id": "v2", "description": "d", "status": "pending"}),
            ],
        )
        .unwrap();
        let written = std::fs::read_to_string(dir.path().join(FEATURES_FILE)).unwrap();
        let ids: Vec<String> =
            Queue::load(dir.path()).unwrap().file.features.iter().map(|f| f.id().unwrap().to_string()).collect();
        assert_eq!(ids, ["v1", "v2", "b", "a"]);
        assert!(
            !written.ends_with('\n') && written.contains("\n  \"version\": 2\n}"),
            "droid's layout, root keys kept: {written}"
        );
        assert!(back_to_pending(dir.path(), "zz").unwrap_err().contains("no feature `zz`"));
        std::fs::write(dir.path().join(FEATURES_FILE), "{\"features\": [{\"id\": \"a\"").unwrap();
        assert!(back_to_pending(dir.path(), "a").unwrap_err().contains("syntax errors"));
        assert_eq!(
            std::fs::read_to_string(dir.path().join(FEATURES_FILE)).unwrap(),
            "{\"features\": [{\"id\": \"a\"",
            "a torn file is left as it is"
        );
    }
}
