//! The red-green proof of a completed feature, kept beside its handoff
//! (`proofs/<the handoff's file name>`, written once with it): the commands run at the
//! feature's start commit and at the handoff's commit, their exit codes and output tails, the
//! verdict.
//! `runner/proof.rs` makes it; the editor's hover over the feature shows it.

use serde::{Deserialize, Serialize};

/// How one run went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunResult {
    /// Not run: none of its test files exist at this commit.
    Absent,
    Passed,
    Failed,
    /// It exited 0 without running a test (pytest's exit 5, `running 0 tests`, …).
    NoTests,
    /// It could not run (timed out, could not start).
    CannotRun,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProofRun {
    pub command: String,
    pub files: Vec<String>,
    pub result: RunResult,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output_tail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProofSide {
    pub commit: String,
    pub runs: Vec<ProofRun>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every listed test was red at the start and is green at the handoff.
    Proven,
    /// Nothing contradicts the claim, but part of it could not be proven (said in `reasons`).
    Unproven,
    /// Tests pass before the work, fail after it, or none are listed for an assertion.
    Refused,
}

/// The proof of one handoff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Proof {
    pub verdict: Verdict,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<ProofSide>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<ProofSide>,
}
