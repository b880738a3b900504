//! progress_log.jsonl: the append-only record of every transition, one JSON object a line,
//! `timestamp` first, then `type`. droid's eleven types are used for everything droid has a
//! type for (worker runs, pauses, resumes, validation triggers); the runner's own types
//! (planning, validation rounds, fix features, completion) are lines droid ignores.

use std::io;
use std::path::Path;

use serde_json::{Map, Value};

use super::progress::EventSink;
use crate::model::folder::PROGRESS_LOG_FILE;
use crate::model::persist;
use crate::model::progress_log::Event;
use crate::model::records::{self, ProgressEvent};
use crate::model::timestamp::now_rfc3339;

/// Appends `{timestamp, type, ...fields}` and returns the event as written.
pub fn log(mission: &Path, event: &Event) -> io::Result<ProgressEvent> {
    let event = ProgressEvent::new(now_rfc3339(), event);
    persist::append_jsonl(&mission.join(PROGRESS_LOG_FILE), &event)?;
    Ok(event)
}

/// Every whole event of the log (a torn last line is skipped; broken lines are dropped).
pub fn read_all(mission: &Path) -> Vec<ProgressEvent> {
    read_all_noted(mission).0
}

/// Every whole event of the log, and a note for what was skipped. The file is read as bytes,
/// line by line, so one line that is not UTF-8 or not an event loses only that line. A torn
/// last line (no newline: the writer died or is still appending) is skipped silently; a bad
/// whole line is named in the note. A log that cannot be read at all is a note too.
pub fn read_all_noted(mission: &Path) -> (Vec<ProgressEvent>, Vec<String>) {
    let bytes = match std::fs::read(mission.join(PROGRESS_LOG_FILE)) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return (Vec::new(), Vec::new()),
        Err(e) => return (Vec::new(), vec![format!("{PROGRESS_LOG_FILE}: {e}")]),
    };
    parse_log(&bytes)
}

/// The events of progress_log.jsonl's bytes and a note naming the lines that were skipped.
pub fn parse_log(bytes: &[u8]) -> (Vec<ProgressEvent>, Vec<String>) {
    let (events, bad) = records::parse_jsonl(bytes);
    let notes = match bad.len() {
        0 => Vec::new(),
        n => vec![format!("{PROGRESS_LOG_FILE}: {n} broken line(s) skipped: {}", bad.join("; "))],
    };
    (events, notes)
}

/// What makes an event the same event: a resumed run that redoes a step logs it only once.
/// `None` for events that may repeat (a mission is paused, resumed or started many times).
pub fn identity(kind: &str, fields: &Map<String, Value>) -> Option<String> {
    let field = |k: &str| {
        fields.get(k).map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).unwrap_or_default()
    };
    let key = match kind {
        // droid's: one of each per worker session.
        "worker_selected_feature"
        | "worker_started"
        | "worker_completed"
        | "worker_failed"
        | "worker_paused"
        | "handoff_refused" => field("workerSessionId"),
        "milestone_validation_triggered" => field("milestone"),
        "mission_accepted" => String::new(),
        // The runner's own.
        "validation_round" | "fix_features_added" => format!("{}/{}", field("milestone"), field("round")),
        "milestone_passed" => field("milestone"),
        "mission_completed" | "plan_submitted" => String::new(),
        // The planner rewrites its files many times; the log says when each was first written.
        "contract_written" | "features_written" => field("sessionId"),
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
    pub fn log(&mut self, event: Event) -> io::Result<Option<ProgressEvent>> {
        let line = ProgressEvent::new(now_rfc3339(), &event);
        if let Some(id) = identity(&line.kind, &line.fields) {
            if !self.seen.insert(id) {
                return Ok(None);
            }
        }
        persist::append_jsonl(&self.mission.join(PROGRESS_LOG_FILE), &line)?;
        if let Some(sink) = &self.sink {
            sink(&line);
        }
        Ok(Some(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::progress_log::WorkerStarted;

    fn paused(session: &str) -> Event {
        Event::WorkerPaused { worker_session_id: session.into(), feature_id: "a".into() }
    }

    fn resumed() -> Event {
        Event::MissionResumed { resume_worker_session_id: None, from: None, reset_features: None, set_aside: None }
    }

    #[test]
    fn lines_start_with_timestamp_then_type() {
        let dir = tempfile::tempdir().unwrap();
        let started = WorkerStarted {
            worker_session_id: "s".into(),
            spawn_id: "worker_0a1b2c3d".into(),
            feature_id: "f".into(),
            model_id: None,
            substituted_from_model_id: None,
            milestone: None,
            round: None,
            attempt: None,
            base_commit: None,
            worktree_branch: None,
        };
        log(dir.path(), &Event::WorkerStarted(started)).unwrap();
        let text = std::fs::read_to_string(dir.path().join(PROGRESS_LOG_FILE)).unwrap();
        assert!(
            text.starts_with("{\"timestamp\":\"")
                && text.contains("\",\"type\":\"worker_started\",\"workerSessionId\":\"s\""),
            "{text}"
        );
        assert!(!text.contains("modelId"), "an unknown optional field is absent, not null: {text}");
        assert!(text.ends_with("}\n") && text.lines().count() == 1);
    }

    #[test]
    fn a_journal_logs_an_identified_event_once_even_across_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path());
        assert!(j.log(paused("s")).unwrap().is_some());
        assert!(j.log(paused("s")).unwrap().is_none());
        assert!(j.log(resumed()).unwrap().is_some());
        let mut again = Journal::open(dir.path());
        assert!(again.log(paused("s")).unwrap().is_none());
        assert!(again.log(resumed()).unwrap().is_some());
        assert_eq!(read_all(dir.path()).len(), 3);
    }

    const EVENT: &str = r#"{"timestamp":"2026-01-01T00:00:00.000Z","type":"note","text":"ok"}"#;

    #[test]
    fn a_torn_tail_cutting_a_multibyte_character_loses_only_that_line_silently() {
        let mut bytes = format!("{EVENT}\n{EVENT}\n").into_bytes();
        bytes.extend_from_slice(b"{\"timestamp\":\"2026-01-01T00:00:01.000Z\",\"type\":\"note\",\"text\":\"caf\xc3");
        let (events, notes) = parse_log(&bytes);
        assert_eq!((events.len(), notes), (2, Vec::<String>::new()));
    }

    #[test]
    fn a_bad_middle_line_is_skipped_with_a_note_naming_it() {
        let mut bytes = format!("{EVENT}\n").into_bytes();
        bytes.extend_from_slice(b"{\"timestamp\":\"x\",\"type\":\"note\",\"text\":\"caf\xc3\"}\n");
        bytes.extend_from_slice(format!("not json\n{EVENT}\n").as_bytes());
        let (events, notes) = parse_log(&bytes);
        assert_eq!(events.len(), 2);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].contains("2 broken line(s)")
                && notes[0].contains("line 2 (not valid UTF-8 at byte")
                && notes[0].contains("line 3 ("),
            "{notes:?}"
        );
    }

    #[test]
    fn read_all_keeps_the_good_lines_of_a_log_that_is_not_all_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = format!("{EVENT}\n{EVENT}\n").into_bytes();
        bytes.extend_from_slice(b"{\"timestamp\":\"t\",\"type\":\"note\",\"text\":\"caf\xc3");
        std::fs::write(dir.path().join(PROGRESS_LOG_FILE), bytes).unwrap();
        assert_eq!(read_all(dir.path()).len(), 2);
        assert!(read_all_noted(dir.path()).1.is_empty());
    }
}
