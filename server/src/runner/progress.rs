//! How a run reports what it does to whoever started it: the `Progress` trait and its
//! `Update`s, one line of words for each (`describe`), and the session observer that feeds
//! tool calls, retries and waits in. The terminal renders them in `cli/progress.rs`, the
//! language server in `lsp/mission_task.rs`.

use std::time::Duration;

use serde_json::Value;

use super::live::SpendSink;
use crate::agent::error::{ErrorKind, ProviderError};
use crate::agent::session::SessionObserver;
use crate::agent::tools::ToolOutput;
use crate::agent::turn::{RetryNotice, WaitNotice};
use crate::model::records::ProgressEvent;

/// One thing worth showing.
#[derive(Debug, Clone, PartialEq)]
pub enum Update<'a> {
    Milestone {
        name: &'a str,
        index: usize,
        total: usize,
    },
    /// `done` features of `total` are completed.
    FeatureStarted {
        id: &'a str,
        attempt: u32,
        done: usize,
        total: usize,
    },
    FeatureFinished {
        id: &'a str,
        outcome: &'a str,
    },
    Validating {
        milestone: &'a str,
        round: u32,
    },
    RoundResult {
        milestone: &'a str,
        round: u32,
        passed: usize,
        total: usize,
    },
    Fixing {
        milestone: &'a str,
        round: u32,
    },
    Tool {
        name: &'a str,
        summary: String,
    },
    /// A model call failed and is tried again after a wait: `who` is the session (role,
    /// feature), `attempt` the one that failed.
    Retry {
        who: &'a str,
        error: &'a ProviderError,
        delay: Duration,
        attempt: u32,
    },
    /// A model call has waited `waited` for the provider's first answer (`over`: the wait
    /// ended, the answer began or the attempt failed).
    Waiting {
        who: &'a str,
        waited: Duration,
        over: bool,
    },
    Note(&'a str),
}

/// Receives every event the run appends to progress_log.jsonl, as written (the language
/// server forwards them as `missions/event`). Called on the runner's thread.
pub type EventSink = std::sync::Arc<dyn Fn(&ProgressEvent) + Send + Sync>;

/// What a run reports to whoever started it: the terminal display of `missions run`, or the
/// language server's mission task.
pub trait Progress: Send {
    fn update(&mut self, u: Update);
    /// Where the run's progress_log events go besides the file; none by default.
    fn events(&self) -> Option<EventSink> {
        None
    }
    /// Where the mission's tokens and cost so far go, and budgets that reach 80%; called
    /// from the run's live writer (another task) when they change. None by default.
    fn spend(&self) -> Option<SpendSink> {
        None
    }
    /// Clears bars before the final message.
    fn finish(&mut self) {}
}

/// One line for the person, as the terminal prints it.
pub fn describe(u: &Update) -> String {
    match u {
        Update::Milestone { name, index, total } => format!("milestone {name} ({index}/{total})"),
        Update::FeatureStarted { id, attempt, done, total } => {
            let again = if *attempt > 1 { format!(", attempt {attempt}") } else { String::new() };
            format!("  feature {id} ({done}/{total} done{again})")
        }
        Update::FeatureFinished { id, outcome } => format!("  feature {id}: {outcome}"),
        Update::Validating { milestone, round } => format!("  validating {milestone}, round {round}"),
        Update::RoundResult { milestone, round, passed, total } => {
            format!("  round {round} of {milestone}: {passed}/{total} assertions passed")
        }
        Update::Fixing { milestone, round } => format!("  orchestrator: fix features for round {round} of {milestone}"),
        Update::Tool { name, summary } => format!("    {name} {summary}"),
        Update::Retry { who, error, delay, attempt } => retry_line(who, error, *delay, *attempt),
        Update::Waiting { who, waited, .. } => {
            format!("    {who}: waiting for the provider, {} s", waited_secs(*waited))
        }
        Update::Note(text) => text.to_string(),
    }
}

/// `42` (whole seconds), or `1.5` under ten seconds (a short first-byte timeout is told about
/// every fraction of a second).
fn waited_secs(d: Duration) -> String {
    if d < Duration::from_secs(10) {
        format!("{:.1}", d.as_secs_f64())
    } else {
        format!("{}", d.as_secs_f64().round() as u64)
    }
}

/// `worker feat-add: rate limited (HTTP 429), retrying in 3 s (attempt 2)`: a long wait the
/// provider asked for must not look like a hang.
fn retry_line(who: &str, error: &ProviderError, delay: Duration, attempt: u32) -> String {
    let what = match error.kind {
        ErrorKind::RateLimited => "rate limited",
        ErrorKind::Overloaded => "the provider is overloaded",
        ErrorKind::Server => "the provider failed",
        ErrorKind::Timeout => "the provider timed out",
        ErrorKind::FirstByteTimeout => "no answer from the provider",
        ErrorKind::Transport => "cannot reach the provider",
        ErrorKind::StreamInterrupted => "the answer broke off",
        _ => "the model call failed",
    };
    let status = error.status.map(|s| format!(" (HTTP {s})")).unwrap_or_default();
    let secs = if delay.subsec_millis() == 0 || delay >= Duration::from_secs(10) {
        format!("{}", delay.as_secs_f64().round() as u64)
    } else {
        format!("{:.1}", delay.as_secs_f64())
    };
    format!("    {who}: {what}{status}, retrying in {secs} s (attempt {})", attempt + 1)
}

/// Feeds a session's tool calls to the progress display.
pub struct ToolFeed<'a> {
    pub progress: &'a mut dyn Progress,
}

impl SessionObserver for ToolFeed<'_> {
    fn on_tool_call(&mut self, name: &str, input: &Value) {
        let summary = match name {
            "bash" => input["command"]
                .as_str()
                .unwrap_or_default()
                .lines()
                .next()
                .unwrap_or_default()
                .chars()
                .take(100)
                .collect(),
            _ => input["path"].as_str().unwrap_or_default().to_string(),
        };
        self.progress.update(Update::Tool { name, summary });
    }

    fn on_tool_result(&mut self, _name: &str, _output: &ToolOutput) {}

    fn on_retry(&mut self, who: &str, retry: &RetryNotice) {
        self.progress.update(Update::Retry { who, error: &retry.error, delay: retry.delay, attempt: retry.attempt });
    }

    fn on_waiting(&mut self, who: &str, wait: &WaitNotice) {
        self.progress.update(Update::Waiting { who, waited: wait.waited, over: wait.over });
    }
}
