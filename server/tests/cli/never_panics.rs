//! Property tests: any input, as either mission document, is analysed without a panic, and
//! every span the analysis reports lies inside the text on character boundaries; the queries
//! that take a position from the client (completion, the id under the cursor, inlay hints of a
//! range) answer at every byte offset of any text without a panic.

use std::sync::Arc;

use missions::analysis::completion::{contract_completions, features_completions};
use missions::analysis::inlay::feature_hints;
use missions::analysis::mission::{MissionAnalysis, MissionParts};
use missions::analysis::position::{ColumnUnit, Positions};
use missions::analysis::{check, MissionInput, Target};
use missions::model::{contract, features};
use proptest::prelude::*;

/// Every position-taking query at every byte offset (past the end too) of both documents.
fn assert_queries_total(contract_text: &str, features_text: &str) {
    let analysis = MissionAnalysis::new(MissionParts {
        contract: Some(Arc::new(contract::parse(contract_text))),
        features: Some(Arc::new(features::parse(features_text))),
        skills: Some(vec!["shell".into()]),
        ..MissionParts::default()
    });
    for text in [contract_text, features_text] {
        for offset in 0..=text.len() + 2 {
            for c in [contract_completions(&analysis, text, offset), features_completions(&analysis, text, offset)] {
                for item in c.items {
                    assert!(
                        item.replace.start <= item.replace.end && text.get(item.replace.clone()).is_some(),
                        "{item:?} at {offset} of {text:?}"
                    );
                }
            }
            if let Some(found) = analysis.id_at(text, offset) {
                let (missions::analysis::IdAt::Assertion { span, .. } | missions::analysis::IdAt::Feature { span, .. }) =
                    found;
                assert!(text.get(span).is_some());
            }
            let _ = feature_hints(&analysis, &(offset..offset + 7));
        }
    }
}

/// The texts issue 22 found completion panicking on (a multi-byte character right after the
/// word being typed; one where `Tool:` would be), typed into both documents.
#[test]
fn completion_answers_at_every_offset_of_the_texts_it_once_panicked_on() {
    for text in [
        "## VAL-A-001\nTool: htt\txéxx\n",
        "}VA🚀🚀 xx",
        "Tool: a🚀,é b\r\n- **Tool:** ü",
        "{\"features\": [{\"id\": \"é\", \"status\": \"pé🚀",
    ] {
        assert_queries_total(text, text);
    }
    let analysis = MissionAnalysis::new(MissionParts::default());
    let text = "## VAL-A-001\nTool: htt\txéxx\n";
    // Right after `é`, which is no part of a tool name: nothing typed yet, `xx` is replaced.
    let at = text.find("éxx").unwrap() + 'é'.len_utf8();
    let found = contract_completions(&analysis, text, at);
    assert!(!found.items.is_empty() && found.items.iter().all(|i| i.replace == (at..at + 2)), "{found:?}");
}

fn assert_spans_valid(contract_text: &str, features_text: &str) {
    let c = contract::parse(contract_text);
    let f = features::parse(features_text);
    let diags = check(&MissionInput {
        contract: Some(&c),
        features: Some(&f),
        skills: Some(&[]),
        validation: None,
        ..Default::default()
    });
    for d in diags {
        if let Target::Doc { doc, span } = &d.target {
            let text = match doc {
                missions::analysis::DocKind::Contract => contract_text,
                missions::analysis::DocKind::Features => features_text,
            };
            assert!(span.start <= span.end && span.end <= text.len(), "{d:?}");
            assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end), "{d:?}");
        }
    }
}

/// Text made of the characters that matter to the parsers, so shrinking finds real edge cases.
fn jsonish() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("{".to_string()),
            Just("}".to_string()),
            Just("[".to_string()),
            Just("]".to_string()),
            Just(",".to_string()),
            Just(":".to_string()),
            Just("\"".to_string()),
            Just("\\".to_string()),
            Just("\"features\"".to_string()),
            Just("\"fulfills\"".to_string()),
            Just("\"id\"".to_string()),
            Just("\"dependsOn\"".to_string()),
            Just("\"VAL-A-001\"".to_string()),
            Just("\"f\"".to_string()),
            Just("\\u12".to_string()),
            Just("\\ud83d".to_string()),
            Just("1e".to_string()),
            Just("-0.5".to_string()),
            Just("true".to_string()),
            Just("\n".to_string()),
            Just(" ".to_string()),
            Just("🎉".to_string()),
            Just("\r".to_string()),
            Just("\t".to_string()),
            Just("é".to_string()),
        ],
        0..64,
    )
    .prop_map(|parts| parts.concat())
}

fn markdownish() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("### ".to_string()),
            Just("# ".to_string()),
            Just("VAL-A-001".to_string()),
            Just("VAL-a-1".to_string()),
            Just(": ".to_string()),
            Just("Tool: ".to_string()),
            Just("Evidence: ".to_string()),
            Just("Check: ".to_string()),
            Just("```".to_string()),
            Just("`".to_string()),
            Just("**".to_string()),
            Just("- ".to_string()),
            Just("> ".to_string()),
            Just("\n".to_string()),
            Just("\r\n".to_string()),
            Just("===".to_string()),
            Just("(a, b)".to_string()),
            Just("漢".to_string()),
            Just("👩‍👩‍👧".to_string()),
            Just("x".to_string()),
            Just("\r".to_string()),
            Just("\t".to_string()),
            Just("é".to_string()),
            Just("}VA🚀".to_string()),
        ],
        0..64,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_as_either_file(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        assert_spans_valid(&text, &text);
    }

    #[test]
    fn structured_garbage(c in markdownish(), f in jsonish()) {
        assert_spans_valid(&c, &f);
    }

    #[test]
    fn queries_at_every_offset(c in markdownish(), f in jsonish()) {
        assert_queries_total(&c, &f);
    }

    /// A lone `\r` ends a line like `\n` (LSP 3.17, CommonMark): both documents with every
    /// lone `\n` turned into `\r` (the same length, so every span stays) give the same
    /// diagnostics, and the same line and column for each.
    #[test]
    fn a_lone_cr_ends_a_line_like_lf(c in markdownish(), f in jsonish()) {
        let as_cr = |t: &str| -> String {
            let b = t.as_bytes();
            // Not one after `\r` (it is a CRLF) nor one before `\n` (the two would become one).
            t.char_indices().map(|(i, ch)| if ch == '\n' && (i == 0 || b[i - 1] != b'\r') && b.get(i + 1) != Some(&b'\n') { '\r' } else { ch }).collect()
        };
        let (c2, f2) = (as_cr(&c), as_cr(&f));
        let diags = |c: &str, f: &str| {
            let (c, f) = (contract::parse(c), features::parse(f));
            check(&MissionInput { contract: Some(&c), features: Some(&f), skills: Some(&[]), validation: None, ..Default::default() })
        };
        let (lf, cr) = (diags(&c, &f), diags(&c2, &f2));
        prop_assert_eq!(lf.len(), cr.len());
        for (a, b) in lf.iter().zip(&cr) {
            prop_assert_eq!(&a.target, &b.target);
            prop_assert_eq!(a.code, b.code);
            if let Target::Doc { doc, span } = &a.target {
                let (t1, t2) = match doc { missions::analysis::DocKind::Contract => (&c, &c2), missions::analysis::DocKind::Features => (&f, &f2) };
                let (p1, p2) = (Positions::new(t1), Positions::new(t2));
                prop_assert_eq!(p1.line_col(span.start, ColumnUnit::CodePoint), p2.line_col(span.start, ColumnUnit::CodePoint));
            }
        }
    }
}
