//! The document owner: one task applies open/change/close in arrival order, checks versions,
//! and publishes immutable snapshots of the open documents and known mission folders.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, watch};
use tower_lsp_server::ls_types::{TextDocumentContentChangeEvent, Uri};

use super::convert::{self, Encoding};
use super::{folder, watched};
use crate::analysis::position::Positions;
use crate::model::folder::{self as model_folder, MISSIONS_DIR};
use crate::model::TextChange;

/// A text with its line index. Open documents carry the client's version; files read from
/// disk have none.
#[derive(Debug)]
pub struct Document {
    pub text: String,
    pub positions: Positions,
    pub version: Option<i32>,
    /// Unique per content: a new revision means a new text (caches key on it).
    pub revision: u64,
    /// For the last few revisions of this document, where their text and this one differ
    /// (newest last): the analyzer re-parses from the range the editor sent instead of
    /// comparing two whole texts.
    pub changes_since: Vec<(u64, TextChange)>,
}

/// How many earlier revisions a document remembers its change from: the analyzer may skip
/// snapshots while it is busy, and then looks a few revisions back.
const CHANGES_KEPT: usize = 8;

static NEXT_REVISION: AtomicU64 = AtomicU64::new(1);

impl Document {
    pub fn new(text: String, version: Option<i32>) -> Self {
        let positions = Positions::new(&text);
        Document {
            text,
            positions,
            version,
            revision: NEXT_REVISION.fetch_add(1, Ordering::Relaxed),
            changes_since: Vec::new(),
        }
    }

    /// The change from revision `revision` of this document to this text, when it is known.
    pub fn change_since(&self, revision: u64) -> Option<TextChange> {
        self.changes_since.iter().rev().find(|(r, _)| *r == revision).map(|(_, c)| *c)
    }

    /// `base` edited by `change`: the earlier revisions' changes are carried over, composed.
    fn edited(base: &Document, text: String, version: i32, change: TextChange) -> Self {
        let skip = (base.changes_since.len() + 1).saturating_sub(CHANGES_KEPT);
        let mut changes_since: Vec<(u64, TextChange)> =
            base.changes_since[skip..].iter().map(|(r, c)| (*r, c.then(change))).collect();
        changes_since.push((base.revision, change));
        // The line index is updated from the base's: only the changed bytes are scanned.
        let positions = base.positions.edited(change, &text);
        Document {
            text,
            positions,
            version: Some(version),
            revision: NEXT_REVISION.fetch_add(1, Ordering::Relaxed),
            changes_since,
        }
    }
}

#[derive(Debug)]
pub enum DocEvent {
    Open {
        generation: u64,
        uri: Uri,
        text: String,
        version: i32,
    },
    Change {
        generation: u64,
        uri: Uri,
        version: i32,
        changes: Vec<TextDocumentContentChangeEvent>,
    },
    Close {
        generation: u64,
        uri: Uri,
    },
    /// `initialized` arrived: diagnostics may be sent from now on, and the workspace is scanned.
    Ready,
    /// Mission folders found by the workspace scan.
    Missions(Vec<PathBuf>),
    /// The client does not watch files for us: watch the mission folders in the server.
    WatchDisk,
    /// Files of mission folders changed on disk (written by the runner, git, another editor).
    DiskChanged(Vec<PathBuf>),
}

/// What the analyzer and the requests see: immutable once sent.
#[derive(Debug, Default, Clone)]
pub struct DocsSnapshot {
    /// The number of document events applied.
    pub generation: u64,
    pub docs: Arc<HashMap<Uri, Arc<Document>>>,
    pub missions: Arc<BTreeSet<PathBuf>>,
    /// True once the client sent `initialized`.
    pub ready: bool,
    /// Per mission folder, how many disk changes were seen: a new count makes the analyzer
    /// re-read that mission's files.
    pub disk_changes: Arc<BTreeMap<PathBuf, u64>>,
}

/// Runs until every event sender is gone (the server exited).
pub async fn own_documents(
    mut events: mpsc::UnboundedReceiver<DocEvent>,
    resend: mpsc::WeakUnboundedSender<DocEvent>,
    snapshots: watch::Sender<Arc<DocsSnapshot>>,
    encoding: Arc<OnceLock<Encoding>>,
    roots: Arc<OnceLock<Vec<PathBuf>>>,
    disk_changes: mpsc::UnboundedSender<Vec<PathBuf>>,
) {
    let mut owner = Owner { state: DocsSnapshot::default(), encoding, roots, resend, watcher: None, disk_changes };
    while let Some(event) = events.recv().await {
        owner.apply(event);
        // Events queued meanwhile are applied before the analyzer is told: one snapshot per burst.
        while let Ok(event) = events.try_recv() {
            owner.apply(event);
        }
        snapshots.send_replace(Arc::new(owner.state.clone()));
    }
}

struct Owner {
    state: DocsSnapshot,
    encoding: Arc<OnceLock<Encoding>>,
    roots: Arc<OnceLock<Vec<PathBuf>>>,
    resend: mpsc::WeakUnboundedSender<DocEvent>,
    /// The server's own file watcher, when the client does not watch for us.
    watcher: Option<notify::RecommendedWatcher>,
    /// Every disk change, after it is applied here: for mirroring into unsaved buffers and
    /// for the planner's answers in mission.md.
    disk_changes: mpsc::UnboundedSender<Vec<PathBuf>>,
}

impl Owner {
    fn encoding(&self) -> Encoding {
        self.encoding.get().copied().unwrap_or(Encoding::Utf16)
    }

    fn apply(&mut self, event: DocEvent) {
        match event {
            DocEvent::Open { generation, uri, text, version } => {
                self.state.generation = generation;
                self.note_mission(&uri);
                Arc::make_mut(&mut self.state.docs).insert(uri, Arc::new(Document::new(text, Some(version))));
            }
            DocEvent::Change { generation, uri, version, changes } => {
                self.state.generation = generation;
                let encoding = self.encoding();
                let docs = Arc::make_mut(&mut self.state.docs);
                let Some(doc) = docs.get(&uri) else {
                    tracing::warn!("didChange for {}, which is not open: ignored", uri.as_str());
                    return;
                };
                if doc.version.is_some_and(|current| version <= current) {
                    tracing::warn!(
                        "stale didChange for {}: version {version} is not newer than {:?}; ignored",
                        uri.as_str(),
                        doc.version
                    );
                    return;
                }
                let updated = apply_changes(doc, changes, version, encoding);
                docs.insert(uri, Arc::new(updated));
            }
            DocEvent::Close { generation, uri } => {
                self.state.generation = generation;
                if Arc::make_mut(&mut self.state.docs).remove(&uri).is_none() {
                    tracing::warn!("didClose for {}, which is not open: ignored", uri.as_str());
                }
            }
            DocEvent::Ready => {
                self.state.ready = true;
                self.scan_workspace();
            }
            DocEvent::Missions(found) => {
                for dir in found {
                    self.add_mission(dir);
                }
            }
            DocEvent::WatchDisk => {
                self.watcher = watched::disk_watcher(self.resend.clone());
                let roots = self.roots.get().cloned().unwrap_or_default();
                // New missions appear under `<root>/.missions/`; known ones are watched as found.
                for dir in roots
                    .iter()
                    .map(|r| r.join(MISSIONS_DIR))
                    .chain(self.state.missions.iter().cloned())
                    .collect::<Vec<_>>()
                {
                    self.watch(&dir);
                }
            }
            DocEvent::DiskChanged(paths) => {
                tracing::debug!("changed on disk: {paths:?}");
                let _ = self.disk_changes.send(paths.clone());
                for path in paths {
                    let Some(dir) = folder::mission_of(&path, &self.state.missions) else { continue };
                    let known = self.state.missions.contains(&dir);
                    if !known && !model_folder::is_mission_folder(&dir) {
                        continue;
                    }
                    self.add_mission(dir.clone());
                    *Arc::make_mut(&mut self.state.disk_changes).entry(dir).or_default() += 1;
                }
            }
        }
    }

    fn note_mission(&mut self, uri: &Uri) {
        let Some(path) = convert::path_of(uri) else { return };
        if let Some(dir) = folder::mission_of(&path, &self.state.missions) {
            self.add_mission(dir);
        }
    }

    fn add_mission(&mut self, dir: PathBuf) {
        if !self.state.missions.contains(&dir) {
            self.watch(&dir);
            Arc::make_mut(&mut self.state.missions).insert(dir);
        }
    }

    fn watch(&mut self, dir: &Path) {
        use notify::Watcher;
        let Some(watcher) = self.watcher.as_mut() else { return };
        if !dir.is_dir() {
            return;
        }
        match watcher.watch(dir, notify::RecursiveMode::Recursive) {
            Ok(()) => tracing::debug!("watching {}", dir.display()),
            Err(e) => tracing::warn!("cannot watch {}: {e}", dir.display()),
        }
    }

    /// Finds the mission folders of the workspace folders off this task; the result comes
    /// back as an event.
    fn scan_workspace(&self) {
        let roots = self.roots.get().cloned().unwrap_or_default();
        if roots.is_empty() {
            return;
        }
        let resend = self.resend.clone();
        tokio::spawn(async move {
            let found = tokio::task::spawn_blocking(move || {
                roots.iter().flat_map(|r| crate::model::folder::find_mission_folders(r)).collect::<Vec<_>>()
            })
            .await;
            match (found, resend.upgrade()) {
                (Ok(found), Some(tx)) => {
                    tracing::info!("workspace scan found {} mission folder(s)", found.len());
                    let _ = tx.send(DocEvent::Missions(found));
                }
                (Err(e), _) => tracing::error!("workspace scan failed: {e}"),
                (Ok(_), None) => {}
            }
        });
    }
}

/// Applies content changes in order, each relative to the text the previous one produced.
fn apply_changes(
    doc: &Document,
    changes: Vec<TextDocumentContentChangeEvent>,
    version: i32,
    encoding: Encoding,
) -> Document {
    let mut current: Option<Document> = None;
    for change in changes {
        let base = current.as_ref().unwrap_or(doc);
        let text = match change.range {
            None => change.text,
            Some(range) => {
                let span = convert::span(base, range, encoding);
                if range.start.line > range.end.line
                    || (range.start.line == range.end.line && range.start.character > range.end.character)
                {
                    tracing::warn!("didChange with a reversed range {range:?}: applied as {span:?}");
                }
                let mut text = String::with_capacity(base.text.len() + change.text.len());
                text.push_str(&base.text[..span.start]);
                text.push_str(&change.text);
                text.push_str(&base.text[span.end..]);
                current = Some(Document::edited(base, text, version, TextChange::replace(span, change.text.len())));
                continue;
            }
        };
        // The whole text replaced: no range to pass on, the analyzer compares.
        current = Some(Document::new(text, Some(version)));
    }
    current.unwrap_or_else(|| Document::new(doc.text.clone(), Some(version)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_lsp_server::ls_types::{Position, Range};

    fn change(range: Option<((u32, u32), (u32, u32))>, text: &str) -> TextDocumentContentChangeEvent {
        TextDocumentContentChangeEvent {
            range: range.map(|(s, e)| Range {
                start: Position { line: s.0, character: s.1 },
                end: Position { line: e.0, character: e.1 },
            }),
            range_length: None,
            text: text.to_string(),
        }
    }

    #[test]
    fn changes_apply_in_order_and_clamp() {
        let doc = Document::new("ab\r\n🎉cd\n".to_string(), Some(1));
        // after the emoji (2 UTF-16 units), then past the end of line 0 (before \r\n), then far away
        let changes = vec![
            change(Some(((1, 2), (1, 2))), "X"),
            change(Some(((0, 99), (0, 99))), "!"),
            change(Some(((9, 0), (9, 5))), "$"),
            change(Some(((1, 1), (1, 1))), "?"),
        ];
        let out = apply_changes(&doc, changes, 2, Encoding::Utf16);
        // (1,1) is inside the emoji's surrogate pair: it moves back to the emoji's start
        assert_eq!(out.text, "ab!\r\n?🎉Xcd\n$");
        assert_eq!(out.version, Some(2));
        let reversed = apply_changes(&doc, vec![change(Some(((0, 2), (0, 0))), "")], 3, Encoding::Utf8);
        assert_eq!(reversed.text, "\r\n🎉cd\n");
    }

    #[test]
    fn documents_remember_where_they_changed() {
        let doc = Document::new("{\"a\": 1}\n{\"b\": 2}\n".to_string(), Some(1));
        let one = apply_changes(
            &doc,
            vec![change(Some(((0, 6), (0, 7))), "10"), change(Some(((1, 0), (1, 0))), " ")],
            2,
            Encoding::Utf16,
        );
        assert_eq!(one.text, "{\"a\": 10}\n {\"b\": 2}\n");
        let two = apply_changes(&one, vec![change(Some(((0, 0), (0, 0))), "x")], 3, Encoding::Utf16);
        // From each earlier revision, the range covers every edit and the rest is unchanged.
        for (before, change) in [(&doc, two.change_since(doc.revision)), (&one, two.change_since(one.revision))] {
            let c = change.expect("a known change");
            assert!(c.fits(before.text.len(), two.text.len()));
            assert_eq!(before.text[..c.start], two.text[..c.start]);
            assert_eq!(before.text[c.old_end..], two.text[c.new_end..]);
        }
        assert_eq!(two.change_since(doc.revision).map(|c| (c.start, c.old_end, c.new_end)), Some((0, 9, 12)));
        // A whole-text replacement has no range: the analyzer compares.
        let whole = apply_changes(&two, vec![change(None, "{}")], 4, Encoding::Utf16);
        assert_eq!(whole.change_since(two.revision), None);
    }
}
