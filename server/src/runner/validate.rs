//! Validation of a milestone, as droid's injected validators do it. When every feature of a
//! milestone is done, `trigger` puts `scrutiny-validator-<m>` and `user-testing-validator-<m>`
//! at the top of the queue (`milestone_validation_triggered`). A round then runs the
//! milestone's pending validators in queue order, each as a worker run of its own (droid's
//! worker events, a handoff file, a transcript line): the scrutiny validator reviews each
//! feature (`validation/<m>/scrutiny/reviews/<feature>.json`, `synthesis.json`) after the
//! runner ran services.yaml's test, typecheck and lint; the user-testing validator tests
//! every assertion as a black box, with a browser and terminals that record what they see,
//! against services.yaml's services the runner started, after the runner's own `Check:`
//! commands, which are ground truth; each claimed pass is checked against its evidence
//! (`flows/round-<n>.json`, `synthesis.json`, and validation-state.json). A service that does
//! not come up blocks the round. A validator that succeeded is `completed`; one that failed goes
//! back to `pending` for the fixes. Each round's syntheses are also kept as
//! `synthesis-round-<n>.json`; droid's own `synthesis.json` holds the latest.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::agents::SessionCall;
use super::commands::{run_review_commands, CommandResult};
use super::context::{self, ValidatorContext};
use super::evidence::SessionEvidence;
use super::handoffs;
use super::progress::{ToolFeed, Update};
use super::queue::{self, Queue};
use super::run::{Ctx, Halt, Step};
use super::schedule;
use super::services::{self, stop_leftovers, RunningServices, ServiceFailure, ServiceLimits, SERVICE_LOGS_DIR};
use super::state::ActiveRound;
use super::worker::{self, completed_event};
use crate::agent::final_tool::{FinalDecision, FinalToolHandler};
use crate::agent::session::{SessionEnd, SessionOutcome};
use crate::agent::tools::bash::{kill_group, run_script};
use crate::agent::tools::terminal::EvidenceDir;
use crate::agent::tools::{CommandSettings, Roots, WritePolicy};
use crate::agent::transcript::new_session_id;
use crate::agent::SessionKind;
use crate::model::evidence::Recorded;
use crate::model::features::ValidatorKind;
use crate::model::folder::{
    self, ValidationRecords, CONTRACT_FILE, EVIDENCE_DIR, VALIDATION_DIR, VALIDATION_STATE_FILE,
};
use crate::model::persist::{write_atomic, write_json_atomic};
use crate::model::progress_log::{AssertionCounts, Event, StaleAssertion, WorkerStarted};
use crate::model::records::{
    self, AssertionState, AssertionsSummary, BlockedAssertion, BlockingIssue, CodeReview, FailedAssertion, Flow,
    FlowAssertion, FlowStep, Handoff, HandoffFile, MissionStatus, Review, ReviewIssue, ReviewsSummary,
    ScrutinySynthesis, UserTestingSynthesis, ValidationState, ValidatorRun,
};
use crate::model::services::{self as services_model, ServicesFile, REVIEW_COMMANDS, SERVICES_FILE};
use crate::model::timestamp::now_rfc3339;
use crate::model::{contract, Feature};

/// A validator session that ends without an accepted report is tried once more.
const VALIDATOR_ATTEMPTS: u32 = 2;

pub fn load_records(mission: &Path) -> ValidationRecords {
    folder::read_validation(mission).0
}

/// `validation/<m>/<scrutiny|user-testing>/`.
pub fn report_dir(mission: &Path, milestone: &str, kind: ValidatorKind) -> PathBuf {
    mission.join(VALIDATION_DIR).join(folder::path_segment(milestone)).join(kind.folder())
}

/// Every assertion of the contract in validation-state.json, `pending` where nothing is known
/// yet, as droid's planner writes it before the run; entries already there stay.
pub fn ensure_state(mission: &Path) -> Result<(), String> {
    let contract_text = folder::read_text(&mission.join(CONTRACT_FILE)).map_err(|e| format!("{CONTRACT_FILE}: {e}"))?;
    let contract = contract::parse(&contract_text);
    let path = mission.join(VALIDATION_STATE_FILE);
    let mut state = match folder::read_optional(&path) {
        Ok(Some(text)) => match records::load::<ValidationState>(&text).value {
            Some(s) => s,
            // A broken file is the person's to fix; it is never rewritten.
            None => {
                return Err(format!(
                    "{VALIDATION_STATE_FILE} does not read as JSON; fix it, then run the mission again"
                ))
            }
        },
        Ok(None) => ValidationState::default(),
        Err(e) => return Err(format!("{VALIDATION_STATE_FILE}: {e}")),
    };
    let before = state.assertions.len();
    for a in &contract.assertions {
        state
            .assertions
            .entry(a.id.value.clone())
            .or_insert_with(|| AssertionState { status: "pending".into(), ..Default::default() });
    }
    if state.assertions.len() != before || !path.exists() {
        write_json_atomic(&path, &state).map_err(|e| format!("cannot write {VALIDATION_STATE_FILE}: {e}"))?;
    }
    Ok(())
}

/// Injects the milestone's validators at the top of the queue, as droid does once every
/// feature of it is done.
pub fn trigger(ctx: &mut Ctx, milestone: &str) -> Result<Step, String> {
    let validators: Vec<Value> =
        ValidatorKind::ALL.iter().map(|&k| schedule::validator_feature(k, milestone)).collect();
    let queue = Queue::load(&ctx.mission)?;
    let missing: Vec<Value> =
        validators.into_iter().filter(|v| queue.feature(v["id"].as_str().unwrap_or_default()).is_none()).collect();
    queue::insert_at_top(&ctx.mission, &missing)?;
    ctx.log(Event::MilestoneValidationTriggered {
        milestone: milestone.to_string(),
        feature_id: ValidatorKind::Scrutiny.feature_id(milestone),
    })?;
    Ok(Step::Continue)
}

/// What a validator's session produced.
enum Verdict {
    Passed,
    Failed,
}

/// Runs a round: the milestone's pending validators in queue order, then the verdict.
pub async fn validate(ctx: &mut Ctx, milestone: &str) -> Result<Step, String> {
    let records = load_records(&ctx.mission);
    let round = match ctx.state.active_round().filter(|r| r.milestone == milestone) {
        Some(r) => r,
        None => {
            let latest = records.milestone(milestone).map_or(0, crate::analysis::summary::latest_round);
            let revalidate = stale_elsewhere(ctx, milestone)?;
            ActiveRound { milestone: milestone.to_string(), round: latest + 1, started_at: now_rfc3339(), revalidate }
        }
    };
    ctx.state.set_status(MissionStatus::Validating);
    ctx.state.state.current_milestone = Some(milestone.to_string());
    ctx.state.set_active_round(Some(&round));
    ctx.save_state()?;
    ctx.progress.update(Update::Validating { milestone, round: round.round });
    let queue = Queue::load(&ctx.mission)?;
    let (handoffs_found, _) = folder::read_handoffs(&ctx.mission);
    let validators: Vec<Feature> = queue
        .file
        .features
        .iter()
        .filter(|f| f.milestone() == Some(milestone) && f.is_validator() && !f.is_done())
        .map(|f| (**f).clone())
        .collect();
    for v in validators {
        let id = v.id().unwrap_or_default().to_string();
        let ran = schedule::latest_handoff(&handoffs_found, &id).is_some_and(|h| h.file.timestamp >= round.started_at);
        if ran {
            continue;
        }
        if let Some(reason) = ctx.agents.budget_spent() {
            return Ok(Step::Halt(reason));
        }
        let kind = v.validator().expect("filtered to validators");
        if let Some(stop) = run_validator(ctx, &v, kind, &round).await? {
            return Ok(stop);
        }
    }
    finish_round(ctx, &round)
}

/// Runs one validator feature until it reports (one retry for a session that ends without
/// an accepted report); `Some(step)` when the run must stop.
async fn run_validator(
    ctx: &mut Ctx,
    feature: &Feature,
    kind: ValidatorKind,
    round: &ActiveRound,
) -> Result<Option<Step>, String> {
    let id = feature.id().unwrap_or_default();
    let milestone = round.milestone.as_str();
    let mut last_reason = String::new();
    let mut sessions = 0;
    for attempt in 1..=VALIDATOR_ATTEMPTS {
        sessions = attempt;
        let session_id = new_session_id();
        ctx.log(worker::selected_event(&session_id, id))?;
        let current = Queue::load(&ctx.mission)?.feature(id).cloned().unwrap_or_else(|| feature.clone());
        queue::start_session(&ctx.mission, &current, &session_id)?;
        let model = ctx.agents.config.role(crate::config::AgentRole::Validator).ok().and_then(|r| r.model.clone());
        ctx.log(Event::WorkerStarted(WorkerStarted {
            worker_session_id: session_id.clone(),
            spawn_id: handoffs::spawn_id(),
            feature_id: id.to_string(),
            model_id: model,
            substituted_from_model_id: None,
            milestone: Some(milestone.to_string()),
            round: Some(round.round),
            attempt: Some(attempt),
            base_commit: None,
            worktree_branch: None,
        }))?;
        let ran = match kind {
            ValidatorKind::Scrutiny => scrutiny_session(ctx, milestone, round.round, &session_id).await?,
            ValidatorKind::UserTesting => user_testing_session(ctx, milestone, round.round, &session_id).await?,
        };
        let (outcome, before) = match ran {
            Ran::Session(outcome, before) => (outcome, before),
            Ran::Cancelled => {
                ctx.log(worker::paused_event(&session_id, id))?;
                queue::back_to_pending(&ctx.mission, id)?;
                return Ok(Some(Step::Pause));
            }
            Ran::ServicesDown(failure) => {
                // No session ran: the round's assertions are blocked by the service, as droid
                // records it, and the validator failed.
                let handoff = record_services_down(ctx, milestone, round.round, &session_id, &failure)?;
                handoffs::write(&ctx.mission, &handoff)?;
                ctx.log(completed_event(&handoff, false))?;
                queue::back_to_pending(&ctx.mission, id)?;
                return Ok(None);
            }
        };
        handoffs::append_transcript(&ctx.mission, &session_id, id, Some(milestone), &outcome.skeleton)?;
        match outcome.end {
            SessionEnd::Finished(ref report) => {
                let (verdict, handoff) = match kind {
                    ValidatorKind::Scrutiny => {
                        record_scrutiny(ctx, milestone, round.round, &session_id, report, &before.commands)?
                    }
                    ValidatorKind::UserTesting => record_user_testing(
                        ctx,
                        milestone,
                        round.round,
                        &session_id,
                        report,
                        &before,
                        &outcome.recorded,
                    )?,
                };
                handoffs::write(&ctx.mission, &handoff)?;
                ctx.log(completed_event(&handoff, matches!(verdict, Verdict::Passed)))?;
                match verdict {
                    Verdict::Passed => queue::complete(&ctx.mission, id, &session_id)?,
                    Verdict::Failed => queue::back_to_pending(&ctx.mission, id)?,
                }
                return Ok(None);
            }
            SessionEnd::Cancelled => {
                ctx.log(worker::paused_event(&session_id, id))?;
                queue::back_to_pending(&ctx.mission, id)?;
                return Ok(Some(Step::Pause));
            }
            ref end => {
                last_reason = end.reason();
                ctx.log(worker::no_handoff_event(&session_id, id, &last_reason))?;
                queue::back_to_pending(&ctx.mission, id)?;
                // The provider retried until its deadline already; the budget is spent: a
                // fresh session would end the same way.
                if matches!(
                    end,
                    SessionEnd::TokenBudget { .. } | SessionEnd::CostBudget { .. } | SessionEnd::ProviderFailed(_)
                ) {
                    break;
                }
                ctx.progress.update(Update::Note(&format!(
                    "{id}: the validator session ended without a report ({last_reason}); starting a fresh one"
                )));
            }
        }
    }
    // No review happened: the milestone cannot pass on `Check:` results alone.
    let times = if sessions == 1 { "in its session".to_string() } else { format!("in {sessions} sessions") };
    let reason = format!(
        "validator {id} of milestone {milestone} gave no report {times}; no review happened (last: {last_reason})"
    );
    Ok(Some(Step::HaltWith(Halt { reason, retry_limit: true, feature: Some(id.to_string()) })))
}

/// What a validator's turn came to (made and taken apart once per session: its size does
/// not matter).
#[allow(clippy::large_enum_variant)]
enum Ran {
    /// Its session ran (whatever ended it), after what the runner ran first.
    Session(SessionOutcome, BeforeSession),
    /// A service of services.yaml did not come up; no session ran.
    ServicesDown(ServiceFailure),
    Cancelled,
}

/// What the runner itself ran before a validator's session: ground truth over its word.
#[derive(Default)]
struct BeforeSession {
    /// The assertions' `Check:` commands (user testing).
    checks: Vec<CheckResult>,
    /// services.yaml's test, typecheck and lint (scrutiny).
    commands: Vec<CommandResult>,
    /// The user-testing session's evidence group (`round-<n>`).
    group: String,
}

/// The folder a round's user-testing session keeps its evidence in, under
/// `evidence/<milestone>/`: one per round, so earlier rounds' evidence stays.
pub fn evidence_group(round: u32) -> String {
    format!("round-{round}")
}

/// Runs services.yaml's test, typecheck and lint (their output is kept as evidence under
/// `evidence/<m>/scrutiny/`), then the scrutiny session with their results.
async fn scrutiny_session(ctx: &mut Ctx, milestone: &str, round: u32, session_id: &str) -> Result<Ran, String> {
    let commands = match read_services(&ctx.mission) {
        Ok(file) => match review_commands(ctx, milestone, round, &file).await {
            Some(c) => c,
            None => return Ok(Ran::Cancelled),
        },
        // The review says so; the project's commands cannot be known.
        Err(e) => {
            ctx.progress.update(Update::Note(&format!("the scrutiny review runs without the project's commands: {e}")));
            Vec::new()
        }
    };
    let queue = Queue::load(&ctx.mission)?;
    let work: Vec<(String, Vec<String>)> = queue
        .file
        .features
        .iter()
        .filter(|f| f.milestone() == Some(milestone) && !f.is_validator() && f.is_completed())
        .filter_map(|f| Some((f.id()?.to_string(), f.claims().iter().map(|c| c.value.clone()).collect())))
        .collect();
    let (found, _) = folder::read_handoffs(&ctx.mission);
    let handoff_paths: Vec<(String, String)> =
        work.iter().filter_map(|(f, _)| Some((f.clone(), schedule::latest_handoff(&found, f)?.path.clone()))).collect();
    let texts = assertion_texts(&ctx.mission, &queue, milestone, &revalidated(ctx))?;
    let base = ctx.state.milestone_base(milestone);
    let c = ValidatorContext {
        mission_dir: &ctx.mission,
        milestone,
        round,
        assertions: &texts,
        checks: &[],
        features: &work,
        handoffs: &handoff_paths,
        base_commit: base.as_deref(),
        evidence_group: None,
        services: &[],
        commands: &commands,
    };
    let task = context::scrutiny_task(&c);
    let mut handler =
        OnlyThese { field: "reviews", key: "featureId", ids: work.into_iter().map(|(id, _)| id).collect() };
    let details =
        json!({"milestone": milestone, "round": round, "featureId": ValidatorKind::Scrutiny.feature_id(milestone)});
    let outcome = ctx
        .agents
        .run(
            SessionCall { kind: SessionKind::ScrutinyValidator, session_id, task, shared_context: None, details },
            &mut handler,
            &ctx.cancel,
            &mut ToolFeed { progress: &mut *ctx.progress },
        )
        .await;
    Ok(Ran::Session(outcome, BeforeSession { commands, ..Default::default() }))
}

/// services.yaml of the mission, read (an empty file when there is none).
fn read_services(mission: &Path) -> Result<ServicesFile, String> {
    match folder::read_optional(&mission.join(SERVICES_FILE)) {
        Ok(Some(text)) => services_model::parse(&text),
        Ok(None) => Ok(ServicesFile::default()),
        Err(e) => Err(format!("{SERVICES_FILE}: {e}")),
    }
}

/// services.yaml's test, typecheck and lint, each bounded by the mission's command timeout,
/// their output kept as `evidence/<m>/scrutiny/round-<n>-<name>.txt`. `None` when cancelled.
async fn review_commands(
    ctx: &mut Ctx,
    milestone: &str,
    round: u32,
    file: &ServicesFile,
) -> Option<Vec<CommandResult>> {
    if !REVIEW_COMMANDS.iter().any(|n| file.command(n).is_some_and(|c| !c.trim().is_empty())) {
        return Some(Vec::new());
    }
    let roots = match Roots::new(&ctx.repo, &ctx.mission) {
        Ok(r) => r,
        Err(e) => {
            ctx.progress.update(Update::Note(&format!("cannot run the project's commands for the review: {e}")));
            return Some(Vec::new());
        }
    };
    let config = &ctx.agents.config;
    let settings =
        CommandSettings::from_config(config, WritePolicy::EvidenceOnly).with_git_identity_if_missing(&ctx.repo);
    let timeout = Duration::from_secs(config.limits.command_timeout_s);
    let logs = ctx
        .mission
        .join("tool-output")
        .join("review-commands")
        .join(format!("{}-round-{round}", folder::path_segment(milestone)));
    ctx.progress.update(Update::Note(&format!(
        "running the project's {} for the scrutiny review",
        REVIEW_COMMANDS.iter().filter(|n| file.command(n).is_some()).copied().collect::<Vec<_>>().join(", ")
    )));
    let results = match run_review_commands(&roots, &settings, file, timeout, &logs, &ctx.cancel).await {
        Ok(r) => r,
        Err(_) if ctx.cancel.is_cancelled() => return None,
        Err(e) => {
            ctx.progress.update(Update::Note(&format!("the project's commands could not run: {e}")));
            return Some(Vec::new());
        }
    };
    if ctx.cancel.is_cancelled() {
        return None;
    }
    let dir = ctx.mission.join(EVIDENCE_DIR).join(folder::path_segment(milestone)).join("scrutiny");
    let _ = std::fs::create_dir_all(&dir);
    for r in &results {
        let _ = write_atomic(
            &dir.join(format!("round-{round}-{}.txt", r.name)),
            format!(
                "$ {}\nexit code: {}{}\n{}",
                r.command,
                r.exit_code,
                if r.timed_out { " (timed out; the process group was killed)" } else { "" },
                r.output
            )
            .as_bytes(),
        );
        ctx.progress.update(Update::Tool {
            name: "check",
            summary: format!(
                "{}: {}",
                r.name,
                if r.passed { "pass".to_string() } else { format!("fail (exit {})", r.exit_code) }
            ),
        });
    }
    Some(results)
}

/// Starts services.yaml's services (a killed run's leftovers stopped first), runs the
/// `Check:` commands, then the user-testing session with its browser and terminals keeping
/// their evidence in `evidence/<m>/round-<n>/`; the services are stopped afterwards whatever
/// happened.
async fn user_testing_session(ctx: &mut Ctx, milestone: &str, round: u32, session_id: &str) -> Result<Ran, String> {
    let mission = ctx.mission.clone();
    let killed = tokio::task::spawn_blocking(move || stop_leftovers(&mission)).await.unwrap_or_default();
    if !killed.is_empty() {
        ctx.progress
            .update(Update::Note(&format!("stopped services a killed run left running: {}", killed.join(", "))));
    }
    let file = match read_services(&ctx.mission) {
        Ok(f) => f,
        Err(reason) => {
            return Ok(Ran::ServicesDown(ServiceFailure {
                service: String::new(),
                reason,
                log: PathBuf::new(),
                log_tail: String::new(),
            }))
        }
    };
    let mut running = None;
    if !file.services.is_empty() {
        ctx.progress.update(Update::Note(&format!(
            "starting services for user testing: {}",
            file.services.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
        )));
        let limits = ServiceLimits {
            healthcheck_timeout: Duration::from_secs(ctx.agents.config.limits.service_start_timeout_s),
            ..ServiceLimits::default()
        };
        let removed = CommandSettings::from_config(&ctx.agents.config, WritePolicy::EvidenceOnly).removed_env;
        match services::start(&ctx.mission, &ctx.repo, &file, &[], &limits, &removed, &ctx.cancel).await {
            Ok(r) => running = Some(r),
            Err(_) if ctx.cancel.is_cancelled() => return Ok(Ran::Cancelled),
            Err(failure) => return Ok(Ran::ServicesDown(failure)),
        }
    }
    let result = user_testing_with_services(ctx, milestone, round, session_id, &file, running.as_ref()).await;
    if let Some(mut running) = running {
        // Stopping waits on processes: off the async threads.
        let notes = tokio::task::spawn_blocking(move || running.stop()).await.unwrap_or_default();
        for note in notes {
            ctx.progress.update(Update::Note(&note));
        }
    }
    result
}

async fn user_testing_with_services(
    ctx: &mut Ctx,
    milestone: &str,
    round: u32,
    session_id: &str,
    file: &ServicesFile,
    running: Option<&RunningServices>,
) -> Result<Ran, String> {
    let queue = Queue::load(&ctx.mission)?;
    let ids = ordered_assertions(&ctx.mission, &queue, milestone, &revalidated(ctx))?;
    let contract = contract::parse(
        &folder::read_text(&ctx.mission.join(CONTRACT_FILE)).map_err(|e| format!("{CONTRACT_FILE}: {e}"))?,
    );
    let checks: Vec<(String, String)> =
        ids.iter().filter_map(|id| Some((id.clone(), contract.assertion(id)?.check.as_ref()?.value.clone()))).collect();
    let Some(check_results) = run_checks(ctx, milestone, round, &checks).await else { return Ok(Ran::Cancelled) };
    let texts = assertion_texts(&ctx.mission, &queue, milestone, &revalidated(ctx))?;
    let group = evidence_group(round);
    let group_path = format!("{}/{group}", folder::path_segment(milestone));
    let started: Vec<(String, Option<u16>, String)> = running
        .map(|r| {
            r.names()
                .iter()
                .map(|n| {
                    (
                        n.to_string(),
                        file.service(n).and_then(|s| s.port),
                        format!(
                            "{SERVICE_LOGS_DIR}/{}",
                            services::log_path(&ctx.mission, n).file_name().unwrap_or_default().to_string_lossy()
                        ),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let c = ValidatorContext {
        mission_dir: &ctx.mission,
        milestone,
        round,
        assertions: &texts,
        checks: &check_results,
        features: &[],
        handoffs: &[],
        base_commit: None,
        evidence_group: Some(&group_path),
        services: &started,
        commands: &[],
    };
    let task = context::user_testing_task(&c);
    let mut handler = OnlyThese { field: "assertions", key: "id", ids };
    let details =
        json!({"milestone": milestone, "round": round, "featureId": ValidatorKind::UserTesting.feature_id(milestone)});
    let root = ctx.mission.join(EVIDENCE_DIR);
    let evidence = EvidenceDir { dir: root.join(&group_path), root };
    let outcome = ctx
        .agents
        .run_recorded(
            evidence,
            SessionCall { kind: SessionKind::UserTestingValidator, session_id, task, shared_context: None, details },
            &mut handler,
            &ctx.cancel,
            &mut ToolFeed { progress: &mut *ctx.progress },
        )
        .await;
    Ok(Ran::Session(outcome, BeforeSession { checks: check_results, group, ..Default::default() }))
}

/// Passed assertions of milestones other than `milestone` that later commits made stale
/// (`analysis::drift`), logged (`assertions_stale`): the round about to start validates them
/// again with its own.
fn stale_elsewhere(ctx: &mut Ctx, milestone: &str) -> Result<Vec<String>, String> {
    let records = load_records(&ctx.mission);
    let Some(history) = super::drift::history(&ctx.mission, &records) else { return Ok(Vec::new()) };
    let queue = Queue::load(&ctx.mission)?;
    let contract = contract::parse(
        &folder::read_text(&ctx.mission.join(CONTRACT_FILE)).map_err(|e| format!("{CONTRACT_FILE}: {e}"))?,
    );
    let own = schedule::milestone_assertions(&queue.file, milestone);
    let stale: Vec<_> =
        crate::analysis::drift::stale_assertions(&history, &contract, &queue.file, records.state.as_ref())
            .into_iter()
            .filter(|s| !own.contains(&s.assertion.as_str()))
            .collect();
    if !stale.is_empty() {
        let assertions = stale
            .iter()
            .map(|s| StaleAssertion {
                id: s.assertion.clone(),
                feature_id: s.feature.clone(),
                commit_id: s.commit.clone(),
                files: s.files.clone(),
                reason: s.describe(),
            })
            .collect();
        ctx.log(Event::AssertionsStale { milestone: milestone.to_string(), assertions })?;
    }
    Ok(stale.into_iter().map(|s| s.assertion).collect())
}

/// The assertions the round in progress validates besides its milestone's own.
fn revalidated(ctx: &Ctx) -> Vec<String> {
    ctx.state.active_round().map(|r| r.revalidate).unwrap_or_default()
}

/// The milestone's assertion ids, then the stale ones `extra` adds, in the contract's order.
fn ordered_assertions(mission: &Path, queue: &Queue, milestone: &str, extra: &[String]) -> Result<Vec<String>, String> {
    let contract =
        contract::parse(&folder::read_text(&mission.join(CONTRACT_FILE)).map_err(|e| format!("{CONTRACT_FILE}: {e}"))?);
    let mut ids: Vec<String> =
        schedule::milestone_assertions(&queue.file, milestone).into_iter().map(str::to_string).collect();
    ids.extend(extra.iter().filter(|id| !ids.contains(id)).cloned().collect::<Vec<_>>());
    ids.sort_by_key(|id| contract.assertions.iter().position(|a| &a.id.value == id).unwrap_or(usize::MAX));
    Ok(ids)
}

fn assertion_texts(mission: &Path, queue: &Queue, milestone: &str, extra: &[String]) -> Result<Vec<String>, String> {
    let text = folder::read_text(&mission.join(CONTRACT_FILE)).map_err(|e| format!("{CONTRACT_FILE}: {e}"))?;
    let contract = contract::parse(&text);
    Ok(ordered_assertions(mission, queue, milestone, extra)?
        .iter()
        .map(|id| contract.assertion(id).map_or_else(|| format!("### {id}"), |a| context::assertion_text(&text, a)))
        .collect())
}

/// The result of one `Check:` command.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    pub id: String,
    pub command: String,
    /// `pass`, `fail` or `blocked` (it could not run).
    pub status: &'static str,
    pub note: String,
    /// Relative to `evidence/`.
    pub evidence: String,
}

/// Runs the `Check:` commands with the mission's command timeout; their output is saved as
/// evidence under `evidence/<m>/checks/`. `None` when cancelled.
async fn run_checks(
    ctx: &mut Ctx,
    milestone: &str,
    round: u32,
    checks: &[(String, String)],
) -> Option<Vec<CheckResult>> {
    let mut out = Vec::new();
    if checks.is_empty() {
        return Some(out);
    }
    let group = format!("{}/checks", folder::path_segment(milestone));
    let roots = match Roots::new(&ctx.repo, &ctx.mission) {
        Ok(r) => r,
        Err(e) => {
            return Some(
                checks
                    .iter()
                    .map(|(id, command)| CheckResult {
                        id: id.clone(),
                        command: command.clone(),
                        status: "blocked",
                        note: format!("cannot run checks: {e}"),
                        evidence: String::new(),
                    })
                    .collect(),
            );
        }
    };
    let config = &ctx.agents.config;
    let settings =
        CommandSettings::from_config(config, WritePolicy::EvidenceOnly).with_git_identity_if_missing(&ctx.repo);
    let timeout = Duration::from_secs(config.limits.command_timeout_s);
    for (id, command) in checks {
        let log = ctx.mission.join("tool-output").join("checks").join(format!("round-{round}-{id}.log"));
        let mut groups = Vec::new();
        let result = run_script(&roots, &settings, command, timeout, &log, &ctx.cancel, &mut groups).await;
        groups.into_iter().for_each(kill_group);
        if ctx.cancel.is_cancelled() {
            return None;
        }
        let evidence = format!("{group}/round-{round}-{id}.txt");
        let (status, note, shown) = match &result {
            Ok(run) if run.code == 0 => ("pass", format!("`{command}` exited 0"), run.render()),
            Ok(run) => (
                "fail",
                format!("`{command}` exited {}{}", run.code, if run.timed_out { " (timed out)" } else { "" }),
                run.render(),
            ),
            Err(e) => ("blocked", format!("`{command}` could not run: {e}"), e.clone()),
        };
        let path = ctx.mission.join(EVIDENCE_DIR).join(&evidence);
        let _ = std::fs::create_dir_all(path.parent().unwrap_or(&ctx.mission));
        let _ = write_atomic(&path, format!("$ {command}\n{shown}").as_bytes());
        let tail: String =
            shown.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
        let note = if status == "pass" { note } else { format!("{note}; its output ends with:\n{tail}") };
        ctx.progress.update(Update::Tool { name: "check", summary: format!("{id}: {status}") });
        out.push(CheckResult { id: id.clone(), command: command.clone(), status, note, evidence });
    }
    Some(out)
}

/// Writes the scrutiny validator's reviews and synthesis; the verdict and its handoff.
fn record_scrutiny(
    ctx: &mut Ctx,
    milestone: &str,
    round: u32,
    session_id: &str,
    report: &Value,
    commands: &[CommandResult],
) -> Result<(Verdict, HandoffFile), String> {
    let dir = report_dir(&ctx.mission, milestone, ValidatorKind::Scrutiny);
    let reviews_dir = dir.join("reviews");
    std::fs::create_dir_all(&reviews_dir).map_err(|e| format!("cannot create {}: {e}", reviews_dir.display()))?;
    let (found, _) = folder::read_handoffs(&ctx.mission);
    let mut summary = ReviewsSummary::default();
    let mut blocking = Vec::new();
    for r in report["reviews"].as_array().into_iter().flatten() {
        let feature_id = r["featureId"].as_str().unwrap_or_default().to_string();
        let issues: Vec<ReviewIssue> = serde_json::from_value(r["issues"].clone()).unwrap_or_default();
        let status = r["status"].as_str().unwrap_or("fail").to_string();
        summary.total += 1;
        if status == "pass" {
            summary.passed += 1;
        } else {
            summary.failed += 1;
            summary.failed_features.push(feature_id.clone());
        }
        blocking.extend(issues.iter().filter(|i| i.severity == "blocking").map(|i| BlockingIssue {
            feature_id: feature_id.clone(),
            severity: i.severity.clone(),
            description: i.description.clone(),
        }));
        let handoff = schedule::latest_handoff(&found, &feature_id);
        let review = Review {
            feature_id: feature_id.clone(),
            reviewed_at: now_rfc3339(),
            commit_id: handoff.and_then(|h| h.file.commit_id.clone()),
            repo_path: Some(ctx.repo.display().to_string()),
            transcript_skeleton_reviewed: true,
            diff_reviewed: true,
            status,
            code_review: CodeReview { summary: r["summary"].as_str().unwrap_or_default().to_string(), issues },
            shared_state_observations: Vec::new(),
            addresses_failure_from: None,
            summary: r["summary"].as_str().unwrap_or_default().to_string(),
            extra: Map::new(),
        };
        write_json_atomic(&reviews_dir.join(format!("{}.json", folder::path_segment(&feature_id))), &review)
            .map_err(|e| format!("cannot write a review: {e}"))?;
    }
    // What the runner ran, never the model's word.
    let validators_run: indexmap::IndexMap<String, ValidatorRun> = commands
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                ValidatorRun { passed: c.passed, command: c.command.clone(), exit_code: Some(i64::from(c.exit_code)) },
            )
        })
        .collect();
    let passed = summary.failed == 0 && blocking.is_empty() && validators_run.values().all(|v| v.passed);
    let synthesis = ScrutinySynthesis {
        milestone: milestone.to_string(),
        round,
        status: if passed { "pass" } else { "fail" }.to_string(),
        validators_run,
        reviews_summary: summary.clone(),
        blocking_issues: blocking.clone(),
        applied_updates: Vec::new(),
        suggested_guidance_updates: report["suggestedGuidanceUpdates"].as_array().cloned().unwrap_or_default(),
        rejected_observations: report["rejectedObservations"].as_array().cloned().unwrap_or_default(),
        previous_round: None,
        extra: Map::new(),
    };
    write_synthesis(&ctx.mission, &dir, round, synthesis)?;
    let verdict = if passed { Verdict::Passed } else { Verdict::Failed };
    let summary_line = report["salientSummary"].as_str().unwrap_or_default().trim().to_string();
    let what = format!("Reviewed {} feature(s) of milestone \"{milestone}\" ({} passed, {} failed) and wrote validation/{}/scrutiny/synthesis.json.", summary.total, summary.passed, summary.failed, folder::path_segment(milestone));
    let failing: Vec<&CommandResult> = commands.iter().filter(|c| !c.passed).collect();
    let mut redo: Vec<String> = summary.failed_features.clone();
    redo.extend(failing.iter().map(|c| format!("`{}` ({})", c.command, c.name)));
    let left = if passed { String::new() } else { format!("Fix and re-review: {}", redo.join(", ")) };
    let mut issues: Vec<records::DiscoveredIssue> = blocking
        .iter()
        .map(|b| records::DiscoveredIssue {
            severity: "blocking".into(),
            description: format!("{}: {}", b.feature_id, b.description),
            suggested_fix: None,
        })
        .collect();
    issues.extend(failing.iter().map(|c| records::DiscoveredIssue {
        severity: "blocking".into(),
        description: format!(
            "the project's {} command `{}` {}",
            c.name,
            c.command,
            if c.timed_out { "timed out".to_string() } else { format!("exited {}", c.exit_code) }
        ),
        suggested_fix: None,
    }));
    let runs: Vec<records::CommandRun> = commands
        .iter()
        .map(|c| records::CommandRun {
            command: c.command.clone(),
            exit_code: Some(i64::from(c.exit_code)),
            observation: c
                .output
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect(),
        })
        .collect();
    Ok((
        verdict,
        validator_handoff(
            ValidatorKind::Scrutiny,
            milestone,
            session_id,
            passed,
            &summary_line,
            what,
            left,
            runs,
            issues,
        ),
    ))
}

/// Writes the user-testing validator's flow, synthesis and validation-state.json: the
/// `Check:` results over its word, and each claimed pass checked against its assertion's
/// `Evidence:` items and what the session's tools recorded; the verdict and its handoff.
fn record_user_testing(
    ctx: &mut Ctx,
    milestone: &str,
    round: u32,
    session_id: &str,
    report: &Value,
    before: &BeforeSession,
    recorded: &Recorded,
) -> Result<(Verdict, HandoffFile), String> {
    let checks = before.checks.as_slice();
    let queue = Queue::load(&ctx.mission)?;
    let ids = ordered_assertions(&ctx.mission, &queue, milestone, &revalidated(ctx))?;
    let dir = report_dir(&ctx.mission, milestone, ValidatorKind::UserTesting);
    let flows_dir = dir.join("flows");
    std::fs::create_dir_all(&flows_dir).map_err(|e| format!("cannot create {}: {e}", flows_dir.display()))?;
    let contract = contract::parse(
        &folder::read_text(&ctx.mission.join(CONTRACT_FILE)).map_err(|e| format!("{CONTRACT_FILE}: {e}"))?,
    );
    let said: Vec<&Value> = report["assertions"].as_array().into_iter().flatten().collect();
    let cited_of = |a: &Value| -> Vec<String> {
        a["evidence"].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect()
    };
    let all_cited: Vec<String> = said.iter().flat_map(|a| cited_of(a)).collect();
    let evidence_root = ctx.mission.join(EVIDENCE_DIR);
    let session =
        SessionEvidence::gather(&evidence_root, recorded, &all_cited.iter().map(String::as_str).collect::<Vec<_>>());
    let mut reported: Vec<FlowAssertion> = Vec::new();
    let mut overturned: Vec<(String, String)> = Vec::new();
    for a in said {
        let id = a["id"].as_str().unwrap_or_default().to_string();
        let assertion = contract.assertion(&id);
        let items: Vec<String> =
            assertion.and_then(|x| x.evidence.as_ref()).map(|e| e.value.clone()).unwrap_or_default();
        let mut status = a["status"].as_str().unwrap_or("blocked").to_string();
        let mut issues = a["issues"].as_str().map(str::to_string).filter(|s| !s.trim().is_empty());
        let checked = session.check(&items, &cited_of(a), status == "pass");
        if let Some(why) = &checked.overturned {
            // The validator's word does not stand against the record.
            overturned.push((id.clone(), why.clone()));
            status = "fail".into();
            issues = Some(format!("the validator reported pass, but {why}"));
        }
        reported.push(FlowAssertion {
            title: assertion.map(|x| x.title.clone()).unwrap_or_default(),
            id,
            status,
            steps: serde_json::from_value::<Vec<FlowStep>>(a["steps"].clone()).unwrap_or_default(),
            evidence: checked.by_kind,
            issues,
        });
    }
    for (id, why) in &overturned {
        ctx.progress.update(Update::Note(&format!("{id}: the claimed pass does not stand: {why}")));
    }
    let mut tools_used: Vec<String> = report["toolsUsed"]
        .as_array()
        .map(|t| t.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    for (used, tool) in [(recorded.network.is_some(), "browser"), (!recorded.terminals.is_empty(), "terminal")] {
        if used && !tools_used.iter().any(|t| t == tool) {
            tools_used.push(tool.to_string());
        }
    }
    let flow = Flow {
        group_id: before.group.clone(),
        tested_at: now_rfc3339(),
        isolation: Map::from_iter([("workingDirectory".to_string(), json!(ctx.repo.display().to_string()))]),
        tools_used,
        assertions: reported.clone(),
        frictions: report["frictions"].as_array().cloned().unwrap_or_default(),
        blockers: report["blockers"].as_array().cloned().unwrap_or_default(),
        summary: report["salientSummary"].as_str().unwrap_or_default().to_string(),
        extra: Map::new(),
    };
    write_json_atomic(&flows_dir.join(format!("{}.json", folder::path_segment(&before.group))), &flow)
        .map_err(|e| format!("cannot write a flow: {e}"))?;
    // Each assertion: a `Check:` result wins; else the validator's word, as the evidence
    // left it; unreported is blocked.
    let mut results: Vec<AssertionResult> = Vec::new();
    for id in &ids {
        let check = checks.iter().find(|c| &c.id == id);
        let said = reported.iter().find(|a| &a.id == id);
        let mut evidence: Vec<String> = said
            .map(|a| a.evidence_paths().iter().map(|e| format!("{EVIDENCE_DIR}/{e}")).collect())
            .unwrap_or_default();
        let (status, reason) = match (check, said) {
            (Some(c), _) if c.status != "pass" => (c.status, c.note.clone()),
            (Some(c), Some(a)) if a.status != "pass" => (
                if a.status == "fail" { "fail" } else { "blocked" },
                format!("{} (its `Check:` passed: {})", a.issues.clone().unwrap_or_default(), c.note),
            ),
            (Some(_), _) => ("pass", String::new()),
            (None, Some(a)) => match a.status.as_str() {
                "pass" => ("pass", String::new()),
                "fail" => ("fail", a.issues.clone().unwrap_or_default()),
                _ => ("blocked", a.issues.clone().unwrap_or_else(|| "the validator could not test it".into())),
            },
            (None, None) => ("blocked", "no validator reported on it in this round".to_string()),
        };
        if let Some(c) = check.filter(|c| !c.evidence.is_empty()) {
            evidence.insert(0, format!("{EVIDENCE_DIR}/{}", c.evidence));
        }
        results.push(AssertionResult { id: id.clone(), status, reason, evidence });
    }
    write_results(ctx, milestone, round, &results)?;
    let count = |s: &str| results.iter().filter(|r| r.status == s).count();
    let passed = results.iter().all(|r| r.status == "pass");
    let summary_line = report["salientSummary"].as_str().unwrap_or_default().trim().to_string();
    let what = format!("Tested {} assertion(s) of milestone \"{milestone}\" ({} passed, {} failed, {} blocked), wrote validation/{}/user-testing/synthesis.json and updated validation-state.json.", results.len(), count("pass"), count("fail"), count("blocked"), folder::path_segment(milestone));
    let not_passed: Vec<&str> = results.iter().filter(|r| r.status != "pass").map(|r| r.id.as_str()).collect();
    let left =
        if passed { String::new() } else { format!("{} must be tested again after a fix.", not_passed.join(", ")) };
    let commands: Vec<records::CommandRun> = checks
        .iter()
        .map(|c| records::CommandRun {
            command: c.command.clone(),
            exit_code: Some(i64::from(c.status != "pass")),
            observation: c.note.lines().next().unwrap_or_default().to_string(),
        })
        .collect();
    let issues = results
        .iter()
        .filter(|r| r.status != "pass")
        .map(|r| records::DiscoveredIssue {
            severity: "blocking".into(),
            description: format!(
                "{} {}: {}",
                r.id,
                if r.status == "fail" { "failed" } else { "was blocked" },
                r.reason
            ),
            suggested_fix: None,
        })
        .collect();
    Ok((
        if passed { Verdict::Passed } else { Verdict::Failed },
        validator_handoff(
            ValidatorKind::UserTesting,
            milestone,
            session_id,
            passed,
            &summary_line,
            what,
            left,
            commands,
            issues,
        ),
    ))
}

/// One assertion's outcome in a round.
struct AssertionResult {
    id: String,
    /// `pass`, `fail` or `blocked`.
    status: &'static str,
    reason: String,
    /// Relative to the mission folder.
    evidence: Vec<String>,
}

/// validation-state.json (droid's statuses: blocked is `failed` with the reason) and the
/// round's user-testing synthesis.
fn write_results(ctx: &mut Ctx, milestone: &str, round: u32, results: &[AssertionResult]) -> Result<(), String> {
    // validation-state.json: droid's statuses (blocked is `failed` with the reason), and the
    // commit validated (later commits may make a passed assertion stale).
    let head = super::git::head(&ctx.repo).ok();
    let path = ctx.mission.join(VALIDATION_STATE_FILE);
    let mut state = load_records(&ctx.mission).state.unwrap_or_default();
    for r in results {
        let entry = state.assertions.entry(r.id.clone()).or_default();
        *entry = AssertionState {
            status: if r.status == "pass" { "passed" } else { "failed" }.to_string(),
            validated_at_milestone: (r.status == "pass").then(|| milestone.to_string()),
            issues: (r.status != "pass").then(|| r.reason.clone()),
            extra: std::mem::take(&mut entry.extra),
            blocked: r.status == "blocked",
            round: Some(round),
            evidence: r.evidence.clone(),
            validated_at_commit: head.clone(),
        };
    }
    write_json_atomic(&path, &state).map_err(|e| format!("cannot write {VALIDATION_STATE_FILE}: {e}"))?;
    let of = |s: &'static str| results.iter().filter(move |r| r.status == s);
    let passed = results.iter().all(|r| r.status == "pass");
    let synthesis = UserTestingSynthesis {
        milestone: milestone.to_string(),
        round,
        status: if passed { "pass" } else { "fail" }.to_string(),
        assertions_summary: AssertionsSummary {
            total: results.len() as u32,
            passed: of("pass").count() as u32,
            failed: of("fail").count() as u32,
            blocked: of("blocked").count() as u32,
        },
        passed_assertions: of("pass").map(|r| r.id.clone()).collect(),
        failed_assertions: of("fail").map(|r| FailedAssertion { id: r.id.clone(), reason: r.reason.clone() }).collect(),
        blocked_assertions: of("blocked")
            .map(|r| BlockedAssertion { id: r.id.clone(), blocked_by: r.reason.clone() })
            .collect(),
        applied_updates: Vec::new(),
        previous_round: None,
        extra: Map::new(),
    };
    write_synthesis(&ctx.mission, &report_dir(&ctx.mission, milestone, ValidatorKind::UserTesting), round, synthesis)
}

/// A service did not come up: every assertion of the round is blocked by it (with the end of
/// its log), and the user-testing validator fails without a session; its handoff says why.
fn record_services_down(
    ctx: &mut Ctx,
    milestone: &str,
    round: u32,
    session_id: &str,
    failure: &ServiceFailure,
) -> Result<HandoffFile, String> {
    let queue = Queue::load(&ctx.mission)?;
    let ids = ordered_assertions(&ctx.mission, &queue, milestone, &revalidated(ctx))?;
    let why = failure.to_string();
    ctx.progress.update(Update::Note(&format!("user testing of {milestone} is blocked: {why}")));
    let results: Vec<AssertionResult> = ids
        .iter()
        .map(|id| AssertionResult { id: id.clone(), status: "blocked", reason: why.clone(), evidence: Vec::new() })
        .collect();
    write_results(ctx, milestone, round, &results)?;
    let what = format!("Ran no test session: the services of {SERVICES_FILE} did not come up, so the {} assertion(s) of milestone \"{milestone}\" are blocked (validation/{}/user-testing/synthesis.json, validation-state.json).", ids.len(), folder::path_segment(milestone));
    let issue = records::DiscoveredIssue { severity: "blocking".into(), description: why.clone(), suggested_fix: None };
    let summary = format!("User testing is blocked: {}", why.lines().next().unwrap_or_default());
    Ok(validator_handoff(
        ValidatorKind::UserTesting,
        milestone,
        session_id,
        false,
        &summary,
        what,
        format!("{} must be tested once the services start.", ids.join(", ")),
        Vec::new(),
        vec![issue],
    ))
}

/// Writes a round's synthesis as droid's `synthesis.json` (the latest, overwritten) and
/// keeps the round as `synthesis-round-<n>.json`; `previousRound` names the round before.
fn write_synthesis<T: serde::Serialize>(mission: &Path, dir: &Path, round: u32, synthesis: T) -> Result<(), String> {
    let mut value = serde_json::to_value(&synthesis).map_err(|e| e.to_string())?;
    let previous = dir.join(format!("synthesis-round-{}.json", round.saturating_sub(1)));
    value["previousRound"] = match previous.exists() {
        true => json!(previous.strip_prefix(mission).unwrap_or(&previous).display().to_string()),
        false => Value::Null,
    };
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    write_json_atomic(&dir.join(format!("synthesis-round-{round}.json")), &value)
        .map_err(|e| format!("cannot write a synthesis: {e}"))?;
    write_json_atomic(&dir.join("synthesis.json"), &value).map_err(|e| format!("cannot write a synthesis: {e}"))
}

/// A validator's handoff: droid's shape, no commit (validators change no code).
#[allow(clippy::too_many_arguments)]
fn validator_handoff(
    kind: ValidatorKind,
    milestone: &str,
    session_id: &str,
    passed: bool,
    salient: &str,
    what: String,
    left: String,
    commands: Vec<records::CommandRun>,
    issues: Vec<records::DiscoveredIssue>,
) -> HandoffFile {
    let synthesis = format!("validation/{}/{}/synthesis.json", folder::path_segment(milestone), kind.folder());
    let salient = if salient.chars().count() >= 20 {
        salient.to_string()
    } else {
        format!("{salient} Synthesis: {synthesis}.").trim().to_string()
    };
    HandoffFile {
        timestamp: now_rfc3339(),
        worker_session_id: session_id.to_string(),
        feature_id: kind.feature_id(milestone),
        milestone: Some(milestone.to_string()),
        commit_id: None,
        repo_path: None,
        success_state: Some(if passed { "success" } else { "failure" }.to_string()),
        return_to_orchestrator: Some(true),
        handoff: Handoff {
            salient_summary: Some(salient),
            what_was_implemented: what,
            what_was_left_undone: left,
            verification: records::Verification { commands_run: commands, ..Default::default() },
            tests: records::Tests { coverage: format!("validation of milestone {milestone}"), ..Default::default() },
            discovered_issues: issues,
            skill_feedback: None,
            extra: Map::new(),
        },
        extra: Map::new(),
    }
}

/// The round's end: it passed when every validator of the milestone succeeded and every
/// assertion it claims passed. Logged (`validation_round`, `milestone_passed`).
fn finish_round(ctx: &mut Ctx, round: &ActiveRound) -> Result<Step, String> {
    let milestone = round.milestone.as_str();
    let queue = Queue::load(&ctx.mission)?;
    let records = load_records(&ctx.mission);
    let validators_done = queue
        .file
        .features
        .iter()
        .filter(|f| f.milestone() == Some(milestone) && f.is_validator())
        .all(|f| f.is_completed());
    let passed = validators_done && schedule::assertions_passed(&queue.file, Some(&records), milestone);
    let ids = schedule::milestone_assertions(&queue.file, milestone);
    let status = |id: &&str| crate::analysis::summary::assertion_status(Some(&records), id);
    let count = |s: &str| ids.iter().filter(|id| status(id) == s).count();
    ctx.state.set_active_round(None);
    ctx.state.set_status(MissionStatus::Running);
    ctx.save_state()?;
    ctx.log(Event::ValidationRound {
        milestone: milestone.to_string(),
        round: round.round,
        passed,
        assertions: AssertionCounts { passed: count("passed"), failed: count("failed"), blocked: count("blocked") },
    })?;
    ctx.progress.update(Update::RoundResult {
        milestone,
        round: round.round,
        passed: count("passed"),
        total: ids.len(),
    });
    if passed {
        ctx.log(Event::MilestonePassed { milestone: milestone.to_string(), round: round.round })?;
    }
    Ok(Step::Continue)
}

/// A validator reports on exactly the milestone's features or assertions: `field` is the
/// list in its report, `key` the id of each entry.
struct OnlyThese {
    field: &'static str,
    key: &'static str,
    ids: Vec<String>,
}

impl FinalToolHandler for OnlyThese {
    fn decide(&mut self, _kind: SessionKind, args: &Value) -> FinalDecision {
        let foreign: Vec<&str> = args[self.field]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a[self.key].as_str())
            .filter(|id| !self.ids.iter().any(|x| x == id))
            .collect();
        if foreign.is_empty() {
            FinalDecision::Accept(args.clone())
        } else {
            FinalDecision::Reject(format!(
                "{} not in this milestone; report only on {}",
                foreign.join(", "),
                self.ids.join(", ")
            ))
        }
    }
}
