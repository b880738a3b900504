//! Drift: an assertion that passed is *stale* once a later commit of the mission changes a file
//! that the work of the feature fulfilling it changed (or a file its `Evidence:` names with
//! `file(…)`). Decided from git history alone, which `runner/drift.rs` gathers into a
//! [`History`]; pure. `missions check`, the editor, `missions status` and the runner (which
//! validates stale assertions again in the next round) all ask [`stale_assertions`].

use std::collections::{HashMap, HashSet};

use crate::model::records::ValidationState;
use crate::model::{Contract, FeaturesFile};

/// What git and the mission's records say about the work.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// The commits of the mission's branch after its base, oldest first (merge commits list no
    /// files: the commits they bring in do).
    pub commits: Vec<CommitFacts>,
    /// The worker sessions that handed off work: their feature, the commit the session started
    /// from (when the progress log recorded it) and the commit its handoff names, all in full.
    pub work: Vec<Work>,
    /// Per milestone, when its latest user-testing validation handed off
    /// (`YYYY-MM-DDTHH:MM:SS`, UTC): the validation point of folders whose
    /// validation-state.json has no `validatedAtCommit` (droid's).
    pub validated_at: HashMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommitFacts {
    pub id: String,
    pub parents: Vec<String>,
    /// Committer time, `YYYY-MM-DDTHH:MM:SS` UTC (compares as text with handoff timestamps).
    pub time: String,
    pub subject: String,
    pub files: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Work {
    pub feature: String,
    pub base: Option<String>,
    pub commit: String,
}

/// A passed assertion that later work may have broken.
#[derive(Debug, Clone, PartialEq)]
pub struct Stale {
    pub assertion: String,
    /// The feature fulfilling it.
    pub feature: String,
    pub milestone: Option<String>,
    /// The first later commit that changed the feature's files.
    pub commit: String,
    pub subject: String,
    /// The files of the feature that commit changed, sorted.
    pub files: Vec<String>,
}

impl Stale {
    /// `VAL-X passed, but commit … later changed …`: for diagnostics and the runner's log.
    pub fn describe(&self) -> String {
        const SHOWN: usize = 5;
        let mut files = self.files.iter().take(SHOWN).map(String::as_str).collect::<Vec<_>>().join(", ");
        if self.files.len() > SHOWN {
            files.push_str(&format!(" and {} more", self.files.len() - SHOWN));
        }
        let again = match &self.milestone {
            Some(m) => format!("milestone `{m}` or the next round validates it again"),
            None => "a validation round checks it again".to_string(),
        };
        format!("`{}` passed, but commit {} (\"{}\") later changed {files}, which `{}`'s work changed: it is stale until {again}", self.assertion, short(&self.commit), self.subject, self.feature)
    }
}

/// Every passed assertion that a later commit made stale, in the contract's order.
pub fn stale_assertions(
    history: &History,
    contract: &Contract,
    features: &FeaturesFile,
    validation: Option<&ValidationState>,
) -> Vec<Stale> {
    let Some(state) = validation else { return Vec::new() };
    if history.commits.is_empty() || history.work.is_empty() {
        return Vec::new();
    }
    let graph = Graph::new(&history.commits);
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for a in &contract.assertions {
        let id = a.id.value.as_str();
        if !seen.insert(id) || !state.assertions.get(id).is_some_and(|s| s.is_passed()) {
            continue;
        }
        let Some(feature) =
            features.features.iter().find(|f| !f.is_cancelled() && f.claims().iter().any(|c| c.value == id))
        else {
            continue;
        };
        let Some(feature_id) = feature.id() else { continue };
        let work: Vec<&Work> = history.work.iter().filter(|w| w.feature == feature_id).collect();
        let mut own: HashSet<usize> = HashSet::new();
        let mut last_work = None;
        for w in &work {
            let Some(&tip) = graph.index.get(w.commit.as_str()) else { continue };
            last_work = last_work.max(Some(tip));
            match w.base.as_deref() {
                Some(base) => {
                    let before = graph.index.get(base).map(|&b| graph.ancestors(b)).unwrap_or_default();
                    own.extend(graph.ancestors(tip).into_iter().filter(|c| !before.contains(c)));
                }
                None => {
                    own.insert(tip);
                }
            }
        }
        let Some(last_work) = last_work else { continue };
        let mut files: HashSet<&str> =
            own.iter().flat_map(|&c| history.commits[c].files.iter().map(String::as_str)).collect();
        files.extend(a.evidence.iter().flat_map(|e| e.value.iter()).filter_map(|item| evidence_file(item)));
        if files.is_empty() {
            continue;
        }
        let entry = &state.assertions[id];
        let earlier: HashSet<usize> = match entry.validated_at_commit.as_deref() {
            Some(v) => graph.index.get(v).map(|&v| graph.ancestors(v)).unwrap_or_default(),
            None => graph.ancestors(last_work),
        };
        let validated_time = match (&entry.validated_at_commit, feature.milestone()) {
            (None, Some(m)) => history.validated_at.get(m).map(String::as_str),
            _ => None,
        };
        let later = (0..history.commits.len())
            .filter(|c| !earlier.contains(c) && !own.contains(c))
            .filter(|&c| validated_time.is_none_or(|t| history.commits[c].time.as_str() > t));
        for c in later {
            let commit = &history.commits[c];
            let mut hit: Vec<String> = commit.files.iter().filter(|f| files.contains(f.as_str())).cloned().collect();
            if hit.is_empty() {
                continue;
            }
            hit.sort();
            out.push(Stale {
                assertion: id.to_string(),
                feature: feature_id.to_string(),
                milestone: feature.milestone().map(str::to_string),
                commit: commit.id.clone(),
                subject: commit.subject.clone(),
                files: hit,
            });
            break;
        }
    }
    out
}

/// The path of an `Evidence:` item `file(<path>)`.
fn evidence_file(item: &str) -> Option<&str> {
    let path = item.trim().strip_prefix("file(")?.strip_suffix(')')?.trim();
    (!path.is_empty()).then_some(path)
}

fn short(commit: &str) -> &str {
    commit.get(..10).unwrap_or(commit)
}

/// The commit graph, by index into the commits.
struct Graph {
    index: HashMap<String, usize>,
    parents: Vec<Vec<usize>>,
}

impl Graph {
    fn new(commits: &[CommitFacts]) -> Graph {
        let index: HashMap<String, usize> = commits.iter().enumerate().map(|(i, c)| (c.id.clone(), i)).collect();
        let parents =
            commits.iter().map(|c| c.parents.iter().filter_map(|p| index.get(p).copied()).collect()).collect();
        Graph { index, parents }
    }

    /// `start` and every commit of the graph it reaches.
    fn ancestors(&self, start: usize) -> HashSet<usize> {
        let mut seen = HashSet::from([start]);
        let mut stack = vec![start];
        while let Some(c) = stack.pop() {
            for &p in &self.parents[c] {
                if seen.insert(p) {
                    stack.push(p);
                }
            }
        }
        seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{contract, features, records};

    fn commit(id: &str, parents: &[&str], time: &str, files: &[&str]) -> CommitFacts {
        CommitFacts {
            id: id.into(),
            parents: parents.iter().map(|p| p.to_string()).collect(),
            time: time.into(),
            subject: format!("commit {id}"),
            files: files.iter().map(|f| f.to_string()).collect(),
        }
    }

    const CONTRACT: &str = "### VAL-A-001: add\nEvidence: output\n\n### VAL-A-002: sub\nEvidence: file(docs/sub.md)\n\n### VAL-A-003: mul\n";
    const FEATURES: &str = r#"{"features": [{"id": "feat-add", "milestone": "one", "status": "completed", "fulfills": ["VAL-A-001"]}, {"id": "feat-sub", "milestone": "one", "status": "completed", "fulfills": ["VAL-A-002"]}, {"id": "feat-mul", "milestone": "two", "status": "completed", "fulfills": ["VAL-A-003"]}]}"#;

    fn history() -> History {
        History {
            commits: vec![
                commit("a1", &["base"], "2026-01-01T10:00:00", &["ops/add.sh", "tests/test_add.sh"]),
                commit("a2", &["a1"], "2026-01-01T10:01:00", &["ops/add.sh"]),
                commit("s1", &["a2"], "2026-01-01T10:02:00", &["ops/sub.sh"]),
                commit("m1", &["s1"], "2026-01-01T11:00:00", &["ops/mul.sh", "ops/add.sh"]),
                commit("d1", &["m1"], "2026-01-01T11:05:00", &["docs/sub.md"]),
            ],
            work: vec![
                Work { feature: "feat-add".into(), base: Some("base".into()), commit: "a2".into() },
                Work { feature: "feat-sub".into(), base: Some("a2".into()), commit: "s1".into() },
                Work { feature: "feat-mul".into(), base: Some("s1".into()), commit: "m1".into() },
            ],
            validated_at: HashMap::new(),
        }
    }

    fn stale(history: &History, state: &str) -> Vec<Stale> {
        let c = contract::parse(CONTRACT);
        let f = features::parse(FEATURES);
        let v: ValidationState = records::load(state).value.unwrap();
        stale_assertions(history, &c, &f, Some(&v))
    }

    #[test]
    fn a_later_commit_on_the_features_files_makes_its_passed_assertion_stale() {
        let state = r#"{"assertions": {"VAL-A-001": {"status": "passed", "validatedAtCommit": "s1"}, "VAL-A-002": {"status": "passed", "validatedAtCommit": "s1"}, "VAL-A-003": {"status": "passed", "validatedAtCommit": "d1"}}}"#;
        let found = stale(&history(), state);
        assert_eq!(
            found.iter().map(|s| (s.assertion.as_str(), s.commit.as_str(), s.files.clone())).collect::<Vec<_>>(),
            [("VAL-A-001", "m1", vec!["ops/add.sh".to_string()]), ("VAL-A-002", "d1", vec!["docs/sub.md".to_string()])]
        );
        assert_eq!(found[0].describe(), "`VAL-A-001` passed, but commit m1 (\"commit m1\") later changed ops/add.sh, which `feat-add`'s work changed: it is stale until milestone `one` or the next round validates it again");
    }

    #[test]
    fn validated_after_the_change_or_not_passed_is_not_stale() {
        // Validated at the last commit: nothing came later.
        let state = r#"{"assertions": {"VAL-A-001": {"status": "passed", "validatedAtCommit": "d1"}, "VAL-A-002": {"status": "failed"}}}"#;
        assert_eq!(stale(&history(), state), []);
        // The feature's own later session is its work, not drift.
        let mut h = history();
        h.work.push(Work { feature: "feat-add".into(), base: Some("s1".into()), commit: "m1".into() });
        assert_eq!(stale(&h, r#"{"assertions": {"VAL-A-001": {"status": "passed", "validatedAtCommit": "a2"}}}"#), []);
    }

    #[test]
    fn without_a_validation_commit_the_validators_time_bounds_later_commits() {
        let state = r#"{"assertions": {"VAL-A-001": {"status": "passed", "validatedAtMilestone": "one"}}}"#;
        // droid's folder: no `validatedAtCommit`, no session bases (only the handoff's commit).
        let mut h = history();
        for w in &mut h.work {
            w.base = None;
        }
        assert_eq!(stale(&h, state).len(), 1, "after the feature's commit, m1 changed ops/add.sh");
        h.validated_at.insert("one".into(), "2026-01-01T11:30:00".into());
        assert_eq!(stale(&h, state), [], "m1 came before the validation");
    }
}
