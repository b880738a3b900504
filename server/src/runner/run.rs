//! `missions run`: the state machine of design §6, playing droid's runner on a mission folder
//! in droid's format (one `missions new` made, or one droid planned or paused). Every
//! transition is written to disk (state.json, features.json, progress_log.jsonl) before it is
//! acted on, so a run killed at any point resumes where the files say.

use std::path::{Path, PathBuf};

use super::agents::Agents;
use super::events::Journal;
use super::fix;
use super::git;
use super::locate;
use super::lock::{LockError, RunLock};
use super::progress::{Progress, Update};
use super::queue::{self, Queue};
use super::schedule::{self, Facts, Next};
use super::state::StateStore;
use super::validate;
use super::worker;
use super::worktree;
use crate::agent::final_tool::lint_plan_with;
use crate::agent::CancellationToken;
use crate::config::{find_config, AgentRole, EditorSettings, MissionsConfig};
use crate::model::folder::{self, CONTRACT_FILE, FEATURES_FILE};
use crate::model::progress_log::{self, Event};
use crate::model::records::MissionStatus;
use RunOutcome::{AwaitingPerson, Completed, Failed, Halted, Paused, Refused};

/// How a run ended (design §6). `missions run` turns it into its exit status
/// (`cli::run::exit_code`); the editor into its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// Every assertion passed (or the mission had already completed).
    Completed,
    /// The mission stopped on a failure the person must look at; a resume continues.
    Halted,
    /// Paused by the person (Ctrl-C, the editor), or after the one step a targeted run did.
    Paused,
    /// The plan waits for the person's approval, or the planner for their answers.
    AwaitingPerson,
    /// The editor cancelled the mission (`runner::control`).
    Cancelled,
    /// Nothing ran: the mission, its state or the repository does not allow it (a usage error).
    Refused,
    /// The runner itself failed (an I/O error, a panic).
    Failed,
}

pub struct RunOptions {
    pub cwd: PathBuf,
    pub mission: Option<PathBuf>,
    /// Answers the approval gate.
    pub yes: bool,
    /// Whether the planner may ask the person (`ask_user`). `missions run --yes` withholds it;
    /// the editor approves the plan but still lets the planner ask (answers resume on save).
    pub allow_questions: bool,
    /// Who drives the run; the progress log says so when it approves or pauses.
    pub origin: Origin,
    /// The whole loop, or one step of it.
    pub target: Target,
    /// The editor's `missions.*` settings, layered over missions.toml (or standing alone
    /// when there is none); `None` for `missions run` and `missions demo`.
    pub settings: Option<EditorSettings>,
}

/// What a run does: the loop until the mission ends, or one step of it now (the editor's
/// `missions.runFeature` and `missions.validateMilestone`), after which the run stops
/// `paused` (or `completed` when that step finished the mission, or `halted` when it failed).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Target {
    #[default]
    All,
    /// Run this feature (a pending, failed or blocked one whose dependencies completed; a
    /// failed or blocked one is reset to pending first).
    Feature(String),
    /// Run a validation round of this milestone (every feature of it completed).
    Milestone(String),
}

/// Who started a run: `missions run` in a terminal, or the editor through the language server
/// (with the command that started it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Terminal,
    Editor { command: &'static str },
}

impl Origin {
    /// Who approved the plan, for `plan_approved`'s `by`.
    fn approval(self, yes: bool) -> &'static str {
        match (self, yes) {
            (_, false) => "auto_approve",
            (Origin::Terminal, true) => "--yes",
            (Origin::Editor { command }, true) => command,
        }
    }

    fn pause_reason(self) -> &'static str {
        match self {
            Origin::Terminal => "interrupted in the terminal (Ctrl-C, SIGTERM or a closed terminal)",
            Origin::Editor { .. } => "paused from the editor",
        }
    }
}

/// How a run ended, and a sentence for the person.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    pub outcome: RunOutcome,
    pub message: String,
}

impl RunResult {
    pub fn new(outcome: RunOutcome, message: impl Into<String>) -> Self {
        RunResult { outcome, message: message.into() }
    }
}

/// What the loop does after a step.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Continue,
    Pause,
    AwaitingAnswers,
    Halt(String),
    /// A halt that names its feature and whether the feature used up its sessions.
    HaltWith(Halt),
}

/// Why the mission stops and waits for the person.
#[derive(Debug, Clone, PartialEq)]
pub struct Halt {
    pub reason: String,
    /// The feature used up its sessions: droid's `feature_retry_limit_exceeded` pause.
    pub retry_limit: bool,
    pub feature: Option<String>,
}

impl From<String> for Halt {
    fn from(reason: String) -> Halt {
        Halt { reason, retry_limit: false, feature: None }
    }
}

/// Everything a running loop holds.
pub struct Ctx {
    pub origin: Origin,
    pub mission: PathBuf,
    pub repo: PathBuf,
    /// The mission folder relative to the repository (`.missions/x/`), when inside it.
    pub mission_rel: Option<String>,
    pub state: StateStore,
    pub journal: Journal,
    pub agents: Agents,
    pub cancel: CancellationToken,
    pub progress: Box<dyn Progress>,
    /// Keeps `run-progress.json` up to date while the run lasts.
    pub live: super::live::LiveGuard,
    /// The MISSION argument the person's next `missions run` needs (`None` when it is the
    /// only mission where they are, which the command finds alone).
    pub named: Option<String>,
}

impl Ctx {
    /// The command that continues this mission: `missions run --yes .missions/x`.
    pub fn rerun(&self, flags: &str) -> String {
        let parts: Vec<&str> =
            ["missions run", flags].into_iter().chain(self.named.as_deref()).filter(|p| !p.is_empty()).collect();
        parts.join(" ")
    }

    pub fn save_state(&mut self) -> Result<(), String> {
        self.state.save().map_err(|e| format!("cannot write state.json: {e}"))
    }

    pub fn log(&mut self, event: Event) -> Result<(), String> {
        self.journal.log(event).map(|_| ()).map_err(|e| format!("cannot append to progress_log.jsonl: {e}"))
    }
}

/// The one entry point of the mission loop, for `missions run` (cli/run.rs), `missions demo`
/// and the language server's mission task (lsp/mission_task.rs): `progress` observes the run
/// (display updates and, through [`Progress::events`], every progress_log event), `cancel`
/// pauses it cleanly.
pub async fn run(opts: RunOptions, progress: Box<dyn Progress>, cancel: CancellationToken) -> RunResult {
    let mission = match locate::locate(&opts.cwd, opts.mission.as_deref()) {
        Ok(m) => m,
        Err(e) => return RunResult::new(Refused, e.to_string()),
    };
    let _lock = match RunLock::acquire(&mission) {
        Ok(l) => l,
        Err(e @ LockError::Held { .. }) => return RunResult::new(Refused, e.to_string()),
        Err(e) => return RunResult::new(Failed, e.to_string()),
    };
    // What the agents of a killed run left running stops before anything else happens.
    crate::agent::processes::kill_orphans(&mission);
    let (mut ctx, auto_approve) = match open(&opts, &mission, progress, cancel) {
        Ok(opened) => opened,
        Err(result) => return result,
    };
    let result = match plan_then_drive(&opts, &mut ctx, auto_approve).await {
        Ok(result) => result,
        Err(e) => halt_on_error(&mut ctx, &e),
    };
    ctx.progress.finish();
    result
}

/// Plans when the plan is missing (design §6: questions, contract, features, shared files,
/// lint until clean), then passes the approval gate and runs the loop.
async fn plan_then_drive(opts: &RunOptions, ctx: &mut Ctx, auto_approve: bool) -> Result<RunResult, String> {
    // One mission at a time per repository: they share its working tree and branches.
    let repository_lock = match repository_lock(ctx) {
        Ok(lock) => lock,
        Err(result) => return Ok(result),
    };
    // A runner killed with its git commands (SIGKILL to the group, a crash) can leave git's
    // own lock files, which would fail every commit of this run.
    if repository_lock.took_over_from_a_dead_runner() {
        if let Ok(git_dir) = git::common_dir(&ctx.repo) {
            for lock in git::remove_stale_git_locks(&git_dir, &ctx.repo) {
                tracing::warn!("removing {} (left by a git command of the run that died)", lock.display());
            }
        }
    }
    // Found now, before planning or the approval gate, not after a session has been paid for
    // and cannot commit.
    if let Some(lock) = git::index_lock(&ctx.repo) {
        return Ok(RunResult::new(Refused, format!("git's index is locked ({} exists): another git command is running, or one crashed and left it; remove the file if no git command is running, then run the mission again", lock.display())));
    }
    if super::plan::needs_plan(&ctx.mission) || planning_interrupted(ctx) {
        // Nothing starts on a dirty tree, planning included (design §6).
        if let Err(refusal) = refuse_dirt(&ctx.repo, ctx.mission_rel.as_deref()) {
            return Ok(refusal);
        }
        match super::plan::plan(ctx).await? {
            Step::Continue => {}
            Step::Pause => return pause(ctx),
            Step::AwaitingAnswers => {
                let open = crate::model::questions::unanswered(
                    &std::fs::read_to_string(ctx.mission.join(folder::MISSION_FILE)).unwrap_or_default(),
                );
                return Ok(RunResult::new(AwaitingPerson, format!("the orchestrator has {open} unanswered question(s) under `## Questions` in {}; write each answer on its `A:` line, then run `{}` again (or `{}` to plan without answers)", ctx.mission.join(folder::MISSION_FILE).display(), ctx.rerun(""), ctx.rerun("--yes"))));
            }
            Step::Halt(reason) => return halt(ctx, reason.into()),
            Step::HaltWith(h) => return halt(ctx, h),
        }
    }
    if let Err(reason) = super::control::refuse_target(&ctx.mission, &opts.target) {
        return Ok(RunResult::new(Refused, reason));
    }
    // A plan waiting for approval: its `Check:` commands run on the base first, so a vacuous
    // one is shown before anyone approves it.
    let base_checks = if needs_approval(ctx.state.status(), &PlanRecord::read(&ctx.mission)) {
        plan_base_checks(ctx).await
    } else {
        None
    };
    if let Err(result) = start(opts, ctx, auto_approve, base_checks.as_ref()) {
        return Ok(result);
    }
    drive(ctx, &opts.target).await
}

/// The plan's `Check:` commands on the commit the mission starts from (cached by command and
/// commit), for the approval gate; `None` when there are none or they cannot run (said).
async fn plan_base_checks(ctx: &mut Ctx) -> Option<crate::analysis::checks::base::BaseChecks> {
    use super::base_checks;
    let text = folder::read_text(&ctx.mission.join(CONTRACT_FILE)).ok()?;
    let commands = base_checks::commands(&crate::model::contract::parse(&text));
    if commands.is_empty() {
        return None;
    }
    let base = match base_checks::mission_base(&ctx.mission) {
        Ok(b) => b,
        Err(e) => {
            ctx.progress.update(Update::Note(&format!("the `Check:` commands were not run on the base: {e}")));
            return None;
        }
    };
    let options = base_checks::Options::from_config(Some(&ctx.agents.config));
    let (_, missing) = base_checks::cached(&base, &commands, options.timeout);
    if !missing.is_empty() {
        ctx.progress.update(Update::Note(&format!(
            "running {} `Check:` command(s) on the base commit {} before the plan is approved",
            missing.len(),
            base.commit.get(..10).unwrap_or(&base.commit)
        )));
    }
    let cancel = ctx.cancel.clone();
    match base_checks::check(&base, &ctx.mission, &commands, &options, &cancel, &mut |_, _| {}).await {
        Ok((checks, _)) => Some(checks),
        Err(e) => {
            ctx.progress.update(Update::Note(&format!("the `Check:` commands were not run on the base: {e}")));
            None
        }
    }
}

/// Reads what a run needs: the state, the repository, missions.toml and the agents.
fn open(
    opts: &RunOptions,
    mission: &Path,
    progress: Box<dyn Progress>,
    cancel: CancellationToken,
) -> Result<(Ctx, bool), RunResult> {
    let usage = |m: String| RunResult::new(Refused, m);
    let repo = folder::working_directory(mission).ok_or_else(|| {
        usage(format!(
            "{} names no working directory (working_directory.txt) and is not inside a git repository",
            mission.display()
        ))
    })?;
    let repo = repo.canonicalize().map_err(|e| usage(format!("the working directory {}: {e}", repo.display())))?;
    let mut state = StateStore::load(mission, &repo).map_err(usage)?;
    match super::control::refusal(&state.state.mission_id, state.status(), &super::control::Launch::Start) {
        Some(_) if state.status() == MissionStatus::Completed => {
            // A kill between `mission_completed` and state.json's `completed` cannot happen (the
            // event is written first); an older run's state without its event gets it now.
            let mut journal = Journal::open(mission);
            let _ = journal.log(Event::MissionCompleted {});
            return Err(RunResult::new(Completed, format!("mission {} is already completed", state.state.mission_id)));
        }
        Some(reason) => return Err(usage(reason)),
        None => {}
    }
    if state.state.working_directory.is_empty() {
        state.state.working_directory = repo.display().to_string();
    }
    if git::head(&repo).is_err() {
        return Err(usage(format!("{} is not a git repository with a commit; commit something first (missions work on a branch made from HEAD)", repo.display())));
    }
    let (config, config_origin) = configuration(opts, &repo).map_err(usage)?;
    let auto_approve = config.auto_approve;
    let mut agents = Agents::new(config, &state.state.mission_id, mission, &repo, &AgentRole::ALL)
        .map_err(|e| usage(format!("{config_origin}: {e}")))?;
    agents.allow_questions = opts.allow_questions;
    let journal = Journal::open_with(mission, progress.events());
    let mission_rel = git::mission_in_repo(mission, &repo);
    let named = naming(&opts.cwd, mission);
    let budgets = crate::analysis::cost::Budgets {
        max_tokens: agents.config.limits.max_tokens_per_mission,
        max_cost: agents.config.limits.max_cost,
    };
    let live =
        agents.live.start(mission, agents.usage.clone(), agents.config.prices.clone(), budgets, progress.spend());
    Ok((
        Ctx {
            origin: opts.origin,
            mission: mission.to_path_buf(),
            repo,
            mission_rel,
            state,
            journal,
            agents,
            cancel,
            progress,
            live,
            named,
        },
        auto_approve,
    ))
}

/// How the person names `mission` in their next command from `cwd`: nothing when it is the
/// only mission found there, else its path (relative to `cwd` when inside it).
fn naming(cwd: &Path, mission: &Path) -> Option<String> {
    let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    if locate::locate(cwd, None).is_ok_and(|only| canonical(&only) == canonical(mission)) {
        return None;
    }
    let (cwd, mission) = (canonical(cwd), canonical(mission));
    let shown =
        mission.strip_prefix(&cwd).map_or_else(|_| mission.display().to_string(), |rel| rel.display().to_string());
    // A path with a space or a quote is quoted for a POSIX shell.
    Some(if shown.chars().all(|c| c.is_alphanumeric() || "/._-+~".contains(c)) {
        shown
    } else {
        format!("'{}'", shown.replace('\'', "'\\''"))
    })
}

/// missions.toml (found from the working directory, else the repository), with the editor's
/// settings over it when the run has them, or the settings alone when there is no file; and
/// what to call that configuration in errors.
fn configuration(opts: &RunOptions, repo: &Path) -> Result<(MissionsConfig, String), String> {
    let path = find_config(&opts.cwd).or_else(|| find_config(repo));
    let settings = opts.settings.as_ref().filter(|s| !s.is_empty());
    match (path, settings) {
        (Some(path), None) => Ok((MissionsConfig::load(&path).map_err(|e| e.to_string())?, path.display().to_string())),
        (Some(path), Some(settings)) => {
            let file = path.display().to_string();
            let config = MissionsConfig::load(&path).map_err(|e| e.to_string())?.with_settings(settings, &file).map_err(|e| e.to_string())?;
            Ok((config, format!("{file} with the missions.* settings")))
        }
        (None, Some(settings)) => {
            let config = MissionsConfig::from_settings(settings).map_err(|e| e.to_string())?;
            let missing: Vec<&str> = AgentRole::ALL.into_iter().filter(|r| config.role(*r).is_err()).map(AgentRole::as_str).collect();
            if !missing.is_empty() {
                return Err(format!("no missions.toml from {} up to the git top level, and the missions.* settings do not configure the {} role: set missions.roles.<role>.provider (and model) for it, or add missions.toml", opts.cwd.display(), missing.join(", ")));
            }
            Ok((config, "the missions.* settings".to_string()))
        }
        (None, None) => Err(format!("no missions.toml from {} up to the git top level: it says which model each role uses ([roles.orchestrator], [roles.worker], [roles.validator])", opts.cwd.display())),
    }
}

/// Features a parallel worker completed and merged into the mission branch just before a
/// crash (the merge commit exists; features.json does not say so yet): their handoff is
/// verified again in the worktree, and they are completed instead of run again.
fn recover_merged(
    mission: &Path,
    repo: &Path,
    branch: &str,
    state: &StateStore,
    journal: &mut Journal,
) -> Result<Vec<String>, String> {
    let mut recovered = Vec::new();
    for active in state.active_features().into_iter().filter(|a| a.worktree.is_some()) {
        let wt_branch = worktree::branch(branch, &active.feature_id);
        let Some(tip) = git::resolve_commit(repo, &wt_branch) else { continue };
        let merged =
            tip != active.base_commit && git::git(repo, &["merge-base", "--is-ancestor", &wt_branch, branch]).is_ok();
        let handoff = super::handoffs::of_session(mission, &active.session_id)
            .filter(|h| h.success_state.as_deref() == Some("success"));
        let (true, Some(handoff), Some(path)) = (merged, handoff, active.worktree.as_deref()) else { continue };
        if super::verify::verify_completion(Path::new(path), &active.base_commit, &handoff, None).is_err() {
            continue;
        }
        let mut completed = worker::completed(&handoff, true);
        completed.recovered = Some(true);
        journal
            .log(Event::WorkerCompleted(Box::new(completed)))
            .map_err(|e| format!("cannot append to progress_log.jsonl: {e}"))?;
        queue::complete(mission, &active.feature_id, &active.session_id)?;
        recovered.push(active.feature_id);
    }
    Ok(recovered)
}

/// Checks everything that can be checked before work starts (the plan's lint, the approval
/// gate, a clean tree), resumes an interrupted run's bookkeeping, and puts the repository on
/// the mission's branch. The person's work is never destroyed: when HEAD is elsewhere, the
/// dirty check comes before the checkout, and an interrupted worker's leftovers are cleared
/// only on the mission branch, set aside (a stash, a ref) rather than deleted.
fn start(
    opts: &RunOptions,
    ctx: &mut Ctx,
    auto_approve: bool,
    base_checks: Option<&crate::analysis::checks::base::BaseChecks>,
) -> Result<(), RunResult> {
    let usage = |m: String| RunResult::new(Refused, m);
    let internal = |m: String| RunResult::new(Failed, m);
    let rerun = ctx.rerun("--yes");
    let Ctx { mission, repo, mission_rel, state, journal, progress, .. } = ctx;
    let (mission, repo, mission_rel) = (mission.as_path(), repo.as_path(), mission_rel.clone());
    // A fix session cut between two of its edits leaves a plan that may not lint: it runs
    // again first and must leave the plan clean (`submit_plan` lints), so it is not refused.
    let warnings = match lint_plan_with(mission, base_checks) {
        Ok(warnings) => warnings,
        Err(problem) if state.active_fix().is_none() => return Err(usage(problem.for_person(mission))),
        Err(_) => {
            progress.update(Update::Note("features.json does not lint: an interrupted fix session left it so; a fresh fix session repairs it first"));
            Vec::new()
        }
    };
    // Checks that prove nothing yet (they pass on the base, or cannot run): said at approval.
    let vacuous: Vec<String> = warnings
        .into_iter()
        .filter(|w| w.contains("[check-passes-on-base]") || w.contains("[check-cannot-run]"))
        .collect();
    let approving = needs_approval(state.status(), &PlanRecord::read(mission));
    if approving && !vacuous.is_empty() {
        journal.log(Event::PlanChecks { warnings: vacuous.clone() }).map_err(|e| internal(e.to_string()))?;
    }
    if approving && !(opts.yes || auto_approve) {
        state.set_status(MissionStatus::AwaitingApproval);
        state.save().map_err(|e| internal(e.to_string()))?;
        journal.log(Event::PlanSubmitted { session_id: None, warnings: None }).map_err(|e| internal(e.to_string()))?;
        let mut message = format!(
            "the plan is ready for review ({} and {} in {}); run `{rerun}` to approve it and start",
            CONTRACT_FILE,
            FEATURES_FILE,
            mission.display()
        );
        if !vacuous.is_empty() {
            message.push_str(&format!(
                "\n{} `Check:` command(s) prove nothing yet:\n  {}",
                vacuous.len(),
                vacuous.join("\n  ")
            ));
        }
        return Err(RunResult::new(AwaitingPerson, message));
    }
    if approving {
        for w in &vacuous {
            progress.update(Update::Note(w));
        }
    }
    // Every assertion gets its entry (pending), as droid's planner writes validation-state.json.
    super::validate::ensure_state(mission).map_err(usage)?;
    // The plan's milestone order, before the queue starts to move.
    if state.state.milestones.is_empty() {
        if let Ok(queue) = Queue::load(mission) {
            state.state.milestones = queue.file.milestones().into_iter().map(str::to_string).collect();
        }
    }

    remove_torn_temporaries(mission);
    let slug = branch_slug(mission, repo);
    // A first start makes its own branch from HEAD: an old mission's branch of the same name
    // is never reused (design §6).
    let branch = match state.branch() {
        Some(recorded) => {
            recreate_missing_branch(repo, &recorded, state)?;
            recorded
        }
        None => fresh_branch(repo, &slug),
    };
    // A parallel feature merged just before a crash keeps its merge instead of running again.
    recover_merged(mission, repo, &branch, state, journal).map_err(internal)?;
    // Parallel workers' worktrees a killed run left go first; their features run again.
    let mut reset = worktree::remove_leftovers(repo, &branch)
        .map_err(|e| internal(format!("cannot remove the worktrees a previous run left: {e}")))?;
    reset.retain(|f| Queue::load(mission).ok().and_then(|q| q.feature(f).map(|f| f.is_in_progress())).unwrap_or(false));
    // Every session the stop interrupted, for droid's orphan `worker_failed` once resumed.
    let mut orphans: Vec<(String, String)> = state
        .active_features()
        .into_iter()
        .filter(|a| a.worktree.is_some())
        .map(|a| (a.session_id, a.feature_id))
        .collect();
    let in_working_dir: Vec<_> = state.active_features().into_iter().filter(|a| a.worktree.is_none()).collect();
    if in_working_dir.len() != state.active_features().len() {
        state.set_active_features(&in_working_dir);
    }
    let resumed_from = state.status();
    // HEAD elsewhere (the person switched branches while the mission was paused): their tree
    // is checked first, and only a clean one is switched to the mission branch.
    if git::current_branch(repo).as_deref() != Some(branch.as_str()) {
        refuse_dirt(repo, mission_rel.as_deref())?;
        let new_branch = !git::branch_exists(repo, &branch);
        // Said once, when the branch is made: its base is whatever HEAD is (design §6).
        let made_from = new_branch.then(|| {
            let from = git::current_branch(repo).unwrap_or_else(|| "a detached HEAD".into());
            let commit = git::head(repo).map(|c| c.chars().take(10).collect::<String>()).unwrap_or_default();
            format!("the mission works on the new branch {branch}, made from {from} ({commit})")
        });
        let args: Vec<&str> =
            if new_branch { vec!["checkout", "--quiet", "-b", &branch] } else { vec!["checkout", "--quiet", &branch] };
        git::git(repo, &args).map_err(|e| internal(format!("cannot check out the mission branch {branch}: {e}")))?;
        if let Some(note) = made_from {
            progress.update(Update::Note(&note));
        }
    }
    // An interrupted worker's changes are the only dirt a resume clears (design §6), on the
    // mission branch only, and set aside where the person can get them back.
    let mut set_aside = None;
    if let Some(active) = state.active_feature() {
        if super::handoffs::of_session(mission, &active.session_id).is_none() {
            let saved = git::set_aside(repo, &active.base_commit, mission_rel.as_deref(), &active.feature_id)
                .map_err(|e| internal(format!("cannot set aside the interrupted feature's changes: {e}")))?;
            reset.push(active.feature_id.clone());
            if !saved.is_empty() {
                set_aside = Some((active.feature_id.clone(), saved));
            }
        }
    }
    // Features left `in_progress` by a stopped run (or by droid) go back to pending, except
    // the one whose handoff reached the disk: it is settled from its handoff.
    let queue = Queue::load(mission).map_err(internal)?;
    let handed_off = state
        .active_feature()
        .filter(|a| super::handoffs::of_session(mission, &a.session_id).is_some())
        .map(|a| a.feature_id);
    for f in queue.file.features.iter().filter(|f| f.is_in_progress()) {
        let id = f.id().unwrap_or_default();
        if handed_off.as_deref() != Some(id) && !f.is_validator() {
            if let Some(session) = f
                .current_worker_session_id
                .as_ref()
                .filter(|s| super::handoffs::of_session(mission, &s.value).is_none())
            {
                orphans.push((session.value.clone(), id.to_string()));
            }
            queue::back_to_pending(mission, id).map_err(internal)?;
            if !reset.iter().any(|r| r == id) {
                reset.push(id.to_string());
            }
        }
    }
    refuse_dirt(repo, mission_rel.as_deref())?;
    state.set_branch(&branch);
    let resuming = matches!(
        resumed_from,
        MissionStatus::Running
            | MissionStatus::Validating
            | MissionStatus::Paused
            | MissionStatus::Halted
            | MissionStatus::AwaitingAnswers
    ) || set_aside.is_some();
    if resuming {
        // droid's event (a fresh session replaces the interrupted one, so none is resumed),
        // with what the resume did.
        let set_aside = set_aside.as_ref().map(|(feature, saved)| progress_log::SetAside {
            feature_id: feature.clone(),
            stash: saved.stash.clone(),
            stash_message: saved.stash_message.clone(),
            commits_ref: saved.commits_ref.clone(),
        });
        let resumed = Event::MissionResumed {
            resume_worker_session_id: None,
            from: Some(resumed_from.as_str().to_string()),
            reset_features: Some(reset),
            set_aside,
        };
        journal.log(resumed).map_err(|e| internal(e.to_string()))?;
    }
    if let Some((feature, saved)) = &set_aside {
        progress.update(Update::Note(&saved.describe(feature)));
    }
    if approving {
        // droid's acceptance of the proposal, once the run really starts: the plan is approved.
        let title = folder::mission_title(mission).unwrap_or_default();
        journal
            .log(Event::MissionAccepted { title, by: Some(opts.origin.approval(opts.yes).to_string()) })
            .map_err(|e| internal(e.to_string()))?;
    }
    let message = if resuming {
        format!("resumed by {}", opts.origin.approval(true))
    } else {
        format!("started by {}", opts.origin.approval(true))
    };
    journal.log(Event::MissionRunStarted { message: Some(message) }).map_err(|e| internal(e.to_string()))?;
    // The one feature in flight in the working directory is logged when it runs again
    // (`worker::interrupted`); a session is logged once whichever comes first.
    for (session, feature) in orphans {
        journal.log(worker::orphan_event(&session, &feature)).map_err(|e| internal(e.to_string()))?;
    }
    state.set_status(MissionStatus::Running);
    state.save().map_err(|e| internal(e.to_string()))?;
    Ok(())
}

/// The branch a resume works on when the one state.json records is gone (deleted while the
/// mission was stopped): made again at the interrupted feature's start commit, the branch's
/// tip when that worker began; without one nothing says where the branch was, so the person
/// is asked.
fn recreate_missing_branch(repo: &Path, branch: &str, state: &StateStore) -> Result<(), RunResult> {
    if git::branch_exists(repo, branch) {
        return Ok(());
    }
    let tip = state.active_feature().map(|a| a.base_commit).filter(|c| git::resolve_commit(repo, c).is_some());
    match tip {
        Some(commit) => git::git(repo, &["branch", branch, &commit]).map(|_| ()).map_err(|e| RunResult::new(Failed, format!("cannot make the mission branch {branch} again: {e}"))),
        None => Err(RunResult::new(Refused, format!("the mission's branch {branch} no longer exists; make it again at the mission's last commit (`git branch {branch} <commit>`), then run the mission again"))),
    }
}

/// Refuses to start on uncommitted changes outside the mission folder, naming them.
fn refuse_dirt(repo: &Path, mission_rel: Option<&str>) -> Result<(), RunResult> {
    let dirty = dirty_outside_mission(repo, mission_rel)?;
    if dirty.is_empty() {
        Ok(())
    } else {
        Err(dirty_refusal(repo, &dirty))
    }
}

/// `missions/<slug>`, or the first of `missions/<slug>-2`, `-3`, ... that is not a branch yet.
/// The name the mission's branch is made from: the folder's name under the repository's
/// `.missions/` (what `missions new` chose), else mission.md's title (droid's folder outside
/// the repository is named by a session uuid, which says nothing on a branch).
fn branch_slug(mission: &Path, repo: &Path) -> String {
    let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let inside = canonical(mission).starts_with(canonical(repo));
    let from_folder = || mission.file_name().map(|n| super::new::slugify(&n.to_string_lossy()));
    let from_title = || folder::mission_title(mission).map(|t| super::new::slugify(&t));
    let (first, second) = if inside { (from_folder(), from_title()) } else { (from_title(), from_folder()) };
    first.into_iter().chain(second).find(|s| !s.is_empty()).unwrap_or_else(|| "mission".into())
}

fn fresh_branch(repo: &Path, slug: &str) -> String {
    let first = format!("missions/{slug}");
    std::iter::once(first.clone())
        .chain((2..).map(|n| format!("{first}-{n}")))
        .find(|b| !git::branch_exists(repo, b))
        .unwrap_or(first)
}

/// The repository's lock (in its common git directory), held for the whole run: a run of
/// another mission in the same repository is refused, named.
fn repository_lock(ctx: &Ctx) -> Result<RunLock, RunResult> {
    let git_dir = git::common_dir(&ctx.repo)
        .map_err(|e| RunResult::new(Failed, format!("cannot find the git directory of {}: {e}", ctx.repo.display())))?;
    let mission = ctx.mission.canonicalize().unwrap_or_else(|_| ctx.mission.clone());
    RunLock::acquire_repository(&git_dir, &mission).map_err(|e| match e {
        LockError::Held { .. } => RunResult::new(Refused, e.to_string()),
        LockError::Io { .. } => RunResult::new(Failed, e.to_string()),
    })
}

/// What progress_log.jsonl says about the plan: whether it was ever approved, and whether a
/// planner session ever started (a plan written by hand has none).
struct PlanRecord {
    approved: bool,
    planner_ran: bool,
}

impl PlanRecord {
    fn read(mission: &Path) -> PlanRecord {
        let events = super::events::read_all(mission);
        PlanRecord {
            approved: events.iter().any(|e| e.kind == "mission_accepted"),
            planner_ran: events.iter().any(|e| e.kind == "planning_started"),
        }
    }
}

/// The approval gate applies while the plan waits for review (droid's `mission_accepted` not
/// logged yet), and whenever a planner wrote it and it was never approved (planning paused or
/// halted halfway is not an approved plan). A plan droid's person accepted is approved.
fn needs_approval(status: MissionStatus, record: &PlanRecord) -> bool {
    !record.approved
        && (record.planner_ran
            || matches!(
                status,
                MissionStatus::Planning | MissionStatus::AwaitingApproval | MissionStatus::AwaitingAnswers
            ))
}

/// A planning session that was stopped (killed, paused, halted) before it submitted a plan
/// and before any approval: its files may be half-written, so planning runs again. A plan
/// whose lint gave up stays for the person to fix by hand.
fn planning_interrupted(ctx: &Ctx) -> bool {
    let record = PlanRecord::read(&ctx.mission);
    let gave_up = ctx.state.state.halt_reason.as_deref().is_some_and(|r| r.starts_with(super::plan::PLAN_LINT_GAVE_UP));
    record.planner_ran
        && !record.approved
        && matches!(ctx.state.status(), MissionStatus::Planning | MissionStatus::Paused | MissionStatus::Halted)
        && !gave_up
}

/// Uncommitted changes outside the mission folder.
fn dirty_outside_mission(repo: &Path, mission_rel: Option<&str>) -> Result<Vec<String>, RunResult> {
    let paths = git::dirty_paths(repo).map_err(|e| RunResult::new(Failed, e.to_string()))?;
    Ok(paths.into_iter().filter(|p| !git::belongs_to_mission(p, mission_rel)).collect())
}

fn dirty_refusal(repo: &Path, dirty: &[String]) -> RunResult {
    RunResult::new(
        Refused,
        format!(
            "the working tree {} has uncommitted changes; commit or stash them first:\n  {}",
            repo.display(),
            dirty.join("\n  ")
        ),
    )
}

/// Temporary files of atomic writes a killed run left behind (`.<name>.tmp-<pid>-<n>`); the
/// files they were replacing are whole, so these are garbage.
fn remove_torn_temporaries(mission: &Path) {
    let mut stack = vec![mission.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.filter_map(Result::ok) {
            let name = e.file_name().to_string_lossy().into_owned();
            match e.file_type() {
                Ok(t) if t.is_dir() && !t.is_symlink() => stack.push(e.path()),
                Ok(t) if t.is_file() && name.starts_with('.') && name.contains(".tmp-") => {
                    let _ = std::fs::remove_file(e.path());
                }
                _ => {}
            }
        }
    }
}

/// The loop: what `schedule::next` says, step after step; with a target, that one step first,
/// then a stop.
async fn drive(ctx: &mut Ctx, target: &Target) -> Result<RunResult, String> {
    let mut targeted_done = false;
    loop {
        if ctx.cancel.is_cancelled() {
            return pause(ctx);
        }
        if let Some(reason) = ctx.agents.budget_spent() {
            return halt(ctx, reason.into());
        }
        let queue = Queue::load(&ctx.mission)?;
        if let Some(problem) = queue.file.problems.first() {
            // droid writes features.json without an atomic rename: a half-written file is read
            // again a moment later, never rewritten.
            return Err(format!(
                "features.json does not read ({}); the runner never rewrites a file it cannot parse",
                problem.message
            ));
        }
        let records = validate::load_records(&ctx.mission);
        let (handoffs, _) = folder::read_handoffs(&ctx.mission);
        let triggered = triggered_milestones(&ctx.mission);
        let round = ctx.state.active_round();
        let fix = ctx.state.active_fix();
        let facts = Facts {
            handoffs: &handoffs,
            triggered: &triggered,
            validation: Some(&records),
            active_round: round.as_ref().map(|r| r.milestone.as_str()),
            active_fix: fix.as_ref().map(|f| (f.milestone.as_str(), f.round)),
        };
        let scheduled = schedule::next(&queue.file, &facts);
        let next = match target {
            Target::All => scheduled,
            _ if targeted_done => {
                return match scheduled {
                    Next::Completed => complete(ctx),
                    _ => stop_after_target(ctx, target),
                }
            }
            Target::Feature(id) => Next::Feature(schedule::runnable_feature(&queue.file, id)?),
            Target::Milestone(m) => {
                let validators: Vec<&crate::model::Feature> = queue
                    .file
                    .features
                    .iter()
                    .filter(|f| f.milestone() == Some(m.as_str()) && f.is_validator())
                    .map(|f| &**f)
                    .collect();
                if validators.is_empty() {
                    validate::trigger(ctx, m)?;
                } else if validators.iter().all(|v| v.is_done()) {
                    // Validated before (a person asks again, e.g. for stale assertions): its
                    // validators run once more.
                    for v in validators.iter().filter_map(|v| v.id()) {
                        queue::back_to_pending(&ctx.mission, v)?;
                    }
                }
                Next::Validate(m.clone())
            }
        };
        targeted_done = !matches!(next, Next::TriggerValidation(_));
        let step = match next {
            Next::Completed => return complete(ctx),
            Next::Stuck { reason } => Step::Halt(reason),
            Next::TriggerValidation(milestone) => validate::trigger(ctx, &milestone)?,
            Next::Feature(i) => {
                let feature = &queue.file.features[i];
                let id = feature.id().unwrap_or_default().to_string();
                if let Some(milestone) = feature.milestone() {
                    enter_milestone(ctx, milestone)?;
                }
                let batch = if *target == Target::All { parallel_batch(ctx, &queue, i) } else { Vec::new() };
                if batch.len() > 1 {
                    worker::run_batch(ctx, &batch).await?
                } else {
                    worker::run_feature(ctx, &id).await?
                }
            }
            Next::Validate(milestone) => {
                enter_milestone(ctx, &milestone)?;
                validate::validate(ctx, &milestone).await?
            }
            Next::Fix { milestone, round } => {
                let max = ctx.agents.config.limits.max_validation_rounds;
                if round >= max {
                    Step::Halt(format!("milestone {milestone} did not pass validation in {round} round(s) (max_validation_rounds = {max})"))
                } else {
                    fix::add_fix_features(ctx, &milestone, round).await?
                }
            }
        };
        match step {
            Step::Continue => {}
            Step::Pause => return pause(ctx),
            Step::AwaitingAnswers => {
                ctx.state.set_status(MissionStatus::AwaitingAnswers);
                ctx.save_state()?;
                return Ok(RunResult::new(
                    AwaitingPerson,
                    format!(
                        "the orchestrator asked questions in mission.md; answer them, then run `{}` again",
                        ctx.rerun("")
                    ),
                ));
            }
            Step::Halt(reason) => return halt(ctx, reason.into()),
            Step::HaltWith(h) => return halt(ctx, h),
        }
    }
}

/// The milestones whose validators were injected (droid's `milestone_validation_triggered`).
fn triggered_milestones(mission: &Path) -> Vec<String> {
    super::events::read_all(mission)
        .iter()
        .filter_map(|e| match e.event() {
            Event::MilestoneValidationTriggered { milestone, .. } => Some(milestone),
            _ => None,
        })
        .collect()
}

/// The features to run at once with `max_parallel_workers > 1`: from the feature `first`
/// that `schedule::next` chose, every pending feature of its milestone whose named
/// preconditions all completed, in queue order, up to the limit. Empty while a feature in the
/// working directory is still in flight (its resume settles it first).
fn parallel_batch(ctx: &Ctx, queue: &Queue, first: usize) -> Vec<String> {
    let max = ctx.agents.config.limits.max_parallel_workers as usize;
    if max < 2 || !ctx.state.active_features().is_empty() {
        return Vec::new();
    }
    let features = &queue.file.features;
    let milestone = features[first].milestone();
    let completed = |d: &str| queue.feature(d).is_some_and(|f| f.is_completed());
    features
        .iter()
        .enumerate()
        .filter(|(_, f)| f.milestone() == milestone && !f.is_validator())
        .filter(|(_, f)| f.is_pending() || f.is_in_progress())
        .filter(|(_, f)| queue.file.dependencies(f).all(completed))
        .skip_while(|(i, _)| *i != first)
        .filter_map(|(_, f)| f.id().map(str::to_string))
        .take(max)
        .collect()
}

/// Records the milestone the loop works on (its first feature's base commit is the base of
/// the milestone's diff for the scrutiny validator).
fn enter_milestone(ctx: &mut Ctx, milestone: &str) -> Result<(), String> {
    if ctx.state.state.current_milestone.as_deref() == Some(milestone) && ctx.state.milestone_base(milestone).is_some()
    {
        return Ok(());
    }
    let head = git::head(&ctx.repo).map_err(|e| e.to_string())?;
    ctx.state.set_milestone_base(milestone, &head);
    ctx.state.state.current_milestone = Some(milestone.to_string());
    ctx.save_state()?;
    ctx.log(Event::MilestoneStarted { milestone: milestone.to_string() })?;
    let all = &ctx.state.state.milestones;
    let index = all.iter().position(|m| m == milestone).map_or(0, |i| i + 1);
    let total = all.len().max(index);
    ctx.progress.update(Update::Milestone { name: milestone, index, total });
    Ok(())
}

/// A targeted run did its step: the mission waits, paused, for the person's next command.
fn stop_after_target(ctx: &mut Ctx, target: &Target) -> Result<RunResult, String> {
    let done = match target {
        Target::Feature(id) => format!("feature {id} ran"),
        Target::Milestone(m) => format!("milestone {m} was validated"),
        Target::All => "the run stopped".to_string(),
    };
    ctx.state.set_status(MissionStatus::Paused);
    ctx.save_state()?;
    ctx.log(paused_for(format!("{done} ({})", ctx.origin.approval(true))))?;
    Ok(RunResult::new(Paused, format!("{done}; the mission is paused (resume continues the loop)")))
}

/// droid's `mission_paused` for a pause the person asked for, saying why.
fn paused_for(reason: String) -> Event {
    Event::MissionPaused { pause_reason: None, halted: None, reason: Some(reason), feature_id: None }
}

/// The person's pause: droid's `mission_paused` without a `pauseReason`.
fn pause(ctx: &mut Ctx) -> Result<RunResult, String> {
    ctx.state.set_status(MissionStatus::Paused);
    ctx.save_state()?;
    ctx.log(paused_for(ctx.origin.pause_reason().to_string()))?;
    Ok(RunResult::new(Paused, format!("paused; `{}` resumes where it stopped", ctx.rerun(""))))
}

/// The mission stops until the person acts: state.json `paused` (droid's) and `halted`
/// (ours) with the reason; droid's `mission_paused`, with `feature_retry_limit_exceeded`
/// when a feature used up its sessions.
fn halt(ctx: &mut Ctx, halt: Halt) -> Result<RunResult, String> {
    ctx.state.set_status(MissionStatus::Halted);
    ctx.state.state.halt_reason = Some(halt.reason.clone());
    ctx.save_state()?;
    ctx.log(Event::MissionPaused {
        pause_reason: halt.retry_limit.then(|| "feature_retry_limit_exceeded".to_string()),
        halted: Some(true),
        reason: Some(halt.reason.clone()),
        feature_id: halt.feature.clone(),
    })?;
    Ok(RunResult::new(Halted, format!("halted: {}", halt.reason)))
}

/// A step failed on something outside the loop's rules (a features.json broken on disk, a
/// full disk): the mission is halted with that reason, so the files say why it stopped and a
/// resume is offered, instead of staying `running` with nobody running it.
fn halt_on_error(ctx: &mut Ctx, error: &str) -> RunResult {
    let in_motion =
        matches!(ctx.state.status(), MissionStatus::Planning | MissionStatus::Running | MissionStatus::Validating);
    let reason = format!("the runner stopped on an error: {error}");
    match in_motion.then(|| halt(ctx, reason.clone().into())) {
        Some(Err(e)) => {
            RunResult::new(Failed, format!("internal error: {error} (and the mission could not be marked halted: {e})"))
        }
        // Halted is halted, whatever stopped it: the exit status says so (design §3's table).
        Some(Ok(_)) => RunResult::new(Halted, format!("halted: {reason}; fix the cause, then resume it")),
        None => RunResult::new(Failed, format!("internal error: {error}")),
    }
}

/// Every assertion passed. The event is written before state.json says `completed`, so a
/// kill between the two leaves a mission that completes again, never one without its event.
fn complete(ctx: &mut Ctx) -> Result<RunResult, String> {
    ctx.log(Event::MissionCompleted {})?;
    ctx.state.set_status(MissionStatus::Completed);
    ctx.state.state.current_milestone = None;
    ctx.save_state()?;
    let branch = ctx.state.branch().unwrap_or_default();
    Ok(RunResult::new(
        Completed,
        format!(
            "mission {} completed: every assertion passed; the work is on branch {branch}",
            ctx.state.state.mission_id
        ),
    ))
}
