//! The rules of `droid_format` are droid's, not ours: every folder droid wrote
//! (examples/droid) passes them, and so does the folder of a real `missions demo` run
//! (examples/clean). A rule that fails a genuine droid folder is a wrong rule.

use crate::droid_format;

use std::path::Path;

#[test]
fn genuine_droid_folders_and_the_demos_folder_follow_droids_format() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut folders: Vec<_> = std::fs::read_dir(examples.join("droid")).unwrap().map(|e| e.unwrap().path()).collect();
    folders.sort();
    assert_eq!(folders.len(), 4, "{folders:?}");
    folders.push(examples.join("clean"));
    for folder in &folders {
        droid_format::assert_conforms(folder);
    }
}

#[test]
fn a_broken_rule_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/droid/completed-all-passed");
    for f in ["state.json", "features.json", "progress_log.jsonl"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let bend = |file: &str, from: &str, to: &str| {
        let path = dir.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} has no {from}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    };
    droid_format::assert_conforms(dir.path());
    bend("state.json", "\"state\": \"completed\"", "\"state\": \"done\"");
    bend("features.json", "\"status\": \"completed\"", "\"status\": \"failed\"");
    bend("progress_log.jsonl", "{\"timestamp\":", "{\"time\":");
    let problems = droid_format::check_folder(dir.path()).join("\n");
    for file in ["state.json", "features.json", "progress_log.jsonl"] {
        assert!(problems.lines().any(|l| l.starts_with(&format!("{file}:"))), "{file} not caught:\n{problems}");
    }
}
