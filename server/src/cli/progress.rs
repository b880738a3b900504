//! What `missions run` shows while it works: progress bars on a terminal (indicatif), plain
//! lines otherwise; `--quiet` keeps only the outcome, `--verbose` adds every tool call. Both
//! render the runner's `Progress` updates.

use std::io::Write;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

use crate::model::records::ProgressEvent;
use crate::runner::live::{Spend, SpendSink};
use crate::runner::progress::{describe, EventSink, Progress, Update};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// Plain lines, for logs and pipes.
pub struct Lines<W: Write + Send> {
    pub out: W,
    pub verbosity: Verbosity,
    /// The tokens and cost so far, and budget warnings not printed yet (from the live writer).
    spent: std::sync::Arc<std::sync::Mutex<Spent>>,
}

#[derive(Default)]
struct Spent {
    summary: Option<String>,
    warnings: Vec<String>,
}

impl<W: Write + Send> Lines<W> {
    pub fn new(out: W, verbosity: Verbosity) -> Self {
        Lines { out, verbosity, spent: Default::default() }
    }
}

impl<W: Write + Send> Progress for Lines<W> {
    fn update(&mut self, u: Update) {
        if self.verbosity == Verbosity::Quiet {
            return;
        }
        let (summary, warnings) = {
            let mut spent = self.spent.lock().unwrap_or_else(|p| p.into_inner());
            (spent.summary.clone(), std::mem::take(&mut spent.warnings))
        };
        for w in warnings {
            let _ = writeln!(self.out, "  warning: {w}");
        }
        let line = match u {
            Update::Tool { .. } if self.verbosity != Verbosity::Verbose => return,
            Update::Waiting { over: true, .. } => return,
            // A step's end says what the mission has spent so far.
            Update::FeatureFinished { .. } | Update::RoundResult { .. } => match summary {
                Some(spent) => format!("{} ({spent} so far)", describe(&u)),
                None => describe(&u),
            },
            other => describe(&other),
        };
        let _ = writeln!(self.out, "{line}");
    }

    fn spend(&self) -> Option<SpendSink> {
        let spent = self.spent.clone();
        Some(std::sync::Arc::new(move |s: &Spend, warnings: &[String]| {
            let mut spent = spent.lock().unwrap_or_else(|p| p.into_inner());
            spent.summary = s.spent();
            spent.warnings.extend(warnings.iter().cloned());
        }))
    }
}

/// What the features bar shows: completed features of all (cancelled ones left out), from
/// the files whenever a feature starts and from the progress log's events in between. No
/// bar while nothing is known (planning): `bar()` is `None` until the first feature starts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeatureTally {
    done: usize,
    total: Option<usize>,
}

impl FeatureTally {
    /// A feature starts: `done` of `total` come from features.json, so this is the truth
    /// (after a resume, after fix features were written).
    pub fn started(&mut self, done: usize, total: usize) {
        self.total = Some(total);
        self.done = done.min(total);
    }

    /// An event of progress_log.jsonl: a feature whose completion the runner accepted moves
    /// the bar (droid's `worker_completed`, logged once per session; validators are not
    /// features of the bar); fix features make it longer.
    pub fn event(&mut self, e: &ProgressEvent) {
        let Some(total) = self.total.as_mut() else { return };
        let validator = e
            .str("featureId")
            .is_some_and(|f| f.starts_with("scrutiny-validator-") || f.starts_with("user-testing-validator-"));
        match e.kind.as_str() {
            "worker_completed" if e.fields.get("validatorsPassed") == Some(&Value::Bool(true)) && !validator => {
                self.done = (self.done + 1).min(*total)
            }
            "fix_features_added" => *total += e.fields.get("featureIds").and_then(Value::as_array).map_or(0, Vec::len),
            _ => {}
        }
    }

    /// `(position, length)` of the bar, or `None` while no feature count is known.
    pub fn bar(&self) -> Option<(u64, u64)> {
        self.total.filter(|t| *t > 0).map(|t| (self.done as u64, t as u64))
    }
}

/// The features bar and what it shows, shared with the event sink (the runner's thread).
struct FeatureBar {
    multi: MultiProgress,
    bar: ProgressBar,
    tally: FeatureTally,
    shown: bool,
}

impl FeatureBar {
    fn draw(&mut self) {
        let Some((pos, len)) = self.tally.bar() else { return };
        self.bar.set_length(len);
        self.bar.set_position(pos);
        if !self.shown {
            // Shown with its first count already set: no `0/N` frame after a resume.
            self.bar = self.multi.insert(0, self.bar.clone());
            self.shown = true;
        }
    }
}

/// Bars on a terminal: features done of all (once the plan is there), and a spinner saying
/// what runs now and what the mission has spent.
pub struct Bars {
    multi: MultiProgress,
    features: std::sync::Arc<std::sync::Mutex<FeatureBar>>,
    activity: ProgressBar,
    texts: std::sync::Arc<std::sync::Mutex<Activity>>,
    verbosity: Verbosity,
}

/// What the spinner says: what runs, a wait for the provider over it, the spend after it.
#[derive(Default)]
struct Activity {
    what: String,
    waiting: Option<String>,
    spent: Option<String>,
}

impl Activity {
    fn message(&self) -> String {
        let now = self.waiting.as_deref().unwrap_or(&self.what);
        match &self.spent {
            Some(spent) if !now.is_empty() => format!("{now} · {spent}"),
            Some(spent) => spent.clone(),
            None => now.to_string(),
        }
    }
}

impl Bars {
    pub fn new(verbosity: Verbosity) -> Bars {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        // Not drawn until a feature count is known: planning shows only the spinner.
        let features = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden());
        features.set_style(
            ProgressStyle::with_template("{prefix:.bold} [{bar:30.cyan/blue}] {pos}/{len} features  {elapsed_precise}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        let activity = multi.add(ProgressBar::new_spinner());
        activity.set_style(
            ProgressStyle::with_template("  {spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        activity.enable_steady_tick(Duration::from_millis(120));
        let features = FeatureBar { multi: multi.clone(), bar: features, tally: FeatureTally::default(), shown: false };
        Bars {
            multi,
            features: std::sync::Arc::new(std::sync::Mutex::new(features)),
            activity,
            texts: Default::default(),
            verbosity,
        }
    }

    fn with_features(&self, f: impl FnOnce(&mut FeatureBar)) {
        let mut bar = self.features.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut bar);
    }

    fn println(&self, line: String) {
        let _ = self.multi.println(line);
    }

    fn with_texts(&self, f: impl FnOnce(&mut Activity)) {
        let mut texts = self.texts.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut texts);
        self.activity.set_message(texts.message());
    }

    fn say(&mut self, text: String) {
        self.with_texts(|t| t.what = text);
    }
}

impl Progress for Bars {
    fn update(&mut self, u: Update) {
        match &u {
            Update::Milestone { name, index, total } => {
                self.with_features(|f| f.bar.set_prefix(format!("{name} ({index}/{total})")))
            }
            Update::FeatureStarted { done, total, .. } => {
                self.with_features(|f| {
                    f.tally.started(*done, *total);
                    f.draw();
                });
                self.say(describe(&u).trim().to_string());
            }
            Update::FeatureFinished { .. } | Update::RoundResult { .. } => self.println(describe(&u)),
            Update::Tool { .. } => {
                if self.verbosity == Verbosity::Verbose {
                    self.println(describe(&u));
                }
            }
            Update::Note(_) | Update::Retry { .. } => self.println(describe(&u)),
            // The wait shows in the spinner, then it says again what runs.
            Update::Waiting { over: false, .. } => {
                self.with_texts(|t| t.waiting = Some(describe(&u).trim().to_string()))
            }
            Update::Waiting { over: true, .. } => self.with_texts(|t| t.waiting = None),
            _ => self.say(describe(&u).trim().to_string()),
        }
    }

    fn events(&self) -> Option<EventSink> {
        let features = self.features.clone();
        Some(std::sync::Arc::new(move |e: &ProgressEvent| {
            let mut f = features.lock().unwrap_or_else(|p| p.into_inner());
            f.tally.event(e);
            f.draw();
        }))
    }

    fn spend(&self) -> Option<SpendSink> {
        let (texts, activity, multi) = (self.texts.clone(), self.activity.clone(), self.multi.clone());
        Some(std::sync::Arc::new(move |s: &Spend, warnings: &[String]| {
            let mut t = texts.lock().unwrap_or_else(|p| p.into_inner());
            t.spent = s.spent();
            activity.set_message(t.message());
            for w in warnings {
                let _ = multi.println(format!("  warning: {w}"));
            }
        }))
    }

    fn finish(&mut self) {
        self.activity.finish_and_clear();
        self.with_features(|f| f.bar.finish_and_clear());
    }
}

impl Drop for Bars {
    /// A run that stops early (a usage error) leaves no half-drawn bar behind.
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::error::{ErrorKind, ProviderError};

    #[test]
    fn plain_lines_follow_the_verbosity() {
        let mut normal = Lines::new(Vec::new(), Verbosity::Normal);
        normal.update(Update::FeatureStarted { id: "f1", attempt: 2, done: 1, total: 3 });
        normal.update(Update::Tool { name: "bash", summary: "sh test.sh".into() });
        assert_eq!(String::from_utf8(normal.out).unwrap(), "  feature f1 (1/3 done, attempt 2)\n");
        let mut verbose = Lines::new(Vec::new(), Verbosity::Verbose);
        verbose.update(Update::Tool { name: "bash", summary: "sh test.sh".into() });
        assert_eq!(String::from_utf8(verbose.out).unwrap(), "    bash sh test.sh\n");
        let mut quiet = Lines::new(Vec::new(), Verbosity::Quiet);
        quiet.update(Update::Note("x"));
        assert!(quiet.out.is_empty());
    }

    #[test]
    fn a_retry_is_a_line_naming_the_wait() {
        let mut normal = Lines::new(Vec::new(), Verbosity::Normal);
        let limited = ProviderError::new(ErrorKind::RateLimited, "HTTP 429: slow down").with_status(429);
        normal.update(Update::Retry {
            who: "worker feat-add",
            error: &limited,
            delay: Duration::from_secs(3),
            attempt: 1,
        });
        let overloaded = ProviderError::new(ErrorKind::Overloaded, "HTTP 529: overloaded").with_status(529);
        normal.update(Update::Retry {
            who: "validator",
            error: &overloaded,
            delay: Duration::from_millis(1234),
            attempt: 3,
        });
        assert_eq!(
            String::from_utf8(normal.out).unwrap(),
            "    worker feat-add: rate limited (HTTP 429), retrying in 3 s (attempt 2)\n    validator: the provider is overloaded (HTTP 529), retrying in 1.2 s (attempt 4)\n"
        );
    }

    #[test]
    fn a_wait_for_the_provider_is_a_line_with_its_seconds_and_its_end_is_silent() {
        let mut normal = Lines::new(Vec::new(), Verbosity::Normal);
        normal.update(Update::Waiting { who: "worker feat-add", waited: Duration::from_millis(42_300), over: false });
        normal.update(Update::Waiting { who: "worker feat-add", waited: Duration::from_millis(43_000), over: true });
        normal.update(Update::Waiting { who: "validator", waited: Duration::from_millis(1_500), over: false });
        assert_eq!(
            String::from_utf8(normal.out).unwrap(),
            "    worker feat-add: waiting for the provider, 42 s\n    validator: waiting for the provider, 1.5 s\n"
        );
    }

    #[test]
    fn plain_lines_say_the_spend_at_each_steps_end_and_warn_once() {
        let mut lines = Lines::new(Vec::new(), Verbosity::Normal);
        let sink = lines.spend().unwrap();
        lines.update(Update::FeatureFinished { id: "a", outcome: "completed" });
        let mut rollup = crate::analysis::cost::UsageRollup::default();
        rollup.record(
            "s",
            "worker",
            Some("m"),
            crate::analysis::cost::Usage { input: 12_000, output: 300, ..Default::default() },
        );
        let spend = Spend::of(&rollup, &Default::default(), Default::default());
        sink(&spend, &["budget: 80% of max_tokens_per_mission (12300 of 15000 tokens) spent".to_string()]);
        lines.update(Update::FeatureFinished { id: "b", outcome: "completed" });
        lines.update(Update::RoundResult { milestone: "m", round: 1, passed: 1, total: 2 });
        assert_eq!(
            String::from_utf8(lines.out).unwrap(),
            "  feature a: completed\n  warning: budget: 80% of max_tokens_per_mission (12300 of 15000 tokens) spent\n  feature b: completed (12.3k tokens so far)\n  round 1 of m: 1/2 assertions passed (12.3k tokens so far)\n"
        );
    }

    fn event(kind: &str, fields: Value) -> ProgressEvent {
        ProgressEvent {
            timestamp: "2026-01-01T00:00:00.000Z".into(),
            kind: kind.into(),
            fields: fields.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn planning_shows_no_features_bar() {
        let mut t = FeatureTally::default();
        assert_eq!(t.bar(), None);
        t.event(&event("worker_completed", serde_json::json!({"featureId": "a", "validatorsPassed": true})));
        t.event(&event("fix_features_added", serde_json::json!({"featureIds": ["x"]})));
        assert_eq!(t.bar(), None, "no count before the first feature starts");
        t.started(0, 0);
        assert_eq!(t.bar(), None, "an empty plan draws no full bar");
    }

    #[test]
    fn the_features_bar_reaches_n_of_n_and_grows_with_fix_features() {
        let mut t = FeatureTally::default();
        t.started(0, 3);
        assert_eq!(t.bar(), Some((0, 3)));
        for id in ["a", "b", "c"] {
            t.event(&event("worker_completed", serde_json::json!({"featureId": id, "validatorsPassed": true})));
        }
        assert_eq!(t.bar(), Some((3, 3)));
        t.event(&event(
            "fix_features_added",
            serde_json::json!({"milestone": "m", "round": 1, "featureIds": ["fix-1", "fix-2"]}),
        ));
        assert_eq!(t.bar(), Some((3, 5)));
        t.started(3, 5);
        t.event(&event("worker_completed", serde_json::json!({"featureId": "fix-1", "validatorsPassed": true})));
        t.event(&event(
            "worker_completed",
            serde_json::json!({"featureId": "user-testing-validator-m", "validatorsPassed": true}),
        ));
        t.event(&event("worker_completed", serde_json::json!({"featureId": "fix-2", "validatorsPassed": false})));
        t.event(&event("worker_completed", serde_json::json!({"featureId": "fix-2", "validatorsPassed": true})));
        t.event(&event("worker_completed", serde_json::json!({"featureId": "extra", "validatorsPassed": true})));
        assert_eq!(t.bar(), Some((5, 5)), "never past the end");
    }

    #[test]
    fn a_resumed_run_starts_the_bar_at_the_completed_features() {
        let mut t = FeatureTally::default();
        t.started(1, 3);
        assert_eq!(t.bar(), Some((1, 3)));
    }
}
