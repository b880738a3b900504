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
        return Err(GitError::Failed {
            args: args.join(" "),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
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
    let io =
        |e: std::io::Error| GitError::Failed { args: format!("(write {})", path.display()), message: e.to_string() };
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
/// (ignored files stay). The mission folder `keep` is never touched, tracked or not: its
/// files keep what the runner wrote (only its index entries go back to `commit`), so a
/// discard never rolls the mission's state back.
pub fn discard_changes(repo: &Path, commit: &str, keep: Option<&str>) -> Result<(), GitError> {
    git(repo, &["reset", "--soft", "--quiet", commit])?;
    let spec = outside(keep);
    let source = format!("--source={commit}");
    let mut restore = vec!["restore", &source, "--staged", "--worktree", "--"];
    restore.extend(spec.iter().map(String::as_str));
    git(repo, &restore)?;
    reset_index_of(repo, commit, keep)?;
    let mut clean = vec!["clean", "-fd", "--quiet"];
    if let Some(k) = keep {
        clean.extend(["-e", k]);
    }
    clean.push("--");
    clean.extend(spec.iter().map(String::as_str));
    git(repo, &clean).map(|_| ())
}

/// The mission folder relative to the repository, with a trailing `/`: by its real path, or
/// as named when a symlink takes it outside (git then sees the link inside the repository).
pub fn mission_in_repo(mission: &Path, repo: &Path) -> Option<String> {
    let real_repo = repo.canonicalize().unwrap_or_else(|_| repo.to_path_buf());
    let relative =
        |m: &Path, r: &Path| m.strip_prefix(r).ok().map(|p| format!("{}/", p.display())).filter(|p| p != "/");
    let by_real_path = mission.canonicalize().ok().and_then(|m| relative(&m, &real_repo));
    by_real_path.or_else(|| {
        std::path::absolute(mission).ok().and_then(|m| relative(&m, repo).or_else(|| relative(&m, &real_repo)))
    })
}

/// Whether a path git reports (relative to the repository) is the mission folder `mission_rel`,
/// inside it, or a folder or symlink holding it (`.missions` when it links elsewhere): such
/// paths are the mission's, never the person's dirt or a worker's leftovers.
pub fn belongs_to_mission(path: &str, mission_rel: Option<&str>) -> bool {
    let Some(mission) = mission_rel.map(|m| m.trim_end_matches('/')).filter(|m| !m.is_empty()) else { return false };
    let path = path.trim_end_matches('/');
    let below = |outer: &str, inner: &str| inner.strip_prefix(outer).is_some_and(|rest| rest.starts_with('/'));
    path == mission || below(mission, path) || below(path, mission)
}

/// The pathspec of everything but the mission folder `keep`.
fn outside(keep: Option<&str>) -> Vec<String> {
    let mut spec = vec![".".to_string()];
    if let Some(k) = keep {
        spec.push(format!(":(exclude){k}"));
    }
    spec
}

/// The mission folder's index entries back to `commit` (its files stay as they are).
fn reset_index_of(repo: &Path, commit: &str, keep: Option<&str>) -> Result<(), GitError> {
    match keep {
        Some(k) => git(repo, &["reset", "--quiet", commit, "--", k]).map(|_| ()),
        None => Ok(()),
    }
}

/// Where an interrupted worker's leftovers went (see [`set_aside`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SetAside {
    /// The stash commit holding its uncommitted changes (untracked files included).
    pub stash: Option<String>,
    /// The stash's message, to find it in `git stash list`.
    pub stash_message: Option<String>,
    /// The ref keeping the commits it made past its start commit.
    pub commits_ref: Option<String>,
}

impl SetAside {
    pub fn is_empty(&self) -> bool {
        self.stash.is_none() && self.commits_ref.is_none()
    }

    /// One sentence for the person: what was set aside, where, and how to get it back.
    pub fn describe(&self, feature: &str) -> String {
        let mut parts = Vec::new();
        if let (Some(stash), Some(message)) = (&self.stash, &self.stash_message) {
            let short = stash.get(..10).unwrap_or(stash);
            parts.push(format!("its uncommitted changes are in the stash {short} (\"{message}\" in `git stash list`; `git stash apply {short}` brings them back)"));
        }
        if let Some(r) = &self.commits_ref {
            parts.push(format!("its commits are kept under {r} (`git log {r}`)"));
        }
        format!("the work on the mission branch since {feature}'s interrupted worker started (its own, and anything made while the mission was stopped) was set aside, not deleted: {}", parts.join("; "))
    }
}

/// Clears what an interrupted worker left on the branch checked out, back to its start
/// commit `base`, without destroying anything: commits past `base` stay reachable under
/// `refs/missions/interrupted/<feature>-<n>`, uncommitted changes (untracked files included,
/// ignored ones untouched) go into a stash. The mission folder `keep` is never reset,
/// stashed or cleaned; only its index entries go back to `base`.
pub fn set_aside(repo: &Path, base: &str, keep: Option<&str>, feature: &str) -> Result<SetAside, GitError> {
    let mut out = SetAside::default();
    let head = head(repo)?;
    if head != base {
        let name: String = feature
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '-' })
            .collect();
        let name = name.trim_matches('.').to_string();
        let taken = |r: &str| git(repo, &["rev-parse", "--verify", "--quiet", r]).is_ok();
        let r = (1..).map(|n| format!("refs/missions/interrupted/{name}-{n}")).find(|r| !taken(r)).unwrap_or_default();
        git(repo, &["update-ref", &r, &head])?;
        git(repo, &["reset", "--soft", "--quiet", base])?;
        // The mission folder as the worker's commits staged it goes back to `base` in the
        // index only; its files keep what the runner wrote.
        reset_index_of(repo, base, keep)?;
        out.commits_ref = Some(r);
    }
    // The paths named one by one: a pathspec excluding an ignored mission folder makes
    // `git stash` refuse.
    let dirty: Vec<String> = changed_paths(repo)?
        .into_iter()
        .filter(|p| !belongs_to_mission(p, keep))
        .map(|p| format!(":(literal){p}"))
        .collect();
    if !dirty.is_empty() {
        let message = format!("missions: changes left by the interrupted worker on {feature}");
        let mut args = vec!["stash", "push", "--quiet", "--include-untracked", "-m", &message, "--"];
        args.extend(dirty.iter().map(String::as_str));
        git_with_identity(repo, &args)?;
        out.stash = Some(git(repo, &["rev-parse", "--verify", "--quiet", "refs/stash"])?);
        out.stash_message = Some(message);
    }
    Ok(out)
}

/// Every path with uncommitted changes, untracked files included and both sides of a rename,
/// exactly as git spells them (`-z`: no quoting).
fn changed_paths(repo: &Path) -> Result<Vec<String>, GitError> {
    let out = Command::new("git")
        .args(["status", "--porcelain=v1", "-z", "--untracked-files=all"])
        .current_dir(repo)
        .output()
        .map_err(|e| GitError::Spawn(e.to_string()))?;
    if !out.status.success() {
        return Err(GitError::Failed {
            args: "status --porcelain=v1 -z".into(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut fields = text.split('\0').filter(|f| !f.is_empty());
    let mut paths = Vec::new();
    while let Some(entry) = fields.next() {
        let Some(path) = entry.get(3..) else { continue };
        paths.push(path.to_string());
        if matches!(entry.as_bytes().first(), Some(b'R' | b'C')) {
            paths.extend(fields.next().map(str::to_string));
        }
    }
    Ok(paths)
}

/// `git ARGS` that makes a commit (a stash): with a stand-in identity when the person's git
/// has none configured, so setting work aside never fails on "Please tell me who you are".
fn git_with_identity(repo: &Path, args: &[&str]) -> Result<String, GitError> {
    if git(repo, &["var", "GIT_COMMITTER_IDENT"]).is_ok() && git(repo, &["var", "GIT_AUTHOR_IDENT"]).is_ok() {
        return git(repo, args);
    }
    let mut full = vec!["-c", "user.name=missions", "-c", "user.email=missions@localhost"];
    full.extend_from_slice(args);
    git(repo, &full)
}

/// The repository's common git directory (shared by its worktrees), absolute.
pub fn common_dir(repo: &Path) -> Result<PathBuf, GitError> {
    let out = git(repo, &["rev-parse", "--git-common-dir"])?;
    Ok(repo.join(out))
}

/// git's index lock of the working tree when it exists: another git command is running, or
/// one crashed and left it. Every commit of the run would fail on it.
pub fn index_lock(repo: &Path) -> Option<PathBuf> {
    let git_dir = git(repo, &["rev-parse", "--git-dir"]).ok()?;
    Some(repo.join(git_dir).join("index.lock")).filter(|p| p.exists())
}

/// git's lock files under the common git directory `git_dir` (`index.lock`, `HEAD.lock`,
/// `refs/**/*.lock`, `packed-refs.lock`, the worktrees' own) that a git process killed
/// together with its runner left behind: every later commit or branch move would fail on
/// them. A lock still there 2 s after it was written, with no `git` process working in `repo`
/// (Linux: /proc), is stale: a running git command holds its locks for milliseconds and keeps
/// them. Returns what it removed. Our own `missions-run.lock` is not git's and stays.
pub fn remove_stale_git_locks(git_dir: &Path, repo: &Path) -> Vec<PathBuf> {
    const SETTLED: std::time::Duration = std::time::Duration::from_secs(2);
    let locks = git_lock_files(git_dir);
    let youngest =
        locks.iter().filter_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok()?.elapsed().ok()).min();
    if let Some(age) = youngest.filter(|age| *age < SETTLED) {
        std::thread::sleep(SETTLED - age);
    }
    if git_running_in(repo) {
        return Vec::new();
    }
    locks.into_iter().filter(|p| std::fs::remove_file(p).is_ok()).collect()
}

/// The `*.lock` files where git keeps its locks: the top of `git_dir`, `refs/` and
/// `worktrees/<name>/`.
fn git_lock_files(git_dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![git_dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let top = dir == git_dir;
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else { continue };
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if kind.is_dir() && (!top || name == "refs" || name == "worktrees") {
                dirs.push(entry.path());
            } else if kind.is_file() && name.ends_with(".lock") && name != super::lock::REPOSITORY_LOCK_FILE {
                found.push(entry.path());
            }
        }
    }
    found
}

/// Whether a `git` process has its working directory in `repo` (Linux; elsewhere: no).
fn git_running_in(repo: &Path) -> bool {
    let repo = repo.canonicalize().unwrap_or_else(|_| repo.to_path_buf());
    let Ok(procs) = std::fs::read_dir("/proc") else { return false };
    procs.flatten().filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit())).any(|e| {
        let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        comm.trim() == "git" && std::fs::read_link(e.path().join("cwd")).is_ok_and(|cwd| cwd.starts_with(&repo))
    })
}

/// Runs git in `dir` as a test's author; returns its trimmed output, panics when it fails.
#[cfg(test)]
pub(crate) fn test_git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@x.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@x.invalid")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_locks_a_killed_run_left_are_removed_and_ours_kept() {
        let dir = repo();
        let git_dir = dir.path().join(".git");
        let left: Vec<PathBuf> =
            ["index.lock", "HEAD.lock", "refs/heads/missions/calc.lock"].iter().map(|p| git_dir.join(p)).collect();
        std::fs::create_dir_all(git_dir.join("refs/heads/missions")).unwrap();
        for lock in &left {
            std::fs::write(lock, "").unwrap();
        }
        let ours = git_dir.join(super::super::lock::REPOSITORY_LOCK_FILE);
        std::fs::write(&ours, "{}").unwrap();
        let mut removed = remove_stale_git_locks(&git_dir, dir.path());
        removed.sort();
        let mut expected = left.clone();
        expected.sort();
        assert_eq!(removed, expected);
        assert!(left.iter().all(|l| !l.exists()) && ours.exists());
        test_git(dir.path(), &["commit", "-q", "--allow-empty", "-m", "commits again"]);
    }

    #[test]
    fn the_mission_folder_its_contents_and_what_holds_it_belong_to_the_mission() {
        let m = Some(".missions/toy/");
        for path in [".missions/toy", ".missions/toy/", ".missions/toy/state.json", ".missions", ".missions/"] {
            assert!(belongs_to_mission(path, m), "{path}");
        }
        for path in [".missions/toy-2/state.json", ".missions/toy-2", "README.md", ".miss", "src/.missions/toy"] {
            assert!(!belongs_to_mission(path, m), "{path}");
        }
        assert!(!belongs_to_mission(".missions", None));
    }

    fn repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let run = |args: &[&str]| {
            super::test_git(dir.path(), args);
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

    #[test]
    fn a_discard_and_a_set_aside_never_touch_a_tracked_mission_folder() {
        let dir = repo();
        let d = dir.path();
        let g = |args: &[&str]| git(d, args).unwrap();
        std::fs::create_dir_all(d.join("m")).unwrap();
        std::fs::write(d.join("m/state.json"), "1").unwrap();
        g(&["-c", "user.name=t", "-c", "user.email=t@x.invalid", "add", "-f", "m"]);
        g(&["-c", "user.name=t", "-c", "user.email=t@x.invalid", "commit", "-qm", "mission"]);
        exclude(d, "/m/").unwrap();
        let base = head(d).unwrap();
        // A worker commit (with the mission folder in it), then more work left uncommitted.
        std::fs::write(d.join("a.txt"), "worker\n").unwrap();
        std::fs::write(d.join("m/state.json"), "2").unwrap();
        g(&["add", "-A"]);
        g(&["-c", "user.name=t", "-c", "user.email=t@x.invalid", "commit", "-qm", "worker"]);
        let worker = head(d).unwrap();
        std::fs::write(d.join("m/state.json"), "3").unwrap();
        std::fs::write(d.join("notes.txt"), "left\n").unwrap();
        std::fs::write(d.join("a.txt"), "more\n").unwrap();
        let saved = set_aside(d, &base, Some("m/"), "feat/x").unwrap();
        assert_eq!(head(d).unwrap(), base);
        assert_eq!(saved.commits_ref.as_deref(), Some("refs/missions/interrupted/feat-x-1"));
        assert_eq!(g(&["rev-parse", "refs/missions/interrupted/feat-x-1"]), worker);
        let stash = saved.stash.clone().unwrap();
        assert_eq!(g(&["show", &format!("{stash}^3:notes.txt")]), "left");
        assert_eq!(g(&["show", &format!("{stash}:a.txt")]), "more");
        assert_eq!(std::fs::read_to_string(d.join("m/state.json")).unwrap(), "3", "the mission folder keeps its state");
        assert_eq!(std::fs::read_to_string(d.join("a.txt")).unwrap(), "a\n");
        assert!(!d.join("notes.txt").exists());
        assert!(saved.describe("feat/x").contains("git stash apply"));
        // A second set-aside of the same feature gets the next ref; nothing to stash, no stash.
        std::fs::write(d.join("b.txt"), "b\n").unwrap();
        g(&["add", "b.txt"]);
        g(&["-c", "user.name=t", "-c", "user.email=t@x.invalid", "commit", "-qm", "again"]);
        let again = set_aside(d, &base, Some("m/"), "feat/x").unwrap();
        assert_eq!(again.commits_ref.as_deref(), Some("refs/missions/interrupted/feat-x-2"));
        // The commit's b.txt is staged after the soft reset: it goes into a stash too.
        assert!(again.stash.is_some());
        // A discard resets everything but the mission folder.
        std::fs::write(d.join("a.txt"), "gone\n").unwrap();
        std::fs::write(d.join("junk.txt"), "junk\n").unwrap();
        std::fs::write(d.join("m/state.json"), "4").unwrap();
        discard_changes(d, &base, Some("m/")).unwrap();
        assert_eq!(std::fs::read_to_string(d.join("a.txt")).unwrap(), "a\n");
        assert!(!d.join("junk.txt").exists());
        assert_eq!(std::fs::read_to_string(d.join("m/state.json")).unwrap(), "4");
        assert_eq!(dirty_paths(d).unwrap(), vec!["m/state.json".to_string()]);
    }
}
