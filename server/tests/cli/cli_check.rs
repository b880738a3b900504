//! Black-box tests of `missions check`: the real binary, real files, exit codes and output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn missions() -> Command {
    Command::new(env!("CARGO_BIN_EXE_missions"))
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Runs `missions check ARGS` from the repository root.
fn check(args: &[&str]) -> Output {
    missions().arg("check").args(args).current_dir(repo_root()).output().expect("binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn write_mission(dir: &Path, contract: &str, features: &[u8]) {
    std::fs::write(dir.join("validation-contract.md"), contract).unwrap();
    std::fs::write(dir.join("features.json"), features).unwrap();
}

const CONTRACT: &str = "# C\n\n### VAL-A-001: One\nTool: terminal\nEvidence: output(x)\n";
const FEATURES: &str = r#"{"features": [{"id": "f", "description": "d", "milestone": "m", "status": "pending", "fulfills": ["VAL-A-001"]}]}"#;

#[test]
fn clean_examples_print_nothing_and_exit_0() {
    let droid = [
        "examples/droid/completed-all-passed",
        "examples/droid/feature-shape-variants",
        "examples/droid/planning-state-only",
    ];
    for example in ["examples/clean"].into_iter().chain(droid) {
        let o = check(&["--verbose", example]);
        assert_eq!(o.status.code(), Some(0), "{example}: {}{}", stdout(&o), stderr(&o));
        assert_eq!(stdout(&o), "", "{example}");
        let o = check(&["--format", "json", example]);
        assert_eq!(stdout(&o).trim(), "[]");
    }
}

/// Folders droid wrote read as they are: the only diagnostics are the paused mission's real
/// validation results (a failed assertion, a review finding on a source line).
#[test]
fn droid_folders_report_only_their_validation_results() {
    let o = check(&["--verbose", "examples/droid"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    for code in ["json-syntax", "schema", "unknown-skill", "missing-field", "unknown-tool", "unclaimed-assertion"] {
        assert!(!text.contains(&format!("[{code}]")), "{code} in:\n{text}");
    }
    insta::assert_snapshot!("droid_examples", text);
}

/// This repository's HEAD, as the base-check messages name it (no mission ran here), replaced
/// so the snapshot does not change with every commit.
fn redact_head(text: &str) -> String {
    let head = Command::new("git").args(["rev-parse", "HEAD"]).current_dir(repo_root()).output().unwrap();
    let head = String::from_utf8(head.stdout).unwrap();
    text.replace(&head.trim()[..10], "<HEAD>")
}

#[test]
fn broken_examples_show_every_code_and_exit_1() {
    // `checks/` runs its `Check:` commands on this repository's HEAD; `drift/` is stale by this
    // repository's own history.
    let o = check(&["--verbose", "--run-checks", "examples/broken"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = redact_head(&stdout(&o));
    for code in missions::analysis::Code::ALL {
        assert!(text.contains(&format!("[{}]", code.as_str())), "missing {}", code.as_str());
    }
    insta::assert_snapshot!("broken_text", text);
    // Hints only with --verbose.
    let quiet = stdout(&check(&["examples/broken"]));
    assert!(!quiet.contains("hint[") && text.contains("hint["));
}

#[test]
fn json_output_has_the_documented_shape() {
    let o = check(&["--format", "json", "examples/broken"]);
    assert_eq!(o.status.code(), Some(1));
    let value: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    let items = value.as_array().expect("an array");
    assert!(!items.is_empty());
    for item in items {
        let obj = item.as_object().unwrap();
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["code", "message", "path", "range", "severity"]);
        for end in ["start", "end"] {
            assert!(item["range"][end]["line"].is_u64() && item["range"][end]["character"].is_u64());
        }
    }
    insta::assert_json_snapshot!("broken_json", value);
}

#[test]
fn json_columns_are_utf16_and_text_columns_are_code_points() {
    let dir = tempfile::tempdir().unwrap();
    let features = r#"{"features": [{"description": "🎉漢", "id": "f", "milestone": "m", "status": "pending", "fulfills": ["VAL-A-001", "VAL-A-404"]}]}"#;
    write_mission(dir.path(), CONTRACT, features.as_bytes());
    let d = dir.path().to_str().unwrap();
    let text = stdout(&check(&[d]));
    let byte_col = features.find("\"VAL-A-404").unwrap();
    let code_points = features[..byte_col].chars().count();
    let utf16: usize = features[..byte_col].encode_utf16().count();
    assert!(text.contains(&format!("features.json:1:{}: error[unknown-assertion]", code_points + 1)), "{text}");
    let json: serde_json::Value = serde_json::from_slice(&check(&["--format", "json", d]).stdout).unwrap();
    assert_eq!(json[0]["range"]["start"]["character"], utf16);
}

#[test]
fn exit_codes_0_1_2() {
    let dir = tempfile::tempdir().unwrap();
    write_mission(dir.path(), CONTRACT, FEATURES.as_bytes());
    let d = dir.path().to_str().unwrap();
    assert_eq!(check(&[d]).status.code(), Some(0));
    std::fs::write(dir.path().join("features.json"), FEATURES.replace("VAL-A-001", "VAL-A-002")).unwrap();
    assert_eq!(check(&[d]).status.code(), Some(1));
    // A missing path is bad input, and 2 wins over 1.
    let o = check(&[d, "/definitely/not/here"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/definitely/not/here: no such file or directory"), "{}", stderr(&o));
    assert_eq!(check(&["--format", "yaml", d]).status.code(), Some(2));
}

#[test]
fn a_single_file_is_checked_against_its_sibling_and_prints_only_itself() {
    let dir = tempfile::tempdir().unwrap();
    write_mission(dir.path(), CONTRACT, FEATURES.replace("VAL-A-001", "VAL-A-002").as_bytes());
    let contract = dir.path().join("validation-contract.md");
    let text = stdout(&check(&[contract.to_str().unwrap()]));
    assert!(text.contains("unclaimed-assertion") && !text.contains("features.json"), "{text}");
    let features = dir.path().join("features.json");
    let text = stdout(&check(&[features.to_str().unwrap()]));
    assert!(text.contains("unknown-assertion") && !text.contains("validation-contract.md"), "{text}");
}

#[test]
fn the_projects_own_contract_checks_clean() {
    let contract = repo_root().parent().unwrap().join("shared/validation-contract.md");
    if !contract.exists() {
        return; // shared/ sits beside the repository in CI and on developer machines
    }
    let o = check(&[contract.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
}

#[test]
fn folders_are_searched_and_the_default_is_dot_missions() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let m = dir.path().join(".missions/login");
    std::fs::create_dir_all(&m).unwrap();
    write_mission(&m, CONTRACT, FEATURES.replace("VAL-A-001", "VAL-A-002").as_bytes());
    let sub = dir.path().join("src");
    std::fs::create_dir(&sub).unwrap();
    let o = missions().arg("check").current_dir(&sub).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("features.json"), "{}", stdout(&o));
    // A non-mission folder is searched.
    let o = check(&[dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    // Nothing to check at all is a usage error.
    let empty = tempfile::tempdir().unwrap();
    std::fs::create_dir(empty.path().join(".git")).unwrap();
    let o = missions().arg("check").current_dir(empty.path()).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no .missions/ folder"), "{}", stderr(&o));
}

#[test]
fn unreadable_input_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A directory named features.json.
    std::fs::write(d.join("validation-contract.md"), CONTRACT).unwrap();
    std::fs::create_dir(d.join("features.json")).unwrap();
    let o = check(&[d.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("features.json: is a directory"), "{}", stderr(&o));
    std::fs::remove_dir(d.join("features.json")).unwrap();
    // Invalid UTF-8.
    std::fs::write(d.join("features.json"), b"{\"features\": [\xff\xfe]}").unwrap();
    let o = check(&[d.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not valid UTF-8 (first bad byte at line 1"), "{}", stderr(&o));
    // Over 64 MiB: refused without reading it (sparse file).
    let big = std::fs::File::create(d.join("features.json")).unwrap();
    big.set_len(65 * 1024 * 1024).unwrap();
    let o = check(&[d.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("over the 64 MiB limit"), "{}", stderr(&o));
    // An unknown file kind.
    std::fs::write(d.join("notes.txt"), "x").unwrap();
    assert_eq!(check(&[d.join("notes.txt").to_str().unwrap()]).status.code(), Some(2));
}

#[test]
fn hostile_nesting_is_reported_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let deep_json = format!("{{\"features\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_list = format!("{CONTRACT}\n{}item\n{}x\n", "- ".repeat(10_000), "> ".repeat(10_000));
    write_mission(dir.path(), &deep_list, deep_json.as_bytes());
    let o = check(&[dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stdout(&o).contains("nested deeper than 256 levels"));
}

#[test]
fn a_20_mb_features_file_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let mut contract = String::from("# Big\n");
    let mut features = Vec::new();
    let mut i = 0;
    let mut size = 0;
    while size < 20 * 1024 * 1024 {
        i += 1;
        contract.push_str(&format!("### VAL-BIG-{i:06}: t\nTool: terminal\nEvidence: x\n"));
        let f = format!(
            r#"{{"id": "feat-{i}", "description": "{}", "milestone": "m{}", "status": "pending", "fulfills": ["VAL-BIG-{i:06}"]}}"#,
            "d".repeat(300),
            i / 1000
        );
        size += f.len() + 4;
        features.push(f);
    }
    let text = format!("{{\"features\": [\n  {}\n]}}\n", features.join(",\n  "));
    assert!(text.len() >= 20 * 1024 * 1024);
    write_mission(dir.path(), &contract, text.as_bytes());
    let started = std::time::Instant::now();
    let o = check(&[dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Generous bound: catches a hang or quadratic blow-up, not a speed measurement.
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}

#[test]
fn help_and_version_explain_themselves() {
    let o = missions().arg("--help").output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("check"));
    let o = missions().args(["check", "--help"]).output().unwrap();
    assert!(stdout(&o).contains("Exit status: 0 clean"));
    let o = missions().arg("--version").output().unwrap();
    assert_eq!(stdout(&o).trim(), format!("missions {}", env!("CARGO_PKG_VERSION")));
    assert_eq!(missions().arg("frobnicate").output().unwrap().status.code(), Some(2));
}

#[test]
fn byte_order_marks_are_read_through() {
    let dir = tempfile::tempdir().unwrap();
    let contract = format!("\u{FEFF}{}", CONTRACT.trim_start_matches("# C\n\n"));
    write_mission(dir.path(), &contract, format!("\u{FEFF}{FEATURES}").as_bytes());
    let o = check(&[dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(stdout(&o), "");
}

#[test]
fn other_files_are_refused_and_repeated_paths_checked_once() {
    let o = check(&["README.md"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a mission document"), "{}", stderr(&o));
    let o = check(&["examples/broken/plan", "examples/broken/plan", "examples/broken/plan/features.json"]);
    let once = stdout(&check(&["examples/broken/plan"]));
    assert_eq!(stdout(&o), once);
}

#[test]
fn paths_are_printed_relative_to_where_the_command_runs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let m = dir.path().join(".missions/login");
    std::fs::create_dir_all(&m).unwrap();
    write_mission(&m, CONTRACT, FEATURES.replace("VAL-A-001", "VAL-A-002").as_bytes());
    let sub = dir.path().join("src/deep");
    std::fs::create_dir_all(&sub).unwrap();
    let o = missions().arg("check").current_dir(&sub).output().unwrap();
    assert!(stdout(&o).starts_with("../../.missions/login/features.json:1:"), "{}", stdout(&o));
}

/// Diagnostics are bounded per code and document (issue 22): a million tabs in one string
/// are one problem; two hundred thousand bad escapes are a thousand `json-syntax` errors and
/// one saying how many more; three thousand claimants of one id are a thousand
/// `duplicate-claim` errors on features.json, each naming a few claimants.
#[test]
fn pathological_files_get_a_bounded_report() {
    let dir = tempfile::tempdir().unwrap();
    let tabs = format!(
        r#"{{"features": [{{"id": "f", "description": "{}", "milestone": "m", "status": "pending", "fulfills": ["VAL-A-001"]}}]}}"#,
        "\t".repeat(1_000_000)
    );
    write_mission(dir.path(), CONTRACT, tabs.as_bytes());
    let o = check(&["--format", "json", dir.path().to_str().unwrap()]);
    let diags: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(diags.len(), 1, "{}", stdout(&o));
    assert_eq!(diags[0]["message"], "1000000 control characters in string: escape them");

    let escapes = format!(
        r#"{{"features": [{{"id": "f", "description": "{}", "milestone": "m", "status": "pending", "fulfills": ["VAL-A-001"]}}]}}"#,
        "\\q".repeat(200_000)
    );
    write_mission(dir.path(), CONTRACT, escapes.as_bytes());
    let o = check(&["--format", "json", dir.path().to_str().unwrap()]);
    let diags: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(diags.len(), 1001, "{}", stderr(&o));
    assert_eq!(
        diags[1000]["message"],
        "… and 199,000 more `json-syntax` errors in this document (only the first 1,000 are listed)"
    );
    assert_eq!(diags[1000]["range"], diags[999]["range"]["end"].as_object().map(|end| serde_json::json!({"start": end, "end": {"line": 0, "character": end["character"].as_u64().unwrap() + 2}})).unwrap());

    let claimants: Vec<String> = (0..3000).map(|i| format!(r#"{{"id": "f{i}", "description": "d", "milestone": "m", "status": "pending", "fulfills": ["VAL-A-001"]}}"#)).collect();
    write_mission(dir.path(), CONTRACT, format!(r#"{{"features": [{}]}}"#, claimants.join(",\n")).as_bytes());
    for format in ["json", "text"] {
        let o = check(&["--format", format, dir.path().to_str().unwrap()]);
        assert!(o.stdout.len() < 400_000, "{format}: {} bytes", o.stdout.len());
        let text = stdout(&o);
        assert!(
            text.contains("`VAL-A-001` is claimed by 3,000 features: f0, f1, f2, f3, f4 and 2,995 more"),
            "{format}"
        );
        assert!(text.contains("`VAL-A-001` is also claimed by f1, f2, f3, f4, f5 and 2,994 more"), "{format}");
        assert!(
            text.contains(
                "… and 2,000 more `duplicate-claim` errors in this document (only the first 1,000 are listed)"
            ),
            "{format}"
        );
        assert_eq!(text.matches("is also claimed by").count(), 1000, "{format}");
    }
}

/// A lone CR ends a line (LSP 3.17, CommonMark), in the contract's fields and in every line
/// and column printed: a mission written with CR line endings checks exactly as with LF.
#[test]
fn a_lone_cr_ends_a_line_like_lf() {
    let contract =
        "# C\n\n### VAL-A-001: One\nTool: terminal\nEvidence: output(x)\n\n### VAL-A-002: Two\nTool: pigeon\n";
    let features = "{\"features\": [\n  {\"id\": \"f\", \"description\": \"d\", \"milestone\": \"m\",\n   \"status\": \"pendin\", \"fulfills\": [\"VAL-A-001\", \"VAL-A-9\"]}\n]}\n";
    let run = |line_end: &str| {
        let dir = tempfile::tempdir().unwrap();
        write_mission(dir.path(), &contract.replace('\n', line_end), features.replace('\n', line_end).as_bytes());
        let path = dir.path().to_str().unwrap().to_string();
        let json = stdout(&check(&["--format", "json", &path])).replace(&path, "M");
        let text = stdout(&check(&["--verbose", &path])).replace(&path, "M");
        (json, text)
    };
    let (lf_json, lf_text) = run("\n");
    assert!(
        lf_text.contains("M/validation-contract.md:7:5: warning[missing-field]")
            && lf_text.contains("M/features.json:3:14: error[schema]"),
        "{lf_text}"
    );
    for line_end in ["\r", "\r\n"] {
        let (json, text) = run(line_end);
        assert_eq!(json, lf_json, "{line_end:?}");
        assert_eq!(text, lf_text, "{line_end:?}");
    }
}
