use proptest::prelude::*;

use super::*;

/// Merges and returns the merged buffer with the conflicts.
fn merged(base: &str, ours: &str, theirs: &str, format: Format) -> (String, Vec<String>) {
    let m = mirror(base, ours, theirs, format);
    for pair in m.edits.windows(2) {
        assert!(pair[0].span.end <= pair[1].span.start, "edits overlap: {:?}", m.edits);
    }
    (apply(ours, &m.edits), m.conflicts)
}

fn clean_json(text: &str) -> bool {
    crate::model::json::parse(text).errors.is_empty()
}

const FEATURES: &str = r#"{
  "features": [
    {
      "id": "F1",
      "description": "add",
      "status": "pending"
    },
    {
      "id": "F2",
      "description": "sub",
      "status": "pending"
    }
  ]
}
"#;

#[test]
fn the_runners_status_change_joins_the_persons_description_edit() {
    let ours = FEATURES.replace("\"add\"", "\"add two integers\"");
    let theirs = FEATURES.replacen("\"pending\"", "\"completed\"", 2).replacen("\"completed\"", "\"pending\"", 1);
    assert!(theirs.contains("\"sub\",\n      \"status\": \"completed\""), "{theirs}");
    let (text, conflicts) = merged(FEATURES, &ours, &theirs, Format::Json);
    assert_eq!(text, theirs.replace("\"add\"", "\"add two integers\""));
    assert!(conflicts.is_empty(), "{conflicts:?}");
}

#[test]
fn the_same_field_changed_both_ways_keeps_the_persons_value_and_names_it() {
    let ours = FEATURES.replacen("\"pending\"", "\"cancelled\"", 1);
    let theirs = FEATURES.replacen("\"pending\"", "\"completed\"", 1);
    let (text, conflicts) = merged(FEATURES, &ours, &theirs, Format::Json);
    assert_eq!(text, ours);
    assert_eq!(conflicts, vec!["features[F1].status".to_string()]);
    // The same change on both sides is no conflict.
    let (text, conflicts) = merged(FEATURES, &theirs, &theirs, Format::Json);
    assert_eq!((text, conflicts), (theirs.clone(), vec![]));
}

#[test]
fn a_fix_feature_the_runner_appends_lands_after_the_last_one_indented_like_it() {
    let ours = FEATURES.replace("\"sub\"", "\"subtract\"");
    let theirs = FEATURES.replace(
        "      \"status\": \"pending\"\n    }\n  ]",
        "      \"status\": \"pending\"\n    },\n    {\n      \"id\": \"FIX-1\",\n      \"description\": \"fix sub\",\n      \"status\": \"pending\"\n    }\n  ]",
    );
    let (text, conflicts) = merged(FEATURES, &ours, &theirs, Format::Json);
    assert_eq!(text, theirs.replace("\"sub\"", "\"subtract\""));
    assert!(conflicts.is_empty() && clean_json(&text), "{conflicts:?}\n{text}");
}

#[test]
fn members_the_runner_adds_or_removes_keep_the_json_valid() {
    let ours = FEATURES.replace("\"add\"", "\"plus\"");
    // A new member on F2, F1's description removed.
    let theirs = FEATURES.replace(
        "\"sub\",\n      \"status\": \"pending\"",
        "\"sub\",\n      \"status\": \"pending\",\n      \"workerSessionIds\": [\"s1\"]",
    );
    let (text, conflicts) = merged(FEATURES, &ours, &theirs, Format::Json);
    assert_eq!(text, theirs.replace("\"add\"", "\"plus\""));
    assert!(conflicts.is_empty());
    let theirs = FEATURES.replace("      \"description\": \"sub\",\n", "");
    let (text, conflicts) = merged(FEATURES, &ours, &theirs, Format::Json);
    assert_eq!(text, theirs.replace("\"add\"", "\"plus\""));
    assert!(conflicts.is_empty() && clean_json(&text), "{text}");
    // The first member removed, and every member of a one-line object.
    let (text, _) =
        merged(r#"{"a": 1, "b": 2, "c": 3}"#, r#"{"a": 1, "b": 2, "c": 4}"#, r#"{"b": 2, "c": 3}"#, Format::Json);
    assert_eq!(text, r#"{"b": 2, "c": 4}"#);
    let (text, _) =
        merged(r#"{"x": {"a": 1}, "y": 0}"#, r#"{"x": {"a": 1}, "y": 1}"#, r#"{"x": {"b": 2}, "y": 0}"#, Format::Json);
    assert_eq!(text, r#"{"x": {"b": 2}, "y": 1}"#);
}

#[test]
fn a_crlf_buffer_gets_crlf_in_what_is_inserted() {
    let base = FEATURES.replace('\n', "\r\n");
    let ours = base.replace("\"add\"", "\"plus\"");
    let theirs = base.replace(
        "\"sub\",\r\n      \"status\": \"pending\"",
        "\"sub\",\r\n      \"status\": \"pending\",\r\n      \"workerSessionIds\": [\"s1\"]",
    );
    let (text, conflicts) = merged(&base, &ours, &theirs, Format::Json);
    assert!(conflicts.is_empty() && text.contains("workerSessionIds"), "{text}");
    assert_eq!(text.matches('\n').count(), text.matches("\r\n").count(), "only CRLF: {text:?}");
}

#[test]
fn a_feature_the_person_removed_but_the_runner_changed_is_a_conflict() {
    let ours = FEATURES.replace(
        ",\n    {\n      \"id\": \"F2\",\n      \"description\": \"sub\",\n      \"status\": \"pending\"\n    }",
        "",
    );
    assert!(clean_json(&ours), "{ours}");
    let theirs =
        FEATURES.replace("\"sub\",\n      \"status\": \"pending\"", "\"sub\",\n      \"status\": \"completed\"");
    let (text, conflicts) = merged(FEATURES, &ours, &theirs, Format::Json);
    assert_eq!(text, ours);
    assert_eq!(conflicts, vec!["features[F2] (you removed it)".to_string()]);
}

#[test]
fn validation_state_merges_by_assertion_id() {
    let base = "{\"assertions\": {\n  \"VAL-A-001\": {\"status\": \"pending\"},\n  \"VAL-A-002\": {\"status\": \"pending\"}\n}}\n";
    let ours = base.replace(
        "VAL-A-002\": {\"status\": \"pending\"}",
        "VAL-A-002\": {\"status\": \"pending\", \"note\": \"mine\"}",
    );
    let theirs = base.replace("VAL-A-001\": {\"status\": \"pending\"}", "VAL-A-001\": {\"status\": \"passed\"}");
    let (text, conflicts) = merged(base, &ours, &theirs, Format::Json);
    assert_eq!(
        text,
        theirs.replace(
            "VAL-A-002\": {\"status\": \"pending\"}",
            "VAL-A-002\": {\"status\": \"pending\", \"note\": \"mine\"}"
        )
    );
    assert!(conflicts.is_empty());
}

#[test]
fn a_buffer_with_broken_json_merges_by_lines() {
    let ours = FEATURES.replace("\"add\",", "\"add\"");
    assert!(!clean_json(&ours));
    let theirs = FEATURES.replacen("\"pending\"", "\"completed\"", 2).replacen("\"completed\"", "\"pending\"", 1);
    let (text, conflicts) = merged(FEATURES, &ours, &theirs, Format::Json);
    assert_eq!(text, theirs.replace("\"add\",", "\"add\""));
    assert!(conflicts.is_empty());
}

#[test]
fn planner_questions_appended_to_mission_md_join_the_persons_edit_above() {
    let base = "# Goal\n\nA calculator.\n";
    let ours = "# Goal\n\nA calculator in POSIX sh.\n";
    let theirs = "# Goal\n\nA calculator.\n\n## Questions\n\n- Q: Integers only?\n  A:\n";
    let (text, conflicts) = merged(base, ours, theirs, Format::Text);
    assert_eq!(text, "# Goal\n\nA calculator in POSIX sh.\n\n## Questions\n\n- Q: Integers only?\n  A:\n");
    assert!(conflicts.is_empty());
}

#[test]
fn the_same_line_changed_both_ways_is_named_by_its_line_on_disk() {
    let base = "one\ntwo\nthree\n";
    let (text, conflicts) = merged(base, "one\nTWO\nthree\n", "one\n2\nthree\nfour\n", Format::Text);
    assert_eq!(text, "one\nTWO\nthree\nfour\n");
    assert_eq!(conflicts, vec!["line 2".to_string()]);
    // Both sides writing into an empty file: the buffer keeps its text.
    let (text, conflicts) = merged("", "mine\n", "theirs\n", Format::Text);
    assert_eq!((text.as_str(), conflicts.len()), ("mine\n", 1));
}

fn lines() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec!["a\n", "b\n", "c\n", "d\n", "{\n", "}\n", "e"]), 0..12)
        .prop_map(|l| l.concat())
}

proptest! {
    /// Untouched buffers become the disk text; a disk text equal to the base changes nothing.
    #[test]
    fn without_edits_of_the_person_the_buffer_becomes_the_disk(base in lines(), theirs in lines(), ours in lines()) {
        prop_assert_eq!(merged(&base, &base, &theirs, Format::Text).0, theirs.clone());
        let unchanged = mirror(&base, &ours, &base, Format::Text);
        prop_assert!(unchanged.edits.is_empty() && unchanged.conflicts.is_empty());
        // Whatever the three texts, the edits apply (sorted, inside the buffer, no overlap).
        let _ = merged(&base, &ours, &theirs, Format::Text);
    }

    #[test]
    fn json_buffers_stay_valid_json(statuses in prop::collection::vec(prop::sample::select(vec!["pending", "completed", "failed"]), 6), extra in 0usize..3) {
        let features = |s: &[&str], n: usize| {
            let items: Vec<String> = (0..n).map(|k| format!("    {{\n      \"id\": \"F{k}\",\n      \"status\": \"{}\"\n    }}", s[k % s.len()])).collect();
            format!("{{\n  \"features\": [\n{}\n  ]\n}}\n", items.join(",\n"))
        };
        let base = features(&["pending"], 2);
        let ours = features(&statuses[..2], 2);
        let theirs = features(&statuses[2..], 2 + extra);
        let (text, _) = merged(&base, &ours, &theirs, Format::Json);
        prop_assert!(clean_json(&text), "{}", text);
        prop_assert_eq!(merged(&base, &base, &theirs, Format::Json).0, theirs.clone());
    }
}

#[test]
fn the_runner_moving_a_completed_feature_to_the_bottom_reorders_the_buffer_keeping_the_persons_edit() {
    // droid's queue order: a completed feature goes to the bottom, a fix feature to the top.
    let ours = FEATURES.replace("\"sub\"", "\"subtract two integers\"");
    let f1 = "    {\n      \"id\": \"F1\",\n      \"description\": \"add\",\n      \"status\": \"completed\"\n    }";
    let f2 = "    {\n      \"id\": \"F2\",\n      \"description\": \"sub\",\n      \"status\": \"pending\"\n    }";
    let fix = "    {\n      \"id\": \"fix-1\",\n      \"description\": \"fix\",\n      \"status\": \"pending\"\n    }";
    let theirs = format!("{{\n  \"features\": [\n{fix},\n{f2},\n{f1}\n  ]\n}}\n");
    let (text, conflicts) = merged(FEATURES, &ours, &theirs, Format::Json);
    assert_eq!(text, theirs.replace("\"sub\"", "\"subtract two integers\""));
    assert!(conflicts.is_empty(), "{conflicts:?}");
    // The person made the same move: no conflict, the runner's fix still arrives.
    let ours_moved = format!("{{\n  \"features\": [\n{},\n{}\n  ]\n}}\n", f2, f1.replace("completed", "pending"));
    let (text, conflicts) = merged(FEATURES, &ours_moved, &theirs, Format::Json);
    assert_eq!(text, theirs);
    assert!(conflicts.is_empty(), "{conflicts:?}");
}

#[test]
fn both_sides_reordering_differently_keeps_the_persons_order_and_names_it() {
    let list = |ids: &[&str]| {
        format!(
            "{{\"features\": [{}]}}",
            ids.iter()
                .map(|id| format!("{{\"id\": \"{id}\", \"status\": \"pending\"}}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let (base, ours, theirs) = (list(&["A", "B", "C"]), list(&["C", "A", "B"]), list(&["B", "C", "A"]));
    let (text, conflicts) = merged(&base, &ours, &theirs, Format::Json);
    assert_eq!(text, ours);
    assert_eq!(conflicts, ["features (order)"]);
}
