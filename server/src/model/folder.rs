//! Reading a mission folder from disk, laid out as droid writes it: which files it has, with
//! clear errors for anything unreadable (missing, a directory, too large, not UTF-8), the
//! handoffs found by their file names, the validators' reports under `validation/<m>/`, and
//! the skills named by their SKILL.md front matter.

use std::fmt;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::features::ValidatorKind;
use super::proof::Proof;
use super::records::{
    self, Flow, HandoffFile, Loaded, MissionState, Review, ScrutinySynthesis, UserTestingSynthesis, ValidationState,
};

pub const CONTRACT_FILE: &str = "validation-contract.md";
pub const FEATURES_FILE: &str = "features.json";
pub const MISSION_FILE: &str = "mission.md";
pub const STATE_FILE: &str = "state.json";
pub const VALIDATION_STATE_FILE: &str = "validation-state.json";
pub const WORKING_DIRECTORY_FILE: &str = "working_directory.txt";
pub const PROGRESS_LOG_FILE: &str = "progress_log.jsonl";
pub const TRANSCRIPTS_FILE: &str = "worker-transcripts.jsonl";
pub const HANDOFFS_DIR: &str = "handoffs";
/// The red-green proofs of handoffs, one file each, named as its handoff. Not inside the
/// handoff file: droid reads handoffs against its schema and promises nothing about keys it
/// does not know, while it ignores a folder it does not know.
pub const PROOFS_DIR: &str = "proofs";
/// droid's older single-file handoff log: read, never written.
pub const LEGACY_HANDOFFS_FILE: &str = "handoffs.jsonl";
pub const SKILLS_DIR: &str = "skills";
pub const VALIDATION_DIR: &str = "validation";
pub const EVIDENCE_DIR: &str = "evidence";
pub const SERVICES_FILE: &str = "services.yaml";
pub const MODEL_SETTINGS_FILE: &str = "model-settings.json";
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
            ReadError::TooLarge { bytes } => write!(
                f,
                "file is {} MiB, over the {} MiB limit",
                bytes / (1024 * 1024),
                MAX_FILE_BYTES / (1024 * 1024)
            ),
            ReadError::NotUtf8 { line, column } => {
                write!(f, "not valid UTF-8 (first bad byte at line {line}, byte column {column})")
            }
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

/// A mission folder holds features.json and validation-contract.md, or state.json with
/// mission.md or working_directory.txt (droid's first orchestrator turn writes only state.json
/// and working_directory.txt).
pub fn is_mission_folder(dir: &Path) -> bool {
    // `exists`, not `is_file`: a folder named features.json is a mission folder whose file
    // cannot be read, said as such.
    let has = |name: &str| dir.join(name).exists();
    (has(FEATURES_FILE) && has(CONTRACT_FILE))
        || (has(STATE_FILE) && (has(MISSION_FILE) || has(WORKING_DIRECTORY_FILE)))
}

/// The skill names a feature's `skillName` may use: the front-matter `name` of every
/// `SKILL.md` under `skills/` (any depth), normalised as droid does (lower case, characters
/// outside `a-z0-9-` become `-`); a SKILL.md without a name counts under its folder's name.
/// `None` when there is no skills folder. droid's built-in validator skills have no SKILL.md.
pub fn skill_names(dir: &Path) -> Option<Vec<String>> {
    let root = dir.join(SKILLS_DIR);
    if !root.is_dir() {
        return None;
    }
    let mut names: Vec<String> = skill_files(&root).into_iter().filter_map(|path| skill_name_of(&path)).collect();
    names.sort();
    names.dedup();
    Some(names)
}

/// The SKILL.md file whose skill is `name` (see [`skill_names`]).
pub fn skill_file(dir: &Path, name: &str) -> Option<PathBuf> {
    let wanted = normalize_skill_name(name);
    skill_files(&dir.join(SKILLS_DIR)).into_iter().find(|p| skill_name_of(p).as_deref() == Some(wanted.as_str()))
}

/// Every SKILL.md under `root`, sorted, symlinked folders not followed.
fn skill_files(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else { continue };
        for e in entries.filter_map(Result::ok) {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() && e.file_name() == "SKILL.md" => found.push(e.path()),
                _ => {}
            }
        }
    }
    found.sort();
    found
}

fn skill_name_of(path: &Path) -> Option<String> {
    let text = read_text(path).ok()?;
    let named = front_matter(&text).and_then(|fm| {
        fm.lines().find_map(|l| l.strip_prefix("name:")).map(|v| v.trim().trim_matches(['"', '\'']).to_string())
    });
    let name = named.filter(|n| !n.is_empty()).or_else(|| path.parent()?.file_name()?.to_str().map(str::to_string))?;
    Some(normalize_skill_name(&name))
}

/// droid's normalisation of a skill name.
pub fn normalize_skill_name(name: &str) -> String {
    name.trim()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' { c } else { '-' })
        .collect()
}

/// The YAML front matter of a Markdown file (between the first two `---` lines).
fn front_matter(text: &str) -> Option<&str> {
    let rest = text.trim_start_matches('\u{FEFF}').strip_prefix("---")?;
    let rest = rest.strip_prefix("\r\n").or_else(|| rest.strip_prefix('\n'))?;
    let end = rest.find("\n---")?;
    Some(&rest[..end])
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
    pub validation: ValidationRecords,
    /// Files that exist but could not be read or parsed, with the reason.
    pub errors: Vec<(PathBuf, String)>,
}

/// Reads the contract, the feature queue, the skill names and the validation records of `dir`.
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
    m.contract = contract;
    m.features = features;
    let (validation, errors) = read_validation(dir);
    m.validation = validation;
    m.errors.extend(errors);
    m
}

/// What the validators recorded: validation-state.json and, per milestone folder under
/// `validation/`, the latest syntheses, reviews and flows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValidationRecords {
    pub state: Option<ValidationState>,
    /// Sorted by folder name.
    pub milestones: Vec<MilestoneRecords>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct MilestoneRecords {
    /// The folder's name under `validation/` (the milestone as a path segment).
    pub folder: String,
    pub scrutiny: Option<ScrutinySynthesis>,
    pub user_testing: Option<UserTestingSynthesis>,
    /// Sorted by feature id.
    pub reviews: Vec<Review>,
    /// Sorted by group id.
    pub flows: Vec<Flow>,
}

impl ValidationRecords {
    /// The records of `milestone`.
    pub fn milestone(&self, milestone: &str) -> Option<&MilestoneRecords> {
        let folder = path_segment(milestone);
        self.milestones.iter().find(|m| m.folder == folder)
    }
}

/// Reads validation-state.json and every report under `validation/`; files that exist but do
/// not read are returned as errors, the rest is kept.
pub fn read_validation(dir: &Path) -> (ValidationRecords, Vec<(PathBuf, String)>) {
    let mut errors = Vec::new();
    let mut out = ValidationRecords {
        state: read_record::<ValidationState>(&dir.join(VALIDATION_STATE_FILE), "a validation state", &mut errors),
        milestones: Vec::new(),
    };
    let Ok(entries) = fs::read_dir(dir.join(VALIDATION_DIR)) else { return (out, errors) };
    let mut folders: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
        .collect();
    folders.sort();
    for (folder, path) in folders {
        let scrutiny_dir = path.join(ValidatorKind::Scrutiny.folder());
        let testing_dir = path.join(ValidatorKind::UserTesting.folder());
        let mut m = MilestoneRecords {
            folder,
            scrutiny: read_record(&scrutiny_dir.join("synthesis.json"), "a scrutiny synthesis", &mut errors),
            user_testing: read_record(&testing_dir.join("synthesis.json"), "a user-testing synthesis", &mut errors),
            reviews: read_records(&scrutiny_dir.join("reviews"), "a review", &mut errors),
            flows: read_records(&testing_dir.join("flows"), "a flow report", &mut errors),
        };
        m.reviews.sort_by(|a, b| a.feature_id.cmp(&b.feature_id));
        m.flows.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out.milestones.push(m);
    }
    (out, errors)
}

/// One JSON record; `None` when absent, and an error noted when it does not read.
fn read_record<T: for<'de> serde::Deserialize<'de>>(
    path: &Path,
    what: &str,
    errors: &mut Vec<(PathBuf, String)>,
) -> Option<T> {
    match read_optional(path) {
        Ok(Some(text)) => {
            let loaded: Loaded<T> = records::load(&text);
            if let Some(e) = loaded.error {
                errors.push((path.to_path_buf(), format!("not {what}: {e}")));
            }
            loaded.value
        }
        Ok(None) => None,
        Err(e) => {
            errors.push((path.to_path_buf(), e.to_string()));
            None
        }
    }
}

/// Every `*.json` record of a folder, in file-name order.
fn read_records<T: for<'de> serde::Deserialize<'de>>(
    dir: &Path,
    what: &str,
    errors: &mut Vec<(PathBuf, String)>,
) -> Vec<T> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
        .collect();
    paths.sort();
    paths.iter().filter_map(|p| read_record(p, what, errors)).collect()
}

/// A milestone name or an id as one path segment, as droid names its files: every run of
/// characters outside `[A-Za-z0-9._-]` becomes `_` (and `.`/`..` alone become `_`).
pub fn path_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            out.push(c);
        } else if !out.ends_with('_') || out.is_empty() {
            out.push('_');
        }
    }
    if out.is_empty() || out == "." || out == ".." {
        out = "_".into();
    }
    out
}

/// The file name droid gives a handoff: `<timestamp>__<featureId>__<workerSessionId>.json`,
/// with `:` and `.` of the timestamp as `-`.
pub fn handoff_file_name(timestamp: &str, feature_id: &str, session_id: &str) -> String {
    format!("{}__{}__{}.json", timestamp.replace([':', '.'], "-"), path_segment(feature_id), path_segment(session_id))
}

/// A handoff as found on disk.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundHandoff {
    /// Relative to the mission folder (`handoffs/<name>.json`, or `handoffs.jsonl` for the legacy log).
    pub path: String,
    pub file: HandoffFile,
    /// Its red-green proof (`proofs/<name>.json`), when the runner made one.
    pub proof: Option<Proof>,
}

/// Where the proof of a handoff lives.
pub fn proof_file(dir: &Path, handoff: &HandoffFile) -> PathBuf {
    dir.join(PROOFS_DIR).join(handoff_file_name(&handoff.timestamp, &handoff.feature_id, &handoff.worker_session_id))
}

/// The proof of a handoff, when there is one that reads.
pub fn read_proof(dir: &Path, handoff: &HandoffFile) -> Option<Proof> {
    read_record(&proof_file(dir, handoff), "a proof", &mut Vec::new())
}

/// Every handoff of the mission: `handoffs/*.json` in file-name order (so by time), then the
/// lines of a legacy `handoffs.jsonl`. A file being written or broken is skipped and noted.
pub fn read_handoffs(dir: &Path) -> (Vec<FoundHandoff>, Vec<(PathBuf, String)>) {
    let mut errors = Vec::new();
    let mut found = Vec::new();
    if let Ok(entries) = fs::read_dir(dir.join(HANDOFFS_DIR)) {
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
            .collect();
        names.sort();
        for name in names {
            let path = dir.join(HANDOFFS_DIR).join(&name);
            if let Some(mut file) = read_record::<HandoffFile>(&path, "a handoff", &mut errors) {
                // The wrapper names its feature and session; a file that lacks them is read by its name.
                let mut parts = name.trim_end_matches(".json").splitn(3, "__").skip(1);
                if file.feature_id.is_empty() {
                    file.feature_id = parts.next().unwrap_or_default().to_string();
                }
                let proof = read_record(&dir.join(PROOFS_DIR).join(&name), "a proof", &mut errors);
                found.push(FoundHandoff { path: format!("{HANDOFFS_DIR}/{name}"), file, proof });
            }
        }
    }
    if let Ok(bytes) = fs::read(dir.join(LEGACY_HANDOFFS_FILE)) {
        let (lines, bad) = records::parse_jsonl::<HandoffFile>(&bytes);
        found.extend(lines.into_iter().map(|file| FoundHandoff {
            path: LEGACY_HANDOFFS_FILE.to_string(),
            file,
            proof: None,
        }));
        errors.extend(bad.into_iter().map(|b| (dir.join(LEGACY_HANDOFFS_FILE), b)));
    }
    (found, errors)
}

/// Appends `questions` to mission.md's `## Questions` section (`questions::append`), atomically.
pub fn append_questions(dir: &Path, questions: &[String]) -> std::io::Result<()> {
    let path = dir.join(MISSION_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    super::persist::write_atomic(&path, super::questions::append(&text, questions).as_bytes())
}

/// The repository a mission works on, by one rule for every reader (the runner, `check`,
/// the editor's diagnostics, the report): the one the folder names, else the git work tree
/// holding the folder (the nearest folder above it with a `.git`), else the workspace holding
/// its `.missions/`. Relative as `dir` is, when the answer is found below it (`.` for the
/// current directory, never an empty path).
pub fn working_directory(dir: &Path) -> Option<PathBuf> {
    let found =
        named_working_directory(dir).or_else(|| enclosing_work_tree(dir)).or_else(|| missions_workspace(dir))?;
    Some(if found.as_os_str().is_empty() { PathBuf::from(".") } else { found })
}

/// The nearest folder holding `dir` with a `.git` (a directory, or a worktree's file): what
/// `git rev-parse --show-toplevel` finds, without running git.
fn enclosing_work_tree(dir: &Path) -> Option<PathBuf> {
    let found = |start: &Path| start.ancestors().find(|a| a.join(".git").exists()).map(Path::to_path_buf);
    found(dir).or_else(|| found(&std::path::absolute(dir).ok()?))
}

/// The folder holding `<workspace>/.missions/<slug>/`.
fn missions_workspace(dir: &Path) -> Option<PathBuf> {
    let parent = dir.parent()?;
    (parent.file_name()? == MISSIONS_DIR).then(|| parent.parent().map_or_else(PathBuf::new, Path::to_path_buf))
}

/// A file a diagnostic names (relative to the working directory, or absolute) as a path; `None`
/// for a relative one when there is no working directory.
pub fn source_file(working_directory: Option<&Path>, path: &str) -> Option<PathBuf> {
    match working_directory {
        Some(base) if base == Path::new(".") => Some(PathBuf::from(path)),
        Some(base) => Some(base.join(path)),
        None => Path::new(path).is_absolute().then(|| PathBuf::from(path)),
    }
}

/// The working directory the folder names: working_directory.txt (trimmed), else state.json's
/// `workingDirectory`.
pub fn named_working_directory(dir: &Path) -> Option<PathBuf> {
    let from_file = read_text(&dir.join(WORKING_DIRECTORY_FILE))
        .ok()
        .and_then(|text| text.lines().next().map(|l| l.trim().to_string()));
    let from_state = || read_state(dir).map(|s| s.working_directory.trim().to_string());
    from_file.filter(|l| !l.is_empty()).or_else(from_state).filter(|l| !l.is_empty()).map(PathBuf::from)
}

/// state.json, when it exists and reads.
pub fn read_state(dir: &Path) -> Option<MissionState> {
    let text = read_text(&dir.join(STATE_FILE)).ok()?;
    records::load::<MissionState>(&text).value
}

/// The mission's title: the first `# ` heading of mission.md.
pub fn mission_title(dir: &Path) -> Option<String> {
    title_of(&read_text(&dir.join(MISSION_FILE)).ok()?)
}

/// The text of the first level-one ATX heading of a Markdown text.
pub fn title_of(markdown: &str) -> Option<String> {
    let mut fenced = false;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
        }
        if fenced {
            continue;
        }
        if let Some(title) = line.trim_start_matches('\u{FEFF}').strip_prefix("# ") {
            let title = title.trim().trim_end_matches('#').trim();
            if !title.is_empty() {
                return Some(title.to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const DROID: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/droid");

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

    #[test]
    fn droids_first_turn_is_a_mission_folder() {
        let planning = Path::new(DROID).join("planning-state-only");
        assert!(is_mission_folder(&planning));
        assert_eq!(working_directory(&planning), Some(PathBuf::from("/home/user/project")));
        assert_eq!(find_mission_folders(Path::new(DROID)).len(), 4);
    }

    /// One rule for the runner, `check`, the editor and the report: the named directory, else
    /// the git work tree holding the folder, else the workspace holding `.missions/`.
    #[test]
    fn a_missions_working_directory() {
        let root = tempfile::tempdir().unwrap();
        let repo = root.path().join("repo");
        let in_repo = repo.join("sub/.missions/m");
        fs::create_dir_all(&in_repo).unwrap();
        fs::create_dir_all(repo.join(".git")).unwrap();
        assert_eq!(
            working_directory(&in_repo),
            Some(repo.clone()),
            "the repository, not the folder holding .missions/"
        );
        let loose = root.path().join("plain/.missions/m");
        fs::create_dir_all(&loose).unwrap();
        assert_eq!(working_directory(&loose), Some(root.path().join("plain")));
        fs::write(in_repo.join(WORKING_DIRECTORY_FILE), "/elsewhere/project\n").unwrap();
        assert_eq!(
            working_directory(&in_repo),
            Some(PathBuf::from("/elsewhere/project")),
            "what the folder names wins"
        );
        let nowhere = root.path().join("droid-session");
        fs::create_dir_all(&nowhere).unwrap();
        assert_eq!(working_directory(&nowhere), None);
        assert_eq!(source_file(None, "src/a.rs"), None);
        assert_eq!(source_file(None, "/abs/a.rs"), Some(PathBuf::from("/abs/a.rs")));
        assert_eq!(source_file(Some(Path::new("/r")), "src/a.rs"), Some(PathBuf::from("/r/src/a.rs")));
    }

    #[test]
    fn reads_a_droid_folder() {
        let dir = Path::new(DROID).join("all-event-types-paused");
        assert_eq!(mission_title(&dir).as_deref(), Some("Calc CLI"));
        assert_eq!(skill_names(&dir), Some(vec!["python-worker".to_string()]));
        let (handoffs, errors) = read_handoffs(&dir);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(handoffs.len(), 6);
        assert_eq!(
            (handoffs[1].file.feature_id.as_str(), handoffs[1].file.success_state.as_deref()),
            ("calc-add", Some("partial"))
        );
        let (records, errors) = read_validation(&dir);
        assert!(errors.is_empty(), "{errors:?}");
        let core = records.milestone("core").unwrap();
        assert_eq!(
            (core.scrutiny.as_ref().unwrap().status.as_str(), core.user_testing.as_ref().unwrap().status.as_str()),
            ("pass", "fail")
        );
        assert_eq!((core.reviews.len(), core.flows.len()), (1, 1));
        assert_eq!(records.state.unwrap().assertions.len(), 5);
    }

    #[test]
    fn skills_are_named_by_their_front_matter_at_any_depth() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("skills/backend/api");
        fs::create_dir_all(&deep).unwrap();
        fs::write(deep.join("SKILL.md"), "---\nname: Backend Worker\ndescription: x\n---\n# body\n").unwrap();
        let plain = dir.path().join("skills/plain");
        fs::create_dir_all(&plain).unwrap();
        fs::write(plain.join("SKILL.md"), "no front matter\n").unwrap();
        assert_eq!(skill_names(dir.path()), Some(vec!["backend-worker".to_string(), "plain".to_string()]));
        assert_eq!(skill_file(dir.path(), "backend-worker"), Some(deep.join("SKILL.md")));
    }

    #[test]
    fn handoff_names_follow_droid() {
        assert_eq!(
            handoff_file_name("2026-09-20T10:02:33.500Z", "calc-add", "2b3c"),
            "2026-09-20T10-02-33-500Z__calc-add__2b3c.json"
        );
        assert_eq!(handoff_file_name("t", "a b/../c", "s:1"), "t__a_b_.._c__s_1.json");
        assert_eq!(path_segment(".."), "_");
        assert_eq!(path_segment("Core API"), "Core_API");
    }

    #[test]
    fn titles_come_from_the_first_heading() {
        assert_eq!(
            title_of("intro\n```\n# not this\n```\n# Calc CLI\n\n## Plan\n# Later\n").as_deref(),
            Some("Calc CLI")
        );
        assert_eq!(title_of("## only level two\n"), None);
    }
}
