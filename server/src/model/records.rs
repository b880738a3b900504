//! The mission folder's JSON records in droid's format (droid 0.225): state.json, handoffs,
//! validation-state.json, the validators' syntheses, reviews and flows, progress_log.jsonl and
//! worker-transcripts.jsonl. Field names, shapes and key order follow droid's files; what
//! `missions` adds lives in optional keys droid keeps (or ignores), and every unknown key is
//! kept in `extra` so a rewrite loses nothing.

use indexmap::IndexMap;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// progress_log.jsonl's line, in its own module with the typed events.
pub use super::progress_log::ProgressEvent;

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

/// state.json's `state`: the only seven values droid accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DroidState {
    Planning,
    AwaitingInput,
    Initializing,
    Running,
    Paused,
    OrchestratorTurn,
    Completed,
}

impl DroidState {
    pub const ALL: [DroidState; 7] = [
        DroidState::Planning,
        DroidState::AwaitingInput,
        DroidState::Initializing,
        DroidState::Running,
        DroidState::Paused,
        DroidState::OrchestratorTurn,
        DroidState::Completed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DroidState::Planning => "planning",
            DroidState::AwaitingInput => "awaiting_input",
            DroidState::Initializing => "initializing",
            DroidState::Running => "running",
            DroidState::Paused => "paused",
            DroidState::OrchestratorTurn => "orchestrator_turn",
            DroidState::Completed => "completed",
        }
    }

    pub fn parse(s: &str) -> Option<DroidState> {
        DroidState::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// The runner's finer view of a mission. droid knows only [`DroidState`]; the finer status is
/// kept in state.json's extra key `detailedState` and always written with its droid state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MissionStatus {
    Planning,
    AwaitingAnswers,
    AwaitingApproval,
    Running,
    Validating,
    Paused,
    Halted,
    Completed,
    Cancelled,
}

impl MissionStatus {
    pub const ALL: [MissionStatus; 9] = [
        MissionStatus::Planning,
        MissionStatus::AwaitingAnswers,
        MissionStatus::AwaitingApproval,
        MissionStatus::Running,
        MissionStatus::Validating,
        MissionStatus::Paused,
        MissionStatus::Halted,
        MissionStatus::Completed,
        MissionStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MissionStatus::Planning => "planning",
            MissionStatus::AwaitingAnswers => "awaiting_answers",
            MissionStatus::AwaitingApproval => "awaiting_approval",
            MissionStatus::Running => "running",
            MissionStatus::Validating => "validating",
            MissionStatus::Paused => "paused",
            MissionStatus::Halted => "halted",
            MissionStatus::Completed => "completed",
            MissionStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<MissionStatus> {
        MissionStatus::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// The droid state written with this status: a plan waiting for review or answers waits
    /// on the person (`awaiting_input`); validation is part of running; a halt or a cancel is
    /// a pause that only the person ends.
    pub fn droid_state(self) -> DroidState {
        match self {
            MissionStatus::Planning => DroidState::Planning,
            MissionStatus::AwaitingAnswers | MissionStatus::AwaitingApproval => DroidState::AwaitingInput,
            MissionStatus::Running | MissionStatus::Validating => DroidState::Running,
            MissionStatus::Paused | MissionStatus::Halted | MissionStatus::Cancelled => DroidState::Paused,
            MissionStatus::Completed => DroidState::Completed,
        }
    }

    /// The status a droid state means when no finer one is recorded.
    pub fn from_droid(state: DroidState) -> MissionStatus {
        match state {
            DroidState::Planning => MissionStatus::Planning,
            DroidState::AwaitingInput => MissionStatus::AwaitingAnswers,
            DroidState::Initializing | DroidState::Running | DroidState::OrchestratorTurn => MissionStatus::Running,
            DroidState::Paused => MissionStatus::Paused,
            DroidState::Completed => MissionStatus::Completed,
        }
    }

    /// Whether the mission has ended for good.
    pub fn is_final(self) -> bool {
        matches!(self, MissionStatus::Completed | MissionStatus::Cancelled)
    }
}

/// state.json. droid's keys first (`missionId`, `state`, `workingDirectory`, `createdAt`,
/// `updatedAt`), every other key droid or a person wrote in `extra`, then the runner's own
/// optional keys, which droid keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct MissionState {
    #[serde(default)]
    pub mission_id: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub working_directory: String,
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub updated_at: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// [`MissionStatus`] as text; trusted only while it agrees with `state`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detailed_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub halt_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_milestone: Option<String>,
    /// The milestones in plan order, recorded when the run first starts: the queue itself
    /// reorders (validators and fixes go to the top), so it cannot tell the order later.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub milestones: Vec<String>,
}

/// The runner's own keys of state.json, kept among droid's unknown ones.
const BRANCH_KEY: &str = "branch";
const MILESTONE_BASES_KEY: &str = "milestoneBases";

impl MissionState {
    /// The mission's status: `detailedState` when it agrees with droid's `state` (droid may
    /// have run the mission since and changed `state` only), else what `state` means. An
    /// unknown or missing `state` reads as planning.
    pub fn status(&self) -> MissionStatus {
        let droid = DroidState::parse(&self.state);
        let detailed = self.detailed_state.as_deref().and_then(MissionStatus::parse);
        match (droid, detailed) {
            (Some(d), Some(m)) if m.droid_state() == d => m,
            (Some(d), _) => MissionStatus::from_droid(d),
            (None, Some(m)) => m,
            (None, None) => MissionStatus::Planning,
        }
    }

    /// Sets both `state` and `detailedState`.
    pub fn set_status(&mut self, status: MissionStatus) {
        self.state = status.droid_state().as_str().to_string();
        self.detailed_state = Some(status.as_str().to_string());
    }

    /// The branch the runner works on (our key; droid keeps keys it does not know).
    pub fn branch(&self) -> Option<&str> {
        self.extra.get(BRANCH_KEY)?.as_str()
    }

    pub fn set_branch(&mut self, branch: &str) {
        self.extra.insert(BRANCH_KEY.into(), Value::String(branch.into()));
    }

    /// The commit `milestone`'s first feature started from (the base of its diff).
    pub fn milestone_base(&self, milestone: &str) -> Option<&str> {
        self.extra.get(MILESTONE_BASES_KEY)?.get(milestone)?.as_str()
    }

    /// The base of the milestone that started first: where the mission's work begins.
    pub fn first_milestone_base(&self) -> Option<&str> {
        self.extra.get(MILESTONE_BASES_KEY)?.as_object()?.values().next()?.as_str()
    }

    /// Records `milestone`'s base once; a later call keeps the first.
    pub fn set_milestone_base(&mut self, milestone: &str, commit: &str) {
        let bases = self.extra.entry(MILESTONE_BASES_KEY).or_insert_with(|| Value::Object(Default::default()));
        if let Value::Object(map) = bases {
            map.entry(milestone.to_string()).or_insert_with(|| Value::String(commit.into()));
        }
    }
}

/// A handoff file: `handoffs/<timestamp>__<featureId>__<workerSessionId>.json`, droid's
/// wrapper around the worker's own report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct HandoffFile {
    #[serde(default)]
    pub timestamp: String,
    #[serde(default)]
    pub worker_session_id: String,
    #[serde(default)]
    pub feature_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub milestone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_path: Option<String>,
    /// `success`, `partial` or `failure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_to_orchestrator: Option<bool>,
    #[serde(default)]
    pub handoff: Handoff,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `successState` values.
pub const SUCCESS_STATES: [&str; 3] = ["success", "partial", "failure"];

/// `submit_handoff`'s arguments, droid's `EndFeatureRun`: the one description of the handoff's
/// shape. The tool's JSON schema is generated from it (`agent::schema::handoff_schema`) and
/// the runner wraps it as droid's [`HandoffFile`] ([`EndFeatureRun::into_file`]).
///
/// The serde attributes here and on [`Handoff`]'s parts read droid's files tolerantly (every key
/// may be missing, enums are text, unknown keys are kept); the `schemars` ones are droid's
/// limits on what a worker must give: `!default` marks a key a file may lack but the tool
/// requires, `with` gives an optional key its value's schema (left out, never `null`),
/// `length`, `description` and the enums are what the model is shown. A field's doc comment
/// would reach the model too, so notes on fields are `//` comments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
// The Rust docs are not the model's: an empty title and description are left out.
#[schemars(title = "", description = "")]
pub struct EndFeatureRun {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        with = "String",
        length(min = 1),
        description = "The id of the feature you worked on (optional; it must be this session's)."
    )]
    pub feature_id: Option<String>,
    #[schemars(
        description = "success: everything done, tested and committed; partial: some is left (say what in whatWasLeftUndone); failure: you cannot go on (say why)."
    )]
    pub success_state: SuccessState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        with = "bool",
        description = "true when the orchestrator must look at something before the next feature runs."
    )]
    pub return_to_orchestrator: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        with = "String",
        length(min = 1),
        description = "The commit holding the work (`git rev-parse HEAD`); required for success."
    )]
    pub commit_id: Option<String>,
    // Everything else is droid's `handoff` object.
    #[serde(flatten)]
    pub handoff: Handoff,
}

impl EndFeatureRun {
    /// droid's handoff file for this report: `successState`, `returnToOrchestrator` (by default
    /// true unless the work succeeded) and the commit (with the repository it is in) on the
    /// wrapper, the report as its `handoff`; `featureId` is the session's, whatever was given.
    pub fn into_file(
        self,
        timestamp: String,
        worker_session_id: &str,
        feature_id: &str,
        milestone: Option<&str>,
        repo: &std::path::Path,
    ) -> HandoffFile {
        let commit = self.commit_id.map(|c| c.trim().to_string()).filter(|c| !c.is_empty());
        HandoffFile {
            timestamp,
            worker_session_id: worker_session_id.to_string(),
            feature_id: feature_id.to_string(),
            milestone: milestone.map(str::to_string),
            repo_path: commit.as_ref().map(|_| repo.display().to_string()),
            commit_id: commit,
            success_state: Some(self.success_state.as_str().to_string()),
            return_to_orchestrator: Some(
                self.return_to_orchestrator.unwrap_or(self.success_state != SuccessState::Success),
            ),
            handoff: self.handoff,
            extra: Map::new(),
        }
    }
}

/// How a worker's session ended ([`SUCCESS_STATES`]); files keep it as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SuccessState {
    Success,
    Partial,
    Failure,
}

impl SuccessState {
    pub fn as_str(self) -> &'static str {
        match self {
            SuccessState::Success => SUCCESS_STATES[0],
            SuccessState::Partial => SUCCESS_STATES[1],
            SuccessState::Failure => SUCCESS_STATES[2],
        }
    }
}

/// The values alone, as droid's schema has them (a derive would add `"type": "string"`).
impl JsonSchema for SuccessState {
    fn schema_name() -> Cow<'static, str> {
        "SuccessState".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"enum": SUCCESS_STATES})
    }
}

/// An issue's `severity`: one of [`SEVERITIES`], the values alone as droid's schema has them.
fn severity_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"enum": SEVERITIES})
}

/// An integer without the `format` a derive adds.
fn integer_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "integer"})
}

/// The worker's report inside a handoff file (droid's `handoff` object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(title = "", description = "")]
pub struct Handoff {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(!default, required, length(min = 20, max = 750), description = "One line, 1-6 sentences, a reviewer reads first.")]
    pub salient_summary: Option<String>,
    #[serde(default)]
    #[schemars(!default, length(min = 50), description = "What you built, concretely.")]
    pub what_was_implemented: String,
    #[serde(default)]
    #[schemars(!default, description = "Everything not done, honestly; \"\" only when nothing is left.")]
    pub what_was_left_undone: String,
    #[serde(default)]
    #[schemars(!default, description = "The commands you ran and what they showed.")]
    pub verification: Verification,
    #[serde(default)]
    #[schemars(
        !default,
        description = "The test files you added (each with its cases) or changed, and what they cover."
    )]
    pub tests: Tests,
    #[serde(default)]
    #[schemars(!default)]
    pub discovered_issues: Vec<DiscoveredIssue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "SkillFeedback")]
    pub skill_feedback: Option<SkillFeedback>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl Handoff {
    /// The summary a person reads first: `salientSummary`, else the start of what was done.
    pub fn summary(&self) -> &str {
        self.salient_summary.as_deref().filter(|s| !s.trim().is_empty()).unwrap_or(&self.what_was_implemented).trim()
    }

    /// The test files the worker says it added.
    pub fn test_files(&self) -> impl Iterator<Item = &str> {
        self.tests.added.iter().map(|t| t.file.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    #[serde(default)]
    #[schemars(!default)]
    pub commands_run: Vec<CommandRun>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interactive_checks: Vec<InteractiveCheck>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommandRun {
    #[serde(default)]
    #[schemars(!default, length(min = 1))]
    pub command: String,
    #[serde(default)]
    #[schemars(!default, schema_with = "integer_schema")]
    pub exit_code: Option<i64>,
    #[serde(default)]
    #[schemars(!default)]
    pub observation: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, JsonSchema)]
pub struct InteractiveCheck {
    #[serde(default)]
    #[schemars(!default, length(min = 1))]
    pub action: String,
    #[serde(default)]
    #[schemars(!default)]
    pub observed: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, JsonSchema)]
pub struct Tests {
    #[serde(default)]
    #[schemars(!default)]
    pub added: Vec<TestFile>,
    // Paths, as the tool asks; a file may hold anything.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<String>")]
    pub updated: Vec<Value>,
    #[serde(default)]
    #[schemars(!default)]
    pub coverage: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, JsonSchema)]
pub struct TestFile {
    #[serde(default)]
    #[schemars(!default, length(min = 1))]
    pub file: String,
    #[serde(default)]
    #[schemars(!default)]
    pub cases: Vec<TestCase>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, JsonSchema)]
pub struct TestCase {
    #[serde(default)]
    #[schemars(!default, length(min = 1))]
    pub name: String,
    #[serde(default)]
    #[schemars(!default)]
    pub verifies: String,
}

/// Issue severities as droid writes them.
pub const SEVERITIES: [&str; 3] = ["blocking", "non_blocking", "suggestion"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveredIssue {
    // One of SEVERITIES, kept as text.
    #[serde(default)]
    #[schemars(!default, schema_with = "severity_schema")]
    pub severity: String,
    #[serde(default)]
    #[schemars(!default, length(min = 1))]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub suggested_fix: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkillFeedback {
    #[serde(default)]
    #[schemars(!default)]
    pub followed_procedure: bool,
    #[serde(default)]
    #[schemars(!default)]
    pub deviations: Vec<Deviation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suggested_changes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Deviation {
    #[serde(default)]
    #[schemars(!default)]
    pub step: String,
    #[serde(default)]
    #[schemars(!default)]
    pub what_i_did_instead: String,
    #[serde(default)]
    #[schemars(!default)]
    pub why: String,
}

/// The statuses validation-state.json holds; a blocked assertion is recorded as `failed`.
pub const ASSERTION_STATUSES: [&str; 3] = ["pending", "passed", "failed"];

/// One assertion's entry in validation-state.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AssertionState {
    #[serde(default)]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validated_at_milestone: Option<String>,
    /// Why it failed or could not be checked. Agents write this file by hand, so anything
    /// that is not a string is kept as its text.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient_text")]
    pub issues: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// Ours: the assertion could not be checked (droid records that as `failed`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub blocked: bool,
    /// Ours: the round of its milestone's validation that set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round: Option<u32>,
    /// Ours: evidence files, relative to the mission folder.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    /// Ours: the commit the validation that set it ran on (later commits may make a passed
    /// assertion stale: `analysis::drift`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validated_at_commit: Option<String>,
}

impl AssertionState {
    pub fn is_passed(&self) -> bool {
        self.status == "passed"
    }
}

/// validation-state.json: the latest status of every assertion, in the contract's order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ValidationState {
    #[serde(default)]
    pub assertions: IndexMap<String, AssertionState>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A string as it is, an array of strings joined, anything else as its JSON text.
fn lenient_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Null => None,
        Value::String(s) => Some(s),
        Value::Array(items) if items.iter().all(Value::is_string) => {
            Some(items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; "))
        }
        other => Some(other.to_string()),
    })
}

/// `validation/<m>/scrutiny/synthesis.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ScrutinySynthesis {
    #[serde(default)]
    pub milestone: String,
    #[serde(default)]
    pub round: u32,
    /// `pass` or `fail`.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub validators_run: IndexMap<String, ValidatorRun>,
    #[serde(default)]
    pub reviews_summary: ReviewsSummary,
    #[serde(default)]
    pub blocking_issues: Vec<BlockingIssue>,
    #[serde(default)]
    pub applied_updates: Vec<Value>,
    #[serde(default)]
    pub suggested_guidance_updates: Vec<Value>,
    #[serde(default)]
    pub rejected_observations: Vec<Value>,
    #[serde(default)]
    pub previous_round: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ValidatorRun {
    #[serde(default)]
    pub passed: bool,
    #[serde(default)]
    pub command: String,
    #[serde(default)]
    pub exit_code: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ReviewsSummary {
    #[serde(default)]
    pub total: u32,
    #[serde(default)]
    pub passed: u32,
    #[serde(default)]
    pub failed: u32,
    #[serde(default)]
    pub failed_features: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct BlockingIssue {
    #[serde(default)]
    pub feature_id: String,
    #[serde(default)]
    pub severity: String,
    #[serde(default)]
    pub description: String,
}

/// `validation/<m>/user-testing/synthesis.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct UserTestingSynthesis {
    #[serde(default)]
    pub milestone: String,
    #[serde(default)]
    pub round: u32,
    /// `pass` or `fail`.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub assertions_summary: AssertionsSummary,
    #[serde(default)]
    pub passed_assertions: Vec<String>,
    #[serde(default)]
    pub failed_assertions: Vec<FailedAssertion>,
    #[serde(default)]
    pub blocked_assertions: Vec<BlockedAssertion>,
    #[serde(default)]
    pub applied_updates: Vec<Value>,
    #[serde(default)]
    pub previous_round: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct AssertionsSummary {
    #[serde(default)]
    pub total: u32,
    #[serde(default)]
    pub passed: u32,
    #[serde(default)]
    pub failed: u32,
    #[serde(default)]
    pub blocked: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct FailedAssertion {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct BlockedAssertion {
    #[serde(default)]
    pub id: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub blocked_by: String,
}

fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    lenient_text(d).map(Option::unwrap_or_default)
}

/// `validation/<m>/scrutiny/reviews/<featureId>.json`: one feature's code review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Review {
    #[serde(default)]
    pub feature_id: String,
    #[serde(default)]
    pub reviewed_at: String,
    #[serde(default)]
    pub commit_id: Option<String>,
    #[serde(default)]
    pub repo_path: Option<String>,
    #[serde(default)]
    pub transcript_skeleton_reviewed: bool,
    #[serde(default)]
    pub diff_reviewed: bool,
    /// `pass` or `fail`.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub code_review: CodeReview,
    #[serde(default)]
    pub shared_state_observations: Vec<Value>,
    #[serde(default)]
    pub addresses_failure_from: Option<String>,
    #[serde(default)]
    pub summary: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CodeReview {
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub issues: Vec<ReviewIssue>,
}

/// A review's finding; with `file` (and `line`) it is shown on that source line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ReviewIssue {
    #[serde(default)]
    pub file: String,
    /// 1-based.
    #[serde(default)]
    pub line: Option<u32>,
    #[serde(default)]
    pub severity: String,
    #[serde(default)]
    pub description: String,
}

impl ReviewIssue {
    /// The file, relative to the working directory and inside it, normalised (`./a/../b` ->
    /// `b`); `None` for no file, an absolute path or one that climbs out with `..`.
    pub fn path_inside(&self) -> Option<String> {
        relative_inside(&self.file)
    }
}

/// `path` relative and inside its root, normalised; `None` when absolute, empty or escaping.
pub fn relative_inside(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    if path.starts_with(['/', '\\']) || path.get(1..2) == Some(":") {
        return None;
    }
    for part in path.split(['/', '\\']) {
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

/// `validation/<m>/user-testing/flows/<groupId>.json`: one group of assertions tested
/// together, with the steps and evidence of each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Flow {
    #[serde(default)]
    pub group_id: String,
    #[serde(default)]
    pub tested_at: String,
    #[serde(default)]
    pub isolation: Map<String, Value>,
    #[serde(default)]
    pub tools_used: Vec<String>,
    #[serde(default)]
    pub assertions: Vec<FlowAssertion>,
    #[serde(default)]
    pub frictions: Vec<Value>,
    #[serde(default)]
    pub blockers: Vec<Value>,
    #[serde(default)]
    pub summary: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct FlowAssertion {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub title: String,
    /// `pass`, `fail`, `blocked` or `skipped`.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub steps: Vec<FlowStep>,
    /// Evidence files by kind (`{"screenshots": ["m/group/a.png"]}`), relative to `evidence/`.
    #[serde(default)]
    pub evidence: Map<String, Value>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub issues: Option<String>,
}

impl FlowAssertion {
    /// Every evidence path it cites, relative to the mission's `evidence/` folder.
    pub fn evidence_paths(&self) -> Vec<&str> {
        let mut out = Vec::new();
        for v in self.evidence.values() {
            match v {
                Value::String(s) => out.push(s.as_str()),
                Value::Array(items) => out.extend(items.iter().filter_map(Value::as_str)),
                _ => {}
            }
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct FlowStep {
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub expected: String,
    #[serde(default)]
    pub observed: String,
}

/// One line of worker-transcripts.jsonl, as droid writes it at the end of every worker (and
/// validator) session: a Markdown skeleton of the conversation, no usage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptSkeleton {
    pub worker_session_id: String,
    pub feature_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub milestone: Option<String>,
    pub skeleton: String,
    pub timestamp: String,
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

    const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/droid");

    #[test]
    fn unknown_fields_survive_a_round_trip_in_droid_order() {
        let text = r#"{"missionId":"mis_1","state":"paused","workingDirectory":"/r","createdAt":"a","updatedAt":"b","initialFeatureCount":5,"featureRetryBudgetBonus":{"f":5}}"#;
        let mut state: MissionState = load(text).value.unwrap();
        state.halt_reason = Some("why".into());
        let back = serde_json::to_string(&state).unwrap();
        assert_eq!(
            back,
            r#"{"missionId":"mis_1","state":"paused","workingDirectory":"/r","createdAt":"a","updatedAt":"b","initialFeatureCount":5,"featureRetryBudgetBonus":{"f":5},"haltReason":"why"}"#
        );
    }

    #[test]
    fn the_finer_status_counts_only_while_droid_agrees() {
        let mut s = MissionState::default();
        s.set_status(MissionStatus::Halted);
        assert_eq!((s.state.as_str(), s.status()), ("paused", MissionStatus::Halted));
        // droid ran the mission since: it rewrote `state` and kept our key.
        s.state = "running".into();
        assert_eq!(s.status(), MissionStatus::Running);
        s.state = "awaiting_input".into();
        s.detailed_state = Some("awaiting_approval".into());
        assert_eq!(s.status(), MissionStatus::AwaitingApproval);
        for status in MissionStatus::ALL {
            s.set_status(status);
            assert_eq!(s.status(), status);
            assert!(DroidState::parse(&s.state).is_some());
        }
    }

    #[test]
    fn droid_handoffs_read_whole() {
        let text = r#"{"timestamp":"t","workerSessionId":"s","featureId":"f","commitId":"abc","successState":"partial","returnToOrchestrator":true,"handoff":{"salientSummary":"s","whatWasImplemented":"w","whatWasLeftUndone":"u","verification":{"commandsRun":[{"command":"make","exitCode":0,"observation":"ok"}],"interactiveChecks":[{"action":"a","observed":"o"}]},"tests":{"added":[{"file":"t.py","cases":[{"name":"n","verifies":"v"}]}],"updated":["u.py"],"coverage":"c"},"discoveredIssues":[{"severity":"non_blocking","description":"d","suggestedFix":"f"}],"skillFeedback":{"followedProcedure":false,"deviations":[{"step":"1","whatIDidInstead":"x","why":"y"}],"suggestedChanges":["z"]}}}"#;
        let h: HandoffFile = load(text).value.unwrap();
        assert_eq!(
            (h.feature_id.as_str(), h.success_state.as_deref(), h.commit_id.as_deref()),
            ("f", Some("partial"), Some("abc"))
        );
        assert_eq!(h.handoff.verification.commands_run[0].exit_code, Some(0));
        assert_eq!(h.handoff.test_files().collect::<Vec<_>>(), ["t.py"]);
        assert_eq!(h.handoff.skill_feedback.as_ref().unwrap().deviations[0].what_i_did_instead, "x");
        let back: Value = serde_json::to_value(&h).unwrap();
        assert_eq!(back, serde_json::from_str::<Value>(text).unwrap(), "nothing is lost or added");
    }

    #[test]
    fn issues_of_validation_state_are_text_whatever_an_agent_wrote() {
        let v: ValidationState = load(r#"{"assertions":{"VAL-A-002":{"status":"failed","issues":"Wrong text."},"VAL-A-001":{"status":"failed","issues":["a","b"]},"VAL-A-003":{"status":"failed","issues":{"x":1}}}}"#).value.unwrap();
        let issues: Vec<_> = v.assertions.values().map(|a| a.issues.clone().unwrap()).collect();
        assert_eq!(issues, ["Wrong text.", "a; b", r#"{"x":1}"#]);
        assert_eq!(
            v.assertions.keys().collect::<Vec<_>>(),
            ["VAL-A-002", "VAL-A-001", "VAL-A-003"],
            "file order is kept"
        );
    }

    #[test]
    fn every_record_of_the_droid_examples_reads() {
        let dir = std::path::Path::new(EXAMPLES).join("all-event-types-paused");
        let read = |p: &str| std::fs::read_to_string(dir.join(p)).unwrap();
        let state: MissionState = load(&read("state.json")).value.unwrap();
        assert_eq!((state.mission_id.as_str(), state.status()), ("mis_4be1c0d2", MissionStatus::Paused));
        assert!(state.extra.contains_key("featureRetryBudgetBonus"));
        let v: ValidationState = load(&read("validation-state.json")).value.unwrap();
        assert_eq!(
            v.assertions["VAL-CALC-002"].issues.as_deref(),
            Some("`div 1 0` prints `division failed` instead of `error: cannot divide by zero`.")
        );
        let s: ScrutinySynthesis = load(&read("validation/core/scrutiny/synthesis.json")).value.unwrap();
        assert_eq!((s.round, s.status.as_str(), s.validators_run["test"].exit_code), (1, "pass", Some(0)));
        let u: UserTestingSynthesis = load(&read("validation/core/user-testing/synthesis.json")).value.unwrap();
        assert_eq!(u.failed_assertions[0].id, "VAL-CALC-002");
        let r: Review = load(&read("validation/core/scrutiny/reviews/calc-divide.json")).value.unwrap();
        assert_eq!(
            (r.code_review.issues[0].path_inside().as_deref(), r.code_review.issues[0].line),
            (Some("calc/__main__.py"), Some(14))
        );
        let f: Flow = load(&read("validation/core/user-testing/flows/arithmetic.json")).value.unwrap();
        assert_eq!(f.assertions[1].evidence_paths(), ["core/arithmetic/VAL-CALC-002-div0.txt"]);
        let (events, errors) = parse_jsonl::<ProgressEvent>(read("progress_log.jsonl").as_bytes());
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(events.len(), 33);
        let (lines, errors) = parse_jsonl::<TranscriptSkeleton>(read("worker-transcripts.jsonl").as_bytes());
        assert!(errors.is_empty() && !lines.is_empty(), "{errors:?}");
    }

    #[test]
    fn jsonl_skips_torn_tail_and_reports_broken_lines() {
        let (events, errors) = parse_jsonl::<ProgressEvent>(
            b"{\"timestamp\":\"t\",\"type\":\"a\"}\nnot json\n{\"timestamp\":\"t\",\"type\":\"b\"}\n{\"timestamp\":",
        );
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
        assert_eq!(relative_inside("src/a.rs").as_deref(), Some("src/a.rs"));
        assert_eq!(relative_inside("./src/../lib/b.rs").as_deref(), Some("lib/b.rs"));
        for outside in ["/etc/passwd", "../x", "a/../../x", "", ".", "C:/x", "\\\\server\\x"] {
            assert_eq!(relative_inside(outside), None, "{outside}");
        }
    }
}
