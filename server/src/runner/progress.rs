//! What `missions run` shows while it works: progress bars on a terminal (indicatif), plain
//! lines otherwise; `--quiet` keeps only the outcome, `--verbose` adds every tool call.

use std::io::Write;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

use crate::agent::session::SessionObserver;
use crate::agent::tools::ToolOutput;
use crate::model::records::ProgressEvent;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// One thing worth showing.
#[derive(Debug, Clone, PartialEq)]
pub enum Update<'a> {
    Milestone { name: &'a str, index: usize, total: usize },
    /// `done` features of `total` are completed.
    FeatureStarted { id: &'a str, attempt: u32, done: usize, total: usize },
    FeatureFinished { id: &'a str, outcome: &'a str },
    Validating { milestone: &'a str, round: u32 },
    RoundResult { milestone: &'a str, round: u32, passed: usize, total: usize },
    Fixing { milestone: &'a str, round: u32 },
    Tool { name: &'a str, summary: String },
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
    /// Clears bars before the final message.
    fn finish(&mut self) {}
}

/// Plain lines, for logs and pipes.
pub struct Lines<W: Write + Send> {
    pub out: W,
    pub verbosity: Verbosity,
}

impl<W: Write + Send> Progress for Lines<W> {
    fn update(&mut self, u: Update) {
        if self.verbosity == Verbosity::Quiet {
            return;
        }
        let line = match u {
            Update::Tool { .. } if self.verbosity != Verbosity::Verbose => return,
            other => describe(&other),
        };
        let _ = writeln!(self.out, "{line}");
    }
}

fn describe(u: &Update) -> String {
    match u {
        Update::Milestone { name, index, total } => format!("milestone {name} ({index}/{total})"),
        Update::FeatureStarted { id, attempt, done, total } => {
            let again = if *attempt > 1 { format!(", attempt {attempt}") } else { String::new() };
            format!("  feature {id} ({done}/{total} done{again})")
        }
        Update::FeatureFinished { id, outcome } => format!("  feature {id}: {outcome}"),
        Update::Validating { milestone, round } => format!("  validating {milestone}, round {round}"),
        Update::RoundResult { milestone, round, passed, total } => format!("  round {round} of {milestone}: {passed}/{total} assertions passed"),
        Update::Fixing { milestone, round } => format!("  orchestrator: fix features for round {round} of {milestone}"),
        Update::Tool { name, summary } => format!("    {name} {summary}"),
        Update::Note(text) => text.to_string(),
    }
}

/// Bars on a terminal: features done of all, and a spinner saying what runs now.
pub struct Bars {
    _multi: MultiProgress,
    features: ProgressBar,
    activity: ProgressBar,
    verbosity: Verbosity,
}

impl Bars {
    pub fn new(verbosity: Verbosity) -> Bars {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let features = multi.add(ProgressBar::new(0));
        features.set_style(ProgressStyle::with_template("{prefix:.bold} [{bar:30.cyan/blue}] {pos}/{len} features  {elapsed_precise}").unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> "));
        let activity = multi.add(ProgressBar::new_spinner());
        activity.set_style(ProgressStyle::with_template("  {spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
        activity.enable_steady_tick(Duration::from_millis(120));
        Bars { _multi: multi, features, activity, verbosity }
    }
}

impl Progress for Bars {
    fn update(&mut self, u: Update) {
        match &u {
            Update::Milestone { name, index, total } => self.features.set_prefix(format!("{name} ({index}/{total})")),
            Update::FeatureStarted { done, total, .. } => {
                self.features.set_length(*total as u64);
                self.features.set_position(*done as u64);
                self.activity.set_message(describe(&u).trim().to_string());
            }
            Update::FeatureFinished { .. } | Update::RoundResult { .. } => self.features.println(describe(&u)),
            Update::Tool { .. } => {
                if self.verbosity == Verbosity::Verbose {
                    self.features.println(describe(&u));
                }
            }
            Update::Note(_) => self.features.println(describe(&u)),
            _ => self.activity.set_message(describe(&u).trim().to_string()),
        }
    }

    fn finish(&mut self) {
        self.activity.finish_and_clear();
        self.features.finish_and_clear();
    }
}

impl Drop for Bars {
    /// A run that stops early (a usage error) leaves no half-drawn bar behind.
    fn drop(&mut self) {
        self.finish();
    }
}

/// Feeds a session's tool calls to the progress display.
pub struct ToolFeed<'a> {
    pub progress: &'a mut dyn Progress,
}

impl SessionObserver for ToolFeed<'_> {
    fn on_tool_call(&mut self, name: &str, input: &Value) {
        let summary = match name {
            "bash" => input["command"].as_str().unwrap_or_default().lines().next().unwrap_or_default().chars().take(100).collect(),
            _ => input["path"].as_str().unwrap_or_default().to_string(),
        };
        self.progress.update(Update::Tool { name, summary });
    }

    fn on_tool_result(&mut self, _name: &str, _output: &ToolOutput) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_follow_the_verbosity() {
        let mut normal = Lines { out: Vec::new(), verbosity: Verbosity::Normal };
        normal.update(Update::FeatureStarted { id: "f1", attempt: 2, done: 1, total: 3 });
        normal.update(Update::Tool { name: "bash", summary: "sh test.sh".into() });
        assert_eq!(String::from_utf8(normal.out).unwrap(), "  feature f1 (1/3 done, attempt 2)\n");
        let mut verbose = Lines { out: Vec::new(), verbosity: Verbosity::Verbose };
        verbose.update(Update::Tool { name: "bash", summary: "sh test.sh".into() });
        assert_eq!(String::from_utf8(verbose.out).unwrap(), "    bash sh test.sh\n");
        let mut quiet = Lines { out: Vec::new(), verbosity: Verbosity::Quiet };
        quiet.update(Update::Note("x"));
        assert!(quiet.out.is_empty());
    }
}
