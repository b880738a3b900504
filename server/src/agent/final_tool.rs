//! What happens when a session calls its final tool: the caller decides (a hook), and the
//! orchestrator's `submit_plan` has a ready-made answer, the plan's lint.

use crate::agent::roles::SessionKind;
use crate::analysis::checks::{self, MissionInput};
use crate::analysis::diagnostic::{DocKind, Severity, Target};
use crate::analysis::position::{ColumnUnit, Positions};
use crate::model::folder;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The caller's answer to a final call whose arguments already passed the schema.
#[derive(Debug, Clone, PartialEq)]
pub enum FinalDecision {
    /// The session ends with this value (the handoff, the validation, the plan summary).
    Accept(Value),
    /// The message goes back to the model as an error result; the session goes on.
    Reject(String),
}

/// Decides final calls. Closures `FnMut(SessionKind, &Value) -> FinalDecision` are handlers.
pub trait FinalToolHandler: Send {
    fn decide(&mut self, kind: SessionKind, args: &Value) -> FinalDecision;
}

impl<F> FinalToolHandler for F
where
    F: FnMut(SessionKind, &Value) -> FinalDecision + Send,
{
    fn decide(&mut self, kind: SessionKind, args: &Value) -> FinalDecision {
        self(kind, args)
    }
}

/// Accepts every final call that passed its schema, as it is.
pub struct AcceptValid;

impl FinalToolHandler for AcceptValid {
    fn decide(&mut self, _kind: SessionKind, args: &Value) -> FinalDecision {
        FinalDecision::Accept(args.clone())
    }
}

/// Lints the plan on `submit_plan` (design §5: the plan's diagnostics, without the
/// validation results, until none is an error); other final calls are accepted as they are.
pub struct PlanLint {
    pub mission_dir: PathBuf,
}

impl FinalToolHandler for PlanLint {
    fn decide(&mut self, kind: SessionKind, args: &Value) -> FinalDecision {
        if kind != SessionKind::Orchestrator {
            return FinalDecision::Accept(args.clone());
        }
        match lint_plan(&self.mission_dir) {
            Ok(warnings) => FinalDecision::Accept(json!({"planDone": true, "warnings": warnings})),
            Err(problem) => FinalDecision::Reject(problem.for_planner(&self.mission_dir)),
        }
    }
}

/// Why a plan cannot run yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanProblem {
    /// Plan files that exist but cannot be read as text (not UTF-8, too large, a folder).
    Unreadable(Vec<String>),
    /// Plan files that do not exist.
    Missing(Vec<&'static str>),
    /// Error diagnostics (and the warnings beside them), one `file:line:col: …` row each.
    Errors { errors: Vec<String>, warnings: Vec<String> },
}

impl PlanProblem {
    /// For the planner, in answer to `submit_plan`.
    pub fn for_planner(&self, mission_dir: &Path) -> String {
        match self {
            PlanProblem::Errors { errors, warnings } => {
                let mut report = format!(
                    "the plan has {} error(s); fix them and call submit_plan again:\n{}",
                    errors.len(),
                    errors.join("\n")
                );
                if !warnings.is_empty() {
                    report.push_str("\nwarnings:\n");
                    report.push_str(&warnings.join("\n"));
                }
                report
            }
            other => other.for_person(mission_dir),
        }
    }

    /// For the person who runs the mission.
    pub fn for_person(&self, mission_dir: &Path) -> String {
        let dir = mission_dir.display();
        match self {
            PlanProblem::Unreadable(files) => format!("cannot read the plan in {dir}; fix or rewrite it first:\n{}", files.join("\n")),
            PlanProblem::Missing(files) => format!("the plan is incomplete: write {} in {dir} first", files.join(" and ")),
            PlanProblem::Errors { errors, .. } => format!(
                "the plan in {dir} has {} error(s); fix them, then run the mission again (`missions check` shows each in context):\n{}",
                errors.len(),
                errors.join("\n")
            ),
        }
    }
}

/// Lints the mission folder's plan: `Ok(warnings)` when no diagnostic is an error.
pub fn lint_plan(mission_dir: &Path) -> Result<Vec<String>, PlanProblem> {
    lint_plan_with(mission_dir, None)
}

/// [`lint_plan`], with the `Check:` commands' results on the mission's base commit (the
/// approval gate runs them): a check that passes there, or cannot run, is a warning.
pub fn lint_plan_with(
    mission_dir: &Path,
    base_checks: Option<&crate::analysis::checks::base::BaseChecks>,
) -> Result<Vec<String>, PlanProblem> {
    let texts = folder::read_mission(mission_dir);
    let plan_files = [folder::CONTRACT_FILE, folder::FEATURES_FILE].map(|name| mission_dir.join(name));
    let unreadable: Vec<String> = texts
        .errors
        .iter()
        .filter(|(path, _)| plan_files.contains(path))
        .map(|(path, e)| format!("{}: {e}", path.display()))
        .collect();
    if !unreadable.is_empty() {
        return Err(PlanProblem::Unreadable(unreadable));
    }
    let mut missing = Vec::new();
    if texts.contract.is_none() {
        missing.push(folder::CONTRACT_FILE);
    }
    if texts.features.is_none() {
        missing.push(folder::FEATURES_FILE);
    }
    if !missing.is_empty() {
        return Err(PlanProblem::Missing(missing));
    }
    let contract_text = texts.contract.as_deref().unwrap_or_default();
    let features_text = texts.features.as_deref().unwrap_or_default();
    let contract = crate::model::contract::parse(contract_text);
    let features = crate::model::features::parse(features_text);
    let input = MissionInput {
        contract: Some(&contract),
        features: Some(&features),
        skills: texts.skills.as_deref(),
        validation: None,
        base_checks,
        history: None,
    };
    let positions =
        [(DocKind::Contract, Positions::new(contract_text)), (DocKind::Features, Positions::new(features_text))];
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for d in checks::check(&input).into_iter().filter(|d| !d.code.is_validation_result()) {
        let place = match &d.target {
            Target::Doc { doc, span } => {
                let pos = &positions.iter().find(|(k, _)| k == doc).map(|(_, p)| p);
                let (line, col) = pos.map_or((0, 0), |p| p.line_col(span.start, ColumnUnit::CodePoint));
                let file = match doc {
                    DocKind::Contract => "validation-contract.md",
                    DocKind::Features => "features.json",
                };
                format!("{file}:{}:{}", line + 1, col + 1)
            }
            Target::SourceLine { path, line } => format!("{path}:{line}:1"),
        };
        let row = format!("{place}: {}[{}]: {}", d.severity.as_str(), d.code.as_str(), d.message);
        if d.severity == Severity::Error {
            errors.push(row);
        } else {
            warnings.push(row);
        }
    }
    if errors.is_empty() {
        return Ok(warnings);
    }
    Err(PlanProblem::Errors { errors, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_lint_rejects_errors_and_accepts_a_clean_plan() {
        let dir = tempfile::tempdir().unwrap();
        let mut lint = PlanLint { mission_dir: dir.path().to_path_buf() };
        let FinalDecision::Reject(msg) = lint.decide(SessionKind::Orchestrator, &json!({})) else { panic!() };
        assert!(msg.contains("validation-contract.md and features.json"), "{msg}");
        std::fs::write(
            dir.path().join("validation-contract.md"),
            "# C\n\n### VAL-A-001: One\nBody.\nTool: terminal\nEvidence: output\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("features.json"), r#"{"features": [{"id": "f1", "description": "d", "milestone": "m", "fulfills": ["VAL-A-002"], "status": "pending"}]}"#).unwrap();
        let FinalDecision::Reject(msg) = lint.decide(SessionKind::Orchestrator, &json!({})) else { panic!() };
        assert!(msg.contains("features.json:1:") && msg.contains("error[unknown-assertion]"), "{msg}");
        std::fs::write(dir.path().join("features.json"), r#"{"features": [{"id": "f1", "description": "d", "milestone": "m", "fulfills": ["VAL-A-001"], "status": "pending"}]}"#).unwrap();
        assert_eq!(
            lint.decide(SessionKind::Orchestrator, &json!({})),
            FinalDecision::Accept(json!({"planDone": true, "warnings": []}))
        );
        assert_eq!(lint.decide(SessionKind::Worker, &json!({"x": 1})), FinalDecision::Accept(json!({"x": 1})));
    }
}
