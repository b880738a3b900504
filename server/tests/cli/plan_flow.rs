//! Planning by the orchestrator in `missions run` (design §6): questions into mission.md and
//! exit 4, resuming with the answers, the contract before the features (the write rules
//! refuse the queue first), `submit_plan` answered with the lint until clean, the approval
//! gate, then the loop; `--yes` withholds `ask_user`; a plan that never lints clean halts.
//! The real binary against the scripted mission model, in real git repositories.

use crate::loop_support;

use loop_support::*;

const LIMITS: &str = "max_turns = 30";

fn position(types: &[String], kind: &str) -> usize {
    types.iter().position(|t| t == kind).unwrap_or_else(|| panic!("no {kind} in {types:?}"))
}

#[test]
fn the_orchestrator_asks_then_plans_contract_first_and_the_mission_runs() {
    let plan = PlanScript {
        questions: vec!["Integers only, or decimals too?".into()],
        features_first: true,
        lint_error_once: true,
        ..Project::calculator_plan()
    };
    let model = MissionModel::start(Script { plan: Some(plan), ..sub_fix() });
    let p = Project::unplanned(&model, LIMITS);

    // 1. The orchestrator asks; the run waits on the person.
    let out = p.run(&[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 unanswered question(s)"), "{}", text(&out));
    assert_eq!(p.json("state.json")["detailedState"], "awaiting_answers");
    assert!(
        p.read("mission.md").contains("## Questions\n\n- Q: Integers only, or decimals too?\n  A: \n"),
        "{}",
        p.read("mission.md")
    );
    assert_eq!(p.event_types(), ["mission_created", "planning_started", "question_asked"]);
    assert!(model.sessions("orchestrator")[0].tools.iter().any(|t| t == "ask_user"));

    // 2. Unanswered: another run does not start a session.
    let out = p.run(&[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert_eq!(model.sessions("orchestrator").len(), 1);

    // 3. Answered: planning resumes with the answer in its first message.
    let md = p.read("mission.md").replace("  A: \n", "  A: integers only\n");
    std::fs::write(p.mission.join("mission.md"), md).unwrap();
    let out = p.run(&[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missions run --yes"), "{}", text(&out));
    assert_eq!(p.json("state.json")["detailedState"], "awaiting_approval");
    let planning = model.sessions("orchestrator");
    assert_eq!(planning.len(), 2);
    assert!(
        planning[1].first_user.contains("- Q: Integers only, or decimals too?\n  A: integers only"),
        "{}",
        planning[1].first_user
    );
    assert!(
        planning[1].first_user.contains("calc.sh") && planning[1].first_user.contains("test.sh"),
        "the file listing"
    );
    let results: Vec<(String, bool)> = model.seen().into_iter().rfind(|s| s.role == "orchestrator").unwrap().results;
    assert!(
        results[0].1 && results[0].0.contains("features.json is written after validation-contract.md"),
        "{results:?}"
    );
    assert!(
        results.iter().any(|(r, e)| *e && r.contains("error[unknown-dependency]")),
        "the lint answered: {results:?}"
    );
    for f in [
        "validation-contract.md",
        "features.json",
        "AGENTS.md",
        "architecture.md",
        "services.yaml",
        "skills/shell/SKILL.md",
    ] {
        assert!(p.mission.join(f).is_file(), "{f}");
    }
    assert!(!p.read("features.json").contains("no-such-feature"));
    let types = p.event_types();
    assert_eq!(&types[3..], ["planning_started", "contract_written", "features_written", "plan_submitted"]);
    assert_eq!(git(&p.repo, &["symbolic-ref", "--short", "HEAD"]), "main", "planning leaves the repository alone");

    // 4. Approved: the loop runs the plan the orchestrator wrote.
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let types = p.event_types();
    assert!(position(&types, "plan_submitted") < position(&types, "mission_accepted"));
    assert!(position(&types, "mission_accepted") < position(&types, "milestone_started"));
    assert_eq!(p.count("fix_features_added"), 1);
    assert_eq!(p.json("state.json")["detailedState"], "completed");
    assert_eq!(p.sh("sh calc.sh sub 5 3"), "2");
}

#[test]
fn yes_withholds_ask_user_and_runs_to_completion() {
    let plan = PlanScript { questions: vec!["Which shell?".into()], ..Project::calculator_plan() };
    let model = MissionModel::start(Script { plan: Some(plan), ..sub_fix() });
    let p = Project::unplanned(&model, LIMITS);
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let planning = &model.sessions("orchestrator")[0];
    assert!(
        !planning.tools.iter().any(|t| t == "ask_user") && planning.tools.iter().any(|t| t == "submit_plan"),
        "{:?}",
        planning.tools
    );
    assert!(planning.first_user.contains("`ask_user` is not available"));
    assert!(!p.read("mission.md").contains("## Questions"));
    let types = p.event_types();
    assert_eq!(p.count("question_asked"), 0);
    assert!(position(&types, "contract_written") < position(&types, "features_written"));
    assert!(position(&types, "features_written") < position(&types, "plan_submitted"));
    assert!(position(&types, "plan_submitted") < position(&types, "mission_accepted"));
    assert_eq!(types.last().map(String::as_str), Some("mission_completed"));
}

#[test]
fn a_plan_that_never_lints_clean_halts_with_its_diagnostics_and_a_dirty_tree_stops_planning() {
    let plan = PlanScript { never_fix: true, ..Project::calculator_plan() };
    let model = MissionModel::start(Script { plan: Some(plan), ..sub_fix() });
    let p = Project::unplanned(&model, LIMITS);

    std::fs::write(p.repo.join("notes.txt"), "wip\n").unwrap();
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("notes.txt"));
    assert!(model.seen().is_empty(), "no session on a dirty tree");
    std::fs::remove_file(p.repo.join("notes.txt")).unwrap();

    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let state = p.json("state.json");
    assert_eq!((state["state"].as_str(), state["detailedState"].as_str()), (Some("paused"), Some("halted")));
    let reason = state["haltReason"].as_str().unwrap();
    assert!(reason.contains("after 5 submissions") && reason.contains("error[unknown-dependency]"), "{reason}");
    let submits = model.seen().iter().filter(|s| s.role == "orchestrator").count();
    assert_eq!(submits, 2 + 5, "contract, files, then five refused submissions");
    assert_eq!(p.count("plan_submitted"), 0);
    let last = p.events().pop().unwrap();
    assert_eq!((last["type"].as_str(), last["halted"].as_bool()), (Some("mission_paused"), Some(true)), "{last}");
}
