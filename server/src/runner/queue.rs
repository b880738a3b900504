//! features.json as the runner reads and updates it: every update goes through
//! `features_edit`, so key order, indentation and unknown fields stay as they were.

use std::path::Path;

use serde_json::Value;

use crate::model::features::{self, Feature, FeaturesFile};
use crate::model::features_edit::set_feature_field;
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn updates_keep_every_other_byte() {
        let dir = tempfile::tempdir().unwrap();
        let text = "{\n  \"features\": [\n    {\n      \"id\": \"a\",\n      \"status\": \"pending\",\n      \"x-notes\": [1, 2]\n    }\n  ]\n}\n";
        std::fs::write(dir.path().join(FEATURES_FILE), text).unwrap();
        update(dir.path(), "a", &[("status", json!("in_progress")), ("workerSessionIds", json!(["s1"]))]).unwrap();
        let after = std::fs::read_to_string(dir.path().join(FEATURES_FILE)).unwrap();
        assert_eq!(after, "{\n  \"features\": [\n    {\n      \"id\": \"a\",\n      \"status\": \"in_progress\",\n      \"x-notes\": [1, 2],\n      \"workerSessionIds\": [\"s1\"]\n    }\n  ]\n}\n");
        assert!(set_status(dir.path(), "zz", "completed").unwrap_err().contains("no feature `zz`"));
    }
}
