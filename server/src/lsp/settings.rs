//! The editor's `missions.*` settings (design §5), which the runs started in the editor layer
//! over missions.toml (`RunOptions::settings`).
//!
//! The settings are an object in missions.toml's shape and key names (what the VS Code
//! extension sends: `{"roles": {"worker": {"model": …, "base_url": …}}, "limits": {…}}`). They
//! are asked for with `workspace/configuration` (one item, section `missions`) after
//! `initialized` when the client advertises `workspace.configuration`, and again on every
//! `workspace/didChangeConfiguration` whose `settings` hold no `missions` object (one that does
//! is taken as it is). Asking happens off the handlers and is bounded by
//! [`CONFIGURATION_WAIT`]; an answer older than a newer change is dropped. No registration
//! for didChangeConfiguration is needed: clients send it unasked (the extension pushes its
//! settings itself).
//!
//! Settings that do not check (an unknown key, a wrong type) get one `window/showMessage`
//! warning naming the setting, and the runs use missions.toml alone until they change.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde_json::Value;
use tower_lsp_server::ls_types::{ConfigurationItem, DidChangeConfigurationParams, MessageType};
use tower_lsp_server::Client;

use crate::config::EditorSettings;

/// The configuration section the server asks for.
pub const SECTION: &str = "missions";

/// The longest the server waits for the client's answer to `workspace/configuration`.
pub const CONFIGURATION_WAIT: Duration = Duration::from_secs(5);

/// The newest settings, shared by the handlers and the runs.
#[derive(Clone, Default)]
pub struct Settings {
    inner: Arc<Mutex<Inner>>,
    /// Signalled when an answer to `workspace/configuration` arrives (or its wait ends).
    answered: Arc<Condvar>,
}

#[derive(Default)]
struct Inner {
    /// Whether the client answers `workspace/configuration`; from `initialize`.
    client_answers: bool,
    /// The settings the runs use; `None` when none are set or they do not check.
    current: Option<EditorSettings>,
    /// Bumped by every change (pushed, or asked for); an older answer is not applied.
    generation: u64,
    /// The warning last shown, so the same bad settings are reported once.
    warned: Option<String>,
    /// `workspace/configuration` requests not answered yet.
    asking: usize,
}

impl Settings {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every critical section leaves the state consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What `initialize` learnt: whether the client answers `workspace/configuration`.
    pub fn set_client_answers(&self, yes: bool) {
        self.lock().client_answers = yes;
    }

    /// The settings as they are now.
    #[cfg(test)]
    fn current(&self) -> Option<EditorSettings> {
        self.lock().current.clone()
    }

    /// The settings once the client answered what the server asked (at most `max` later): a
    /// run started right after `initialized` must not miss them. Blocks; for a run's thread.
    pub fn current_when_answered(&self, max: Duration) -> Option<EditorSettings> {
        let inner = self.lock();
        let (inner, _) =
            self.answered.wait_timeout_while(inner, max, |i| i.asking > 0).unwrap_or_else(|p| p.into_inner());
        inner.current.clone()
    }

    /// After `initialized`: asks the client for the settings (when it answers such requests).
    pub fn initialized(&self, client: &Client) {
        if self.lock().client_answers {
            self.ask(client);
        }
    }

    /// `workspace/didChangeConfiguration`: the pushed `settings.missions` when there is one
    /// (null clears it), else the client is asked.
    pub fn changed(&self, client: &Client, params: DidChangeConfigurationParams) {
        match params.settings.get(SECTION) {
            Some(pushed) => {
                // Kept before the handler returns, so a command sent after it sees them.
                let generation = self.bump();
                if let Some(warning) = self.apply(generation, pushed) {
                    let client = client.clone();
                    tokio::spawn(async move { client.show_message(MessageType::WARNING, warning).await });
                }
            }
            None if self.lock().client_answers => self.ask(client),
            None => tracing::debug!("didChangeConfiguration without `{SECTION}` settings; nothing to ask for"),
        }
    }

    fn bump(&self) -> u64 {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.generation
    }

    /// Asks for section `missions` off the handler, bounded by [`CONFIGURATION_WAIT`].
    fn ask(&self, client: &Client) {
        let generation = self.bump();
        self.lock().asking += 1;
        let (store, client) = (self.clone(), client.clone());
        tokio::spawn(async move {
            let item = ConfigurationItem { scope_uri: None, section: Some(SECTION.to_string()) };
            let answer = tokio::time::timeout(CONFIGURATION_WAIT, client.configuration(vec![item])).await.ok();
            let _answered = Answered(&store);
            match answer {
                Some(Ok(values)) => {
                    let value = values.into_iter().next().unwrap_or(Value::Null);
                    if let Some(warning) = store.apply(generation, &value) {
                        client.show_message(MessageType::WARNING, warning).await;
                    }
                }
                Some(Err(e)) => tracing::warn!("workspace/configuration failed ({e}); the settings stay as they were"),
                None => tracing::warn!("no answer to workspace/configuration within {CONFIGURATION_WAIT:?}; the settings stay as they were"),
            }
        });
    }

    /// Checks and keeps `value` unless a newer change came meanwhile. Returns the warning to
    /// show about bad settings, unless the same one was the last shown.
    fn apply(&self, generation: u64, value: &Value) -> Option<String> {
        let mut inner = self.lock();
        if inner.generation != generation {
            tracing::debug!("settings of change {generation} superseded by change {}", inner.generation);
            return None;
        }
        match EditorSettings::from_json(value) {
            Ok(settings) => {
                tracing::info!(
                    "missions.* settings: {}",
                    if settings.is_empty() { "none set" } else { "layered over missions.toml" }
                );
                inner.current = (!settings.is_empty()).then_some(settings);
                inner.warned = None;
                None
            }
            Err(e) => {
                inner.current = None;
                let text = format!("missions: {e}. Missions started in the editor use missions.toml alone until the settings are fixed.");
                tracing::warn!("{text}");
                (inner.warned.as_deref() != Some(text.as_str())).then(|| {
                    inner.warned = Some(text.clone());
                    text
                })
            }
        }
    }
}

/// Counts one `workspace/configuration` request as answered when dropped (whichever way its
/// wait ended), and wakes the runs waiting for it.
struct Answered<'a>(&'a Settings);

impl Drop for Answered<'_> {
    fn drop(&mut self) {
        let mut inner = self.0.lock();
        inner.asking = inner.asking.saturating_sub(1);
        self.0.answered.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bad_settings_warn_once_and_leave_missions_toml_alone() {
        let store = Settings::default();
        let good = json!({"roles": {"worker": {"model": "m"}}});
        let bad = json!({"roles": {"worker": {"modle": "m"}}});
        let g = store.bump();
        assert_eq!(store.apply(g, &good), None);
        assert!(store.current().is_some());
        let g = store.bump();
        let warning = store.apply(g, &bad).unwrap();
        assert!(warning.contains("`missions.roles.worker.modle`"), "{warning}");
        assert_eq!(store.current(), None, "runs fall back to missions.toml");
        let g = store.bump();
        assert_eq!(store.apply(g, &bad), None, "said once");
        let g = store.bump();
        assert_eq!(store.apply(g, &json!({})), None);
        assert_eq!(store.current(), None, "nothing set");
        let g = store.bump();
        assert!(store.apply(g, &bad).is_some(), "bad again after a good change: said again");
    }

    #[test]
    fn an_answer_older_than_a_newer_change_is_dropped() {
        let store = Settings::default();
        let asked = store.bump();
        let pushed = store.bump();
        assert_eq!(store.apply(pushed, &json!({"limits": {"max_turns": 5}})), None);
        assert_eq!(store.apply(asked, &json!({"limits": {"max_turns": "x"}})), None);
        assert!(store.current().is_some(), "the newer push stays");
    }
}
