//! `missions.toml`: which provider and model each role uses, limits, sandbox and prices; read
//! strictly (unknown keys are errors), checked, and found by walking up to the git top level.
//! The editor's `missions.*` settings layer over it (`settings.rs`).

mod settings;

pub use settings::EditorSettings;

use crate::analysis::cost::Price;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "missions.toml";

/// The three kinds of agent session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentRole {
    Orchestrator,
    Worker,
    Validator,
}

impl AgentRole {
    pub const ALL: [AgentRole; 3] = [AgentRole::Orchestrator, AgentRole::Worker, AgentRole::Validator];

    pub fn as_str(self) -> &'static str {
        match self {
            AgentRole::Orchestrator => "orchestrator",
            AgentRole::Worker => "worker",
            AgentRole::Validator => "validator",
        }
    }
}

impl fmt::Display for AgentRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Anthropic,
    Openai,
    Command,
    Replay,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Openai => "openai",
            ProviderKind::Command => "command",
            ProviderKind::Replay => "replay",
        }
    }
}

/// How long the provider keeps the prompt prefix every session of a role shares (its
/// tools, system prompt and the mission's shared context) in its prompt cache: Anthropic's
/// `cache_control` TTL. The conversation itself is always cached for 5 minutes (its turns
/// come seconds apart).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PromptCacheTtl {
    #[serde(rename = "5m")]
    FiveMinutes,
    /// Sessions of a role often start more than 5 minutes apart (validators once a milestone,
    /// a worker after a validation round): the hour keeps their shared prefix.
    #[default]
    #[serde(rename = "1h")]
    OneHour,
}

/// One `[roles.<role>]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    pub provider: ProviderKind,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub base_url: Option<String>,
    /// Name of the environment variable holding the API key (never the key itself).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// argv of an external agent, for `provider = "command"`.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// Output token limit per model call.
    #[serde(default)]
    pub max_output_tokens: Option<u32>,
    /// `false` asks the server for whole answers instead of a stream (for servers whose
    /// streaming loses tool calls); `anthropic` and `openai` only. Default true.
    #[serde(default)]
    pub stream: Option<bool>,
    /// `anthropic` only: the cache lifetime of the prefix the role's sessions share.
    #[serde(default)]
    pub prompt_cache_ttl: Option<PromptCacheTtl>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roles {
    pub orchestrator: Option<RoleConfig>,
    pub worker: Option<RoleConfig>,
    pub validator: Option<RoleConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_parallel_workers: u32,
    pub max_validation_rounds: u32,
    pub max_turns: u32,
    /// 0 means no limit.
    pub max_tokens_per_mission: u64,
    /// The mission's cost budget in the currency of `[prices]` (USD); 0 means no limit.
    pub max_cost: f64,
    pub command_timeout_s: u64,
    /// The longest one agent session may run, in seconds (0: no limit), a model call or
    /// tool call in flight included; external agents (`provider = "command"`) are stopped
    /// at it.
    pub session_timeout_s: u64,
    /// The longest a model server may take to answer a request at all (its first byte).
    pub first_byte_timeout_s: u64,
    /// The longest a streamed answer may go without a byte before it counts as broken (and
    /// is retried).
    pub stream_idle_timeout_s: u64,
    /// The longest a service of services.yaml may take to pass its healthcheck before user
    /// testing; a service that does not come up in time blocks the round.
    pub service_start_timeout_s: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_parallel_workers: 1,
            max_validation_rounds: 4,
            max_turns: 200,
            max_tokens_per_mission: 0,
            max_cost: 0.0,
            command_timeout_s: 120,
            session_timeout_s: 3600,
            first_byte_timeout_s: 120,
            stream_idle_timeout_s: 120,
            service_start_timeout_s: 60,
        }
    }
}

/// The longest a single `bash` call may ask for.
pub const MAX_COMMAND_TIMEOUT_S: u64 = 600;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sandbox {
    #[default]
    None,
    Bwrap,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayConfig {
    pub recording: PathBuf,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MissionsConfig {
    #[serde(default)]
    pub roles: Roles,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub sandbox: Sandbox,
    #[serde(default)]
    pub network: bool,
    #[serde(default)]
    pub auto_approve: bool,
    #[serde(default)]
    pub replay: Option<ReplayConfig>,
    /// USD per million tokens, by model name.
    #[serde(default)]
    pub prices: BTreeMap<String, Price>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: {key}: {message}")]
    Invalid { path: String, key: String, message: String },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{FILE_NAME} has no [roles.{0}] table")]
    MissingRole(AgentRole),
    /// A bad editor setting; `key` is its whole name (`missions.roles.worker.model`).
    #[error("setting `{key}`: {message}")]
    Setting { key: String, message: String },
}

impl MissionsConfig {
    /// Parses and checks `text`; `origin` names the file in error messages.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let config: MissionsConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        config.validate(origin)?;
        Ok(config)
    }

    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Io { path: path.display().to_string(), source })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The role's table, or an error naming the table to add.
    pub fn role(&self, role: AgentRole) -> Result<&RoleConfig, ConfigError> {
        match role {
            AgentRole::Orchestrator => self.roles.orchestrator.as_ref(),
            AgentRole::Worker => self.roles.worker.as_ref(),
            AgentRole::Validator => self.roles.validator.as_ref(),
        }
        .ok_or(ConfigError::MissingRole(role))
    }

    pub fn price(&self, model: &str) -> Option<&Price> {
        self.prices.get(model)
    }

    fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |key: String, message: String| ConfigError::Invalid { path: origin.to_string(), key, message };
        for role in AgentRole::ALL {
            let Ok(cfg) = self.role(role) else { continue };
            let key = |field: &str| format!("roles.{role}.{field}");
            let provider = cfg.provider.as_str();
            match cfg.provider {
                ProviderKind::Openai | ProviderKind::Command | ProviderKind::Replay
                    if cfg.prompt_cache_ttl.is_some() =>
                {
                    return Err(invalid(
                        key("prompt_cache_ttl"),
                        "`prompt_cache_ttl` is only for provider = \"anthropic\" (OpenAI-format servers cache prompts on their own)".into(),
                    ));
                }
                ProviderKind::Anthropic | ProviderKind::Openai => {
                    if cfg.model.as_deref().is_none_or(|m| m.trim().is_empty()) {
                        return Err(invalid(key("model"), format!("provider \"{provider}\" needs a `model`")));
                    }
                    if cfg.command.is_some() {
                        return Err(invalid(key("command"), "`command` is only for provider = \"command\"".into()));
                    }
                }
                ProviderKind::Command | ProviderKind::Replay if cfg.stream.is_some() => {
                    return Err(invalid(
                        key("stream"),
                        "`stream` is only for provider = \"anthropic\" or \"openai\"".into(),
                    ));
                }
                ProviderKind::Command => {
                    if cfg.command.as_ref().is_none_or(|c| c.first().is_none_or(|p| p.trim().is_empty())) {
                        return Err(invalid(
                            key("command"),
                            "provider \"command\" needs `command = [\"program\", …]`".into(),
                        ));
                    }
                }
                ProviderKind::Replay => {
                    if self.replay.is_none() {
                        return Err(invalid(
                            key("provider"),
                            "provider \"replay\" needs `[replay] recording = \"path\"`".into(),
                        ));
                    }
                }
            }
            if let Some(url) = &cfg.base_url {
                check_base_url(url).map_err(|m| invalid(key("base_url"), m))?;
            }
            if let Some(name) = &cfg.api_key_env {
                check_api_key_env(name).map_err(|m| invalid(key("api_key_env"), m))?;
            }
        }
        let l = &self.limits;
        l.check().map_err(|(key, message)| invalid(key, message))?;
        if l.max_cost > 0.0 {
            // A budget in money counts only priced tokens: every role must have a price.
            for role in AgentRole::ALL {
                let Ok(cfg) = self.role(role) else { continue };
                if cfg.provider == ProviderKind::Replay {
                    continue;
                }
                match cfg.model.as_deref() {
                    None => return Err(invalid("limits.max_cost".into(), format!("needs the price of every role's model, and [roles.{role}] names no model: set its `model` and add [prices.\"<model>\"]"))),
                    Some(model) if self.price(model).is_none() => return Err(invalid("limits.max_cost".into(), format!("needs the price of every role's model: add [prices.\"{model}\"] (the model of [roles.{role}])"))),
                    Some(_) => {}
                }
            }
        }
        Ok(())
    }
}

impl Limits {
    /// Every limit in its range, else the key (`limits.max_turns`) and what is wrong.
    fn check(&self) -> Result<(), (String, String)> {
        for (name, value) in [
            ("max_parallel_workers", u64::from(self.max_parallel_workers)),
            ("max_validation_rounds", u64::from(self.max_validation_rounds)),
            ("max_turns", u64::from(self.max_turns)),
            ("max_tokens_per_mission", self.max_tokens_per_mission),
            ("command_timeout_s", self.command_timeout_s),
            ("session_timeout_s", self.session_timeout_s),
            ("first_byte_timeout_s", self.first_byte_timeout_s),
            ("stream_idle_timeout_s", self.stream_idle_timeout_s),
            ("service_start_timeout_s", self.service_start_timeout_s),
        ] {
            check_limit(name, value).map_err(|m| (format!("limits.{name}"), m))?;
        }
        check_max_cost(self.max_cost).map_err(|m| ("limits.max_cost".to_string(), m))
    }
}

fn check_base_url(url: &str) -> Result<(), String> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(format!("`{url}` is not an http:// or https:// URL"))
    }
}

fn check_api_key_env(name: &str) -> Result<(), String> {
    if is_env_var_name(name) {
        Ok(())
    } else {
        // Do not echo the value: it may be a pasted key.
        Err("must name an environment variable (like ANTHROPIC_API_KEY); keys never go in missions.toml or settings"
            .into())
    }
}

/// `max_cost`: a sum of money, 0 for none.
fn check_max_cost(value: f64) -> Result<(), String> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err("must be an amount of 0 or more (0: no limit)".into())
    }
}

/// The range of each `[limits]` key (`max_tokens_per_mission` and `session_timeout_s` have
/// none: 0 means no limit).
fn check_limit(name: &str, value: u64) -> Result<(), String> {
    match name {
        "command_timeout_s" if !(1..=MAX_COMMAND_TIMEOUT_S).contains(&value) => {
            Err(format!("must be between 1 and {MAX_COMMAND_TIMEOUT_S}"))
        }
        "max_parallel_workers"
        | "max_validation_rounds"
        | "max_turns"
        | "first_byte_timeout_s"
        | "stream_idle_timeout_s"
        | "service_start_timeout_s"
            if value == 0 =>
        {
            Err("must be at least 1".into())
        }
        _ => Ok(()),
    }
}

fn is_env_var_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Finds `missions.toml` walking up from `start` to the git top level (the first folder
/// holding `.git`), inclusive.
pub fn find_config(start: &Path) -> Option<PathBuf> {
    for dir in start.ancestors() {
        let candidate = dir.join(FILE_NAME);
        if candidate.is_file() {
            return Some(candidate);
        }
        if dir.join(".git").exists() {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) const DESIGN_EXAMPLE: &str = r#"
[roles.orchestrator]
provider = "anthropic"
model = "claude-opus-4-1"
api_key_env = "ANTHROPIC_API_KEY"

[roles.worker]
provider = "openai"
model = "qwen2.5-coder:32b"
base_url = "http://localhost:11434/v1"

[roles.validator]
provider = "command"
command = ["claude", "-p", "--output-format", "stream-json", "--verbose"]

[limits]
max_validation_rounds = 4
"#;

    #[test]
    fn max_cost_needs_the_price_of_every_roles_model() {
        let priced = "[prices.\"claude-opus-4-1\"]\ninput = 15.0\n[prices.\"qwen2.5-coder:32b\"]\noutput = 0.1\n";
        let no_model = MissionsConfig::parse(&format!("{DESIGN_EXAMPLE}max_cost = 5\n{priced}"), "missions.toml")
            .unwrap_err()
            .to_string();
        assert_eq!(no_model, "missions.toml: limits.max_cost: needs the price of every role's model, and [roles.validator] names no model: set its `model` and add [prices.\"<model>\"]");
        let text =
            DESIGN_EXAMPLE.replace("command = [\"claude\"", "model = \"claude-sonnet-4\"\ncommand = [\"claude\"");
        let unpriced =
            MissionsConfig::parse(&format!("{text}max_cost = 5\n{priced}"), "missions.toml").unwrap_err().to_string();
        assert_eq!(unpriced, "missions.toml: limits.max_cost: needs the price of every role's model: add [prices.\"claude-sonnet-4\"] (the model of [roles.validator])");
        let c = MissionsConfig::parse(
            &format!("{text}max_cost = 5.5\n{priced}[prices.\"claude-sonnet-4\"]\ninput = 3.0\n"),
            "missions.toml",
        )
        .unwrap();
        assert_eq!(c.limits.max_cost, 5.5);
        assert!(MissionsConfig::parse(&format!("{DESIGN_EXAMPLE}max_cost = -1\n"), "m.toml")
            .unwrap_err()
            .to_string()
            .contains("limits.max_cost: must be an amount of 0 or more"));
        assert!(
            MissionsConfig::parse(&format!("{DESIGN_EXAMPLE}max_cost = 0\n"), "m.toml").is_ok(),
            "0 is no budget and needs no prices"
        );
    }

    #[test]
    fn the_design_example_parses_with_defaults_filled_in() {
        let c = MissionsConfig::parse(DESIGN_EXAMPLE, "missions.toml").unwrap();
        let o = c.role(AgentRole::Orchestrator).unwrap();
        assert_eq!(o.provider, ProviderKind::Anthropic);
        assert_eq!(o.api_key_env.as_deref(), Some("ANTHROPIC_API_KEY"));
        assert_eq!(c.role(AgentRole::Worker).unwrap().base_url.as_deref(), Some("http://localhost:11434/v1"));
        assert_eq!(c.role(AgentRole::Validator).unwrap().command.as_ref().unwrap()[0], "claude");
        assert_eq!(c.limits, Limits::default());
        assert_eq!(c.sandbox, Sandbox::None);
        assert!(!c.network && !c.auto_approve);
    }

    #[test]
    fn other_keys_and_prices_parse() {
        let text = r#"
sandbox = "bwrap"
network = true
auto_approve = true
[replay]
recording = "demo/worker-transcripts.jsonl"
[roles.worker]
provider = "replay"
[limits]
max_parallel_workers = 3
command_timeout_s = 600
[prices."claude-opus-4-1"]
input = 15.0
cache_read = 1.5
cache_write = 18.75
output = 75.0
"#;
        let c = MissionsConfig::parse(text, "m.toml").unwrap();
        assert_eq!(c.sandbox, Sandbox::Bwrap);
        assert_eq!(c.limits.max_parallel_workers, 3);
        assert_eq!(c.price("claude-opus-4-1").unwrap().output, 75.0);
        assert!(matches!(c.role(AgentRole::Validator), Err(ConfigError::MissingRole(AgentRole::Validator))));
    }

    #[test]
    fn unknown_keys_are_named_with_their_line() {
        let err = MissionsConfig::parse(
            "[roles.worker]\nprovider = \"openai\"\nmodel = \"m\"\nmodle = \"x\"\n",
            "missions.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("unknown field `modle`"), "{err}");
        assert!(err.contains("line 4"), "{err}");
        let err =
            MissionsConfig::parse("[roles.planner]\nprovider = \"openai\"\n", "missions.toml").unwrap_err().to_string();
        assert!(err.contains("unknown field `planner`"), "{err}");
        let err = MissionsConfig::parse("[limits]\nmax_turn = 3\n", "missions.toml").unwrap_err().to_string();
        assert!(err.contains("unknown field `max_turn`"), "{err}");
        let err =
            MissionsConfig::parse("[roles.worker]\nprovider = \"gemini\"\n", "missions.toml").unwrap_err().to_string();
        assert!(err.contains("unknown variant `gemini`"), "{err}");
    }

    #[test]
    fn missing_models_and_commands_are_reported_by_key() {
        let err = MissionsConfig::parse("[roles.worker]\nprovider = \"anthropic\"\n", "missions.toml")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "missions.toml: roles.worker.model: provider \"anthropic\" needs a `model`");
        let err = MissionsConfig::parse("[roles.validator]\nprovider = \"command\"\ncommand = []\n", "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("roles.validator.command"), "{err}");
        let err = MissionsConfig::parse("[roles.worker]\nprovider = \"replay\"\n", "x").unwrap_err().to_string();
        assert!(err.contains("[replay] recording"), "{err}");
    }

    #[test]
    fn a_key_pasted_into_api_key_env_is_refused_without_echoing_it() {
        let text = "[roles.worker]\nprovider = \"openai\"\nmodel = \"m\"\napi_key_env = \"sk-proj-abc123-secret\"\n";
        let err = MissionsConfig::parse(text, "missions.toml").unwrap_err().to_string();
        assert!(err.contains("roles.worker.api_key_env"), "{err}");
        assert!(!err.contains("sk-proj-abc123-secret"), "{err}");
    }

    #[test]
    fn limits_out_of_range_are_errors() {
        let err = MissionsConfig::parse("[limits]\ncommand_timeout_s = 601\n", "x").unwrap_err().to_string();
        assert!(err.contains("limits.command_timeout_s"), "{err}");
        let err = MissionsConfig::parse("[limits]\nmax_turns = 0\n", "x").unwrap_err().to_string();
        assert!(err.contains("limits.max_turns"), "{err}");
    }

    #[test]
    fn the_file_is_found_walking_up_but_not_past_the_git_top() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        let deep = repo.join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::create_dir(repo.join(".git")).unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "").unwrap();
        assert_eq!(find_config(&deep), None);
        std::fs::write(repo.join(FILE_NAME), "").unwrap();
        assert_eq!(find_config(&deep), Some(repo.join(FILE_NAME)));
    }
}
