//! Git worktrees of parallel workers (design §6: "up to `max_parallel_workers` at once, each
//! in its own git worktree, merged back in order"). A worktree lives under the repository's
//! git directory (`<git-common-dir>/missions-worktrees/<mission>/<feature>`): outside the
//! working tree, so never tracked nor seen by `git status`, and outside the mission folder,
//! which workers may read but never write. Its branch is `<mission branch>-wt/<feature>`
//! (`missions/<slug>/<feature>` cannot exist next to the branch `missions/<slug>`).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::git::{self, GitError};
use crate::agent::tools::bash::git_identity_configured;

/// The folder holding a mission's worktrees.
pub fn root(repo: &Path, mission_branch: &str) -> Result<PathBuf, GitError> {
    let common = git::git(repo, &["rev-parse", "--git-common-dir"])?;
    let common = repo.join(common);
    Ok(common.join("missions-worktrees").join(mission_branch.replace('/', "--")))
}

/// The branch of a feature's worktree.
pub fn branch(mission_branch: &str, feature: &str) -> String {
    format!("{mission_branch}-wt/{feature}")
}

/// A worktree of one feature, made from the mission branch's head.
#[derive(Debug, Clone, PartialEq)]
pub struct Worktree {
    pub path: PathBuf,
    pub branch: String,
}

/// Adds the worktree of `feature` on a fresh branch from `base` (whatever a killed run left
/// at that place is replaced).
pub fn add(repo: &Path, mission_branch: &str, feature: &str, base: &str) -> Result<Worktree, GitError> {
    let path = root(repo, mission_branch)?.join(feature);
    let branch = branch(mission_branch, feature);
    remove(repo, &Worktree { path: path.clone(), branch: branch.clone() });
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| GitError::Failed { args: format!("(mkdir {})", parent.display()), message: e.to_string() })?;
    }
    let p = path.to_string_lossy().into_owned();
    git::git(repo, &["worktree", "add", "--quiet", "-b", &branch, &p, base])?;
    let path = path.canonicalize().unwrap_or(path);
    Ok(Worktree { path, branch })
}

/// Removes a worktree, its folder and its branch; what is already gone is fine.
pub fn remove(repo: &Path, wt: &Worktree) {
    if wt.path.exists() {
        let _ = git::git(repo, &["worktree", "remove", "--force", "--force", &wt.path.to_string_lossy()]);
        let _ = std::fs::remove_dir_all(&wt.path);
    }
    let _ = git::git(repo, &["worktree", "prune"]);
    if git::branch_exists(repo, &wt.branch) {
        let _ = git::git(repo, &["branch", "-D", "--quiet", &wt.branch]);
    }
}

/// Removes every worktree and worktree branch of the mission a killed run left behind
/// (`git worktree prune`, the folders, the branches). Returns the features they were for.
pub fn remove_leftovers(repo: &Path, mission_branch: &str) -> Result<Vec<String>, GitError> {
    let root = root(repo, mission_branch)?;
    let mut features = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&root) {
        for e in entries.filter_map(Result::ok) {
            let feature = e.file_name().to_string_lossy().into_owned();
            remove(repo, &Worktree { path: e.path(), branch: branch(mission_branch, &feature) });
            features.push(feature);
        }
    }
    git::git(repo, &["worktree", "prune"])?;
    let prefix = format!("refs/heads/{}/", branch(mission_branch, "").trim_end_matches('/'));
    let refs = git::git(repo, &["for-each-ref", "--format=%(refname:short)", &prefix])?;
    for b in refs.lines().filter(|l| !l.is_empty()) {
        git::git(repo, &["branch", "-D", "--quiet", b])?;
        if let Some(f) = b.rsplit('/').next() {
            if !features.iter().any(|x| x == f) {
                features.push(f.to_string());
            }
        }
    }
    let _ = std::fs::remove_dir(&root);
    features.sort();
    Ok(features)
}

/// How merging a worktree's branch back went.
#[derive(Debug, Clone, PartialEq)]
pub enum Merge {
    /// The merge commit on the mission branch.
    Merged(String),
    /// The merge was aborted; these files conflicted.
    Conflict(Vec<String>),
}

/// Merges `branch` into the branch checked out in `repo` (`git merge --no-ff`); a conflict is
/// aborted, leaving the working tree as it was, and named.
pub fn merge(repo: &Path, branch: &str, message: &str) -> Result<Merge, GitError> {
    let mut cmd = Command::new("git");
    cmd.args(["merge", "--no-ff", "--no-edit", "--quiet", "-m", message, branch]).current_dir(repo);
    if !git_identity_configured(repo) {
        cmd.env("GIT_AUTHOR_NAME", "missions")
            .env("GIT_AUTHOR_EMAIL", "runner@missions.invalid")
            .env("GIT_COMMITTER_NAME", "missions")
            .env("GIT_COMMITTER_EMAIL", "runner@missions.invalid");
    }
    let out = cmd.output().map_err(|e| GitError::Spawn(e.to_string()))?;
    if out.status.success() {
        return git::head(repo).map(Merge::Merged);
    }
    let conflicted = git::git(repo, &["diff", "--name-only", "--diff-filter=U"]).unwrap_or_default();
    let files: Vec<String> = conflicted.lines().filter(|l| !l.is_empty()).map(str::to_string).collect();
    if git::git(repo, &["rev-parse", "--verify", "--quiet", "MERGE_HEAD"]).is_ok() {
        git::git(repo, &["merge", "--abort"])?;
    }
    if files.is_empty() {
        return Err(GitError::Failed {
            args: format!("merge --no-ff {branch}"),
            message: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(Merge::Conflict(files))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(dir: &Path, args: &[&str]) -> String {
        crate::runner::git::test_git(dir, args)
    }

    fn repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        run(dir.path(), &["init", "-q", "-b", "missions/demo"]);
        std::fs::write(dir.path().join("a.txt"), "one\ntwo\n").unwrap();
        run(dir.path(), &["add", "-A"]);
        run(dir.path(), &["commit", "-qm", "base"]);
        dir
    }

    fn commit_in(wt: &Path, file: &str, text: &str) {
        std::fs::write(wt.join(file), text).unwrap();
        run(wt, &["add", "-A"]);
        run(wt, &["commit", "-qm", file]);
    }

    #[test]
    fn worktrees_merge_back_in_order_and_a_conflict_is_aborted_and_named() {
        let dir = repo();
        let r = dir.path().canonicalize().unwrap();
        let base = git::head(&r).unwrap();
        let a = add(&r, "missions/demo", "feat-a", &base).unwrap();
        let b = add(&r, "missions/demo", "feat-b", &base).unwrap();
        let c = add(&r, "missions/demo", "feat-c", &base).unwrap();
        assert_eq!(
            git::dirty_paths(&r).unwrap(),
            Vec::<String>::new(),
            "worktrees are invisible to the working tree's status"
        );
        assert_eq!(a.branch, "missions/demo-wt/feat-a");
        commit_in(&a.path, "b.txt", "from a\n");
        commit_in(&b.path, "c.txt", "from b\n");
        commit_in(&c.path, "b.txt", "from c\n");
        assert!(matches!(merge(&r, &a.branch, "merge feat-a").unwrap(), Merge::Merged(_)));
        assert!(matches!(merge(&r, &b.branch, "merge feat-b").unwrap(), Merge::Merged(_)));
        assert_eq!(merge(&r, &c.branch, "merge feat-c").unwrap(), Merge::Conflict(vec!["b.txt".into()]));
        assert_eq!(git::dirty_paths(&r).unwrap(), Vec::<String>::new(), "the conflicting merge was aborted");
        assert_eq!(std::fs::read_to_string(r.join("b.txt")).unwrap(), "from a\n");
        assert_eq!(
            run(&r, &["log", "--first-parent", "--format=%s"]).lines().collect::<Vec<_>>(),
            ["merge feat-b", "merge feat-a", "base"]
        );
        remove(&r, &a);
        assert!(!a.path.exists() && !git::branch_exists(&r, &a.branch));
        // b and c are "left over" as after a crash.
        assert_eq!(remove_leftovers(&r, "missions/demo").unwrap(), vec!["feat-b".to_string(), "feat-c".to_string()]);
        assert!(!b.path.exists() && !c.path.exists());
        assert_eq!(run(&r, &["worktree", "list", "--porcelain"]).matches("worktree ").count(), 1);
        assert_eq!(run(&r, &["branch", "--format=%(refname:short)"]), "missions/demo");
    }
}
