//! The lines of progress_log.jsonl: [`ProgressEvent`] is one line as it is on disk (every
//! field kept, whoever wrote it); [`Event`] is what the line says, typed. The runner writes
//! only typed events; droid's and older versions' lines that do not fit a variant (an unknown
//! `type`, a field of another shape) read as [`Event::Other`], kept as written.
//!
//! Field names and order are the bytes on disk: droid's camelCase fields in droid's order,
//! then ours; an optional field is absent, never null (docs/mission-folder.md).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::proof::Proof;
use super::records::Handoff;

/// One line of progress_log.jsonl: `timestamp` first, then `type`, then the event's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgressEvent {
    pub timestamp: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

impl ProgressEvent {
    /// The line that records `event` at `timestamp`. A top-level field that is null is left
    /// out: droid's optional fields are absent, never null.
    pub fn new(timestamp: String, event: &Event) -> ProgressEvent {
        let mut fields = match serde_json::to_value(event) {
            Ok(Value::Object(map)) => map,
            // Every variant is a JSON object; nothing else reaches here.
            _ => Map::new(),
        };
        let kind = match fields.shift_remove("type") {
            Some(Value::String(kind)) => kind,
            _ => String::new(),
        };
        fields.retain(|_, v| !v.is_null());
        ProgressEvent { timestamp, kind, fields }
    }

    /// What the line says: a typed event, or [`Event::Other`] with the line's `type` and fields.
    pub fn event(&self) -> Event {
        let mut map = Map::with_capacity(self.fields.len() + 1);
        map.insert("type".into(), Value::String(self.kind.clone()));
        map.extend(self.fields.iter().map(|(k, v)| (k.clone(), v.clone())));
        serde_json::from_value(Value::Object(map.clone())).unwrap_or(Event::Other(map))
    }

    /// A string field of the event.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.fields.get(key).and_then(Value::as_str)
    }
}

/// Every event the runner writes. droid's types come first (droid reads them); the rest are
/// the runner's own, which droid ignores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", rename_all_fields = "camelCase")]
pub enum Event {
    /// The plan is approved (droid: the proposal accepted).
    MissionAccepted {
        title: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
    /// Every run start.
    MissionRunStarted {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// A pause, or a halt (`halted`, with the `reason`).
    MissionPaused {
        /// droid's: `feature_retry_limit_exceeded` when a feature used up its sessions.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pause_reason: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        halted: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        feature_id: Option<String>,
    },
    /// A run continues a stopped one.
    MissionResumed {
        /// droid's; `missions` never resumes a session (a fresh one replaces it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume_worker_session_id: Option<String>,
        /// The `detailedState` the mission was resumed from.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reset_features: Option<Vec<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        set_aside: Option<SetAside>,
    },
    WorkerSelectedFeature {
        worker_session_id: String,
        feature_id: String,
    },
    WorkerStarted(WorkerStarted),
    WorkerCompleted(Box<WorkerCompleted>),
    /// A session ended without a handoff, or a stopped run interrupted it.
    WorkerFailed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        worker_session_id: Option<String>,
        spawn_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_code: Option<i64>,
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failure_reason: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        feature_id: Option<String>,
    },
    /// The person paused the run during a session.
    WorkerPaused {
        worker_session_id: String,
        feature_id: String,
    },
    /// A milestone's validators were injected.
    MilestoneValidationTriggered {
        milestone: String,
        feature_id: String,
    },

    // The runner's own.
    MissionCreated {
        mission_id: String,
        title: String,
        slug: String,
    },
    PlanningStarted {
        session_id: String,
        /// How many of mission.md's questions were answered.
        answers: usize,
    },
    QuestionAsked {
        session_id: String,
        question: String,
    },
    ContractWritten {
        session_id: String,
    },
    FeaturesWritten {
        session_id: String,
    },
    /// A plan waits for approval: from the planner's session (with its lint warnings), or
    /// found on disk by a run.
    PlanSubmitted {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        warnings: Option<Vec<String>>,
    },
    /// `Check:` commands that pass on the base commit or cannot run, when a plan is approved.
    PlanChecks {
        warnings: Vec<String>,
    },
    MilestoneStarted {
        milestone: String,
    },
    /// A success claim the runner did not accept: its git facts, or its red-green proof.
    HandoffRefused {
        worker_session_id: String,
        feature_id: String,
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        proof: Option<Box<Proof>>,
    },
    /// Passed assertions a round validates again because later commits changed their files.
    AssertionsStale {
        milestone: String,
        assertions: Vec<StaleAssertion>,
    },
    ValidationRound {
        milestone: String,
        round: u32,
        passed: bool,
        assertions: AssertionCounts,
    },
    MilestonePassed {
        milestone: String,
        round: u32,
    },
    FixFeaturesAdded {
        milestone: String,
        round: u32,
        session_id: String,
        feature_ids: Vec<String>,
    },
    MergeConflict {
        feature_id: String,
        worker_session_id: String,
        files: Vec<String>,
    },
    MissionCancelled {
        by: String,
    },
    /// Written before state.json says `completed`, so a crash cannot lose it.
    MissionCompleted {},
    /// A line no variant fits (droid's `handoff_items_dismissed`, a newer version's event, a
    /// known type with fields of another shape): its `type` and fields as written.
    #[serde(untagged)]
    Other(Map<String, Value>),
}

/// droid's `worker_started`, with the runner's context after droid's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerStarted {
    pub worker_session_id: String,
    /// `worker_` and 8 hex digits.
    pub spawn_id: String,
    pub feature_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub substituted_from_model_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub milestone: Option<String>,
    /// A validator's round.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_commit: Option<String>,
    /// A parallel worker's branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worktree_branch: Option<String>,
}

/// droid's `worker_completed`: the handoff's facts and the nested handoff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerCompleted {
    pub worker_session_id: String,
    pub feature_id: String,
    pub success_state: String,
    pub return_to_orchestrator: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_path: Option<String>,
    /// Always 0: the session handed off.
    pub exit_code: i64,
    /// Whether the runner accepted a success claim.
    pub validators_passed: bool,
    #[serde(default)]
    pub handoff: Handoff,
    /// Ours: a merged parallel feature completed after a crash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered: Option<bool>,
}

/// Where an interrupted worker's leftovers went; a part that did not exist is null.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetAside {
    pub feature_id: String,
    pub stash: Option<String>,
    pub stash_message: Option<String>,
    pub commits_ref: Option<String>,
}

/// One assertion of `assertions_stale`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StaleAssertion {
    pub id: String,
    pub feature_id: String,
    pub commit_id: String,
    pub files: Vec<String>,
    pub reason: String,
}

/// A validation round's assertions by status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertionCounts {
    pub passed: usize,
    pub failed: usize,
    pub blocked: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::records::parse_jsonl;

    const AT: &str = "2026-09-20T10:02:33.500Z";

    /// A distinct number per variant: a new variant does not compile until it is counted here
    /// and given an example below.
    fn variant(e: &Event) -> usize {
        match e {
            Event::MissionAccepted { .. } => 0,
            Event::MissionRunStarted { .. } => 1,
            Event::MissionPaused { .. } => 2,
            Event::MissionResumed { .. } => 3,
            Event::WorkerSelectedFeature { .. } => 4,
            Event::WorkerStarted(_) => 5,
            Event::WorkerCompleted(_) => 6,
            Event::WorkerFailed { .. } => 7,
            Event::WorkerPaused { .. } => 8,
            Event::MilestoneValidationTriggered { .. } => 9,
            Event::MissionCreated { .. } => 10,
            Event::PlanningStarted { .. } => 11,
            Event::QuestionAsked { .. } => 12,
            Event::ContractWritten { .. } => 13,
            Event::FeaturesWritten { .. } => 14,
            Event::PlanSubmitted { .. } => 15,
            Event::PlanChecks { .. } => 16,
            Event::MilestoneStarted { .. } => 17,
            Event::HandoffRefused { .. } => 18,
            Event::AssertionsStale { .. } => 19,
            Event::ValidationRound { .. } => 20,
            Event::MilestonePassed { .. } => 21,
            Event::FixFeaturesAdded { .. } => 22,
            Event::MergeConflict { .. } => 23,
            Event::MissionCancelled { .. } => 24,
            Event::MissionCompleted {} => 25,
            Event::Other(_) => 26,
        }
    }

    fn s(text: &str) -> String {
        text.to_string()
    }

    /// Every event the runner writes, each with the JSON line it must be, byte for byte.
    fn examples() -> Vec<(Event, &'static str)> {
        let handoff: Handoff = serde_json::from_str(
            r#"{"salientSummary":"added add","whatWasImplemented":"calc add","whatWasLeftUndone":"","verification":{"commandsRun":[],"interactiveChecks":[]},"tests":{"added":[],"updated":[],"coverage":""},"discoveredIssues":[]}"#,
        )
        .unwrap();
        let proof: Proof = serde_json::from_str(r#"{"verdict":"refused","reasons":["it passed before"]}"#).unwrap();
        vec![
            (
                Event::MissionAccepted { title: s("Calc"), by: Some(s("--yes")) },
                r#""type":"mission_accepted","title":"Calc","by":"--yes""#,
            ),
            (
                Event::MissionRunStarted { message: Some(s("started by --yes")) },
                r#""type":"mission_run_started","message":"started by --yes""#,
            ),
            (
                Event::MissionPaused {
                    pause_reason: Some(s("feature_retry_limit_exceeded")),
                    halted: Some(true),
                    reason: Some(s("stuck")),
                    feature_id: Some(s("calc-add")),
                },
                r#""type":"mission_paused","pauseReason":"feature_retry_limit_exceeded","halted":true,"reason":"stuck","featureId":"calc-add""#,
            ),
            (
                Event::MissionResumed {
                    resume_worker_session_id: None,
                    from: Some(s("halted")),
                    reset_features: Some(vec![s("calc-add")]),
                    set_aside: Some(SetAside {
                        feature_id: s("calc-add"),
                        stash: Some(s("abc")),
                        stash_message: None,
                        commits_ref: None,
                    }),
                },
                r#""type":"mission_resumed","from":"halted","resetFeatures":["calc-add"],"setAside":{"featureId":"calc-add","stash":"abc","stashMessage":null,"commitsRef":null}"#,
            ),
            (
                Event::WorkerSelectedFeature { worker_session_id: s("w1"), feature_id: s("calc-add") },
                r#""type":"worker_selected_feature","workerSessionId":"w1","featureId":"calc-add""#,
            ),
            (
                Event::WorkerStarted(WorkerStarted {
                    worker_session_id: s("w1"),
                    spawn_id: s("worker_0a1b2c3d"),
                    feature_id: s("calc-add"),
                    model_id: None,
                    substituted_from_model_id: None,
                    milestone: Some(s("core")),
                    round: None,
                    attempt: Some(1),
                    base_commit: Some(s("c0")),
                    worktree_branch: Some(s("missions/calc--calc-add")),
                }),
                r#""type":"worker_started","workerSessionId":"w1","spawnId":"worker_0a1b2c3d","featureId":"calc-add","milestone":"core","attempt":1,"baseCommit":"c0","worktreeBranch":"missions/calc--calc-add""#,
            ),
            (
                Event::WorkerCompleted(Box::new(WorkerCompleted {
                    worker_session_id: s("w1"),
                    feature_id: s("calc-add"),
                    success_state: s("success"),
                    return_to_orchestrator: false,
                    commit_id: Some(s("c1")),
                    repo_path: Some(s("/repo")),
                    exit_code: 0,
                    validators_passed: true,
                    handoff,
                    recovered: Some(true),
                })),
                r#""type":"worker_completed","workerSessionId":"w1","featureId":"calc-add","successState":"success","returnToOrchestrator":false,"commitId":"c1","repoPath":"/repo","exitCode":0,"validatorsPassed":true,"handoff":{"salientSummary":"added add","whatWasImplemented":"calc add","whatWasLeftUndone":"","verification":{"commandsRun":[]},"tests":{"added":[],"coverage":""},"discoveredIssues":[]},"recovered":true"#,
            ),
            (
                Event::WorkerFailed {
                    worker_session_id: Some(s("w2")),
                    spawn_id: s("worker_no_handoff_w2"),
                    exit_code: Some(0),
                    reason: s("no handoff"),
                    failure_reason: Some(s("worker_exited_without_handoff")),
                    feature_id: Some(s("calc-add")),
                },
                r#""type":"worker_failed","workerSessionId":"w2","spawnId":"worker_no_handoff_w2","exitCode":0,"reason":"no handoff","failureReason":"worker_exited_without_handoff","featureId":"calc-add""#,
            ),
            (
                Event::WorkerPaused { worker_session_id: s("w3"), feature_id: s("calc-add") },
                r#""type":"worker_paused","workerSessionId":"w3","featureId":"calc-add""#,
            ),
            (
                Event::MilestoneValidationTriggered { milestone: s("core"), feature_id: s("scrutiny-validator-core") },
                r#""type":"milestone_validation_triggered","milestone":"core","featureId":"scrutiny-validator-core""#,
            ),
            (
                Event::MissionCreated { mission_id: s("mis_0a1b2c3d"), title: s("Calc"), slug: s("calc") },
                r#""type":"mission_created","missionId":"mis_0a1b2c3d","title":"Calc","slug":"calc""#,
            ),
            (
                Event::PlanningStarted { session_id: s("p1"), answers: 2 },
                r#""type":"planning_started","sessionId":"p1","answers":2"#,
            ),
            (
                Event::QuestionAsked { session_id: s("p1"), question: s("Which shell?") },
                r#""type":"question_asked","sessionId":"p1","question":"Which shell?""#,
            ),
            (Event::ContractWritten { session_id: s("p1") }, r#""type":"contract_written","sessionId":"p1""#),
            (Event::FeaturesWritten { session_id: s("p1") }, r#""type":"features_written","sessionId":"p1""#),
            (
                Event::PlanSubmitted { session_id: Some(s("p1")), warnings: Some(vec![s("w")]) },
                r#""type":"plan_submitted","sessionId":"p1","warnings":["w"]"#,
            ),
            (Event::PlanSubmitted { session_id: None, warnings: None }, r#""type":"plan_submitted""#),
            (
                Event::PlanChecks { warnings: vec![s("x [check-passes-on-base]")] },
                r#""type":"plan_checks","warnings":["x [check-passes-on-base]"]"#,
            ),
            (Event::MilestoneStarted { milestone: s("core") }, r#""type":"milestone_started","milestone":"core""#),
            (
                Event::HandoffRefused {
                    worker_session_id: s("w1"),
                    feature_id: s("calc-add"),
                    reason: s("red-green"),
                    proof: Some(Box::new(proof)),
                },
                r#""type":"handoff_refused","workerSessionId":"w1","featureId":"calc-add","reason":"red-green","proof":{"verdict":"refused","reasons":["it passed before"]}"#,
            ),
            (
                Event::AssertionsStale {
                    milestone: s("ui"),
                    assertions: vec![StaleAssertion {
                        id: s("VAL-1"),
                        feature_id: s("calc-add"),
                        commit_id: s("c2"),
                        files: vec![s("calc.py")],
                        reason: s("c2 changed calc.py"),
                    }],
                },
                r#""type":"assertions_stale","milestone":"ui","assertions":[{"id":"VAL-1","featureId":"calc-add","commitId":"c2","files":["calc.py"],"reason":"c2 changed calc.py"}]"#,
            ),
            (
                Event::ValidationRound {
                    milestone: s("core"),
                    round: 1,
                    passed: false,
                    assertions: AssertionCounts { passed: 1, failed: 2, blocked: 0 },
                },
                r#""type":"validation_round","milestone":"core","round":1,"passed":false,"assertions":{"passed":1,"failed":2,"blocked":0}"#,
            ),
            (
                Event::MilestonePassed { milestone: s("core"), round: 2 },
                r#""type":"milestone_passed","milestone":"core","round":2"#,
            ),
            (
                Event::FixFeaturesAdded {
                    milestone: s("core"),
                    round: 1,
                    session_id: s("o1"),
                    feature_ids: vec![s("fix-1")],
                },
                r#""type":"fix_features_added","milestone":"core","round":1,"sessionId":"o1","featureIds":["fix-1"]"#,
            ),
            (
                Event::MergeConflict {
                    feature_id: s("calc-add"),
                    worker_session_id: s("w1"),
                    files: vec![s("calc.py")],
                },
                r#""type":"merge_conflict","featureId":"calc-add","workerSessionId":"w1","files":["calc.py"]"#,
            ),
            (Event::MissionCancelled { by: s("the editor") }, r#""type":"mission_cancelled","by":"the editor""#),
            (Event::MissionCompleted {}, r#""type":"mission_completed""#),
        ]
    }

    #[test]
    fn every_event_is_written_as_today_and_reads_back_equal() {
        let examples = examples();
        let mut variants: Vec<usize> = examples.iter().map(|(e, _)| variant(e)).collect();
        variants.dedup();
        assert_eq!(variants, (0..26).collect::<Vec<_>>(), "one example (or more) per variant, in order");
        let mut log = String::new();
        for (event, fields) in &examples {
            let line = serde_json::to_string(&ProgressEvent::new(AT.into(), event)).unwrap();
            assert_eq!(line, format!(r#"{{"timestamp":"{AT}",{fields}}}"#));
            log.push_str(&line);
            log.push('\n');
        }
        let (read, errors) = parse_jsonl::<ProgressEvent>(log.as_bytes());
        assert!(errors.is_empty(), "{errors:?}");
        let read: Vec<Event> = read.iter().map(ProgressEvent::event).collect();
        let written: Vec<Event> = examples.into_iter().map(|(e, _)| e).collect();
        assert_eq!(read, written);
    }

    #[test]
    fn an_event_no_variant_fits_is_kept_as_written() {
        let lines = [
            // droid's, unknown to us.
            r#"{"timestamp":"2026-01-01T00:00:00.000Z","type":"handoff_items_dismissed","dismissals":[{"id":"x"}]}"#,
            // A known type with a field of another shape (a newer or older writer).
            r#"{"timestamp":"2026-01-01T00:00:00.000Z","type":"milestone_passed","milestone":"core","round":"two"}"#,
        ];
        for line in lines {
            let event: ProgressEvent = serde_json::from_str(line).unwrap();
            let Event::Other(fields) = event.event() else { panic!("{line} read as a typed event") };
            let again = ProgressEvent::new(event.timestamp.clone(), &Event::Other(fields));
            assert_eq!(serde_json::to_string(&again).unwrap(), line);
        }
    }

    #[test]
    fn droids_own_lines_read_typed_with_their_unknown_fields_kept_on_the_line() {
        let line = r#"{"timestamp":"2026-01-01T00:00:00.000Z","type":"worker_started","workerSessionId":"w","spawnId":"worker_0a1b2c3d","featureId":"f","modelId":"m","substitutedFromModelId":"n","droidOnly":1}"#;
        let event: ProgressEvent = serde_json::from_str(line).unwrap();
        let Event::WorkerStarted(started) = event.event() else { panic!("not typed") };
        assert_eq!(started.substituted_from_model_id.as_deref(), Some("n"));
        assert_eq!(serde_json::to_string(&event).unwrap(), line, "the line itself keeps every field");
    }
}
