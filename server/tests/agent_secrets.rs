//! The API key, read from the environment, never reaches a file even when the server echoes it.
//! Its own test binary: it sets an environment variable, which must not race other tests.

mod agent_support;

use agent_support::*;
use missions::agent::providers::{self, HttpSettings};
use missions::agent::transcript::{SessionTranscript, SharedUsage};
use missions::agent::{CancellationToken, ErrorKind};
use missions::config::{AgentRole, MissionsConfig};
use serde_json::json;

const KEY: &str = "sk-ant-api03-SECRET-echo-test-5f4dcc3b5aa765d61d8327deb882cf99";

#[tokio::test]
async fn an_api_key_echoed_by_the_server_is_absent_from_every_file_written() {
    std::env::set_var("MISSIONS_TEST_ANTHROPIC_KEY", KEY);
    let echo = |status: u16, kind: &str| {
        Step::error(
            status,
            &[],
            json!({"type": "error", "error": {"type": kind, "message": format!("invalid x-api-key: {KEY}")}}),
        )
    };
    // A retried 500 that echoes the key (logged as a retry), then a 401 that does (an error).
    let fake = FakeProvider::start(vec![echo(500, "api_error"), echo(401, "authentication_error")]).await;
    let toml = format!(
        "[roles.orchestrator]\nprovider = \"anthropic\"\nmodel = \"claude-test\"\nbase_url = \"{}\"\napi_key_env = \"MISSIONS_TEST_ANTHROPIC_KEY\"\n",
        fake.anthropic_url()
    );
    let config = MissionsConfig::parse(&toml, "missions.toml").unwrap();
    let settings = HttpSettings::default();
    let provider = providers::from_role(
        config.role(AgentRole::Orchestrator).unwrap(),
        providers::http_client(&settings).unwrap(),
        settings,
    )
    .unwrap();

    let mission = tempfile::tempdir().unwrap();
    let mut t = SessionTranscript::start(
        mission.path(),
        "mis_s",
        "ses_s",
        AgentRole::Orchestrator,
        SharedUsage::default(),
        json!({"provider": "anthropic"}),
    );
    let err = t
        .model_call(provider.as_ref(), &request("plan"), &fast_retries(), &CancellationToken::new(), &mut |_| {})
        .await
        .unwrap_err();
    t.end("failed");

    assert_eq!(err.kind, ErrorKind::Auth);
    assert_eq!(fake.requests().len(), 2, "the 500 was retried, the 401 was not");
    assert_eq!(fake.requests()[0].header("x-api-key"), Some(KEY), "the key did reach the server");
    assert!(!err.to_string().contains(KEY) && !format!("{err:?}").contains(KEY));
    assert!(err.message.contains("[REDACTED]"), "{}", err.message);

    let files = all_files(mission.path());
    assert!(!files.is_empty());
    for (path, text) in &files {
        assert!(!text.contains(KEY), "{} holds the key", path.display());
        assert!(!text.contains("5f4dcc3b5aa765d61d8327deb882cf99"), "{} holds part of the key", path.display());
    }
    let lines = read_transcript(mission.path());
    assert_eq!(kinds(&lines), ["session_start", "request", "retry", "error", "session_end"]);
    assert!(lines[3]["error"]["message"].as_str().unwrap().contains("[REDACTED]"));
}
