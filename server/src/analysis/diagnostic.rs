//! Diagnostics as the analysis produces them: byte spans into one of the two mission
//! documents (or a line of a source file, for validator issues), stable codes, related spans.

use crate::model::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Information,
    Hint,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Information => "information",
            Severity::Hint => "hint",
        }
    }

    /// Validator issue severities: blocking -> Error, non_blocking -> Warning, suggestion ->
    /// Information (droid writes `non_blocking`; `non-blocking` is read the same).
    pub fn of_issue(severity: &str) -> Severity {
        match severity {
            "non_blocking" | "non-blocking" => Severity::Warning,
            "suggestion" => Severity::Information,
            _ => Severity::Error,
        }
    }
}

/// The stable diagnostic codes of design §3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    JsonSyntax,
    Schema,
    DuplicateFeature,
    UnknownAssertion,
    DuplicateClaim,
    UnclaimedAssertion,
    DuplicateAssertion,
    MalformedId,
    MissingField,
    UnknownTool,
    UnknownSkill,
    UnknownDependency,
    DependencyCycle,
    MilestoneOrder,
    AssertionFailed,
    ValidatorIssue,
    AssertionBlocked,
    CheckPassesOnBase,
    CheckCannotRun,
    AssertionStale,
}

impl Code {
    pub const ALL: [Code; 20] = [
        Code::JsonSyntax,
        Code::Schema,
        Code::DuplicateFeature,
        Code::UnknownAssertion,
        Code::DuplicateClaim,
        Code::UnclaimedAssertion,
        Code::DuplicateAssertion,
        Code::MalformedId,
        Code::MissingField,
        Code::UnknownTool,
        Code::UnknownSkill,
        Code::UnknownDependency,
        Code::DependencyCycle,
        Code::MilestoneOrder,
        Code::AssertionFailed,
        Code::ValidatorIssue,
        Code::AssertionBlocked,
        Code::CheckPassesOnBase,
        Code::CheckCannotRun,
        Code::AssertionStale,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::JsonSyntax => "json-syntax",
            Code::Schema => "schema",
            Code::DuplicateFeature => "duplicate-feature",
            Code::UnknownAssertion => "unknown-assertion",
            Code::DuplicateClaim => "duplicate-claim",
            Code::UnclaimedAssertion => "unclaimed-assertion",
            Code::DuplicateAssertion => "duplicate-assertion",
            Code::MalformedId => "malformed-id",
            Code::MissingField => "missing-field",
            Code::UnknownTool => "unknown-tool",
            Code::UnknownSkill => "unknown-skill",
            Code::UnknownDependency => "unknown-dependency",
            Code::DependencyCycle => "dependency-cycle",
            Code::MilestoneOrder => "milestone-order",
            Code::AssertionFailed => "assertion-failed",
            Code::ValidatorIssue => "validator-issue",
            Code::AssertionBlocked => "assertion-blocked",
            Code::CheckPassesOnBase => "check-passes-on-base",
            Code::CheckCannotRun => "check-cannot-run",
            Code::AssertionStale => "assertion-stale",
        }
    }

    /// Codes that describe validation results rather than the plan itself.
    pub fn is_validation_result(self) -> bool {
        matches!(self, Code::AssertionFailed | Code::AssertionBlocked | Code::ValidatorIssue | Code::AssertionStale)
    }

    /// Codes that come from running the contract's `Check:` commands on the mission's base
    /// commit (`missions check --run-checks`, the approval gate, the editor in the background).
    pub fn is_base_check(self) -> bool {
        matches!(self, Code::CheckPassesOnBase | Code::CheckCannotRun)
    }

    /// Codes that only the mission's git repository can give (its base commit's checks, its
    /// history): a folder outside a repository never gets them.
    pub fn needs_repository(self) -> bool {
        self.is_base_check() || self == Code::AssertionStale
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One of the two live mission documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DocKind {
    Contract,
    Features,
}

/// Where a diagnostic is shown.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    Doc {
        doc: DocKind,
        span: Span,
    },
    /// A line (1-based) of a file of the working directory, named by a validator issue.
    SourceLine {
        path: String,
        line: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    pub doc: DocKind,
    pub span: Span,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub target: Target,
    pub severity: Severity,
    pub code: Code,
    pub message: String,
    pub related: Vec<Related>,
}

impl Diagnostic {
    pub fn on(doc: DocKind, span: Span, code: Code, severity: Severity, message: impl Into<String>) -> Self {
        Diagnostic { target: Target::Doc { doc, span }, severity, code, message: message.into(), related: Vec::new() }
    }

    pub fn with_related(mut self, doc: DocKind, span: Span, message: impl Into<String>) -> Self {
        self.related.push(Related { doc, span, message: message.into() });
        self
    }

    /// The document this diagnostic is on, if it is on one of the two mission documents.
    pub fn doc(&self) -> Option<DocKind> {
        match &self.target {
            Target::Doc { doc, .. } => Some(*doc),
            Target::SourceLine { .. } => None,
        }
    }
}
