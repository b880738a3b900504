//! Verified completion (design §6): a handoff that says `completed` is accepted only when the
//! session really committed work. Facts come from git, never from the handoff's own words.

use std::path::{Component, Path};

use super::git;
use crate::model::records::HandoffFile;

/// Checks a `success` handoff against the repository: at least one commit since `base` with a
/// non-empty diff, `commitId` among those commits, the test files of `tests.added` present,
/// and nothing left uncommitted (outside the mission folder `mission_rel`). `Ok` holds the
/// full commit id; `Err` the reason, written for the worker to act on.
pub fn verify_completion(
    repo: &Path,
    base: &str,
    handoff: &HandoffFile,
    mission_rel: Option<&str>,
) -> Result<String, String> {
    let commits =
        git::commits_since(repo, base).map_err(|e| format!("cannot list the commits of this session: {e}"))?;
    if commits.is_empty() {
        return Err(format!("no commit was made in this session (HEAD is still {}); commit your work (`git add` + `git commit`) before handing off", short(base)));
    }
    if !git::trees_differ(repo, base, "HEAD").map_err(|e| e.to_string())? {
        return Err("the commits of this session change nothing (their diff is empty); commit the actual work".into());
    }
    let claimed = handoff.commit_id.as_deref().unwrap_or("").trim();
    if claimed.is_empty() {
        return Err("`commitId` is missing: give the commit holding the work (`git rev-parse HEAD`)".into());
    }
    let commit = git::resolve_commit(repo, claimed).ok_or_else(|| {
        format!("`commitId` {claimed} is not a commit in this repository; give the real one (`git rev-parse HEAD`)")
    })?;
    if !commits.contains(&commit) {
        return Err(format!(
            "`commitId` {claimed} was not made in this session (the session's commits are {}); give one of them",
            commits.iter().map(|c| short(c)).collect::<Vec<_>>().join(", ")
        ));
    }
    let missing: Vec<&str> = handoff.handoff.test_files().filter(|t| !is_inside_file(repo, t)).collect();
    if !missing.is_empty() {
        return Err(format!("the test files named in `tests.added` do not exist: {}", missing.join(", ")));
    }
    let dirty: Vec<String> = git::dirty_paths(repo)
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|p| !super::git::belongs_to_mission(p, mission_rel))
        .collect();
    if !dirty.is_empty() {
        return Err(format!(
            "uncommitted changes are left in the working tree: {}; commit them or remove them",
            dirty.join(", ")
        ));
    }
    Ok(commit)
}

/// A relative path without `..` naming an existing file under `repo`.
fn is_inside_file(repo: &Path, path: &str) -> bool {
    let p = Path::new(path);
    !p.is_absolute()
        && p.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        && repo.join(p).is_file()
}

fn short(commit: &str) -> &str {
    commit.get(..10).unwrap_or(commit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git_ok(dir: &Path, args: &[&str]) -> String {
        crate::runner::git::test_git(dir, args)
    }

    #[test]
    fn each_false_claim_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        git_ok(d, &["init", "-q"]);
        std::fs::write(d.join("a.sh"), "echo a\n").unwrap();
        git_ok(d, &["add", "-A"]);
        git_ok(d, &["commit", "-qm", "base"]);
        let base = git::head(d).unwrap();
        let tests = |files: &[&str]| crate::model::records::Tests {
            added: files
                .iter()
                .map(|f| crate::model::records::TestFile { file: f.to_string(), cases: Vec::new() })
                .collect(),
            ..Default::default()
        };
        let mut h = HandoffFile { commit_id: Some(base.clone()), ..Default::default() };
        h.handoff.tests = tests(&["t.sh"]);
        assert!(verify_completion(d, &base, &h, None).unwrap_err().contains("no commit was made"));
        git_ok(d, &["commit", "-q", "--allow-empty", "-m", "empty"]);
        assert!(verify_completion(d, &base, &h, None).unwrap_err().contains("change nothing"));
        std::fs::write(d.join("t.sh"), "test\n").unwrap();
        git_ok(d, &["add", "-A"]);
        git_ok(d, &["commit", "-qm", "work"]);
        let work = git::head(d).unwrap();
        assert!(verify_completion(d, &base, &h, None).unwrap_err().contains("was not made in this session"));
        h.commit_id = Some("1234567890123456789012345678901234567890".into());
        assert!(verify_completion(d, &base, &h, None).unwrap_err().contains("is not a commit"));
        h.commit_id = Some(work[..12].to_string());
        h.handoff.tests = tests(&["t.sh", "../etc/passwd", "missing.sh"]);
        assert!(verify_completion(d, &base, &h, None).unwrap_err().contains("../etc/passwd, missing.sh"));
        h.handoff.tests = tests(&["t.sh"]);
        std::fs::write(d.join("stray.txt"), "x").unwrap();
        assert!(verify_completion(d, &base, &h, None).unwrap_err().contains("stray.txt"));
        // The mission folder's own files are not the worker's to commit.
        std::fs::remove_file(d.join("stray.txt")).unwrap();
        std::fs::create_dir(d.join("mission")).unwrap();
        std::fs::write(d.join("mission/state.json"), "{}").unwrap();
        assert!(verify_completion(d, &base, &h, None).unwrap_err().contains("mission/state.json"));
        assert_eq!(verify_completion(d, &base, &h, Some("mission/")), Ok(work));
    }
}
