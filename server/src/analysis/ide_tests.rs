//! Data-driven tests of the pure IDE functions, in rust-analyzer's style: a fixture holds the
//! mission's files (`//- name` starts one) with a `$0` cursor where a query needs one, and the
//! expected result is written inline as the text with the answer marked in it, so a reader sees
//! what each span covers without counting offsets.

use std::sync::Arc;

use super::diagnostic::DocKind;
use super::hover::{assertion_hover, feature_hover};
use super::index::IdAt;
use super::inlay::feature_hints;
use super::links::evidence_links;
use super::mission::{MissionAnalysis, MissionParts};
use super::navigate::{definition, references, FileRef};
use super::tokens::{contract_tokens, features_tokens, TokenKind};
use crate::model::{contract, features, Span};

const CURSOR: &str = "$0";

/// The files of a fixture, the cursor's file and byte offset (with the marker removed).
struct Fixture {
    files: Vec<(String, String)>,
    cursor: Option<(String, usize)>,
}

impl Fixture {
    fn parse(text: &str) -> Fixture {
        let mut files: Vec<(String, String)> = Vec::new();
        for line in text.lines() {
            match line.strip_prefix("//- ") {
                Some(name) => files.push((name.trim().to_string(), String::new())),
                None if files.is_empty() && line.trim().is_empty() => {}
                None => {
                    let (_, body) = files.last_mut().expect("a fixture starts with `//- <file name>`");
                    body.push_str(line);
                    body.push('\n');
                }
            }
        }
        let mut cursor = None;
        for (name, body) in &mut files {
            if let Some(at) = body.find(CURSOR) {
                body.replace_range(at..at + CURSOR.len(), "");
                cursor = Some((name.clone(), at));
            }
        }
        Fixture { files, cursor }
    }

    fn file(&self, name: &str) -> &str {
        self.files.iter().find(|(n, _)| n == name).map_or("", |(_, body)| body)
    }

    fn analysis(&self) -> MissionAnalysis {
        MissionAnalysis::new(MissionParts {
            contract: Some(Arc::new(contract::parse(self.file("validation-contract.md")))),
            features: Some(Arc::new(features::parse(self.file("features.json")))),
            ..MissionParts::default()
        })
    }

    fn id_at_cursor(&self, analysis: &MissionAnalysis) -> Option<IdAt> {
        let (name, at) = self.cursor.as_ref().expect("the fixture has a $0 cursor");
        analysis.id_at(self.file(name), *at)
    }

    fn doc(name: &str) -> FileRef {
        match name {
            "validation-contract.md" => FileRef::Doc(DocKind::Contract),
            "features.json" => FileRef::Doc(DocKind::Features),
            other => FileRef::Other(other.to_string()),
        }
    }
}

/// `text` with each span wrapped as `‹covered text›tag` (tag may be empty); spans never overlap.
fn marked(text: &str, spans: &[(Span, String)]) -> String {
    let mut spans = spans.to_vec();
    spans.sort_by_key(|(s, _)| s.start);
    let mut out = String::new();
    let mut at = 0;
    for (span, tag) in spans {
        out.push_str(&text[at..span.start]);
        out.push('‹');
        out.push_str(&text[span.clone()]);
        out.push('›');
        out.push_str(&tag);
        at = span.end;
    }
    out.push_str(&text[at..]);
    out
}

const MISSION: &str = r#"
//- validation-contract.md
# Calculator
## Basics
### VAL-CALC-001: Adds two numbers
`calc add 2 3` prints 5.
Tool: terminal
Evidence: output

### VAL-CALC-002: Subtracts
`calc sub 5 3` prints 2; see VAL-CALC-001 for the format.
Tool: terminal
Evidence: output
//- features.json
{"features": [
  {"id": "feat-add", "description": "Addition in the calculator", "milestone": "basics", "status": "completed", "fulfills": ["VAL-CALC-001"]},
  {"id": "feat-sub", "description": "Subtraction", "milestone": "basics", "status": "pending", "preconditions": ["feat-add is complete"], "fulfills": ["VAL-CALC-002"]}
]}
//- mission.md
# Calculator
The work of VAL-CALC-001 and VAL-CALC-002, evidence in `evidence/basics/VAL-CALC-001.txt`.
"#;

/// The mission with the cursor put at the first occurrence of `at` in `file`, plus `offset`.
fn with_cursor(file: &str, at: &str, offset: usize) -> String {
    let header = format!("//- {file}\n");
    let start = MISSION.find(&header).unwrap() + header.len();
    let pos = start + MISSION[start..].find(at).unwrap() + offset;
    format!("{}{CURSOR}{}", &MISSION[..pos], &MISSION[pos..])
}

/// Each case's cursor line (`$0` kept) and the first line of what the query answers.
fn render_cases(cases: &[String], answer: impl Fn(&Fixture, &MissionAnalysis) -> String) -> String {
    let mut out = String::new();
    for fixture in cases {
        let f = Fixture::parse(fixture);
        let analysis = f.analysis();
        let cursor_line = fixture.lines().find(|l| l.contains(CURSOR)).unwrap_or_default().trim();
        out.push_str(&format!("{cursor_line}\n  => {}\n", answer(&f, &analysis)));
    }
    out
}

fn check(actual: String, expected: &str) {
    assert_eq!(actual.trim_end(), expected.trim(), "\n--- actual ---\n{actual}");
}

#[test]
fn hover_names_the_id_under_the_cursor_in_any_file() {
    let cases = [
        with_cursor("features.json", "VAL-CALC-001", 4),
        with_cursor("mission.md", "VAL-CALC-002", 0),
        with_cursor("mission.md", "VAL-CALC-002", 12),
        with_cursor("features.json", "feat-add\", \"desc", 3),
        with_cursor("features.json", "feat-add is complete", 8),
        with_cursor("features.json", "feat-add is complete", 9),
        with_cursor("validation-contract.md", "prints 5", 0),
    ];
    let actual = render_cases(&cases, |f, analysis| match f.id_at_cursor(analysis) {
        Some(IdAt::Assertion { id, .. }) => assertion_hover(analysis, &id).replace('\n', "⏎"),
        Some(IdAt::Feature { id, .. }) => feature_hover(analysis, &id).replace('\n', "⏎"),
        None => "nothing".into(),
    });
    check(
        actual,
        r#"
{"id": "feat-add", "description": "Addition in the calculator", "milestone": "basics", "status": "completed", "fulfills": ["VAL-$0CALC-001"]},
  => **VAL-CALC-001**: Adds two numbers⏎⏎*Area:* Basics⏎⏎`calc add 2 3` prints 5.⏎⏎*Tool:* `terminal`  ⏎*Evidence:* output  ⏎*Claimed by:* `feat-add` (milestone `basics`, completed)  ⏎*Validation:* not validated yet
The work of VAL-CALC-001 and $0VAL-CALC-002, evidence in `evidence/basics/VAL-CALC-001.txt`.
  => **VAL-CALC-002**: Subtracts⏎⏎*Area:* Basics⏎⏎`calc sub 5 3` prints 2; see VAL-CALC-001 for the format.⏎⏎*Tool:* `terminal`  ⏎*Evidence:* output  ⏎*Claimed by:* `feat-sub` (milestone `basics`, pending)  ⏎*Validation:* not validated yet
The work of VAL-CALC-001 and VAL-CALC-002$0, evidence in `evidence/basics/VAL-CALC-001.txt`.
  => **VAL-CALC-002**: Subtracts⏎⏎*Area:* Basics⏎⏎`calc sub 5 3` prints 2; see VAL-CALC-001 for the format.⏎⏎*Tool:* `terminal`  ⏎*Evidence:* output  ⏎*Claimed by:* `feat-sub` (milestone `basics`, pending)  ⏎*Validation:* not validated yet
{"id": "fea$0t-add", "description": "Addition in the calculator", "milestone": "basics", "status": "completed", "fulfills": ["VAL-CALC-001"]},
  => **feat-add**⏎⏎Addition in the calculator⏎⏎*Milestone:* `basics`  ⏎*Status:* `completed`  ⏎*Fulfills:* VAL-CALC-001  ⏎*Last handoff:* none yet
{"id": "feat-sub", "description": "Subtraction", "milestone": "basics", "status": "pending", "preconditions": ["feat-add$0 is complete"], "fulfills": ["VAL-CALC-002"]}
  => **feat-add**⏎⏎Addition in the calculator⏎⏎*Milestone:* `basics`  ⏎*Status:* `completed`  ⏎*Fulfills:* VAL-CALC-001  ⏎*Last handoff:* none yet
{"id": "feat-sub", "description": "Subtraction", "milestone": "basics", "status": "pending", "preconditions": ["feat-add $0is complete"], "fulfills": ["VAL-CALC-002"]}
  => nothing
`calc add 2 3` $0prints 5.
  => nothing
"#,
    );
}

#[test]
fn definition_and_references_mark_every_mention() {
    let cases = [with_cursor("mission.md", "VAL-CALC-001", 3), with_cursor("features.json", "feat-add\", \"desc", 0)];
    let actual = render_cases(&cases, |f, analysis| {
        let target = f.id_at_cursor(analysis).expect("an id under the cursor");
        let texts: Vec<(FileRef, &str)> = f.files.iter().map(|(n, body)| (Fixture::doc(n), body.as_str())).collect();
        let mut out = String::new();
        for (kind, locations) in [
            ("definition", definition(analysis, &target)),
            ("references", references(analysis, &target, &texts, false)),
        ] {
            for (name, body) in &f.files {
                let spans: Vec<(Span, String)> = locations
                    .iter()
                    .filter(|l| l.file == Fixture::doc(name))
                    .map(|l| (l.span.clone(), String::new()))
                    .collect();
                for line in marked(body, &spans).lines().filter(|l| l.contains('‹')) {
                    out.push_str(&format!("\n     {kind} {name}: {}", line.trim()));
                }
            }
        }
        out
    });
    check(
        actual,
        r#"
The work of VAL$0-CALC-001 and VAL-CALC-002, evidence in `evidence/basics/VAL-CALC-001.txt`.
  => 
     definition validation-contract.md: ### ‹VAL-CALC-001›: Adds two numbers
     references validation-contract.md: `calc sub 5 3` prints 2; see ‹VAL-CALC-001› for the format.
     references features.json: {"id": "feat-add", "description": "Addition in the calculator", "milestone": "basics", "status": "completed", "fulfills": ["‹VAL-CALC-001›"]},
     references mission.md: The work of ‹VAL-CALC-001› and VAL-CALC-002, evidence in `evidence/basics/VAL-CALC-001.txt`.
{"id": "$0feat-add", "description": "Addition in the calculator", "milestone": "basics", "status": "completed", "fulfills": ["VAL-CALC-001"]},
  => 
     definition features.json: {"id": "‹feat-add›", "description": "Addition in the calculator", "milestone": "basics", "status": "completed", "fulfills": ["VAL-CALC-001"]},
     references features.json: {"id": "feat-sub", "description": "Subtraction", "milestone": "basics", "status": "pending", "preconditions": ["‹feat-add› is complete"], "fulfills": ["VAL-CALC-002"]}
"#,
    );
}

#[test]
fn inlay_hints_follow_claims_and_preconditions() {
    let f = Fixture::parse(MISSION);
    let analysis = f.analysis();
    let text = f.file("features.json");
    let mut hints = feature_hints(&analysis, &(0..text.len()));
    hints.sort_by_key(|h| h.at);
    let mut out = String::new();
    let mut at = 0;
    for h in &hints {
        out.push_str(&text[at..h.at]);
        out.push_str(&format!("⟨{}⟩", h.label));
        at = h.at;
    }
    out.push_str(&text[at..]);
    check(
        out,
        r#"
{"features": [
  {"id": "feat-add", "description": "Addition in the calculator", "milestone": "basics", "status": "completed", "fulfills": ["VAL-CALC-001"⟨Adds two numbers⟩]},
  {"id": "feat-sub", "description": "Subtraction", "milestone": "basics", "status": "pending", "preconditions": ["feat-add is complete"⟨Addition in the calculator⟩], "fulfills": ["VAL-CALC-002"⟨Subtracts⟩]}
]}
"#,
    );
}

#[test]
fn semantic_tokens_mark_ids_and_declarations() {
    let f = Fixture::parse(MISSION);
    let tag = |kind: TokenKind, declaration: bool| {
        format!("{}{}", if kind == TokenKind::Assertion { "A" } else { "F" }, if declaration { "!" } else { "" })
    };
    let contract_text = f.file("validation-contract.md");
    let contract_spans: Vec<(Span, String)> = contract_tokens(&contract::parse(contract_text), contract_text)
        .into_iter()
        .map(|t| (t.span, tag(t.kind, t.declaration)))
        .collect();
    let features_text = f.file("features.json");
    let features_spans: Vec<(Span, String)> = features_tokens(&features::parse(features_text))
        .into_iter()
        .map(|t| (t.span, tag(t.kind, t.declaration)))
        .collect();
    check(
        format!("{}{}", marked(contract_text, &contract_spans), marked(features_text, &features_spans)),
        r#"
# Calculator
## Basics
### ‹VAL-CALC-001›A!: Adds two numbers
`calc add 2 3` prints 5.
Tool: terminal
Evidence: output

### ‹VAL-CALC-002›A!: Subtracts
`calc sub 5 3` prints 2; see ‹VAL-CALC-001›A for the format.
Tool: terminal
Evidence: output
{"features": [
  {"id": "‹feat-add›F!", "description": "Addition in the calculator", "milestone": "basics", "status": "completed", "fulfills": ["‹VAL-CALC-001›A"]},
  {"id": "‹feat-sub›F!", "description": "Subtraction", "milestone": "basics", "status": "pending", "preconditions": ["‹feat-add›F is complete"], "fulfills": ["‹VAL-CALC-002›A"]}
]}
"#,
    );
}

#[test]
fn evidence_links_cover_the_path() {
    let text = "See `evidence/basics/VAL-CALC-001.txt`, (evidence/basics/run.log) and \"evidence/basics/shot.png\"\nnot-evidence/x.txt evidence/a b\n";
    let spans: Vec<(Span, String)> =
        evidence_links(text).into_iter().map(|l| (l.span, format!("->{}", l.target))).collect();
    check(
        marked(text, &spans),
        r#"
See `‹evidence/basics/VAL-CALC-001.txt›->evidence/basics/VAL-CALC-001.txt`, (‹evidence/basics/run.log›->evidence/basics/run.log) and "‹evidence/basics/shot.png›->evidence/basics/shot.png"
not-evidence/x.txt ‹evidence/a›->evidence/a b
"#,
    );
}
