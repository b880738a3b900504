//! Planner questions in the editor (design §6: `planning -> awaiting_answers`). When a run
//! ends waiting for answers, the person is told and, where the client can, mission.md opens at
//! its `## Questions` heading. When mission.md is saved (`textDocument/didSave`, or a watched
//! file change) and every question has an answer, planning resumes as `missions.start` would.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tower_lsp_server::ls_types::{MessageType, Position, Range, ShowDocumentParams};
use tower_lsp_server::Client;

use super::convert;
use super::mission_task::{Launch, Missions};
use crate::model::folder::{self, MISSION_FILE};
use crate::model::questions;
use crate::runner::state::StateStore;

/// The longest the task opening mission.md waits for the client's answer (nothing else waits).
const SHOW_WAIT: Duration = Duration::from_secs(10);

/// Tells the person that the orchestrator asks, and opens mission.md at the questions when
/// the client supports `window/showDocument` (on a task of its own, bounded).
pub async fn announce(client: &Client, dir: &Path, title: &str, show_document: bool) {
    let file = dir.join(MISSION_FILE);
    let text = folder::read_text(&file).unwrap_or_default();
    let open = questions::unanswered(&text);
    client.show_message(MessageType::WARNING, format!("Mission {title}: the orchestrator has {open} question(s) under `## Questions` in {}; write each answer on its `A:` line and save: planning resumes", file.display())).await;
    let (true, Some(uri)) = (show_document, convert::uri_of(&file)) else { return };
    // At the heading, else the top of the file.
    let line = questions::heading_line(&text).unwrap_or(0) as u32;
    let client = client.clone();
    tokio::spawn(async move {
        let at = Position { line, character: 0 };
        let params = ShowDocumentParams {
            uri,
            external: Some(false),
            take_focus: Some(true),
            selection: Some(Range { start: at, end: at }),
        };
        match tokio::time::timeout(SHOW_WAIT, client.show_document(params)).await.ok() {
            Some(Ok(true)) => {}
            Some(Ok(false)) => tracing::info!("the client did not open mission.md"),
            Some(Err(e)) => tracing::warn!("window/showDocument: {e}"),
            None => tracing::warn!("no answer to window/showDocument within {SHOW_WAIT:?}"),
        }
    });
}

/// The mission folder of a saved `mission.md`, if that is what `path` is.
fn mission_of(path: &Path) -> Option<PathBuf> {
    if path.file_name()? != MISSION_FILE {
        return None;
    }
    let dir: PathBuf = path.parent()?.components().collect();
    folder::is_mission_folder(&dir).then_some(dir)
}

/// Whether the mission at `dir` waits for answers and mission.md now has every one.
fn ready_to_resume(dir: &Path) -> bool {
    let Ok(state) = StateStore::open(dir) else { return false };
    if state.status() != crate::model::records::MissionStatus::AwaitingAnswers {
        return false;
    }
    let text = folder::read_text(&dir.join(MISSION_FILE)).unwrap_or_default();
    let questions = questions::parse(&text);
    !questions.is_empty() && questions.iter().all(questions::Question::is_answered)
}

/// mission.md was saved or changed on disk: resumes planning when every question is answered.
/// Reads the files off the async threads; never holds up the handler that calls it.
pub fn saved(missions: Missions, client: Client, path: PathBuf) {
    let Some(dir) = mission_of(&path) else { return };
    tokio::spawn(async move {
        let check = dir.clone();
        let ready = tokio::task::spawn_blocking(move || ready_to_resume(&check)).await.unwrap_or(false);
        if !ready || missions.is_running(&dir) {
            return;
        }
        let Some(uri) = convert::uri_of(&dir) else { return };
        let started = {
            let (missions, client, dir, uri) = (missions.clone(), client.clone(), dir.clone(), uri.clone());
            tokio::task::spawn_blocking(move || missions.start(&client, &dir, &uri, Launch::Start)).await
        };
        match started {
            Ok(Ok(_)) => {
                client
                    .show_message(
                        MessageType::INFO,
                        format!("Every question in {} is answered; planning resumes", dir.join(MISSION_FILE).display()),
                    )
                    .await
            }
            // Another save or command started it meanwhile: nothing to tell.
            Ok(Err(e)) if missions.is_running(&dir) => tracing::debug!("answers saved while the mission runs: {e}"),
            Ok(Err(e)) => {
                client
                    .show_message(
                        MessageType::ERROR,
                        format!("The answers are saved but planning could not resume: {e}"),
                    )
                    .await
            }
            Err(e) => tracing::error!("resuming planning panicked: {e}"),
        }
    });
}
