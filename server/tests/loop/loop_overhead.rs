//! The loop's own overhead per feature: a 100-feature plan (10 milestones) against the
//! scripted model with no latency, under `/usr/bin/time -v`. Ignored by default (it is a
//! measurement, not a check); run it with
//! `cargo test -p missions --release --test loop loop_overhead -- --ignored --nocapture`.

use crate::loop_support;

use loop_support::*;
use serde_json::json;

#[test]
#[ignore]
fn overhead_of_a_hundred_features() {
    let mut contract = String::from("# Overhead\n");
    let mut features = Vec::new();
    for i in 1..=100 {
        let milestone = format!("m{:02}", (i - 1) / 10 + 1);
        contract.push_str(&format!(
            "\n### VAL-OVH-{i:03}: Feature {i}\nFile f{i}.txt exists.\nTool: file-inspection\nEvidence: output\n"
        ));
        features.push(json!({"id": format!("feat-{i:03}"), "description": format!("write f{i}.txt"), "milestone": milestone, "fulfills": [format!("VAL-OVH-{i:03}")], "status": "pending", "workerSessionIds": [],
            "x-fake": {"behaviour": "quick", "files": {format!("f{i}.txt"): format!("{i}\n"), format!("tests/test_{i:03}.sh"): "exit 0\n"}}}));
    }
    let model = MissionModel::start(Script::default());
    let p = Project::new(&model, "max_validation_rounds = 1", &contract, &json!({"features": features}));
    let started = std::time::Instant::now();
    let out = std::process::Command::new("/usr/bin/time")
        .arg("-v")
        .arg(env!("CARGO_BIN_EXE_missions"))
        .args(["run", "--yes", "--quiet"])
        .current_dir(&p.repo)
        .env(KEY_ENV, "sk-overhead-not-a-real-key")
        .output()
        .expect("/usr/bin/time");
    let wall = started.elapsed();
    let report = String::from_utf8_lossy(&out.stderr);
    assert_eq!(p.json("state.json")["detailedState"], "completed", "{report}");
    println!(
        "100 features, 10 milestones, {} model calls: {:.2} s wall, {:.1} ms per feature",
        model.seen().len(),
        wall.as_secs_f64(),
        wall.as_secs_f64() * 10.0
    );
    // Where the time goes: inside worker sessions (model calls + tools) versus the runner's
    // own steps between a handoff and the next session.
    let ms = |e: &serde_json::Value| {
        let ts = e["timestamp"].as_str().unwrap();
        let t = &ts[11..ts.len() - 1];
        let parts: Vec<f64> = t.split(':').map(|x| x.parse().unwrap()).collect();
        (parts[0] * 3600.0 + parts[1] * 60.0 + parts[2]) * 1000.0
    };
    let events = p.events();
    let (mut in_session, mut between, mut validating) = (0.0, 0.0, 0.0);
    for w in events.windows(2) {
        let d = ms(&w[1]) - ms(&w[0]);
        match (w[0]["type"].as_str().unwrap(), w[1]["type"].as_str().unwrap()) {
            ("worker_started", "worker_completed")
                if w[0]["featureId"].as_str().is_some_and(|f| f.contains("-validator-")) =>
            {
                validating += d
            }
            ("worker_started", "worker_completed") => in_session += d,
            _ => between += d,
        }
    }
    println!("worker sessions {in_session:.0} ms, validation {validating:.0} ms, runner steps between {between:.0} ms");
    for line in report.lines().filter(|l| {
        ["Elapsed", "User time", "System time", "Maximum resident", "Percent of CPU"].iter().any(|k| l.contains(k))
    }) {
        println!("{}", line.trim());
    }
}
