//! The mission loop inside the language server (design §4, §6): one background run per
//! mission folder, through the same `runner::run::run` as `missions run`.
//!
//! The loop runs on a thread of its own with its own runtime (it spawns processes and calls
//! git synchronously), so no request handler and no analysis ever waits for it. Every event it
//! appends to progress_log.jsonl comes back over a channel to a forwarder task on the server's
//! runtime, which sends it as `missions/event`. The forwarder frees the folder's slot *before*
//! it sends the run's last event (`mission_completed`, `mission_paused`, ...), so a client that
//! sees that event may start the mission again at once.
//!
//! When the client shows work-done progress, the forwarder also asks for a token (beside the
//! events, bounded by `work_progress::CREATE_WAIT`), begins it, reports after every event and
//! ends it with the final status once the last event and the `window/showMessage` are out. A
//! run that ends waiting for the planner's answers opens mission.md instead (`questions`).

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Value};
use tokio::sync::mpsc;
use tower_lsp_server::ls_types::notification::Notification;
use tower_lsp_server::ls_types::{MessageType, Uri};
use tower_lsp_server::Client;

use crate::model::records::MissionStatus;
use crate::model::records::ProgressEvent;
use crate::runner::control::{self, Stop};
use crate::runner::live::{Spend, SpendSink};
use crate::runner::progress::{EventSink, Progress, Update};
use crate::runner::run::{Origin, RunOptions, RunOutcome, RunResult};
use crate::runner::state::StateStore;

use super::documents::DocEvent;
use super::questions;
use super::work_progress::{self, RunProgress, Tokens};
use crate::model::folder::{CONTRACT_FILE, FEATURES_FILE, MISSION_FILE, VALIDATION_STATE_FILE};

/// `missions/event`: one progress_log.jsonl event of a mission the server runs.
pub enum MissionEvent {}

impl Notification for MissionEvent {
    type Params = Value;
    const METHOD: &'static str = "missions/event";
}

/// The events that end a run; sent only once the folder's slot is free again.
const FINAL_EVENTS: [&str; 3] = ["mission_completed", "mission_paused", "mission_cancelled"];

pub use crate::runner::control::Launch;

struct Running {
    stop: Stop,
}

/// What the client can do beyond the basics, from its capabilities.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientSupport {
    /// `window.workDoneProgress`: a run shows `$/progress`.
    pub work_done_progress: bool,
    /// `window.showDocument.support`: planner questions open mission.md.
    pub show_document: bool,
}

/// The runs of this server, by mission folder.
#[derive(Clone, Default)]
pub struct Missions {
    running: Arc<Mutex<HashMap<PathBuf, Running>>>,
    /// What the client supports; from `initialize`.
    client_support: Arc<OnceLock<ClientSupport>>,
    /// The progress tokens of the runs, for `window/workDoneProgress/cancel`.
    tokens: Tokens,
    /// The editor's `missions.*` settings; each run layers the newest over missions.toml.
    pub settings: super::settings::Settings,
    /// To the document owner: the files a run writes changed (see `announce_writes`).
    disk_events: Arc<OnceLock<mpsc::WeakUnboundedSender<DocEvent>>>,
}

enum Message {
    Event(ProgressEvent),
    /// A line the terminal would print that no event carries (where work was set aside, the
    /// new branch's base): to the client's log. A retry's wait also shows in the progress.
    Note {
        text: String,
        in_progress: bool,
    },
    /// A model call waiting for the provider: the line for the progress report, or `None`
    /// when the wait is over (the report shows the run's figures again).
    Waiting(Option<String>),
    /// The mission's tokens and cost so far (`12.3k tokens, $0.04`), and budgets that just
    /// reached 80%.
    Spend {
        summary: Option<String>,
        warnings: Vec<String>,
    },
    Done(RunResult),
}

/// The run's observer: no display, every event to the forwarder.
struct EditorProgress {
    tx: mpsc::UnboundedSender<Message>,
}

impl Progress for EditorProgress {
    fn update(&mut self, u: Update) {
        match u {
            Update::Retry { .. } | Update::Note(_) => {
                let in_progress = matches!(u, Update::Retry { .. });
                let _ = self.tx.send(Message::Note { text: crate::runner::progress::describe(&u), in_progress });
            }
            Update::Waiting { over, .. } => {
                let _ = self
                    .tx
                    .send(Message::Waiting((!over).then(|| crate::runner::progress::describe(&u).trim().to_string())));
            }
            _ => tracing::debug!("mission loop: {u:?}"),
        }
    }

    fn events(&self) -> Option<EventSink> {
        let tx = self.tx.clone();
        Some(Arc::new(move |event: &ProgressEvent| {
            let _ = tx.send(Message::Event(event.clone()));
        }))
    }

    fn spend(&self) -> Option<SpendSink> {
        let tx = self.tx.clone();
        Some(Arc::new(move |spend: &Spend, warnings: &[String]| {
            let _ = tx.send(Message::Spend { summary: spend.spent(), warnings: warnings.to_vec() });
        }))
    }
}

impl Missions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Running>> {
        // A poisoned map is still a consistent map (every critical section is one insert or remove).
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where the runs announce their writes; from `serve`.
    pub fn set_disk_events(&self, events: mpsc::WeakUnboundedSender<DocEvent>) {
        let _ = self.disk_events.set(events);
    }

    /// A run's event follows its writes: the mission's live files are announced as changed,
    /// so diagnostics, lenses and unsaved buffers follow the run even when no file watcher
    /// reports it (a client that registered watching and sends nothing, a slow watcher).
    fn announce_writes(&self, dir: &Path) {
        let Some(events) = self.disk_events.get().and_then(|w| w.upgrade()) else { return };
        let files = [FEATURES_FILE, VALIDATION_STATE_FILE, CONTRACT_FILE, MISSION_FILE].map(|f| dir.join(f));
        let _ = events.send(DocEvent::DiskChanged(files.into_iter().filter(|p| p.exists()).collect()));
    }

    /// What `initialize` learnt about the client.
    pub fn set_client_support(&self, support: ClientSupport) {
        let _ = self.client_support.set(support);
    }

    fn client_support(&self) -> ClientSupport {
        self.client_support.get().copied().unwrap_or_default()
    }

    /// `window/workDoneProgress/cancel`: pauses the run the token belongs to, like
    /// `missions.pause`. A token of no running mission (it just ended) is ignored.
    pub fn cancel_progress(
        &self,
        token: &tower_lsp_server::ls_types::NumberOrString,
    ) -> Option<Result<String, String>> {
        let dir = self.tokens.mission_of(token)?;
        Some(self.pause(&dir))
    }

    pub fn is_running(&self, dir: &Path) -> bool {
        self.lock().contains_key(dir)
    }

    /// Starts the loop on `dir` for `launch`. Refuses a mission already running here or in a
    /// terminal, a completed or cancelled one, (`resume`) one that is neither paused nor
    /// halted, (`approvePlan`) one whose plan is not awaiting approval, and a feature or
    /// milestone the runner would refuse. Returns at once; the run reports through
    /// `missions/event`.
    pub fn start(&self, client: &Client, dir: &Path, uri: &Uri, launch: Launch) -> Result<String, String> {
        // The slot is taken first, so two starts at once (a save seen twice) cannot both pass
        // the checks and the second never mistakes the first's lock for a terminal's run.
        let stop = Stop::new();
        {
            let mut running = self.lock();
            if running.contains_key(dir) {
                return Err(format!("the mission {} is already running", dir.display()));
            }
            running.insert(dir.to_path_buf(), Running { stop: stop.clone() });
        }
        let state = match control::startable(dir, &launch) {
            Ok(state) => state,
            Err(e) => {
                self.lock().remove(dir);
                return Err(e);
            }
        };
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(forward(self.clone(), client.clone(), dir.to_path_buf(), uri.clone(), rx));
        let mut opts = RunOptions {
            cwd: dir.to_path_buf(),
            mission: Some(dir.to_path_buf()),
            yes: true,
            allow_questions: true,
            origin: Origin::Editor { command: launch.command() },
            target: launch.target(),
            settings: None,
        };
        let settings = self.settings.clone();
        let spawned = std::thread::Builder::new().name("mission-loop".into()).spawn(move || {
            // A start sent right after `initialized` waits for the settings the server asked for.
            opts.settings = settings.current_when_answered(super::settings::CONFIGURATION_WAIT);
            let result = catch_unwind(AssertUnwindSafe(|| run_loop(opts, tx.clone(), &stop))).unwrap_or_else(|_| {
                RunResult::new(
                    RunOutcome::Failed,
                    "internal error: the mission loop panicked (the files are consistent; start it again to resume)",
                )
            });
            let _ = tx.send(Message::Done(result));
        });
        if let Err(e) = spawned {
            self.lock().remove(dir);
            return Err(format!("cannot start the mission loop: {e}"));
        }
        let id = &state.state.mission_id;
        Ok(match launch {
            Launch::ApprovePlan => format!("plan of mission {id} approved; the mission runs; progress arrives as missions/event"),
            Launch::RunFeature(f) => format!("running feature {f} of mission {id}, then the mission pauses; progress arrives as missions/event"),
            Launch::ValidateMilestone(m) => format!("validating milestone {m} of mission {id}, then the mission pauses; progress arrives as missions/event"),
            Launch::Resume => format!("mission {id} resumed where it stopped; progress arrives as missions/event"),
            Launch::Start if matches!(state.status(), MissionStatus::Paused | MissionStatus::Halted) => format!("mission {id} resumed; missions.start approves the plan (like `missions run --yes`); progress arrives as missions/event"),
            Launch::Start => format!("mission {id} started; missions.start approves the plan (like `missions run --yes`); progress arrives as missions/event"),
        })
    }

    /// Asks a run to stop after its current step's cleanup; it ends `paused` (`cancelled` when
    /// `cancel`). Returns at once.
    fn stop(&self, dir: &Path, how: fn(&Stop)) -> bool {
        match self.lock().get(dir) {
            Some(run) => {
                how(&run.stop);
                true
            }
            None => false,
        }
    }

    pub fn pause(&self, dir: &Path) -> Result<String, String> {
        if self.stop(dir, Stop::pause) {
            Ok("pausing after the current step's cleanup; missions/event reports mission_paused".into())
        } else {
            Err(format!("the mission {} is not running here; nothing to pause", dir.display()))
        }
    }

    /// Cancels a running mission (it stops, then is marked cancelled) or a stopped one (at once).
    /// The events of the latter are returned for the caller to send.
    pub fn cancel(&self, dir: &Path) -> Result<(String, Vec<ProgressEvent>), String> {
        if self.stop(dir, Stop::cancel) {
            return Ok((
                "cancelling after the current step's cleanup; missions/event reports mission_cancelled".into(),
                Vec::new(),
            ));
        }
        let collected = Arc::new(Mutex::new(Vec::new()));
        let sink = collected.clone();
        let sink: EventSink =
            Arc::new(move |e: &ProgressEvent| sink.lock().unwrap_or_else(|p| p.into_inner()).push(e.clone()));
        let id = control::cancel_stopped(dir, "missions.cancel", Some(sink))?;
        let events = std::mem::take(&mut *collected.lock().unwrap_or_else(|p| p.into_inner()));
        Ok((format!("mission {id} cancelled"), events))
    }

    /// The server stops: every run pauses (the files say where; the next start resumes), and
    /// this waits (at most `wait`) until each has written that it paused.
    pub async fn pause_all(&self, wait: std::time::Duration) {
        for run in self.lock().values() {
            run.stop.pause();
        }
        let deadline = tokio::time::Instant::now() + wait;
        while !self.lock().is_empty() {
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!("a mission run did not pause within {wait:?}; its files say where it stopped");
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

/// The runner thread: the loop on a runtime of its own.
fn run_loop(opts: RunOptions, tx: mpsc::UnboundedSender<Message>, stop: &Stop) -> RunResult {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("mission-loop-worker")
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return RunResult::new(RunOutcome::Failed, format!("cannot start the mission loop's runtime: {e}")),
    };
    let result = runtime.block_on(control::run(opts, Box::new(EditorProgress { tx }), stop));
    runtime.shutdown_background();
    result
}

pub async fn send_event(client: &Client, uri: &Uri, event: &ProgressEvent) {
    client.send_notification::<MissionEvent>(json!({"missionUri": uri, "event": event})).await;
}

/// Sends a run's events in order; when it ends, frees the folder, sends the final events and
/// tells the person how it ended. Beside that, when the client shows work-done progress, a
/// token is asked for (without holding up the events) and each event becomes a `$/progress`
/// report; the run's end ends it.
async fn forward(missions: Missions, client: Client, dir: PathBuf, uri: Uri, mut rx: mpsc::UnboundedReceiver<Message>) {
    let mut held = Vec::new();
    let mut result = None;
    let support = missions.client_support();
    let wanted = support.work_done_progress;
    let mut creating =
        wanted.then(|| Box::pin(work_progress::create(client.clone(), missions.tokens.clone(), dir.clone())));
    let mut progress: Option<RunProgress> = None;
    let mut spent: Option<String> = None;
    loop {
        let message = match creating.as_mut() {
            Some(pending) => tokio::select! {
                created = pending => {
                    creating = None;
                    progress = created;
                    if let Some(p) = progress.as_mut() {
                        p.spent = spent.clone();
                        p.begin(work_progress::figures(&dir, None).await).await;
                    }
                    continue;
                }
                message = rx.recv() => message,
            },
            None => rx.recv().await,
        };
        let Some(message) = message else { break };
        match message {
            Message::Event(event) if FINAL_EVENTS.contains(&event.kind.as_str()) => held.push(event),
            Message::Event(event) => {
                missions.announce_writes(&dir);
                send_event(&client, &uri, &event).await;
                if let Some(p) = progress.as_mut() {
                    p.report(work_progress::figures(&dir, Some(&event)).await).await;
                }
            }
            Message::Note { text, in_progress } => {
                client.log_message(MessageType::INFO, format!("Mission {}: {}", dir.display(), text.trim())).await;
                if let Some(p) = progress.as_mut().filter(|_| in_progress) {
                    p.note(text.trim()).await;
                }
            }
            Message::Spend { summary, warnings } => {
                for w in warnings {
                    client.show_message(MessageType::WARNING, format!("Mission {}: {w}", dir.display())).await;
                }
                spent = summary;
                if let Some(p) = progress.as_mut() {
                    p.spent = spent.clone();
                    p.report(work_progress::figures(&dir, None).await).await;
                }
            }
            Message::Waiting(line) => {
                if let Some(p) = progress.as_mut() {
                    match line {
                        Some(text) => p.note(&text).await,
                        None => p.report(work_progress::figures(&dir, None).await).await,
                    }
                }
            }
            Message::Done(r) => {
                result = Some(r);
                break;
            }
        }
    }
    missions.lock().remove(&dir);
    missions.announce_writes(&dir);
    for event in &held {
        send_event(&client, &uri, event).await;
    }
    let result = result
        .unwrap_or(RunResult::new(RunOutcome::Failed, "internal error: the mission loop stopped without a result"));
    let end_dir = dir.clone();
    let ended = tokio::task::spawn_blocking(move || {
        StateStore::open(&end_dir).map(|s| (s.status(), s.state.halt_reason.clone(), s.label(&end_dir)))
    })
    .await
    .ok()
    .and_then(Result::ok);
    let final_message = match &ended {
        Some((MissionStatus::Halted, Some(reason), _)) => format!("halted: {reason}"),
        Some((status, _, _)) => status.as_str().to_string(),
        None => result.message.clone(),
    };
    match &ended {
        Some((MissionStatus::AwaitingAnswers, _, title)) if result.outcome == RunOutcome::AwaitingPerson => {
            questions::announce(&client, &dir, title, support.show_document).await
        }
        _ => {
            let (kind, text) = match result.outcome {
                RunOutcome::Completed => (MessageType::INFO, result.message),
                RunOutcome::Halted => (MessageType::ERROR, format!("Mission {}", result.message)),
                RunOutcome::Paused => {
                    (MessageType::INFO, "Mission paused; missions.resume continues where it stopped".to_string())
                }
                RunOutcome::AwaitingPerson | RunOutcome::Cancelled => (MessageType::INFO, result.message),
                RunOutcome::Refused | RunOutcome::Failed => {
                    (MessageType::ERROR, format!("The mission could not run: {}", result.message))
                }
            };
            client.show_message(kind, text).await;
        }
    }
    // A token still being asked for when the run ended: once accepted, it begins and ends.
    if let Some(pending) = creating.take() {
        progress = pending.await;
        if let Some(p) = progress.as_mut() {
            p.begin(work_progress::figures(&dir, None).await).await;
        }
    }
    if let Some(p) = progress {
        p.end(final_message).await;
    }
}
