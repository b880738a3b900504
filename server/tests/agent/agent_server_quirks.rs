//! What real model servers did to a session, each reproduced on demand against the loopback
//! fake: a tool call cut at the output limit sent back as broken JSON (llama-server then
//! answers 500 forever), a session deadline passing mid-call, a server that reports no usage,
//! endings that named the wrong cause, a server that cannot stream tool calls, a server that
//! accepts and never answers, a stream that goes silent, and a rejected request nobody could
//! see. The same servers run for real in `agent_real_servers.rs` where they can produce the
//! case on demand.

use crate::agent_support;

use agent_support::*;
use missions::agent::providers::anthropic::AnthropicProvider;
use missions::agent::providers::openai::OpenAiProvider;
use missions::agent::providers::{self, HttpSettings};
use missions::agent::secrets::ApiKey;
use missions::agent::session::{IdleAnswers, SessionObserver};
use missions::agent::transcript::{SessionTranscript, SharedUsage};
use missions::agent::usage::ESTIMATE_BYTES_PER_TOKEN;
use missions::agent::{
    run_session, AcceptValid, CancellationToken, ErrorKind, Provider, RetryNotice, SessionEnd, SessionKind,
    SessionOutcome, SessionSpec, WaitNotice,
};
use missions::config::{AgentRole, MissionsConfig};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Generous: catches a hang, does not measure speed.
const PROMPT: Duration = Duration::from_secs(15);

struct Dirs {
    _dir: tempfile::TempDir,
    wd: PathBuf,
    mission: PathBuf,
}

fn dirs() -> Dirs {
    let dir = tempfile::tempdir().unwrap();
    let wd = dir.path().join("repo");
    let mission = wd.join(".missions/m");
    std::fs::create_dir_all(&mission).unwrap();
    std::fs::write(wd.join("notes.txt"), "one\ntwo\n").unwrap();
    Dirs { _dir: dir, wd, mission }
}

fn spec(d: &Dirs, max_turns: u32) -> SessionSpec {
    let mut s = SessionSpec::new(
        SessionKind::Worker,
        d.wd.clone(),
        d.mission.clone(),
        "Feature feat-notes: add a third line to notes.txt.".into(),
        &MissionsConfig::default(),
    );
    s.max_turns = max_turns;
    s.retry = fast_retries();
    s
}

fn openai(fake: &FakeProvider) -> OpenAiProvider {
    OpenAiProvider::new(reqwest::Client::new(), "local", None).with_base_url(&fake.openai_url())
}

fn anthropic(fake: &FakeProvider) -> AnthropicProvider {
    AnthropicProvider::new(reqwest::Client::new(), "claude-test", None).with_base_url(&fake.anthropic_url())
}

/// Everything a session told its observer about waits and retries.
#[derive(Default)]
struct Watched {
    waits: Vec<WaitNotice>,
    retries: Vec<ErrorKind>,
}

impl SessionObserver for Watched {
    fn on_retry(&mut self, who: &str, retry: &RetryNotice) {
        assert_eq!(who, "worker");
        self.retries.push(retry.error.kind);
    }
    fn on_waiting(&mut self, who: &str, wait: &WaitNotice) {
        assert_eq!(who, "worker");
        self.waits.push(wait.clone());
    }
}

async fn run_watched(
    provider: &dyn Provider,
    spec: &SessionSpec,
    session: &str,
    watched: &mut Watched,
) -> (SessionOutcome, Vec<Value>) {
    let mut t = SessionTranscript::start(
        &spec.mission_dir,
        "mis_quirks",
        session,
        AgentRole::Worker,
        SharedUsage::default(),
        json!({}),
    );
    let outcome = tokio::time::timeout(
        PROMPT,
        run_session(provider, spec, &mut t, &mut AcceptValid, &CancellationToken::new(), watched),
    )
    .await
    .expect("the session ends by itself");
    drop(t);
    let lines = read_transcript(&spec.mission_dir).into_iter().filter(|l| l["sessionId"] == session).collect();
    (outcome, lines)
}

async fn run(provider: &dyn Provider, spec: &SessionSpec, session: &str) -> (SessionOutcome, Vec<Value>) {
    run_watched(provider, spec, session, &mut Watched::default()).await
}

fn call(id: &str, name: &str, args: &Value) -> Step {
    let text = args.to_string();
    Step::stream(openai_turn("", &[(0, id, name, &[text.as_str()])], 100, 0, 10))
}

/// The OpenAI frames of a turn without the usage chunk (llama-cpp-python sends none).
fn without_usage(frames: Vec<String>) -> Vec<String> {
    frames.into_iter().filter(|f| !f.contains("\"usage\"")).collect()
}

/// Every tool call's `arguments` in every request the fake received, parsed.
fn sent_arguments(fake: &FakeProvider) -> Vec<Result<Value, String>> {
    let mut out = Vec::new();
    for r in fake.requests() {
        for m in r.body["messages"].as_array().into_iter().flatten() {
            for c in m["tool_calls"].as_array().into_iter().flatten() {
                let raw = c["function"]["arguments"].as_str().unwrap_or_default();
                out.push(serde_json::from_str::<Value>(raw).map_err(|_| raw.to_string()));
            }
        }
    }
    out
}

// ---- item 1: history always valid; the same 500 over and over ---------------------------

#[tokio::test]
async fn a_tool_call_cut_at_the_output_limit_goes_back_as_a_json_object() {
    let d = dirs();
    let cut = Step::stream(replace_in_frames(
        openai_turn("", &[(0, "c1", "bash", &["{\"command"])], 100, 0, 64),
        "\"finish_reason\":\"tool_calls\"",
        "\"finish_reason\":\"length\"",
    ));
    let fake = FakeProvider::start(vec![cut, call("c2", "list_files", &json!({}))]).await;
    let (outcome, _) = run(&openai(&fake), &spec(&d, 2), "ses_cut").await;
    assert_eq!(outcome.end, SessionEnd::MaxTurns(2));
    assert_eq!(fake.requests().len(), 2);
    // llama-server parses every `arguments` it is sent and answers 500 to one that is not
    // JSON: the cut call goes back as a JSON object holding the half it got.
    let args = sent_arguments(&fake);
    assert_eq!(args, [Ok(json!({"_invalid_arguments": "{\"command"}))]);
}

/// llama-server's answer to a request whose history holds arguments that are not JSON.
fn llama_server_500() -> Step {
    Step::error(
        500,
        &[],
        json!({"error": {"code": 500, "message": "Failed to parse tool call arguments as JSON: [json.exception.parse_error.101] parse error at line 1, column 11: syntax error while parsing value - unexpected end of input; expected ':'", "type": "server_error"}}),
    )
}

#[tokio::test]
async fn the_same_500_again_and_again_fails_the_request_instead_of_waiting_15_minutes() {
    let d = dirs();
    let fake = FakeProvider::start((0..20).map(|_| llama_server_500()).collect()).await;
    let mut s = spec(&d, 5);
    s.retry.max_outage_attempts = 1000; // only the same-answer rule may stop it
    s.retry.deadline = Duration::from_secs(600);
    let started = Instant::now();
    let (outcome, lines) = run(&openai(&fake), &s, "ses_500").await;
    let SessionEnd::ProviderFailed(e) = &outcome.end else { panic!("{:?}", outcome.end) };
    assert_eq!(e.kind, ErrorKind::RepeatedServerError);
    assert_eq!(e.status, Some(500));
    assert_eq!(fake.requests().len(), 5, "five identical answers, then named");
    assert!(e.message.contains("Failed to parse tool call arguments as JSON"), "{}", e.message);
    assert!(e.message.contains("the same answer 5 times in a row"), "{}", e.message);
    assert!(outcome.end.reason().contains("repeated_server_error"), "{}", outcome.end.reason());
    assert!(started.elapsed() < PROMPT);
    // It is the request that fails: its body is kept beside the transcript.
    let error = lines.iter().find(|l| l["kind"] == "error").unwrap();
    let kept = d.mission.join(error["requestBody"].as_str().expect("the kept body is named"));
    let body: Value = serde_json::from_str(&std::fs::read_to_string(&kept).unwrap()).unwrap();
    assert_eq!(body, fake.requests()[4].body, "the very body that was sent");

    // Different 500s in turn are an outage: waited out until the provider is back.
    let other = Step::error(500, &[], json!({"error": {"message": "upstream connect error", "type": "server_error"}}));
    let mut script = Vec::new();
    for _ in 0..4 {
        script.push(llama_server_500());
        script.push(other.clone());
    }
    script.push(call("c1", "list_files", &json!({})));
    let fake = FakeProvider::start(script).await;
    let mut s = spec(&d, 1);
    s.retry.max_outage_attempts = 1000;
    let (outcome, _) = run(&openai(&fake), &s, "ses_500_outage").await;
    assert_eq!(outcome.end, SessionEnd::MaxTurns(1), "{:?}", outcome.end);
    assert_eq!(fake.requests().len(), 9);
}

// ---- item 2: the session deadline bounds what is in flight ------------------------------

#[tokio::test]
async fn the_session_deadline_stops_a_model_call_and_a_tool_call_in_flight() {
    let d = dirs();
    // An answer streaming one word every 300 ms for 12 s.
    let words: String = (0..40).map(|i| format!("word{i} ")).collect();
    let slow = Step::Stream {
        frames: openai_turn(&words, &[], 10, 0, 40),
        chunk: 0,
        delay: Duration::from_millis(300),
        cut_after: None,
        stall_after: None,
    };
    let fake = FakeProvider::start(vec![slow]).await;
    let mut s = spec(&d, 5);
    s.session_timeout = Some(Duration::from_secs(1));
    let started = Instant::now();
    let (outcome, lines) = run(&openai(&fake), &s, "ses_slow_model").await;
    assert_eq!(outcome.end, SessionEnd::TimedOut(1), "{:?}", outcome.end);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(lines.last().unwrap()["status"], "timed_out");

    // A command that would run for 20 s.
    let fake = FakeProvider::start(vec![call("c1", "bash", &json!({"command": "sleep 20", "timeout_s": 60}))]).await;
    let started = Instant::now();
    let (outcome, lines) = run(&openai(&fake), &s, "ses_slow_tool").await;
    assert_eq!(outcome.end, SessionEnd::TimedOut(1), "{:?}", outcome.end);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    let result = lines.iter().find(|l| l["kind"] == "tool_result").unwrap();
    assert!(result["content"].as_str().unwrap().contains("process group was killed"), "{result}");
}

// ---- item 3: no usage reported ----------------------------------------------------------

#[tokio::test]
async fn usage_a_server_does_not_report_is_estimated_and_counts_against_the_budget() {
    let d = dirs();
    let turn = |id: &str| Step::stream(without_usage(openai_turn("", &[(0, id, "list_files", &["{}"])], 0, 0, 0)));
    let fake = FakeProvider::start(vec![turn("c1"), turn("c2"), turn("c3")]).await;
    let mut s = spec(&d, 10);
    s.max_mission_tokens = 1000; // the worker's prompt alone is well over 4,000 bytes
    let (outcome, lines) = run(&openai(&fake), &s, "ses_no_usage").await;
    let usage: Vec<&Value> = lines.iter().filter(|l| l["kind"] == "usage").collect();
    assert_eq!(usage.len(), 1, "the first call's estimate spent the budget");
    assert_eq!(usage[0]["estimated"], true);
    let total = usage[0]["sessionTotal"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum::<u64>();
    assert_eq!(outcome.end, SessionEnd::TokenBudget { used: total, budget: 1000 });
    assert_eq!(fake.requests().len(), 1);
    // One token per four bytes of the body as sent, rounded up.
    let sent = fake.requests()[0].body.to_string().len() as u64;
    assert_eq!(usage[0]["usage"]["input"], sent.div_ceil(ESTIMATE_BYTES_PER_TOKEN));
    assert_eq!(usage[0]["usage"]["output"], ("list_files".len() as u64 + 2).div_ceil(ESTIMATE_BYTES_PER_TOKEN));
}

// ---- item 4: endings name what was observed ---------------------------------------------

#[tokio::test]
async fn an_ending_without_tool_calls_says_what_the_answers_were() {
    let d = dirs();
    let text = || Step::stream(openai_turn("I would read the file now.", &[], 100, 0, 8));
    let empty = || Step::stream(openai_turn("", &[], 100, 0, 0));

    let fake = FakeProvider::start(vec![text(), text(), text()]).await;
    let (outcome, _) = run(&openai(&fake), &spec(&d, 10), "ses_never").await;
    assert_eq!(outcome.end, SessionEnd::NoToolCalls { times: 3, seen: IdleAnswers::NeverCalledATool });
    assert!(outcome.end.reason().contains("may not pass the tools to the model"), "{}", outcome.end.reason());
    assert!(outcome.end.reason().contains("--jinja"), "{}", outcome.end.reason());

    let fake = FakeProvider::start(vec![empty(), empty(), empty()]).await;
    let (outcome, _) = run(&openai(&fake), &spec(&d, 10), "ses_empty").await;
    assert_eq!(outcome.end, SessionEnd::NoToolCalls { times: 3, seen: IdleAnswers::Empty });
    assert!(outcome.end.reason().contains("were empty"), "{}", outcome.end.reason());

    let fake = FakeProvider::start(vec![call("c1", "list_files", &json!({})), text(), text(), text()]).await;
    let (outcome, _) = run(&openai(&fake), &spec(&d, 10), "ses_rambling").await;
    assert_eq!(outcome.end, SessionEnd::NoToolCalls { times: 3, seen: IdleAnswers::Text });
    assert_eq!(outcome.end.reason(), "the model answered 3 times in a row without calling a tool");
}

#[tokio::test]
async fn an_answer_that_used_every_output_token_is_cut_whatever_the_stop_reason_says() {
    let d = dirs();
    // A LiteLLM route reported `end_turn` for answers cut at the limit.
    let cut = || Step::stream(anthropic_turn("Here is the whole file: aaaa", &[], 10, 0, 0, 64));
    let fake = FakeProvider::start(vec![cut(), cut(), cut()]).await;
    let mut s = spec(&d, 10);
    s.max_output_tokens = Some(64);
    let (outcome, _) = run(&anthropic(&fake), &s, "ses_cut_end_turn").await;
    assert_eq!(outcome.end, SessionEnd::OutputLimit { max_output_tokens: Some(64), times: 3 });
    // The model was told, as for a `max_tokens` stop.
    let last = &fake.requests()[2].body["messages"];
    assert!(last.to_string().contains("cut off at the output limit (max_output_tokens = 64)"), "{last}");
}

// ---- item 5: stream = false -------------------------------------------------------------

#[tokio::test]
async fn a_role_with_stream_false_asks_for_whole_answers_in_both_formats() {
    let d = dirs();
    let whole_call = json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "local",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
            "tool_calls": [{"id": "call_0", "type": "function", "function": {"name": "read_file", "arguments": "{\"path\": \"notes.txt\"}"}}]}}],
        "usage": {"prompt_tokens": 900, "completion_tokens": 12, "total_tokens": 912}});
    let whole_message = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "notes.txt"}}],
        "stop_reason": "tool_use", "usage": {"input_tokens": 900, "output_tokens": 12}});
    let fake = FakeProvider::start(vec![Step::json(whole_call), Step::json(whole_message)]).await;
    let config = MissionsConfig::parse(
        &format!(
            "[roles.worker]\nprovider = \"openai\"\nmodel = \"local\"\nbase_url = \"{}\"\nstream = false\n\n\
             [roles.validator]\nprovider = \"anthropic\"\nmodel = \"claude-test\"\nbase_url = \"{}\"\nstream = false\n",
            fake.openai_url(),
            fake.anthropic_url()
        ),
        "missions.toml",
    )
    .unwrap();
    for (role, session) in [(AgentRole::Worker, "ses_whole_openai"), (AgentRole::Validator, "ses_whole_anthropic")] {
        let provider =
            providers::from_role(config.role(role).unwrap(), reqwest::Client::new(), HttpSettings::default()).unwrap();
        let (outcome, lines) = run(provider.as_ref(), &spec(&d, 1), session).await;
        assert_eq!(outcome.end, SessionEnd::MaxTurns(1), "{:?}", outcome.end);
        let result = lines.iter().find(|l| l["kind"] == "tool_result").unwrap();
        assert_eq!(result["content"], "1\tone\n2\ttwo\n", "the whole answer's call ran");
        assert_eq!(outcome.usage.input + outcome.usage.output, 912);
    }
    for r in fake.requests() {
        assert_eq!(r.body["stream"], false, "{}", r.path);
        assert!(r.body.get("stream_options").is_none(), "{}", r.body);
        assert_eq!(r.header("accept"), Some("application/json"));
    }
    assert!(MissionsConfig::parse("[roles.worker]\nprovider = \"command\"\ncommand = [\"x\"]\nstream = false\n", "m")
        .unwrap_err()
        .to_string()
        .contains("roles.worker.stream"));
}

// ---- item 6 and issue 20: a server that accepts and never answers -----------------------

/// Accepts connections and reads requests, never writing a byte (a wedged server, or one
/// holding requests in its queue). Returns its base URL.
async fn silent_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    url
}

#[tokio::test]
async fn a_server_that_never_answers_is_named_after_the_first_byte_timeout_and_the_wait_is_told() {
    let d = dirs();
    let url = silent_server().await;
    let settings = HttpSettings { first_byte_timeout: Duration::from_millis(700), ..HttpSettings::default() };
    let provider =
        OpenAiProvider::new(reqwest::Client::new(), "local", None).with_base_url(&url).with_settings(settings);
    let mut watched = Watched::default();
    let started = Instant::now();
    let (outcome, lines) = run_watched(&provider, &spec(&d, 5), "ses_silent", &mut watched).await;
    let SessionEnd::ProviderFailed(e) = &outcome.end else { panic!("{:?}", outcome.end) };
    assert_eq!(e.kind, ErrorKind::FirstByteTimeout);
    assert!(
        e.message.contains(&format!(
            "{url}/chat/completions accepted the request but sent no answer within 0.7 s (first_byte_timeout_s)"
        )),
        "{}",
        e.message
    );
    // Tried twice (each already waited the whole timeout), not for the 15-minute deadline.
    assert_eq!(watched.retries, [ErrorKind::FirstByteTimeout]);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(lines.iter().filter(|l| l["kind"] == "retry").count(), 1);
    // Every 100 ms (the tests' notice interval) the observer heard how long it had waited,
    // and when each wait ended; `since` is when the attempt's request went out.
    let (over, going): (Vec<&WaitNotice>, Vec<&WaitNotice>) = watched.waits.iter().partition(|w| w.over);
    assert_eq!(over.len(), 2, "one end per attempt: {:?}", watched.waits);
    assert!(going.len() >= 8, "{:?}", watched.waits);
    assert!(going.iter().all(|w| w.waited >= Duration::from_millis(100) && w.waited < Duration::from_millis(800)));
    let first_attempt: Vec<Duration> =
        going.iter().take_while(|w| w.since == going[0].since).map(|w| w.waited).collect();
    assert!(first_attempt.windows(2).all(|p| p[0] < p[1]), "{first_attempt:?}");
    assert!(over[1].since > over[0].since);
}

#[tokio::test]
async fn a_wait_that_ends_quickly_is_never_told() {
    let d = dirs();
    let fake = FakeProvider::start(vec![call("c1", "list_files", &json!({}))]).await;
    let mut watched = Watched::default();
    let (outcome, _) = run_watched(&openai(&fake), &spec(&d, 1), "ses_quick", &mut watched).await;
    assert_eq!(outcome.end, SessionEnd::MaxTurns(1));
    assert!(watched.waits.is_empty(), "{:?}", watched.waits);
}

// ---- issue 22 item 7: a stream that goes silent -----------------------------------------

#[tokio::test]
async fn a_stream_silent_after_its_first_event_is_broken_and_retried() {
    let d = dirs();
    let full = openai_turn("", &[(0, "c1", "list_files", &["{}"])], 100, 0, 10);
    // Headers, the role chunk and the call's first event, then nothing (the connection
    // stays open).
    let fake = FakeProvider::start(vec![Step::stall(full.clone(), 2), Step::stream(full)]).await;
    let settings = HttpSettings { idle_timeout: Duration::from_millis(300), ..HttpSettings::default() };
    let provider = openai(&fake).with_settings(settings);
    let mut watched = Watched::default();
    let (outcome, lines) = run_watched(&provider, &spec(&d, 1), "ses_stall", &mut watched).await;
    assert_eq!(outcome.end, SessionEnd::MaxTurns(1), "{:?}", outcome.end);
    assert_eq!(fake.requests().len(), 2);
    assert_eq!(watched.retries, [ErrorKind::StreamInterrupted]);
    let retry = lines.iter().find(|l| l["kind"] == "retry").unwrap();
    assert!(
        retry["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no bytes from the server for 0.3 s (stream_idle_timeout_s)"),
        "{retry}"
    );
    assert_eq!(retry["discardedEvents"], 1, "the first event came, then the silence");
}

#[test]
fn the_timeouts_come_from_missions_toml() {
    let config =
        MissionsConfig::parse("[limits]\nfirst_byte_timeout_s = 8\nstream_idle_timeout_s = 45\n", "missions.toml")
            .unwrap();
    let http = HttpSettings::from_limits(&config.limits);
    assert_eq!((http.first_byte_timeout, http.idle_timeout), (Duration::from_secs(8), Duration::from_secs(45)));
    // A short first-byte timeout is told about a few times before it ends the wait.
    let spec = SessionSpec::new(SessionKind::Worker, "/tmp".into(), "/tmp".into(), String::new(), &config);
    assert_eq!(spec.retry.wait_notice_every, Duration::from_secs(2));
    let defaults = HttpSettings::default();
    assert_eq!(
        (defaults.first_byte_timeout, defaults.idle_timeout),
        (Duration::from_secs(120), Duration::from_secs(120))
    );
    for bad in ["first_byte_timeout_s = 0", "stream_idle_timeout_s = 0"] {
        let err = MissionsConfig::parse(&format!("[limits]\n{bad}\n"), "missions.toml").unwrap_err().to_string();
        assert!(err.contains("must be at least 1"), "{err}");
    }
}

// ---- item 7: a rejected request is kept -------------------------------------------------

#[tokio::test]
async fn a_rejected_request_is_kept_beside_the_transcript_with_secrets_redacted() {
    let d = dirs();
    let secret = "sk-quirks-test-not-a-real-key-0123456789";
    let _registered = ApiKey::new(secret);
    let fake = FakeProvider::start(vec![Step::error(
        400,
        &[],
        json!({"error": {"message": "Invalid 'messages[2].tool_calls[0].function.arguments': not valid JSON", "type": "invalid_request_error"}}),
    )])
    .await;
    let mut s = spec(&d, 3);
    s.task = format!("Feature feat-notes. The deploy token {secret} must never be printed.");
    let (outcome, lines) = run(&openai(&fake), &s, "ses_rejected").await;
    let SessionEnd::ProviderFailed(e) = &outcome.end else { panic!("{:?}", outcome.end) };
    assert_eq!(e.kind, ErrorKind::BadRequest);
    let error = lines.iter().find(|l| l["kind"] == "error").unwrap();
    let name = error["requestBody"].as_str().unwrap();
    assert_eq!(name, format!("rejected-requests/ses_rejected-{}.json", error["seq"]));
    let kept = std::fs::read_to_string(d.mission.join(name)).unwrap();
    assert!(!kept.contains(secret) && kept.contains("[REDACTED]"), "{kept}");
    // Apart from the secret, exactly what was sent.
    let sent = fake.requests()[0].body.to_string().replace(secret, "[REDACTED]");
    assert_eq!(serde_json::from_str::<Value>(&kept).unwrap(), serde_json::from_str::<Value>(&sent).unwrap());
    // Errors that are not the request's fault keep nothing.
    assert_eq!(std::fs::read_dir(d.mission.join("rejected-requests")).unwrap().count(), 1);
}
