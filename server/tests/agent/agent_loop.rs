//! The agent loop end to end: a fake model on loopback (real HTTP, the Anthropic wire format)
//! drives real tools on a real temporary repository; external agents are real processes; a
//! recorded session replays offline.

use crate::agent_support;

use agent_support::*;
use missions::agent::providers::anthropic::AnthropicProvider;
use missions::agent::providers::command::CommandAgent;
use missions::agent::providers::replay::Recording;
use missions::agent::session::NoSessionObserver;
use missions::agent::transcript::{SessionTranscript, SharedUsage};
use missions::agent::{
    run_session, AcceptValid, CancellationToken, FinalDecision, PlanLint, SessionEnd, SessionKind, SessionOutcome,
    SessionSpec,
};
use missions::config::{AgentRole, MissionsConfig};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

struct Repo {
    _dir: tempfile::TempDir,
    wd: PathBuf,
    mission: PathBuf,
}

/// A git repository with a script to fix and its test, and an empty mission folder.
fn repo() -> Repo {
    let dir = tempfile::tempdir().unwrap();
    let wd = dir.path().join("repo");
    let mission = wd.join(".missions/greet");
    std::fs::create_dir_all(wd.join("src")).unwrap();
    std::fs::create_dir_all(&mission).unwrap();
    std::fs::write(wd.join("src/greet.sh"), "#!/bin/sh\necho hi\n").unwrap();
    std::fs::write(
        wd.join("test.sh"),
        "out=$(sh src/greet.sh); [ \"$out\" = hello ] && echo PASS || { echo \"FAIL: got $out\"; exit 1; }\n",
    )
    .unwrap();
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .args(args)
            .current_dir(&wd)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
            .output()
            .unwrap();
        assert!(ok.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&ok.stderr));
    };
    git(&["init", "-q"]);
    std::fs::write(wd.join(".git/info/exclude"), ".missions/\n").unwrap();
    git(&["add", "-A"]);
    git(&["commit", "-qm", "start"]);
    Repo { _dir: dir, wd, mission }
}

fn spec(kind: SessionKind, r: &Repo, max_turns: u32) -> SessionSpec {
    let mut s = SessionSpec::new(
        kind,
        r.wd.clone(),
        r.mission.clone(),
        "Feature feat-greet: greet.sh prints `hello`. Assertion VAL-GREET-001.".into(),
        &MissionsConfig::default(),
    );
    s.max_turns = max_turns;
    s.retry = fast_retries();
    s
}

fn transcript(r: &Repo, session: &str, role: AgentRole) -> SessionTranscript {
    SessionTranscript::start(
        &r.mission,
        "mis_loop",
        session,
        role,
        SharedUsage::default(),
        json!({"provider": "test", "model": "claude-test"}),
    )
}

fn handoff(commit: &str) -> Value {
    json!({"featureId": "feat-greet", "successState": "success", "commitId": commit, "salientSummary": "greet.sh prints hello now; sh test.sh passes.",
           "whatWasImplemented": "Changed the greeting in greet.sh and made test.sh check it.", "whatWasLeftUndone": "",
           "verification": {"commandsRun": [{"command": "sh test.sh", "exitCode": 0, "observation": "ok"}]},
           "tests": {"added": [{"file": "test.sh", "cases": [{"name": "greeting", "verifies": "greet.sh prints hello"}]}], "coverage": "the greeting"},
           "discoveredIssues": [], "skillFeedback": {"followedProcedure": true, "deviations": []}})
}

fn turn(id: &str, name: &str, args: &Value) -> Step {
    let text = args.to_string();
    let (a, b) = text.split_at(text.len() / 2);
    Step::stream(anthropic_turn("", &[(id, name, &[a, b])], 10, 0, 0, 5))
}

fn worker_script() -> Vec<Step> {
    vec![
        turn("t1", "read_file", &json!({"path": "src/greet.sh"})),
        turn("t2", "edit_file", &json!({"path": "src/greet.sh", "old": "echo hi", "new": "echo hello"})),
        turn(
            "t3",
            "bash",
            &json!({"command": "sh test.sh && git add -A && git commit -qm 'greet: say hello' && git rev-parse HEAD", "timeout_s": 30}),
        ),
        turn("t4", "submit_handoff", &handoff("recorded-commit")),
    ]
}

async fn run_with_fake(r: &Repo, script: Vec<Step>, session: &str, max_turns: u32) -> (SessionOutcome, FakeProvider) {
    let fake = FakeProvider::start(script).await;
    let provider =
        AnthropicProvider::new(reqwest::Client::new(), "claude-test", None).with_base_url(&fake.anthropic_url());
    let mut t = transcript(r, session, AgentRole::Worker);
    let outcome = run_session(
        &provider,
        &spec(SessionKind::Worker, r, max_turns),
        &mut t,
        &mut AcceptValid,
        &CancellationToken::new(),
        &mut NoSessionObserver,
    )
    .await;
    (outcome, fake)
}

/// The session's lines of the transcript.
fn lines_of(mission: &Path, session: &str) -> Vec<Value> {
    read_transcript(mission).into_iter().filter(|l| l["sessionId"] == session).collect()
}

fn tool_calls(lines: &[Value]) -> Vec<(String, Value)> {
    lines
        .iter()
        .filter(|l| l["kind"] == "tool_call")
        .map(|l| (l["name"].as_str().unwrap().to_string(), l["input"].clone()))
        .collect()
}

/// The tool results the model was sent, from the recorded Anthropic request bodies.
fn sent_results(fake: &FakeProvider) -> Vec<(String, bool)> {
    let last = fake.requests().last().unwrap().body.clone();
    let mut out = Vec::new();
    for m in last["messages"].as_array().unwrap() {
        for b in m["content"].as_array().into_iter().flatten() {
            if b["type"] == "tool_result" {
                let text = match &b["content"] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                out.push((text, b["is_error"].as_bool().unwrap_or(false)));
            }
        }
    }
    out
}

#[tokio::test]
async fn a_worker_reads_edits_runs_the_test_commits_and_hands_off() {
    let r = repo();
    let (outcome, fake) = run_with_fake(&r, worker_script(), "ses_worker", 20).await;

    assert_eq!(outcome.end, SessionEnd::Finished(handoff("recorded-commit")));
    assert_eq!(outcome.turns, 4);
    assert_eq!(outcome.usage.output, 20);
    assert_eq!(std::fs::read_to_string(r.wd.join("src/greet.sh")).unwrap(), "#!/bin/sh\necho hello\n");
    let log = Command::new("git").args(["log", "--format=%s"]).current_dir(&r.wd).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&log.stdout), "greet: say hello\nstart\n");

    // The model saw each result in order: numbered lines, the edit, the passing test.
    let results = sent_results(&fake);
    assert_eq!(results.len(), 3);
    assert_eq!(results[0], ("1\t#!/bin/sh\n2\techo hi\n".to_string(), false));
    assert!(results[1].0.starts_with("replaced 1 occurrence"), "{:?}", results[1]);
    assert!(results[2].0.starts_with("exit code: 0\nPASS\n"), "{:?}", results[2]);
    let first = &fake.requests()[0].body;
    let tools: Vec<&str> = first["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(tools, ["read_file", "write_file", "edit_file", "list_files", "search", "bash", "submit_handoff"]);
    assert!(
        first["system"].to_string().contains("tests before code")
            || first["system"].to_string().contains("Write the tests first")
    );

    let lines = lines_of(&r.mission, "ses_worker");
    let names: Vec<String> = tool_calls(&lines).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["read_file", "edit_file", "bash", "submit_handoff"]);
    let handoff_line = lines.iter().find(|l| l["kind"] == "handoff").unwrap();
    assert_eq!(handoff_line["handoff"]["featureId"], "feat-greet");
    let end = lines.last().unwrap();
    assert_eq!(
        (end["kind"].as_str(), end["status"].as_str(), end["turns"].as_u64()),
        (Some("session_end"), Some("completed"), Some(4))
    );
}

#[tokio::test]
async fn bad_tool_calls_get_error_results_and_the_model_corrects_them() {
    let r = repo();
    let mut incomplete = handoff("abc");
    incomplete.as_object_mut().unwrap().remove("whatWasLeftUndone");
    incomplete["successState"] = json!("finished");
    let script = vec![
        turn("t1", "edit_file", &json!({"path": "src/greet.sh", "old": 5})),
        turn("t2", "delete_everything", &json!({})),
        Step::stream(anthropic_turn("", &[("t3", "bash", &["{\"command\": \"echo unterminated"])], 10, 0, 0, 5)),
        turn("t4", "edit_file", &json!({"path": "src/greet.sh", "old": "echo hi", "new": "echo hello"})),
        turn("t5", "submit_handoff", &incomplete),
        turn("t6", "submit_handoff", &handoff("abc")),
    ];
    let (outcome, fake) = run_with_fake(&r, script, "ses_bad", 20).await;
    assert_eq!(outcome.end, SessionEnd::Finished(handoff("abc")));
    let results = sent_results(&fake);
    assert_eq!(results.len(), 5);
    let (first, is_error) = &results[0];
    assert!(
        *is_error && first.contains("`old`: expected string") && first.contains("missing required field `new`"),
        "{first}"
    );
    assert!(results[1].1 && results[1].0.contains("unknown tool `delete_everything`"), "{:?}", results[1]);
    assert!(results[2].1 && results[2].0.contains("not valid JSON"), "{:?}", results[2]);
    assert!(!results[3].1, "{:?}", results[3]);
    assert!(
        results[4].1
            && results[4].0.contains("`successState`: must be one of")
            && results[4].0.contains("`whatWasLeftUndone`"),
        "{:?}",
        results[4]
    );
    assert_eq!(std::fs::read_to_string(r.wd.join("src/greet.sh")).unwrap(), "#!/bin/sh\necho hello\n");
}

#[tokio::test]
async fn max_turns_ends_the_session_with_its_reason() {
    let r = repo();
    let script = vec![
        turn("t1", "list_files", &json!({})),
        turn("t2", "list_files", &json!({"path": "src"})),
        turn("t3", "submit_handoff", &handoff("never")),
    ];
    let (outcome, fake) = run_with_fake(&r, script, "ses_max", 2).await;
    assert_eq!(outcome.end, SessionEnd::MaxTurns(2));
    assert_eq!(fake.requests().len(), 2);
    let end = lines_of(&r.mission, "ses_max").pop().unwrap();
    assert_eq!(end["status"], "max_turns");
    assert_eq!(end["reason"], "max_turns (2) reached before the final tool was called");
}

#[tokio::test]
async fn a_hook_rejection_goes_back_to_the_model() {
    let r = repo();
    let fake = FakeProvider::start(vec![
        turn("t1", "submit_handoff", &handoff("first")),
        turn("t2", "submit_handoff", &handoff("second")),
    ])
    .await;
    let provider =
        AnthropicProvider::new(reqwest::Client::new(), "claude-test", None).with_base_url(&fake.anthropic_url());
    let mut t = transcript(&r, "ses_hook", AgentRole::Worker);
    let mut seen = Vec::new();
    let mut hook = |_kind: SessionKind, args: &Value| {
        seen.push(args["commitId"].clone());
        if args["commitId"] == "first" {
            FinalDecision::Reject("commit first is not in this session's history".into())
        } else {
            FinalDecision::Accept(json!({"accepted": args["commitId"]}))
        }
    };
    let outcome = run_session(
        &provider,
        &spec(SessionKind::Worker, &r, 10),
        &mut t,
        &mut hook,
        &CancellationToken::new(),
        &mut NoSessionObserver,
    )
    .await;
    assert_eq!(outcome.end, SessionEnd::Finished(json!({"accepted": "second"})));
    assert_eq!(seen, [json!("first"), json!("second")]);
    assert_eq!(sent_results(&fake), [("commit first is not in this session's history".to_string(), true)]);
}

#[tokio::test]
async fn each_context_length_error_compacts_the_output_grown_since_until_nothing_is_left() {
    let r = repo();
    std::fs::write(r.wd.join("big.txt"), "line\n".repeat(2000)).unwrap();
    std::fs::write(r.wd.join("big2.txt"), "other\n".repeat(2000)).unwrap();
    let too_long = || {
        Step::error(
            400,
            &[],
            json!({"type": "error", "error": {"type": "invalid_request_error", "message": "prompt is too long: 300000 tokens > 200000 maximum"}}),
        )
    };
    let script = vec![
        turn("t1", "read_file", &json!({"path": "big.txt"})),
        turn("t2", "list_files", &json!({})),
        turn("t3", "list_files", &json!({})),
        too_long(),
        turn("t4", "read_file", &json!({"path": "big2.txt"})),
        turn("t5", "list_files", &json!({})),
        turn("t6", "list_files", &json!({"path": "src"})),
        too_long(),
        turn("t7", "list_files", &json!({})),
        too_long(),
    ];
    let (outcome, fake) = run_with_fake(&r, script, "ses_ctx", 20).await;
    let SessionEnd::ContextExhausted(message) = &outcome.end else { panic!("{:?}", outcome.end) };
    assert!(message.contains("prompt is too long"));
    let bodies: Vec<String> = fake.requests().iter().map(|q| q.body.to_string()).collect();
    assert_eq!(bodies.len(), 10, "compacted twice and re-sent; then nothing was left to shorten");
    let removed = |b: &str| b.matches("older tool output removed").count();
    assert!(bodies[3].contains("1\\tline") && removed(&bodies[3]) == 0);
    assert!(removed(&bodies[4]) == 1 && bodies[4].len() < bodies[3].len());
    // The second compaction shortens the newer output and leaves the first as it was sent.
    assert!(bodies[7].contains("1\\tother") && removed(&bodies[7]) == 1);
    assert!(removed(&bodies[8]) == 2 && !bodies[8].contains("900\\tother"));
    let first_shortened =
        |b: &str| b[b.find("1\\tline").unwrap()..].split("older tool output removed").next().unwrap().to_string();
    assert_eq!(first_shortened(&bodies[4]), first_shortened(&bodies[8]), "shortened the same way on every resend");
}

fn script_agent(dir: &Path, body: &str) -> CommandAgent {
    let path = dir.join("fake-agent.sh");
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    CommandAgent {
        argv: vec![
            "sh".into(),
            path.display().to_string(),
            "-p".into(),
            "--output-format".into(),
            "stream-json".into(),
        ],
    }
}

#[tokio::test]
async fn an_external_agent_runs_a_whole_worker_session_and_its_recording_replays() {
    let r = repo();
    let agents = tempfile::tempdir().unwrap();
    let result = serde_json::to_string(&format!("All done.\n```json\n{}\n```", handoff("ext-commit"))).unwrap();
    let agent = script_agent(
        agents.path(),
        &format!(
            r#"prompt=$(cat)
case "$prompt" in *feat-greet*submit_handoff*) ;; *) echo "prompt lacks the task" >&2; exit 2;; esac
sed -i 's/echo hi/echo hello/' src/greet.sh
cat <<'JSON'
{{"type":"system","subtype":"init"}}
{{"type":"assistant","message":{{"content":[{{"type":"text","text":"Editing greet.sh"}}]}}}}
{{"type":"result","subtype":"success","result":{result},"usage":{{"input_tokens":12,"cache_read_input_tokens":300,"cache_creation_input_tokens":40,"output_tokens":8}}}}
JSON
"#
        ),
    );
    let mut t = transcript(&r, "ses_ext", AgentRole::Worker);
    let outcome = agent
        .run(
            &spec(SessionKind::Worker, &r, 20),
            &mut t,
            &mut AcceptValid,
            &CancellationToken::new(),
            &mut NoSessionObserver,
        )
        .await;
    drop(t);
    assert_eq!(outcome.end, SessionEnd::Finished(handoff("ext-commit")));
    assert_eq!(
        (outcome.usage.input, outcome.usage.cache_read, outcome.usage.cache_write, outcome.usage.output),
        (12, 300, 40, 8)
    );
    assert_eq!(std::fs::read_to_string(r.wd.join("src/greet.sh")).unwrap(), "#!/bin/sh\necho hello\n");
    let recorded = tool_calls(&lines_of(&r.mission, "ses_ext"));
    assert_eq!(recorded, [("submit_handoff".to_string(), handoff("ext-commit"))]);

    // The recording replays through the built-in loop to the same handoff.
    let recording = Recording::load(&r.mission.join("sessions.jsonl")).unwrap();
    let replay = recording.next_session(AgentRole::Worker).unwrap();
    let mut t = transcript(&r, "ses_ext_replay", AgentRole::Worker);
    let again = run_session(
        &replay,
        &spec(SessionKind::Worker, &r, 20),
        &mut t,
        &mut AcceptValid,
        &CancellationToken::new(),
        &mut NoSessionObserver,
    )
    .await;
    assert_eq!(again.end, SessionEnd::Finished(handoff("ext-commit")));
}

#[tokio::test]
async fn an_external_agent_without_a_json_final_message_fails_clearly() {
    let r = repo();
    let agents = tempfile::tempdir().unwrap();
    let agent = script_agent(
        agents.path(),
        "cat >/dev/null\necho '{\"type\":\"item.completed\",\"item\":{\"type\":\"agent_message\",\"text\":\"All done, the tests pass!\"}}'\necho 'warning: something' >&2\n",
    );
    let mut t = transcript(&r, "ses_ext_bad", AgentRole::Worker);
    let outcome = agent
        .run(
            &spec(SessionKind::Worker, &r, 20),
            &mut t,
            &mut AcceptValid,
            &CancellationToken::new(),
            &mut NoSessionObserver,
        )
        .await;
    drop(t);
    let SessionEnd::Failed(reason) = &outcome.end else { panic!("{:?}", outcome.end) };
    assert!(reason.contains("no valid final JSON object for `submit_handoff`"), "{reason}");
    assert!(reason.contains("All done, the tests pass!") && reason.contains("warning: something"), "{reason}");
    let end = lines_of(&r.mission, "ses_ext_bad").pop().unwrap();
    assert_eq!((end["status"].as_str(), end["reason"].as_str()), (Some("failed"), Some(reason.as_str())));

    // A final object that breaks the schema is a clear failure too; a missing program as well.
    let agent = script_agent(
        agents.path(),
        "cat >/dev/null\necho '{\"featureId\": \"feat-greet\", \"successState\": \"done\"}'\n",
    );
    let mut t = transcript(&r, "ses_ext_schema", AgentRole::Worker);
    let outcome = agent
        .run(
            &spec(SessionKind::Worker, &r, 20),
            &mut t,
            &mut AcceptValid,
            &CancellationToken::new(),
            &mut NoSessionObserver,
        )
        .await;
    let SessionEnd::Failed(reason) = &outcome.end else { panic!("{:?}", outcome.end) };
    assert!(
        reason.contains("breaks the `submit_handoff` schema") && reason.contains("`successState`: must be one of"),
        "{reason}"
    );
    let missing = CommandAgent { argv: vec!["/nonexistent/agent-binary".into()] };
    let mut t = transcript(&r, "ses_ext_missing", AgentRole::Worker);
    let outcome = missing
        .run(
            &spec(SessionKind::Worker, &r, 20),
            &mut t,
            &mut AcceptValid,
            &CancellationToken::new(),
            &mut NoSessionObserver,
        )
        .await;
    assert!(
        matches!(&outcome.end, SessionEnd::Failed(m) if m.contains("cannot start the external agent")),
        "{:?}",
        outcome.end
    );
}

/// An external agent is held to the same limits as the built-in loop: the session's wall
/// clock, max_turns and the mission's token budget; its process group is killed at each.
#[tokio::test]
async fn an_external_agent_is_stopped_at_the_session_timeout_max_turns_and_the_token_budget() {
    let r = repo();
    let agents = tempfile::tempdir().unwrap();
    let run = |agent: CommandAgent, spec: SessionSpec, session: &'static str| {
        let mut t = transcript(&r, session, AgentRole::Worker);
        async move { agent.run(&spec, &mut t, &mut AcceptValid, &CancellationToken::new(), &mut NoSessionObserver).await }
    };
    // Hangs after one message (a child process holds the output open too).
    let hanging = script_agent(agents.path(), "cat >/dev/null\necho '{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"thinking\"}]}}'\nsleep 30 &\nsleep 30\n");
    let mut timed = spec(SessionKind::Worker, &r, 20);
    timed.session_timeout = Some(std::time::Duration::from_secs(1));
    let started = std::time::Instant::now();
    let outcome = run(hanging, timed, "ses_ext_slow").await;
    assert_eq!(outcome.end, SessionEnd::TimedOut(1), "{:?}", outcome.end);
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "stopped at the timeout, not when the agent ended");
    assert!(outcome.end.reason().contains("session_timeout_s"), "{}", outcome.end.reason());

    // Talks without end: stopped after max_turns messages.
    let chatty = script_agent(agents.path(), "cat >/dev/null\nwhile :; do echo '{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"still going\"}]}}'; done\n");
    let outcome = run(chatty, spec(SessionKind::Worker, &r, 3), "ses_ext_chatty").await;
    assert_eq!(outcome.end, SessionEnd::MaxTurns(3), "{:?}", outcome.end);

    // Reports a turn's usage (codex's per-turn line) past the mission's budget.
    let spender = script_agent(agents.path(), "cat >/dev/null\necho '{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":900,\"cached_input_tokens\":0,\"output_tokens\":200}}'\nsleep 30\n");
    let mut budgeted = spec(SessionKind::Worker, &r, 20);
    budgeted.max_mission_tokens = 1000;
    let outcome = run(spender, budgeted, "ses_ext_spender").await;
    assert!(matches!(outcome.end, SessionEnd::TokenBudget { budget: 1000, .. }), "{:?}", outcome.end);
}

/// An external planner may ask the person, as `ask_user` would, when questions are allowed.
#[tokio::test]
async fn an_external_planner_asks_its_questions_into_mission_md() {
    let r = repo();
    std::fs::write(r.mission.join("mission.md"), "# Greeter\n\nGreet people.\n").unwrap();
    let agents = tempfile::tempdir().unwrap();
    let asker = script_agent(agents.path(), "prompt=$(cat)\ncase \"$prompt\" in *'{\"questions\"'*) ;; *) echo 'the prompt says how to ask' >&2; exit 2;; esac\nprintf 'I need to know one thing.\\n```json\\n{\"questions\": [\"Which language?\"]}\\n```\\n'\n");
    let mut t = transcript(&r, "ses_ext_plan", AgentRole::Orchestrator);
    let outcome = asker
        .run(
            &spec(SessionKind::Orchestrator, &r, 20),
            &mut t,
            &mut AcceptValid,
            &CancellationToken::new(),
            &mut NoSessionObserver,
        )
        .await;
    assert_eq!(outcome.end, SessionEnd::AwaitingAnswers(vec!["Which language?".into()]), "{:?}", outcome.end);
    let md = std::fs::read_to_string(r.mission.join("mission.md")).unwrap();
    assert!(md.contains("## Questions") && md.contains("- Q: Which language?"), "{md}");

    // With questions withheld (`missions run --yes`), the same answer is not a plan.
    let asker = script_agent(agents.path(), "cat >/dev/null\necho '{\"questions\": [\"Which language?\"]}'\n");
    let mut no_questions = spec(SessionKind::Orchestrator, &r, 20);
    no_questions.allow_questions = false;
    let mut t = transcript(&r, "ses_ext_plan2", AgentRole::Orchestrator);
    let outcome =
        asker.run(&no_questions, &mut t, &mut AcceptValid, &CancellationToken::new(), &mut NoSessionObserver).await;
    assert!(matches!(&outcome.end, SessionEnd::Failed(m) if m.contains("planDone")), "{:?}", outcome.end);
}

#[tokio::test]
async fn replay_reproduces_a_recorded_sessions_tool_calls_exactly() {
    let recorded = repo();
    let (original, _fake) = run_with_fake(&recorded, worker_script(), "ses_rec", 20).await;
    let recording = Recording::load(&recorded.mission.join("sessions.jsonl")).unwrap();
    assert!(recording.next_session(AgentRole::Validator).is_none());

    // A fresh checkout of the same repository, offline: only the model is replayed.
    let fresh = repo();
    let provider = recording.next_session(AgentRole::Worker).unwrap();
    assert_eq!(provider.recorded_session_id(), "ses_rec");
    let mut t = transcript(&fresh, "ses_replay", AgentRole::Worker);
    let replayed = run_session(
        &provider,
        &spec(SessionKind::Worker, &fresh, 20),
        &mut t,
        &mut AcceptValid,
        &CancellationToken::new(),
        &mut NoSessionObserver,
    )
    .await;
    drop(t);
    assert_eq!(replayed.end, original.end);
    assert_eq!(replayed.usage, original.usage, "usage is replayed too");
    assert_eq!(provider.turns_left(), 0);
    let a = lines_of(&recorded.mission, "ses_rec");
    let b = lines_of(&fresh.mission, "ses_replay");
    assert_eq!(tool_calls(&a), tool_calls(&b));
    let results = |lines: &[Value]| -> Vec<Value> {
        lines
            .iter()
            .filter(|l| l["kind"] == "tool_result" && l["name"] != "bash")
            .map(|l| l["content"].clone())
            .collect()
    };
    assert_eq!(results(&a), results(&b), "the tools really ran again, with the same results");
    assert_eq!(std::fs::read_to_string(fresh.wd.join("src/greet.sh")).unwrap(), "#!/bin/sh\necho hello\n");
    assert!(recording.next_session(AgentRole::Worker).is_none(), "sessions are handed out once, in order");
}

#[tokio::test]
async fn an_orchestrator_fixes_its_plan_until_the_lint_accepts_it_or_asks_the_person() {
    let r = repo();
    let contract = "# Validation contract\n\n### VAL-GREET-001: Greeting\nRunning greet.sh prints hello.\nTool: terminal\nEvidence: output\n";
    let bad = r#"{"features": [{"id": "feat-greet", "description": "d", "milestone": "m1", "fulfills": ["VAL-GREET-002"], "status": "pending"}]}"#;
    let good = r#"{"features": [{"id": "feat-greet", "description": "d", "milestone": "m1", "fulfills": ["VAL-GREET-001"], "status": "pending"}]}"#;
    let m = |name: &str| r.mission.join(name).display().to_string();
    let fake = FakeProvider::start(vec![
        turn("o1", "write_file", &json!({"path": m("validation-contract.md"), "content": contract})),
        turn("o2", "write_file", &json!({"path": m("features.json"), "content": bad})),
        turn("o3", "write_file", &json!({"path": "src/greet.sh", "content": "echo hello"})),
        turn("o4", "submit_plan", &json!({})),
        turn("o5", "write_file", &json!({"path": m("features.json"), "content": good})),
        turn("o6", "submit_plan", &json!({})),
    ])
    .await;
    let provider =
        AnthropicProvider::new(reqwest::Client::new(), "claude-test", None).with_base_url(&fake.anthropic_url());
    let mut t = transcript(&r, "ses_orch", AgentRole::Orchestrator);
    let mut lint = PlanLint { mission_dir: r.mission.clone() };
    let outcome = run_session(
        &provider,
        &spec(SessionKind::Orchestrator, &r, 20),
        &mut t,
        &mut lint,
        &CancellationToken::new(),
        &mut NoSessionObserver,
    )
    .await;
    assert_eq!(outcome.end, SessionEnd::Finished(json!({"planDone": true, "warnings": []})));
    let results = sent_results(&fake);
    assert!(results[2].1 && results[2].0.contains("the orchestrator writes only the plan files"), "{:?}", results[2]);
    assert!(
        results[3].1 && results[3].0.contains("features.json:1:") && results[3].0.contains("error[unknown-assertion]"),
        "{:?}",
        results[3]
    );
    assert_eq!(std::fs::read_to_string(r.wd.join("src/greet.sh")).unwrap(), "#!/bin/sh\necho hi\n");

    let fake =
        FakeProvider::start(vec![turn("q1", "ask_user", &json!({"questions": ["Should it greet in French too?"]}))])
            .await;
    let provider =
        AnthropicProvider::new(reqwest::Client::new(), "claude-test", None).with_base_url(&fake.anthropic_url());
    let mut t = transcript(&r, "ses_ask", AgentRole::Orchestrator);
    let outcome = run_session(
        &provider,
        &spec(SessionKind::Orchestrator, &r, 20),
        &mut t,
        &mut lint,
        &CancellationToken::new(),
        &mut NoSessionObserver,
    )
    .await;
    assert_eq!(outcome.end, SessionEnd::AwaitingAnswers(vec!["Should it greet in French too?".into()]));
    let mission_md = std::fs::read_to_string(r.mission.join("mission.md")).unwrap();
    assert!(mission_md.contains("## Questions\n\n- Q: Should it greet in French too?\n  A: \n"), "{mission_md}");
}

#[tokio::test]
async fn the_mission_token_budget_stops_the_session() {
    let r = repo();
    let fake = FakeProvider::start(vec![
        turn("b1", "list_files", &json!({})),
        turn("b2", "list_files", &json!({})),
        turn("b3", "list_files", &json!({})),
    ])
    .await;
    let provider =
        AnthropicProvider::new(reqwest::Client::new(), "claude-test", None).with_base_url(&fake.anthropic_url());
    let mut t = transcript(&r, "ses_budget", AgentRole::Worker);
    let mut s = spec(SessionKind::Worker, &r, 20);
    s.max_mission_tokens = 20; // each scripted turn uses 15
    let outcome =
        run_session(&provider, &s, &mut t, &mut AcceptValid, &CancellationToken::new(), &mut NoSessionObserver).await;
    assert_eq!(outcome.end, SessionEnd::TokenBudget { used: 30, budget: 20 });
    assert_eq!(fake.requests().len(), 2);
    drop(t);
    let end = lines_of(&r.mission, "ses_budget").pop().unwrap();
    assert_eq!(end["status"], "token_budget");
    assert!(end["reason"].as_str().unwrap().contains("max_tokens_per_mission = 20"));
}

/// A streamed Anthropic turn stopped at the output limit, its last tool call half written.
fn cut_turn(id: &str, name: &str, partial_args: &str) -> Step {
    Step::stream(replace_in_frames(
        anthropic_turn("", &[(id, name, &[partial_args])], 10, 0, 0, 64),
        "\"stop_reason\":\"tool_use\"",
        "\"stop_reason\":\"max_tokens\"",
    ))
}

#[tokio::test]
async fn an_answer_cut_at_the_output_limit_is_not_run_and_the_model_is_told_why() {
    let r = repo();
    let script = vec![
        cut_turn("t1", "write_file", "{\"path\": \"big.txt\", \"content\": \"aaaa"),
        turn("t2", "write_file", &json!({"path": "small.txt", "content": "part one\n"})),
        Step::stream(replace_in_frames(
            anthropic_turn("Here is the whole file: bbbb", &[], 10, 0, 0, 64),
            "\"stop_reason\":\"end_turn\"",
            "\"stop_reason\":\"max_tokens\"",
        )),
        cut_turn("t4", "write_file", "{\"path\": \"big.txt\", \"content\": \"cccc"),
        cut_turn("t5", "write_file", "{\"path\": \"big.txt\", \"content\": \"dddd"),
        turn("t6", "submit_handoff", &handoff("never")),
    ];
    let fake = FakeProvider::start(script).await;
    let provider =
        AnthropicProvider::new(reqwest::Client::new(), "claude-test", None).with_base_url(&fake.anthropic_url());
    let mut t = transcript(&r, "ses_cut", AgentRole::Worker);
    let mut s = spec(SessionKind::Worker, &r, 20);
    s.max_output_tokens = Some(64);
    let outcome =
        run_session(&provider, &s, &mut t, &mut AcceptValid, &CancellationToken::new(), &mut NoSessionObserver).await;

    // Three cut answers in a row end the session, naming the output limit, not max_turns.
    assert_eq!(outcome.end, SessionEnd::OutputLimit { max_output_tokens: Some(64), times: 3 });
    assert_eq!(fake.requests().len(), 5);
    assert_eq!(fake.requests()[0].body["max_tokens"], 64);
    let end = lines_of(&r.mission, "ses_cut").pop().unwrap();
    assert_eq!(end["status"], "output_limit");
    let reason = end["reason"].as_str().unwrap();
    assert!(reason.contains("output limit (max_output_tokens = 64) 3 times in a row"), "{reason}");
    assert!(!reason.contains("max_turns"), "{reason}");

    // The cut calls never ran; the complete one in between did.
    assert!(!r.wd.join("big.txt").exists());
    assert_eq!(std::fs::read_to_string(r.wd.join("small.txt")).unwrap(), "part one\n");
    let results = sent_results(&fake);
    assert_eq!(results.len(), 3, "{results:?}");
    for i in [0, 2] {
        let (text, is_error) = &results[i];
        assert!(is_error, "{text}");
        assert!(
            text.contains("cut off at the output limit (max_output_tokens = 64) while writing this `write_file` call, so it was not run"),
            "{text}"
        );
        assert!(text.contains("smaller pieces"), "{text}");
        assert!(!text.contains("not valid JSON"), "{text}");
    }
    assert!(!results[1].1, "{:?}", results[1]);
    // A cut answer without a tool call gets the same advice as a user message.
    let last = fake.requests().last().unwrap().body.clone();
    let told = last["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "user")
        .flat_map(|m| m["content"].as_array().unwrap().clone())
        .filter(|b| b["type"] == "text")
        .any(|b| {
            let t = b["text"].as_str().unwrap();
            t.contains("cut off at the output limit (max_output_tokens = 64) before you called a tool")
        });
    assert!(told, "{last}");
}

#[tokio::test]
async fn openai_finish_reason_length_is_the_same_cut_off() {
    let r = repo();
    let cut =
        |frames: Vec<String>, from: &str| Step::stream(replace_in_frames(frames, from, "\"finish_reason\":\"length\""));
    let script = vec![
        cut(
            openai_turn("", &[(0, "c1", "write_file", &["{\"path\": \"big.txt\", \"content\": \"aa"])], 10, 0, 64),
            "\"finish_reason\":\"tool_calls\"",
        ),
        cut(openai_turn("Here it is: bbbb", &[], 10, 0, 64), "\"finish_reason\":\"stop\""),
        cut(
            openai_turn("", &[(0, "c3", "write_file", &["{\"path\": \"big.txt\", \"content\": \"cc"])], 10, 0, 64),
            "\"finish_reason\":\"tool_calls\"",
        ),
    ];
    let fake = FakeProvider::start(script).await;
    let provider = missions::agent::providers::openai::OpenAiProvider::new(reqwest::Client::new(), "local", None)
        .with_base_url(&fake.openai_url());
    let mut t = transcript(&r, "ses_cut_oai", AgentRole::Worker);
    let outcome = run_session(
        &provider,
        &spec(SessionKind::Worker, &r, 20),
        &mut t,
        &mut AcceptValid,
        &CancellationToken::new(),
        &mut NoSessionObserver,
    )
    .await;
    assert_eq!(outcome.end, SessionEnd::OutputLimit { max_output_tokens: None, times: 3 });
    assert!(!r.wd.join("big.txt").exists());
    let second = fake.requests()[1].body.clone();
    let tool = second["messages"].as_array().unwrap().iter().find(|m| m["role"] == "tool").unwrap().clone();
    assert_eq!(tool["tool_call_id"], "c1");
    let text = tool["content"].as_str().unwrap();
    assert!(text.contains("cut off at the output limit"), "{text}");
    assert!(!text.contains("not valid JSON"), "{text}");
    let third = fake.requests()[2].body.clone();
    let user_last = third["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(user_last["role"], "user");
    assert!(user_last["content"].as_str().unwrap().contains("cut off at the output limit"));
}
