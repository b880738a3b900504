//! Property tests: any input, as either mission document, is analysed without a panic, and
//! every span the analysis reports lies inside the text on character boundaries.

use missions::analysis::{check, MissionInput, Target};
use missions::model::{contract, features};
use proptest::prelude::*;

fn assert_spans_valid(contract_text: &str, features_text: &str) {
    let c = contract::parse(contract_text);
    let f = features::parse(features_text);
    let diags = check(&MissionInput { contract: Some(&c), features: Some(&f), skills: Some(&[]), validation: None, ..Default::default() });
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
            Just("{".to_string()), Just("}".to_string()), Just("[".to_string()), Just("]".to_string()),
            Just(",".to_string()), Just(":".to_string()), Just("\"".to_string()), Just("\\".to_string()),
            Just("\"features\"".to_string()), Just("\"fulfills\"".to_string()), Just("\"id\"".to_string()),
            Just("\"dependsOn\"".to_string()), Just("\"VAL-A-001\"".to_string()), Just("\"f\"".to_string()),
            Just("\\u12".to_string()), Just("\\ud83d".to_string()), Just("1e".to_string()), Just("-0.5".to_string()),
            Just("true".to_string()), Just("\n".to_string()), Just(" ".to_string()), Just("🎉".to_string()),
        ],
        0..64,
    )
    .prop_map(|parts| parts.concat())
}

fn markdownish() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("### ".to_string()), Just("# ".to_string()), Just("VAL-A-001".to_string()), Just("VAL-a-1".to_string()),
            Just(": ".to_string()), Just("Tool: ".to_string()), Just("Evidence: ".to_string()), Just("Check: ".to_string()),
            Just("```".to_string()), Just("`".to_string()), Just("**".to_string()), Just("- ".to_string()), Just("> ".to_string()),
            Just("\n".to_string()), Just("\r\n".to_string()), Just("===".to_string()), Just("(a, b)".to_string()),
            Just("漢".to_string()), Just("👩‍👩‍👧".to_string()), Just("x".to_string()),
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
}
