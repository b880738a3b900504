//! One feature: a fresh worker session with only its context, the handoff written to
//! `handoffs/<sessionId>.json`, verified completion, and the feature's status written back.
//! A `partial` handoff (or a session that ended without one) gets one more fresh session;
//! `blocked`, a second `partial`, or a completion claim refused twice fails the feature.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::context::{self, WorkerContext};
use super::git;
use super::agents::SessionCall;
use super::progress::{ToolFeed, Update};
use super::queue::{self, Queue};
use super::run::{Ctx, Step};
use super::state::ActiveFeature;
use super::validate;
use super::verify::verify_completion;
use super::worktree::{self, Worktree};
use crate::agent::final_tool::{FinalDecision, FinalToolHandler};
use crate::agent::session::{NoSessionObserver, SessionEnd};
use crate::agent::transcript::new_session_id;
use crate::agent::SessionKind;
use crate::model::contract;
use crate::model::folder::{self, CONTRACT_FILE, HANDOFFS_DIR};
use crate::model::persist::write_json_atomic;
use crate::model::records::{self, Handoff};

/// A feature gets at most this many worker sessions.
pub const MAX_ATTEMPTS: u32 = 2;

pub fn handoff_path(mission: &Path, session_id: &str) -> PathBuf {
    mission.join(HANDOFFS_DIR).join(format!("{session_id}.json"))
}

pub fn read_handoff(mission: &Path, session_id: &str) -> Option<Handoff> {
    let text = folder::read_text(&handoff_path(mission, session_id)).ok()?;
    records::load::<Handoff>(&text).value
}

/// How a handed-off session ends for its feature.
enum Settled {
    Done(Step),
    /// Run the feature again in a fresh session, told this.
    Retry(String),
}

pub async fn run_feature(ctx: &mut Ctx, feature_id: &str) -> Result<Step, String> {
    // A handoff that reached the disk before a crash is settled, never redone.
    let next = match ctx.state.active_feature().filter(|a| a.feature_id == feature_id) {
        Some(active) => match read_handoff(&ctx.mission, &active.session_id) {
            Some(handoff) => match settle(ctx, &active, &handoff, None)? {
                Settled::Done(step) => return Ok(step),
                Settled::Retry(note) => (active.attempt + 1, Some(note)),
            },
            None => (active.attempt, active.note.clone()),
        },
        None => (1, None),
    };
    run_attempts(ctx, feature_id, next).await
}

/// Runs sessions of `feature_id` in the working directory from attempt `next.0` (told
/// `next.1` about the previous one) until the feature settles.
async fn run_attempts(ctx: &mut Ctx, feature_id: &str, mut next: (u32, Option<String>)) -> Result<Step, String> {
    loop {
        let (attempt, note) = next;
        let queue = Queue::load(&ctx.mission)?;
        let feature = queue.feature(feature_id).ok_or_else(|| format!("feature `{feature_id}` is no longer in features.json"))?.clone();
        let milestone = feature.milestone().unwrap_or_default().to_string();
        let base = git::head(&ctx.repo).map_err(|e| e.to_string())?;
        let session_id = new_session_id();
        let active = ActiveFeature { feature_id: feature_id.to_string(), session_id: session_id.clone(), base_commit: base.clone(), attempt, note: note.clone(), worktree: None };
        ctx.state.set_active_feature(Some(&active));
        ctx.state.state.status = "running".into();
        ctx.state.state.current_milestone = Some(milestone.clone());
        ctx.save_state()?;
        let mut sessions: Vec<Value> = feature.worker_session_ids.iter().map(|s| Value::String(s.value.clone())).collect();
        sessions.push(Value::String(session_id.clone()));
        queue::update(&ctx.mission, feature_id, &[("status", json!("in_progress")), ("workerSessionIds", Value::Array(sessions))])?;
        ctx.log("feature_started", json!({"featureId": feature_id, "sessionId": session_id, "milestone": milestone, "attempt": attempt, "baseCommit": base}))?;
        let (done, total) = counts(&queue, &milestone);
        ctx.progress.update(Update::FeatureStarted { id: feature_id, attempt, done, total });

        let task = build_task(ctx, &queue, feature_id, note.as_deref())?;
        let mut check = HandoffCheck { repo: ctx.repo.clone(), base: base.clone(), feature_id: feature_id.to_string(), mission_rel: ctx.mission_rel.clone(), refused: 0, verdict: None };
        let details = json!({"featureId": feature_id, "milestone": milestone, "attempt": attempt});
        let outcome = ctx.agents.run(SessionCall { kind: SessionKind::Worker, session_id: &session_id, task, details }, &mut check, &ctx.cancel, &mut ToolFeed { progress: &mut *ctx.progress }).await;
        match outcome.end {
            SessionEnd::Finished(value) => {
                let handoff: Handoff = serde_json::from_value(value.clone()).map_err(|e| format!("the accepted handoff does not read back: {e}"))?;
                let path = handoff_path(&ctx.mission, &session_id);
                std::fs::create_dir_all(path.parent().unwrap_or(&ctx.mission)).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
                write_json_atomic(&path, &value).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                ctx.log("handoff_received", json!({"featureId": feature_id, "sessionId": session_id, "status": handoff.status}))?;
                match settle(ctx, &active, &handoff, check.verdict.take())? {
                    Settled::Done(step) => return Ok(step),
                    Settled::Retry(note) => next = (attempt + 1, Some(note)),
                }
            }
            SessionEnd::Cancelled => return Ok(Step::Pause),
            end @ (SessionEnd::TokenBudget { .. } | SessionEnd::ProviderFailed(_)) => return Ok(Step::Halt(format!("feature {feature_id}: {}", end.reason()))),
            end => {
                // The session's state is unknown: its changes go, like an interrupted one's.
                git::discard_changes(&ctx.repo, &base, ctx.mission_rel.as_deref()).map_err(|e| e.to_string())?;
                let reason = format!("the worker session ended without a handoff: {}", end.reason());
                if attempt >= MAX_ATTEMPTS {
                    return fail(ctx, &active, "failed", &reason).map(Settled::into_step);
                }
                next = (attempt + 1, Some(format!("{reason}. Its changes were discarded; start again from the current commit.")));
            }
        }
    }
}

impl Settled {
    fn into_step(self) -> Step {
        match self {
            Settled::Done(step) => step,
            Settled::Retry(note) => Step::Halt(note),
        }
    }
}

/// Decides what a handoff means for its feature and writes it down.
fn settle(ctx: &mut Ctx, active: &ActiveFeature, handoff: &Handoff, verdict: Option<Result<String, String>>) -> Result<Settled, String> {
    match handoff.status.as_deref() {
        Some("completed") => {
            let verdict = verdict.unwrap_or_else(|| verify_completion(&ctx.repo, &active.base_commit, handoff, ctx.mission_rel.as_deref()));
            match verdict {
                Ok(commit) => {
                    queue::set_status(&ctx.mission, &active.feature_id, "completed")?;
                    ctx.log("feature_completed", json!({"featureId": active.feature_id, "sessionId": active.session_id, "commitId": commit}))?;
                    ctx.state.set_active_feature(None);
                    ctx.save_state()?;
                    ctx.progress.update(Update::FeatureFinished { id: &active.feature_id, outcome: "completed" });
                    Ok(Settled::Done(Step::Continue))
                }
                Err(reason) => fail(ctx, active, "failed", &format!("its handoff claimed completion, refused twice: {reason}")),
            }
        }
        Some("partial") if active.attempt < MAX_ATTEMPTS => {
            ctx.progress.update(Update::FeatureFinished { id: &active.feature_id, outcome: "partial, running it once more" });
            Ok(Settled::Retry(partial_note(handoff)))
        }
        Some("partial") => fail(ctx, active, "failed", &format!("a second partial handoff; left undone: {}", handoff.what_was_left_undone.trim())),
        Some("blocked") => fail(ctx, active, "blocked", handoff.blocked_reason.as_deref().unwrap_or("no reason given").trim()),
        other => fail(ctx, active, "failed", &format!("a handoff with status {other:?}")),
    }
}

fn partial_note(handoff: &Handoff) -> String {
    format!("A previous session handed off partial work ({}). What it left undone, which is your task now:\n{}", handoff.salient_summary.trim(), handoff.what_was_left_undone.trim())
}

fn fail(ctx: &mut Ctx, active: &ActiveFeature, status: &str, reason: &str) -> Result<Settled, String> {
    queue::set_status(&ctx.mission, &active.feature_id, status)?;
    ctx.log("feature_failed", json!({"featureId": active.feature_id, "sessionId": active.session_id, "status": status, "reason": reason}))?;
    ctx.state.set_active_feature(None);
    ctx.save_state()?;
    ctx.progress.update(Update::FeatureFinished { id: &active.feature_id, outcome: status });
    Ok(Settled::Done(Step::Halt(format!("feature {} {status}: {reason}; {}", active.feature_id, super::schedule::RETRY_HINT))))
}

fn counts(queue: &Queue, _milestone: &str) -> (usize, usize) {
    let live: Vec<_> = queue.file.features.iter().filter(|f| !f.is_cancelled()).collect();
    (live.iter().filter(|f| f.status() == Some("completed")).count(), live.len())
}

fn build_task(ctx: &Ctx, queue: &Queue, feature_id: &str, note: Option<&str>) -> Result<String, String> {
    let feature = queue.feature(feature_id).ok_or_else(|| format!("no feature `{feature_id}`"))?;
    let contract_path = ctx.mission.join(CONTRACT_FILE);
    let contract_text = folder::read_text(&contract_path).map_err(|e| format!("{}: {e}", contract_path.display()))?;
    let contract = contract::parse(&contract_text);
    let fixes: Vec<String> = feature.fixes.iter().map(|s| s.value.clone()).collect();
    let issues = if fixes.is_empty() { Vec::new() } else { validate::find_issues(&ctx.mission, feature.milestone().unwrap_or_default(), &fixes) };
    Ok(context::worker_task(&WorkerContext { mission_dir: &ctx.mission, feature, feature_raw: queue.raw(feature), contract_text: &contract_text, contract: &contract, issues: &issues, previous: note }))
}

/// Checks `submit_handoff` inside the session: the feature id, and for a completion claim
/// the git facts. The first refusal goes back to the worker with the reason; the second is
/// accepted and recorded as the verdict, which fails the feature.
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
        let Ok(handoff) = serde_json::from_value::<Handoff>(args.clone()) else {
            return FinalDecision::Reject("not a handoff; call submit_handoff with the handoff fields".into());
        };
        if handoff.feature_id.as_deref() != Some(self.feature_id.as_str()) {
            return FinalDecision::Reject(format!("`featureId` must be \"{}\", the feature of this session", self.feature_id));
        }
        if handoff.status.as_deref() != Some("completed") {
            return FinalDecision::Accept(args.clone());
        }
        match verify_completion(&self.repo, &self.base, &handoff, self.mission_rel.as_deref()) {
            Ok(commit) => {
                self.verdict = Some(Ok(commit));
                FinalDecision::Accept(args.clone())
            }
            Err(reason) if self.refused == 0 => {
                self.refused += 1;
                FinalDecision::Reject(format!("handoff refused: {reason}. Fix this and call submit_handoff again; a second refusal fails the feature."))
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
    milestone: String,
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
        let active = ActiveFeature { feature_id: id.clone(), session_id: new_session_id(), base_commit: base.clone(), attempt: 1, note: None, worktree: Some(worktree.path.display().to_string()) };
        let task = build_task(ctx, &queue, id, None)?;
        slots.push(Slot { active, worktree, milestone: feature.milestone().unwrap_or_default().to_string(), task });
    }
    // Written before any session starts: a resume removes the worktrees and resets these.
    let actives: Vec<ActiveFeature> = slots.iter().map(|s| s.active.clone()).collect();
    ctx.state.set_active_features(&actives);
    ctx.state.state.status = "running".into();
    ctx.save_state()?;
    for s in &slots {
        let (id, session_id) = (&s.active.feature_id, &s.active.session_id);
        let mut sessions: Vec<Value> = queue.feature(id).map(|f| f.worker_session_ids.iter().map(|s| Value::String(s.value.clone())).collect()).unwrap_or_default();
        sessions.push(Value::String(session_id.clone()));
        queue::update(&ctx.mission, id, &[("status", json!("in_progress")), ("workerSessionIds", Value::Array(sessions))])?;
        ctx.log("feature_started", json!({"featureId": id, "sessionId": session_id, "milestone": s.milestone, "attempt": 1, "baseCommit": base, "worktreeBranch": s.worktree.branch}))?;
        let (done, total) = counts(&queue, &s.milestone);
        ctx.progress.update(Update::FeatureStarted { id, attempt: 1, done, total });
    }

    let (agents, cancel) = (&ctx.agents, &ctx.cancel);
    let sessions = slots.iter().map(|s| async move {
        let mut check = HandoffCheck { repo: s.worktree.path.clone(), base: s.active.base_commit.clone(), feature_id: s.active.feature_id.clone(), mission_rel: None, refused: 0, verdict: None };
        let details = json!({"featureId": s.active.feature_id, "milestone": s.milestone, "attempt": 1, "worktreeBranch": s.worktree.branch});
        let call = SessionCall { kind: SessionKind::Worker, session_id: &s.active.session_id, task: s.task.clone(), details };
        let outcome = agents.run_in(&s.worktree.path, call, &mut check, cancel, &mut NoSessionObserver).await;
        (outcome.end, check.verdict)
    });
    let ends = futures::future::join_all(sessions).await;

    let settled = merge_back(ctx, &slots, ends);
    for s in &slots {
        worktree::remove(&ctx.repo, &s.worktree);
    }
    ctx.state.set_active_features(&[]);
    ctx.save_state()?;
    let (halts, retries, paused) = settled?;
    if paused || !halts.is_empty() {
        for (id, _) in &retries {
            queue::set_status(&ctx.mission, id, "pending")?;
        }
        return Ok(if halts.is_empty() { Step::Pause } else { Step::Halt(halts.join("; ")) });
    }
    for (id, note) in retries {
        match run_attempts(ctx, &id, (2, Some(note))).await? {
            Step::Continue => {}
            step => return Ok(step),
        }
    }
    Ok(Step::Continue)
}

/// Settles a batch's sessions in queue order: handoffs written, completed work verified in
/// its worktree and merged. Returns the halt reasons, the features to run once more (with
/// what their next session is told) and whether the run was paused.
#[allow(clippy::type_complexity)]
fn merge_back(ctx: &mut Ctx, slots: &[Slot], ends: Vec<(SessionEnd, Option<Result<String, String>>)>) -> Result<(Vec<String>, Vec<(String, String)>, bool), String> {
    let mut halts = Vec::new();
    let mut retries = Vec::new();
    let mut paused = false;
    for (s, (end, verdict)) in slots.iter().zip(ends) {
        let (id, session_id) = (s.active.feature_id.as_str(), s.active.session_id.as_str());
        let handoff = match end {
            SessionEnd::Finished(value) => {
                let handoff: Handoff = serde_json::from_value(value.clone()).map_err(|e| format!("the accepted handoff does not read back: {e}"))?;
                let path = handoff_path(&ctx.mission, session_id);
                std::fs::create_dir_all(path.parent().unwrap_or(&ctx.mission)).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
                write_json_atomic(&path, &value).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                ctx.log("handoff_received", json!({"featureId": id, "sessionId": session_id, "status": handoff.status}))?;
                handoff
            }
            SessionEnd::Cancelled => {
                paused = true;
                queue::set_status(&ctx.mission, id, "pending")?;
                continue;
            }
            end @ (SessionEnd::TokenBudget { .. } | SessionEnd::ProviderFailed(_)) => {
                queue::set_status(&ctx.mission, id, "pending")?;
                halts.push(format!("feature {id}: {}", end.reason()));
                continue;
            }
            end => {
                // Its worktree (and so its changes) goes; the next session starts afresh.
                retries.push((id.to_string(), format!("the worker session ended without a handoff: {}. Its changes were discarded; start again from the current commit.", end.reason())));
                continue;
            }
        };
        let verdict = match handoff.status.as_deref() {
            Some("completed") => Some(verdict.unwrap_or_else(|| verify_completion(&s.worktree.path, &s.active.base_commit, &handoff, None))),
            Some("partial") => None,
            _ => {
                if let Settled::Done(Step::Halt(reason)) = settle(ctx, &s.active, &handoff, None)? {
                    halts.push(reason);
                }
                continue;
            }
        };
        if let Some(Err(reason)) = verdict {
            if let Settled::Done(Step::Halt(reason)) = fail(ctx, &s.active, "failed", &format!("its handoff claimed completion, refused twice: {reason}"))? {
                halts.push(reason);
            }
            continue;
        }
        // Completed or partial: its commits join the mission branch, in queue order.
        let made = git::commits_since(&s.worktree.path, &s.active.base_commit).map_err(|e| e.to_string())?;
        let merged = if made.is_empty() {
            None
        } else {
            match worktree::merge(&ctx.repo, &s.worktree.branch, &format!("merge {id}")).map_err(|e| format!("cannot merge feature {id}: {e}"))? {
                worktree::Merge::Merged(commit) => {
                    // Merged, not yet recorded: a resume finds the merge (`run::recover_merged`).
                    super::failpoint::hit("after-merge");
                    Some(commit)
                }
                worktree::Merge::Conflict(files) => {
                    queue::set_status(&ctx.mission, id, "pending")?;
                    ctx.log("merge_conflict", json!({"featureId": id, "sessionId": session_id, "files": files}))?;
                    ctx.progress.update(Update::FeatureFinished { id, outcome: "merge conflict" });
                    halts.push(format!("merge conflict: feature {id} conflicts with work merged before it in {}; it is pending again", files.join(", ")));
                    continue;
                }
            }
        };
        match verdict {
            Some(Ok(commit)) => {
                queue::set_status(&ctx.mission, id, "completed")?;
                ctx.log("feature_completed", json!({"featureId": id, "sessionId": session_id, "commitId": commit, "mergeCommit": merged}))?;
                ctx.progress.update(Update::FeatureFinished { id, outcome: "completed" });
            }
            _ if s.active.attempt < MAX_ATTEMPTS => {
                ctx.progress.update(Update::FeatureFinished { id, outcome: "partial, running it once more" });
                retries.push((id.to_string(), partial_note(&handoff)));
            }
            _ => {
                if let Settled::Done(Step::Halt(reason)) = settle(ctx, &s.active, &handoff, None)? {
                    halts.push(reason);
                }
            }
        }
    }
    Ok((halts, retries, paused))
}
