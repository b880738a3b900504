//! progress_log.jsonl: the append-only record of every transition, one JSON object a line.

use std::io;
use std::path::Path;

use serde_json::{Map, Value};

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
