//! What a mission's git repository adds to its analysis, gathered off the analysis and the
//! request handlers: the history drift is decided from (`runner::drift`) and the `Check:`
//! commands' results on the mission's base commit (`runner::base_checks`: from its cache, and
//! the missing ones run, as many at once as there are cores). The analyzer asks again when the
//! plan or the mission's files change; one job per mission runs at a time on a thread of its
//! own (newer requests wait, the latest wins), and each new result wakes the analyzer, which
//! publishes the diagnostics it changes. Nothing here ever blocks a request.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::analysis::checks::base::BaseChecks;
use crate::analysis::drift::History;
use crate::model::folder::ValidationRecords;
use crate::runner::{base_checks, drift};

/// A mission's facts from its repository, as far as they are known.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    pub base_checks: Option<Arc<BaseChecks>>,
    pub history: Option<Arc<History>>,
}

/// What to gather facts with: the validation records (drift needs a passed assertion). The
/// `Check:` commands are read from the contract on disk, as saved.
#[derive(Debug, Clone)]
pub struct Request {
    pub validation: Option<Arc<ValidationRecords>>,
}

#[derive(Default)]
struct Entry {
    /// Bumped on every change of `facts`.
    generation: u64,
    facts: Facts,
    running: bool,
    pending: Option<Request>,
}

#[derive(Default)]
struct Inner {
    missions: Mutex<HashMap<PathBuf, Entry>>,
    wake: Notify,
}

/// Shared by the analyzer and the jobs.
#[derive(Clone, Default)]
pub struct Repositories {
    inner: Arc<Inner>,
}

/// Partial base-check results are published at most this often while checks run.
const PUBLISH_EVERY: Duration = Duration::from_millis(500);

impl Repositories {
    /// Gathers the mission's facts again for `request` (after the running job, if any).
    pub fn request(&self, dir: &Path, request: Request) {
        let mut missions = self.inner.missions.lock().unwrap_or_else(|e| e.into_inner());
        let entry = missions.entry(dir.to_path_buf()).or_default();
        if entry.running {
            entry.pending = Some(request);
            return;
        }
        entry.running = true;
        drop(missions);
        let inner = self.inner.clone();
        let owned = dir.to_path_buf();
        let spawned =
            std::thread::Builder::new().name("missions-repository".into()).spawn(move || job(&inner, &owned, request));
        if let Err(e) = spawned {
            tracing::warn!("cannot start the repository job of {}: {e}", dir.display());
            if let Some(entry) = self.inner.missions.lock().unwrap_or_else(|e| e.into_inner()).get_mut(dir) {
                entry.running = false;
            }
        }
    }

    /// The facts known now and their generation.
    pub fn get(&self, dir: &Path) -> (u64, Facts) {
        let missions = self.inner.missions.lock().unwrap_or_else(|e| e.into_inner());
        missions.get(dir).map_or((0, Facts::default()), |e| (e.generation, e.facts.clone()))
    }

    /// Resolves when some mission's facts changed since the last call returned.
    pub async fn changed(&self) {
        self.inner.wake.notified().await;
    }
}

fn publish(inner: &Inner, dir: &Path, facts: Facts) {
    let mut missions = inner.missions.lock().unwrap_or_else(|e| e.into_inner());
    let entry = missions.entry(dir.to_path_buf()).or_default();
    if entry.facts != facts {
        entry.facts = facts;
        entry.generation += 1;
        drop(missions);
        inner.wake.notify_one();
    }
}

/// Runs requests for `dir` until none is pending.
fn job(inner: &Inner, dir: &Path, mut request: Request) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
    loop {
        let commands = crate::model::folder::read_text(&dir.join(crate::model::folder::CONTRACT_FILE))
            .map(|t| base_checks::commands(&crate::model::contract::parse(&t)))
            .unwrap_or_default();
        let history = request.validation.as_deref().and_then(|v| drift::history(dir, v)).map(Arc::new);
        let previous = inner
            .missions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(dir)
            .map(|e| e.facts.clone())
            .unwrap_or_default();
        let mut facts = Facts {
            history,
            base_checks: previous.base_checks.filter(|b| commands.iter().all(|c| b.results.contains_key(c))),
        };
        publish(inner, dir, facts.clone());
        match (&runtime, base_checks::mission_base(dir)) {
            (Ok(runtime), Ok(base)) if !commands.is_empty() => {
                let options = base_checks::Options::for_repo(&base.repo);
                let (known, missing) = base_checks::cached(&base, &commands, options.timeout);
                facts.base_checks = Some(Arc::new(known.clone()));
                publish(inner, dir, facts.clone());
                if !missing.is_empty() {
                    let cancel = crate::agent::CancellationToken::new();
                    let mut partial = known;
                    let mut last = Instant::now();
                    let mut on_result = |command: &str, outcome: &crate::analysis::checks::base::BaseOutcome| {
                        partial.results.insert(command.to_string(), outcome.clone());
                        if last.elapsed() >= PUBLISH_EVERY {
                            last = Instant::now();
                            publish(
                                inner,
                                dir,
                                Facts { base_checks: Some(Arc::new(partial.clone())), history: facts.history.clone() },
                            );
                        }
                    };
                    match runtime.block_on(base_checks::check(&base, dir, &commands, &options, &cancel, &mut on_result))
                    {
                        Ok((all, _)) => facts.base_checks = Some(Arc::new(all)),
                        Err(e) => {
                            tracing::warn!("{}: the `Check:` commands could not run on the base: {e}", dir.display())
                        }
                    }
                    publish(inner, dir, facts);
                }
            }
            (_, Err(e)) if !commands.is_empty() => {
                tracing::debug!("{}: no base commit for the `Check:` commands: {e}", dir.display())
            }
            _ => {}
        }
        let mut missions = inner.missions.lock().unwrap_or_else(|e| e.into_inner());
        let entry = missions.entry(dir.to_path_buf()).or_default();
        match entry.pending.take() {
            Some(next) => request = next,
            None => {
                entry.running = false;
                return;
            }
        }
    }
}
