//! Live documents under unsaved edits (design §4): the disk is the truth, so when the runner
//! (or anything else) writes a mission file the person has open *with unsaved edits*, its
//! change is mirrored into the buffer with `workspace/applyEdit` — field by field for JSON,
//! line by line otherwise (`analysis::merge`) — never by replacing the person's text. Where
//! both changed the same thing the person's text stays and a `window/showMessage` names it.
//! A buffer without unsaved edits is left to the client, which reloads it from disk itself.
//!
//! One task follows the open documents: for each it keeps the *base*, the disk text the
//! buffer was last in step with (read at open and at save, moved on when the buffer takes a
//! change or reloads). A clean buffer the client has not reloaded yet keeps its old base, so
//! edits typed into it later still merge with everything written since.
//!
//! An edit is sent only for a change on disk this task saw happen after the base: the base is
//! always a text read from disk, never the buffer's. A buffer opened with other text than the
//! disk's (an editor restoring unsaved work) is the person's, and stays as it is.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tower_lsp_server::ls_types::{MessageType, TextEdit, Uri, WorkspaceEdit};
use tower_lsp_server::Client;

use super::convert::{self, Encoding};
use super::documents::{DocsSnapshot, Document};
use super::edits::{self, FileEdits};
use super::folder;
use crate::analysis::merge::{self, Format, Mirror};
use crate::model::folder::{self as model_folder, CONTRACT_FILE, FEATURES_FILE, MISSION_FILE, VALIDATION_STATE_FILE};

/// The files the runner writes that a person also edits.
const MIRRORED: [&str; 4] = [FEATURES_FILE, CONTRACT_FILE, VALIDATION_STATE_FILE, MISSION_FILE];

/// The longest the client may take to answer `workspace/applyEdit` (nothing else waits on it).
const APPLY_WAIT: Duration = Duration::from_secs(10);

/// The longest to wait for the client's didChange of an applied edit before the next merge.
const ECHO_WAIT: Duration = Duration::from_secs(2);

/// Changes reported this close together are read once.
const SETTLE: Duration = Duration::from_millis(100);

/// Merges against a buffer that changed while the edit was on its way are retried this often.
const ATTEMPTS: usize = 3;

#[derive(Debug)]
pub enum MirrorEvent {
    /// Files of mission folders changed on disk.
    Disk(Vec<PathBuf>),
    /// The person saved this file: the buffer and the disk agree again.
    Saved(PathBuf),
}

/// What the client accepts, from `initialize`.
#[derive(Debug, Clone, Copy, Default)]
pub struct EditSupport {
    /// `workspace.applyEdit`.
    pub apply_edit: bool,
    /// `workspace.workspaceEdit.documentChanges`: edits carry the buffer's version, so a
    /// buffer that changed meanwhile refuses them instead of receiving them at wrong places.
    pub versioned: bool,
}

pub struct Follower {
    client: Client,
    docs: watch::Receiver<Arc<DocsSnapshot>>,
    encoding: Arc<OnceLock<Encoding>>,
    support: Arc<OnceLock<EditSupport>>,
    /// Per open mission file, the disk texts: its base and the newest.
    tracked: HashMap<Uri, Tracked>,
    /// Buffers already told that a change could not be taken in (told once until in step).
    told_behind: HashSet<Uri>,
}

/// The two texts are shared: while they are the same (nearly always), they are one `Arc`, and
/// the check on every document snapshot is a pointer comparison instead of reading two whole
/// files.
struct Tracked {
    /// The disk text the buffer was last in step with.
    base: Arc<str>,
    /// The newest disk text seen.
    disk: Arc<str>,
}

impl Tracked {
    fn same(text: String) -> Self {
        let text: Arc<str> = text.into();
        Tracked { base: text.clone(), disk: text }
    }

    /// Whether base and disk are the same text; equal texts become one `Arc` again.
    fn in_step(&mut self) -> bool {
        if Arc::ptr_eq(&self.base, &self.disk) {
            return true;
        }
        if *self.base == *self.disk {
            self.base = self.disk.clone();
            return true;
        }
        false
    }
}

/// Whether the buffer is in step with the newest disk text after a mirror.
enum Outcome {
    InStep,
    Behind,
}

impl Follower {
    pub fn new(
        client: Client,
        docs: watch::Receiver<Arc<DocsSnapshot>>,
        encoding: Arc<OnceLock<Encoding>>,
        support: Arc<OnceLock<EditSupport>>,
    ) -> Self {
        Follower { client, docs, encoding, support, tracked: HashMap::new(), told_behind: HashSet::new() }
    }

    /// Runs until the server stops (the event senders are gone).
    pub async fn run(mut self, mut events: mpsc::UnboundedReceiver<MirrorEvent>) {
        loop {
            tokio::select! {
                changed = self.docs.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    self.track_open_documents().await;
                }
                event = events.recv() => match event {
                    Some(MirrorEvent::Disk(paths)) => {
                        let paths = self.settled(paths, &mut events).await;
                        self.track_open_documents().await;
                        for path in paths {
                            self.disk_changed(&path).await;
                        }
                    }
                    Some(MirrorEvent::Saved(path)) => self.saved(&path).await,
                    None => return,
                },
            }
        }
    }

    /// The buffer and the disk agree again.
    async fn saved(&mut self, path: &Path) {
        if !is_mirrored(path, &self.docs.borrow()) {
            return;
        }
        if let Some((uri, _)) = self.open_document(path) {
            if let Some(text) = read(path).await {
                self.tracked.insert(uri, Tracked::same(text));
            }
        }
    }

    /// The changed paths of `first` and of every change reported within `SETTLE` of it, once
    /// each (saves meanwhile are taken as they come): a writer that truncates and then writes
    /// is read once, after it wrote.
    async fn settled(
        &mut self,
        first: Vec<PathBuf>,
        events: &mut mpsc::UnboundedReceiver<MirrorEvent>,
    ) -> Vec<PathBuf> {
        let mut paths = first;
        let deadline = tokio::time::Instant::now() + SETTLE;
        while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.recv()).await {
            match event {
                MirrorEvent::Disk(more) => paths.extend(more),
                MirrorEvent::Saved(path) => self.saved(&path).await,
            }
        }
        paths.sort();
        paths.dedup();
        paths
    }

    /// Reads the base of newly opened mission files, forgets closed ones, moves the base of
    /// a buffer that reloaded the newest disk text, and catches up a buffer that fell behind
    /// while clean and has unsaved edits now (an editor that did not reload it).
    async fn track_open_documents(&mut self) {
        let snapshot = self.docs.borrow_and_update().clone();
        self.tracked.retain(|uri, _| snapshot.docs.contains_key(uri));
        let mut behind = Vec::new();
        for (uri, doc) in snapshot.docs.iter() {
            if let Some(tracked) = self.tracked.get_mut(uri) {
                if !tracked.in_step() {
                    if *doc.text == *tracked.disk {
                        tracked.base = tracked.disk.clone();
                    } else if *doc.text != *tracked.base && !self.told_behind.contains(uri) {
                        behind.push(uri.clone());
                    }
                }
                continue;
            }
            let Some(path) = convert::path_of(uri).filter(|p| is_mirrored(p, &snapshot)) else { continue };
            // The disk as it is now is the base, whatever the buffer holds. A file caught
            // mid-write is no base: it is read again at its next change event.
            if let Some(disk) = read(&path).await.filter(|disk| !being_written(&path, disk)) {
                self.tracked.insert(uri.clone(), Tracked::same(disk));
            }
        }
        for uri in behind {
            self.catch_up(&uri).await;
        }
    }

    fn open_document(&self, path: &Path) -> Option<(Uri, Arc<Document>)> {
        let snapshot = self.docs.borrow();
        snapshot
            .docs
            .iter()
            .find(|(uri, _)| convert::path_of(uri).as_deref() == Some(path))
            .map(|(uri, doc)| (uri.clone(), doc.clone()))
    }

    async fn disk_changed(&mut self, path: &Path) {
        let Some((uri, doc)) = self.open_document(path) else { return };
        if !self.tracked.contains_key(&uri) {
            return;
        }
        let Some(disk) = read(path).await else { return };
        if disk != doc.text && being_written(path, &disk) {
            // A writer that truncates, then writes (an editor's save, a script): the next
            // change event brings the whole text.
            tracing::debug!("{} looks half written; waiting for the rest", path.display());
            return;
        }
        if let Some(tracked) = self.tracked.get_mut(&uri) {
            tracked.disk = disk.into();
        }
        self.catch_up(&uri).await;
    }

    /// Mirrors base -> newest disk text into the buffer of `uri`; moves the base when the
    /// buffer is in step.
    async fn catch_up(&mut self, uri: &Uri) {
        let Some(tracked) = self.tracked.get_mut(uri) else { return };
        let in_step = tracked.in_step();
        let (base, disk) = (tracked.base.clone(), tracked.disk.clone());
        let Some(path) = convert::path_of(uri) else { return };
        let outcome = if in_step { Outcome::InStep } else { self.mirror(&path, uri, &base, &disk).await };
        if let (Outcome::InStep, Some(tracked)) = (outcome, self.tracked.get_mut(uri)) {
            tracked.base = disk;
            self.told_behind.remove(uri);
        }
    }

    /// Brings the change base -> disk into the buffer of `uri`, if it has unsaved edits.
    async fn mirror(&mut self, path: &Path, uri: &Uri, base: &str, disk: &str) -> Outcome {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let support = self.support.get().copied().unwrap_or_default();
        let encoding = self.encoding.get().copied().unwrap_or(Encoding::Utf16);
        for _ in 0..ATTEMPTS {
            let Some((_, doc)) = self.open_document(path) else { return Outcome::Behind };
            if doc.text == disk {
                return Outcome::InStep;
            }
            if doc.text == base {
                // No unsaved edits: the client reloads the file itself.
                return Outcome::Behind;
            }
            let merged = {
                let (base, ours, theirs) = (base.to_string(), doc.clone(), disk.to_string());
                let format = Format::of_path(&name);
                tokio::task::spawn_blocking(move || merge::mirror(&base, &ours.text, &theirs, format)).await
            };
            let Ok(merged) = merged else {
                tracing::error!("merging {} panicked; the buffer keeps its text", path.display());
                return Outcome::Behind;
            };
            if merged.edits.is_empty() {
                self.tell(&name, &merged, false).await;
                return Outcome::InStep;
            }
            if !support.apply_edit {
                self.tell_behind(uri, format!("{name} changed on disk while you have unsaved edits in it, and this editor cannot take the change into the buffer (no workspace/applyEdit): compare with the file before saving, or saving overwrites it")).await;
                return Outcome::Behind;
            }
            let edit = workspace_edit(uri, &doc, &merged, encoding, support.versioned);
            match tokio::time::timeout(APPLY_WAIT, self.client.apply_edit(edit)).await.ok() {
                Some(Ok(response)) if response.applied => {
                    self.await_echo(uri, doc.version).await;
                    self.tell(&name, &merged, true).await;
                    return Outcome::InStep;
                }
                Some(Ok(response)) => {
                    tracing::info!(
                        "{name}: the client did not apply the runner's change ({:?})",
                        response.failure_reason
                    );
                    // Merged again only when the buffer moved on meanwhile (its didChange may
                    // still be on its way here); else the client refuses the change itself.
                    self.await_echo(uri, doc.version).await;
                    if self.open_document(path).is_none_or(|(_, now)| now.version == doc.version) {
                        break;
                    }
                }
                Some(Err(e)) => {
                    tracing::warn!("workspace/applyEdit for {name}: {e}");
                    break;
                }
                None => {
                    tracing::warn!("no answer to workspace/applyEdit for {name} within {APPLY_WAIT:?}");
                    break;
                }
            }
        }
        self.tell_behind(uri, format!("{name} changed on disk while you have unsaved edits in it, and the change could not be taken into the buffer: compare with the file before saving, or saving overwrites it")).await;
        Outcome::Behind
    }

    /// Warns once per buffer until it is in step again (a run writes the same file often).
    async fn tell_behind(&mut self, uri: &Uri, message: String) {
        if self.told_behind.insert(uri.clone()) {
            self.warn(message).await;
        }
    }

    /// Waits (bounded) until the buffer's version moves past `version`: the client's didChange
    /// of the applied edit, so the next merge starts from a buffer that has it.
    async fn await_echo(&mut self, uri: &Uri, version: Option<i32>) {
        let mut docs = self.docs.clone();
        let moved = |s: &Arc<DocsSnapshot>| s.docs.get(uri).is_none_or(|d| d.version != version);
        let _ = tokio::time::timeout(ECHO_WAIT, docs.wait_for(moved)).await;
    }

    /// Tells the person what both sides changed; nothing when the merge was clean.
    async fn tell(&self, name: &str, merged: &Mirror, applied: bool) {
        if merged.conflicts.is_empty() {
            if applied {
                tracing::info!("{name}: the change on disk was taken into the buffer beside its unsaved edits");
            }
            return;
        }
        let places = merged.conflicts.join(", ");
        let rest = if applied { " Its other changes were taken into the buffer." } else { "" };
        self.warn(format!("{name} changed on disk where your unsaved edits changed it too ({places}); the buffer keeps your text there, and saving writes it over the file's.{rest}")).await;
    }

    async fn warn(&self, message: String) {
        tracing::warn!("{message}");
        self.client.show_message(MessageType::WARNING, message).await;
    }
}

/// An empty file, or JSON that does not parse: most likely caught between truncate and write.
fn being_written(path: &Path, disk: &str) -> bool {
    disk.is_empty()
        || (Format::of_path(&path.to_string_lossy()) == Format::Json
            && !crate::model::json::parse(disk).errors.is_empty())
}

/// Whether `path` is one of the mirrored files of a mission folder.
fn is_mirrored(path: &Path, snapshot: &DocsSnapshot) -> bool {
    let named = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| MIRRORED.contains(&n));
    named && folder::mission_of(path, &snapshot.missions).is_some()
}

async fn read(path: &Path) -> Option<String> {
    let owned = path.to_path_buf();
    match tokio::task::spawn_blocking(move || model_folder::read_text(&owned)).await {
        Ok(Ok(text)) => Some(text),
        Ok(Err(e)) => {
            tracing::debug!("cannot read {}: {e}", path.display());
            None
        }
        Err(_) => None,
    }
}

fn workspace_edit(uri: &Uri, doc: &Document, merged: &Mirror, encoding: Encoding, versioned: bool) -> WorkspaceEdit {
    let edits = merged
        .edits
        .iter()
        .map(|e| TextEdit { range: convert::range(doc, &e.span, encoding), new_text: e.text.clone() })
        .collect();
    edits::workspace_edit(vec![FileEdits { uri: uri.clone(), version: doc.version, edits }], versioned)
}
