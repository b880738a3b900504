//! The analysis task: takes the newest document snapshot, re-checks the missions it touches
//! (both documents, whichever changed), publishes diagnostics and an immutable analysis
//! snapshot for requests. Snapshots that arrive during an analysis coalesce: only the newest
//! is analysed next. No debounce.

use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use tokio::sync::watch;
use tower_lsp_server::ls_types::{self as lsp, DiagnosticRelatedInformation, NumberOrString, Uri};
use tower_lsp_server::Client;

use super::convert::{self, Encoding};
use super::documents::{DocsSnapshot, Document};
use super::folder::doc_file;
use super::repository::{Repositories, Request};
use crate::analysis::mission::{MissionAnalysis, MissionParts};
use crate::analysis::{Diagnostic, DocKind, Severity, Target};
use crate::model::folder::{
    self as model_folder, FoundHandoff, MilestoneRecords, ValidationRecords, HANDOFFS_DIR, LEGACY_HANDOFFS_FILE,
    VALIDATION_DIR, VALIDATION_STATE_FILE,
};
use crate::model::records::{self, ValidationState};
use crate::model::{contract, features, Contract, FeaturesFile};

/// One analysed mission with the documents its spans point into.
#[derive(Debug)]
pub struct MissionSnapshot {
    pub dir: PathBuf,
    pub analysis: Arc<MissionAnalysis>,
    pub contract: Option<Arc<Document>>,
    pub features: Option<Arc<Document>>,
    /// Code lenses of this analysis, built on the first request (see `lens`).
    pub lenses: super::lens::LensCache,
}

impl MissionSnapshot {
    pub fn doc(&self, kind: DocKind) -> Option<&Arc<Document>> {
        match kind {
            DocKind::Contract => self.contract.as_ref(),
            DocKind::Features => self.features.as_ref(),
        }
    }

    pub fn doc_uri(&self, kind: DocKind) -> Option<Uri> {
        convert::uri_of(&self.dir.join(doc_file(kind)))
    }
}

/// What requests read: the documents and the analysis made from exactly those documents.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub generation: u64,
    pub docs: Arc<HashMap<Uri, Arc<Document>>>,
    pub missions: BTreeMap<PathBuf, Arc<MissionSnapshot>>,
}

impl Snapshot {
    /// The mission the file at `uri` belongs to: its folder, or one of the four folders above
    /// (`handoffs/<file>.json`, `validation/<milestone>/scrutiny/synthesis.json`,
    /// `validation/<milestone>/user-testing/flows/<group>.json`).
    pub fn mission_of(&self, uri: &Uri) -> Option<&Arc<MissionSnapshot>> {
        let path = convert::path_of(uri)?;
        path.ancestors().skip(1).take(5).find_map(|dir| self.missions.get(dir))
    }

    /// The mission whose contract or features.json is at `uri`, which one it is, and its
    /// text as analysed.
    pub fn mission_doc(&self, uri: &Uri) -> Option<(&Arc<MissionSnapshot>, DocKind, &Arc<Document>)> {
        let mission = self.mission_of(uri)?;
        let kind =
            [DocKind::Contract, DocKind::Features].into_iter().find(|k| mission.doc_uri(*k).as_ref() == Some(uri))?;
        Some((mission, kind, mission.doc(kind)?))
    }
}

/// Where a document's text came from, to tell whether it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SourceKey {
    Open(u64),
    /// Modification time, length and file identity: an atomic write (temp file + rename, as the
    /// runner does) gives a new identity even when the size and the time tick are unchanged.
    Disk(Option<SystemTime>, u64, u64),
    Missing,
    Unreadable(String),
}

#[derive(Debug)]
struct Parsed<T> {
    key: SourceKey,
    doc: Option<Arc<Document>>,
    value: Option<Arc<T>>,
}

impl<T> Default for Parsed<T> {
    fn default() -> Self {
        Parsed { key: SourceKey::Missing, doc: None, value: None }
    }
}

#[derive(Default)]
struct MissionCache {
    contract: Parsed<Contract>,
    features: Parsed<FeaturesFile>,
    validation: Parsed<ValidationState>,
    /// The validators' reports under validation/ (syntheses, reviews, flows), by file stamp.
    reports_key: Vec<FileStamp>,
    reports: Vec<MilestoneRecords>,
    /// validation-state.json and the reports together, as the analysis takes them.
    records: Option<Arc<ValidationRecords>>,
    handoffs_key: Vec<FileStamp>,
    handoffs: Arc<Vec<FoundHandoff>>,
    skills: Option<Vec<String>>,
    snapshot: Option<Arc<MissionSnapshot>>,
    /// What the client was last sent, per URI.
    published: BTreeMap<Uri, Vec<lsp::Diagnostic>>,
    /// The repository facts the snapshot was made with (their generation), and when they were
    /// last asked for (the disk change count, the validation records).
    facts_generation: u64,
    facts_asked: Option<(u64, usize)>,
}

type Publication = (Uri, Vec<lsp::Diagnostic>, Option<i32>);

/// A file's relative path, modification time and size: whether it changed since last read.
type FileStamp = (String, Option<SystemTime>, u64);

#[derive(Default)]
struct Analyzer {
    missions: HashMap<PathBuf, MissionCache>,
    previous: DocsSnapshot,
    was_ready: bool,
    /// Drift history and base checks, gathered in the background.
    repos: Repositories,
}

/// Which views the client can be told to ask for again (`workspace.codeLens.refreshSupport`,
/// `workspace.inlayHint.refreshSupport`); from `initialize`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Refresh {
    pub code_lens: bool,
    pub inlay_hints: bool,
}

/// The longest a refresh request waits for the client (nothing waits on it).
const REFRESH_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs until the document owner is gone.
pub async fn analyse_forever(
    mut docs: watch::Receiver<Arc<DocsSnapshot>>,
    snapshots: watch::Sender<Arc<Snapshot>>,
    client: Client,
    encoding: Arc<OnceLock<Encoding>>,
    refresh: Arc<OnceLock<Refresh>>,
) {
    let repos = Repositories::default();
    let fresh = || Analyzer { repos: repos.clone(), ..Analyzer::default() };
    let mut analyzer = Some(fresh());
    let mut disk_seen = Arc::new(BTreeMap::new());
    let mut told_unreadable: std::collections::HashSet<(PathBuf, String)> = std::collections::HashSet::new();
    loop {
        // A document event, or new facts from a repository (drift, base checks).
        tokio::select! {
            changed = docs.changed() => if changed.is_err() { break },
            () = repos.changed() => {}
        }
        let current = docs.borrow_and_update().clone();
        // Files changed on disk (a run's writes) change lenses and hints of documents whose
        // text did not change: the client does not ask for those again by itself.
        let from_disk = current.disk_changes != disk_seen;
        disk_seen = current.disk_changes.clone();
        let encoding = encoding.get().copied().unwrap_or(Encoding::Utf16);
        let mut state = analyzer.take().unwrap_or_else(fresh);
        let job = tokio::task::spawn_blocking(move || {
            let publications = state.pass(&current, encoding);
            (state, current, publications)
        });
        let (state, current, publications) = match job.await {
            Ok(done) => done,
            Err(e) => {
                // Caches are lost with the panicking pass; the next edit rebuilds them.
                tracing::error!("analysis pass failed: {e}");
                let current = docs.borrow().clone();
                snapshots.send_replace(Arc::new(Snapshot {
                    generation: current.generation,
                    docs: current.docs.clone(),
                    missions: BTreeMap::new(),
                }));
                continue;
            }
        };
        let missions = state.missions.iter().filter_map(|(dir, m)| Some((dir.clone(), m.snapshot.clone()?))).collect();
        let replaced = snapshots.send_replace(Arc::new(Snapshot {
            generation: current.generation,
            docs: current.docs.clone(),
            missions,
        }));
        let unreadable = state.unreadable();
        analyzer = Some(state);
        // A mission file that cannot be read is checked without: the person hears it once.
        for (path, reason) in unreadable {
            if told_unreadable.insert((path.clone(), reason.clone())) {
                client.show_message(lsp::MessageType::WARNING, format!("{}: {reason}; the mission is checked without it until it is fixed (`missions check` says the same)", path.display())).await;
            }
        }
        for (uri, diagnostics, version) in publications {
            client.publish_diagnostics(uri, diagnostics, version).await;
        }
        if from_disk {
            ask_for_views_again(&client, refresh.get().copied().unwrap_or_default());
        }
        // The replaced snapshot may hold the last reference to a big parse; freeing it takes
        // milliseconds, so it happens after the diagnostics are out and off the async threads.
        drop(current);
        tokio::task::spawn_blocking(move || drop(replaced));
    }
}

/// `workspace/codeLens/refresh` and `workspace/inlayHint/refresh`, off this task, bounded.
fn ask_for_views_again(client: &Client, refresh: Refresh) {
    if refresh.code_lens {
        let client = client.clone();
        tokio::spawn(async move { tokio::time::timeout(REFRESH_WAIT, client.code_lens_refresh()).await });
    }
    if refresh.inlay_hints {
        let client = client.clone();
        tokio::spawn(async move { tokio::time::timeout(REFRESH_WAIT, client.inlay_hint_refresh()).await });
    }
}

impl Analyzer {
    /// The mission files the last pass could not read, with why.
    fn unreadable(&self) -> Vec<(PathBuf, String)> {
        let mut out = Vec::new();
        for (dir, cache) in &self.missions {
            for (name, key) in [
                (doc_file(DocKind::Contract), &cache.contract.key),
                (doc_file(DocKind::Features), &cache.features.key),
                (VALIDATION_STATE_FILE, &cache.validation.key),
            ] {
                if let SourceKey::Unreadable(reason) = key {
                    out.push((dir.join(name), reason.clone()));
                }
            }
        }
        out
    }

    /// Re-checks the missions touched since the previous snapshot; returns what to publish.
    fn pass(&mut self, docs: &DocsSnapshot, encoding: Encoding) -> Vec<Publication> {
        let became_ready = docs.ready && !self.was_ready;
        let changed = changed_paths(&self.previous, docs);
        let mut out = Vec::new();
        for dir in docs.missions.iter() {
            let on_disk = docs.disk_changes.get(dir) != self.previous.disk_changes.get(dir);
            let new_facts = self.missions.get(dir).is_some_and(|c| c.facts_generation != self.repos.get(dir).0);
            let touched = !self.missions.contains_key(dir)
                || became_ready
                || on_disk
                || new_facts
                || changed.iter().any(|p| p.starts_with(dir));
            if !touched {
                continue;
            }
            let cache = self.missions.entry(dir.clone()).or_default();
            let repos = &self.repos;
            let outcome =
                std::panic::catch_unwind(AssertUnwindSafe(|| refresh(cache, dir, docs, encoding, became_ready, repos)));
            match outcome {
                Ok(publications) => out.extend(publications),
                Err(_) => {
                    tracing::error!("analysis of {} panicked; its caches are reset", dir.display());
                    self.missions.insert(dir.clone(), MissionCache::default());
                }
            }
        }
        self.previous = docs.clone();
        self.was_ready = docs.ready;
        if !docs.ready {
            // Nothing goes to the client before `initialized`; all of it goes once it arrives.
            for cache in self.missions.values_mut() {
                cache.published.clear();
            }
            return Vec::new();
        }
        out
    }
}

/// Paths of documents opened, changed or closed between two snapshots.
fn changed_paths(before: &DocsSnapshot, after: &DocsSnapshot) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for (uri, doc) in after.docs.iter() {
        if before.docs.get(uri).is_none_or(|old| old.revision != doc.revision) {
            out.extend(convert::path_of(uri));
        }
    }
    for uri in before.docs.keys().filter(|u| !after.docs.contains_key(*u)) {
        out.extend(convert::path_of(uri));
    }
    out
}

/// Brings one mission up to date; returns its publications (the edited documents always, the
/// others when their diagnostics changed).
fn refresh(
    cache: &mut MissionCache,
    dir: &Path,
    docs: &DocsSnapshot,
    encoding: Encoding,
    republish_all: bool,
    repos: &Repositories,
) -> Vec<Publication> {
    let contract_changed =
        reload(&mut cache.contract, dir, doc_file(DocKind::Contract), docs, |d| contract::parse(&d.text));
    // An edit inside one feature re-parses only that feature (`features::reparse`), found from
    // the range the editor sent when the document owner knows it.
    let previous = cache.features.doc.clone().zip(cache.features.value.clone());
    let features_changed = reload(&mut cache.features, dir, doc_file(DocKind::Features), docs, |new| {
        previous
            .and_then(|(doc, old)| features::reparse(&old, &doc.text, &new.text, new.change_since(doc.revision)))
            .unwrap_or_else(|| features::parse(&new.text))
    });
    let validation_changed = reload(&mut cache.validation, dir, VALIDATION_STATE_FILE, docs, |d| {
        let loaded = records::load::<ValidationState>(&d.text);
        if let Some(e) = &loaded.error {
            tracing::warn!("{}: not a valid validation state: {e}", dir.join(VALIDATION_STATE_FILE).display());
        }
        loaded.value.unwrap_or_default()
    });
    let reports_changed = reload_reports(cache, dir);
    if validation_changed || reports_changed || cache.records.is_none() {
        cache.records = Some(Arc::new(ValidationRecords {
            state: cache.validation.value.as_deref().cloned(),
            milestones: cache.reports.clone(),
        }));
    }
    let handoffs_changed = reload_handoffs(cache, dir);
    let skills = model_folder::skill_names(dir);
    let skills_changed = skills != cache.skills;
    cache.skills = skills;
    // The repository's facts are asked for again when the mission's files change on disk (a
    // save included: the `Check:` commands run are the saved contract's, never a half-typed
    // line of a buffer) or its validation records do.
    let asked = (
        docs.disk_changes.get(dir).copied().unwrap_or(0),
        cache.records.as_ref().map_or(0, |r| Arc::as_ptr(r) as usize),
    );
    if cache.facts_asked != Some(asked) {
        repos.request(dir, Request { validation: cache.records.clone() });
        cache.facts_asked = Some(asked);
    }
    let (facts_generation, facts) = repos.get(dir);
    let facts_changed = facts_generation != cache.facts_generation;
    cache.facts_generation = facts_generation;
    let inputs_changed = contract_changed
        || features_changed
        || validation_changed
        || reports_changed
        || handoffs_changed
        || skills_changed
        || facts_changed
        || cache.snapshot.is_none();
    if inputs_changed {
        let parts = MissionParts {
            contract: cache.contract.value.clone(),
            features: cache.features.value.clone(),
            skills: cache.skills.clone(),
            validation: cache.records.clone(),
            handoffs: cache.handoffs.clone(),
            base_checks: facts.base_checks,
            history: facts.history,
        };
        // While the contract's parse is the same, its id table and its own diagnostics carry over.
        let analysis = MissionAnalysis::reusing(parts, cache.snapshot.as_ref().map(|s| s.analysis.as_ref()));
        cache.snapshot = Some(Arc::new(MissionSnapshot {
            dir: dir.to_path_buf(),
            analysis: Arc::new(analysis),
            contract: cache.contract.doc.clone(),
            features: cache.features.doc.clone(),
            lenses: super::lens::LensCache::carried_over(
                cache.snapshot.as_deref(),
                !contract_changed,
                !features_changed,
            ),
        }));
    }
    if !docs.ready {
        return Vec::new();
    }
    let Some(snapshot) = cache.snapshot.clone() else { return Vec::new() };
    if !inputs_changed && !republish_all {
        return Vec::new();
    }
    let edited: Vec<Uri> = [(DocKind::Contract, contract_changed), (DocKind::Features, features_changed)]
        .into_iter()
        .filter(|(_, c)| *c)
        .filter_map(|(k, _)| snapshot.doc_uri(k))
        .collect();
    let fresh = to_lsp(&snapshot, encoding);
    let mut out = Vec::new();
    for (uri, diagnostics) in &fresh {
        if republish_all || edited.contains(uri) || cache.published.get(uri) != Some(diagnostics) {
            out.push((uri.clone(), diagnostics.clone(), docs.docs.get(uri).and_then(|d| d.version)));
        }
    }
    for uri in cache.published.keys().filter(|u| !fresh.contains_key(*u)) {
        out.push((uri.clone(), Vec::new(), docs.docs.get(uri).and_then(|d| d.version)));
    }
    cache.published = fresh;
    out
}

/// Re-reads and re-parses one file if its source changed; true when it did.
fn reload<T>(
    slot: &mut Parsed<T>,
    dir: &Path,
    name: &str,
    docs: &DocsSnapshot,
    parse: impl FnOnce(&Document) -> T,
) -> bool {
    let path = dir.join(name);
    let open = convert::uri_of(&path).and_then(|u| docs.docs.get(&u).cloned());
    let key = match &open {
        Some(doc) => SourceKey::Open(doc.revision),
        None => match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => SourceKey::Disk(meta.modified().ok(), meta.len(), file_identity(&meta)),
            _ => SourceKey::Missing,
        },
    };
    if key == slot.key && !matches!(key, SourceKey::Unreadable(_)) {
        return false;
    }
    let doc = match open {
        Some(doc) => Some(doc),
        None if key == SourceKey::Missing => None,
        None => match model_folder::read_text(&path) {
            Ok(text) => Some(Arc::new(Document::new(text, None))),
            Err(e) => {
                let reason = e.to_string();
                if slot.key != SourceKey::Unreadable(reason.clone()) {
                    tracing::warn!("{}: {reason}; checked without it", path.display());
                }
                *slot = Parsed { key: SourceKey::Unreadable(reason), doc: None, value: None };
                return true;
            }
        },
    };
    let value = doc.as_ref().map(|d| Arc::new(parse(d)));
    *slot = Parsed { key, doc, value };
    true
}

/// The stamps of the files directly in `dir` whose name passes `keep`, sorted, with `prefix`.
fn stamps(dir: &Path, prefix: &str, keep: impl Fn(&str) -> bool) -> Vec<FileStamp> {
    let mut out: Vec<FileStamp> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    let meta = e.metadata().ok()?;
                    (keep(&name) && meta.is_file())
                        .then(|| (format!("{prefix}{name}"), meta.modified().ok(), meta.len()))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Re-reads the handoffs (`handoffs/*.json`, a legacy `handoffs.jsonl`) when a file changed.
fn reload_handoffs(cache: &mut MissionCache, dir: &Path) -> bool {
    let mut key = stamps(&dir.join(HANDOFFS_DIR), "", |n| n.ends_with(".json") && !n.starts_with('.'));
    key.extend(stamps(dir, "", |n| n == LEGACY_HANDOFFS_FILE));
    if key == cache.handoffs_key {
        return false;
    }
    let (handoffs, errors) = model_folder::read_handoffs(dir);
    for (path, e) in errors {
        tracing::warn!("{}: {e}", path.display());
    }
    cache.handoffs_key = key;
    cache.handoffs = Arc::new(handoffs);
    true
}

/// Re-reads the validators' reports when a file under `validation/<m>/` changed.
fn reload_reports(cache: &mut MissionCache, dir: &Path) -> bool {
    let root = dir.join(VALIDATION_DIR);
    let mut key = Vec::new();
    let mut milestones: Vec<String> = std::fs::read_dir(&root)
        .map(|e| {
            e.filter_map(Result::ok)
                .filter(|e| e.path().is_dir())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    milestones.sort();
    for m in &milestones {
        for kind in ["scrutiny", "user-testing"] {
            let base = root.join(m).join(kind);
            let is_json = |n: &str| n.ends_with(".json") && !n.starts_with('.');
            key.extend(stamps(&base, &format!("{m}/{kind}/"), is_json));
            key.extend(stamps(&base.join("reviews"), &format!("{m}/{kind}/reviews/"), is_json));
            key.extend(stamps(&base.join("flows"), &format!("{m}/{kind}/flows/"), is_json));
        }
    }
    if key == cache.reports_key {
        return false;
    }
    let (records, errors) = model_folder::read_validation(dir);
    for (path, e) in errors {
        tracing::warn!("{}: {e}", path.display());
    }
    cache.reports_key = key;
    cache.reports = records.milestones;
    true
}

/// The mission's diagnostics as LSP diagnostics per URI: both documents (when they exist, even
/// with none) and the source files validator issues point at.
fn to_lsp(snapshot: &MissionSnapshot, encoding: Encoding) -> BTreeMap<Uri, Vec<lsp::Diagnostic>> {
    let mut out: BTreeMap<Uri, Vec<lsp::Diagnostic>> = BTreeMap::new();
    for kind in [DocKind::Contract, DocKind::Features] {
        if let (Some(_), Some(uri)) = (snapshot.doc(kind), snapshot.doc_uri(kind)) {
            out.insert(uri, Vec::new());
        }
    }
    let mut workdir: Option<Option<PathBuf>> = None;
    for d in &snapshot.analysis.diagnostics {
        match &d.target {
            Target::Doc { doc, span } => {
                let (Some(document), Some(uri)) = (snapshot.doc(*doc), snapshot.doc_uri(*doc)) else { continue };
                let range = convert::range(document, span, encoding);
                out.entry(uri).or_default().push(lsp_diagnostic(snapshot, d, range, encoding));
            }
            Target::SourceLine { path, line } => {
                let base = workdir.get_or_insert_with(|| model_folder::working_directory(&snapshot.dir));
                let Some(full) = model_folder::source_file(base.as_deref(), path) else { continue };
                let Some(uri) = convert::uri_of(&full) else { continue };
                let start = lsp::Position { line: line.saturating_sub(1), character: 0 };
                let range = lsp::Range { start, end: lsp::Position { line: *line, character: 0 } };
                out.entry(uri).or_default().push(lsp_diagnostic(snapshot, d, range, encoding));
            }
        }
    }
    out
}

fn lsp_diagnostic(
    snapshot: &MissionSnapshot,
    d: &Diagnostic,
    range: lsp::Range,
    encoding: Encoding,
) -> lsp::Diagnostic {
    let related: Vec<DiagnosticRelatedInformation> = d
        .related
        .iter()
        .filter_map(|r| {
            let doc = snapshot.doc(r.doc)?;
            let uri = snapshot.doc_uri(r.doc)?;
            Some(DiagnosticRelatedInformation {
                location: lsp::Location { uri, range: convert::range(doc, &r.span, encoding) },
                message: r.message.clone(),
            })
        })
        .collect();
    lsp::Diagnostic {
        range,
        severity: Some(match d.severity {
            Severity::Error => lsp::DiagnosticSeverity::ERROR,
            Severity::Warning => lsp::DiagnosticSeverity::WARNING,
            Severity::Information => lsp::DiagnosticSeverity::INFORMATION,
            Severity::Hint => lsp::DiagnosticSeverity::HINT,
        }),
        code: Some(NumberOrString::String(d.code.as_str().to_string())),
        source: Some("missions".to_string()),
        message: d.message.clone(),
        related_information: (!related.is_empty()).then_some(related),
        ..lsp::Diagnostic::default()
    }
}

#[cfg(unix)]
fn file_identity(meta: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}

#[cfg(not(unix))]
fn file_identity(_meta: &std::fs::Metadata) -> u64 {
    0
}
