//! Snapshot tests of the analysis: one in-memory fixture per diagnostic code, rendered with
//! positions and the exact text each span covers, so a wrong span shows in the snapshot.

use missions::analysis::checks::base::{BaseChecks, BaseOutcome};
use missions::analysis::drift::{CommitFacts, History, Work};
use missions::analysis::position::{ColumnUnit, Positions};
use missions::analysis::{check, Diagnostic, DocKind, MissionInput, Target};
use missions::model::folder::{MilestoneRecords, ValidationRecords};
use missions::model::records;
use missions::model::{contract, features};

struct Fixture<'a> {
    contract: Option<&'a str>,
    features: Option<&'a str>,
    skills: Option<&'a [&'a str]>,
    /// validation-state.json.
    validation: Option<&'a str>,
}

/// The scrutiny reviews of milestone `m1` the validation fixtures add.
fn with_reviews(state: &str, reviews: &[&str]) -> ValidationRecords {
    let milestones = if reviews.is_empty() {
        Vec::new()
    } else {
        vec![MilestoneRecords {
            folder: "m1".into(),
            reviews: reviews.iter().map(|r| records::load(r).value.expect("fixture review parses")).collect(),
            ..Default::default()
        }]
    };
    ValidationRecords { state: records::load(state).value, milestones }
}

const CONTRACT: &str = "# Validation contract: demo\n\n## Auth\n\n### VAL-AUTH-001: Login works\nA user logs in.\nTool: terminal\nEvidence: output(login)\n\n### VAL-AUTH-002: Logout works\nA user logs out.\nTool: http\nEvidence: network(POST /logout -> 204)\n";

fn feature(id: &str, milestone: &str, fulfills: &str) -> String {
    format!(
        r#"{{"id": "{id}", "description": "d", "milestone": "{milestone}", "status": "pending", "fulfills": [{fulfills}]}}"#
    )
}

fn features_doc(items: &[String]) -> String {
    format!("{{\"features\": [\n  {}\n]}}\n", items.join(",\n  "))
}

fn render(fx: &Fixture) -> String {
    render_with(fx, fx.validation.map(|v| with_reviews(v, &[])))
}

fn render_with(fx: &Fixture, validation: Option<ValidationRecords>) -> String {
    render_from_repository(fx, validation, None, None)
}

/// With what the mission's git repository adds: the base checks' results, the history.
fn render_from_repository(
    fx: &Fixture,
    validation: Option<ValidationRecords>,
    base_checks: Option<&BaseChecks>,
    history: Option<&History>,
) -> String {
    let c = fx.contract.map(contract::parse);
    let f = fx.features.map(features::parse);
    let skills: Option<Vec<String>> = fx.skills.map(|s| s.iter().map(|x| x.to_string()).collect());
    let input = MissionInput {
        contract: c.as_ref(),
        features: f.as_ref(),
        skills: skills.as_deref(),
        validation: validation.as_ref(),
        base_checks,
        history,
    };
    let diags = check(&input);
    let mut out = String::new();
    for d in &diags {
        out.push_str(&line_of(fx, d));
        out.push('\n');
        for r in &d.related {
            let (name, text) = doc(fx, r.doc);
            let (l, col) = Positions::new(text).line_col(r.span.start, ColumnUnit::CodePoint);
            out.push_str(&format!(
                "    related {name}:{}:{} `{}`: {}\n",
                l + 1,
                col + 1,
                &text[r.span.clone()],
                r.message
            ));
        }
    }
    out
}

fn doc<'a>(fx: &Fixture<'a>, kind: DocKind) -> (&'static str, &'a str) {
    match kind {
        DocKind::Contract => ("validation-contract.md", fx.contract.unwrap()),
        DocKind::Features => ("features.json", fx.features.unwrap()),
    }
}

fn line_of(fx: &Fixture, d: &Diagnostic) -> String {
    match &d.target {
        Target::Doc { doc: kind, span } => {
            let (name, text) = doc(fx, *kind);
            let (l, col) = Positions::new(text).line_col(span.start, ColumnUnit::CodePoint);
            format!(
                "{name}:{}:{} {}[{}] `{}`: {}",
                l + 1,
                col + 1,
                d.severity.as_str(),
                d.code,
                &text[span.clone()],
                d.message
            )
        }
        Target::SourceLine { path, line } => {
            format!("{path}:{line} {}[{}]: {}", d.severity.as_str(), d.code, d.message)
        }
    }
}

#[test]
fn clean_mission_has_no_diagnostics() {
    let f = features_doc(&[
        feature("feat-login", "m1", r#""VAL-AUTH-001""#),
        feature("feat-logout", "m1", r#""VAL-AUTH-002""#),
    ]);
    assert_eq!(render(&Fixture { contract: Some(CONTRACT), features: Some(&f), skills: None, validation: None }), "");
}

#[test]
fn json_syntax_recovers_and_keeps_checking() {
    let f = "{\"features\": [\n  {\"id\": \"a\", \"description\": \"d\" \"milestone\": \"m\", \"status\": \"pending\", \"fulfills\": [\"VAL-AUTH-001\"]},\n  {\"id\": \"b\", \"description\": \"d\", \"milestone\": \"m\", \"status\": pending, \"fulfills\": [\"VAL-AUTH-002\", \"VAL-AUTH-404\"]}\n";
    insta::assert_snapshot!(render(&Fixture {
        contract: Some(CONTRACT),
        features: Some(f),
        skills: None,
        validation: None
    }));
}

#[test]
fn schema_problems() {
    let f = "{\"features\": [\n  {\"id\": 7, \"description\": \"d\", \"milestone\": true, \"status\": \"failed\", \"fulfills\": \"VAL-AUTH-001\"},\n  {\"description\": \"d\", \"milestone\": \"m\", \"status\": \"pending\", \"expectedBehavior\": 3},\n  {\"id\": \"fix-1\", \"description\": \"d\", \"milestone\": \"m\", \"status\": \"pending\", \"currentWorkerSessionId\": 5},\n  {\"id\": \"c\", \"description\": \"d\", \"milestone\": \"m\", \"status\": \"pending\", \"fulfills\": [\"VAL-AUTH-001\", \"VAL-AUTH-001\", \"login\"]}\n]}";
    insta::assert_snapshot!(render(&Fixture {
        contract: Some(CONTRACT),
        features: Some(f),
        skills: None,
        validation: None
    }));
}

#[test]
fn duplicates_unknown_and_unclaimed() {
    let f = features_doc(&[
        feature("feat-a", "m1", r#""VAL-AUTH-001""#),
        feature("feat-b", "m1", r#""VAL-AUTH-001", "VAL-AUTH-999""#),
        feature("feat-a", "m1", ""),
    ]);
    let contract = format!("{CONTRACT}\n### VAL-AUTH-002: Again\nTool: terminal\nEvidence: x\n");
    insta::assert_snapshot!(render(&Fixture {
        contract: Some(&contract),
        features: Some(&f),
        skills: None,
        validation: None
    }));
}

#[test]
fn cancelled_features_do_not_claim() {
    let mut cancelled = feature("feat-old", "m1", r#""VAL-AUTH-002""#);
    cancelled = cancelled.replace("\"pending\"", "\"cancelled\"");
    let f = features_doc(&[feature("feat-a", "m1", r#""VAL-AUTH-001""#), cancelled]);
    insta::assert_snapshot!(render(&Fixture {
        contract: Some(CONTRACT),
        features: Some(&f),
        skills: None,
        validation: None
    }));
}

#[test]
fn contract_checks_malformed_missing_and_unknown_tool() {
    let contract = "# C\n\n## UI\n\n### VAL-UI-01: Too short\nTool: terminal\nEvidence: x\n\n### val_ui_002: Lower case\n\n### VAL-UI-003: No fields\nJust prose mentioning VAL-bad-1, which is not checked.\n\n### VAL-UI-004: Odd tool\nTool: selenium\nEvidence:\n";
    let f = features_doc(&[feature("feat-ui", "m1", r#""VAL-UI-003", "VAL-UI-004", "VAL-ui-5""#)]);
    insta::assert_snapshot!(render(&Fixture {
        contract: Some(contract),
        features: Some(&f),
        skills: None,
        validation: None
    }));
}

#[test]
fn dependencies_skills_and_milestones() {
    let with = |id: &str, m: &str, deps: &str, skill: &str, claims: &str| {
        format!(
            r#"{{"id": "{id}", "description": "d", "skillName": "{skill}", "preconditions": [{deps}], "milestone": "{m}", "status": "pending", "fulfills": [{claims}]}}"#
        )
    };
    let f = features_doc(&[
        with("feat-a", "one", r#""feat-b is complete""#, "backend-worker", r#""VAL-AUTH-001""#),
        with(
            "feat-b",
            "one",
            r#""feat-a", "feat-ghost is complete", "VAL-AUTH-001 passes", "the database is up""#,
            "backend-worker",
            "",
        ),
        with("feat-c", "two", "", "frontend-worker", r#""VAL-AUTH-002""#),
        with("feat-d", "one", r#""feat-c", "feat-d""#, "backend-worker", ""),
        with("scrutiny-validator-one", "one", "", "scrutiny-validator", ""),
        with("feat-e", "one", "", "", ""),
    ]);
    insta::assert_snapshot!(render(&Fixture {
        contract: Some(CONTRACT),
        features: Some(&f),
        skills: Some(&["backend-worker"]),
        validation: None
    }));
}

#[test]
fn validation_results_failed_blocked_and_issues() {
    let f = features_doc(&[
        feature("feat-login", "m1", r#""VAL-AUTH-001""#),
        feature("feat-logout", "m1", r#""VAL-AUTH-002""#),
    ]);
    // droid's validation-state: a blocked assertion is `failed`, with our `blocked` key.
    let validation = r#"{"assertions": {
      "VAL-AUTH-001": {"status": "failed", "issues": "500 on an upper-case email"},
      "VAL-AUTH-002": {"status": "failed", "issues": "no test server", "blocked": true}
    }}"#;
    let review = r#"{"featureId": "feat-login", "reviewedAt": "2026-01-01T00:00:00.000Z", "status": "fail", "codeReview": {"summary": "s", "issues": [
        {"file": "src/auth.rs", "line": 42, "severity": "blocking", "description": "lower-cases nothing"},
        {"file": "src/auth.rs", "line": 7, "severity": "suggestion", "description": "name the handler"},
        {"file": "../outside.rs", "line": 1, "severity": "blocking", "description": "not shown: outside the working directory"},
        {"file": "src/auth.rs", "severity": "non_blocking", "description": "no line: the first"}]}}"#;
    let fx = Fixture { contract: Some(CONTRACT), features: Some(&f), skills: None, validation: Some(validation) };
    insta::assert_snapshot!(render_with(&fx, Some(with_reviews(validation, &[review]))));
}

#[test]
fn a_passed_milestone_clears_its_review_findings() {
    let f = features_doc(&[
        feature("feat-login", "m1", r#""VAL-AUTH-001""#),
        feature("feat-logout", "m1", r#""VAL-AUTH-002""#),
    ]);
    let validation = r#"{"assertions": {"VAL-AUTH-001": {"status": "passed", "validatedAtMilestone": "m1"}, "VAL-AUTH-002": {"status": "passed", "validatedAtMilestone": "m1"}}}"#;
    let review = r#"{"featureId": "feat-login", "status": "pass", "codeReview": {"summary": "s", "issues": [{"file": "src/auth.rs", "line": 42, "severity": "non_blocking", "description": "fixed since"}]}}"#;
    let fx = Fixture { contract: Some(CONTRACT), features: Some(&f), skills: None, validation: Some(validation) };
    assert_eq!(render_with(&fx, Some(with_reviews(validation, &[review]))), "");
}

#[test]
fn columns_after_emoji_cjk_and_zwj() {
    let contract = "## 認証 🎉\n\n### VAL-AUTH-001: ログイン 👩‍👩‍👧 works\nTool: terminal\nEvidence: x\n";
    let f = "{\"features\": [\n  {\"description\": \"🎉 漢字 👩‍👩‍👧\", \"id\": \"f\", \"milestone\": \"m\", \"status\": \"pending\", \"fulfills\": [\"VAL-AUTH-001\", \"VAL-AUTH-404\"]}\n]}";
    insta::assert_snapshot!(render(&Fixture {
        contract: Some(contract),
        features: Some(f),
        skills: None,
        validation: None
    }));
}

#[test]
fn contract_alone_and_features_alone_skip_cross_checks() {
    assert_eq!(render(&Fixture { contract: Some(CONTRACT), features: None, skills: None, validation: None }), "");
    let f = features_doc(&[feature("feat-a", "m1", r#""VAL-NOPE-001""#)]);
    assert_eq!(render(&Fixture { contract: None, features: Some(&f), skills: None, validation: None }), "");
}

#[test]
fn checks_that_pass_on_the_base_or_cannot_run_there() {
    let contract = "# C\n\n### VAL-CLI-001: Version\nTool: terminal\nEvidence: output\nCheck: test -f README.md\n\n### VAL-CLI-002: Add\nTool: terminal\nEvidence: output\nCheck: sh calc.sh add 2 3 | grep -qx 5\n\n### VAL-CLI-003: Lint\nTool: terminal\nEvidence: output\nCheck: ruff check .\n";
    let f = features_doc(&[feature("feat-cli", "m1", r#""VAL-CLI-001", "VAL-CLI-002", "VAL-CLI-003""#)]);
    let results = [
        ("test -f README.md", BaseOutcome::Passed { output_tail: String::new() }),
        ("sh calc.sh add 2 3 | grep -qx 5", BaseOutcome::Failed { exit_code: 1 }),
        ("ruff check .", BaseOutcome::CannotRun { reason: "`ruff` is not installed (command not found)".into() }),
    ];
    let base = BaseChecks {
        commit: "4f4bd47a1c0e2d9b8f7e6a5b4c3d2e1f00112233".into(),
        results: results.into_iter().map(|(c, o)| (c.to_string(), o)).collect(),
    };
    insta::assert_snapshot!(render_from_repository(
        &Fixture { contract: Some(contract), features: Some(&f), skills: None, validation: None },
        None,
        Some(&base),
        None
    ));
}

#[test]
fn a_later_commit_on_a_features_files_makes_its_passed_assertion_stale() {
    let f = features_doc(&[
        feature("feat-login", "m1", r#""VAL-AUTH-001""#),
        feature("feat-logout", "m2", r#""VAL-AUTH-002""#),
    ]);
    let validation = r#"{"assertions": {"VAL-AUTH-001": {"status": "passed", "validatedAtMilestone": "m1", "validatedAtCommit": "c2"}, "VAL-AUTH-002": {"status": "pending"}}}"#;
    let commit = |id: &str, parent: &str, subject: &str, files: &[&str]| CommitFacts {
        id: id.into(),
        parents: vec![parent.into()],
        time: "2026-01-01T10:00:00".into(),
        subject: subject.into(),
        files: files.iter().map(|f| f.to_string()).collect(),
    };
    let history = History {
        commits: vec![
            commit("c1", "c0", "feat-login: the login form", &["src/auth.rs", "tests/login.rs"]),
            commit("c2", "c1", "docs", &["README.md"]),
            commit("c3", "c2", "feat-logout: rework sessions", &["src/auth.rs", "src/session.rs"]),
        ],
        work: vec![
            Work { feature: "feat-login".into(), base: Some("c0".into()), commit: "c1".into() },
            Work { feature: "feat-logout".into(), base: Some("c2".into()), commit: "c3".into() },
        ],
        validated_at: Default::default(),
    };
    let fx = Fixture { contract: Some(CONTRACT), features: Some(&f), skills: None, validation: Some(validation) };
    insta::assert_snapshot!(render_from_repository(&fx, Some(with_reviews(validation, &[])), None, Some(&history)));
}

#[test]
fn every_code_is_covered_by_these_fixtures() {
    // Guards this file: a code added to the analysis needs a fixture whose snapshot shows it.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli/snapshots");
    let mut all = String::new();
    for entry in std::fs::read_dir(dir).expect("snapshots folder") {
        let path = entry.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().starts_with("cli__analysis_codes__") {
            all.push_str(&std::fs::read_to_string(path).unwrap());
        }
    }
    for code in missions::analysis::Code::ALL {
        assert!(all.contains(&format!("[{}]", code.as_str())), "no snapshot shows `{}`", code.as_str());
    }
}
