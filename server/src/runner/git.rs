//! The git operations the runner needs, through the `git` command (the user's own git, with
//! their configuration and hooks), with errors that say which command failed.

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("`git {args}` failed: {message}")]
    Failed { args: String, message: String },
    #[error("cannot run git: {0}")]
    Spawn(String),
}

/// Runs `git ARGS` in `dir` and returns its trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> Result<String, GitError> {
    let out = Command::new("git").args(args).current_dir(dir).output().map_err(|e| GitError::Spawn(e.to_string()))?;
    if !out.status.success() {
        return Err(GitError::Failed { args: args.join(" "), message: String::from_utf8_lossy(&out.stderr).trim().to_string() });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
}

/// The top level of the repository holding `dir`, or `None` outside a repository.
pub fn toplevel(dir: &Path) -> Option<PathBuf> {
    git(dir, &["rev-parse", "--show-toplevel"]).ok().map(PathBuf::from)
}

/// Paths with uncommitted changes (tracked or untracked, ignored files excluded).
pub fn dirty_paths(repo: &Path) -> Result<Vec<String>, GitError> {
    let out = git(repo, &["status", "--porcelain=v1", "--untracked-files=all"])?;
    Ok(out.lines().filter(|l| l.len() > 3).map(|l| l[3..].to_string()).collect())
}

/// Adds `pattern` to the repository's info/exclude (once), so the mission folder never shows
/// up in `git status` or in workers' commits.
pub fn exclude(repo: &Path, pattern: &str) -> Result<(), GitError> {
    let path = git(repo, &["rev-parse", "--git-path", "info/exclude"])?;
    let path = repo.join(path);
    let io = |e: std::io::Error| GitError::Failed { args: format!("(write {})", path.display()), message: e.to_string() };
    let existing = std::fs::read_to_string(&path).unwrap_or_default();
    if existing.lines().any(|l| l.trim() == pattern) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let mut text = existing;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(pattern);
    text.push('\n');
    crate::model::persist::write_atomic(&path, text.as_bytes()).map_err(io)
}

/// The commit HEAD points at (full hash); an error in a repository without commits.
pub fn head(repo: &Path) -> Result<String, GitError> {
    git(repo, &["rev-parse", "--verify", "HEAD^{commit}"])
}

/// The branch checked out, `None` on a detached HEAD.
pub fn current_branch(repo: &Path) -> Option<String> {
    git(repo, &["symbolic-ref", "--quiet", "--short", "HEAD"]).ok()
}

pub fn branch_exists(repo: &Path, branch: &str) -> bool {
    git(repo, &["rev-parse", "--verify", "--quiet", &format!("refs/heads/{branch}")]).is_ok()
}

/// Commits reachable from HEAD but not from `base`, oldest first.
pub fn commits_since(repo: &Path, base: &str) -> Result<Vec<String>, GitError> {
    let out = git(repo, &["rev-list", "--reverse", &format!("{base}..HEAD")])?;
    Ok(out.lines().map(str::to_string).collect())
}

/// The full hash of a commit named by `rev`, `None` when it names no commit.
pub fn resolve_commit(repo: &Path, rev: &str) -> Option<String> {
    if rev.is_empty() || rev.starts_with('-') {
        return None;
    }
    git(repo, &["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")]).ok()
}

/// Whether the trees of `a` and `b` differ.
pub fn trees_differ(repo: &Path, a: &str, b: &str) -> Result<bool, GitError> {
    Ok(!git(repo, &["diff", "--name-only", a, b])?.is_empty())
}

/// Puts the working tree back to `commit`: tracked changes reset, untracked files removed
/// (ignored files, and so the excluded mission folder, stay; `keep` is excluded explicitly
/// too, for a mission folder that is not ignored).
pub fn discard_changes(repo: &Path, commit: &str, keep: Option<&str>) -> Result<(), GitError> {
    git(repo, &["reset", "--hard", "--quiet", commit])?;
    let mut args = vec!["clean", "-fd", "--quiet"];
    if let Some(k) = keep {
        args.extend(["-e", k]);
    }
    git(repo, &args).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let run = |args: &[&str]| {
            let ok = Command::new("git").args(args).current_dir(dir.path()).env("GIT_AUTHOR_NAME", "t").env("GIT_AUTHOR_EMAIL", "t@x.invalid").env("GIT_COMMITTER_NAME", "t").env("GIT_COMMITTER_EMAIL", "t@x.invalid").output().unwrap();
            assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
        };
        run(&["init", "-q", "-b", "main"]);
        std::fs::write(dir.path().join("a.txt"), "a\n").unwrap();
        run(&["add", "-A"]);
        run(&["commit", "-qm", "one"]);
        dir
    }

    #[test]
    fn commits_resolve_and_changes_are_discarded_back_to_a_commit() {
        let dir = repo();
        let base = head(dir.path()).unwrap();
        assert_eq!(current_branch(dir.path()).as_deref(), Some("main"));
        assert!(commits_since(dir.path(), &base).unwrap().is_empty());
        assert_eq!(resolve_commit(dir.path(), &base[..8]).as_deref(), Some(base.as_str()));
        assert_eq!(resolve_commit(dir.path(), "0000000000000000000000000000000000000000"), None);
        assert_eq!(resolve_commit(dir.path(), "--all"), None);
        std::fs::write(dir.path().join("a.txt"), "changed\n").unwrap();
        std::fs::create_dir_all(dir.path().join("keep")).unwrap();
        std::fs::write(dir.path().join("keep/state.json"), "{}").unwrap();
        std::fs::write(dir.path().join("new.txt"), "new\n").unwrap();
        assert_eq!(dirty_paths(dir.path()).unwrap().len(), 3);
        discard_changes(dir.path(), &base, Some("keep/")).unwrap();
        assert_eq!(dirty_paths(dir.path()).unwrap(), vec!["keep/state.json".to_string()]);
        assert!(!trees_differ(dir.path(), &base, "HEAD").unwrap());
    }
}
