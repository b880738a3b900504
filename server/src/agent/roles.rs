//! The four kinds of session: their system prompts, their tools, their final tool, and where
//! they may write.

use crate::agent::message::ToolSchema;
use crate::agent::tools::{self, WritePolicy};
use crate::config::AgentRole;
use std::path::Path;

const COMMON: &str = include_str!("prompts/common.md");
const ORCHESTRATOR: &str = include_str!("prompts/orchestrator.md");
const WORKER: &str = include_str!("prompts/worker.md");
const SCRUTINY: &str = include_str!("prompts/scrutiny_validator.md");
const USER_TESTING: &str = include_str!("prompts/user_testing_validator.md");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionKind {
    Orchestrator,
    Worker,
    ScrutinyValidator,
    UserTestingValidator,
}

impl SessionKind {
    pub const ALL: [SessionKind; 4] = [
        SessionKind::Orchestrator,
        SessionKind::Worker,
        SessionKind::ScrutinyValidator,
        SessionKind::UserTestingValidator,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Orchestrator => "orchestrator",
            SessionKind::Worker => "worker",
            SessionKind::ScrutinyValidator => "scrutiny",
            SessionKind::UserTestingValidator => "user-testing",
        }
    }

    /// The `[roles.*]` table that configures this kind (both validators share one).
    pub fn agent_role(self) -> AgentRole {
        match self {
            SessionKind::Orchestrator => AgentRole::Orchestrator,
            SessionKind::Worker => AgentRole::Worker,
            SessionKind::ScrutinyValidator | SessionKind::UserTestingValidator => AgentRole::Validator,
        }
    }

    /// The call that ends the session.
    pub fn final_tool(self) -> &'static str {
        match self {
            SessionKind::Orchestrator => "submit_plan",
            SessionKind::Worker => "submit_handoff",
            SessionKind::ScrutinyValidator => "submit_review",
            SessionKind::UserTestingValidator => "submit_validation",
        }
    }

    pub fn write_policy(self) -> WritePolicy {
        match self {
            SessionKind::Orchestrator => WritePolicy::PlanFiles,
            SessionKind::Worker => WritePolicy::WorkingDirectory,
            SessionKind::ScrutinyValidator | SessionKind::UserTestingValidator => WritePolicy::EvidenceOnly,
        }
    }

    /// Tool names offered to the model, the final tool last. The user-testing validator's
    /// `browser` and `terminal` need the session's evidence folder (`SessionSpec::evidence`).
    pub fn tool_names(self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = tools::FILE_TOOLS.to_vec();
        if self == SessionKind::Orchestrator {
            names.push("ask_user");
        }
        if self == SessionKind::UserTestingValidator {
            names.extend(tools::PERSON_TOOLS);
        }
        names.push(self.final_tool());
        names
    }

    pub fn tools(self) -> Vec<ToolSchema> {
        self.tool_names().into_iter().filter_map(tools::schema_of).collect()
    }

    /// The role's instructions, stable across sessions (so providers can cache them).
    pub fn role_prompt(self) -> String {
        let role = match self {
            SessionKind::Orchestrator => ORCHESTRATOR,
            SessionKind::Worker => WORKER,
            SessionKind::ScrutinyValidator => SCRUTINY,
            SessionKind::UserTestingValidator => USER_TESTING,
        };
        format!("{COMMON}\n{role}")
    }

    /// System blocks: the stable role prompt, then where this session works.
    pub fn system_prompt(self, working_dir: &Path, mission_dir: &Path) -> Vec<String> {
        vec![
            self.role_prompt(),
            format!(
                "Working directory: {}\nMission folder: {}\nYour final tool: `{}`.",
                working_dir.display(),
                mission_dir.display(),
                self.final_tool()
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_carry_the_principles() {
        let worker = SessionKind::Worker.role_prompt();
        assert!(worker.contains("tests first") || worker.contains("test-first"));
        assert!(worker.contains("Commit") && worker.contains("whatWasLeftUndone") && worker.contains("successState"));
        for v in [SessionKind::ScrutinyValidator, SessionKind::UserTestingValidator] {
            let p = v.role_prompt();
            assert!(p.contains("never fix"), "{v:?}");
            assert!(p.contains("did not write"), "{v:?}");
        }
        assert!(SessionKind::UserTestingValidator.role_prompt().contains("black box"));
        let o = SessionKind::Orchestrator.role_prompt();
        assert!(o.find("validation-contract.md").unwrap() < o.find("features.json").unwrap());
    }

    #[test]
    fn every_kind_gets_its_final_tool_and_only_the_orchestrator_asks() {
        for kind in SessionKind::ALL {
            let names = kind.tool_names();
            assert_eq!(names.last(), Some(&kind.final_tool()));
            assert_eq!(names.contains(&"ask_user"), kind == SessionKind::Orchestrator);
            assert_eq!(kind.tools().len(), names.len(), "every tool has a schema");
            assert_eq!(
                names.contains(&"browser") && names.contains(&"terminal"),
                kind == SessionKind::UserTestingValidator,
                "only the user-testing validator uses the system as a person would"
            );
        }
    }
}
