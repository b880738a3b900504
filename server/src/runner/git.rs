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
