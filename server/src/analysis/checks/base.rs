//! `Check:` commands as they ran on the mission's base commit, before any work
//! (`runner/base_checks.rs` runs them; this rule only reads the results). A check that already
//! passes there cannot tell the work from none (`check-passes-on-base`); one that could not run
//! at all (a missing tool, a timeout) proves nothing either (`check-cannot-run`). A check that
//! fails on the base is what a check should do before the work: no diagnostic.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::analysis::diagnostic::{Code, Diagnostic, DocKind, Severity};
use crate::model::Contract;

/// How one command ended on the base commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "outcome")]
pub enum BaseOutcome {
    /// Exit 0: the check passes before the work.
    #[serde(rename_all = "camelCase")]
    Passed { output_tail: String },
    /// A non-zero exit: the check fails before the work, as it should.
    #[serde(rename_all = "camelCase")]
    Failed { exit_code: i32 },
    /// It could not run: why (`pytest` is not installed, a timeout, a command that cannot start).
    #[serde(rename_all = "camelCase")]
    CannotRun { reason: String },
}

/// The results of the contract's `Check:` commands on one commit, by command text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BaseChecks {
    pub commit: String,
    pub results: HashMap<String, BaseOutcome>,
}

pub(super) fn check(contract: &Contract, base: &BaseChecks, out: &mut Vec<Diagnostic>) {
    let short = short(&base.commit);
    for a in &contract.assertions {
        let Some(check) = &a.check else { continue };
        let Some(outcome) = base.results.get(&check.value) else { continue };
        let (code, message) = match outcome {
            BaseOutcome::Failed { .. } => continue,
            BaseOutcome::Passed { .. } => (
                Code::CheckPassesOnBase,
                format!("`Check:` of `{}` already passes on the mission's base commit {short}, before any work: it cannot tell the work from none; make it test what the feature adds", a.id.value),
            ),
            BaseOutcome::CannotRun { reason } => (Code::CheckCannotRun, format!("`Check:` of `{}` could not run on the base commit {short}: {reason}; until it runs it proves nothing", a.id.value)),
        };
        out.push(Diagnostic::on(DocKind::Contract, check.span.clone(), code, Severity::Warning, message));
    }
}

fn short(commit: &str) -> &str {
    commit.get(..10).unwrap_or(commit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::contract;

    #[test]
    fn only_checks_that_pass_or_cannot_run_on_the_base_are_flagged() {
        let c = contract::parse("### VAL-A-001: vacuous\nCheck: true\n\n### VAL-A-002: honest\nCheck: test -f out.txt\n\n### VAL-A-003: no tool\nCheck: pytest -q\n\n### VAL-A-004: not run yet\nCheck: sleep 1\n");
        let results = HashMap::from([
            ("true".to_string(), BaseOutcome::Passed { output_tail: String::new() }),
            ("test -f out.txt".to_string(), BaseOutcome::Failed { exit_code: 1 }),
            (
                "pytest -q".to_string(),
                BaseOutcome::CannotRun { reason: "`pytest` is not installed (command not found)".into() },
            ),
        ]);
        let mut out = Vec::new();
        check(&c, &BaseChecks { commit: "0123456789abcdef".into(), results }, &mut out);
        let got: Vec<(Code, &str)> = out.iter().map(|d| (d.code, d.message.as_str())).collect();
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].0, Code::CheckPassesOnBase);
        assert!(got[0].1.contains("VAL-A-001") && got[0].1.contains("0123456789"), "{}", got[0].1);
        assert_eq!(got[1], (Code::CheckCannotRun, "`Check:` of `VAL-A-003` could not run on the base commit 0123456789: `pytest` is not installed (command not found); until it runs it proves nothing"));
    }

    #[test]
    fn outcomes_round_trip_as_json() {
        for o in [
            BaseOutcome::Passed { output_tail: "ok".into() },
            BaseOutcome::Failed { exit_code: 3 },
            BaseOutcome::CannotRun { reason: "timed out after 1 s".into() },
        ] {
            let text = serde_json::to_string(&o).unwrap();
            assert_eq!(serde_json::from_str::<BaseOutcome>(&text).unwrap(), o, "{text}");
        }
        assert_eq!(
            serde_json::to_string(&BaseOutcome::Failed { exit_code: 3 }).unwrap(),
            r#"{"outcome":"failed","exitCode":3}"#
        );
    }
}
