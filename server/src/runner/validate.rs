//! Validation of a milestone: the runner's own `Check:` commands first (ground truth), then a
//! scrutiny and a user-testing validator, each a fresh session ending in `submit_validation`.
//! The round goes to `validation/<milestone>/round-<n>.json`, then `validation-state.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::context::{self, ValidatorContext};
use super::new::slugify;
use super::agents::SessionCall;
use super::progress::{ToolFeed, Update};
use super::queue::Queue;
use super::run::{Ctx, Step};
use super::schedule;
use super::worker;
use crate::agent::final_tool::{FinalDecision, FinalToolHandler};
use crate::agent::session::SessionEnd;
use crate::agent::tools::bash::{kill_group, run_script};
use crate::agent::tools::{CommandSettings, Roots, WritePolicy};
use crate::agent::transcript::new_session_id;
use crate::agent::SessionKind;
use crate::model::contract;
use crate::model::folder::{self, CONTRACT_FILE, VALIDATION_STATE_FILE};
use crate::model::persist::{write_atomic, write_json_atomic};
use crate::model::records::{self, AssertionResult, AssertionState, ValidationRound, ValidationState, ValidatorIssue, ValidatorReport};

/// The report that holds the runner's own results: `Check:` commands and its issues.
pub const RUNNER_REPORT: &str = "runner";
/// validation-state.json's record of the latest round applied per milestone.
const ROUNDS_KEY: &str = "rounds";
const PASSED_KEY: &str = "passedMilestones";

pub fn round_path(mission: &Path, milestone: &str, round: u32) -> PathBuf {
    mission.join("validation").join(slugify(milestone)).join(format!("round-{round}.json"))
}

pub fn load_state(mission: &Path) -> Option<ValidationState> {
    let text = folder::read_optional(&mission.join(VALIDATION_STATE_FILE)).ok().flatten()?;
    records::load::<ValidationState>(&text).value
}

/// The latest round of `milestone` applied to validation-state.json (0: none).
pub fn applied_round(state: Option<&ValidationState>, milestone: &str) -> u32 {
    state.and_then(|s| s.extra.get(ROUNDS_KEY)).and_then(|r| r.get(milestone)).and_then(Value::as_u64).unwrap_or(0) as u32
}

pub fn read_round(mission: &Path, milestone: &str, round: u32) -> Option<ValidationRound> {
    let text = folder::read_text(&round_path(mission, milestone, round)).ok()?;
    records::load::<ValidationRound>(&text).value
}

/// The highest round file of `milestone` on disk (0: none).
fn latest_round_file(mission: &Path, milestone: &str) -> u32 {
    let dir = mission.join("validation").join(slugify(milestone));
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.strip_prefix("round-")?.strip_suffix(".json")?.parse::<u32>().ok())
        .max()
        .unwrap_or(0)
}

/// The issues named `ids` in the rounds of `milestone` (for a fix feature's worker).
pub fn find_issues(mission: &Path, milestone: &str, ids: &[String]) -> Vec<ValidatorIssue> {
    let mut found: Vec<ValidatorIssue> = Vec::new();
    for round in 1..=latest_round_file(mission, milestone) {
        for report in read_round(mission, milestone, round).map(|r| r.validators).unwrap_or_default() {
            for issue in report.issues {
                if ids.contains(&issue.id) && !found.iter().any(|f| f.id == issue.id) {
                    found.push(issue);
                }
            }
        }
    }
    found
}

pub enum RoundOutcome {
    Done { round: u32, passed: bool },
    Stopped(Step),
}

pub async fn validate(ctx: &mut Ctx, milestone: &str) -> Result<RoundOutcome, String> {
    let queue = Queue::load(&ctx.mission)?;
    let ids: Vec<String> = schedule::milestone_assertions(&queue.file, milestone).into_iter().map(str::to_string).collect();
    let applied = applied_round(load_state(&ctx.mission).as_ref(), milestone);
    // A round written before a crash is applied, not run again.
    if latest_round_file(&ctx.mission, milestone) > applied {
        if let Some(round) = read_round(&ctx.mission, milestone, applied + 1) {
            let passed = apply(ctx, &round, &ids)?;
            return Ok(RoundOutcome::Done { round: round.round, passed });
        }
    }
    let round = applied + 1;
    ctx.state.state.status = "validating".into();
    ctx.state.state.current_milestone = Some(milestone.to_string());
    ctx.state.state.round = round;
    ctx.save_state()?;
    ctx.log("validation_started", json!({"milestone": milestone, "round": round}))?;
    ctx.progress.update(Update::Validating { milestone, round });

    let contract_text = folder::read_text(&ctx.mission.join(CONTRACT_FILE)).map_err(|e| format!("{CONTRACT_FILE}: {e}"))?;
    let contract = contract::parse(&contract_text);
    // Validators read the assertions in the contract's order.
    let mut ids = ids;
    ids.sort_by_key(|id| contract.assertions.iter().position(|a| &a.id.value == id).unwrap_or(usize::MAX));
    let slug = slugify(milestone);
    let evidence_rel = format!("evidence/{slug}");
    std::fs::create_dir_all(ctx.mission.join(&evidence_rel)).map_err(|e| format!("cannot create {evidence_rel}: {e}"))?;
    let checks: Vec<(String, String)> = ids.iter().filter_map(|id| Some((id.clone(), contract.assertion(id)?.check.as_ref()?.value.clone()))).collect();
    let runner_report = match run_checks(ctx, &checks, round, &evidence_rel).await {
        Some(report) => report,
        None => return Ok(RoundOutcome::Stopped(Step::Pause)),
    };

    let texts: Vec<String> = ids.iter().map(|id| contract.assertion(id).map_or_else(|| format!("### {id}"), |a| context::assertion_text(&contract_text, a))).collect();
    let handoffs = milestone_handoffs(&ctx.mission, &queue, milestone);
    let base = ctx.state.milestone_base(milestone);
    let mut reports = vec![runner_report];
    for kind in [SessionKind::ScrutinyValidator, SessionKind::UserTestingValidator] {
        if let Some(reason) = ctx.agents.budget_spent() {
            return Ok(RoundOutcome::Stopped(Step::Halt(reason)));
        }
        let c = ValidatorContext { mission_dir: &ctx.mission, milestone, round, assertions: &texts, checks: Some(&reports[0]), handoffs: &handoffs, base_commit: base.as_deref(), evidence_dir: &evidence_rel };
        let task = match kind {
            SessionKind::ScrutinyValidator => context::scrutiny_task(&c),
            _ => context::user_testing_task(&c),
        };
        let session_id = new_session_id();
        let mut handler = OnlyTheseAssertions { ids: ids.clone() };
        let details = json!({"milestone": milestone, "round": round});
        let outcome = ctx.agents.run(SessionCall { kind, session_id: &session_id, task, details }, &mut handler, &ctx.cancel, &mut ToolFeed { progress: &mut *ctx.progress }).await;
        let mut report = ValidatorReport { kind: kind.as_str().to_string(), session_id: session_id.clone(), ..Default::default() };
        match outcome.end {
            SessionEnd::Finished(v) => {
                report.assertions = serde_json::from_value(v["assertions"].clone()).unwrap_or_default();
                report.issues = serde_json::from_value(v["issues"].clone()).unwrap_or_default();
            }
            SessionEnd::Cancelled => return Ok(RoundOutcome::Stopped(Step::Pause)),
            end @ (SessionEnd::TokenBudget { .. } | SessionEnd::ProviderFailed(_)) => {
                return Ok(RoundOutcome::Stopped(Step::Halt(format!("{} validator of {milestone}: {}", kind.as_str(), end.reason()))))
            }
            end => {
                report.extra.insert("error".into(), Value::String(end.reason()));
            }
        }
        reports.push(report);
    }
    let mut record = ValidationRound { milestone: milestone.to_string(), round, validators: reports, extra: Map::new() };
    finalize(&mut record, &ids);
    let path = round_path(&ctx.mission, milestone, round);
    std::fs::create_dir_all(path.parent().unwrap_or(&ctx.mission)).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    write_json_atomic(&path, &record).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let passed = apply(ctx, &record, &ids)?;
    Ok(RoundOutcome::Done { round, passed })
}

/// Runs the `Check:` commands with the mission's command timeout; their output is saved as
/// evidence. `None` when cancelled.
async fn run_checks(ctx: &mut Ctx, checks: &[(String, String)], round: u32, evidence_rel: &str) -> Option<ValidatorReport> {
    let mut report = ValidatorReport { kind: RUNNER_REPORT.into(), ..Default::default() };
    if checks.is_empty() {
        return Some(report);
    }
    let roots = match Roots::new(&ctx.repo, &ctx.mission) {
        Ok(r) => r,
        Err(e) => {
            for (id, _) in checks {
                report.assertions.push(AssertionResult { id: id.clone(), status: "blocked".into(), notes: Some(format!("cannot run checks: {e}")), ..Default::default() });
            }
            return Some(report);
        }
    };
    let config = &ctx.agents.config;
    let settings = CommandSettings::from_config(config, WritePolicy::EvidenceOnly).with_git_identity_if_missing(&ctx.repo);
    let timeout = Duration::from_secs(config.limits.command_timeout_s);
    for (id, command) in checks {
        let log = ctx.mission.join("tool-output").join("checks").join(format!("round-{round}-{id}.log"));
        let mut groups = Vec::new();
        let result = run_script(&roots, &settings, command, timeout, &log, &ctx.cancel, &mut groups).await;
        groups.into_iter().for_each(kill_group);
        if ctx.cancel.is_cancelled() {
            return None;
        }
        let evidence = format!("{evidence_rel}/round-{round}-check-{id}.txt");
        let (status, note, shown) = match &result {
            Ok(run) if run.code == 0 => ("passed", format!("`{command}` exited 0"), run.render()),
            Ok(run) => ("failed", format!("`{command}` exited {}{}", run.code, if run.timed_out { " (timed out)" } else { "" }), run.render()),
            Err(e) => ("blocked", format!("`{command}` could not run: {e}"), e.clone()),
        };
        let _ = write_atomic(&ctx.mission.join(&evidence), format!("$ {command}\n{shown}").as_bytes());
        report.assertions.push(AssertionResult { id: id.clone(), status: status.into(), evidence: vec![evidence.clone()], notes: Some(note.clone()), extra: Map::new() });
        if status != "passed" {
            let tail: String = shown.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
            report.issues.push(ValidatorIssue { severity: "blocking".into(), title: format!("Check of {id} failed: {note}"), detail: format!("The assertion's `Check:` command must exit 0. Its output ends with:\n{tail}"), assertion_ids: vec![id.clone()], ..Default::default() });
        }
        ctx.progress.update(Update::Tool { name: "check", summary: format!("{id}: {status}") });
    }
    Some(report)
}

/// Gives every issue a unique id (`ISS-<milestone>-<round>-<nnn>` where the validator gave
/// none) and adds a runner issue for each assertion no one reported on.
pub fn finalize(round: &mut ValidationRound, ids: &[String]) {
    let reported: Vec<String> = round.validators.iter().flat_map(|r| r.assertions.iter().map(|a| a.id.clone())).collect();
    let unreported: Vec<String> = ids.iter().filter(|id| !reported.contains(id)).cloned().collect();
    if !unreported.is_empty() {
        if !round.validators.iter().any(|r| r.kind == RUNNER_REPORT) {
            round.validators.insert(0, ValidatorReport { kind: RUNNER_REPORT.into(), ..Default::default() });
        }
        let runner = round.validators.iter_mut().find(|r| r.kind == RUNNER_REPORT).expect("inserted above");
        for id in unreported {
            runner.issues.push(ValidatorIssue { severity: "blocking".into(), title: format!("No validator reported on {id}"), detail: "The assertion was not checked in this round; it counts as blocked.".into(), assertion_ids: vec![id], ..Default::default() });
        }
    }
    let slug = slugify(&round.milestone);
    let mut seen = std::collections::HashSet::new();
    let mut n = 0;
    for report in &mut round.validators {
        for issue in &mut report.issues {
            if issue.id.trim().is_empty() || seen.contains(&issue.id) {
                issue.id = loop {
                    n += 1;
                    let candidate = format!("ISS-{slug}-{}-{n:03}", round.round);
                    if !seen.contains(&candidate) {
                        break candidate;
                    }
                };
            }
            seen.insert(issue.id.clone());
        }
    }
}

/// The status of each assertion after a round: a `Check:` result wins; otherwise any
/// `failed` fails it, then any `blocked` blocks it, then a `passed` passes it; unreported
/// is `blocked`.
pub fn assertion_states(round: &ValidationRound, ids: &[String]) -> BTreeMap<String, AssertionState> {
    let mut out = BTreeMap::new();
    for id in ids {
        let results: Vec<(&str, &AssertionResult)> = round.validators.iter().flat_map(|r| r.assertions.iter().filter(|a| &a.id == id).map(move |a| (r.kind.as_str(), a))).collect();
        let check = results.iter().find(|(kind, _)| *kind == RUNNER_REPORT).map(|(_, a)| a.status.as_str());
        let any = |s: &str| results.iter().any(|(_, a)| a.status == s);
        let status = match check {
            Some(s) => s,
            None if any("failed") => "failed",
            None if any("blocked") => "blocked",
            None if any("passed") => "passed",
            None => "blocked",
        };
        let mut evidence: Vec<String> = Vec::new();
        for (_, a) in &results {
            for e in &a.evidence {
                if !evidence.contains(e) {
                    evidence.push(e.clone());
                }
            }
        }
        let issues: Vec<ValidatorIssue> = round.validators.iter().flat_map(|r| r.issues.iter()).filter(|i| i.assertion_ids.contains(id)).cloned().collect();
        out.insert(id.clone(), AssertionState { status: status.to_string(), milestone: Some(round.milestone.clone()), round: Some(round.round), evidence, issues, extra: Map::new() });
    }
    out
}

/// Writes a round's results into validation-state.json and logs them; whether the milestone
/// passed.
fn apply(ctx: &mut Ctx, round: &ValidationRound, ids: &[String]) -> Result<bool, String> {
    let states = assertion_states(round, ids);
    let passed = states.values().all(|s| s.status == "passed");
    let mut vs = load_state(&ctx.mission).unwrap_or_default();
    let count = |status: &str| states.values().filter(|s| s.status == status).count();
    let counts = json!({"passed": count("passed"), "failed": count("failed"), "blocked": count("blocked")});
    vs.assertions.extend(states);
    let rounds = vs.extra.entry(ROUNDS_KEY).or_insert_with(|| json!({}));
    if let Value::Object(map) = rounds {
        map.insert(round.milestone.clone(), json!(round.round));
    }
    if passed {
        let list = vs.extra.entry(PASSED_KEY).or_insert_with(|| json!([]));
        if let Value::Array(items) = list {
            if !items.iter().any(|m| m.as_str() == Some(round.milestone.as_str())) {
                items.push(json!(round.milestone));
            }
        }
    }
    write_json_atomic(&ctx.mission.join(VALIDATION_STATE_FILE), &vs).map_err(|e| format!("cannot write {VALIDATION_STATE_FILE}: {e}"))?;
    let issues: usize = round.validators.iter().map(|r| r.issues.len()).sum();
    ctx.log("validation_round", json!({"milestone": round.milestone, "round": round.round, "passed": passed, "assertions": counts, "issues": issues}))?;
    ctx.progress.update(Update::RoundResult { milestone: &round.milestone, round: round.round, passed: counts["passed"].as_u64().unwrap_or(0) as usize, total: ids.len() });
    if passed {
        ctx.log("milestone_passed", json!({"milestone": round.milestone, "round": round.round}))?;
    }
    Ok(passed)
}

/// `(feature id, handoff path)` of the milestone's features, latest session first per feature.
fn milestone_handoffs(mission: &Path, queue: &Queue, milestone: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for f in queue.file.features.iter().filter(|f| f.milestone() == Some(milestone)) {
        for s in f.worker_session_ids.iter().rev() {
            if worker::handoff_path(mission, &s.value).is_file() {
                out.push((f.id().unwrap_or("?").to_string(), format!("handoffs/{}.json", s.value)));
                break;
            }
        }
    }
    out
}

/// Validators report on the milestone's assertions only.
struct OnlyTheseAssertions {
    ids: Vec<String>,
}

impl FinalToolHandler for OnlyTheseAssertions {
    fn decide(&mut self, _kind: SessionKind, args: &Value) -> FinalDecision {
        let foreign: Vec<&str> = args["assertions"].as_array().into_iter().flatten().filter_map(|a| a["id"].as_str()).filter(|id| !self.ids.iter().any(|x| x == id)).collect();
        if foreign.is_empty() {
            FinalDecision::Accept(args.clone())
        } else {
            FinalDecision::Reject(format!("{} not in this milestone; report only on {}", foreign.join(", "), self.ids.join(", ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(id: &str, status: &str) -> AssertionResult {
        AssertionResult { id: id.into(), status: status.into(), evidence: vec![format!("evidence/m/{id}-{status}.txt")], ..Default::default() }
    }

    #[test]
    fn a_check_overrides_validators_and_every_issue_gets_an_id() {
        let ids: Vec<String> = ["VAL-A-001", "VAL-A-002", "VAL-A-003", "VAL-A-004"].map(String::from).to_vec();
        let mut round = ValidationRound {
            milestone: "Core API".into(),
            round: 2,
            validators: vec![
                ValidatorReport { kind: RUNNER_REPORT.into(), assertions: vec![result("VAL-A-001", "failed")], ..Default::default() },
                ValidatorReport {
                    kind: "scrutiny".into(),
                    assertions: vec![result("VAL-A-001", "passed"), result("VAL-A-002", "passed")],
                    issues: vec![ValidatorIssue { id: "X-1".into(), title: "a".into(), assertion_ids: vec!["VAL-A-002".into()], ..Default::default() }],
                    ..Default::default()
                },
                ValidatorReport {
                    kind: "user-testing".into(),
                    assertions: vec![result("VAL-A-002", "failed"), result("VAL-A-003", "passed")],
                    issues: vec![ValidatorIssue { id: "X-1".into(), title: "dup".into(), ..Default::default() }, ValidatorIssue { title: "none".into(), ..Default::default() }],
                    ..Default::default()
                },
            ],
            extra: Map::new(),
        };
        finalize(&mut round, &ids);
        let all_ids: Vec<&str> = round.validators.iter().flat_map(|r| r.issues.iter().map(|i| i.id.as_str())).collect();
        assert_eq!(all_ids, ["ISS-core-api-2-001", "X-1", "ISS-core-api-2-002", "ISS-core-api-2-003"]);
        let states = assertion_states(&round, &ids);
        let status = |id: &str| states[id].status.as_str();
        assert_eq!((status("VAL-A-001"), status("VAL-A-002"), status("VAL-A-003"), status("VAL-A-004")), ("failed", "failed", "passed", "blocked"));
        assert_eq!(states["VAL-A-001"].evidence, ["evidence/m/VAL-A-001-failed.txt", "evidence/m/VAL-A-001-passed.txt"]);
        assert_eq!(states["VAL-A-004"].issues[0].title, "No validator reported on VAL-A-004");
        assert_eq!(states["VAL-A-002"].issues[0].id, "X-1");
    }
}
