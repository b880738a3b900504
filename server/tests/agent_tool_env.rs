//! API keys never reach the commands an agent runs. Its own test binary: it sets environment
//! variables, which must not race other tests.

use missions::agent::tools::bash::CommandSettings;
use missions::agent::tools::{Toolbox, WritePolicy};
use missions::agent::CancellationToken;
use missions::config::MissionsConfig;
use serde_json::json;

#[tokio::test]
async fn api_keys_are_absent_from_the_environment_of_bash() {
    std::env::set_var("MISSIONS_TEST_WORKER_KEY", "sk-worker-key-do-not-leak-123456");
    std::env::set_var("ANTHROPIC_API_KEY", "sk-ant-well-known-do-not-leak-9876");
    std::env::set_var("MISSIONS_TEST_HARMLESS", "visible");
    let config = MissionsConfig::parse(
        "[roles.worker]\nprovider = \"openai\"\nmodel = \"m\"\napi_key_env = \"MISSIONS_TEST_WORKER_KEY\"\n",
        "missions.toml",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mission = dir.path().join(".missions/m");
    std::fs::create_dir_all(&mission).unwrap();
    let settings = CommandSettings::from_config(&config, WritePolicy::WorkingDirectory);
    let mut tb = Toolbox::new(dir.path(), &mission, WritePolicy::WorkingDirectory, "s", settings).unwrap();
    let out = tb.run("bash", &json!({"command": "env"}), &CancellationToken::new()).await;
    assert!(out.content.contains("MISSIONS_TEST_HARMLESS=visible"), "{}", out.content);
    assert!(
        !out.content.contains("MISSIONS_TEST_WORKER_KEY") && !out.content.contains("sk-worker-key"),
        "{}",
        out.content
    );
    assert!(
        !out.content.contains("ANTHROPIC_API_KEY") && !out.content.contains("sk-ant-well-known"),
        "{}",
        out.content
    );
}

#[tokio::test]
async fn a_git_identity_is_supplied_when_none_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let config = MissionsConfig::default();
    let settings =
        CommandSettings::from_config(&config, WritePolicy::WorkingDirectory).with_git_identity_if_missing(dir.path());
    let configured = missions::agent::tools::bash::git_identity_configured(dir.path());
    let names: Vec<&str> = settings.added_env.iter().map(|(k, _)| k.as_str()).collect();
    if configured {
        assert!(names.is_empty(), "an existing identity is left alone");
    } else {
        assert_eq!(names, ["GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"]);
    }
}
