//! Gathers what drift is decided from (`analysis::drift`): the commits of the mission's branch
//! (one `git log`), the work of each handoff (its commit, and the commit its session started
//! from as the progress log's `worker_started` recorded it) and when each milestone's
//! user-testing validation handed off. Nothing is gathered for a mission without a passed
//! assertion: there is nothing to go stale.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::git;
use crate::analysis::drift::{CommitFacts, History, Work};
use crate::model::features::ValidatorKind;
use crate::model::folder::{self, ValidationRecords};
use crate::model::progress_log::Event;

/// Commits read when the mission's base is not recorded (a folder droid ran).
const UNBASED_COMMITS: usize = 2000;

/// The history of the mission at `mission`, or `None` when there is nothing that could be
/// stale or no git history to read.
pub fn history(mission: &Path, validation: &ValidationRecords) -> Option<History> {
    let passed = validation.state.as_ref().is_some_and(|s| s.assertions.values().any(|a| a.is_passed()));
    if !passed {
        return None;
    }
    let (handoffs, _) = folder::read_handoffs(mission);
    let claimed: Vec<(&str, &str, &str)> = handoffs
        .iter()
        .filter(|h| h.file.success_state.as_deref() != Some("failure"))
        .filter_map(|h| {
            Some((
                h.file.feature_id.as_str(),
                h.file.worker_session_id.as_str(),
                h.file.commit_id.as_deref().map(str::trim).filter(|c| c.len() >= 7)?,
            ))
        })
        .collect();
    if claimed.is_empty() {
        return None;
    }
    let repo = repository(mission)?;
    let state = super::state::StateStore::open(mission).ok();
    let base = state
        .as_ref()
        .and_then(|s| s.state.first_milestone_base().map(str::to_string))
        .filter(|c| git::resolve_commit(&repo, c).is_some());
    let tip = state
        .as_ref()
        .and_then(|s| s.branch())
        .filter(|b| git::branch_exists(&repo, b))
        .unwrap_or_else(|| "HEAD".to_string());
    let commits = log(&repo, &tip, base.as_deref())?;
    let full = |prefix: &str| commits.iter().rev().find(|c| c.id.starts_with(prefix)).map(|c| c.id.clone());
    let session_bases: HashMap<String, String> = super::events::read_all(mission)
        .iter()
        .filter_map(|e| match e.event() {
            Event::WorkerStarted(started) => Some((started.worker_session_id, started.base_commit?)),
            _ => None,
        })
        .collect();
    let work = claimed
        .iter()
        .filter_map(|(feature, session, commit)| {
            let base = session_bases.get(*session).map(|b| full(b).unwrap_or_else(|| b.clone()));
            Some(Work { feature: feature.to_string(), base, commit: full(commit)? })
        })
        .collect();
    let mut validated_at: HashMap<String, String> = HashMap::new();
    for h in handoffs.iter().filter(|h| h.file.success_state.as_deref() == Some("success")) {
        let Some(milestone) = h.file.feature_id.strip_prefix(&ValidatorKind::UserTesting.feature_id("")) else {
            continue;
        };
        let time: String = h.file.timestamp.chars().take(19).collect();
        let entry = validated_at.entry(milestone.to_string()).or_default();
        if time > *entry {
            *entry = time;
        }
    }
    Some(History { commits, work, validated_at })
}

/// The passed assertions of the mission at `mission` that later commits made stale, read from
/// its files and git (for `missions status` and `missions report`).
pub fn stale(mission: &Path) -> Vec<crate::analysis::drift::Stale> {
    let (validation, _) = folder::read_validation(mission);
    let Some(history) = history(mission, &validation) else { return Vec::new() };
    let texts = folder::read_mission(mission);
    let (Some(contract), Some(features)) = (
        texts.contract.as_deref().map(crate::model::contract::parse),
        texts.features.as_deref().map(crate::model::features::parse),
    ) else {
        return Vec::new();
    };
    crate::analysis::drift::stale_assertions(&history, &contract, &features, validation.state.as_ref())
}

/// The repository the mission works on (`folder::working_directory`), when it is here: a
/// folder that names a working directory which is not there (copied from another machine)
/// has no history here.
pub(crate) fn repository(mission: &Path) -> Option<PathBuf> {
    folder::working_directory(mission).filter(|dir| dir.is_dir())
}

/// The commits of `tip` after `base` (the last [`UNBASED_COMMITS`] without one), oldest first,
/// with their changed files; `None` when git cannot read them.
fn log(repo: &Path, tip: &str, base: Option<&str>) -> Option<Vec<CommitFacts>> {
    let range = match base {
        Some(b) => format!("{b}..{tip}"),
        None => tip.to_string(),
    };
    let limit = format!("--max-count={UNBASED_COMMITS}");
    let mut args = vec![
        "-c",
        "core.quotepath=off",
        "log",
        "--reverse",
        "--format=%x1e%H%x1f%P%x1f%cd%x1f%s",
        "--date=format-local:%Y-%m-%dT%H:%M:%S",
        "--name-only",
        "--no-renames",
    ];
    if base.is_none() {
        args.push(&limit);
    }
    args.push(&range);
    args.push("--");
    let out = Command::new("git").args(&args).current_dir(repo).env("TZ", "UTC").output().ok()?;
    if !out.status.success() {
        tracing::debug!(
            "git log for drift failed in {}: {}",
            repo.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return None;
    }
    Some(parse_log(&String::from_utf8_lossy(&out.stdout)))
}

/// Parses the records of [`log`]'s format: `\x1e` hash `\x1f` parents `\x1f` time `\x1f` subject,
/// then one changed file a line.
fn parse_log(text: &str) -> Vec<CommitFacts> {
    text.split('\x1e')
        .filter(|r| !r.trim().is_empty())
        .filter_map(|record| {
            let mut lines = record.lines();
            let head: Vec<&str> = lines.next()?.split('\x1f').collect();
            let [id, parents, time, subject] = head.as_slice() else { return None };
            Some(CommitFacts {
                id: id.to_string(),
                parents: parents.split_whitespace().map(str::to_string).collect(),
                time: time.to_string(),
                subject: subject.to_string(),
                files: lines.filter(|l| !l.is_empty()).map(str::to_string).collect(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_format_parses_with_merges_and_odd_names() {
        let text = "\x1eaaa\x1f\x1f2026-01-01T10:00:00\x1ffirst: a|b\n\nops/add.sh\nnotes/日本.md\n\x1ebbb\x1faaa ccc\x1f2026-01-01T10:01:00\x1fmerge feat-x\n\x1eddd\x1fbbb\x1f2026-01-01T10:02:00\x1f\n\nx y.txt\n";
        let commits = parse_log(text);
        assert_eq!(commits.len(), 3);
        assert_eq!(
            (commits[0].id.as_str(), commits[0].subject.as_str(), commits[0].files.clone()),
            ("aaa", "first: a|b", vec!["ops/add.sh".to_string(), "notes/日本.md".to_string()])
        );
        assert_eq!(
            (commits[1].parents.clone(), commits[1].files.len()),
            (vec!["aaa".to_string(), "ccc".to_string()], 0)
        );
        assert_eq!((commits[2].subject.as_str(), commits[2].files.clone()), ("", vec!["x y.txt".to_string()]));
    }
}
