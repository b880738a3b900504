//! What a run is doing now, for whoever looks from another process (`missions status`, an
//! editor's `missions/status`) and for the run's own display: the sessions in flight and what
//! each one waits for, and the mission's tokens and cost so far, with its budgets.
//!
//! The runner keeps it in `run-progress.json` in the mission folder (a file of ours; droid
//! ignores it), written atomically by a task of the run at most twice a second and only when
//! something changed, and once more when the run ends (no session in flight then). Readers
//! trust its sessions only while the mission's `run.lock` names a live runner.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::agent::transcript::SharedUsage;
use crate::analysis::cost::{self, BudgetUse, Budgets, Cost, Price, Usage, UsageRollup};
use crate::analysis::report::count;
use crate::model::persist::write_json_atomic;
use crate::model::timestamp::{now_rfc3339, rfc3339};

pub const LIVE_FILE: &str = "run-progress.json";

/// How often the run looks for changes to write.
const TICK: Duration = Duration::from_millis(500);

/// `run-progress.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LiveFile {
    /// The runner's process.
    pub pid: u32,
    pub updated_at: String,
    /// The sessions running now (none once the run ended).
    pub sessions: Vec<LiveSession>,
    #[serde(flatten)]
    pub spend: Spend,
}

/// One session in flight.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LiveSession {
    /// `worker feat-add`, `validator`, `orchestrator`.
    pub who: String,
    /// The session's kind: `worker`, `scrutiny`, `user-testing`, `orchestrator`.
    pub kind: String,
    pub session_id: String,
    pub started_at: String,
    /// What it waits for now, when it waits (a model call that has not begun to answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting: Option<Wait>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Wait {
    /// `the provider`: the model server has the request and has not begun to answer.
    pub what: String,
    pub since: String,
}

/// The mission's tokens and cost so far, and its budgets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Spend {
    pub tokens: TokenFigures,
    /// `None` without `[prices]`.
    pub cost: Option<Cost>,
    /// The configured budgets and how much of each is spent.
    pub budgets: Vec<BudgetUse>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TokenFigures {
    pub total: u64,
    pub by_type: Usage,
    /// By role of `[roles]` (`orchestrator`, `worker`, `validator`).
    pub by_role: BTreeMap<String, Usage>,
}

impl Spend {
    /// The figures of `usage` at `prices`, with `budgets`.
    pub fn of(usage: &UsageRollup, prices: &BTreeMap<String, Price>, budgets: Budgets) -> Spend {
        let tokens =
            TokenFigures { total: usage.mission.total(), by_type: usage.mission, by_role: usage.by_role.clone() };
        let cost = cost::cost(&usage.by_role_model, prices);
        let budgets = cost::budget_use(tokens.total, cost.as_ref(), budgets);
        Spend { tokens, cost, budgets }
    }

    /// [`Spend::summary`] once something was spent (a run's displays say nothing before).
    pub fn spent(&self) -> Option<String> {
        (self.tokens.total > 0).then(|| self.summary())
    }

    /// `12.3k tokens, $0.04`, for a progress line.
    pub fn summary(&self) -> String {
        match &self.cost {
            Some(c) => format!("{} tokens, {}", count(self.tokens.total), cost::usd(c.total)),
            None => format!("{} tokens", count(self.tokens.total)),
        }
    }

    /// `12.3k (input 10.0k, cache read 2.0k, cache write 0, output 300); orchestrator 1.2k, worker 11.1k`.
    pub fn tokens_line(&self) -> String {
        let t = &self.tokens.by_type;
        let roles: Vec<String> = self.tokens.by_role.iter().map(|(r, u)| format!("{r} {}", count(u.total()))).collect();
        let mut line = format!(
            "{} (input {}, cache read {}, cache write {}, output {})",
            count(self.tokens.total),
            count(t.input),
            count(t.cache_read),
            count(t.cache_write),
            count(t.output)
        );
        if !roles.is_empty() {
            line.push_str("; ");
            line.push_str(&roles.join(", "));
        }
        line
    }

    /// `$0.04 (orchestrator $0.01, worker $0.03); no [prices] for local-model`, or `None`.
    pub fn cost_line(&self) -> Option<String> {
        let c = self.cost.as_ref()?;
        let roles: Vec<String> = c.by_role.iter().map(|(r, x)| format!("{r} {}", cost::usd(*x))).collect();
        let mut line = cost::usd(c.total);
        if !roles.is_empty() {
            line.push_str(&format!(" ({})", roles.join(", ")));
        }
        if !c.unpriced_models.is_empty() {
            line.push_str(&format!("; no [prices] for {}: their tokens are not counted", c.unpriced_models.join(", ")));
        }
        Some(line)
    }
}

/// What a run's display is told: the new figures, and budgets that just reached 80%.
pub type SpendSink = Arc<dyn Fn(&Spend, &[String]) + Send + Sync>;

#[derive(Default)]
struct Inner {
    sessions: Vec<LiveSession>,
    /// Sessions or waits changed since the last write.
    dirty: bool,
    /// The usage last written.
    written: Option<UsageRollup>,
    /// Budgets already warned about (their `[limits]` key).
    warned: BTreeSet<String>,
    /// The run's writer, once started (a session's end is written at once).
    writer: Option<Writer>,
}

/// The handle the run's sessions report through (cheap to clone).
#[derive(Clone, Default)]
pub struct Live {
    inner: Arc<Mutex<Inner>>,
}

impl Live {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn session_started(&self, session_id: &str, who: &str, kind: &str) {
        let mut inner = self.lock();
        inner.sessions.retain(|s| s.session_id != session_id);
        inner.sessions.push(LiveSession {
            who: who.into(),
            kind: kind.into(),
            session_id: session_id.into(),
            started_at: now_rfc3339(),
            waiting: None,
        });
        inner.dirty = true;
    }

    /// The session is over: written at once, so the step's end shows its final figures.
    pub fn session_ended(&self, session_id: &str) {
        let writer = {
            let mut inner = self.lock();
            inner.sessions.retain(|s| s.session_id != session_id);
            inner.dirty = true;
            inner.writer.clone()
        };
        if let Some(w) = writer {
            w.flush(false, false);
        }
    }

    /// A model call of the session waits for the provider since `since` (`over`: it stopped).
    pub fn waiting(&self, session_id: &str, since: SystemTime, over: bool) {
        let mut inner = self.lock();
        if let Some(s) = inner.sessions.iter_mut().find(|s| s.session_id == session_id) {
            let now = (!over).then(|| Wait { what: "the provider".into(), since: rfc3339(since) });
            if s.waiting != now {
                s.waiting = now;
                inner.dirty = true;
            }
        }
    }

    /// Starts the task that writes `run-progress.json` of `mission` and tells `sink` the new
    /// figures; stopped (with a last write) when the returned guard drops. Needs a tokio
    /// runtime.
    pub fn start(
        &self,
        mission: &Path,
        usage: SharedUsage,
        prices: BTreeMap<String, Price>,
        budgets: Budgets,
        sink: Option<SpendSink>,
    ) -> LiveGuard {
        let writer =
            Writer { live: Arc::downgrade(&self.inner), path: mission.join(LIVE_FILE), usage, prices, budgets, sink };
        self.lock().writer = Some(writer.clone());
        writer.flush(true, false);
        let task_writer = writer.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(TICK).await;
                task_writer.flush(false, false);
            }
        });
        LiveGuard { task, writer }
    }
}

#[derive(Clone)]
struct Writer {
    /// Weak: the handle keeps the writer, not the other way round.
    live: std::sync::Weak<Mutex<Inner>>,
    path: PathBuf,
    usage: SharedUsage,
    prices: BTreeMap<String, Price>,
    budgets: Budgets,
    sink: Option<SpendSink>,
}

impl Writer {
    /// Writes the file when something changed (or `force`); `ended`: the run is over, no
    /// session is in flight any more.
    fn flush(&self, force: bool, ended: bool) {
        let Some(live) = self.live.upgrade() else { return };
        let usage = self.usage.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let (file, warnings, spend_changed) = {
            let mut inner = live.lock().unwrap_or_else(|p| p.into_inner());
            if ended {
                inner.sessions.clear();
            }
            let spend_changed = inner.written.as_ref() != Some(&usage);
            if !(force || ended || inner.dirty || spend_changed) {
                return;
            }
            let spend = Spend::of(&usage, &self.prices, self.budgets);
            let mut warnings = Vec::new();
            for b in spend.budgets.iter().filter(|b| b.nearly_spent()) {
                if inner.warned.insert(b.limit.clone()) {
                    warnings.push(format!("budget: {} spent", b.describe()));
                }
            }
            inner.dirty = false;
            inner.written = Some(usage);
            (
                LiveFile {
                    pid: std::process::id(),
                    updated_at: now_rfc3339(),
                    sessions: inner.sessions.clone(),
                    spend,
                },
                warnings,
                spend_changed,
            )
        };
        if let Err(e) = write_json_atomic(&self.path, &file) {
            tracing::warn!("cannot write {}: {e}", self.path.display());
        }
        if let Some(sink) = &self.sink {
            if spend_changed || force || !warnings.is_empty() {
                sink(&file.spend, &warnings);
            }
        }
    }
}

/// Keeps the writer running; on drop it stops and writes the run's last figures.
pub struct LiveGuard {
    task: tokio::task::JoinHandle<()>,
    writer: Writer,
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.task.abort();
        self.writer.flush(true, true);
        if let Some(live) = self.writer.live.upgrade() {
            live.lock().unwrap_or_else(|p| p.into_inner()).writer = None;
        }
    }
}

/// `run-progress.json` of `mission`, when a run wrote one and it reads.
pub fn read(mission: &Path) -> Option<LiveFile> {
    let text = std::fs::read_to_string(mission.join(LIVE_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

/// `worker feat-add for 1.2 min, waiting for the provider, 42 s` at `now`.
pub fn describe_session(s: &LiveSession, now: SystemTime) -> String {
    let age = |since: &str| {
        crate::model::timestamp::unix_seconds(since).map(|t| {
            let now = now.duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
            (now - t).max(0.0)
        })
    };
    let mut line = s.who.clone();
    if let Some(secs) = age(&s.started_at) {
        line.push_str(&format!(" for {}", crate::analysis::report::duration(secs)));
    }
    if let Some(w) = &s.waiting {
        match age(&w.since) {
            Some(secs) => line.push_str(&format!(", waiting for {}, {} s", w.what, secs.round() as u64)),
            None => line.push_str(&format!(", waiting for {}", w.what)),
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_and_its_wait_read_as_a_person_says_them() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_100);
        let s = LiveSession {
            who: "worker feat-add".into(),
            kind: "worker".into(),
            session_id: "s".into(),
            started_at: rfc3339(now - Duration::from_secs(90)),
            waiting: Some(Wait { what: "the provider".into(), since: rfc3339(now - Duration::from_secs(42)) }),
        };
        assert_eq!(describe_session(&s, now), "worker feat-add for 1.5 min, waiting for the provider, 42 s");
    }

    #[test]
    fn spend_adds_up_tokens_by_type_and_role_and_prices_them() {
        let mut rollup = UsageRollup::default();
        rollup.record("s1", "worker", Some("w"), Usage { input: 1000, cache_read: 0, cache_write: 0, output: 500 });
        rollup.record(
            "s2",
            "validator",
            Some("local"),
            Usage { input: 200, cache_read: 50, cache_write: 0, output: 10 },
        );
        let mut prices = BTreeMap::new();
        prices.insert("w".to_string(), Price { input: 3.0, output: 15.0, ..Default::default() });
        let spend = Spend::of(&rollup, &prices, Budgets { max_tokens: 2000, max_cost: 0.01 });
        assert_eq!(spend.summary(), "1.8k tokens, $0.01");
        assert_eq!(
            spend.tokens_line(),
            "1.8k (input 1.2k, cache read 50, cache write 0, output 510); validator 260, worker 1.5k"
        );
        assert_eq!(
            spend.cost_line().unwrap(),
            "$0.01 (worker $0.01); no [prices] for local: their tokens are not counted"
        );
        assert_eq!(
            spend.budgets.iter().map(BudgetUse::describe).collect::<Vec<_>>(),
            ["88% of max_tokens_per_mission (1760 of 2000 tokens)", "105% of max_cost ($0.01 of $0.01)"]
        );
    }

    #[tokio::test]
    async fn the_file_follows_sessions_and_waits_and_ends_empty() {
        let dir = tempfile::tempdir().unwrap();
        let usage = SharedUsage::default();
        let live = Live::default();
        type Seen = Arc<Mutex<Vec<(String, Vec<String>)>>>;
        let seen: Seen = Arc::default();
        let sink_seen = seen.clone();
        let sink: SpendSink =
            Arc::new(move |s: &Spend, w: &[String]| sink_seen.lock().unwrap().push((s.summary(), w.to_vec())));
        let guard = live.start(
            dir.path(),
            usage.clone(),
            BTreeMap::new(),
            Budgets { max_tokens: 100, max_cost: 0.0 },
            Some(sink),
        );
        live.session_started("s1", "worker feat-add", "worker");
        live.waiting("s1", SystemTime::now(), false);
        usage.lock().unwrap().record("s1", "worker", Some("m"), Usage { input: 85, ..Default::default() });
        tokio::time::sleep(TICK * 3).await;
        let file = read(dir.path()).unwrap();
        assert_eq!(file.pid, std::process::id());
        assert_eq!(file.sessions.len(), 1);
        assert_eq!(file.sessions[0].waiting.as_ref().unwrap().what, "the provider");
        assert_eq!(file.spend.tokens.total, 85);
        live.waiting("s1", SystemTime::now(), true);
        tokio::time::sleep(TICK * 3).await;
        assert!(read(dir.path()).unwrap().sessions[0].waiting.is_none());
        drop(guard);
        let file = read(dir.path()).unwrap();
        assert!(file.sessions.is_empty(), "a run that ended has nothing in flight");
        let seen = seen.lock().unwrap();
        assert_eq!(
            seen.iter().filter(|(_, w)| !w.is_empty()).map(|(_, w)| w.clone()).collect::<Vec<_>>(),
            [vec!["budget: 85% of max_tokens_per_mission (85 of 100 tokens) spent".to_string()]],
            "warned once"
        );
    }
}
