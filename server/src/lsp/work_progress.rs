//! Work-done progress for a mission run (design §4): `window/workDoneProgress/create` when the
//! client says `window.workDoneProgress`, then `$/progress` begin / report / end. The
//! percentage is passed assertions / all, read from the mission's files (the contract and
//! validation-state.json) after each event; it never goes down (the protocol asks for a rising
//! value). `window/workDoneProgress/cancel` pauses the run, like `missions.pause`.
//!
//! Nothing here holds up the loop or the protocol: the create request runs beside the
//! forwarding of events (see `mission_task::forward`), with a timeout.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tower_lsp_server::ls_types::notification::Progress;
use tower_lsp_server::ls_types::{
    NumberOrString, ProgressParams, ProgressParamsValue, WorkDoneProgress, WorkDoneProgressBegin, WorkDoneProgressEnd,
    WorkDoneProgressReport,
};
use tower_lsp_server::Client;

use crate::model::contract;
use crate::model::folder::{self, CONTRACT_FILE, VALIDATION_STATE_FILE};
use crate::model::records::{self, ProgressEvent, ValidationState};
use crate::runner::state::StateStore;

/// The longest the forwarder waits for the client to accept a progress token; events go on
/// being forwarded meanwhile.
pub const CREATE_WAIT: Duration = Duration::from_secs(5);

/// Progress tokens of running missions, to find the run a `cancel` is about.
#[derive(Clone, Default)]
pub struct Tokens {
    by_token: Arc<Mutex<HashMap<String, PathBuf>>>,
    next: Arc<AtomicU64>,
}

impl Tokens {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, PathBuf>> {
        self.by_token.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fresh(&self, dir: &Path) -> String {
        let n = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        format!("missions/{name}/{n}")
    }

    /// The mission folder a token belongs to, while its run lasts.
    pub fn mission_of(&self, token: &NumberOrString) -> Option<PathBuf> {
        match token {
            NumberOrString::String(s) => self.lock().get(s).cloned(),
            NumberOrString::Number(_) => None,
        }
    }
}

/// Where a run stands, for the progress message and percentage.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Figures {
    pub title: String,
    pub milestone: Option<String>,
    pub feature: Option<String>,
    pub round: u32,
    /// Passed assertions of all, in percent.
    pub percentage: u32,
}

impl Figures {
    /// Reads state.json, the contract and validation-state.json (blocking: small files).
    pub fn read(dir: &Path) -> Figures {
        let state = StateStore::open(dir).ok();
        let all = folder::read_text(&dir.join(CONTRACT_FILE))
            .map(|t| contract::parse(&t).assertions.iter().map(|a| a.id.value.clone()).collect::<Vec<_>>())
            .unwrap_or_default();
        let validation = folder::read_text(&dir.join(VALIDATION_STATE_FILE))
            .ok()
            .and_then(|t| records::load::<ValidationState>(&t).value)
            .unwrap_or_default();
        let passed =
            all.iter().filter(|id| validation.assertions.get(*id).is_some_and(|s| s.status == "passed")).count();
        let percentage = if all.is_empty() { 0 } else { (passed * 100 / all.len()) as u32 };
        Figures {
            title: state.as_ref().map(|s| s.label(dir)).unwrap_or_default(),
            milestone: state.as_ref().and_then(|s| s.state.current_milestone.clone()),
            feature: state.as_ref().and_then(|s| s.active_feature()).map(|a| a.feature_id),
            round: state.as_ref().and_then(|s| s.active_round()).map_or(0, |r| r.round),
            percentage,
        }
    }

    /// The event's own milestone, feature and round win over the files' (they are newer).
    pub fn with_event(mut self, event: &ProgressEvent) -> Figures {
        let field = |k: &str| event.fields.get(k).and_then(|v| v.as_str()).map(str::to_string);
        if let Some(m) = field("milestone") {
            self.milestone = Some(m);
        }
        if let Some(f) = field("featureId") {
            self.feature = Some(f);
        }
        if let Some(r) = event.fields.get("round").and_then(|v| v.as_u64()) {
            self.round = r as u32;
        }
        self
    }

    /// `milestone basics · feature feat-add · round 1`.
    pub fn message(&self) -> String {
        let mut parts = Vec::new();
        if let Some(m) = &self.milestone {
            parts.push(format!("milestone {m}"));
        }
        if let Some(f) = &self.feature {
            parts.push(format!("feature {f}"));
        }
        if self.round > 0 {
            parts.push(format!("round {}", self.round));
        }
        parts.join(" · ")
    }
}

/// Reads the figures off the async threads.
pub async fn figures(dir: &Path, event: Option<&ProgressEvent>) -> Figures {
    let owned = dir.to_path_buf();
    let read = tokio::task::spawn_blocking(move || Figures::read(&owned)).await.unwrap_or_default();
    match event {
        Some(e) => read.with_event(e),
        None => read,
    }
}

/// One run's progress token once the client accepted it.
pub struct RunProgress {
    client: Client,
    tokens: Tokens,
    token: String,
    percentage: u32,
    /// The mission's tokens and cost so far (`12.3k tokens, $0.04`), after the figures.
    pub spent: Option<String>,
}

/// Asks the client for a token; `None` when it refuses or does not answer within `CREATE_WAIT`.
pub async fn create(client: Client, tokens: Tokens, dir: PathBuf) -> Option<RunProgress> {
    let token = tokens.fresh(&dir);
    // Registered first: a cancel may come as soon as the client knows the token.
    tokens.lock().insert(token.clone(), dir.clone());
    match tokio::time::timeout(CREATE_WAIT, client.create_work_done_progress(NumberOrString::String(token.clone())))
        .await
        .ok()
    {
        Some(Ok(())) => Some(RunProgress { client, tokens, token, percentage: 0, spent: None }),
        Some(Err(e)) => {
            tracing::warn!("the client refused the progress token of {} ({e}); no progress shown", dir.display());
            tokens.lock().remove(&token);
            None
        }
        None => {
            tracing::warn!("no answer to window/workDoneProgress/create within {CREATE_WAIT:?}; no progress shown");
            tokens.lock().remove(&token);
            None
        }
    }
}

impl RunProgress {
    async fn send(&self, value: WorkDoneProgress) {
        self.client
            .send_notification::<Progress>(ProgressParams {
                token: NumberOrString::String(self.token.clone()),
                value: ProgressParamsValue::WorkDone(value),
            })
            .await;
    }

    /// Keeps the percentage rising. The feature is only the one the files or the event name:
    /// between features and during validation there is none to show.
    fn settle(&mut self, mut figures: Figures) -> Figures {
        self.percentage = self.percentage.max(figures.percentage);
        figures.percentage = self.percentage;
        figures
    }

    /// The figures' message, then what the mission has spent.
    fn message(&self, figures: &Figures) -> String {
        let parts: Vec<String> =
            [figures.message()].into_iter().chain(self.spent.clone()).filter(|p| !p.is_empty()).collect();
        parts.join(" · ")
    }

    pub async fn begin(&mut self, figures: Figures) {
        let figures = self.settle(figures);
        let message = self.message(&figures);
        self.send(WorkDoneProgress::Begin(WorkDoneProgressBegin {
            title: format!("Mission {}", figures.title),
            cancellable: Some(true),
            message: (!message.is_empty()).then_some(message),
            percentage: Some(figures.percentage),
        }))
        .await;
    }

    pub async fn report(&mut self, figures: Figures) {
        let figures = self.settle(figures);
        let message = self.message(&figures);
        self.send(WorkDoneProgress::Report(WorkDoneProgressReport {
            cancellable: Some(true),
            message: (!message.is_empty()).then_some(message),
            percentage: Some(figures.percentage),
        }))
        .await;
    }

    /// A passing line (a retry's wait) in place of the figures, until the next report.
    pub async fn note(&mut self, text: &str) {
        self.send(WorkDoneProgress::Report(WorkDoneProgressReport {
            cancellable: Some(true),
            message: Some(text.to_string()),
            percentage: Some(self.percentage),
        }))
        .await;
    }

    /// The final status; the token is forgotten first (a late cancel finds no run).
    pub async fn end(self, message: String) {
        self.tokens.lock().remove(&self.token);
        self.send(WorkDoneProgress::End(WorkDoneProgressEnd { message: Some(message) })).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_what_is_known() {
        let f = Figures {
            title: "t".into(),
            milestone: Some("basics".into()),
            feature: Some("feat-add".into()),
            round: 2,
            percentage: 50,
        };
        assert_eq!(f.message(), "milestone basics · feature feat-add · round 2");
        assert_eq!(Figures::default().message(), "");
    }

    #[test]
    fn figures_count_passed_assertions_of_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONTRACT_FILE),
            "### VAL-A-001: a\n### VAL-A-002: b\n### VAL-A-003: c\n### VAL-A-004: d\n",
        )
        .unwrap();
        std::fs::write(dir.path().join(VALIDATION_STATE_FILE), r#"{"assertions": {"VAL-A-001": {"status": "passed"}, "VAL-A-002": {"status": "failed"}, "VAL-A-003": {"status": "passed"}}}"#).unwrap();
        assert_eq!(Figures::read(dir.path()).percentage, 50);
    }
}
