//! Reading a mission folder from disk: which files it has, with clear errors for anything
//! unreadable (missing, a directory, too large, not UTF-8).

use std::fmt;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::records::{self, Loaded, ValidationState};

pub const CONTRACT_FILE: &str = "validation-contract.md";
pub const FEATURES_FILE: &str = "features.json";
pub const MISSION_FILE: &str = "mission.md";
pub const STATE_FILE: &str = "state.json";
pub const VALIDATION_STATE_FILE: &str = "validation-state.json";
pub const WORKING_DIRECTORY_FILE: &str = "working_directory.txt";
pub const PROGRESS_LOG_FILE: &str = "progress_log.jsonl";
pub const TRANSCRIPTS_FILE: &str = "worker-transcripts.jsonl";
pub const HANDOFFS_DIR: &str = "handoffs";
pub const SKILLS_DIR: &str = "skills";
/// Where `missions new` puts missions, under the workspace root.
pub const MISSIONS_DIR: &str = ".missions";

/// Files larger than this are refused rather than read into memory.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    NotFound,
    IsDirectory,
    TooLarge { bytes: u64 },
    NotUtf8 { line: usize, column: usize },
    Io(String),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::NotFound => write!(f, "no such file"),
            ReadError::IsDirectory => write!(f, "is a directory, expected a file"),
            ReadError::TooLarge { bytes } => write!(f, "file is {} MiB, over the {} MiB limit", bytes / (1024 * 1024), MAX_FILE_BYTES / (1024 * 1024)),
            ReadError::NotUtf8 { line, column } => write!(f, "not valid UTF-8 (first bad byte at line {line}, byte column {column})"),
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// Reads a text file, refusing directories, files over [`MAX_FILE_BYTES`] and invalid UTF-8.
pub fn read_text(path: &Path) -> Result<String, ReadError> {
    let meta = fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ReadError::NotFound,
        _ => ReadError::Io(e.to_string()),
    })?;
    if meta.is_dir() {
        return Err(ReadError::IsDirectory);
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(ReadError::TooLarge { bytes: meta.len() });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| ReadError::Io(e.to_string()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ReadError::TooLarge { bytes: bytes.len() as u64 });
    }
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let (line, column) = crate::model::lines::line_and_column_after(good);
        ReadError::NotUtf8 { line, column }
    })
}

/// A mission folder holds features.json and validation-contract.md, or mission.md and
/// state.json (a mission still being planned).
pub fn is_mission_folder(dir: &Path) -> bool {
    (dir.join(FEATURES_FILE).exists() && dir.join(CONTRACT_FILE).exists()) || (dir.join(MISSION_FILE).exists() && dir.join(STATE_FILE).exists())
}

/// The skill names that have `skills/<name>/SKILL.md`; `None` when there is no skills folder.
pub fn skill_names(dir: &Path) -> Option<Vec<String>> {
    let entries = fs::read_dir(dir.join(SKILLS_DIR)).ok()?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().join("SKILL.md").is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    Some(names)
}

/// The text of an optional mission file: `Ok(None)` when it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<String>, ReadError> {
    match read_text(path) {
        Ok(text) => Ok(Some(text)),
        Err(ReadError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Mission folders at or below `dir`, sorted. Skips hidden tool folders that never hold
/// missions (`.git`, `node_modules`, `target`) but enters `.missions`.
pub fn find_mission_folders(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        if is_mission_folder(&d) {
            found.push(d);
            continue;
        }
        let Ok(entries) = fs::read_dir(&d) else { continue };
        for e in entries.filter_map(Result::ok) {
            let Ok(ft) = e.file_type() else { continue };
            let name = e.file_name();
            let name = name.to_string_lossy();
            if ft.is_dir() && !matches!(name.as_ref(), ".git" | "node_modules" | "target") {
                stack.push(e.path());
            }
        }
    }
    found.sort();
    found
}

/// Walks up from `start` to the git top level (or the filesystem root when not in a
/// repository) and returns the first folder that has `.missions/`, with its missions.
pub fn find_workspace_missions(start: &Path) -> Option<(PathBuf, Vec<PathBuf>)> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        let missions = d.join(MISSIONS_DIR);
        if missions.is_dir() {
            return Some((missions.clone(), find_mission_folders(&missions)));
        }
        if d.join(".git").exists() {
            return None;
        }
        dir = d.parent();
    }
    None
}

/// The files of a mission folder that the checks read, as text, plus what could not be read.
#[derive(Debug, Default)]
pub struct MissionTexts {
    pub dir: PathBuf,
    pub contract: Option<String>,
    pub features: Option<String>,
    pub skills: Option<Vec<String>>,
    pub validation: Option<ValidationState>,
    /// Files that exist but could not be read or parsed, with the reason.
    pub errors: Vec<(PathBuf, String)>,
}

/// Reads the contract, the feature queue, the skill names and validation-state.json of `dir`.
pub fn read_mission(dir: &Path) -> MissionTexts {
    let mut m = MissionTexts { dir: dir.to_path_buf(), skills: skill_names(dir), ..Default::default() };
    let mut read = |name: &str| {
        let path = dir.join(name);
        read_optional(&path).unwrap_or_else(|e| {
            m.errors.push((path, e.to_string()));
            None
        })
    };
    let contract = read(CONTRACT_FILE);
    let features = read(FEATURES_FILE);
    let validation = read(VALIDATION_STATE_FILE);
    m.contract = contract;
    m.features = features;
    if let Some(text) = validation {
        let loaded: Loaded<ValidationState> = records::load(&text);
        match loaded.error {
            Some(e) => m.errors.push((dir.join(VALIDATION_STATE_FILE), format!("not a valid validation state: {e}"))),
            None => m.validation = loaded.value,
        }
    }
    m
}

/// The repository a mission works on, from working_directory.txt.
pub fn working_directory(dir: &Path) -> Option<PathBuf> {
    let text = read_text(&dir.join(WORKING_DIRECTORY_FILE)).ok()?;
    let line = text.lines().next()?.trim();
    (!line.is_empty()).then(|| PathBuf::from(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_errors_are_clear() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_text(&dir.path().join("nope")), Err(ReadError::NotFound));
        assert_eq!(read_text(dir.path()), Err(ReadError::IsDirectory));
        let bad = dir.path().join("bad.md");
        fs::write(&bad, b"ok\nab\xffcd").unwrap();
        assert_eq!(read_text(&bad), Err(ReadError::NotUtf8 { line: 2, column: 3 }));
    }

    #[test]
    fn finds_missions_below_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join(".missions/one");
        fs::create_dir_all(&m).unwrap();
        fs::write(m.join(MISSION_FILE), "goal").unwrap();
        fs::write(m.join(STATE_FILE), "{}").unwrap();
        fs::create_dir_all(dir.path().join("node_modules/x")).unwrap();
        assert_eq!(find_mission_folders(dir.path()), vec![m.clone()]);
        fs::create_dir_all(dir.path().join(".git")).unwrap();
        let sub = dir.path().join("src/deep");
        fs::create_dir_all(&sub).unwrap();
        assert_eq!(find_workspace_missions(&sub).unwrap().1, vec![m]);
    }
}
