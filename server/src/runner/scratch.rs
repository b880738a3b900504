//! Throwaway git worktrees, detached at a commit, for running commands on a commit other than
//! the working tree's (a feature's start commit for its red-green proof, the mission's base for
//! its `Check:` commands). They live under the repository's common git directory
//! (`missions-scratch/<purpose>/<pid>-<n>/`): never tracked, never in `git status`, never in
//! the mission folder. Dropping a [`Scratch`] removes its worktrees; one a killed process left
//! is removed by the next process that makes one for the same purpose.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::git::{self, GitError};

/// The worktrees of one job (one proof, one lint's checks).
#[derive(Debug)]
pub struct Scratch {
    repo: PathBuf,
    dir: PathBuf,
    made: Vec<PathBuf>,
}

static JOBS: AtomicU64 = AtomicU64::new(0);

impl Scratch {
    /// A new job's folder; leftovers of dead processes for `purpose` go first.
    pub fn new(repo: &Path, purpose: &str) -> Result<Scratch, GitError> {
        let root = git::common_dir(repo)?.join("missions-scratch").join(purpose);
        remove_leftovers(repo, &root);
        let dir = root.join(format!("{}-{}", std::process::id(), JOBS.fetch_add(1, Ordering::Relaxed)));
        std::fs::create_dir_all(&dir)
            .map_err(|e| GitError::Failed { args: format!("(mkdir {})", dir.display()), message: e.to_string() })?;
        Ok(Scratch { repo: repo.to_path_buf(), dir, made: Vec::new() })
    }

    /// A fresh worktree detached at `commit`.
    pub fn checkout(&mut self, commit: &str) -> Result<PathBuf, GitError> {
        // git names a worktree's records after its folder: unique across processes.
        let job = self.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let path = self.dir.join(format!("wt-{job}-{}", self.made.len()));
        git::git(&self.repo, &["worktree", "add", "--detach", "--quiet", &path.to_string_lossy(), commit])?;
        let path = path.canonicalize().unwrap_or(path);
        self.made.push(path.clone());
        Ok(path)
    }

    /// A folder of this job outside every worktree (for command logs).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Puts a worktree back to its commit: what a command changed or created goes (ignored files
/// too: a build cache a check left must not make the next check pass).
pub fn reset(worktree: &Path) -> Result<(), GitError> {
    git::git(worktree, &["reset", "--hard", "--quiet"])?;
    git::git(worktree, &["clean", "-ffdxq"]).map(|_| ())
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for wt in &self.made {
            let _ = git::git(&self.repo, &["worktree", "remove", "--force", "--force", &wt.to_string_lossy()]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = git::git(&self.repo, &["worktree", "prune"]);
    }
}

/// Job folders under `root` whose process is gone: removed, with git's records of them.
fn remove_leftovers(repo: &Path, root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    let mut removed = false;
    for e in entries.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name.split('-').next().and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| p != std::process::id() && !super::lock::is_runner_alive(p)) {
            let _ = std::fs::remove_dir_all(e.path());
            removed = true;
        }
    }
    if removed {
        let _ = git::git(repo, &["worktree", "prune"]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worktrees_are_detached_at_their_commit_and_gone_after_the_job() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let run = |args: &[&str]| {
            git::test_git(d, args);
        };
        run(&["init", "-q", "-b", "main"]);
        std::fs::write(d.join("a.txt"), "one\n").unwrap();
        run(&["add", "-A"]);
        run(&["commit", "-qm", "one"]);
        let first = git::head(d).unwrap();
        std::fs::write(d.join("a.txt"), "two\n").unwrap();
        run(&["commit", "-qam", "two"]);
        let wt = {
            let mut job = Scratch::new(d, "test").unwrap();
            let wt = job.checkout(&first).unwrap();
            assert_eq!(std::fs::read_to_string(wt.join("a.txt")).unwrap(), "one\n");
            assert_eq!(git::current_branch(&wt), None, "detached");
            std::fs::write(wt.join("a.txt"), "changed\n").unwrap();
            std::fs::write(wt.join("new.txt"), "new\n").unwrap();
            reset(&wt).unwrap();
            assert_eq!(std::fs::read_to_string(wt.join("a.txt")).unwrap(), "one\n");
            assert!(!wt.join("new.txt").exists());
            assert_eq!(git::dirty_paths(d).unwrap(), Vec::<String>::new(), "invisible to the working tree");
            wt
        };
        assert!(!wt.exists());
        assert_eq!(git::git(d, &["worktree", "list", "--porcelain"]).unwrap().matches("worktree ").count(), 1);
        assert_eq!(git::current_branch(d).as_deref(), Some("main"));
    }
}
