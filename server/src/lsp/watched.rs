//! Files the runner, git or another editor write: `workspace/didChangeWatchedFiles`,
//! registered with the client when it supports dynamic registration, else a watcher in the
//! server (`notify`) on the mission folders. Either way a change becomes a `DiskChanged` event
//! for the document owner, which makes the analyzer re-read that mission's files; an open
//! document keeps the editor's text (`mirror` brings the change into a buffer with unsaved
//! edits).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc;
use tower_lsp_server::ls_types::{
    DidChangeWatchedFilesParams, DidChangeWatchedFilesRegistrationOptions, FileSystemWatcher, GlobPattern, Registration,
};

use super::documents::DocEvent;
use super::{convert, Shared};
use crate::model::folder::{
    CONTRACT_FILE, FEATURES_FILE, HANDOFFS_DIR, LEGACY_HANDOFFS_FILE, MISSION_FILE, SKILLS_DIR, VALIDATION_DIR,
    VALIDATION_STATE_FILE, WORKING_DIRECTORY_FILE,
};

/// The longest `initialized` waits for the client to accept the registration.
const REGISTRATION_WAIT: Duration = Duration::from_secs(5);

const REGISTRATION_ID: &str = "missions-watched-files";

/// The files whose change can change an analysis, as globs for the client.
const GLOBS: [&str; 9] = [
    "**/features.json",
    "**/validation-contract.md",
    "**/validation-state.json",
    "**/working_directory.txt",
    "**/handoffs/*.json",
    "**/handoffs.jsonl",
    "**/skills/**/SKILL.md",
    "**/validation/**/*.json",
    "**/mission.md",
];

/// True for the files an analysis reads, mission.md among them (its ids are live, and its
/// answers resume planning). The rest of a mission folder changes often during a run: logs,
/// transcripts, tool output.
pub fn affects_analysis(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return false };
    let parent = path.parent().and_then(Path::file_name).and_then(|n| n.to_str());
    [CONTRACT_FILE, FEATURES_FILE, VALIDATION_STATE_FILE, WORKING_DIRECTORY_FILE, MISSION_FILE, LEGACY_HANDOFFS_FILE]
        .contains(&name)
        || (parent == Some(HANDOFFS_DIR) && name.ends_with(".json"))
        || path.components().any(|c| c.as_os_str() == SKILLS_DIR)
        || (name.ends_with(".json") && path.components().any(|c| c.as_os_str() == VALIDATION_DIR))
}

/// After `initialized`: register the watched files with the client, or watch in the server.
pub async fn start(shared: &Shared, client_registers: bool) {
    if client_registers {
        let options = DidChangeWatchedFilesRegistrationOptions {
            watchers: GLOBS
                .iter()
                .map(|g| FileSystemWatcher { glob_pattern: GlobPattern::String(g.to_string()), kind: None })
                .collect(),
        };
        let registration = Registration {
            id: REGISTRATION_ID.to_string(),
            method: "workspace/didChangeWatchedFiles".to_string(),
            register_options: serde_json::to_value(options).ok(),
        };
        match tokio::time::timeout(REGISTRATION_WAIT, shared.client.register_capability(vec![registration])).await.ok()
        {
            Some(Ok(())) => {
                tracing::info!("watched files registered with the client");
                return;
            }
            Some(Err(e)) => {
                tracing::warn!("the client refused the watched-files registration ({e}); watching in the server")
            }
            None => tracing::warn!(
                "no answer to the watched-files registration within {REGISTRATION_WAIT:?}; watching in the server"
            ),
        }
    }
    send(shared, DocEvent::WatchDisk);
}

/// `workspace/didChangeWatchedFiles` from the client.
pub fn changed(shared: &Shared, params: DidChangeWatchedFilesParams) {
    let paths: Vec<PathBuf> =
        params.changes.iter().filter_map(|c| convert::path_of(&c.uri)).filter(|p| affects_analysis(p)).collect();
    if !paths.is_empty() {
        send(shared, DocEvent::DiskChanged(paths));
    }
}

fn send(shared: &Shared, event: DocEvent) {
    if shared.events.upgrade().is_none_or(|tx| tx.send(event).is_err()) {
        tracing::warn!("the document owner has stopped; watched-file event dropped");
    }
}

/// The server's own watcher: sends `DiskChanged` for relevant paths through `events`.
pub fn disk_watcher(events: mpsc::WeakUnboundedSender<DocEvent>) -> Option<notify::RecommendedWatcher> {
    let handler = move |result: notify::Result<notify::Event>| {
        let event = match result {
            Ok(event) => event,
            Err(e) => {
                tracing::warn!("file watcher: {e}");
                return;
            }
        };
        if event.kind.is_access() {
            return;
        }
        let paths: Vec<PathBuf> = event.paths.into_iter().filter(|p| affects_analysis(p)).collect();
        if let (false, Some(tx)) = (paths.is_empty(), events.upgrade()) {
            let _ = tx.send(DocEvent::DiskChanged(paths));
        }
    };
    match notify::recommended_watcher(handler) {
        Ok(watcher) => Some(watcher),
        Err(e) => {
            tracing::warn!("cannot watch files ({e}); changes on disk are seen at the next edit");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_analysed_files_matter() {
        for yes in [
            "/m/features.json",
            "/m/handoffs/s1.json",
            "/m/skills/w/SKILL.md",
            "/m/validation-state.json",
            "/m/mission.md",
            "/m/validation/core/scrutiny/reviews/a.json",
            "/m/handoffs.jsonl",
        ] {
            assert!(affects_analysis(Path::new(yes)), "{yes}");
        }
        for no in [
            "/m/progress_log.jsonl",
            "/m/worker-transcripts.jsonl",
            "/m/tool-output/s/1.txt",
            "/m/handoffs/notes.txt",
            "/",
        ] {
            assert!(!affects_analysis(Path::new(no)), "{no}");
        }
    }
}
