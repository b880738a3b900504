//! Planning (design §6, first line): a fresh orchestrator session reads the goal (mission.md
//! with its answered questions), the repository's AGENTS.md / README and a bounded file
//! listing; it may ask the person (`ask_user`: questions into mission.md, status
//! `awaiting_answers`), writes validation-contract.md, then features.json (the write rules
//! refuse the queue before the contract), then the shared files, and calls `submit_plan`,
//! which answers with the plan's diagnostics until none is an error — at most
//! [`MAX_PLAN_SUBMISSIONS`] times, then the mission halts with the diagnostics.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{json, Value};

use super::agents::SessionCall;
use super::events::Journal;
use super::git;
use super::progress::{Progress, ToolFeed, Update};
use super::run::{Ctx, Step};
use crate::agent::final_tool::{FinalDecision, FinalToolHandler, PlanLint};
use crate::agent::session::{SessionEnd, SessionObserver};
use crate::agent::tools::ToolOutput;
use crate::agent::transcript::new_session_id;
use crate::agent::SessionKind;
use crate::model::folder::{self, CONTRACT_FILE, FEATURES_FILE, MISSION_FILE};
use crate::model::progress_log::Event;
use crate::model::questions;
use crate::model::records::MissionStatus;

/// `submit_plan` calls answered with errors before the mission halts.
pub const MAX_PLAN_SUBMISSIONS: u32 = 5;
/// How a halt begins when the planner's plan still fails its lint: that plan stays for the
/// person to fix, and is not planned over on the next run.
pub const PLAN_LINT_GAVE_UP: &str = "the plan still has errors";
/// Files of the repository listed in the planner's first message.
const MAX_LISTED_FILES: usize = 400;
/// The repository's AGENTS.md and README are cut here.
const MAX_DOC_BYTES: usize = 16 * 1024;

/// Whether the mission still needs a plan: its contract or its queue is missing.
pub fn needs_plan(mission: &Path) -> bool {
    !mission.join(CONTRACT_FILE).is_file() || !mission.join(FEATURES_FILE).is_file()
}

/// The first message of a planning session.
pub fn planning_task(mission: &Path, repo: &Path, mission_md: &str, allow_questions: bool) -> String {
    let mut t = String::new();
    let shown =
        mission.strip_prefix(repo).map(|p| p.display().to_string()).unwrap_or_else(|_| mission.display().to_string());
    let _ = writeln!(t, "# Plan this mission\n");
    let _ = writeln!(
        t,
        "The mission folder is `{shown}` (the plan files go there). The goal, in the person's words (mission.md):\n"
    );
    let _ = writeln!(t, "````markdown\n{}\n````\n", mission_md.trim());
    let qs = questions::parse(mission_md);
    if !qs.is_empty() {
        let _ = writeln!(t, "## Your questions and the person's answers\n");
        for q in &qs {
            let answer = if q.answer.is_empty() {
                "(no answer: decide yourself and write the assumption into the contract)"
            } else {
                q.answer.as_str()
            };
            let _ = writeln!(t, "- Q: {}\n  A: {answer}", q.question);
        }
        t.push('\n');
    }
    for name in ["AGENTS.md", "README.md", "README"] {
        if let Some(text) = read_bounded(&repo.join(name)) {
            let _ = writeln!(t, "## The repository's {name}\n\n{text}\n");
        }
    }
    let _ = writeln!(t, "## Files in the repository (git ls-files)\n\n{}\n", listing(repo));
    let _ = writeln!(t, "## What to do\n");
    if allow_questions {
        let _ = writeln!(t, "If a requirement only the person can decide is unclear, call `ask_user` now with short, concrete questions and stop there. Otherwise:");
    } else {
        let _ = writeln!(t, "The person asked not to be asked (`--yes`): `ask_user` is not available. Where something is unclear, decide, and write the assumption into the contract.");
    }
    let _ = writeln!(
        t,
        "1. Write `{shown}/{CONTRACT_FILE}` first: the behavioural assertions that define done.\n\
         2. Then `{shown}/{FEATURES_FILE}`: features in milestones, each assertion claimed by exactly one feature (features.json is refused until the contract exists).\n\
         3. Then `{shown}/AGENTS.md`, `{shown}/architecture.md`, `{shown}/services.yaml` and `{shown}/skills/<skillName>/SKILL.md` for every skill the features name.\n\
         4. Call `submit_plan`; fix every error it reports and call it again."
    );
    t
}

fn read_bounded(path: &Path) -> Option<String> {
    let text = folder::read_optional(path).ok().flatten()?;
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    Some(match text.char_indices().nth(MAX_DOC_BYTES) {
        Some((cut, _)) => format!("{}\n… [cut; read the whole file with read_file]", &text[..cut]),
        None => text.to_string(),
    })
}

/// `git ls-files`, at most [`MAX_LISTED_FILES`] lines.
fn listing(repo: &Path) -> String {
    let files = match git::git(repo, &["ls-files"]) {
        Ok(out) => out,
        Err(e) => return format!("(cannot list the files: {e})"),
    };
    let all: Vec<&str> = files.lines().filter(|l| !l.trim().is_empty()).collect();
    if all.is_empty() {
        return "(no tracked files yet)".into();
    }
    let mut out = all.iter().take(MAX_LISTED_FILES).copied().collect::<Vec<_>>().join("\n");
    if all.len() > MAX_LISTED_FILES {
        let _ = write!(out, "\n… and {} more (use list_files)", all.len() - MAX_LISTED_FILES);
    }
    out
}

/// `submit_plan` through the plan's lint, counting refusals: the last allowed refusal ends
/// the session with `{"planDone": false, "diagnostics": …}` so the runner can halt.
struct BoundedPlanLint {
    lint: PlanLint,
    refused: u32,
}

impl FinalToolHandler for BoundedPlanLint {
    fn decide(&mut self, kind: SessionKind, args: &Value) -> FinalDecision {
        match self.lint.decide(kind, args) {
            FinalDecision::Reject(report) => {
                self.refused += 1;
                if self.refused >= MAX_PLAN_SUBMISSIONS {
                    FinalDecision::Accept(json!({"planDone": false, "diagnostics": report}))
                } else {
                    FinalDecision::Reject(report)
                }
            }
            accepted => accepted,
        }
    }
}

/// Shows the tools on the progress display and logs `contract_written` / `features_written`
/// as soon as each file exists (the write rules make the contract come first).
struct PlanFeed<'a> {
    tools: ToolFeed<'a>,
    journal: &'a mut Journal,
    mission: &'a Path,
    session_id: &'a str,
    error: Option<String>,
}

impl PlanFeed<'_> {
    fn note_files(&mut self) {
        let session_id = self.session_id.to_string();
        let written = [
            (CONTRACT_FILE, Event::ContractWritten { session_id: session_id.clone() }),
            (FEATURES_FILE, Event::FeaturesWritten { session_id }),
        ];
        for (file, event) in written {
            if self.mission.join(file).is_file() {
                if let Err(e) = self.journal.log(event) {
                    self.error.get_or_insert_with(|| format!("cannot append to progress_log.jsonl: {e}"));
                }
            } else {
                break; // never features before contract in the log
            }
        }
    }
}

impl SessionObserver for PlanFeed<'_> {
    fn on_tool_call(&mut self, name: &str, input: &Value) {
        self.tools.on_tool_call(name, input);
    }

    fn on_tool_result(&mut self, name: &str, output: &ToolOutput) {
        self.tools.on_tool_result(name, output);
        if !output.is_error {
            self.note_files();
        }
    }

    fn on_retry(&mut self, who: &str, retry: &crate::agent::RetryNotice) {
        self.tools.on_retry(who, retry);
    }

    fn on_waiting(&mut self, who: &str, wait: &crate::agent::WaitNotice) {
        self.tools.on_waiting(who, wait);
    }
}

/// Runs a planning session. `Step::Continue` when a clean plan was submitted (the state is
/// then `awaiting_approval` and `plan_submitted` is logged).
pub async fn plan(ctx: &mut Ctx) -> Result<Step, String> {
    let mission_md = folder::read_optional(&ctx.mission.join(MISSION_FILE))
        .map_err(|e| format!("cannot read mission.md: {e}"))?
        .unwrap_or_default();
    let asked = questions::parse(&mission_md);
    let answered = asked.iter().filter(|q| q.is_answered()).count();
    if answered < asked.len() && ctx.agents.allow_questions {
        ctx.state.set_status(MissionStatus::AwaitingAnswers);
        ctx.save_state()?;
        return Ok(Step::AwaitingAnswers);
    }
    let task = planning_task(&ctx.mission, &ctx.repo, &mission_md, ctx.agents.allow_questions);
    ctx.state.set_status(MissionStatus::Planning);
    ctx.save_state()?;
    let session_id = new_session_id();
    ctx.log(Event::PlanningStarted { session_id: session_id.clone(), answers: answered })?;
    ctx.progress.update(Update::Note("planning: the orchestrator writes the validation contract, then the features"));
    let mut lint = BoundedPlanLint { lint: PlanLint { mission_dir: ctx.mission.clone() }, refused: 0 };
    let details = json!({"purpose": "plan"});
    let call =
        SessionCall { kind: SessionKind::Orchestrator, session_id: &session_id, task, shared_context: None, details };
    let progress: &mut dyn Progress = &mut *ctx.progress;
    let mut feed = PlanFeed {
        tools: ToolFeed { progress },
        journal: &mut ctx.journal,
        mission: &ctx.mission,
        session_id: &session_id,
        error: None,
    };
    let outcome = ctx.agents.run(call, &mut lint, &ctx.cancel, &mut feed).await;
    feed.note_files();
    if let Some(e) = feed.error.take() {
        return Err(e);
    }
    match outcome.end {
        SessionEnd::Finished(value) if value["planDone"] == false => {
            let diagnostics = value["diagnostics"].as_str().unwrap_or("the plan has errors").to_string();
            Ok(Step::Halt(format!("{PLAN_LINT_GAVE_UP} after {MAX_PLAN_SUBMISSIONS} submissions: {diagnostics}")))
        }
        SessionEnd::Finished(value) => {
            if needs_plan(&ctx.mission) {
                return Ok(Step::Halt(
                    "the orchestrator submitted a plan without validation-contract.md and features.json".into(),
                ));
            }
            ctx.state.set_status(MissionStatus::AwaitingApproval);
            ctx.save_state()?;
            let warnings = serde_json::from_value(value["warnings"].clone()).ok();
            ctx.log(Event::PlanSubmitted { session_id: Some(session_id.clone()), warnings })?;
            Ok(Step::Continue)
        }
        SessionEnd::AwaitingAnswers(asked) => {
            for q in &asked {
                ctx.log(Event::QuestionAsked { session_id: session_id.clone(), question: q.clone() })?;
            }
            ctx.state.set_status(MissionStatus::AwaitingAnswers);
            ctx.save_state()?;
            Ok(Step::AwaitingAnswers)
        }
        SessionEnd::Cancelled => Ok(Step::Pause),
        end => Ok(Step::Halt(format!("planning stopped: {}", end.reason()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_task_holds_the_goal_the_answers_the_files_and_the_order() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path();
        git::git(repo, &["init", "-q"]).unwrap();
        std::fs::write(repo.join("README.md"), "# Calc\nA calculator.\n").unwrap();
        std::fs::write(repo.join("calc.sh"), "echo\n").unwrap();
        git::git(repo, &["add", "-A"]).unwrap();
        let mission = repo.join(".missions/calc");
        let md = "# A calculator\n\n## Questions\n\n- Q: Integers only?\n  A: yes\n";
        let t = planning_task(&mission, repo, md, false);
        for expected in [
            "`.missions/calc`",
            "# A calculator",
            "- Q: Integers only?\n  A: yes",
            "A calculator.",
            "README.md\ncalc.sh",
            "`ask_user` is not available",
        ] {
            assert!(t.contains(expected), "{expected:?} missing from\n{t}");
        }
        assert!(t.find("validation-contract.md").unwrap() < t.find("features.json").unwrap());
        assert!(planning_task(&mission, repo, md, true).contains("call `ask_user` now"));
    }
}
