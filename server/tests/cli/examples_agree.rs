//! `missions report` (and `missions status`, the real binary) on every example mission folder
//! agree with what examples/README.md says of it. Each row is a phrase of the README, which
//! must still be there word for word, and the figures it claims.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn json_of(args: &[&str], folder: &Path) -> Value {
    let out =
        Command::new(env!("CARGO_BIN_EXE_missions")).args(args).arg(folder).env_remove("RUST_LOG").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{args:?} {}: {}", folder.display(), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A milestone's row of the report: (rounds, the round it passed in).
fn rounds(report: &Value, milestone: &str) -> (u64, Option<u64>) {
    let m = report["validation"]["milestones"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == milestone)
        .unwrap_or_else(|| panic!("no milestone {milestone}: {report:#}"));
    (m["rounds"].as_u64().unwrap(), m["passedInRound"].as_u64())
}

type Check = fn(&Value, &Value);

/// (folder, what the README says of it, what the report and status must then show).
const CLAIMS: &[(&str, &str, Check)] = &[
    ("clean", "The mission `missions demo` runs (\"A shell calculator\"), kept after the run", |report, status| {
        assert_eq!(report["mission"]["title"], "A shell calculator");
        assert_eq!(report["mission"]["status"], "completed");
        assert_eq!(status["status"], "completed");
        // status counts the tokens report counts, from the transcript (no live figures kept).
        assert_eq!(status["tokens"]["total"], report["tokens"]["total"], "{status:#}");
        assert!(report["tokens"]["total"].as_u64().unwrap() > 0);
    }),
    ("clean", "three assertions", |_, status| {
        assert_eq!(status["assertions"], serde_json::json!({"passed": 3}), "{status:#}");
    }),
    ("clean", "four features over two milestones", |report, _| {
        assert_eq!(report["features"]["total"], 4);
        assert_eq!(report["time"]["milestones"].as_array().unwrap().len(), 2);
    }),
    ("clean", "(`basics` passed after a fix round", |report, _| {
        assert_eq!(rounds(report, "basics"), (2, Some(2)));
        assert_eq!(report["features"]["fix"], 1);
    }),
    ("clean", "`more` after a partial handoff and a retry)", |report, _| {
        assert_eq!(rounds(report, "more"), (1, Some(1)));
        let mul: Vec<&Value> =
            report["runs"]["sessions"].as_array().unwrap().iter().filter(|s| s["featureId"] == "feat-mul").collect();
        assert_eq!(
            mul.iter().map(|s| s["outcome"].as_str().unwrap()).collect::<Vec<_>>(),
            ["failed", "succeeded"],
            "{mul:#?}"
        );
    }),
    ("clean", "each milestone's scrutiny and user-testing validators as features", |report, _| {
        assert_eq!(report["features"]["validators"], 4);
        assert_eq!(
            report["runs"]["byKind"],
            serde_json::json!({"orchestrator": 2, "scrutiny": 3, "user-testing": 3, "worker": 5})
        );
    }),
    ("clean", "`sessions.jsonl` and `worker-transcripts.jsonl`", |report, _| {
        assert_eq!(report["tokens"]["recorded"], true);
        assert!(report["tokens"]["total"].as_u64().unwrap() > 0);
    }),
    (
        "droid/all-event-types-paused",
        "a mission paused mid-run with every progress event type (`all-event-types-paused`)",
        |report, status| {
            assert_eq!(
                (report["mission"]["status"].as_str(), status["status"].as_str()),
                (Some("paused"), Some("paused"))
            );
            assert!(report["features"]["byStatus"]["pending"].as_u64().unwrap() > 0, "mid-run: work is left");
            assert_eq!(rounds(report, "core").1, None, "its failed assertion: core has not passed");
            assert_eq!(status["assertions"]["failed"], 1, "{status:#}");
        },
    ),
    ("droid/completed-all-passed", "a completed one (`completed-all-passed`)", |report, status| {
        assert_eq!(report["mission"]["status"], "completed");
        for m in report["validation"]["milestones"].as_array().unwrap() {
            assert!(m["passedInRound"].is_u64(), "{m}");
        }
        assert!(status["assertions"].as_object().unwrap().keys().all(|k| k == "passed"), "{status:#}");
    }),
    (
        "droid/feature-shape-variants",
        "the feature shapes droid accepts (`feature-shape-variants`: a bare array",
        |report, _| {
            assert_eq!(report["features"]["total"], 3);
            assert_eq!(report["notes"], serde_json::json!([]), "its features.json reads without a problem");
        },
    ),
    (
        "droid/planning-state-only",
        "a mission still planning (`planning-state-only`: state.json and working_directory.txt only)",
        |report, status| {
            assert_eq!(
                (report["mission"]["status"].as_str(), status["status"].as_str()),
                (Some("planning"), Some("planning"))
            );
            assert_eq!((report["runs"]["total"].as_u64(), report["features"]["total"].as_u64()), (Some(0), Some(0)));
        },
    ),
];

#[test]
fn every_example_reports_what_its_readme_says() {
    let readme = std::fs::read_to_string(examples().join("README.md")).unwrap();
    for (folder, phrase, check) in CLAIMS {
        assert!(readme.contains(phrase), "examples/README.md no longer says: {phrase}");
        let dir = examples().join(folder);
        let report = json_of(&["report", "--format", "json"], &dir);
        let status = json_of(&["status", "--format", "json"], &dir);
        check(&report, &status);
    }
    // Every mission folder of the README's table is claimed here.
    let claimed: std::collections::BTreeSet<&str> = CLAIMS.iter().map(|(f, _, _)| *f).collect();
    for droid in std::fs::read_dir(examples().join("droid")).unwrap().flatten() {
        let name = format!("droid/{}", droid.file_name().to_string_lossy());
        assert!(claimed.contains(name.as_str()) || !droid.path().is_dir(), "{name} has no claim checked");
    }
}

#[test]
fn a_folder_without_mission_md_is_untitled_for_that_reason() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_missions"))
        .args(["status"])
        .arg(examples().join("droid/planning-state-only"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("(untitled mission: no mission.md)"), "{stdout}");
}
