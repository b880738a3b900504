//! The built-in agent loop: send, run the tool calls in order, append their results, repeat
//! until the role's final tool is accepted or a budget (turns, tokens) runs out. Every way a
//! session can end is a [`SessionEnd`], written with its reason to the transcript.

use crate::agent::cancel::CancellationToken;
use crate::agent::error::{ErrorKind, ProviderError};
use crate::agent::event::StreamEvent;
use crate::agent::final_tool::{FinalDecision, FinalToolHandler};
use crate::agent::message::{ContentBlock, Message, ModelRequest, StopReason, ToolResult};
use crate::agent::provider::Provider;
use crate::agent::retry::RetryPolicy;
use crate::agent::roles::SessionKind;
use crate::agent::schema;
use crate::agent::tools::terminal::EvidenceDir;
use crate::agent::tools::{self, CommandSettings, ToolOutput, Toolbox};
use crate::agent::transcript::{SessionTranscript, SessionWatch};
use crate::agent::turn::{RetryNotice, WaitNotice};
use crate::agent::usage::{Usage, UsageRollup};
use crate::config::MissionsConfig;
use crate::model::evidence::Recorded;
use serde_json::{json, Value};
use std::path::PathBuf;

/// Turns in a row without a tool call before the session gives up on the model.
const MAX_IDLE_TURNS: u32 = 3;
/// Answers in a row cut off at the output limit before the session gives up on the model.
const MAX_CUT_OFF_TURNS: u32 = 3;
/// Messages at the end of the conversation that compaction leaves whole.
const KEEP_RECENT_MESSAGES: usize = 4;
/// Tool results longer than this are shortened by compaction.
const COMPACT_ABOVE_BYTES: usize = 400;

/// Everything one session needs besides its provider, transcript and final-call hook.
#[derive(Debug, Clone)]
pub struct SessionSpec {
    pub kind: SessionKind,
    pub working_dir: PathBuf,
    pub mission_dir: PathBuf,
    /// The first user message: the task and the context the runner chose for it (the
    /// feature, its assertions, AGENTS.md, the skill…).
    pub task: String,
    /// Context every session of the role in this mission shares (AGENTS.md, architecture…),
    /// sent before `task` in the first message, so that providers cache it across sessions.
    pub shared_context: Option<String>,
    pub max_turns: u32,
    /// The mission's token budget (0: none), checked against the mission's usage before
    /// every model call.
    pub max_mission_tokens: u64,
    /// The mission's cost budget (`max_cost`, 0: none) and the prices it is counted at,
    /// checked like the token budget.
    pub max_mission_cost: f64,
    pub prices: std::sync::Arc<std::collections::BTreeMap<String, crate::analysis::cost::Price>>,
    pub retry: RetryPolicy,
    pub commands: CommandSettings,
    pub max_output_tokens: Option<u32>,
    /// Whether the orchestrator is offered `ask_user` (`missions run --yes` withholds it).
    pub allow_questions: bool,
    /// `session_timeout_s`: the longest the session may run (None: no limit).
    pub session_timeout: Option<std::time::Duration>,
    /// Where `browser` and `terminal` keep what they see (`evidence/<milestone>/<group>`);
    /// the tools are offered only with one, and only to kinds that have them.
    pub evidence: Option<EvidenceDir>,
}

impl SessionSpec {
    /// A spec with missions.toml's limits and command settings (the sandbox stays off until
    /// the caller probes it and sets `commands.sandbox`).
    pub fn new(
        kind: SessionKind,
        working_dir: PathBuf,
        mission_dir: PathBuf,
        task: String,
        config: &MissionsConfig,
    ) -> Self {
        let commands =
            CommandSettings::from_config(config, kind.write_policy()).with_git_identity_if_missing(&working_dir);
        SessionSpec {
            kind,
            working_dir,
            mission_dir,
            task,
            shared_context: None,
            max_turns: config.limits.max_turns,
            max_mission_tokens: config.limits.max_tokens_per_mission,
            max_mission_cost: config.limits.max_cost,
            prices: std::sync::Arc::new(config.prices.clone()),
            retry: RetryPolicy::from_limits(&config.limits),
            commands,
            max_output_tokens: config.role(kind.agent_role()).ok().and_then(|r| r.max_output_tokens),
            allow_questions: true,
            session_timeout: (config.limits.session_timeout_s > 0)
                .then(|| std::time::Duration::from_secs(config.limits.session_timeout_s)),
            evidence: None,
        }
    }

    /// The first user message: the shared context (when there is one), then the task, each
    /// its own block.
    pub fn first_message(&self) -> Message {
        let mut message = Message::user_text(self.task.clone());
        if let Some(context) = self.shared_context.as_ref().filter(|c| !c.trim().is_empty()) {
            message.content.insert(0, ContentBlock::Text { text: context.clone() });
        }
        message
    }

    /// The first message as one text (for an external agent's stdin).
    pub fn first_message_text(&self) -> String {
        match self.shared_context.as_ref().filter(|c| !c.trim().is_empty()) {
            Some(context) => format!("{context}\n\n{}", self.task),
            None => self.task.clone(),
        }
    }
}

/// What the answers without a tool call that ended a session were like: the halt reason
/// names what was observed, since each points at a different fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleAnswers {
    /// No text and no tool call: the answer was lost on the way (a gateway, a server that
    /// drops streamed answers).
    Empty,
    /// Text, and no tool call in the whole session: the server may not pass the tools on.
    NeverCalledATool,
    /// Text, after tool calls earlier in the session: the model stopped using them.
    Text,
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEnd {
    /// The final tool was called and accepted: the handoff, the validation, the plan summary.
    Finished(Value),
    /// The orchestrator asked the person (written to mission.md).
    AwaitingAnswers(Vec<String>),
    MaxTurns(u32),
    /// `session_timeout_s` (the seconds) passed before the final tool was called.
    TimedOut(u64),
    TokenBudget {
        used: u64,
        budget: u64,
    },
    /// `max_cost` is spent (in the currency of `[prices]`).
    CostBudget {
        used: f64,
        budget: f64,
    },
    /// The prompt did not fit even after compacting old tool output.
    ContextExhausted(String),
    /// The model answered `times` times in a row without a tool call; `seen` says what those
    /// answers were like.
    NoToolCalls {
        times: u32,
        seen: IdleAnswers,
    },
    /// The model's answers were cut off at the output limit this many times in a row
    /// (`max_output_tokens`: the role's setting, None for the provider's default).
    OutputLimit {
        max_output_tokens: Option<u32>,
        times: u32,
    },
    ProviderFailed(ProviderError),
    Cancelled,
    /// Anything else that stopped the session (a setup error, an external agent's failure).
    Failed(String),
}

/// The ending a spent mission budget gives (`max_tokens_per_mission`, then `max_cost`), or
/// `None` while both last; `rollup` is the whole mission's usage.
pub fn budget_spent(
    rollup: &UsageRollup,
    max_tokens: u64,
    max_cost: f64,
    prices: &std::collections::BTreeMap<String, crate::analysis::cost::Price>,
) -> Option<SessionEnd> {
    use crate::analysis::cost::{budget_use, cost, Budgets};
    let cost = if max_cost > 0.0 { cost(&rollup.by_role_model, prices) } else { None };
    let used = budget_use(rollup.mission.total(), cost.as_ref(), Budgets { max_tokens, max_cost });
    used.into_iter().find(|u| u.spent()).map(|u| match u.limit.as_str() {
        "max_cost" => SessionEnd::CostBudget { used: u.used, budget: u.budget },
        _ => SessionEnd::TokenBudget { used: rollup.mission.total(), budget: max_tokens },
    })
}

impl SessionEnd {
    /// The `status` of the transcript's `session_end` line.
    pub fn status(&self) -> &'static str {
        match self {
            SessionEnd::Finished(_) => "completed",
            SessionEnd::AwaitingAnswers(_) => "awaiting_answers",
            SessionEnd::MaxTurns(_) => "max_turns",
            SessionEnd::TimedOut(_) => "timed_out",
            SessionEnd::TokenBudget { .. } => "token_budget",
            SessionEnd::CostBudget { .. } => "cost_budget",
            SessionEnd::ContextExhausted(_) => "context_exhausted",
            SessionEnd::NoToolCalls { .. } => "no_tool_calls",
            SessionEnd::OutputLimit { .. } => "output_limit",
            SessionEnd::ProviderFailed(_) => "provider_failed",
            SessionEnd::Cancelled => "cancelled",
            SessionEnd::Failed(_) => "failed",
        }
    }

    /// A sentence a person can act on.
    pub fn reason(&self) -> String {
        match self {
            SessionEnd::Finished(_) => "the final tool was called and accepted".into(),
            SessionEnd::AwaitingAnswers(q) => {
                format!("asked the person {} question(s) in mission.md", q.len())
            }
            SessionEnd::MaxTurns(n) => {
                format!("max_turns ({n}) reached before the final tool was called")
            }
            SessionEnd::TimedOut(s) => {
                format!("session_timeout_s ({s} s) passed before the final tool was called")
            }
            SessionEnd::TokenBudget { used, budget } => {
                format!("the mission's token budget is spent ({used} of max_tokens_per_mission = {budget})")
            }
            SessionEnd::CostBudget { used, budget } => {
                let usd = crate::analysis::cost::usd;
                format!("the mission's cost budget is spent ({} of max_cost = {})", usd(*used), usd(*budget))
            }
            SessionEnd::ContextExhausted(m) => {
                format!("the conversation no longer fits the model's context, even compacted: {m}")
            }
            SessionEnd::NoToolCalls { times, seen: IdleAnswers::Empty } => format!(
                "the model's last {times} answers were empty (no text, no tool call): the server, or a gateway in front of it, loses the answer; behind a gateway try `stream = false` on the role"
            ),
            SessionEnd::NoToolCalls { times, seen: IdleAnswers::NeverCalledATool } => format!(
                "the model answered {times} times without ever calling a tool: the server may not pass the tools to the model (llama.cpp's llama-server needs `--jinja` and a chat template with tool support; with Ollama, use a model whose template has tools)"
            ),
            SessionEnd::NoToolCalls { times, seen: IdleAnswers::Text } => {
                format!("the model answered {times} times in a row without calling a tool")
            }
            SessionEnd::OutputLimit {
                max_output_tokens,
                times,
            } => format!(
                "the model's answer was cut off at the output limit ({}) {times} times in a row; raise the role's max_output_tokens or split the work into smaller steps",
                output_limit(*max_output_tokens)
            ),
            SessionEnd::ProviderFailed(e) => format!("the model provider failed: {e}"),
            SessionEnd::Cancelled => "cancelled".into(),
            SessionEnd::Failed(m) => m.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SessionOutcome {
    pub session_id: String,
    pub end: SessionEnd,
    /// Assistant turns taken.
    pub turns: u32,
    pub usage: Usage,
    /// droid's Markdown skeleton of the conversation (for worker-transcripts.jsonl).
    pub skeleton: String,
    /// What the session's browser and terminals recorded (empty when it had none).
    pub recorded: Recorded,
}

/// Watches a session live (for progress display); the transcript is the record.
pub trait SessionObserver: Send {
    fn on_event(&mut self, _event: &StreamEvent) {}
    fn on_tool_call(&mut self, _name: &str, _input: &Value) {}
    fn on_tool_result(&mut self, _name: &str, _output: &ToolOutput) {}
    /// A model call failed and is tried again after `retry.delay`; `who` is the session's
    /// role (the runner names the feature too).
    fn on_retry(&mut self, _who: &str, _retry: &RetryNotice) {}
    /// A model call is still waiting for the provider's first answer (every few seconds),
    /// or that wait is over (`wait.over`); `who` as for `on_retry`.
    fn on_waiting(&mut self, _who: &str, _wait: &WaitNotice) {}
}

pub struct NoSessionObserver;
impl SessionObserver for NoSessionObserver {}

/// Runs one session of `spec.kind` with the built-in loop.
pub async fn run_session(
    provider: &dyn Provider,
    spec: &SessionSpec,
    transcript: &mut SessionTranscript,
    handler: &mut dyn FinalToolHandler,
    cancel: &CancellationToken,
    observer: &mut dyn SessionObserver,
) -> SessionOutcome {
    let mut turns = 0u32;
    let mut toolbox = match Toolbox::new(
        &spec.working_dir,
        &spec.mission_dir,
        spec.kind.write_policy(),
        transcript.session_id(),
        spec.commands.clone(),
    ) {
        Ok(t) => t,
        Err(e) => {
            let end = SessionEnd::Failed(format!("cannot open the working directory or mission folder: {e}"));
            return finish_session(spec, transcript, end, turns);
        }
    };
    if let Some(evidence) =
        spec.evidence.clone().filter(|_| spec.kind.tool_names().iter().any(|n| tools::PERSON_TOOLS.contains(n)))
    {
        toolbox = toolbox.with_evidence(evidence);
    }
    let end = drive(provider, spec, transcript, handler, cancel, observer, &mut toolbox, &mut turns).await;
    // The browser and the terminals end with the session, whatever ended it.
    let recorded = toolbox.finish().await;
    let mut outcome = finish_session(spec, transcript, end, turns);
    outcome.recorded = recorded;
    outcome
}

/// Records how a session ended (a worker's handoff, then `session_end`) and builds its
/// outcome; shared by the built-in loop and external agents.
pub(crate) fn finish_session(
    spec: &SessionSpec,
    transcript: &mut SessionTranscript,
    end: SessionEnd,
    turns: u32,
) -> SessionOutcome {
    if let (SessionEnd::Finished(value), SessionKind::Worker) = (&end, spec.kind) {
        transcript.handoff(value);
    }
    transcript.end_with(end.status(), json!({"reason": end.reason(), "turns": turns}));
    SessionOutcome {
        session_id: transcript.session_id().to_string(),
        end,
        turns,
        usage: transcript.session_usage(),
        skeleton: transcript.skeleton().to_string(),
        recorded: Recorded::default(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn drive(
    provider: &dyn Provider,
    spec: &SessionSpec,
    transcript: &mut SessionTranscript,
    handler: &mut dyn FinalToolHandler,
    cancel: &CancellationToken,
    observer: &mut dyn SessionObserver,
    toolbox: &mut Toolbox,
    turns: &mut u32,
) -> SessionEnd {
    let kind = spec.kind;
    let roots = toolbox.roots().clone();
    let person_tools = toolbox.has_person_tools();
    let offered: Vec<&str> = kind
        .tool_names()
        .into_iter()
        .filter(|n| spec.allow_questions || *n != "ask_user")
        .filter(|n| person_tools || !tools::PERSON_TOOLS.contains(n))
        .collect();
    let mut request = ModelRequest {
        system: kind.system_prompt(&roots.working_dir, &roots.mission_dir),
        messages: vec![spec.first_message()],
        tools: offered.iter().filter_map(|n| tools::schema_of(n)).collect(),
        max_output_tokens: spec.max_output_tokens,
        temperature: None,
    };
    let mut idle = 0u32;
    let mut empty = 0u32;
    let mut ever_called = false;
    let mut cut_offs = 0u32;
    // `session_timeout_s` bounds everything in flight, a model call or a tool call: at the
    // deadline the session's own token is cancelled (the caller's `cancel` stays as it is).
    let session = cancel.child_token();
    let _deadline = spec.session_timeout.map(|t| DeadlineGuard::arm(&session, t));
    let timed_out = || {
        (session.is_cancelled() && !cancel.is_cancelled())
            .then(|| SessionEnd::TimedOut(spec.session_timeout.map_or(0, |t| t.as_secs())))
    };
    let cancel = &session;
    loop {
        if let Some(end) = timed_out() {
            return end;
        }
        if cancel.is_cancelled() {
            return SessionEnd::Cancelled;
        }
        if *turns >= spec.max_turns {
            return SessionEnd::MaxTurns(spec.max_turns);
        }
        if let Some(end) =
            budget_spent(&transcript.mission_rollup(), spec.max_mission_tokens, spec.max_mission_cost, &spec.prices)
        {
            return end;
        }
        let role = transcript.role();
        let mut watch = SessionWatch { observer: &mut *observer, who: role.as_str() };
        let turn = match transcript.model_call_observed(provider, &request, &spec.retry, cancel, &mut watch).await {
            Ok(turn) => turn,
            Err(e) if e.kind == ErrorKind::Cancelled => return timed_out().unwrap_or(SessionEnd::Cancelled),
            // Each time the conversation outgrows the context, the tool output that has grown
            // since is shortened; when nothing is left to shorten, the session ends.
            Err(e) if e.kind == ErrorKind::ContextLength => {
                if compact(&mut request.messages) == 0 {
                    return SessionEnd::ContextExhausted(e.message);
                }
                continue;
            }
            Err(e) => return SessionEnd::ProviderFailed(e),
        };
        *turns += 1;
        request.messages.push(turn.to_message());
        let calls: Vec<(String, String, Value)> =
            turn.tool_calls().iter().map(|c| (c.id.to_string(), c.name.to_string(), c.input.clone())).collect();
        // At the output limit the answer's last block is unfinished: a tool call there has
        // half its arguments and is not run; the model is told why instead. A server may
        // call a cut answer `end_turn` (a LiteLLM route did): an answer whose reported output
        // reached the limit is cut whatever the stop reason says.
        let limit = provider.output_limit(&request);
        let used_the_limit =
            !transcript.last_usage_estimated() && limit.is_some_and(|l| l > 0 && turn.usage.output >= u64::from(l));
        let cut_off = turn.stop_reason == StopReason::MaxTokens || used_the_limit;
        cut_offs = if cut_off { cut_offs + 1 } else { 0 };
        let cut_call = match turn.content.last() {
            Some(ContentBlock::ToolUse { id, .. }) if cut_off => Some(id.clone()),
            _ => None,
        };
        let end_at_limit = || SessionEnd::OutputLimit { max_output_tokens: spec.max_output_tokens, times: cut_offs };
        if calls.is_empty() && cut_off {
            if cut_offs >= MAX_CUT_OFF_TURNS {
                return end_at_limit();
            }
            request.messages.push(Message::user_text(cut_off_notice(spec, None)));
            continue;
        }
        if calls.is_empty() {
            idle += 1;
            empty = if turn.content.is_empty() { empty + 1 } else { 0 };
            if idle >= MAX_IDLE_TURNS {
                let seen = if empty >= idle {
                    IdleAnswers::Empty
                } else if !ever_called {
                    IdleAnswers::NeverCalledATool
                } else {
                    IdleAnswers::Text
                };
                return SessionEnd::NoToolCalls { times: idle, seen };
            }
            request.messages.push(Message::user_text(format!(
                "You answered without calling a tool. Go on with the tools, and end the session by calling `{}`.",
                kind.final_tool()
            )));
            continue;
        }
        idle = 0;
        empty = 0;
        ever_called = true;
        let mut results = Vec::new();
        for (id, name, input) in calls {
            transcript.tool_call(&id, &name, &input);
            observer.on_tool_call(&name, &input);
            let (output, end) = if cut_call.as_deref() == Some(id.as_str()) {
                (ToolOutput::error(cut_off_notice(spec, Some(&name))), None)
            } else if !offered.contains(&name.as_str()) {
                (ToolOutput::error(format!("unknown tool `{name}`; the tools are: {}", offered.join(", "))), None)
            } else if name == kind.final_tool() {
                final_call(kind, &name, &input, handler)
            } else if name == "ask_user" {
                ask_user(&roots.mission_dir, &input)
            } else {
                (toolbox.run(&name, &input, cancel).await, None)
            };
            transcript.tool_result(&id, &name, &output.content, output.is_error);
            observer.on_tool_result(&name, &output);
            if let Some(end) = end {
                return end; // calls after the final one in the same turn are not run
            }
            results.push(ToolResult { tool_use_id: id, content: output.content, is_error: output.is_error });
        }
        request.messages.push(Message::tool_results(results));
        if cut_off && cut_offs >= MAX_CUT_OFF_TURNS {
            return end_at_limit();
        }
    }
}

/// Cancels a session's token at its deadline; disarmed when the session ends.
struct DeadlineGuard(tokio::task::JoinHandle<()>);

impl DeadlineGuard {
    fn arm(token: &CancellationToken, after: std::time::Duration) -> Self {
        let token = token.clone();
        DeadlineGuard(tokio::spawn(async move {
            tokio::time::sleep(after).await;
            token.cancel();
        }))
    }
}

impl Drop for DeadlineGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn output_limit(max_output_tokens: Option<u32>) -> String {
    match max_output_tokens {
        Some(n) => format!("max_output_tokens = {n}"),
        None => "the provider's default max_output_tokens".into(),
    }
}

/// What the model is told when its answer stopped at the output limit (`call`: the tool call
/// that was cut, not run).
fn cut_off_notice(spec: &SessionSpec, call: Option<&str>) -> String {
    let what = match call {
        Some(name) => format!("while writing this `{name}` call, so it was not run"),
        None => "before you called a tool".into(),
    };
    format!(
        "Your answer was cut off at the output limit ({}) {what}. Write large content in smaller pieces: \
         `write_file` with the first part, then add the rest with `edit_file` (replace the last lines with \
         those lines plus the next part), each call well under the limit; keep other arguments short too.",
        output_limit(spec.max_output_tokens)
    )
}

fn final_call(
    kind: SessionKind,
    name: &str,
    input: &Value,
    handler: &mut dyn FinalToolHandler,
) -> (ToolOutput, Option<SessionEnd>) {
    if let Err(e) = tools::check_args(name, input) {
        return (ToolOutput::error(e), None);
    }
    if let Err(e) = schema::check_final_semantics(name, input) {
        return (ToolOutput::error(format!("`{name}` refused: {e}. Fix it and call again.")), None);
    }
    match handler.decide(kind, input) {
        FinalDecision::Accept(value) => {
            (ToolOutput::ok("accepted; the session ends here"), Some(SessionEnd::Finished(value)))
        }
        FinalDecision::Reject(message) => (ToolOutput::error(message), None),
    }
}

pub(crate) fn ask_user(mission_dir: &std::path::Path, input: &Value) -> (ToolOutput, Option<SessionEnd>) {
    if let Err(e) = tools::check_args("ask_user", input) {
        return (ToolOutput::error(e), None);
    }
    let questions: Vec<String> =
        input["questions"].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect();
    match crate::model::folder::append_questions(mission_dir, &questions) {
        Ok(()) => (
            ToolOutput::ok("written to mission.md; the session ends until the person answers"),
            Some(SessionEnd::AwaitingAnswers(questions)),
        ),
        Err(e) => (ToolOutput::error(format!("cannot write mission.md: {e}")), None),
    }
}

/// Shortens long tool results outside the last few messages; returns how many it shortened.
/// Everything before the first one it shortens stays byte for byte as sent (the prompt
/// cache still holds it), and a result shortened once is never shortened again, so every
/// later request sends it the same way.
fn compact(messages: &mut [Message]) -> usize {
    let keep_from = messages.len().saturating_sub(KEEP_RECENT_MESSAGES);
    let mut shortened = 0;
    for message in &mut messages[..keep_from] {
        for block in &mut message.content {
            if let ContentBlock::ToolResult { content, .. } = block {
                if content.len() > COMPACT_ABOVE_BYTES {
                    let head = tools::clip(content, 200).to_string();
                    *content = format!("{head}\n… [older tool output removed to fit the context window; run the tool again if you need it]");
                    shortened += 1;
                }
            }
        }
    }
    shortened
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_context_is_the_first_messages_first_block() {
        let dir = std::path::PathBuf::from("/tmp");
        let mut spec =
            SessionSpec::new(SessionKind::Worker, dir.clone(), dir, "Your feature".into(), &MissionsConfig::default());
        assert_eq!(spec.first_message(), Message::user_text("Your feature"));
        assert_eq!(spec.first_message_text(), "Your feature");
        spec.shared_context = Some("AGENTS.md".into());
        let text = |b: &ContentBlock| match b {
            ContentBlock::Text { text } => text.clone(),
            other => panic!("{other:?}"),
        };
        let first = spec.first_message();
        assert_eq!(first.content.iter().map(text).collect::<Vec<_>>(), ["AGENTS.md", "Your feature"]);
        assert_eq!(spec.first_message_text(), "AGENTS.md\n\nYour feature");
        spec.shared_context = Some("  ".into());
        assert_eq!(spec.first_message(), Message::user_text("Your feature"));
    }

    #[test]
    fn compaction_shortens_only_old_long_results() {
        let long = "x".repeat(5000);
        let result = |c: &str| {
            Message::tool_results([ToolResult { tool_use_id: "t".into(), content: c.into(), is_error: false }])
        };
        let mut messages = vec![
            Message::user_text("task"),
            result(&long),
            result("short"),
            result(&long),
            result(&long),
            result(&long),
            result(&long),
            result(&long),
        ];
        assert_eq!(compact(&mut messages), 2);
        let len = |m: &Message| match &m.content[0] {
            ContentBlock::ToolResult { content, .. } => content.len(),
            _ => 0,
        };
        assert!(len(&messages[1]) < 400 && len(&messages[3]) < 400);
        assert_eq!(len(&messages[2]), 5);
        assert_eq!(len(&messages[4]), 5000);
        assert_eq!(len(&messages[7]), 5000);
        assert_eq!(compact(&mut messages), 0, "nothing more to shorten");
    }
}
