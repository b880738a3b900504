//! Reads what `missions report` needs from a mission folder and its repository: state.json,
//! mission.md's title, features.json, progress_log.jsonl, sessions.jsonl, the validators'
//! syntheses (each round's, or droid's latest) and reviews under validation/, `[prices]` from
//! missions.toml, the test files the handoffs declare, and `git diff --numstat` from the
//! mission's base commit to its branch.
//! Nothing here fails: what cannot be read becomes a note in the report.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::agent::transcript::TRANSCRIPT_FILE;
use crate::analysis::cost::Price;
use crate::analysis::report::{parse_numstat, DiffInput, ReportInput, RoundRecord, TranscriptLine};
use crate::config::{find_config, MissionsConfig};
use crate::model::features::{self, ValidatorKind};
use crate::model::folder::{self, FEATURES_FILE, STATE_FILE, VALIDATION_DIR};
use crate::model::records::{self, MissionState, ScrutinySynthesis, UserTestingSynthesis};

use super::{events, git};

/// Every record of the mission folder `dir` the report is computed from.
pub fn load(dir: &Path) -> ReportInput {
    let mut input = ReportInput::default();
    let mut note = |n: String| input.notes.push(n);

    let state_path = dir.join(STATE_FILE);
    let state = match folder::read_optional(&state_path) {
        Ok(Some(text)) => {
            let loaded = records::load::<MissionState>(&text);
            if let Some(e) = loaded.error {
                note(format!("{STATE_FILE}: not a valid mission state ({e})"));
            }
            loaded.value
        }
        Ok(None) => None,
        Err(e) => {
            note(format!("{STATE_FILE}: {e}"));
            None
        }
    };
    let features = match folder::read_optional(&dir.join(FEATURES_FILE)) {
        Ok(Some(text)) => {
            let f = features::parse(&text);
            if !f.problems.is_empty() {
                note(format!("{FEATURES_FILE}: {} problem(s); `missions check` lists them", f.problems.len()));
            }
            Some(f)
        }
        Ok(None) => None,
        Err(e) => {
            note(format!("{FEATURES_FILE}: {e}"));
            None
        }
    };
    let (transcript, skipped) = read_transcript(&dir.join(TRANSCRIPT_FILE));
    if let Some(e) = skipped {
        note(e);
    }
    let rounds = read_rounds(dir, &mut note);
    let (validation, errors) = folder::read_validation(dir);
    for (path, e) in errors {
        note(format!("{}: {e}", path.strip_prefix(dir).unwrap_or(&path).display()));
    }
    let (handoffs, handoff_errors) = folder::read_handoffs(dir);
    for (path, e) in handoff_errors {
        note(format!("{}: {e}", path.strip_prefix(dir).unwrap_or(&path).display()));
    }
    // The tests the workers declared count as tests whatever their path.
    let declared_tests = handoffs
        .iter()
        .flat_map(|h| {
            let tests = &h.file.handoff.tests;
            let updated = tests.updated.iter().filter_map(|v| v.as_str().or_else(|| v.get("file")?.as_str()));
            h.file
                .handoff
                .test_files()
                .chain(updated)
                .map(|f| f.trim_start_matches("./").to_string())
                .collect::<Vec<_>>()
        })
        .filter(|f| !f.is_empty())
        .collect();
    let prices = read_prices(dir, &mut note);
    let diff = read_diff(dir, state.as_ref(), features.as_ref());

    input.stale = super::drift::stale(dir).into_iter().map(|s| s.assertion).collect();
    input.events = events::read_all(dir);
    input.title = folder::mission_title(dir);
    input.validation = validation;
    input.state = state;
    input.features = features;
    input.transcript = transcript;
    input.rounds = rounds;
    input.prices = prices;
    input.diff = diff;
    input.declared_tests = declared_tests;
    input
}

/// The transcript's lines, read one at a time (it can be large); a torn last line and lines
/// that are not transcript records are skipped.
fn read_transcript(path: &Path) -> (Vec<TranscriptLine>, Option<String>) {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (Vec::new(), None),
        Err(e) => return (Vec::new(), Some(format!("{TRANSCRIPT_FILE}: {e}"))),
    };
    let mut reader = BufReader::new(file);
    let mut lines = Vec::new();
    let mut bad = 0usize;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => return (lines, Some(format!("{TRANSCRIPT_FILE}: {e}"))),
        }
        if buf.last() != Some(&b'\n') {
            break; // a torn tail: the writer is still appending it, or died
        }
        let text = String::from_utf8_lossy(&buf);
        if text.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<TranscriptLine>(&text) {
            Ok(l) => lines.push(l),
            Err(_) => bad += 1,
        }
    }
    (lines, (bad > 0).then(|| format!("{TRANSCRIPT_FILE}: {bad} line(s) were not transcript records and were skipped")))
}

/// Every round of every validator: `validation/<m>/<validator>/synthesis-round-<n>.json` (the
/// runner keeps each round), and `synthesis.json` for a round not kept so (droid keeps only
/// the latest). In milestone folder, validator and round order.
fn read_rounds(dir: &Path, note: &mut impl FnMut(String)) -> Vec<RoundRecord> {
    let mut out = Vec::new();
    let Ok(milestones) = std::fs::read_dir(dir.join(VALIDATION_DIR)) else { return out };
    let mut folders: Vec<PathBuf> =
        milestones.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_dir()).collect();
    folders.sort();
    for m in folders {
        for kind in ValidatorKind::ALL {
            let vdir = m.join(kind.folder());
            let Ok(entries) = std::fs::read_dir(&vdir) else { continue };
            let mut files: Vec<(u32, PathBuf)> = entries
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let round = if name == "synthesis.json" {
                        u32::MAX
                    } else {
                        name.strip_prefix("synthesis-round-")?.strip_suffix(".json")?.parse().ok()?
                    };
                    Some((round, e.path()))
                })
                .collect();
            files.sort();
            for (_, path) in files {
                let shown = path.strip_prefix(dir).unwrap_or(&path).display().to_string();
                let text = match folder::read_text(&path) {
                    Ok(t) => t,
                    Err(e) => {
                        note(format!("{shown}: {e}"));
                        continue;
                    }
                };
                let record = match kind {
                    ValidatorKind::Scrutiny => records::load::<ScrutinySynthesis>(&text).value.map(|s| RoundRecord {
                        milestone: s.milestone,
                        validator: kind.folder().into(),
                        round: s.round,
                        passed: s.status == "pass",
                        blocking: s.blocking_issues.len(),
                    }),
                    ValidatorKind::UserTesting => {
                        records::load::<UserTestingSynthesis>(&text).value.map(|u| RoundRecord {
                            milestone: u.milestone,
                            validator: kind.folder().into(),
                            round: u.round,
                            passed: u.status == "pass",
                            blocking: u.failed_assertions.len() + u.blocked_assertions.len(),
                        })
                    }
                };
                match record {
                    // droid's latest synthesis repeats a round the runner kept already.
                    Some(r)
                        if out.iter().any(|x: &RoundRecord| {
                            x.milestone == r.milestone && x.validator == r.validator && x.round == r.round
                        }) => {}
                    Some(r) => out.push(r),
                    None => note(format!("{shown}: not a synthesis")),
                }
            }
        }
    }
    out
}

/// `[prices."model"]` of the missions.toml that governs the mission (found from the mission
/// folder, else from its working directory).
fn read_prices(dir: &Path, note: &mut impl FnMut(String)) -> std::collections::BTreeMap<String, Price> {
    let path = find_config(dir).or_else(|| folder::working_directory(dir).and_then(|w| find_config(&w)));
    let Some(path) = path else { return Default::default() };
    match MissionsConfig::load(&path) {
        Ok(c) => c
            .prices
            .iter()
            .map(|(model, p)| {
                (
                    model.clone(),
                    Price { input: p.input, cache_read: p.cache_read, cache_write: p.cache_write, output: p.output },
                )
            })
            .collect(),
        Err(e) => {
            note(format!("no cost: {e}"));
            Default::default()
        }
    }
}

/// `git diff --numstat` from the mission's base commit (where its first milestone started) to
/// its branch, without the mission folder itself.
fn read_diff(dir: &Path, state: Option<&MissionState>, features: Option<&features::FeaturesFile>) -> DiffInput {
    let Some(repo) = folder::working_directory(dir) else {
        return DiffInput::Unavailable("working_directory.txt names no repository".into());
    };
    if !repo.is_dir() {
        return DiffInput::Unavailable(format!("the repository {} does not exist", repo.display()));
    }
    let Some(state) = state else { return DiffInput::Unavailable("no state.json".into()) };
    let order: Vec<&str> = if state.milestones.is_empty() {
        features.map(|f| f.milestones()).unwrap_or_default()
    } else {
        state.milestones.iter().map(String::as_str).collect()
    };
    let base = order.iter().find_map(|m| state.milestone_base(m)).or_else(|| state.first_milestone_base());
    let Some(base) = base.filter(|b| !b.starts_with('-')) else {
        return DiffInput::Unavailable("no milestone has started yet (state.json has no milestoneBases)".into());
    };
    let head = state.branch().filter(|b| git::resolve_commit(&repo, b).is_some()).unwrap_or("HEAD").to_string();
    let mission_rel = git::mission_in_repo(dir, &repo);
    match git::git(&repo, &["diff", "--numstat", "--no-renames", base, &head]) {
        Ok(text) => {
            let files = parse_numstat(&text)
                .into_iter()
                .filter(|f| !git::belongs_to_mission(&f.path, mission_rel.as_deref()))
                .collect();
            DiffInput::Files { base: base.to_string(), head, files }
        }
        Err(e) => DiffInput::Unavailable(e.to_string()),
    }
}
