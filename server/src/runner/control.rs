//! The mission's lifecycle, in one place: which of start, resume, approve the plan, run one
//! feature and validate one milestone a mission's state allows (and the words of each
//! refusal), how a running loop is asked to pause or cancel, and cancelling a stopped
//! mission. `missions run` (runner/run.rs) and the editor's commands (lsp/mission_task.rs)
//! both ask here; the runner checks again under its lock, so a refusal the editor gives at
//! once is the one the run would give.

use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use super::events::Journal;
use super::lock::RunLock;
use super::progress::{EventSink, Progress};
use super::queue::Queue;
use super::run::{self, RunOptions, RunOutcome, RunResult, Target};
use super::schedule;
use super::state::StateStore;
use crate::agent::CancellationToken;
use crate::model::progress_log::Event;
use crate::model::records::MissionStatus;

/// What a person asks the loop to do (the editor's commands; `missions run` is `Start`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launch {
    /// `missions.start` / `missions run`: plans if needed, approves the plan, runs the loop.
    Start,
    /// `missions.resume`: a paused or halted mission's loop, again.
    Resume,
    /// `missions.approvePlan`: a plan awaiting approval is approved, then the loop runs.
    ApprovePlan,
    /// `missions.runFeature`: this one feature now, then the mission pauses.
    RunFeature(String),
    /// `missions.validateMilestone`: a validation round of this milestone now, then a pause.
    ValidateMilestone(String),
}

impl Launch {
    /// The editor's command, which the progress log names as who approved or paused.
    pub fn command(&self) -> &'static str {
        match self {
            Launch::Start => "missions.start",
            Launch::Resume => "missions.resume",
            Launch::ApprovePlan => "missions.approvePlan",
            Launch::RunFeature(_) => "missions.runFeature",
            Launch::ValidateMilestone(_) => "missions.validateMilestone",
        }
    }

    pub fn target(&self) -> Target {
        match self {
            Launch::RunFeature(id) => Target::Feature(id.clone()),
            Launch::ValidateMilestone(m) => Target::Milestone(m.clone()),
            _ => Target::All,
        }
    }
}

/// Why the mission `id`, in `status`, cannot take `launch`; `None` when it can.
pub fn refusal(id: &str, status: MissionStatus, launch: &Launch) -> Option<String> {
    match (status, launch) {
        (MissionStatus::Completed, _) => Some(format!("the mission {id} is already completed")),
        (MissionStatus::Cancelled, _) => {
            Some(format!("the mission {id} was cancelled; start a new one with `missions new`"))
        }
        (MissionStatus::AwaitingApproval, Launch::ApprovePlan) => None,
        (other, Launch::ApprovePlan) => {
            Some(format!("no plan to approve: the mission {id} is {}, not awaiting_approval", other.as_str()))
        }
        (MissionStatus::Paused | MissionStatus::Halted, _) => None,
        (other, Launch::Resume) => Some(format!(
            "nothing to resume: the mission {id} is {}, not paused or halted (use missions.start)",
            other.as_str()
        )),
        // One step of a plan nobody approved would approve it in passing.
        (
            MissionStatus::AwaitingAnswers | MissionStatus::AwaitingApproval,
            Launch::RunFeature(_) | Launch::ValidateMilestone(_),
        ) => Some(format!(
            "the plan of mission {id} is not approved yet: approve it first (missions.approvePlan, or missions.start)"
        )),
        _ => None,
    }
}

/// Why the one step `target` cannot run on the mission at `dir` now (no plan yet, a feature
/// that is not runnable, a milestone with features left); `Ok` for the whole loop.
pub fn refuse_target(dir: &Path, target: &Target) -> Result<(), String> {
    if *target == Target::All {
        return Ok(());
    }
    if super::plan::needs_plan(dir) {
        return Err(format!(
            "the mission in {} has no plan yet (validation-contract.md and features.json); start it to plan first",
            dir.display()
        ));
    }
    let queue = Queue::load(dir)?;
    match target {
        Target::Feature(id) => schedule::runnable_feature(&queue.file, id).map(|_| ()),
        Target::Milestone(m) => schedule::validatable_milestone(&queue.file, m),
        Target::All => Ok(()),
    }
}

/// The mission's state when `launch` fits it; else why not, for the person at once (the run
/// checks again under its lock).
pub fn startable(dir: &Path, launch: &Launch) -> Result<StateStore, String> {
    // A `missions run` in a terminal holds the lock: that is the answer, whatever the state.
    drop(RunLock::acquire(dir).map_err(|e| e.to_string())?);
    let state = StateStore::open(dir)?;
    if let Some(reason) = refusal(&state.state.mission_id, state.status(), launch) {
        return Err(reason);
    }
    refuse_target(dir, &launch.target())?;
    Ok(state)
}

/// How a running loop is asked to stop: its cancellation token (the loop pauses after the
/// current step's cleanup) and whether the person wanted it cancelled rather than paused.
#[derive(Clone, Default)]
pub struct Stop {
    token: CancellationToken,
    how: Arc<AtomicU8>,
}

const STOP_PAUSE: u8 = 1;
const STOP_CANCEL: u8 = 2;

impl Stop {
    pub fn new() -> Stop {
        Stop::default()
    }

    /// The token the loop watches.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// The loop stops `paused` after its current step's cleanup.
    pub fn pause(&self) {
        self.request(STOP_PAUSE);
    }

    /// The loop stops after its current step's cleanup, then the mission is cancelled.
    pub fn cancel(&self) {
        self.request(STOP_CANCEL);
    }

    fn request(&self, how: u8) {
        self.how.store(how, Ordering::SeqCst);
        self.token.cancel();
    }

    fn cancel_requested(&self) -> bool {
        self.how.load(Ordering::SeqCst) == STOP_CANCEL
    }
}

/// The loop (`run::run`) until it ends or `stop` stops it; a run stopped by
/// [`Stop::cancel`] that did not complete is then cancelled.
pub async fn run(opts: RunOptions, progress: Box<dyn Progress>, stop: &Stop) -> RunResult {
    let dir = opts.mission.clone().unwrap_or_else(|| opts.cwd.clone());
    let sink = progress.events();
    let result = run::run(opts, progress, stop.token()).await;
    if stop.cancel_requested() && result.outcome != RunOutcome::Completed {
        return match cancel_stopped(&dir, "missions.cancel", sink) {
            Ok(id) => RunResult::new(RunOutcome::Cancelled, format!("mission {id} cancelled")),
            Err(e) => RunResult::new(
                RunOutcome::Failed,
                format!("the mission stopped but could not be marked cancelled: {e}"),
            ),
        };
    }
    result
}

/// Cancels a mission nobody runs: `cancelled` in state.json and `mission_cancelled` (by `by`)
/// in the progress log, holding the runner's lock. Returns the mission's id.
pub fn cancel_stopped(dir: &Path, by: &str, sink: Option<EventSink>) -> Result<String, String> {
    let _lock = RunLock::acquire(dir).map_err(|e| e.to_string())?;
    let mut state = StateStore::open(dir)?;
    match state.status() {
        MissionStatus::Completed => return Err(format!("the mission {} is already completed", state.state.mission_id)),
        MissionStatus::Cancelled => return Err(format!("the mission {} is already cancelled", state.state.mission_id)),
        _ => {}
    }
    state.set_status(MissionStatus::Cancelled);
    state.save().map_err(|e| format!("cannot write state.json: {e}"))?;
    Journal::open_with(dir, sink)
        .log(Event::MissionCancelled { by: by.to_string() })
        .map_err(|e| format!("cannot append to progress_log.jsonl: {e}"))?;
    Ok(state.state.mission_id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The guard's table: every status against every command (`None` = allowed).
    #[test]
    fn which_commands_each_status_allows() {
        use MissionStatus::*;
        let launches = [
            Launch::Start,
            Launch::Resume,
            Launch::ApprovePlan,
            Launch::RunFeature("f".into()),
            Launch::ValidateMilestone("m".into()),
        ];
        let table: [(MissionStatus, [bool; 5]); 9] = [
            (Planning, [true, false, false, true, true]),
            (AwaitingAnswers, [true, false, false, false, false]),
            (AwaitingApproval, [true, false, true, false, false]),
            (Running, [true, false, false, true, true]),
            (Validating, [true, false, false, true, true]),
            (Paused, [true, true, false, true, true]),
            (Halted, [true, true, false, true, true]),
            (Completed, [false; 5]),
            (Cancelled, [false; 5]),
        ];
        for (status, allowed) in table {
            for (launch, allowed) in launches.iter().zip(allowed) {
                assert_eq!(
                    refusal("m1", status, launch).is_none(),
                    allowed,
                    "{status:?} {launch:?}: {:?}",
                    refusal("m1", status, launch)
                );
            }
        }
        assert_eq!(
            refusal("m1", Cancelled, &Launch::Start).as_deref(),
            Some("the mission m1 was cancelled; start a new one with `missions new`")
        );
        assert_eq!(
            refusal("m1", Running, &Launch::Resume).as_deref(),
            Some("nothing to resume: the mission m1 is running, not paused or halted (use missions.start)")
        );
    }

    #[test]
    fn a_stop_says_whether_it_cancels() {
        let stop = Stop::new();
        assert!(!stop.token().is_cancelled() && !stop.cancel_requested());
        stop.pause();
        assert!(stop.token().is_cancelled() && !stop.cancel_requested());
        stop.cancel();
        assert!(stop.cancel_requested());
    }
}
