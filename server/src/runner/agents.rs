//! The agents of a run: one provider per role, built once (so a missing API key stops the
//! run before any work), and one call that runs a fresh session of any kind, whatever the
//! role's provider is (an HTTP model, an external command agent, or a replayed recording).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::json;

use crate::agent::final_tool::FinalToolHandler;
use crate::agent::providers::command::CommandAgent;
use crate::agent::providers::replay::Recording;
use crate::agent::providers::{self, HttpSettings};
use crate::agent::session::{run_session, SessionEnd, SessionObserver, SessionOutcome, SessionSpec};
use crate::agent::tools::sandbox::{self, Bwrap};
use crate::agent::tools::terminal::EvidenceDir;
use crate::agent::transcript::{rollup_from_transcript, SessionTranscript, SharedUsage, TRANSCRIPT_FILE};
use crate::agent::{CancellationToken, Provider, SessionKind};
use crate::config::{AgentRole, MissionsConfig, ProviderKind, Sandbox};

enum Backend {
    Model(Arc<dyn Provider>),
    Command(CommandAgent),
    Replay,
}

/// One session to run: its kind, id, first message and what its transcript's
/// `session_start` line records besides the provider (feature, milestone, round…).
pub struct SessionCall<'a> {
    pub kind: SessionKind,
    pub session_id: &'a str,
    pub task: String,
    /// What every session of the role in this mission starts from, byte for byte the same
    /// (sent before the task, so the provider's prompt cache reads it).
    pub shared_context: Option<String>,
    pub details: serde_json::Value,
}

pub struct Agents {
    pub config: MissionsConfig,
    backends: HashMap<AgentRole, Backend>,
    recording: Option<Recording>,
    sandbox: Option<Bwrap>,
    pub usage: SharedUsage,
    /// The sessions in flight and their waits, for `run-progress.json`.
    pub live: super::live::Live,
    /// Whether orchestrator sessions are offered `ask_user` (`--yes` withholds it).
    pub allow_questions: bool,
    mission_id: String,
    mission_dir: PathBuf,
    working_dir: PathBuf,
}

impl Agents {
    /// Builds every role's backend. The mission's usage so far is read back from its
    /// transcripts, so `max_tokens_per_mission` holds across resumes.
    pub fn new(
        config: MissionsConfig,
        mission_id: &str,
        mission_dir: &Path,
        working_dir: &Path,
        roles: &[AgentRole],
    ) -> Result<Agents, String> {
        let settings = HttpSettings::from_limits(&config.limits);
        let http = providers::http_client(&settings).map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let mut backends = HashMap::new();
        let mut recording = None;
        for &role in roles {
            let rc = config.role(role).map_err(|e| e.to_string())?;
            let backend = match rc.provider {
                ProviderKind::Anthropic | ProviderKind::Openai => Backend::Model(
                    providers::from_role(rc, http.clone(), settings.clone())
                        .map_err(|e| format!("[roles.{role}]: {e}"))?,
                ),
                ProviderKind::Command => Backend::Command(
                    CommandAgent::from_role(rc)
                        .ok_or_else(|| format!("[roles.{role}]: provider \"command\" needs `command = [...]`"))?,
                ),
                ProviderKind::Replay => {
                    if recording.is_none() {
                        let path = config.replay.as_ref().map(|r| r.recording.clone()).ok_or_else(|| {
                            format!("[roles.{role}]: provider \"replay\" needs `[replay] recording = \"path\"`")
                        })?;
                        recording = Some(Recording::load(&path)?);
                    }
                    Backend::Replay
                }
            };
            backends.insert(role, backend);
        }
        let sandbox = match config.sandbox {
            Sandbox::None => None,
            Sandbox::Bwrap => Some(sandbox::probe(config.network)?),
        };
        let usage = SharedUsage::default();
        if let Ok(rollup) = rollup_from_transcript(&mission_dir.join(TRANSCRIPT_FILE)) {
            *usage.lock().unwrap_or_else(|p| p.into_inner()) = rollup;
        }
        Ok(Agents {
            config,
            backends,
            recording,
            sandbox,
            usage,
            live: Default::default(),
            allow_questions: true,
            mission_id: mission_id.to_string(),
            mission_dir: mission_dir.to_path_buf(),
            working_dir: working_dir.to_path_buf(),
        })
    }

    /// Tokens the mission has used, all sessions and runs together.
    pub fn tokens_used(&self) -> u64 {
        self.usage.lock().unwrap_or_else(|p| p.into_inner()).mission.total()
    }

    /// Whether `max_tokens_per_mission` or `max_cost` is spent; the halt reason when it is.
    pub fn budget_spent(&self) -> Option<String> {
        let rollup = self.usage.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let limits = &self.config.limits;
        crate::agent::session::budget_spent(
            &rollup,
            limits.max_tokens_per_mission,
            limits.max_cost,
            &self.config.prices,
        )
        .map(|end| end.reason())
    }

    /// Runs one fresh session: `call.task` is its first message.
    pub async fn run(
        &self,
        call: SessionCall<'_>,
        handler: &mut dyn FinalToolHandler,
        cancel: &CancellationToken,
        observer: &mut dyn SessionObserver,
    ) -> SessionOutcome {
        self.session(&self.working_dir, None, call, handler, cancel, observer).await
    }

    /// Runs one fresh session whose `browser` and `terminal` (for kinds that have them) keep
    /// what they see in `evidence`; the outcome returns what they recorded.
    pub async fn run_recorded(
        &self,
        evidence: EvidenceDir,
        call: SessionCall<'_>,
        handler: &mut dyn FinalToolHandler,
        cancel: &CancellationToken,
        observer: &mut dyn SessionObserver,
    ) -> SessionOutcome {
        self.session(&self.working_dir, Some(evidence), call, handler, cancel, observer).await
    }

    /// Runs one fresh session in `working_dir` (a parallel worker's git worktree) instead of
    /// the mission's working directory.
    pub async fn run_in(
        &self,
        working_dir: &Path,
        call: SessionCall<'_>,
        handler: &mut dyn FinalToolHandler,
        cancel: &CancellationToken,
        observer: &mut dyn SessionObserver,
    ) -> SessionOutcome {
        self.session(working_dir, None, call, handler, cancel, observer).await
    }

    async fn session(
        &self,
        working_dir: &Path,
        evidence: Option<EvidenceDir>,
        call: SessionCall<'_>,
        handler: &mut dyn FinalToolHandler,
        cancel: &CancellationToken,
        observer: &mut dyn SessionObserver,
    ) -> SessionOutcome {
        let SessionCall { kind, session_id, task, shared_context, details } = call;
        let role = kind.agent_role();
        let mut spec = SessionSpec::new(kind, working_dir.to_path_buf(), self.mission_dir.clone(), task, &self.config);
        spec.shared_context = shared_context;
        spec.commands.sandbox = self.sandbox.clone();
        spec.allow_questions = self.allow_questions;
        spec.evidence = evidence;
        let failed = |message: String| SessionOutcome {
            session_id: session_id.to_string(),
            end: SessionEnd::Failed(message),
            turns: 0,
            usage: Default::default(),
            skeleton: String::new(),
            recorded: Default::default(),
        };
        let Some(backend) = self.backends.get(&role) else {
            return failed(format!("no provider was set up for the {role} role"));
        };
        let rc = self.config.role(role).ok();
        let mut start = json!({"sessionKind": kind.as_str(), "provider": rc.map(|r| r.provider.as_str()), "model": rc.and_then(|r| r.model.clone())});
        if let (Some(obj), serde_json::Value::Object(extra)) = (start.as_object_mut(), details) {
            obj.extend(extra);
        }
        // Retries are shown as `worker feat-add: …`, `validator: …`.
        let who = match start.get("featureId").and_then(serde_json::Value::as_str) {
            Some(feature) => format!("{role} {feature}"),
            None => role.to_string(),
        };
        self.live.session_started(session_id, &who, kind.as_str());
        let _in_flight = InFlight { live: &self.live, session_id };
        let observer = &mut Named { inner: observer, who, live: &self.live, session_id };
        let mut transcript =
            SessionTranscript::start(&self.mission_dir, &self.mission_id, session_id, role, self.usage.clone(), start);
        match backend {
            Backend::Model(provider) => {
                run_session(provider.as_ref(), &spec, &mut transcript, handler, cancel, observer).await
            }
            Backend::Command(agent) => agent.run(&spec, &mut transcript, handler, cancel, observer).await,
            Backend::Replay => match self.recording.as_ref().and_then(|r| r.next_session(role)) {
                Some(provider) => run_session(&provider, &spec, &mut transcript, handler, cancel, observer).await,
                None => {
                    let end = SessionEnd::Failed(format!("the recording has no more {role} sessions"));
                    transcript.end_with(end.status(), json!({"reason": end.reason()}));
                    SessionOutcome {
                        session_id: session_id.to_string(),
                        end,
                        turns: 0,
                        usage: Default::default(),
                        skeleton: String::new(),
                        recorded: Default::default(),
                    }
                }
            },
        }
    }
}

/// A session in flight for `run-progress.json`, until it returns (or unwinds).
struct InFlight<'a> {
    live: &'a super::live::Live,
    session_id: &'a str,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.live.session_ended(self.session_id);
    }
}

/// Names a session's retries and waits after its role and feature; its waits also go to
/// `run-progress.json`.
struct Named<'a> {
    inner: &'a mut dyn SessionObserver,
    who: String,
    live: &'a super::live::Live,
    session_id: &'a str,
}

impl SessionObserver for Named<'_> {
    fn on_event(&mut self, event: &crate::agent::event::StreamEvent) {
        self.inner.on_event(event);
    }
    fn on_tool_call(&mut self, name: &str, input: &serde_json::Value) {
        self.inner.on_tool_call(name, input);
    }
    fn on_tool_result(&mut self, name: &str, output: &crate::agent::tools::ToolOutput) {
        self.inner.on_tool_result(name, output);
    }
    fn on_retry(&mut self, _who: &str, retry: &crate::agent::RetryNotice) {
        self.inner.on_retry(&self.who, retry);
    }
    fn on_waiting(&mut self, _who: &str, wait: &crate::agent::WaitNotice) {
        self.live.waiting(self.session_id, wait.since, wait.over);
        self.inner.on_waiting(&self.who, wait);
    }
}
