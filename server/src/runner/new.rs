//! `missions new`: a mission folder under `<workspace>/.missions/<slug>/` with mission.md
//! (`# <title>` and the goal), state.json (droid's, state `planning`) and
//! working_directory.txt, excluded from git.

use std::path::{Path, PathBuf};

use crate::model::folder::{MISSIONS_DIR, MISSION_FILE, STATE_FILE, WORKING_DIRECTORY_FILE};
use crate::model::persist::{write_atomic, write_json_atomic};
use crate::model::progress_log::Event;
use crate::model::records::MissionState;

use super::{events, git};

#[derive(Debug, thiserror::Error)]
pub enum NewError {
    #[error("the goal is empty: say what the mission should achieve")]
    EmptyGoal,
    /// The goal has text but not one letter or digit to name a folder after.
    #[error("cannot make a folder name from the goal; pass --name")]
    GoalWithoutName,
    #[error("`--name` must contain a letter or digit")]
    EmptyName,
    /// `--name` names a mission that exists: a new mission never takes another's folder,
    /// and a name asked for is not quietly changed.
    #[error("a mission named `{name}` exists already ({}); choose another --name, or work on that one (`missions run {}`)", .dir.display(), .dir.display())]
    NameTaken { name: String, dir: PathBuf },
    #[error("{0} is not inside a git repository: missions work on a repository (run `git init` first)")]
    NotInRepository(PathBuf),
    #[error("cannot write the mission folder {path}: {message}")]
    Write { path: PathBuf, message: String },
    #[error(transparent)]
    Git(#[from] git::GitError),
}

#[derive(Debug)]
pub struct NewMission {
    pub dir: PathBuf,
    pub title: String,
    pub state: MissionState,
    /// The name made from the goal, when a mission had it already (this one got `<name>-2`…).
    pub name_taken: Option<String>,
}

/// Lower case; runs of anything but letters and digits (any script: `日本語`, `café`)
/// become one `-` (design §2). The result is a folder name and a git branch component:
/// only letters, digits and inner `-`, so no path separator, no leading dot, no control
/// character and nothing `git check-ref-format` refuses (`..`, `~^:?*[\`, spaces, `@{`,
/// a `.lock` ending).
pub fn slugify(s: &str) -> String {
    let mut slug = String::new();
    for c in s.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    // Keep folder names readable: cut at a word boundary near 48 characters.
    match slug.char_indices().nth(48) {
        Some((cut, _)) => slug[..cut].rsplit_once('-').map_or(&slug[..cut], |(head, _)| head).to_string(),
        None => slug.to_string(),
    }
}

pub fn create(cwd: &Path, goal: &str, name: Option<&str>) -> Result<NewMission, NewError> {
    let goal = goal.trim();
    if goal.is_empty() {
        return Err(NewError::EmptyGoal);
    }
    let repo = git::toplevel(cwd).ok_or_else(|| NewError::NotInRepository(cwd.to_path_buf()))?;
    let title = title_of(goal);
    let base = slugify(name.unwrap_or(&title));
    if base.is_empty() {
        return Err(if name.is_some() { NewError::EmptyName } else { NewError::GoalWithoutName });
    }
    let missions = repo.join(MISSIONS_DIR);
    let write_err =
        |path: &Path, e: std::io::Error| NewError::Write { path: path.to_path_buf(), message: e.to_string() };
    std::fs::create_dir_all(&missions).map_err(|e| write_err(&missions, e))?;
    // `create_dir` (not `_all`) claims the name atomically, so two `new`s never share a folder;
    // only "already exists" moves on to the next name.
    let mut n = 1;
    let (slug, dir) = loop {
        let slug = if n == 1 { base.clone() } else { format!("{base}-{n}") };
        let dir = missions.join(&slug);
        match std::fs::create_dir(&dir) {
            Ok(()) => break (slug, dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && name.is_some() => {
                let shown = dir.strip_prefix(cwd).map_or(dir.clone(), Path::to_path_buf);
                return Err(NewError::NameTaken { name: base, dir: shown });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => return Err(write_err(&dir, e)),
        }
    };
    git::exclude(&repo, &format!("/{MISSIONS_DIR}/{slug}/"))?;

    let state = super::state::fresh_state(&repo);
    let mission_md = format!("# {title}\n\n{goal}\n");
    write_atomic(&dir.join(MISSION_FILE), mission_md.as_bytes()).map_err(|e| write_err(&dir, e))?;
    // As droid writes it: the absolute path, no trailing newline.
    write_atomic(&dir.join(WORKING_DIRECTORY_FILE), repo.display().to_string().as_bytes())
        .map_err(|e| write_err(&dir, e))?;
    write_json_atomic(&dir.join(STATE_FILE), &state).map_err(|e| write_err(&dir, e))?;
    let created =
        Event::MissionCreated { mission_id: state.mission_id.clone(), title: title.clone(), slug: slug.clone() };
    events::log(&dir, &created).map_err(|e| write_err(&dir, e))?;
    Ok(NewMission { dir, title, state, name_taken: (n > 1).then_some(base) })
}

/// The first line of the goal, shortened to a title.
fn title_of(goal: &str) -> String {
    let first = goal.lines().find(|l| !l.trim().is_empty()).unwrap_or(goal).trim().trim_start_matches('#').trim();
    match first.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", first[..cut].trim_end()),
        None => first.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slugify("Slack clone: Auth & Chat!"), "slack-clone-auth-chat");
        assert_eq!(slugify("  --Über   Café--  "), "über-café");
        assert_eq!(slugify("Ünïcode café"), "ünïcode-café");
        assert_eq!(slugify("日本語のミッション"), "日本語のミッション");
        assert_eq!(slugify("Ελληνικά: δοκιμή"), "ελληνικά-δοκιμή");
        assert_eq!(slugify("??? !!! ..."), "");
        // Nothing a path or a git ref refuses survives.
        let nasty = slugify("../.hidden/a\\b c~d^e:f?g*h[i@{j}\u{7f}k\u{1}l.lock\tm\u{3000}n");
        assert_eq!(nasty, "hidden-a-b-c-d-e-f-g-h-i-j-k-l-lock-m-n");
        for s in [slugify("日本語のミッション"), slugify("Ünïcode café"), nasty] {
            assert!(
                s.chars().all(|c| c.is_alphanumeric() || c == '-') && !s.starts_with(['-', '.']) && !s.ends_with('-'),
                "{s}"
            );
            let ok = std::process::Command::new("git")
                .args(["check-ref-format", "--branch", &format!("missions/{s}")])
                .output()
                .map(|o| o.status.success());
            assert!(ok.unwrap_or(true), "git refuses {s}");
        }
        let long = slugify(&"日本語 ".repeat(30));
        assert!(long.chars().count() <= 48 && !long.ends_with('-'), "{long}");
        let long = slugify(&"word ".repeat(30));
        assert!(long.len() <= 48 && !long.ends_with('-'), "{long}");
    }

    #[test]
    fn titles() {
        assert_eq!(title_of("\n# Build a link shortener\nwith auth"), "Build a link shortener");
        assert!(title_of(&"x".repeat(200)).ends_with('…'));
    }

    #[test]
    fn a_goal_with_no_letter_or_digit_asks_for_a_name() {
        let dir = tempfile::tempdir().unwrap();
        let ok =
            std::process::Command::new("git").args(["init", "-q"]).current_dir(dir.path()).status().unwrap().success();
        assert!(ok);
        let e = create(dir.path(), "??? !!!", None).unwrap_err();
        assert_eq!(e.to_string(), "cannot make a folder name from the goal; pass --name");
        assert!(matches!(create(dir.path(), "   ", None), Err(NewError::EmptyGoal)));
        let m = create(dir.path(), "日本語のミッション", None).unwrap();
        assert!(m.dir.ends_with(".missions/日本語のミッション"), "{}", m.dir.display());
    }
}
