//! Handoff files as droid writes them: the worker's `submit_handoff` (droid's EndFeatureRun)
//! wrapped with the session, feature, milestone and commit, written once to
//! `handoffs/<timestamp>__<featureId>__<workerSessionId>.json`; and the session's line in
//! worker-transcripts.jsonl.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::model::folder::{self, HANDOFFS_DIR, TRANSCRIPTS_FILE};
use crate::model::persist;
use crate::model::records::{EndFeatureRun, HandoffFile, TranscriptSkeleton};
use crate::model::timestamp::now_rfc3339;

/// Wraps a `submit_handoff` call's arguments as droid's handoff file.
pub fn wrap(
    args: &Value,
    feature_id: &str,
    session_id: &str,
    milestone: Option<&str>,
    repo: &Path,
) -> Result<HandoffFile, String> {
    let report = EndFeatureRun::deserialize(args).map_err(|e| format!("the handoff does not read: {e}"))?;
    Ok(report.into_file(now_rfc3339(), session_id, feature_id, milestone, repo))
}

/// Writes the handoff once (droid never overwrites one); the path relative to the mission.
/// Writes a handoff's red-green proof beside it (before the handoff: a handoff on disk is
/// settled from its files, so its proof must already be there).
pub fn write_proof(mission: &Path, file: &HandoffFile, proof: &crate::model::proof::Proof) -> Result<(), String> {
    let path = folder::proof_file(mission, file);
    let dir = mission.join(folder::PROOFS_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    persist::write_json_atomic(&path, proof).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

pub fn write(mission: &Path, file: &HandoffFile) -> Result<String, String> {
    let name = folder::handoff_file_name(&file.timestamp, &file.feature_id, &file.worker_session_id);
    let dir = mission.join(HANDOFFS_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut bytes = serde_json::to_vec_pretty(file).map_err(|e| e.to_string())?;
    bytes.push(b'\n');
    match persist::write_new_atomic(&dir.join(&name), &bytes) {
        Ok(()) => Ok(format!("{HANDOFFS_DIR}/{name}")),
        // Written before a crash: the same handoff.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(format!("{HANDOFFS_DIR}/{name}")),
        Err(e) => Err(format!("cannot write {}: {e}", dir.join(&name).display())),
    }
}

/// The handoff of a worker session, if it reached the disk.
pub fn of_session(mission: &Path, session_id: &str) -> Option<HandoffFile> {
    folder::read_handoffs(mission).0.into_iter().find(|h| h.file.worker_session_id == session_id).map(|h| h.file)
}

/// Appends droid's line for a finished worker or validator session to worker-transcripts.jsonl.
pub fn append_transcript(
    mission: &Path,
    session_id: &str,
    feature_id: &str,
    milestone: Option<&str>,
    skeleton: &str,
) -> Result<(), String> {
    let line = TranscriptSkeleton {
        worker_session_id: session_id.to_string(),
        feature_id: feature_id.to_string(),
        milestone: milestone.map(str::to_string),
        skeleton: skeleton.to_string(),
        timestamp: now_rfc3339(),
    };
    persist::append_jsonl(&mission.join(TRANSCRIPTS_FILE), &line)
        .map_err(|e| format!("cannot append to {TRANSCRIPTS_FILE}: {e}"))
}

/// A `worker_<8 hex>` spawn id, as droid names a worker process.
pub fn spawn_id() -> String {
    format!("worker_{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_submitted_handoff_becomes_droids_file_written_once() {
        let dir = tempfile::tempdir().unwrap();
        let args = json!({"featureId": "calc-add", "successState": "success", "commitId": " abc ", "salientSummary": "Added add; 3 tests pass.", "whatWasImplemented": "w", "whatWasLeftUndone": "",
                          "verification": {"commandsRun": [{"command": "make test", "exitCode": 0, "observation": "ok"}]}, "tests": {"added": [], "coverage": "c"}, "discoveredIssues": []});
        let file = wrap(&args, "calc-add", "s-1", Some("core"), Path::new("/repo")).unwrap();
        assert_eq!(
            (file.commit_id.as_deref(), file.repo_path.as_deref(), file.return_to_orchestrator),
            (Some("abc"), Some("/repo"), Some(false))
        );
        let rel = write(dir.path(), &file).unwrap();
        assert!(rel.starts_with("handoffs/") && rel.ends_with("__calc-add__s-1.json"), "{rel}");
        let text = std::fs::read_to_string(dir.path().join(&rel)).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        let keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "timestamp",
                "workerSessionId",
                "featureId",
                "milestone",
                "commitId",
                "repoPath",
                "successState",
                "returnToOrchestrator",
                "handoff"
            ]
        );
        assert!(
            value["handoff"].get("successState").is_none()
                && value["handoff"]["verification"]["commandsRun"][0]["exitCode"] == 0
        );
        assert!(text.ends_with("}\n"));
        assert_eq!(write(dir.path(), &file).unwrap(), rel, "written again after a crash: the same file");
        assert_eq!(of_session(dir.path(), "s-1").unwrap().feature_id, "calc-add");
    }

    #[test]
    fn a_report_keeps_unknown_keys_and_asks_the_orchestrator_unless_it_succeeded() {
        let args = json!({"successState": "partial", "commitId": "  ", "salientSummary": "s", "whatWasImplemented": "w", "whatWasLeftUndone": "u",
                          "verification": {"commandsRun": []}, "tests": {"added": [], "coverage": ""}, "discoveredIssues": [], "notes": ["kept"]});
        let file = wrap(&args, "f", "s-1", None, Path::new("/repo")).unwrap();
        assert_eq!(
            (file.success_state.as_deref(), file.return_to_orchestrator, file.commit_id, file.repo_path),
            (Some("partial"), Some(true), None, None)
        );
        assert_eq!(file.handoff.extra["notes"], json!(["kept"]));
        for not_a_report in [json!({"successState": "done"}), json!("text"), json!({"salientSummary": "s"})] {
            assert!(wrap(&not_a_report, "f", "s", None, Path::new("/r"))
                .unwrap_err()
                .starts_with("the handoff does not read"));
        }
    }

    /// Every handoff of droid's example folders, given back as `submit_handoff` arguments, is
    /// what the tool asks for, and wraps into the same file: the strict schema and the tolerant
    /// reader are one description of droid's shape.
    #[test]
    fn droids_handoffs_are_what_the_tool_asks_for_and_wrap_back_into_themselves() {
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/droid");
        let mut seen = 0;
        for mission in std::fs::read_dir(&examples).unwrap() {
            let (files, errors) = folder::read_handoffs(&mission.unwrap().path());
            assert!(errors.is_empty(), "{errors:?}");
            for droid in files.into_iter().map(|h| h.file) {
                let mut args = serde_json::to_value(&droid.handoff).unwrap();
                args["featureId"] = json!(droid.feature_id);
                args["successState"] = json!(droid.success_state);
                args["returnToOrchestrator"] = json!(droid.return_to_orchestrator);
                if let Some(commit) = &droid.commit_id {
                    args["commitId"] = json!(commit);
                }
                let schema = crate::agent::schema::handoff_schema();
                assert_eq!(crate::agent::schema::validate(&schema, &args), Ok(()), "{}", droid.feature_id);
                let repo = droid.repo_path.clone().unwrap_or_default();
                let ours = wrap(
                    &args,
                    &droid.feature_id,
                    &droid.worker_session_id,
                    droid.milestone.as_deref(),
                    Path::new(&repo),
                )
                .unwrap();
                assert_eq!(HandoffFile { timestamp: droid.timestamp.clone(), ..ours }, droid);
                seen += 1;
            }
        }
        assert!(seen >= 14, "{seen}");
    }
}
