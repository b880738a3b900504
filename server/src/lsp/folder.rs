//! Which mission folder a file belongs to, and the folder's files as documents: the open
//! buffer when the editor has one, else the file on disk.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tower_lsp_server::ls_types::Uri;

use super::convert;
use super::documents::Document;
use crate::analysis::navigate::FileRef;
use crate::analysis::DocKind;
use crate::model::features::ValidatorKind;
use crate::model::folder::{
    self as model_folder, CONTRACT_FILE, FEATURES_FILE, HANDOFFS_DIR, MISSION_FILE, VALIDATION_DIR,
    VALIDATION_STATE_FILE,
};

/// The mission folder of `path`: the folder of a contract or features.json, or the nearest of
/// the five folders above any other file that is a mission folder (`handoffs/x.json`,
/// `validation/<milestone>/scrutiny/reviews/<feature>.json`).
pub fn mission_of(path: &Path, known: &BTreeSet<PathBuf>) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    if name == CONTRACT_FILE || name == FEATURES_FILE {
        return path.parent().map(Path::to_path_buf);
    }
    path.ancestors()
        .skip(1)
        .take(5)
        .find(|dir| known.contains(*dir) || model_folder::is_mission_folder(dir))
        .map(Path::to_path_buf)
}

/// The file name of one of the two live documents.
pub fn doc_file(doc: DocKind) -> &'static str {
    match doc {
        DocKind::Contract => CONTRACT_FILE,
        DocKind::Features => FEATURES_FILE,
    }
}

/// The folder-relative path of a file reference.
pub fn relative(file: &FileRef) -> &str {
    match file {
        FileRef::Doc(doc) => doc_file(*doc),
        FileRef::Other(path) => path,
    }
}

/// The other files of a mission that may name ids: mission.md, validation-state.json, handoffs
/// and the validators' reports (syntheses, reviews, flows); relative paths, sorted.
pub fn record_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for name in [MISSION_FILE, VALIDATION_STATE_FILE] {
        if dir.join(name).is_file() {
            out.push(name.to_string());
        }
    }
    out.extend(json_files(dir, HANDOFFS_DIR));
    if let Ok(entries) = std::fs::read_dir(dir.join(VALIDATION_DIR)) {
        let mut milestones: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        milestones.sort();
        for m in milestones {
            for kind in ValidatorKind::ALL {
                let base = format!("{VALIDATION_DIR}/{m}/{}", kind.folder());
                out.extend(json_files(dir, &base));
                out.extend(json_files(dir, &format!("{base}/reviews")));
                out.extend(json_files(dir, &format!("{base}/flows")));
            }
        }
    }
    out
}

fn json_files(dir: &Path, sub: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir.join(sub)) else { return Vec::new() };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json"))
        .map(|n| format!("{sub}/{n}"))
        .collect();
    names.sort();
    names
}

/// One file of a mission as a document, with its URI.
pub struct MissionFile {
    pub file: FileRef,
    pub uri: Uri,
    pub doc: Arc<Document>,
}

/// Loads `files` of the mission at `dir`: open buffers first, else from disk. Unreadable files
/// (not UTF-8, too large) are skipped with a log line.
pub fn load(dir: &Path, files: Vec<FileRef>, open: &HashMap<Uri, Arc<Document>>) -> Vec<MissionFile> {
    files
        .into_iter()
        .filter_map(|file| {
            let path = dir.join(relative(&file));
            let uri = convert::uri_of(&path)?;
            if let Some(doc) = open.get(&uri) {
                return Some(MissionFile { file, uri, doc: doc.clone() });
            }
            match model_folder::read_text(&path) {
                Ok(text) => Some(MissionFile { file, uri, doc: Arc::new(Document::new(text, None)) }),
                Err(model_folder::ReadError::NotFound) => None,
                Err(e) => {
                    tracing::warn!("{}: {e}; skipped", path.display());
                    None
                }
            }
        })
        .collect()
}
