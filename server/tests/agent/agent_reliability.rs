//! Retries, non-retried errors, cancellation and garbage answers against a fake provider.

use crate::agent_support;

use agent_support::*;
use missions::agent::providers::anthropic::AnthropicProvider;
use missions::agent::providers::openai::OpenAiProvider;
use missions::agent::transcript::{SessionTranscript, SharedUsage};
use missions::agent::turn::NoObserver;
use missions::agent::{complete_turn, CancellationToken, ErrorKind, RetryPolicy, StreamEvent};
use missions::config::AgentRole;
use serde_json::json;
use std::time::{Duration, Instant};

/// Generous: catches a hang, does not measure speed.
const PROMPT: Duration = Duration::from_secs(10);

fn anthropic(fake: &FakeProvider) -> AnthropicProvider {
    AnthropicProvider::new(reqwest::Client::new(), "claude-test", None).with_base_url(&fake.anthropic_url())
}

fn openai(fake: &FakeProvider) -> OpenAiProvider {
    OpenAiProvider::new(reqwest::Client::new(), "local", None).with_base_url(&fake.openai_url())
}

fn session(dir: &std::path::Path) -> SessionTranscript {
    SessionTranscript::start(dir, "mis_r", "ses_r", AgentRole::Worker, SharedUsage::default(), json!({}))
}

#[tokio::test]
async fn anthropic_429_529_500_a_cut_stream_and_an_error_event_are_each_retried() {
    let full = anthropic_turn("Hello there.", &[], 10, 0, 0, 5);
    let mut error_after_200 = full[..3].to_vec();
    error_after_200.push("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n".into());
    let fake = FakeProvider::start(vec![
        Step::error(
            429,
            &[("retry-after-ms", "50"), ("retry-after", "30")],
            json!({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}),
        ),
        Step::error(529, &[], json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})),
        Step::error(
            500,
            &[],
            json!({"type": "error", "error": {"type": "api_error", "message": "Internal server error"}}),
        ),
        Step::cut(full.clone(), 5),
        Step::stream(error_after_200),
        Step::stream(full),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut t = session(dir.path());
    let policy = RetryPolicy { max_attempts: 8, ..fast_retries() };
    let mut streamed = String::new();
    let started = Instant::now();

    let turn = t
        .model_call(&anthropic(&fake), &request("hi"), &policy, &CancellationToken::new(), &mut |e| {
            if let StreamEvent::TextDelta { text } = e {
                streamed.push_str(text);
            }
        })
        .await
        .unwrap();

    assert!(started.elapsed() >= Duration::from_millis(50), "retry-after-ms was honoured");
    assert_eq!(turn.text(), "Hello there.", "the re-sent turn is not mixed with the broken one");
    assert_eq!(turn.usage.output, 5);
    assert_eq!(fake.requests().len(), 6);
    // Every attempt sent the same request.
    let reqs = fake.requests();
    assert!(reqs.iter().all(|r| r.body == reqs[0].body));

    let lines = read_transcript(dir.path());
    let retries: Vec<_> = lines.iter().filter(|l| l["kind"] == "retry").collect();
    let kinds: Vec<&str> = retries.iter().map(|l| l["error"]["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["rate_limited", "overloaded", "server", "stream_interrupted", "overloaded"]);
    assert_eq!(retries[0]["delayMs"], 50);
    assert_eq!(retries[0]["error"]["status"], 429);
    assert_eq!(retries[0]["discardedEvents"], 0);
    assert!(retries[3]["discardedEvents"].as_u64().unwrap() > 0, "the cut came after events");
    // The live view saw the broken attempts' text too; RetryNotice told it to discard them.
    assert!(streamed.ends_with("Hello there.") && streamed.len() > "Hello there.".len(), "{streamed:?}");
    assert_eq!(lines.iter().filter(|l| l["kind"] == "assistant_turn").count(), 1);
}

#[tokio::test]
async fn openai_503_and_a_cut_stream_are_retried() {
    let full = openai_turn("All good.", &[], 10, 0, 3);
    let fake = FakeProvider::start(vec![
        Step::error(
            503,
            &[("retry-after", "0")],
            json!({"error": {"message": "model loading", "type": "server_error"}}),
        ),
        Step::cut(full.clone(), 2),
        Step::stream(full),
    ])
    .await;
    let turn =
        complete_turn(&openai(&fake), &request("hi"), &fast_retries(), &CancellationToken::new(), &mut NoObserver)
            .await
            .unwrap();
    assert_eq!(turn.text(), "All good.");
    assert_eq!(fake.requests().len(), 3);
}

#[tokio::test]
async fn a_context_length_error_is_not_retried() {
    let fake = FakeProvider::start(vec![
        Step::error(400, &[], json!({"type": "error", "error": {"type": "invalid_request_error", "message": "prompt is too long: 215000 tokens > 200000 maximum"}})),
        Step::stream(anthropic_turn("never sent", &[], 1, 0, 0, 1)),
        Step::error(400, &[], json!({"error": {"message": "This model's maximum context length is 32768 tokens.", "type": "invalid_request_error", "code": "context_length_exceeded"}})),
        Step::stream(openai_turn("never sent", &[], 1, 0, 1)),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut t = session(dir.path());
    let cancel = CancellationToken::new();

    let err = t.model_call(&anthropic(&fake), &request("hi"), &fast_retries(), &cancel, &mut |_| {}).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::ContextLength);
    assert_eq!(err.status, Some(400));
    assert_eq!(fake.requests().len(), 1);

    fake_skip_one(&fake, &anthropic(&fake)).await;
    let err =
        complete_turn(&openai(&fake), &request("hi"), &fast_retries(), &cancel, &mut NoObserver).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::ContextLength);
    assert_eq!(fake.steps_left(), 1);

    let lines = read_transcript(dir.path());
    assert!(lines.iter().all(|l| l["kind"] != "retry"));
    let error = lines.iter().find(|l| l["kind"] == "error").unwrap();
    assert_eq!(error["error"]["kind"], "context_length");
}

/// Consumes the unused success step the first half of the context-length test left behind.
async fn fake_skip_one(fake: &FakeProvider, provider: &AnthropicProvider) {
    let before = fake.steps_left();
    complete_turn(provider, &request("x"), &fast_retries(), &CancellationToken::new(), &mut NoObserver).await.unwrap();
    assert_eq!(fake.steps_left(), before - 1);
}

#[tokio::test]
async fn an_outage_is_retried_until_the_deadline_not_a_count() {
    // Far more failures than the old fixed 8 attempts, then the provider is back.
    let mut script: Vec<Step> = (0..12)
        .map(|i| {
            if i % 2 == 0 {
                Step::error(500, &[], json!({"error": {"message": "down"}}))
            } else {
                Step::error(
                    529,
                    &[],
                    json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
                )
            }
        })
        .collect();
    script.push(Step::stream(anthropic_turn("Back.", &[], 10, 0, 0, 2)));
    let fake = FakeProvider::start(script).await;
    let policy =
        RetryPolicy { max_attempts: 2, max_outage_attempts: 1000, deadline: Duration::from_secs(8), ..fast_retries() };
    let turn = complete_turn(&anthropic(&fake), &request("hi"), &policy, &CancellationToken::new(), &mut NoObserver)
        .await
        .unwrap();
    assert_eq!(turn.text(), "Back.");
    assert_eq!(fake.requests().len(), 13);

    // An outage longer than the deadline ends at the deadline.
    let overloaded = || {
        Step::error(529, &[], json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
    };
    let fake = FakeProvider::start((0..200).map(|_| overloaded()).collect()).await;
    let policy = RetryPolicy {
        max_attempts: 2,
        max_outage_attempts: 1000,
        deadline: Duration::from_millis(400),
        ..fast_retries()
    };
    let started = Instant::now();
    let err = complete_turn(&anthropic(&fake), &request("hi"), &policy, &CancellationToken::new(), &mut NoObserver)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Overloaded);
    assert!(fake.requests().len() > 8, "{}", fake.requests().len());
    assert!(err.message.contains("retry deadline of 0.4 s reached"), "{}", err.message);
    assert!(started.elapsed() < PROMPT);
}

#[tokio::test]
async fn retries_stop_at_the_safety_net_and_at_a_retry_after_beyond_the_deadline() {
    let e500 = || Step::error(500, &[], json!({"error": {"message": "down"}}));
    let fake = FakeProvider::start(vec![e500(), e500(), e500(), e500()]).await;
    let policy = RetryPolicy { max_outage_attempts: 3, ..fast_retries() };
    let err = complete_turn(&anthropic(&fake), &request("hi"), &policy, &CancellationToken::new(), &mut NoObserver)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Server);
    assert_eq!(fake.requests().len(), 3);

    let fake = FakeProvider::start(vec![Step::error(429, &[("retry-after", "1200")], json!({}))]).await;
    let policy = RetryPolicy { deadline: Duration::from_secs(900), ..fast_retries() };
    let started = Instant::now();
    let err = complete_turn(&anthropic(&fake), &request("hi"), &policy, &CancellationToken::new(), &mut NoObserver)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::RateLimited);
    assert!(
        err.message.contains("the provider asked to wait 1200 s, beyond the 900 s retry deadline"),
        "{}",
        err.message
    );
    assert!(!err.message.contains("reached"), "{}", err.message);
    assert!(started.elapsed() < PROMPT, "did not wait out a retry-after beyond the deadline");
}

#[tokio::test]
async fn cancelling_mid_stream_returns_promptly_and_the_session_still_ends() {
    let fake =
        FakeProvider::start(vec![Step::stall(anthropic_turn("a long answer that never finishes", &[], 1, 0, 0, 1), 4)])
            .await;
    let dir = tempfile::tempdir().unwrap();
    let mut t = session(dir.path());
    let mission = CancellationToken::new();
    let turn_token = mission.child_token().child_token();
    let to_cancel = mission.clone();
    let policy = RetryPolicy { deadline: Duration::from_secs(600), ..fast_retries() };

    let result = tokio::time::timeout(
        PROMPT,
        t.model_call(&anthropic(&fake), &request("hi"), &policy, &turn_token, &mut |e| {
            if matches!(e, StreamEvent::TextDelta { .. }) {
                to_cancel.cancel(); // the person pressed stop while text was streaming
            }
        }),
    )
    .await
    .expect("a cancelled call returns instead of hanging");
    assert_eq!(result.unwrap_err().kind, ErrorKind::Cancelled);
    t.end("cancelled");

    let lines = read_transcript(dir.path());
    assert_eq!(kinds(&lines), ["session_start", "request", "error", "session_end"]);
    assert_eq!(lines[2]["error"]["kind"], "cancelled");
    assert_eq!(lines[3]["status"], "cancelled");
}

#[tokio::test]
async fn cancelling_during_a_retry_wait_returns_promptly() {
    let fake = FakeProvider::start(vec![Step::error(429, &[("retry-after-ms", "60000")], json!({}))]).await;
    let cancel = CancellationToken::new();
    let canceller = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        canceller.cancel();
    });
    let policy = RetryPolicy { deadline: Duration::from_secs(600), ..fast_retries() };
    let result = tokio::time::timeout(
        PROMPT,
        complete_turn(&anthropic(&fake), &request("hi"), &policy, &cancel, &mut NoObserver),
    )
    .await
    .expect("no hang");
    assert_eq!(result.unwrap_err().kind, ErrorKind::Cancelled);
}

#[tokio::test]
async fn a_stalled_stream_times_out_and_is_retried() {
    let full = anthropic_turn("Recovered.", &[], 1, 0, 0, 1);
    let fake = FakeProvider::start(vec![Step::stall(full.clone(), 2), Step::stream(full)]).await;
    let settings =
        missions::agent::providers::HttpSettings { idle_timeout: Duration::from_millis(200), ..Default::default() };
    let provider = anthropic(&fake).with_settings(settings);
    let turn = complete_turn(&provider, &request("hi"), &fast_retries(), &CancellationToken::new(), &mut NoObserver)
        .await
        .unwrap();
    assert_eq!(turn.text(), "Recovered.");
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn garbage_answers_are_classified_not_panicked_on() {
    let fake = FakeProvider::start(vec![
        Step::raw("text/html", "<html><body>Welcome to nginx</body></html>"),
        Step::raw("application/json", "this is not json"),
        Step::stream(vec![
            "data: {\"choices\": [{\"delta\": {\"content\": 5}}]}\n\n".into(),
            "event: x\ndata: }{\n\n".into(),
        ]),
        Step::json(json!({"error": {"type": "authentication_error", "message": "invalid x-api-key"}})),
        Step::json(json!({"unexpected": true})),
        Step::raw("text/event-stream", "\u{0}\u{1}binary garbage without newlines"),
    ])
    .await;
    let cancel = CancellationToken::new();
    let none = RetryPolicy::none();
    let mut got = Vec::new();
    for provider in [
        &openai(&fake) as &dyn missions::agent::Provider,
        &openai(&fake),
        &openai(&fake),
        &anthropic(&fake),
        &anthropic(&fake),
        &anthropic(&fake),
    ] {
        let err = complete_turn(provider, &request("hi"), &none, &cancel, &mut NoObserver).await.unwrap_err();
        got.push(err.kind);
    }
    assert_eq!(
        got,
        [
            ErrorKind::InvalidResponse,
            ErrorKind::InvalidResponse,
            ErrorKind::InvalidResponse,
            ErrorKind::Auth,
            ErrorKind::InvalidResponse,
            ErrorKind::StreamInterrupted,
        ]
    );
}

#[tokio::test]
async fn a_refused_connection_is_a_retried_transport_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let provider = AnthropicProvider::new(reqwest::Client::new(), "claude-test", None).with_base_url(&url);
    let mut retries = Vec::new();
    struct Count<'a>(&'a mut Vec<ErrorKind>);
    impl missions::agent::TurnObserver for Count<'_> {
        fn on_retry(&mut self, r: &missions::agent::RetryNotice) {
            self.0.push(r.error.kind);
        }
    }
    // Unreachable is not an outage: retried up to max_attempts, then the person hears of it
    // (a wrong base_url should not wait for the whole deadline).
    let policy =
        RetryPolicy { max_attempts: 4, max_outage_attempts: 1000, deadline: Duration::from_secs(20), ..fast_retries() };
    let err = complete_turn(&provider, &request("hi"), &policy, &CancellationToken::new(), &mut Count(&mut retries))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Transport);
    assert_eq!(retries.len(), 3, "{retries:?}");
    assert!(retries.iter().all(|k| *k == ErrorKind::Transport), "{retries:?}");
}
