//! One feature, run as droid's runner runs it: `worker_selected_feature` and `worker_started`,
//! a fresh worker session with only its context, the handoff written to droid's handoff file,
//! verified completion, `worker_completed`, and the feature's status written back (completed
//! and moved to the bottom, or back to `pending`). A `partial` handoff (or a session that
//! ended without one, `worker_failed`) gets one more fresh session; a `failure`, a second
//! `partial`, or a success claim refused twice stops the mission with the reason.

use std::path::PathBuf;

use serde_json::{json, Value};

use super::agents::SessionCall;
use super::context::{self, WorkerContext};
use super::git;
use super::handoffs;
use super::progress::{ToolFeed, Update};
use super::proof::{self, Proof};
use super::queue::{self, Queue};
use super::run::{Ctx, Step};
use super::state::ActiveFeature;
use super::verify::verify_completion;
use super::worktree::{self, Worktree};
use crate::agent::final_tool::{FinalDecision, FinalToolHandler};
use crate::agent::session::{NoSessionObserver, SessionEnd, SessionOutcome};
use crate::agent::tools::{CommandSettings, WritePolicy};
use crate::agent::transcript::new_session_id;
use crate::agent::SessionKind;
use crate::model::contract;
use crate::model::folder::{self, CONTRACT_FILE};
use crate::model::progress_log::{Event, WorkerCompleted, WorkerStarted};
use crate::model::records::HandoffFile;

/// A feature gets at most this many worker sessions in one go.
pub const MAX_ATTEMPTS: u32 = 2;

/// How a handed-off session ends for its feature.
enum Settled {
    Done(Step),
    /// Run the feature again in a fresh session, told this.
    Retry(String),
}

pub async fn run_feature(ctx: &mut Ctx, feature_id: &str) -> Result<Step, String> {
    // A handoff that reached the disk before a crash is settled, never redone; a session
    // that was interrupted before it handed off is recorded as failed (droid's `worker_failed`).
    let next = match ctx.state.active_feature().filter(|a| a.feature_id == feature_id) {
        Some(active) => match handoffs::of_session(&ctx.mission, &active.session_id) {
            Some(handoff) => match settle(ctx, &active, &handoff, None)? {
                Settled::Done(step) => return Ok(step),
                Settled::Retry(note) => Attempt {
                    n: active.attempt + 1,
                    note: Some(note),
                    feature_base: Some(active.feature_start().to_string()),
                },
            },
            None => {
                interrupted(ctx, &active)?;
                Attempt { n: active.attempt, note: active.note.clone(), feature_base: active.feature_base.clone() }
            }
        },
        None => Attempt { n: 1, note: None, feature_base: None },
    };
    run_attempts(ctx, feature_id, next).await
}

/// An interrupted session (the runner was killed or paused before it handed off): logged as
/// droid logs a worker that exited without a handoff.
pub fn interrupted(ctx: &mut Ctx, active: &ActiveFeature) -> Result<(), String> {
    ctx.log(orphan_event(&active.session_id, &active.feature_id))
}

/// droid's `worker_failed` for a session that a stop cut off before it handed off.
pub fn orphan_event(session_id: &str, feature_id: &str) -> Event {
    Event::WorkerFailed {
        worker_session_id: Some(session_id.to_string()),
        spawn_id: format!("orphan_{session_id}"),
        exit_code: None,
        reason: "the runner stopped before the session handed off; its uncommitted work was set aside".to_string(),
        failure_reason: Some(WORKER_EXITED_WITHOUT_HANDOFF.to_string()),
        feature_id: Some(feature_id.to_string()),
    }
}

/// droid's `failureReason` for a session that ended without a handoff.
pub const WORKER_EXITED_WITHOUT_HANDOFF: &str = "worker_exited_without_handoff";

/// droid's `worker_failed` for a session that ended without a handoff, saying why.
pub fn no_handoff_event(session_id: &str, feature_id: &str, reason: &str) -> Event {
    Event::WorkerFailed {
        worker_session_id: Some(session_id.to_string()),
        spawn_id: format!("worker_no_handoff_{session_id}"),
        exit_code: Some(0),
        reason: reason.to_string(),
        failure_reason: Some(WORKER_EXITED_WITHOUT_HANDOFF.to_string()),
        feature_id: Some(feature_id.to_string()),
    }
}

/// droid's `worker_paused`.
pub fn paused_event(session_id: &str, feature_id: &str) -> Event {
    Event::WorkerPaused { worker_session_id: session_id.to_string(), feature_id: feature_id.to_string() }
}

/// droid's `worker_selected_feature`.
pub fn selected_event(session_id: &str, feature_id: &str) -> Event {
    Event::WorkerSelectedFeature { worker_session_id: session_id.to_string(), feature_id: feature_id.to_string() }
}

/// A worker session to run: its number for the feature, what it is told about the previous
/// one, and where the feature's work began (`None`: at this session's start).
struct Attempt {
    n: u32,
    note: Option<String>,
    feature_base: Option<String>,
}

/// Runs sessions of `feature_id` in the working directory from attempt `next` until the
/// feature settles.
async fn run_attempts(ctx: &mut Ctx, feature_id: &str, mut next: Attempt) -> Result<Step, String> {
    loop {
        let Attempt { n: attempt, note, feature_base } = next;
        let queue = Queue::load(&ctx.mission)?;
        let feature = queue
            .feature(feature_id)
            .ok_or_else(|| format!("feature `{feature_id}` is no longer in features.json"))?
            .clone();
        let milestone = feature.milestone().map(str::to_string);
        let base = git::head(&ctx.repo).map_err(|e| e.to_string())?;
        let session_id = new_session_id();
        let feature_base = feature_base.unwrap_or_else(|| base.clone());
        let active = ActiveFeature {
            feature_id: feature_id.to_string(),
            session_id: session_id.clone(),
            base_commit: base.clone(),
            attempt,
            note: note.clone(),
            worktree: None,
            feature_base: Some(feature_base.clone()),
        };
        ctx.state.set_active_feature(Some(&active));
        ctx.state.set_status(crate::model::records::MissionStatus::Running);
        ctx.state.state.current_milestone = milestone.clone();
        ctx.save_state()?;
        begin(ctx, &feature, &session_id, attempt, &base, None)?;
        let (done, total) = counts(&queue);
        ctx.progress.update(Update::FeatureStarted { id: feature_id, attempt, done, total });

        let task = build_task(ctx, &queue, feature_id, note.as_deref())?;
        let mut check = HandoffCheck {
            repo: ctx.repo.clone(),
            base: base.clone(),
            feature_id: feature_id.to_string(),
            mission_rel: ctx.mission_rel.clone(),
            refused: 0,
            verdict: None,
        };
        let details = json!({"featureId": feature_id, "milestone": milestone, "attempt": attempt});
        let outcome = ctx
            .agents
            .run(
                SessionCall {
                    kind: SessionKind::Worker,
                    session_id: &session_id,
                    task,
                    shared_context: Some(context::worker_shared(&ctx.mission)),
                    details,
                },
                &mut check,
                &ctx.cancel,
                &mut ToolFeed { progress: &mut *ctx.progress },
            )
            .await;
        match outcome.end {
            SessionEnd::Finished(ref args) => {
                let verdict = check.verdict.take();
                let repo = ctx.repo.clone();
                let Some(proof) = proof_of(ctx, &feature, &active, &repo, args, verdict.as_ref()).await else {
                    // Stopped while proving: the session counts as interrupted (a resume sets
                    // its work aside and runs the feature again).
                    paused(ctx, &active)?;
                    return Ok(Step::Pause);
                };
                let handoff = handed_off(ctx, &outcome, args, feature_id, milestone.as_deref(), &repo, proof.as_ref())?;
                match settle(ctx, &active, &handoff, verdict)? {
                    Settled::Done(step) => return Ok(step),
                    Settled::Retry(note) => {
                        next = Attempt { n: attempt + 1, note: Some(note), feature_base: Some(feature_base.clone()) }
                    }
                }
            }
            SessionEnd::Cancelled => {
                paused(ctx, &active)?;
                return Ok(Step::Pause);
            }
            ref end @ (SessionEnd::TokenBudget { .. }
            | SessionEnd::CostBudget { .. }
            | SessionEnd::ProviderFailed(_)) => {
                no_handoff(ctx, &active, &outcome, &end.reason())?;
                return Ok(Step::Halt(format!("feature {feature_id}: {}", end.reason())));
            }
            ref end => {
                // The session's state is unknown: its changes go, like an interrupted one's.
                git::discard_changes(&ctx.repo, &base, ctx.mission_rel.as_deref()).map_err(|e| e.to_string())?;
                let reason = format!("the worker session ended without a handoff: {}", end.reason());
                no_handoff(ctx, &active, &outcome, &reason)?;
                if attempt >= MAX_ATTEMPTS {
                    return stop(ctx, &active, &reason, true).map(Settled::into_step);
                }
                next = Attempt {
                    n: attempt + 1,
                    note: Some(format!("{reason}. Its changes were discarded; start again from the current commit.")),
                    feature_base: Some(feature_base.clone()),
                };
            }
        }
    }
}

/// The start of a worker session, written before it runs: droid's two events, the feature
/// `in_progress` with its session.
fn begin(
    ctx: &mut Ctx,
    feature: &crate::model::Feature,
    session_id: &str,
    attempt: u32,
    base: &str,
    worktree_branch: Option<&str>,
) -> Result<(), String> {
    let feature_id = feature.id().unwrap_or_default();
    ctx.log(selected_event(session_id, feature_id))?;
    queue::start_session(&ctx.mission, feature, session_id)?;
    let model = ctx.agents.config.role(SessionKind::Worker.agent_role()).ok().and_then(|r| r.model.clone());
    ctx.log(Event::WorkerStarted(WorkerStarted {
        worker_session_id: session_id.to_string(),
        spawn_id: handoffs::spawn_id(),
        feature_id: feature_id.to_string(),
        model_id: model,
        substituted_from_model_id: None,
        milestone: feature.milestone().map(str::to_string),
        round: None,
        attempt: Some(attempt),
        base_commit: Some(base.to_string()),
        worktree_branch: worktree_branch.map(str::to_string),
    }))
}

/// A session that handed off: its handoff file and worker-transcripts.jsonl line.
fn handed_off(
    ctx: &mut Ctx,
    outcome: &SessionOutcome,
    args: &Value,
    feature_id: &str,
    milestone: Option<&str>,
    repo: &std::path::Path,
    proof: Option<&Proof>,
) -> Result<HandoffFile, String> {
    let handoff = handoffs::wrap(args, feature_id, &outcome.session_id, milestone, repo)?;
    if let Some(proof) = proof {
        handoffs::write_proof(&ctx.mission, &handoff, proof)?;
    }
    handoffs::write(&ctx.mission, &handoff)?;
    handoffs::append_transcript(&ctx.mission, &outcome.session_id, feature_id, milestone, &outcome.skeleton)?;
    Ok(handoff)
}

/// The red-green proof of a success claim the git facts accepted (`verdict`), run from the
/// feature's start commit to the handoff's commit in `repo`: `Some(None)` when there is
/// nothing to prove, `None` when the run was stopped meanwhile.
async fn proof_of(
    ctx: &mut Ctx,
    feature: &crate::model::Feature,
    active: &ActiveFeature,
    repo: &std::path::Path,
    args: &Value,
    verdict: Option<&Result<String, String>>,
) -> Option<Option<Proof>> {
    let Some(Ok(commit)) = verdict else { return Some(None) };
    if args["successState"].as_str() != Some("success") {
        return Some(None);
    }
    let tests: Vec<(String, Vec<String>)> =
        serde_json::from_value::<crate::model::records::Tests>(args["tests"].clone())
            .unwrap_or_default()
            .added
            .into_iter()
            .map(|t| (t.file, t.cases.into_iter().map(|c| c.name).collect()))
            .collect();
    let config = &ctx.agents.config;
    let settings =
        CommandSettings::from_config(config, WritePolicy::WorkingDirectory).with_git_identity_if_missing(repo);
    let timeout = std::time::Duration::from_secs(config.limits.command_timeout_s);
    let cancel = ctx.cancel.clone();
    ctx.progress.update(Update::Tool {
        name: "proof",
        summary: format!(
            "{}: the listed tests at the start commit and at {}",
            active.feature_id,
            commit.get(..10).unwrap_or(commit)
        ),
    });
    let c = proof::ProofContext { repo, mission: &ctx.mission, settings: &settings, timeout, cancel: &cancel };
    let proof = proof::prove(&c, active.feature_start(), commit, &tests, !feature.claims().is_empty()).await?;
    Some(Some(proof))
}

/// A session that ended without a handoff: droid's `worker_failed`, and its transcript line.
fn no_handoff(ctx: &mut Ctx, active: &ActiveFeature, outcome: &SessionOutcome, reason: &str) -> Result<(), String> {
    let milestone = Queue::load(&ctx.mission)
        .ok()
        .and_then(|q| q.feature(&active.feature_id).and_then(|f| f.milestone().map(str::to_string)));
    handoffs::append_transcript(
        &ctx.mission,
        &active.session_id,
        &active.feature_id,
        milestone.as_deref(),
        &outcome.skeleton,
    )?;
    ctx.log(no_handoff_event(&active.session_id, &active.feature_id, reason))?;
    queue::back_to_pending(&ctx.mission, &active.feature_id)
}

/// The person paused the run while the session worked: droid's `worker_paused`; the feature
/// waits, pending, for a fresh session on resume.
fn paused(ctx: &mut Ctx, active: &ActiveFeature) -> Result<(), String> {
    ctx.log(paused_event(&active.session_id, &active.feature_id))?;
    queue::back_to_pending(&ctx.mission, &active.feature_id)
}

impl Settled {
    fn into_step(self) -> Step {
        match self {
            Settled::Done(step) => step,
            Settled::Retry(note) => Step::Halt(note),
        }
    }
}

/// Decides what a handoff means for its feature and writes it down: droid's
/// `worker_completed` (with the nested handoff), then the verdict.
fn settle(
    ctx: &mut Ctx,
    active: &ActiveFeature,
    handoff: &HandoffFile,
    verdict: Option<Result<String, String>>,
) -> Result<Settled, String> {
    let state = handoff.success_state.as_deref().unwrap_or("failure");
    let verdict =
        match state {
            "success" => Some(verdict.unwrap_or_else(|| {
                verify_completion(&ctx.repo, &active.base_commit, handoff, ctx.mission_rel.as_deref())
            })),
            _ => None,
        };
    // Git says the work is there; its tests must also go from red to green.
    let refused_proof = folder::read_proof(&ctx.mission, handoff).filter(|p| p.verdict == proof::Verdict::Refused);
    let accepted = matches!(verdict, Some(Ok(_))) && refused_proof.is_none();
    ctx.log(completed_event(handoff, accepted))?;
    if let (Some(Ok(_)), Some(proof)) = (&verdict, refused_proof) {
        let reason = format!("its red-green proof failed: {}", proof.reasons.join("; "));
        ctx.log(Event::HandoffRefused {
            worker_session_id: active.session_id.clone(),
            feature_id: active.feature_id.clone(),
            reason: reason.clone(),
            proof: Some(Box::new(proof.clone())),
        })?;
        if active.attempt < MAX_ATTEMPTS {
            queue::back_to_pending(&ctx.mission, &active.feature_id)?;
            ctx.progress.update(Update::FeatureFinished {
                id: &active.feature_id,
                outcome: "refused (red-green proof), running it once more",
            });
            return Ok(Settled::Retry(proof::for_worker(&proof)));
        }
        return stop(ctx, active, &format!("its success claim was refused twice; the last time {reason}"), true);
    }
    match verdict {
        Some(Ok(commit)) => {
            queue::complete(&ctx.mission, &active.feature_id, &active.session_id)?;
            if handoff.commit_id.as_deref() != Some(commit.as_str()) {
                tracing::debug!(feature = %active.feature_id, %commit, "handoff commit resolved");
            }
            ctx.state.set_active_feature(None);
            ctx.save_state()?;
            ctx.progress.update(Update::FeatureFinished { id: &active.feature_id, outcome: "completed" });
            Ok(Settled::Done(Step::Continue))
        }
        Some(Err(reason)) => {
            ctx.log(Event::HandoffRefused {
                worker_session_id: active.session_id.clone(),
                feature_id: active.feature_id.clone(),
                reason: reason.clone(),
                proof: None,
            })?;
            stop(ctx, active, &format!("its handoff claimed success, refused twice: {reason}"), true)
        }
        None if state == "partial" && active.attempt < MAX_ATTEMPTS => {
            queue::back_to_pending(&ctx.mission, &active.feature_id)?;
            ctx.progress
                .update(Update::FeatureFinished { id: &active.feature_id, outcome: "partial, running it once more" });
            Ok(Settled::Retry(partial_note(handoff)))
        }
        None if state == "partial" => stop(
            ctx,
            active,
            &format!("a second partial handoff; left undone: {}", handoff.handoff.what_was_left_undone.trim()),
            true,
        ),
        None => stop(ctx, active, &failure_reason(handoff), false),
    }
}

/// droid's `worker_completed` for a handoff; `validatorsPassed` says whether the runner
/// accepted a success claim.
pub fn completed_event(handoff: &HandoffFile, accepted: bool) -> Event {
    Event::WorkerCompleted(Box::new(completed(handoff, accepted)))
}

/// The fields of droid's `worker_completed` for `handoff` (`repoPath` only beside a commit).
pub fn completed(handoff: &HandoffFile, accepted: bool) -> WorkerCompleted {
    WorkerCompleted {
        worker_session_id: handoff.worker_session_id.clone(),
        feature_id: handoff.feature_id.clone(),
        success_state: handoff.success_state.as_deref().unwrap_or("failure").to_string(),
        return_to_orchestrator: handoff.return_to_orchestrator.unwrap_or(true),
        commit_id: handoff.commit_id.clone(),
        repo_path: handoff.commit_id.as_ref().and(handoff.repo_path.clone()),
        exit_code: 0,
        validators_passed: accepted,
        handoff: handoff.handoff.clone(),
        recovered: None,
    }
}

/// Why a `failure` handoff stopped: its blocking issues, else what it left undone.
fn failure_reason(handoff: &HandoffFile) -> String {
    let blocking: Vec<&str> = handoff
        .handoff
        .discovered_issues
        .iter()
        .filter(|i| i.severity == "blocking")
        .map(|i| i.description.trim())
        .collect();
    let left = handoff.handoff.what_was_left_undone.trim();
    match (blocking.is_empty(), left.is_empty()) {
        (false, _) => format!("the worker could not finish: {}", blocking.join("; ")),
        (true, false) => format!("the worker could not finish: {left}"),
        (true, true) => "the worker reported failure without a reason".to_string(),
    }
}

fn partial_note(handoff: &HandoffFile) -> String {
    format!(
        "A previous session handed off partial work ({}). What it left undone, which is your task now:\n{}",
        handoff.handoff.summary(),
        handoff.handoff.what_was_left_undone.trim()
    )
}

/// The feature stops the mission: back to `pending` (droid has no failed status), the reason
/// for the person. `retry_limit`: it used up its sessions (droid's retry-limit pause).
fn stop(ctx: &mut Ctx, active: &ActiveFeature, reason: &str, retry_limit: bool) -> Result<Settled, String> {
    queue::back_to_pending(&ctx.mission, &active.feature_id)?;
    ctx.state.set_active_feature(None);
    ctx.save_state()?;
    ctx.progress.update(Update::FeatureFinished { id: &active.feature_id, outcome: "stopped" });
    let halt = super::run::Halt {
        reason: format!("feature {}: {reason}; {}", active.feature_id, super::schedule::RETRY_HINT),
        retry_limit,
        feature: Some(active.feature_id.clone()),
    };
    Ok(Settled::Done(Step::HaltWith(halt)))
}

fn counts(queue: &Queue) -> (usize, usize) {
    let live: Vec<_> = queue.file.features.iter().filter(|f| !f.is_cancelled() && !f.is_validator()).collect();
    (live.iter().filter(|f| f.is_completed()).count(), live.len())
}

fn build_task(ctx: &Ctx, queue: &Queue, feature_id: &str, note: Option<&str>) -> Result<String, String> {
    let feature = queue.feature(feature_id).ok_or_else(|| format!("no feature `{feature_id}`"))?;
    let contract_path = ctx.mission.join(CONTRACT_FILE);
    let contract_text = folder::read_text(&contract_path).map_err(|e| format!("{}: {e}", contract_path.display()))?;
    let contract = contract::parse(&contract_text);
    Ok(context::worker_task(&WorkerContext {
        mission_dir: &ctx.mission,
        feature,
        feature_raw: queue.raw(feature),
        contract_text: &contract_text,
        contract: &contract,
        previous: note,
    }))
}

/// Checks `submit_handoff` inside the session: the feature id, and for a success claim the
/// git facts. The first refusal goes back to the worker with the reason; the second is
/// accepted and recorded as the verdict, which stops the feature.
struct HandoffCheck {
    repo: PathBuf,
    base: String,
    feature_id: String,
    mission_rel: Option<String>,
    refused: u32,
    verdict: Option<Result<String, String>>,
}

impl FinalToolHandler for HandoffCheck {
    fn decide(&mut self, _kind: SessionKind, args: &Value) -> FinalDecision {
        if let Some(other) = args["featureId"].as_str().filter(|f| *f != self.feature_id) {
            return FinalDecision::Reject(format!(
                "`featureId` is \"{other}\", but this session works on \"{}\"",
                self.feature_id
            ));
        }
        if args["successState"].as_str() != Some("success") {
            return FinalDecision::Accept(args.clone());
        }
        let Ok(handoff) = handoffs::wrap(args, &self.feature_id, "", None, &self.repo) else {
            return FinalDecision::Reject("not a handoff; call submit_handoff with the handoff fields".into());
        };
        match verify_completion(&self.repo, &self.base, &handoff, self.mission_rel.as_deref()) {
            Ok(commit) => {
                self.verdict = Some(Ok(commit));
                FinalDecision::Accept(args.clone())
            }
            Err(reason) if self.refused == 0 => {
                self.refused += 1;
                FinalDecision::Reject(format!("handoff refused: {reason}. Fix this and call submit_handoff again; a second refusal stops the feature."))
            }
            Err(reason) => {
                self.verdict = Some(Err(reason));
                FinalDecision::Accept(args.clone())
            }
        }
    }
}

/// One feature of a parallel batch: its session in its own worktree.
struct Slot {
    active: ActiveFeature,
    worktree: Worktree,
    milestone: Option<String>,
    task: String,
}

/// Runs independent features at once (`max_parallel_workers > 1`), each in its own git
/// worktree on a branch from the mission branch's head, then merges them back in `ids`
/// order (queue order). A merge conflict is aborted and halts the mission naming the files
/// (the feature goes back to `pending`, to run again on top of the merged work). A feature
/// whose session handed off partial work (merged like completed work) or ended without a
/// handoff gets its one more session afterwards, in the working directory. Worktrees and
/// their branches are removed at the end, whatever happened.
pub async fn run_batch(ctx: &mut Ctx, ids: &[String]) -> Result<Step, String> {
    let mission_branch = ctx.state.branch().ok_or("the mission has no branch yet")?;
    let base = git::head(&ctx.repo).map_err(|e| e.to_string())?;
    let queue = Queue::load(&ctx.mission)?;
    let mut slots: Vec<Slot> = Vec::new();
    for id in ids {
        let feature = queue.feature(id).ok_or_else(|| format!("feature `{id}` is no longer in features.json"))?;
        let worktree = match worktree::add(&ctx.repo, &mission_branch, id, &base) {
            Ok(wt) => wt,
            Err(e) => {
                slots.iter().for_each(|s| worktree::remove(&ctx.repo, &s.worktree));
                return Err(format!("cannot add the worktree of feature {id}: {e}"));
            }
        };
        let active = ActiveFeature {
            feature_id: id.clone(),
            session_id: new_session_id(),
            base_commit: base.clone(),
            attempt: 1,
            note: None,
            worktree: Some(worktree.path.display().to_string()),
            feature_base: Some(base.clone()),
        };
        let task = build_task(ctx, &queue, id, None)?;
        slots.push(Slot { active, worktree, milestone: feature.milestone().map(str::to_string), task });
    }
    // Written before any session starts: a resume removes the worktrees and resets these.
    let actives: Vec<ActiveFeature> = slots.iter().map(|s| s.active.clone()).collect();
    ctx.state.set_active_features(&actives);
    ctx.state.set_status(crate::model::records::MissionStatus::Running);
    ctx.save_state()?;
    for s in &slots {
        let feature = queue.feature(&s.active.feature_id).ok_or("a batch feature vanished")?.clone();
        begin(ctx, &feature, &s.active.session_id, 1, &base, Some(&s.worktree.branch))?;
        let (done, total) = counts(&queue);
        ctx.progress.update(Update::FeatureStarted { id: &s.active.feature_id, attempt: 1, done, total });
    }

    let (agents, cancel) = (&ctx.agents, &ctx.cancel);
    let shared = &context::worker_shared(&ctx.mission);
    let sessions = slots.iter().map(|s| async move {
        let mut check = HandoffCheck { repo: s.worktree.path.clone(), base: s.active.base_commit.clone(), feature_id: s.active.feature_id.clone(), mission_rel: None, refused: 0, verdict: None };
        let details = json!({"featureId": s.active.feature_id, "milestone": s.milestone, "attempt": 1, "worktreeBranch": s.worktree.branch});
        let call = SessionCall { kind: SessionKind::Worker, session_id: &s.active.session_id, task: s.task.clone(), shared_context: Some(shared.clone()), details };
        let outcome = agents.run_in(&s.worktree.path, call, &mut check, cancel, &mut NoSessionObserver).await;
        (outcome, check.verdict)
    });
    let ends = futures::future::join_all(sessions).await;
    // Each success claim git accepted is proven in its worktree before anything is merged.
    let mut proofs = Vec::new();
    for (s, (outcome, verdict)) in slots.iter().zip(&ends) {
        let proof = match (&outcome.end, queue.feature(&s.active.feature_id).cloned()) {
            (SessionEnd::Finished(args), Some(feature)) => {
                proof_of(ctx, &feature, &s.active, &s.worktree.path, args, verdict.as_ref()).await
            }
            _ => Some(None),
        };
        proofs.push(proof);
    }

    let settled = merge_back(ctx, &slots, ends, proofs);
    for s in &slots {
        worktree::remove(&ctx.repo, &s.worktree);
    }
    ctx.state.set_active_features(&[]);
    ctx.save_state()?;
    let (halts, retries, paused) = settled?;
    if paused || !halts.is_empty() {
        return Ok(match halts.into_iter().next() {
            Some(halt) => Step::HaltWith(halt),
            None => Step::Pause,
        });
    }
    for (id, note) in retries {
        match run_attempts(ctx, &id, Attempt { n: 2, note: Some(note), feature_base: Some(base.clone()) }).await? {
            Step::Continue => {}
            step => return Ok(step),
        }
    }
    Ok(Step::Continue)
}

/// Settles a batch's sessions in queue order: handoffs written, completed work verified in
/// its worktree and merged. Returns the halts, the features to run once more (with what
/// their next session is told) and whether the run was paused.
#[allow(clippy::type_complexity)]
fn merge_back(
    ctx: &mut Ctx,
    slots: &[Slot],
    ends: Vec<(SessionOutcome, Option<Result<String, String>>)>,
    proofs: Vec<Option<Option<Proof>>>,
) -> Result<(Vec<super::run::Halt>, Vec<(String, String)>, bool), String> {
    let mut halts = Vec::new();
    let mut retries = Vec::new();
    let mut paused_run = false;
    for ((s, (outcome, verdict)), proof) in slots.iter().zip(ends).zip(proofs) {
        let id = s.active.feature_id.as_str();
        let handoff = match (&outcome.end, proof) {
            (SessionEnd::Finished(args), Some(proof)) => {
                handed_off(ctx, &outcome, args, id, s.milestone.as_deref(), &s.worktree.path, proof.as_ref())?
            }
            // Stopped while its proof ran: like a session the pause interrupted.
            (SessionEnd::Finished(_), None) | (SessionEnd::Cancelled, _) => {
                paused_run = true;
                paused(ctx, &s.active)?;
                continue;
            }
            (
                end @ (SessionEnd::TokenBudget { .. } | SessionEnd::CostBudget { .. } | SessionEnd::ProviderFailed(_)),
                _,
            ) => {
                let reason = end.reason();
                no_handoff(ctx, &s.active, &outcome, &reason)?;
                halts.push(super::run::Halt {
                    reason: format!("feature {id}: {reason}"),
                    retry_limit: false,
                    feature: Some(id.to_string()),
                });
                continue;
            }
            (end, _) => {
                // Its worktree (and so its changes) goes; the next session starts afresh.
                let reason = format!("the worker session ended without a handoff: {}", end.reason());
                no_handoff(ctx, &s.active, &outcome, &reason)?;
                retries.push((
                    id.to_string(),
                    format!("{reason}. Its changes were discarded; start again from the current commit."),
                ));
                continue;
            }
        };
        let state = handoff.success_state.as_deref().unwrap_or("failure");
        let verdict = match state {
            "success" => Some(
                verdict.unwrap_or_else(|| verify_completion(&s.worktree.path, &s.active.base_commit, &handoff, None)),
            ),
            "partial" => None,
            _ => {
                if let Settled::Done(Step::HaltWith(halt)) = settle(ctx, &s.active, &handoff, None)? {
                    halts.push(halt);
                }
                continue;
            }
        };
        if let Some(Err(_)) = &verdict {
            if let Settled::Done(Step::HaltWith(halt)) = settle(ctx, &s.active, &handoff, verdict)? {
                halts.push(halt);
            }
            continue;
        }
        // Completed or partial: its commits join the mission branch, in queue order.
        let made = git::commits_since(&s.worktree.path, &s.active.base_commit).map_err(|e| e.to_string())?;
        if !made.is_empty() {
            match worktree::merge(&ctx.repo, &s.worktree.branch, &format!("merge {id}"))
                .map_err(|e| format!("cannot merge feature {id}: {e}"))?
            {
                worktree::Merge::Merged(_) => {
                    // Merged, not yet recorded: a resume finds the merge (`run::recover_merged`).
                    super::failpoint::hit("after-merge");
                }
                worktree::Merge::Conflict(files) => {
                    ctx.log(completed_event(&handoff, false))?;
                    queue::back_to_pending(&ctx.mission, id)?;
                    ctx.log(Event::MergeConflict {
                        feature_id: id.to_string(),
                        worker_session_id: s.active.session_id.clone(),
                        files: files.clone(),
                    })?;
                    ctx.progress.update(Update::FeatureFinished { id, outcome: "merge conflict" });
                    halts.push(super::run::Halt { reason: format!("merge conflict: feature {id} conflicts with work merged before it in {}; it is pending again", files.join(", ")), retry_limit: false, feature: Some(id.to_string()) });
                    continue;
                }
            }
        }
        let proven = folder::read_proof(&ctx.mission, &handoff).is_none_or(|p| p.verdict != proof::Verdict::Refused);
        match verdict {
            Some(Ok(_)) if proven => {
                ctx.log(completed_event(&handoff, true))?;
                queue::complete(&ctx.mission, id, &s.active.session_id)?;
                ctx.progress.update(Update::FeatureFinished { id, outcome: "completed" });
            }
            _ => match settle(ctx, &s.active, &handoff, None)? {
                Settled::Retry(note) => retries.push((id.to_string(), note)),
                Settled::Done(Step::HaltWith(halt)) => halts.push(halt),
                Settled::Done(_) => {}
            },
        }
    }
    Ok((halts, retries, paused_run))
}
