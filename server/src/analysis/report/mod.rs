//! `missions report`: the mission breakdown of the seed (runtime by role and milestone, agent
//! runs, tokens, cost, lines of code and test share, fix ratio, issues, turns, validation
//! rounds), computed here from records the runner read; `text`, `json` and `html` render it
//! (`tables` holds the rows and figures the text and the page share). Pure: no disk, clock or
//! network here.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::model::features::FeaturesFile;
use crate::model::folder::ValidationRecords;
use crate::model::records::{MissionState, ProgressEvent};
use crate::model::timestamp::unix_seconds;

mod html;
mod json;
mod tables;
mod text;

pub use html::{escape, render_html};
pub use json::render_json;
pub use tables::{count, duration};
pub use text::render_text;

// ---- input --------------------------------------------------------------------------------

pub use super::cost::Price;
use super::cost::{Usage, UsageRollup};

/// The fields of a `sessions.jsonl` line the report reads; everything else (messages,
/// tool output) is skipped while parsing. The runner's `session_start` details are merged into
/// the line, and its `kind` detail (`worker`, `scrutiny`…) takes the place of `session_start`,
/// so a line whose `kind` is a session kind is a session start too (a `sessionKind` field, if a
/// later writer keeps the two apart, is read as well).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TranscriptLine {
    pub ts: String,
    pub session_id: String,
    pub role: String,
    pub seq: Option<u64>,
    pub kind: String,
    pub session_kind: Option<String>,
    pub model: Option<String>,
    pub feature_id: Option<String>,
    pub milestone: Option<String>,
    pub round: Option<u32>,
    pub purpose: Option<String>,
    pub usage: Option<Usage>,
    /// A `usage` line the server did not report: the agent estimated it.
    pub estimated: Option<bool>,
    pub status: Option<String>,
    pub turns: Option<u32>,
    /// A `handoff` line's report (a worker's `successState`).
    pub handoff: Option<HandoffLine>,
}

/// What the report reads of a worker's handoff in the transcript.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HandoffLine {
    pub success_state: Option<String>,
}

/// One changed file of `git diff --numstat` (binary files have no line counts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumstatEntry {
    pub path: String,
    pub added: Option<u64>,
    pub deleted: Option<u64>,
}

/// Parses `git diff --numstat --no-renames` output; lines that are not `added<TAB>deleted<TAB>path` are skipped.
pub fn parse_numstat(text: &str) -> Vec<NumstatEntry> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, '\t');
            let (a, d, path) = (parts.next()?, parts.next()?, parts.next()?);
            let num = |s: &str| if s == "-" { Some(None) } else { s.parse::<u64>().ok().map(Some) };
            Some(NumstatEntry { path: path.to_string(), added: num(a)?, deleted: num(d)? })
        })
        .collect()
}

/// The mission's diff, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum DiffInput {
    Files { base: String, head: String, files: Vec<NumstatEntry> },
    Unavailable(String),
}

impl Default for DiffInput {
    fn default() -> Self {
        DiffInput::Unavailable("not read".into())
    }
}

/// One validator's report of one round (a synthesis), as the report counts it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoundRecord {
    pub milestone: String,
    /// `scrutiny` or `user-testing`.
    pub validator: String,
    pub round: u32,
    pub passed: bool,
    /// The round's findings by severity: a user-testing round's failed and blocked assertions
    /// are blocking; a scrutiny round's are its blocking issues.
    pub blocking: usize,
}

/// Everything the report is computed from, as the runner read it from the mission folder.
#[derive(Debug, Clone, Default)]
pub struct ReportInput {
    pub state: Option<MissionState>,
    /// mission.md's first heading.
    pub title: Option<String>,
    pub features: Option<FeaturesFile>,
    pub events: Vec<ProgressEvent>,
    pub transcript: Vec<TranscriptLine>,
    /// Every round of every validator (each round's synthesis).
    pub rounds: Vec<RoundRecord>,
    /// The latest validation records (for the reviews' findings).
    pub validation: ValidationRecords,
    pub prices: BTreeMap<String, Price>,
    pub diff: DiffInput,
    /// The test files the workers' handoffs declare (`tests.added[].file`, `tests.updated`),
    /// relative to the repository: tests whatever their path.
    pub declared_tests: BTreeSet<String>,
    /// Files that could not be read or lines that were skipped, said once in the report.
    pub notes: Vec<String>,
    /// Passed assertions later commits made stale (`analysis::drift`).
    pub stale: Vec<String>,
}

// ---- output -------------------------------------------------------------------------------

pub const ROLES: [&str; 3] = ["orchestration", "implementation", "validation"];

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MissionReport {
    pub mission: MissionInfo,
    pub time: TimeReport,
    pub runs: RunsReport,
    pub tokens: TokensReport,
    pub cost: Option<CostReport>,
    pub code: CodeReport,
    pub features: FeaturesReport,
    pub issues: IssuesReport,
    pub turns: BTreeMap<String, TurnStats>,
    pub validation: ValidationReport,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MissionInfo {
    pub id: String,
    pub title: String,
    pub status: String,
    pub halt_reason: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeReport {
    /// First and last timestamp of the progress log and transcripts.
    pub start: Option<String>,
    pub end: Option<String>,
    pub wall_seconds: f64,
    /// Time at least one session of the role was running (parallel sessions count once).
    pub by_role_seconds: BTreeMap<String, f64>,
    pub role_seconds_total: f64,
    pub milestones: Vec<MilestoneTime>,
    /// When the mission halted (droid's `mission_paused` with `halted`), in seconds from its start.
    pub halts: Vec<HaltMark>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HaltMark {
    pub at: f64,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MilestoneTime {
    pub name: String,
    pub implementation_seconds: f64,
    pub validation_seconds: f64,
    pub spans: Vec<Span>,
}

/// A phase of a milestone, in seconds from the mission's start.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Span {
    pub phase: String,
    pub start: f64,
    pub end: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunsReport {
    pub total: usize,
    pub by_role: BTreeMap<String, usize>,
    pub by_kind: BTreeMap<String, usize>,
    /// Sessions by [`SessionReport::outcome`].
    pub by_outcome: BTreeMap<String, usize>,
    pub sessions: Vec<SessionReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionReport {
    pub session_id: String,
    pub role: String,
    pub kind: String,
    pub model: Option<String>,
    pub milestone: Option<String>,
    pub feature_id: Option<String>,
    pub round: Option<u32>,
    /// Seconds from the mission's start.
    pub start: f64,
    pub end: f64,
    pub turns: u32,
    /// How the transcript (or the progress log) says it ended: `completed`, `max_turns`,
    /// `provider_failed`…, or `running` without an end.
    pub status: String,
    /// `succeeded`, `failed` (it ended without doing its job, or a worker handed off partial
    /// or failed work), `interrupted` (cancelled, paused, cut off) or `running`.
    pub outcome: String,
    pub tokens: Usage,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokensReport {
    pub total: u64,
    pub by_type: Usage,
    pub by_role: BTreeMap<String, Usage>,
    /// False for a folder whose runs have no recorded usage (one droid ran).
    pub recorded: bool,
}

/// The cost of the mission's tokens (see [`super::cost::cost`]), by report role.
pub type CostReport = super::cost::Cost;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeReport {
    pub base: Option<String>,
    pub head: Option<String>,
    pub files: usize,
    pub test_files: usize,
    pub added: u64,
    pub deleted: u64,
    pub source_lines: u64,
    pub test_lines: u64,
    /// Test lines / added lines (0 when nothing was added).
    pub test_share: f64,
    /// Why there are no figures, when there are none.
    pub unavailable: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeaturesReport {
    /// Features of the plan and fixes; validators are counted apart.
    pub total: usize,
    pub implementation: usize,
    pub fix: usize,
    pub validators: usize,
    /// Fix features / all features.
    pub fix_ratio: f64,
    pub by_status: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuesReport {
    pub total: usize,
    pub by_severity: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnStats {
    pub sessions: usize,
    pub median: u32,
    pub p90: u32,
    pub max: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationReport {
    pub milestones: Vec<MilestoneRounds>,
    /// Passed assertions later commits made stale.
    pub stale_assertions: Vec<String>,
    /// Milestones passed by the end of each round number (1, 2, …).
    pub cumulative_passes: Vec<RoundPasses>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MilestoneRounds {
    pub name: String,
    pub rounds: u32,
    pub passed_in_round: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoundPasses {
    pub round: u32,
    pub passed: usize,
    pub milestones: usize,
}

// ---- computation --------------------------------------------------------------------------

/// The report role of a transcript role or session kind.
fn report_role(role: &str) -> Option<&'static str> {
    match role {
        "orchestrator" => Some("orchestration"),
        "worker" => Some("implementation"),
        "validator" | "scrutiny" | "user-testing" => Some("validation"),
        _ => None,
    }
}

const SESSION_KINDS: [&str; 4] = ["orchestrator", "worker", "scrutiny", "user-testing"];

/// Whether a path looks like a test: `tests/`, `test_`, `_test.`, `.test.`, `.spec.`, `/spec/`.
pub fn is_test_path(path: &str) -> bool {
    let p = format!("/{}", path.to_ascii_lowercase());
    let name = p.rsplit('/').next().unwrap_or("");
    p.contains("/tests/")
        || p.contains("/test/")
        || p.contains("/spec/")
        || name.starts_with("test_")
        || name.contains("_test.")
        || name.contains(".test.")
        || name.contains(".spec.")
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Total length of the union of intervals.
fn union_length(mut spans: Vec<(f64, f64)>) -> f64 {
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut total = 0.0;
    let mut current: Option<(f64, f64)> = None;
    for (s, e) in spans {
        match current {
            Some((cs, ce)) if s <= ce => current = Some((cs, ce.max(e))),
            Some((cs, ce)) => {
                total += ce - cs;
                current = Some((s, e));
            }
            None => current = Some((s, e)),
        }
    }
    if let Some((cs, ce)) = current {
        total += ce - cs;
    }
    total
}

#[derive(Default)]
struct Session {
    id: String,
    role: String,
    kind: String,
    model: Option<String>,
    milestone: Option<String>,
    feature_id: Option<String>,
    round: Option<u32>,
    start: Option<f64>,
    end: Option<f64>,
    turns_ended: Option<u32>,
    assistant_turns: u32,
    status: Option<String>,
    /// A worker's handoff `successState`.
    success_state: Option<String>,
    usage_lines: Usage,
    /// Model calls whose usage line is all zeros: the provider reported no usage.
    unreported_calls: u32,
    /// Model calls whose usage the agent estimated (the provider reported none).
    estimated_calls: u32,
    end_usage: Option<Usage>,
}

fn sessions_of(lines: &[TranscriptLine]) -> Vec<Session> {
    let mut order: Vec<String> = Vec::new();
    let mut by_id: BTreeMap<String, Session> = BTreeMap::new();
    for line in lines {
        if line.session_id.is_empty() {
            continue;
        }
        let s = by_id.entry(line.session_id.clone()).or_insert_with(|| {
            order.push(line.session_id.clone());
            Session { id: line.session_id.clone(), role: line.role.clone(), ..Default::default() }
        });
        let ts = unix_seconds(&line.ts);
        if let Some(t) = ts {
            s.start = Some(s.start.map_or(t, |v: f64| v.min(t)));
            s.end = Some(s.end.map_or(t, |v: f64| v.max(t)));
        }
        let kind = line.kind.as_str();
        if kind == "session_start" || SESSION_KINDS.contains(&kind) {
            if let Some(k) = line.session_kind.as_deref().filter(|k| !k.is_empty()) {
                s.kind = k.to_string();
            } else if kind != "session_start" {
                s.kind = kind.to_string();
            }
            s.model = line.model.clone().or(s.model.take());
            s.milestone = line.milestone.clone().or(s.milestone.take());
            s.feature_id = line.feature_id.clone().or(s.feature_id.take());
            s.round = line.round.or(s.round);
        }
        match kind {
            "usage" => match &line.usage {
                Some(u) if u.total() == 0 => s.unreported_calls += 1,
                Some(u) => {
                    s.usage_lines += *u;
                    s.estimated_calls += u32::from(line.estimated == Some(true));
                }
                None => {}
            },
            "assistant_turn" => s.assistant_turns += 1,
            "handoff" => {
                s.success_state = line.handoff.as_ref().and_then(|h| h.success_state.clone()).or(s.success_state.take())
            }
            "session_end" => {
                s.status = line.status.clone();
                s.turns_ended = line.turns.or(s.turns_ended);
                s.end_usage = line.usage.or(s.end_usage);
            }
            "request" if s.model.is_none() => s.model = line.model.clone(),
            _ => {}
        }
    }
    order.into_iter().filter_map(|id| by_id.remove(&id)).collect()
}

/// Sessions as droid's progress log records them (`worker_started` to `worker_completed`,
/// `worker_failed` or `worker_paused`), for a mission without our transcripts: droid folders
/// record no token usage or turns.
fn sessions_from_log(events: &[ProgressEvent], features: Option<&FeaturesFile>) -> Vec<Session> {
    let mut out: Vec<Session> = Vec::new();
    for e in events {
        let Some(id) = e.str("workerSessionId") else { continue };
        let t = unix_seconds(&e.timestamp);
        match e.kind.as_str() {
            "worker_started" => {
                let feature_id = e.str("featureId").map(str::to_string);
                let feature = feature_id.as_deref().and_then(|f| features?.feature(f));
                let validator = feature.and_then(|f| f.validator()).or_else(|| {
                    let f = feature_id.as_deref()?;
                    crate::model::features::ValidatorKind::ALL
                        .into_iter()
                        .find(|k| f.starts_with(&format!("{}-", k.skill())))
                });
                let (role, kind) = match validator {
                    Some(k) => ("validator", k.folder()),
                    None => ("worker", "worker"),
                };
                out.push(Session {
                    id: id.to_string(),
                    role: role.into(),
                    kind: kind.into(),
                    model: e.str("modelId").map(str::to_string),
                    milestone: e
                        .str("milestone")
                        .map(str::to_string)
                        .or_else(|| feature.and_then(|f| f.milestone()).map(str::to_string)),
                    feature_id,
                    start: t,
                    end: t,
                    ..Default::default()
                });
            }
            "worker_completed" | "worker_failed" | "worker_paused" => {
                if let Some(s) = out.iter_mut().rev().find(|s| s.id == id) {
                    s.end = t.or(s.end);
                    s.success_state = e.str("successState").map(str::to_string);
                    s.status = Some(match e.kind.as_str() {
                        "worker_completed" => match e.str("successState") {
                            Some("success") => "completed".to_string(),
                            Some(other) => other.to_string(),
                            None => "completed".to_string(),
                        },
                        "worker_failed" => "failed".to_string(),
                        _ => "paused".to_string(),
                    });
                }
            }
            _ => {}
        }
    }
    out
}

/// How a session went, from how it ended (the transcript's `session_end` status, or the
/// progress log's) and a worker's handoff.
fn outcome(status: Option<&str>, success_state: Option<&str>) -> &'static str {
    match (status, success_state) {
        (_, Some("partial" | "failure")) => "failed",
        (None | Some("running"), _) => "running",
        (Some("completed" | "awaiting_answers" | "success"), _) => "succeeded",
        (Some("cancelled" | "abandoned" | "paused"), _) => "interrupted",
        (Some(_), _) => "failed",
    }
}

/// Computes the breakdown. Missing inputs give empty sections, never a failure.
pub fn compute(input: &ReportInput) -> MissionReport {
    let mut notes = input.notes.clone();
    let mut sessions = sessions_of(&input.transcript);
    let tokens_recorded = !sessions.is_empty() || input.events.is_empty();
    if sessions.is_empty() {
        sessions = sessions_from_log(&input.events, input.features.as_ref());
        if !sessions.is_empty() {
            notes.push("no sessions.jsonl: agent runs come from progress_log.jsonl, which records no tokens or turns (a folder droid ran)".to_string());
        }
    }

    // The mission's clock: every timestamp we have.
    let event_times: Vec<f64> = input.events.iter().filter_map(|e| unix_seconds(&e.timestamp)).collect();
    let all_times = event_times.iter().copied().chain(sessions.iter().flat_map(|s| s.start.into_iter().chain(s.end)));
    let (mut t0, mut t1) = (f64::INFINITY, f64::NEG_INFINITY);
    for t in all_times {
        t0 = t0.min(t);
        t1 = t1.max(t);
    }
    let have_time = t0.is_finite();
    let origin = if have_time { t0 } else { 0.0 };
    let rel = |t: f64| t - origin;
    let stamp = |t: f64| {
        if have_time {
            input
                .events
                .iter()
                .find(|e| unix_seconds(&e.timestamp) == Some(t))
                .map(|e| e.timestamp.clone())
                .or_else(|| input.transcript.iter().find(|l| unix_seconds(&l.ts) == Some(t)).map(|l| l.ts.clone()))
        } else {
            None
        }
    };

    // Sessions.
    let mut session_reports = Vec::new();
    let mut runs_by_role: BTreeMap<String, usize> = ROLES.iter().map(|r| (r.to_string(), 0)).collect();
    let mut runs_by_kind: BTreeMap<String, usize> = BTreeMap::new();
    let mut runs_by_outcome: BTreeMap<String, usize> = BTreeMap::new();
    let mut role_spans: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    let mut usage = UsageRollup::default();
    let mut turns_by_role: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    let mut unknown_roles = 0;
    for s in &sessions {
        let Some(role) = report_role(&s.role).or_else(|| report_role(&s.kind)) else {
            unknown_roles += 1;
            continue;
        };
        let kind = if s.kind.is_empty() { s.role.clone() } else { s.kind.clone() };
        let tokens = if s.usage_lines.total() > 0 { s.usage_lines } else { s.end_usage.unwrap_or_default() };
        let turns = s.turns_ended.unwrap_or(s.assistant_turns);
        *runs_by_role.entry(role.to_string()).or_default() += 1;
        *runs_by_kind.entry(kind.clone()).or_default() += 1;
        if let (Some(a), Some(b)) = (s.start, s.end) {
            role_spans.entry(role).or_default().push((a, b));
        }
        usage.record(&s.id, role, s.model.as_deref(), tokens);
        turns_by_role.entry(role).or_default().push(turns);
        let outcome = outcome(s.status.as_deref(), s.success_state.as_deref());
        *runs_by_outcome.entry(outcome.to_string()).or_default() += 1;
        session_reports.push(SessionReport {
            session_id: s.id.clone(),
            role: role.to_string(),
            kind,
            model: s.model.clone(),
            milestone: s.milestone.clone(),
            feature_id: s.feature_id.clone(),
            round: s.round,
            start: s.start.map_or(0.0, rel),
            end: s.end.map_or(0.0, rel),
            turns,
            status: s.status.clone().unwrap_or_else(|| "running".into()),
            outcome: outcome.into(),
            tokens,
        });
    }
    if unknown_roles > 0 {
        notes.push(format!("{unknown_roles} transcript session(s) with an unknown role were left out"));
    }
    // A call that costs nothing was not reported (some OpenAI-compatible servers send no
    // usage): said, so 0 tokens and $0.00 are not taken for the truth.
    let mut unreported: BTreeMap<(String, String), u32> = BTreeMap::new();
    for s in sessions.iter().filter(|s| s.unreported_calls > 0) {
        let model = s.model.clone().unwrap_or_else(|| "an unknown model".into());
        *unreported.entry((model, s.role.clone())).or_default() += s.unreported_calls;
    }
    for ((model, role), calls) in unreported {
        let (calls, their) =
            if calls == 1 { ("1 model call".to_string(), "its") } else { (format!("{calls} model calls"), "their") };
        notes.push(format!("{calls} of {model} ({role}) reported no usage; {their} tokens and cost are not counted"));
    }
    // Usage the agent estimated is counted, and said to be an estimate.
    let mut estimated: BTreeMap<(String, String), u32> = BTreeMap::new();
    for s in sessions.iter().filter(|s| s.estimated_calls > 0) {
        let model = s.model.clone().unwrap_or_else(|| "an unknown model".into());
        *estimated.entry((model, s.role.clone())).or_default() += s.estimated_calls;
    }
    for ((model, role), calls) in estimated {
        let calls = if calls == 1 { "1 model call".to_string() } else { format!("{calls} model calls") };
        notes.push(format!("{calls} of {model} ({role}): usage not reported by the server; estimated (4 bytes a token) and counted in the tokens and cost"));
    }
    let by_role_seconds: BTreeMap<String, f64> =
        ROLES.iter().map(|r| (r.to_string(), union_length(role_spans.remove(r).unwrap_or_default()))).collect();
    let role_seconds_total = sum_f64(by_role_seconds.values().copied());

    // Milestones, in plan order (as the run recorded it, else the queue's), then any the log
    // names that the plan lost.
    let recorded = input.state.as_ref().map(|s| s.milestones.clone()).unwrap_or_default();
    let mut milestones: Vec<String> = if recorded.is_empty() {
        input.features.as_ref().map(|f| f.milestones().into_iter().map(str::to_string).collect()).unwrap_or_default()
    } else {
        recorded
    };
    let learn = |m: &str, list: &mut Vec<String>| {
        if !m.is_empty() && !list.iter().any(|x| x == m) {
            list.push(m.to_string());
        }
    };
    for e in &input.events {
        if let Some(m) = e.fields.get("milestone").and_then(|v| v.as_str()) {
            learn(m, &mut milestones);
        }
    }
    for r in &input.rounds {
        learn(&r.milestone, &mut milestones);
    }
    let milestone_of_feature =
        |id: &str| input.features.as_ref().and_then(|f| f.feature(id)).and_then(|f| f.milestone()).map(str::to_string);
    let is_validator = |id: &str| {
        input
            .features
            .as_ref()
            .and_then(|f| f.feature(id))
            .map_or(id.starts_with("scrutiny-validator-") || id.starts_with("user-testing-validator-"), |f| {
                f.is_validator()
            })
    };

    // The waterfall: implementation and validation phases of each milestone from the progress log.
    let mut spans: BTreeMap<String, Vec<Span>> = BTreeMap::new();
    let mut open: BTreeMap<String, (&'static str, f64)> = BTreeMap::new();
    let close = |open: &mut BTreeMap<String, (&'static str, f64)>,
                 spans: &mut BTreeMap<String, Vec<Span>>,
                 m: &str,
                 at: f64| {
        if let Some((phase, start)) = open.remove(m) {
            spans.entry(m.to_string()).or_default().push(Span {
                phase: phase.into(),
                start: rel(start),
                end: rel(at.max(start)),
            });
        }
    };
    let mut last_event = origin;
    for e in &input.events {
        let Some(t) = unix_seconds(&e.timestamp) else { continue };
        last_event = last_event.max(t);
        let feature = e.str("featureId");
        let m = e
            .str("milestone")
            .map(str::to_string)
            .or_else(|| feature.and_then(milestone_of_feature))
            .unwrap_or_default();
        let phase_now = open.get(&m).map(|(p, _)| *p);
        let started_phase = match e.kind.as_str() {
            "worker_started" if feature.is_some_and(is_validator) => Some("validation"),
            "worker_started" | "milestone_started" | "fix_features_added" => Some("implementation"),
            _ => None,
        };
        match e.kind.as_str() {
            _ if started_phase.is_some() && !m.is_empty() && phase_now != started_phase => {
                close(&mut open, &mut spans, &m, t);
                open.insert(m, (started_phase.unwrap_or("implementation"), t));
            }
            "validation_round" if !m.is_empty() => {
                close(&mut open, &mut spans, &m, t);
                if e.fields.get("passed").and_then(|v| v.as_bool()) == Some(false) {
                    // The orchestrator writes fix features, then workers implement them.
                    open.insert(m, ("implementation", t));
                }
            }
            "milestone_passed" if !m.is_empty() => close(&mut open, &mut spans, &m, t),
            "mission_paused" | "mission_completed" => {
                let all: Vec<String> = open.keys().cloned().collect();
                for m in all {
                    close(&mut open, &mut spans, &m, t);
                }
            }
            _ => {}
        }
    }
    let still_open: Vec<String> = open.keys().cloned().collect();
    for m in still_open {
        close(&mut open, &mut spans, &m, last_event.max(if t1.is_finite() { t1 } else { origin }));
    }
    let halts: Vec<HaltMark> = input
        .events
        .iter()
        .filter(|e| e.kind == "mission_paused" && e.fields.get("halted").and_then(|v| v.as_bool()) == Some(true))
        .filter_map(|e| {
            Some(HaltMark {
                at: rel(unix_seconds(&e.timestamp)?),
                reason: e.str("reason").unwrap_or_default().to_string(),
            })
        })
        .collect();
    let milestone_times: Vec<MilestoneTime> = milestones
        .iter()
        .map(|m| {
            let s = spans.remove(m).unwrap_or_default();
            let sum = |phase: &str| sum_f64(s.iter().filter(|x| x.phase == phase).map(|x| x.end - x.start));
            MilestoneTime {
                name: m.clone(),
                implementation_seconds: sum("implementation"),
                validation_seconds: sum("validation"),
                spans: s,
            }
        })
        .collect();

    // Cost.
    let cost = super::cost::cost(&usage.by_role_model, &input.prices).map(|mut c| {
        for role in ROLES {
            c.by_role.entry(role.to_string()).or_insert(0.0);
        }
        c.partial_roles.sort_by_key(|r| ROLES.iter().position(|x| x == r));
        c
    });

    // Code.
    let code = match &input.diff {
        DiffInput::Files { base, head, files } => {
            let (mut added, mut deleted, mut test_lines, mut test_files) = (0, 0, 0, 0);
            let declared = |path: &str| input.declared_tests.contains(path.trim_start_matches("./"));
            for f in files {
                added += f.added.unwrap_or(0);
                deleted += f.deleted.unwrap_or(0);
                if declared(&f.path) || is_test_path(&f.path) {
                    test_lines += f.added.unwrap_or(0);
                    test_files += 1;
                }
            }
            CodeReport {
                base: Some(base.clone()),
                head: Some(head.clone()),
                files: files.len(),
                test_files,
                added,
                deleted,
                source_lines: added - test_lines,
                test_lines,
                test_share: if added == 0 { 0.0 } else { test_lines as f64 / added as f64 },
                unavailable: None,
            }
        }
        DiffInput::Unavailable(why) => CodeReport {
            base: None,
            head: None,
            files: 0,
            test_files: 0,
            added: 0,
            deleted: 0,
            source_lines: 0,
            test_lines: 0,
            test_share: 0.0,
            unavailable: Some(why.clone()),
        },
    };

    // Features.
    // Fix features: those an orchestrator added after a failed round (`fix_features_added`);
    // droid logs no such event, so there a `fix-` id is read as one.
    let fix_ids: BTreeSet<&str> = input
        .events
        .iter()
        .filter(|e| e.kind == "fix_features_added")
        .flat_map(|e| {
            e.fields.get("featureIds").and_then(|v| v.as_array()).into_iter().flatten().filter_map(|v| v.as_str())
        })
        .collect();
    let is_fix =
        |id: &str| fix_ids.contains(id) || (fix_ids.is_empty() && (id.starts_with("fix-") || id.starts_with("fix_")));
    let mut features = FeaturesReport {
        total: 0,
        implementation: 0,
        fix: 0,
        validators: 0,
        fix_ratio: 0.0,
        by_status: BTreeMap::new(),
    };
    if let Some(f) = &input.features {
        for feat in &f.features {
            if feat.is_validator() {
                features.validators += 1;
                continue;
            }
            features.total += 1;
            if feat.id().is_some_and(is_fix) {
                features.fix += 1;
            } else {
                features.implementation += 1;
            }
            *features.by_status.entry(feat.status().unwrap_or("(none)").to_string()).or_default() += 1;
        }
        if features.total > 0 {
            features.fix_ratio = features.fix as f64 / features.total as f64;
        }
    }

    // Issues: each round's blocking findings (a scrutiny round's blocking issues, a user-testing
    // round's failed and blocked assertions), and the latest reviews' other findings.
    let mut by_severity: BTreeMap<String, usize> =
        ["blocking", "non_blocking", "suggestion"].iter().map(|s| (s.to_string(), 0)).collect();
    let mut total_issues = 0;
    for r in &input.rounds {
        total_issues += r.blocking;
        *by_severity.entry("blocking".into()).or_default() += r.blocking;
    }
    for m in &input.validation.milestones {
        for review in &m.reviews {
            for issue in review.code_review.issues.iter().filter(|i| i.severity != "blocking") {
                total_issues += 1;
                let sev = match issue.severity.as_str() {
                    "" => "unspecified",
                    "non-blocking" => "non_blocking",
                    other => other,
                };
                *by_severity.entry(sev.to_string()).or_default() += 1;
            }
        }
    }

    // Turns.
    let turns = ROLES
        .iter()
        .map(|r| {
            let mut v = turns_by_role.remove(r).unwrap_or_default();
            v.sort_unstable();
            (
                r.to_string(),
                TurnStats {
                    sessions: v.len(),
                    median: percentile(&v, 0.5),
                    p90: percentile(&v, 0.9),
                    max: v.last().copied().unwrap_or(0),
                },
            )
        })
        .collect();

    // Validation rounds per milestone and when each passed.
    let mut rounds_of: BTreeMap<&str, u32> = BTreeMap::new();
    for r in &input.rounds {
        let e = rounds_of.entry(r.milestone.as_str()).or_default();
        *e = (*e).max(r.round);
    }
    let mut passed_in: BTreeMap<String, u32> = BTreeMap::new();
    // Without the runner's own events (a folder droid ran), a milestone passed in the round of
    // its last synthesis when every validator's last round passed.
    let logged_rounds = input.events.iter().any(|e| e.kind == "validation_round");
    if !logged_rounds {
        for (m, &round) in &rounds_of {
            let last: Vec<&RoundRecord> = ["scrutiny", "user-testing"]
                .iter()
                .filter_map(|v| {
                    input.rounds.iter().filter(|r| r.milestone == *m && r.validator == *v).max_by_key(|r| r.round)
                })
                .collect();
            if last.len() == 2 && last.iter().all(|r| r.passed) {
                passed_in.insert(m.to_string(), round);
            }
        }
    }
    for e in &input.events {
        let m = e.fields.get("milestone").and_then(|v| v.as_str());
        let round = e.fields.get("round").and_then(|v| v.as_u64()).map(|r| r as u32);
        match (e.kind.as_str(), m, round) {
            ("validation_round", Some(m), Some(r)) => {
                let x = rounds_of.entry(m).or_default();
                *x = (*x).max(r);
                if e.fields.get("passed").and_then(|v| v.as_bool()) == Some(true) {
                    passed_in.entry(m.to_string()).or_insert(r);
                }
            }
            ("milestone_passed", Some(m), Some(r)) => {
                passed_in.entry(m.to_string()).or_insert(r);
            }
            _ => {}
        }
    }
    let milestone_rounds: Vec<MilestoneRounds> = milestones
        .iter()
        .map(|m| MilestoneRounds {
            name: m.clone(),
            rounds: rounds_of.get(m.as_str()).copied().unwrap_or(0),
            passed_in_round: passed_in.get(m).copied(),
        })
        .collect();
    let max_round = milestone_rounds.iter().map(|m| m.rounds).max().unwrap_or(0);
    let cumulative_passes = (1..=max_round)
        .map(|r| RoundPasses {
            round: r,
            passed: milestone_rounds.iter().filter(|m| m.passed_in_round.is_some_and(|p| p <= r)).count(),
            milestones: milestone_rounds.len(),
        })
        .collect();

    let state = input.state.clone().unwrap_or_default();
    MissionReport {
        mission: MissionInfo {
            id: state.mission_id.clone(),
            title: input.title.clone().unwrap_or_default(),
            status: if input.state.is_some() { state.status().as_str().to_string() } else { "unknown".into() },
            halt_reason: state.halt_reason.clone(),
            created_at: (!state.created_at.is_empty()).then(|| state.created_at.clone()),
            updated_at: (!state.updated_at.is_empty()).then(|| state.updated_at.clone()),
        },
        time: TimeReport {
            start: if have_time { stamp(t0) } else { None },
            end: if have_time { stamp(t1) } else { None },
            wall_seconds: if have_time { t1 - t0 } else { 0.0 },
            by_role_seconds,
            role_seconds_total,
            milestones: milestone_times,
            halts,
        },
        runs: RunsReport {
            total: session_reports.len(),
            by_role: runs_by_role,
            by_kind: runs_by_kind,
            by_outcome: runs_by_outcome,
            sessions: session_reports,
        },
        tokens: TokensReport {
            total: usage.mission.total(),
            by_type: usage.mission,
            by_role: ROLES.iter().map(|r| (r.to_string(), usage.role(r))).collect(),
            recorded: tokens_recorded,
        },
        cost,
        code,
        features,
        issues: IssuesReport { total: total_issues, by_severity },
        turns,
        validation: ValidationReport {
            milestones: milestone_rounds,
            stale_assertions: input.stale.clone(),
            cumulative_passes,
        },
        notes,
    }
}

/// A sum that is `0.0`, never `-0.0`, when empty (`Iterator::sum` of f64 starts at `-0.0`)
/// or when every term is zero.
fn sum_f64(values: impl Iterator<Item = f64>) -> f64 {
    tables::no_negative_zero(values.fold(0.0, |a, b| a + b))
}

#[cfg(test)]
mod tests {
    use super::tables::percent;
    use super::*;
    use crate::analysis::cost::usd;

    #[test]
    fn test_paths_are_recognised() {
        for p in [
            "tests/a.rs",
            "src/tests/x.py",
            "test_calc.sh",
            "lib/foo_test.go",
            "ui/a.test.ts",
            "ui/a.spec.js",
            "spec/models/user_spec.rb",
        ] {
            assert!(is_test_path(p), "{p}");
        }
        for p in ["src/main.rs", "contest.rs", "docs/testing.md", "latest_news.txt"] {
            assert!(!is_test_path(p), "{p}");
        }
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        assert_eq!(percentile(&[], 0.5), 0);
        assert_eq!(percentile(&[7], 0.9), 7);
        let v: Vec<u32> = (1..=10).collect();
        assert_eq!((percentile(&v, 0.5), percentile(&v, 0.9)), (5, 9));
    }

    #[test]
    fn a_session_start_is_recognised_by_its_kind_or_a_session_kind_field() {
        let line = |json: &str| serde_json::from_str::<TranscriptLine>(json).unwrap();
        let lines = [
            line(
                r#"{"ts":"2026-01-01T00:00:00Z","sessionId":"a","role":"validator","kind":"scrutiny","milestone":"m","model":"x"}"#,
            ),
            line(
                r#"{"ts":"2026-01-01T00:00:00Z","sessionId":"b","role":"validator","kind":"session_start","sessionKind":"user-testing"}"#,
            ),
            line(r#"{"ts":"2026-01-01T00:01:00Z","sessionId":"b","role":"validator","kind":"assistant_turn"}"#),
            line(
                r#"{"ts":"2026-01-01T00:02:00Z","sessionId":"b","role":"validator","kind":"session_end","status":"completed"}"#,
            ),
        ];
        let s = sessions_of(&lines);
        assert_eq!(
            (s[0].kind.as_str(), s[0].milestone.as_deref(), s[0].model.as_deref()),
            ("scrutiny", Some("m"), Some("x"))
        );
        assert_eq!(
            (s[1].kind.as_str(), s[1].assistant_turns, s[1].status.as_deref()),
            ("user-testing", 1, Some("completed"))
        );
        let input = ReportInput { transcript: lines.to_vec(), ..Default::default() };
        let r = compute(&input);
        assert_eq!(r.runs.by_kind.get("user-testing"), Some(&1));
        assert_eq!(r.time.by_role_seconds["validation"], 120.0);
        assert_eq!(r.turns["validation"].max, 1, "turns counted from assistant_turn lines without a session_end count");
    }

    #[test]
    fn parallel_sessions_count_once() {
        assert_eq!(union_length(vec![(0.0, 10.0), (5.0, 15.0), (20.0, 21.0)]), 16.0);
    }

    #[test]
    fn numstat_lines_parse_and_binary_files_have_no_counts() {
        let v = parse_numstat("3\t1\tsrc/a.rs\n-\t-\timg.png\ngarbage\n");
        assert_eq!(
            v,
            vec![
                NumstatEntry { path: "src/a.rs".into(), added: Some(3), deleted: Some(1) },
                NumstatEntry { path: "img.png".into(), added: None, deleted: None }
            ]
        );
    }

    #[test]
    fn a_milestone_that_has_not_started_reports_zero_not_negative_zero() {
        let features = crate::model::features::parse(
            r#"{"features":[{"id":"a","description":"d","milestone":"core","status":"completed"},{"id":"b","description":"d","milestone":"analytics","status":"pending"}]}"#,
        );
        let ev = |ts: &str, kind: &str, m: &str| ProgressEvent {
            timestamp: ts.into(),
            kind: kind.into(),
            fields: serde_json::json!({"milestone": m}).as_object().unwrap().clone(),
        };
        let input = ReportInput {
            features: Some(features),
            events: vec![
                ev("2026-01-01T00:00:00Z", "milestone_started", "core"),
                ev("2026-01-01T00:10:00Z", "milestone_passed", "core"),
            ],
            ..Default::default()
        };
        let r = compute(&input);
        let analytics =
            r.time.milestones.iter().find(|m| m.name == "analytics").expect("the plan's milestone is listed");
        assert!(analytics.implementation_seconds.is_sign_positive() && analytics.validation_seconds.is_sign_positive());
        assert!(r.time.role_seconds_total.is_sign_positive());
        let (text, json) = (render_text(&r), render_json(&r));
        assert!(!text.contains("-0.0") && !json.contains("-0.0"), "{text}\n{json}");
        assert_eq!(
            (duration(-0.0), percent(-0.0, 5.0), usd(-0.0)),
            ("0.0 s".to_string(), "0.0%".to_string(), "$0.00".to_string())
        );
    }

    #[test]
    fn an_empty_mission_reports_zeros_and_renders() {
        let r = compute(&ReportInput::default());
        assert_eq!((r.runs.total, r.tokens.total, r.features.total, r.time.wall_seconds), (0, 0, 0, 0.0));
        assert!(r.cost.is_none() && r.code.unavailable.is_some());
        assert!(render_text(&r).contains("Runtime by role"));
        assert!(render_html(&r).ends_with("</html>\n"));
    }
}
