//! Drift, end to end: a mission whose second feature rewrites a file of the first after the
//! first one's assertion passed. While the next round waits (its scrutiny validator held), the
//! assertion is stale in `missions check`, in `missions status` and in the editor (with a
//! "Re-validate milestone" action); the round then validates it again and it is fresh.

use crate::loop_support;
use crate::stdio_client;

use std::process::Stdio;
use std::time::{Duration, Instant};

use loop_support::*;
use serde_json::{json, Value};
use stdio_client::{url, Server};

const LIMITS: &str = "max_validation_rounds = 2\ncommand_timeout_s = 30";
const CONTRACT: &str = "# C\n\n## Arithmetic\n\n### VAL-CALC-001: Adding\nRun: `sh calc.sh add 2 3`\nExpect: `5`\nTool: terminal\nEvidence: output\n\n### VAL-CALC-003: Multiplying\nRun: `sh calc.sh mul 4 5`\nExpect: `20`\nTool: terminal\nEvidence: output\n";

fn plan() -> Value {
    json!({"features": [
        feature("feat-add", "add", "basics", &["VAL-CALC-001"], &[], json!({"files": {"ops/add.sh": "echo $(( $1 + $2 ))\n", "tests/test_add.sh": "[ \"$(sh calc.sh add 2 3)\" = 5 ]\n"}})),
        // Multiplication, and on the way a rewrite of add.sh (feat-add's file).
        feature("feat-mul", "mul", "more", &["VAL-CALC-003"], &["feat-add"], json!({"files": {"ops/mul.sh": "echo $(( $1 * $2 ))\n", "tests/test_mul.sh": "[ \"$(sh calc.sh mul 4 5)\" = 20 ]\n", "ops/add.sh": "expr \"$1\" + \"$2\"\n"}})),
    ]})
}

fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_rewritten_file_makes_a_passed_assertion_stale_everywhere_until_the_next_round_validates_it() {
    let model = MissionModel::start(Script::default());
    let p = Project::new(&model, LIMITS, CONTRACT, &plan());
    // The scrutiny validator's answers wait: the first round's are let go, the second round's
    // held while the stale assertion is looked at.
    model.hold("scrutiny");
    let mut child = p.spawn_run(&["--yes"]);
    wait_until("the first round's scrutiny", || model.sessions("scrutiny").len() == 1);
    model.release("scrutiny");
    wait_for_run(&p, &mut child, "milestone_passed", 1);
    model.hold("scrutiny");
    wait_for_run(&p, &mut child, "assertions_stale", 1);
    wait_until("the second round's scrutiny", || model.sessions("scrutiny").len() == 2);

    let mul_commit = git(&p.repo, &["log", "-1", "--format=%H", "--", "ops/mul.sh"]);
    let stale = p.events().into_iter().find(|e| e["type"] == "assertions_stale").unwrap();
    assert_eq!(stale["milestone"], "more");
    assert_eq!(
        (stale["assertions"][0]["id"].as_str(), stale["assertions"][0]["commitId"].as_str()),
        (Some("VAL-CALC-001"), Some(mul_commit.as_str()))
    );
    assert_eq!(stale["assertions"][0]["files"], json!(["ops/add.sh"]));

    // `missions check`: from git history alone.
    let check = missions(&p.repo, &["check"]);
    let expected = format!("validation-contract.md:5:5: warning[assertion-stale]: `VAL-CALC-001` passed, but commit {} (\"feat-mul\") later changed ops/add.sh, which `feat-add`'s work changed: it is stale until milestone `basics` or the next round validates it again", &mul_commit[..10]);
    assert!(stdout(&check).contains(&expected), "{}", text(&check));
    assert_eq!(
        stdout(&check).matches("assertion-stale").count(),
        1,
        "VAL-CALC-003 is not validated yet: {}",
        stdout(&check)
    );
    // `missions status`: counted.
    let status = missions(&p.repo, &["status"]);
    assert!(
        stdout(&status)
            .contains("  stale:      VAL-CALC-001 (passed, then later commits changed their features' files"),
        "{}",
        text(&status)
    );
    let json_status: Value =
        serde_json::from_slice(&missions(&p.repo, &["status", "--format", "json"]).stdout).unwrap();
    assert_eq!(json_status["stale"], json!(["VAL-CALC-001"]));

    // The editor: the warning on the heading, and the action that validates its milestone again.
    let mut server =
        Server::start(command(&p.repo, &["lsp"]).stderr(Stdio::null()), Server::params(&p.repo, json!({})));
    let contract = p.mission.join("validation-contract.md");
    let uri = url(&contract);
    server.open(&contract, "markdown", &p.read("validation-contract.md"));
    let published = server.diagnostics_until(&uri, |d| {
        d["diagnostics"].as_array().is_some_and(|a| a.iter().any(|x| x["code"] == "assertion-stale"))
    });
    let diagnostic =
        published["diagnostics"].as_array().unwrap().iter().find(|x| x["code"] == "assertion-stale").cloned().unwrap();
    assert_eq!(diagnostic["range"]["start"], json!({"line": 4, "character": 4}));
    assert!(diagnostic["message"].as_str().unwrap().contains(&mul_commit[..10]));
    let actions = server.request("textDocument/codeAction", json!({"textDocument": {"uri": uri}, "range": diagnostic["range"], "context": {"diagnostics": [diagnostic], "only": ["quickfix"]}}));
    let revalidate = actions["result"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"] == "Re-validate milestone `basics`")
        .cloned()
        .unwrap_or_else(|| panic!("{actions:#}"));
    assert_eq!(revalidate["command"]["command"], "missions.validateMilestone");
    assert_eq!(revalidate["command"]["arguments"], json!([url(&p.mission), "basics"]));
    server.finish();

    // The round goes on and validates the stale assertion with its own.
    model.release("scrutiny");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let told = &model.sessions("user-testing")[1].first_user;
    assert!(told.contains("VAL-CALC-001") && told.contains("VAL-CALC-003"), "{told}");
    let synthesis = p.json("validation/more/user-testing/synthesis.json");
    assert_eq!(synthesis["passedAssertions"], json!(["VAL-CALC-001", "VAL-CALC-003"]));
    let entry = &p.json("validation-state.json")["assertions"]["VAL-CALC-001"];
    assert_eq!(
        (entry["status"].as_str(), entry["validatedAtCommit"].as_str()),
        (Some("passed"), Some(mul_commit.as_str())),
        "validated again at the commit that changed it: {entry:#}"
    );
    assert!(!stdout(&missions(&p.repo, &["check"])).contains("assertion-stale"));
    assert!(!stdout(&missions(&p.repo, &["status"])).contains("stale:"));
    droid_format::assert_conforms(&p.mission);
}
