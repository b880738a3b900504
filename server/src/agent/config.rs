//! `missions.toml`: which provider and model each role uses, limits, sandbox and prices.

use crate::agent::usage::Price;
use serde::{Deserialize, Serialize};
use serde_json::Value;
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
    pub const ALL: [AgentRole; 3] = [
        AgentRole::Orchestrator,
        AgentRole::Worker,
        AgentRole::Validator,
    ];

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
    Invalid {
        path: String,
        key: String,
        message: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
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
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
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
        let invalid = |key: String, message: String| ConfigError::Invalid {
            path: origin.to_string(),
            key,
            message,
        };
        for role in AgentRole::ALL {
            let Ok(cfg) = self.role(role) else { continue };
            let key = |field: &str| format!("roles.{role}.{field}");
            let provider = cfg.provider.as_str();
            match cfg.provider {
                ProviderKind::Openai | ProviderKind::Command | ProviderKind::Replay if cfg.prompt_cache_ttl.is_some() => {
                    return Err(invalid(
                        key("prompt_cache_ttl"),
                        "`prompt_cache_ttl` is only for provider = \"anthropic\" (OpenAI-format servers cache prompts on their own)".into(),
                    ));
                }
                ProviderKind::Anthropic | ProviderKind::Openai => {
                    if cfg.model.as_deref().is_none_or(|m| m.trim().is_empty()) {
                        return Err(invalid(
                            key("model"),
                            format!("provider \"{provider}\" needs a `model`"),
                        ));
                    }
                    if cfg.command.is_some() {
                        return Err(invalid(
                            key("command"),
                            "`command` is only for provider = \"command\"".into(),
                        ));
                    }
                }
                ProviderKind::Command | ProviderKind::Replay if cfg.stream.is_some() => {
                    return Err(invalid(
                        key("stream"),
                        "`stream` is only for provider = \"anthropic\" or \"openai\"".into(),
                    ));
                }
                ProviderKind::Command => {
                    if cfg
                        .command
                        .as_ref()
                        .is_none_or(|c| c.first().is_none_or(|p| p.trim().is_empty()))
                    {
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
        for (name, value) in [
            ("max_parallel_workers", u64::from(l.max_parallel_workers)),
            ("max_validation_rounds", u64::from(l.max_validation_rounds)),
            ("max_turns", u64::from(l.max_turns)),
            ("max_tokens_per_mission", l.max_tokens_per_mission),
            ("command_timeout_s", l.command_timeout_s),
            ("session_timeout_s", l.session_timeout_s),
            ("first_byte_timeout_s", l.first_byte_timeout_s),
            ("stream_idle_timeout_s", l.stream_idle_timeout_s),
            ("service_start_timeout_s", l.service_start_timeout_s),
        ] {
            check_limit(name, value).map_err(|m| invalid(format!("limits.{name}"), m))?;
        }
        check_max_cost(l.max_cost).map_err(|m| invalid("limits.max_cost".into(), m))?;
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
        Err("must name an environment variable (like ANTHROPIC_API_KEY); keys never go in missions.toml or settings".into())
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

// ---- the editor's `missions.*` settings over missions.toml ------------------------------

/// The editor's `missions.*` settings (design §5), layered over missions.toml: an object in
/// missions.toml's own shape and snake_case key names, as the VS Code extension sends it
/// (`{"roles": {"worker": {"model": "…", "base_url": "…"}}, "limits": {"max_turns": 50}}`).
/// Every key of missions.toml may be set (`roles.<role>.*`, `limits.*`, `sandbox`, `network`,
/// `auto_approve`, `replay.recording`, `prices.<model>`); unknown keys and wrong types are
/// errors naming the setting (`missions.roles.worker.modle`). `null` at any level sets
/// nothing, so missions.toml keeps that key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EditorSettings {
    roles: BTreeMap<AgentRole, RoleSettings>,
    limits: BTreeMap<&'static str, u64>,
    max_cost: Option<f64>,
    sandbox: Option<Sandbox>,
    network: Option<bool>,
    auto_approve: Option<bool>,
    replay: Option<PathBuf>,
    prices: BTreeMap<String, Price>,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct RoleSettings {
    provider: Option<ProviderKind>,
    model: Option<String>,
    base_url: Option<String>,
    api_key_env: Option<String>,
    command: Option<Vec<String>>,
    max_output_tokens: Option<u32>,
    stream: Option<bool>,
    prompt_cache_ttl: Option<PromptCacheTtl>,
}

const TOP_KEYS: [&str; 7] = [
    "roles",
    "limits",
    "sandbox",
    "network",
    "auto_approve",
    "replay",
    "prices",
];
const ROLE_KEYS: [&str; 8] = [
    "provider",
    "model",
    "base_url",
    "api_key_env",
    "command",
    "max_output_tokens",
    "stream",
    "prompt_cache_ttl",
];
const LIMIT_KEYS: [&str; 10] = [
    "max_parallel_workers",
    "max_validation_rounds",
    "max_turns",
    "max_tokens_per_mission",
    "max_cost",
    "command_timeout_s",
    "session_timeout_s",
    "first_byte_timeout_s",
    "stream_idle_timeout_s",
    "service_start_timeout_s",
];
const PRICE_KEYS: [&str; 4] = ["input", "cache_read", "cache_write", "output"];

/// An error naming the setting `missions.<key>` (`key` in missions.toml's terms).
fn setting(key: &str, message: impl Into<String>) -> ConfigError {
    let key = if key.is_empty() {
        "missions".to_string()
    } else {
        format!("missions.{key}")
    };
    ConfigError::Setting {
        key,
        message: message.into(),
    }
}

fn unknown(key: &str, expected: &[&str]) -> ConfigError {
    // `baseUrl` for `base_url`: settings use missions.toml's key names.
    let last = key.rsplit('.').next().unwrap_or(key);
    let snake: String = last
        .chars()
        .flat_map(|c| {
            let lower = c.to_ascii_lowercase();
            (c.is_ascii_uppercase().then_some('_').into_iter()).chain([lower])
        })
        .collect();
    if snake != last && expected.contains(&snake.as_str()) {
        return setting(
            key,
            format!("unknown setting; did you mean `{snake}`? The settings use missions.toml's key names"),
        );
    }
    setting(
        key,
        format!("unknown setting; expected one of {}", expected.join(", ")),
    )
}

/// What a JSON value is, for type errors (never the value itself: it may be a pasted key).
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn wrong_type(key: &str, expected: &str, v: &Value) -> ConfigError {
    setting(key, format!("expected {expected}, found {}", kind(v)))
}

/// An object (`None` for null).
fn object<'v>(
    v: &'v Value,
    key: &str,
) -> Result<Option<&'v serde_json::Map<String, Value>>, ConfigError> {
    match v {
        Value::Null => Ok(None),
        Value::Object(map) => Ok(Some(map)),
        other => Err(wrong_type(key, "an object", other)),
    }
}

fn string(v: &Value, key: &str) -> Result<Option<String>, ConfigError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        other => Err(wrong_type(key, "a string", other)),
    }
}

fn boolean(v: &Value, key: &str) -> Result<Option<bool>, ConfigError> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        other => Err(wrong_type(key, "true or false", other)),
    }
}

/// A whole number from 0 to `max` (a JSON `50.0` counts as 50).
fn whole(v: &Value, key: &str, max: u64) -> Result<Option<u64>, ConfigError> {
    let n = match v {
        Value::Null => return Ok(None),
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= max as f64)
                .map(|f| f as u64)
        }),
        other => return Err(wrong_type(key, "a whole number", other)),
    };
    match n {
        Some(n) if n <= max => Ok(Some(n)),
        _ => Err(setting(
            key,
            format!("expected a whole number from 0 to {max}, found {v}"),
        )),
    }
}

fn one_of<T: Copy>(v: &Value, key: &str, options: &[(&str, T)]) -> Result<Option<T>, ConfigError> {
    let Some(s) = string(v, key)? else {
        return Ok(None);
    };
    match options.iter().find(|(name, _)| *name == s) {
        Some((_, value)) => Ok(Some(*value)),
        None => {
            let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
            Err(setting(
                key,
                format!("unknown value `{s}`; expected one of {}", names.join(", ")),
            ))
        }
    }
}

impl RoleSettings {
    fn from_json(
        map: &serde_json::Map<String, Value>,
        path: &str,
    ) -> Result<RoleSettings, ConfigError> {
        let mut r = RoleSettings::default();
        for (name, v) in map {
            let key = format!("{path}.{name}");
            let key = key.as_str();
            match name.as_str() {
                "provider" => {
                    let kinds = [
                        ProviderKind::Anthropic,
                        ProviderKind::Openai,
                        ProviderKind::Command,
                        ProviderKind::Replay,
                    ]
                    .map(|k| (k.as_str(), k));
                    r.provider = one_of(v, key, &kinds)?;
                }
                "model" => r.model = string(v, key)?,
                "base_url" => {
                    r.base_url = string(v, key)?;
                    if let Some(url) = &r.base_url {
                        check_base_url(url).map_err(|m| setting(key, m))?;
                    }
                }
                "api_key_env" => {
                    r.api_key_env = string(v, key)?;
                    if let Some(name) = &r.api_key_env {
                        check_api_key_env(name).map_err(|m| setting(key, m))?;
                    }
                }
                "command" => {
                    r.command = match v {
                        Value::Null => None,
                        Value::Array(items) => Some(
                            items
                                .iter()
                                .map(|i| {
                                    i.as_str()
                                        .map(str::to_string)
                                        .ok_or_else(|| wrong_type(key, "a list of strings", i))
                                })
                                .collect::<Result<_, _>>()?,
                        ),
                        other => {
                            return Err(wrong_type(
                                key,
                                "a list of strings (the program and its arguments)",
                                other,
                            ))
                        }
                    }
                }
                "max_output_tokens" => {
                    r.max_output_tokens = whole(v, key, u32::MAX.into())?.map(|n| n as u32)
                }
                "stream" => r.stream = boolean(v, key)?,
                "prompt_cache_ttl" => {
                    r.prompt_cache_ttl = one_of(v, key, &[("5m", PromptCacheTtl::FiveMinutes), ("1h", PromptCacheTtl::OneHour)])?
                }
                _ => return Err(unknown(key, &ROLE_KEYS)),
            }
        }
        Ok(r)
    }

    /// `base` (the file's table of this role, if any) with these settings over it. A table
    /// whose provider the settings change is not the file's any more: it starts empty.
    fn over(
        &self,
        base: Option<RoleConfig>,
        role: AgentRole,
        file: Option<&str>,
    ) -> Result<RoleConfig, ConfigError> {
        let mut rc = match (base, self.provider) {
            (Some(base), Some(p)) if base.provider != p => RoleConfig::empty(p),
            (Some(base), _) => base,
            (None, Some(p)) => RoleConfig::empty(p),
            (None, None) => {
                let message = match file {
                    Some(file) => {
                        format!("not set, and {file} has no [roles.{role}] table to take it from")
                    }
                    None => "not set, and there is no missions.toml to take it from".to_string(),
                };
                return Err(setting(&format!("roles.{role}.provider"), message));
            }
        };
        let set = |slot: &mut Option<String>, v: &Option<String>| {
            if v.is_some() {
                slot.clone_from(v);
            }
        };
        set(&mut rc.model, &self.model);
        set(&mut rc.base_url, &self.base_url);
        set(&mut rc.api_key_env, &self.api_key_env);
        if self.command.is_some() {
            rc.command.clone_from(&self.command);
        }
        if self.max_output_tokens.is_some() {
            rc.max_output_tokens = self.max_output_tokens;
        }
        if self.stream.is_some() {
            rc.stream = self.stream;
        }
        if self.prompt_cache_ttl.is_some() {
            rc.prompt_cache_ttl = self.prompt_cache_ttl;
        }
        Ok(rc)
    }
}

impl RoleConfig {
    fn empty(provider: ProviderKind) -> RoleConfig {
        RoleConfig {
            provider,
            model: None,
            base_url: None,
            api_key_env: None,
            command: None,
            max_output_tokens: None,
            stream: None,
            prompt_cache_ttl: None,
        }
    }
}

impl EditorSettings {
    /// Reads the settings object (the answer to `workspace/configuration` for section
    /// `missions`); null is no settings. Checks every key and value on its own; what depends
    /// on missions.toml (a provider's `model`) is checked by [`MissionsConfig::with_settings`].
    pub fn from_json(value: &Value) -> Result<EditorSettings, ConfigError> {
        let mut s = EditorSettings::default();
        let Some(top) = (match value {
            Value::Null => None,
            Value::Object(map) => Some(map),
            other => {
                return Err(setting(
                    "",
                    format!(
                        "expected an object in missions.toml's shape, found {}",
                        kind(other)
                    ),
                ))
            }
        }) else {
            return Ok(s);
        };
        for (name, v) in top {
            let key = name.as_str();
            match key {
                "roles" => {
                    for (role_name, rv) in object(v, key)?.into_iter().flatten() {
                        let path = format!("roles.{role_name}");
                        let Some(role) =
                            AgentRole::ALL.into_iter().find(|r| r.as_str() == role_name)
                        else {
                            return Err(unknown(&path, &AgentRole::ALL.map(AgentRole::as_str)));
                        };
                        if let Some(fields) = object(rv, &path)? {
                            let role_settings = RoleSettings::from_json(fields, &path)?;
                            // A table of nulls sets nothing (and needs no provider).
                            if role_settings != RoleSettings::default() {
                                s.roles.insert(role, role_settings);
                            }
                        }
                    }
                }
                "limits" => {
                    for (limit, lv) in object(v, key)?.into_iter().flatten() {
                        let path = format!("limits.{limit}");
                        let Some(known) = LIMIT_KEYS.into_iter().find(|k| k == limit) else {
                            return Err(unknown(&path, &LIMIT_KEYS));
                        };
                        if known == "max_cost" {
                            match lv {
                                Value::Null => {}
                                Value::Number(n) => {
                                    let cost = n.as_f64().unwrap_or(-1.0);
                                    check_max_cost(cost).map_err(|m| setting(&path, m))?;
                                    s.max_cost = Some(cost);
                                }
                                other => return Err(wrong_type(&path, "an amount (in the currency of [prices])", other)),
                            }
                            continue;
                        }
                        let max =
                            if matches!(known, "max_tokens_per_mission" | "command_timeout_s" | "session_timeout_s" | "first_byte_timeout_s" | "stream_idle_timeout_s" | "service_start_timeout_s") {
                                u64::MAX
                            } else {
                                u32::MAX.into()
                            };
                        if let Some(n) = whole(lv, &path, max)? {
                            check_limit(known, n).map_err(|m| setting(&path, m))?;
                            s.limits.insert(known, n);
                        }
                    }
                }
                "sandbox" => {
                    s.sandbox = one_of(
                        v,
                        key,
                        &[("none", Sandbox::None), ("bwrap", Sandbox::Bwrap)],
                    )?
                }
                "network" => s.network = boolean(v, key)?,
                "auto_approve" => s.auto_approve = boolean(v, key)?,
                "replay" => {
                    for (k, rv) in object(v, key)?.into_iter().flatten() {
                        match k.as_str() {
                            "recording" => {
                                s.replay = string(rv, "replay.recording")?.map(PathBuf::from)
                            }
                            _ => return Err(unknown(&format!("replay.{k}"), &["recording"])),
                        }
                    }
                }
                "prices" => {
                    for (model, pv) in object(v, key)?.into_iter().flatten() {
                        let path = format!("prices.{model}");
                        let Some(fields) = object(pv, &path)? else {
                            continue;
                        };
                        let mut price = Price::default();
                        for (k, fv) in fields {
                            let fpath = format!("{path}.{k}");
                            let slot = match k.as_str() {
                                "input" => &mut price.input,
                                "cache_read" => &mut price.cache_read,
                                "cache_write" => &mut price.cache_write,
                                "output" => &mut price.output,
                                _ => return Err(unknown(&fpath, &PRICE_KEYS)),
                            };
                            match fv {
                                Value::Null => {}
                                Value::Number(n) => *slot = n.as_f64().unwrap_or_default(),
                                other => {
                                    return Err(wrong_type(
                                        &fpath,
                                        "a number (USD per million tokens)",
                                        other,
                                    ))
                                }
                            }
                        }
                        s.prices.insert(model.clone(), price);
                    }
                }
                _ => return Err(unknown(key, &TOP_KEYS)),
            }
        }
        Ok(s)
    }

    /// True when nothing is set (missions.toml applies as it is).
    pub fn is_empty(&self) -> bool {
        *self == EditorSettings::default()
    }

    /// Whether the settings set anything under `key` (`roles.worker.model`, `roles.worker`).
    fn touches(&self, key: &str) -> bool {
        let mut parts = key.split('.');
        match (parts.next(), parts.next()) {
            (Some("roles"), Some(role)) => self.roles.keys().any(|r| r.as_str() == role),
            (Some("limits"), Some("max_cost")) => self.max_cost.is_some(),
            (Some("limits"), Some(limit)) => self.limits.contains_key(limit),
            (Some("replay"), _) => self.replay.is_some(),
            _ => false,
        }
    }
}

impl MissionsConfig {
    /// This configuration (read from `file`) with the editor's settings over it, key by key,
    /// checked like [`MissionsConfig::parse`]; an error the settings cause names the setting.
    pub fn with_settings(self, settings: &EditorSettings, file: &str) -> Result<Self, ConfigError> {
        self.layer(settings, Some(file))
    }

    /// The configuration the editor's settings give alone, when there is no missions.toml.
    /// A role they do not name stays missing ([`MissionsConfig::role`] says so).
    pub fn from_settings(settings: &EditorSettings) -> Result<Self, ConfigError> {
        MissionsConfig::default().layer(settings, None)
    }

    fn layer(mut self, settings: &EditorSettings, file: Option<&str>) -> Result<Self, ConfigError> {
        for (&role, rs) in &settings.roles {
            let slot = match role {
                AgentRole::Orchestrator => &mut self.roles.orchestrator,
                AgentRole::Worker => &mut self.roles.worker,
                AgentRole::Validator => &mut self.roles.validator,
            };
            *slot = Some(rs.over(slot.take(), role, file)?);
        }
        for (&name, &n) in &settings.limits {
            let l = &mut self.limits;
            match name {
                "max_parallel_workers" => l.max_parallel_workers = n as u32,
                "max_validation_rounds" => l.max_validation_rounds = n as u32,
                "max_turns" => l.max_turns = n as u32,
                "max_tokens_per_mission" => l.max_tokens_per_mission = n,
                "command_timeout_s" => l.command_timeout_s = n,
                "session_timeout_s" => l.session_timeout_s = n,
                "first_byte_timeout_s" => l.first_byte_timeout_s = n,
                "stream_idle_timeout_s" => l.stream_idle_timeout_s = n,
                "service_start_timeout_s" => l.service_start_timeout_s = n,
                _ => {}
            }
        }
        if let Some(max_cost) = settings.max_cost {
            self.limits.max_cost = max_cost;
        }
        if let Some(sandbox) = settings.sandbox {
            self.sandbox = sandbox;
        }
        if let Some(network) = settings.network {
            self.network = network;
        }
        if let Some(auto_approve) = settings.auto_approve {
            self.auto_approve = auto_approve;
        }
        if let Some(recording) = &settings.replay {
            self.replay = Some(ReplayConfig {
                recording: recording.clone(),
            });
        }
        for (model, price) in &settings.prices {
            self.prices.insert(model.clone(), *price);
        }
        let origin = match file {
            Some(file) => format!("{file} with the missions.* settings"),
            None => "the missions.* settings".to_string(),
        };
        self.validate(&origin).map_err(|e| match e {
            ConfigError::Invalid { key, message, .. }
                if settings.touches(&key) || file.is_none() =>
            {
                setting(&key, message)
            }
            other => other,
        })?;
        Ok(self)
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

    const DESIGN_EXAMPLE: &str = r#"
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
        let no_model = MissionsConfig::parse(&format!("{DESIGN_EXAMPLE}max_cost = 5\n{priced}"), "missions.toml").unwrap_err().to_string();
        assert_eq!(no_model, "missions.toml: limits.max_cost: needs the price of every role's model, and [roles.validator] names no model: set its `model` and add [prices.\"<model>\"]");
        let text = DESIGN_EXAMPLE.replace("command = [\"claude\"", "model = \"claude-sonnet-4\"\ncommand = [\"claude\"");
        let unpriced = MissionsConfig::parse(&format!("{text}max_cost = 5\n{priced}"), "missions.toml").unwrap_err().to_string();
        assert_eq!(unpriced, "missions.toml: limits.max_cost: needs the price of every role's model: add [prices.\"claude-sonnet-4\"] (the model of [roles.validator])");
        let c = MissionsConfig::parse(&format!("{text}max_cost = 5.5\n{priced}[prices.\"claude-sonnet-4\"]\ninput = 3.0\n"), "missions.toml").unwrap();
        assert_eq!(c.limits.max_cost, 5.5);
        assert!(MissionsConfig::parse(&format!("{DESIGN_EXAMPLE}max_cost = -1\n"), "m.toml").unwrap_err().to_string().contains("limits.max_cost: must be an amount of 0 or more"));
        assert!(MissionsConfig::parse(&format!("{DESIGN_EXAMPLE}max_cost = 0\n"), "m.toml").is_ok(), "0 is no budget and needs no prices");
    }

    #[test]
    fn the_design_example_parses_with_defaults_filled_in() {
        let c = MissionsConfig::parse(DESIGN_EXAMPLE, "missions.toml").unwrap();
        let o = c.role(AgentRole::Orchestrator).unwrap();
        assert_eq!(o.provider, ProviderKind::Anthropic);
        assert_eq!(o.api_key_env.as_deref(), Some("ANTHROPIC_API_KEY"));
        assert_eq!(
            c.role(AgentRole::Worker).unwrap().base_url.as_deref(),
            Some("http://localhost:11434/v1")
        );
        assert_eq!(
            c.role(AgentRole::Validator)
                .unwrap()
                .command
                .as_ref()
                .unwrap()[0],
            "claude"
        );
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
        assert!(matches!(
            c.role(AgentRole::Validator),
            Err(ConfigError::MissingRole(AgentRole::Validator))
        ));
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
            MissionsConfig::parse("[roles.planner]\nprovider = \"openai\"\n", "missions.toml")
                .unwrap_err()
                .to_string();
        assert!(err.contains("unknown field `planner`"), "{err}");
        let err = MissionsConfig::parse("[limits]\nmax_turn = 3\n", "missions.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `max_turn`"), "{err}");
        let err = MissionsConfig::parse("[roles.worker]\nprovider = \"gemini\"\n", "missions.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown variant `gemini`"), "{err}");
    }

    #[test]
    fn missing_models_and_commands_are_reported_by_key() {
        let err = MissionsConfig::parse(
            "[roles.worker]\nprovider = \"anthropic\"\n",
            "missions.toml",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "missions.toml: roles.worker.model: provider \"anthropic\" needs a `model`"
        );
        let err = MissionsConfig::parse(
            "[roles.validator]\nprovider = \"command\"\ncommand = []\n",
            "x",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("roles.validator.command"), "{err}");
        let err = MissionsConfig::parse("[roles.worker]\nprovider = \"replay\"\n", "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("[replay] recording"), "{err}");
    }

    #[test]
    fn a_key_pasted_into_api_key_env_is_refused_without_echoing_it() {
        let text = "[roles.worker]\nprovider = \"openai\"\nmodel = \"m\"\napi_key_env = \"sk-proj-abc123-secret\"\n";
        let err = MissionsConfig::parse(text, "missions.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("roles.worker.api_key_env"), "{err}");
        assert!(!err.contains("sk-proj-abc123-secret"), "{err}");
    }

    #[test]
    fn limits_out_of_range_are_errors() {
        let err = MissionsConfig::parse("[limits]\ncommand_timeout_s = 601\n", "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("limits.command_timeout_s"), "{err}");
        let err = MissionsConfig::parse("[limits]\nmax_turns = 0\n", "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("limits.max_turns"), "{err}");
    }

    #[test]
    fn prompt_cache_ttl_is_an_anthropic_setting_of_5m_or_1h() {
        let file = MissionsConfig::parse(
            "[roles.worker]\nprovider = \"anthropic\"\nmodel = \"m\"\nprompt_cache_ttl = \"5m\"\n",
            "missions.toml",
        )
        .unwrap();
        assert_eq!(file.role(AgentRole::Worker).unwrap().prompt_cache_ttl, Some(PromptCacheTtl::FiveMinutes));
        let s = EditorSettings::from_json(&serde_json::json!({"roles": {"worker": {"prompt_cache_ttl": "1h"}}})).unwrap();
        let c = file.with_settings(&s, "missions.toml").unwrap();
        assert_eq!(c.role(AgentRole::Worker).unwrap().prompt_cache_ttl, Some(PromptCacheTtl::OneHour));
        let err = EditorSettings::from_json(&serde_json::json!({"roles": {"worker": {"prompt_cache_ttl": "2h"}}})).unwrap_err().to_string();
        assert!(err.contains("missions.roles.worker.prompt_cache_ttl") && err.contains("5m, 1h"), "{err}");
        let err = MissionsConfig::parse("[roles.worker]\nprovider = \"anthropic\"\nmodel = \"m\"\nprompt_cache_ttl = \"2h\"\n", "missions.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("prompt_cache_ttl") && err.contains("line 4"), "{err}");
        let err = MissionsConfig::parse("[roles.worker]\nprovider = \"openai\"\nmodel = \"m\"\nprompt_cache_ttl = \"1h\"\n", "missions.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("roles.worker.prompt_cache_ttl") && err.contains("only for provider = \"anthropic\""), "{err}");
    }

    #[test]
    fn stream_and_the_provider_timeouts_come_from_the_file_or_the_settings() {
        let file = MissionsConfig::parse(
            "[roles.worker]\nprovider = \"openai\"\nmodel = \"m\"\nstream = false\n[limits]\nfirst_byte_timeout_s = 30\n",
            "missions.toml",
        )
        .unwrap();
        assert_eq!(file.role(AgentRole::Worker).unwrap().stream, Some(false));
        assert_eq!((file.limits.first_byte_timeout_s, file.limits.stream_idle_timeout_s), (30, 120));
        let s = EditorSettings::from_json(&serde_json::json!({
            "roles": {"worker": {"stream": true}},
            "limits": {"stream_idle_timeout_s": 45},
        }))
        .unwrap();
        let c = file.with_settings(&s, "missions.toml").unwrap();
        assert_eq!(c.role(AgentRole::Worker).unwrap().stream, Some(true));
        assert_eq!((c.limits.first_byte_timeout_s, c.limits.stream_idle_timeout_s), (30, 45));
        let err = EditorSettings::from_json(&serde_json::json!({"roles": {"worker": {"stream": "no"}}})).unwrap_err().to_string();
        assert!(err.contains("missions.roles.worker.stream") && err.contains("true or false"), "{err}");
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

    fn settings(v: serde_json::Value) -> EditorSettings {
        EditorSettings::from_json(&v).unwrap()
    }

    fn settings_err(v: serde_json::Value) -> String {
        EditorSettings::from_json(&v).unwrap_err().to_string()
    }

    #[test]
    fn settings_override_missions_toml_key_by_key() {
        let file = MissionsConfig::parse(DESIGN_EXAMPLE, "missions.toml").unwrap();
        // The shape the VS Code extension sends: missions.toml's, snake_case keys.
        let s = settings(serde_json::json!({
            "roles": {"worker": {"model": "qwen3-coder:30b", "base_url": "http://gpu:11434/v1"}},
            "limits": {"max_turns": 50, "command_timeout_s": 300.0},
        }));
        let c = file.clone().with_settings(&s, "missions.toml").unwrap();
        let w = c.role(AgentRole::Worker).unwrap();
        assert_eq!(w.provider, ProviderKind::Openai, "kept from the file");
        assert_eq!(w.model.as_deref(), Some("qwen3-coder:30b"));
        assert_eq!(w.base_url.as_deref(), Some("http://gpu:11434/v1"));
        assert_eq!(c.limits.max_turns, 50);
        assert_eq!(c.limits.command_timeout_s, 300);
        assert_eq!(c.limits.max_validation_rounds, 4, "kept from the file");
        assert_eq!(
            c.role(AgentRole::Orchestrator).unwrap(),
            file.role(AgentRole::Orchestrator).unwrap()
        );
        // Nothing set (null, empty objects): the file as it is.
        for nothing in [
            serde_json::json!(null),
            serde_json::json!({}),
            serde_json::json!({"roles": {"worker": null, "validator": {"model": null}}, "limits": {}}),
        ] {
            let s = settings(nothing);
            assert!(s.is_empty());
            assert_eq!(
                file.clone().with_settings(&s, "missions.toml").unwrap(),
                file
            );
        }
        // A null key keeps the file's value.
        let s = settings(
            serde_json::json!({"roles": {"orchestrator": {"model": null, "api_key_env": "OTHER_KEY"}}}),
        );
        let o = file.clone().with_settings(&s, "missions.toml").unwrap();
        let o = o.role(AgentRole::Orchestrator).unwrap();
        assert_eq!(o.model.as_deref(), Some("claude-opus-4-1"));
        assert_eq!(o.api_key_env.as_deref(), Some("OTHER_KEY"));
    }

    #[test]
    fn a_provider_changed_by_the_settings_starts_the_role_afresh() {
        let file = MissionsConfig::parse(DESIGN_EXAMPLE, "missions.toml").unwrap();
        // The validator's `command` belongs to provider "command", not to "anthropic".
        let s = settings(
            serde_json::json!({"roles": {"validator": {"provider": "anthropic", "model": "claude-sonnet-4-5"}}}),
        );
        let c = file.clone().with_settings(&s, "missions.toml").unwrap();
        let v = c.role(AgentRole::Validator).unwrap();
        assert_eq!(
            (v.provider, v.model.as_deref(), v.command.as_ref()),
            (ProviderKind::Anthropic, Some("claude-sonnet-4-5"), None)
        );
        // ... and needs what that provider needs, named as the setting.
        let s = settings(serde_json::json!({"roles": {"validator": {"provider": "openai"}}}));
        let err = file
            .with_settings(&s, "missions.toml")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "setting `missions.roles.validator.model`: provider \"openai\" needs a `model`"
        );
    }

    #[test]
    fn settings_alone_configure_the_roles_without_a_missions_toml() {
        let role =
            |p: &str, m: &str| serde_json::json!({"provider": p, "model": m, "api_key_env": "KEY"});
        let s = settings(
            serde_json::json!({"roles": {"orchestrator": role("anthropic", "a"), "worker": role("openai", "w"), "validator": {"provider": "command", "command": ["claude", "-p"]}}, "auto_approve": true, "sandbox": "bwrap", "network": false, "prices": {"a": {"input": 3, "output": 15.5}}}),
        );
        let c = MissionsConfig::from_settings(&s).unwrap();
        assert!(AgentRole::ALL.iter().all(|r| c.role(*r).is_ok()));
        assert_eq!(
            c.role(AgentRole::Worker).unwrap().model.as_deref(),
            Some("w")
        );
        assert_eq!(
            c.role(AgentRole::Validator)
                .unwrap()
                .command
                .as_ref()
                .unwrap(),
            &["claude", "-p"]
        );
        assert!(c.auto_approve && c.sandbox == Sandbox::Bwrap && !c.network);
        assert_eq!(c.price("a").unwrap().output, 15.5);
        assert_eq!(c.limits, Limits::default());
        // A role the settings leave out stays missing; one without a provider is an error.
        let c = MissionsConfig::from_settings(&settings(
            serde_json::json!({"roles": {"worker": role("openai", "w")}}),
        ))
        .unwrap();
        assert!(matches!(
            c.role(AgentRole::Validator),
            Err(ConfigError::MissingRole(AgentRole::Validator))
        ));
        let err = MissionsConfig::from_settings(&settings(
            serde_json::json!({"roles": {"worker": {"model": "w"}}}),
        ))
        .unwrap_err()
        .to_string();
        assert_eq!(err, "setting `missions.roles.worker.provider`: not set, and there is no missions.toml to take it from");
        let err = MissionsConfig::parse(
            "[roles.worker]\nprovider = \"openai\"\nmodel = \"m\"\n",
            "missions.toml",
        )
        .unwrap()
        .with_settings(
            &settings(serde_json::json!({"roles": {"validator": {"model": "v"}}})),
            "missions.toml",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(err, "setting `missions.roles.validator.provider`: not set, and missions.toml has no [roles.validator] table to take it from");
        let err = MissionsConfig::from_settings(&settings(
            serde_json::json!({"roles": {"worker": {"provider": "replay"}}}),
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("setting `missions.roles.worker.provider`: provider \"replay\" needs"),
            "{err}"
        );
    }

    #[test]
    fn bad_settings_are_named_and_never_echo_a_key() {
        for (value, expected) in [
            (serde_json::json!({"roles": {"worker": {"modle": "x"}}}), "setting `missions.roles.worker.modle`: unknown setting; expected one of provider, model, base_url, api_key_env, command, max_output_tokens, stream, prompt_cache_ttl"),
            (serde_json::json!({"roles": {"planner": {}}}), "setting `missions.roles.planner`: unknown setting; expected one of orchestrator, worker, validator"),
            (serde_json::json!({"roles": {"worker": {"model": 3}}}), "setting `missions.roles.worker.model`: expected a string, found a number"),
            (serde_json::json!({"roles": {"worker": {"provider": "gemini"}}}), "setting `missions.roles.worker.provider`: unknown value `gemini`; expected one of anthropic, openai, command, replay"),
            (serde_json::json!({"roles": {"worker": {"command": "claude -p"}}}), "setting `missions.roles.worker.command`: expected a list of strings (the program and its arguments), found a string"),
            (serde_json::json!({"roles": {"worker": {"command": ["claude", 1]}}}), "setting `missions.roles.worker.command`: expected a list of strings, found a number"),
            (serde_json::json!({"roles": {"worker": {"base_url": "localhost:11434"}}}), "setting `missions.roles.worker.base_url`: `localhost:11434` is not an http:// or https:// URL"),
            (serde_json::json!({"roles": "worker"}), "setting `missions.roles`: expected an object, found a string"),
            (serde_json::json!({"limits": {"maxTurns": 3}}), "setting `missions.limits.maxTurns`: unknown setting; did you mean `max_turns`? The settings use missions.toml's key names"),
            (serde_json::json!({"limits": {"turns": 3}}), "setting `missions.limits.turns`: unknown setting; expected one of max_parallel_workers, max_validation_rounds, max_turns, max_tokens_per_mission, max_cost, command_timeout_s, session_timeout_s, first_byte_timeout_s, stream_idle_timeout_s, service_start_timeout_s"),
            (serde_json::json!({"roles": {"worker": {"baseUrl": "http://x"}}}), "setting `missions.roles.worker.baseUrl`: unknown setting; did you mean `base_url`? The settings use missions.toml's key names"),
            (serde_json::json!({"limits": {"max_turns": 0}}), "setting `missions.limits.max_turns`: must be at least 1"),
            (serde_json::json!({"limits": {"max_turns": -1}}), "setting `missions.limits.max_turns`: expected a whole number from 0 to 4294967295, found -1"),
            (serde_json::json!({"limits": {"max_turns": 2.5}}), "setting `missions.limits.max_turns`: expected a whole number from 0 to 4294967295, found 2.5"),
            (serde_json::json!({"limits": {"command_timeout_s": 601}}), "setting `missions.limits.command_timeout_s`: must be between 1 and 600"),
            (serde_json::json!({"limits": {"max_turns": "50"}}), "setting `missions.limits.max_turns`: expected a whole number, found a string"),
            (serde_json::json!({"limits": {"max_cost": -1}}), "setting `missions.limits.max_cost`: must be an amount of 0 or more (0: no limit)"),
            (serde_json::json!({"limits": {"max_cost": "5"}}), "setting `missions.limits.max_cost`: expected an amount (in the currency of [prices]), found a string"),
            (serde_json::json!({"network": "yes"}), "setting `missions.network`: expected true or false, found a string"),
            (serde_json::json!({"sandbox": "docker"}), "setting `missions.sandbox`: unknown value `docker`; expected one of none, bwrap"),
            (serde_json::json!({"prices": {"m": {"input": "1"}}}), "setting `missions.prices.m.input`: expected a number (USD per million tokens), found a string"),
            (serde_json::json!({"replay": {"file": "x"}}), "setting `missions.replay.file`: unknown setting; expected one of recording"),
            (serde_json::json!({"server": {"path": "missions"}}), "setting `missions.server`: unknown setting; expected one of roles, limits, sandbox, network, auto_approve, replay, prices"),
            (serde_json::json!(["roles"]), "setting `missions`: expected an object in missions.toml's shape, found a list"),
        ] {
            assert_eq!(settings_err(value.clone()), expected, "{value}");
        }
        let err = settings_err(
            serde_json::json!({"roles": {"worker": {"api_key_env": "sk-proj-abc123-secret"}}}),
        );
        assert!(
            err.starts_with(
                "setting `missions.roles.worker.api_key_env`: must name an environment variable"
            ),
            "{err}"
        );
        assert!(!err.contains("sk-proj-abc123-secret"), "{err}");
        let err = settings_err(
            serde_json::json!({"roles": {"worker": {"model": ["sk-proj-abc123-secret"]}}}),
        );
        assert!(!err.contains("sk-proj"), "{err}");
    }

    #[test]
    fn every_key_of_missions_toml_can_be_a_setting() {
        // A file setting every key, turned into settings (its own shape as JSON), rebuilds it.
        let text = format!("{DESIGN_EXAMPLE}max_parallel_workers = 2\nmax_turns = 9\nmax_tokens_per_mission = 7\ncommand_timeout_s = 33\n");
        let mut full = MissionsConfig::parse(&text, "m.toml").unwrap();
        full.sandbox = Sandbox::Bwrap;
        full.network = true;
        full.auto_approve = true;
        full.replay = Some(ReplayConfig {
            recording: "r.jsonl".into(),
        });
        full.prices.insert(
            "m".into(),
            Price {
                input: 1.0,
                cache_read: 2.0,
                cache_write: 3.0,
                output: 4.0,
            },
        );
        full.roles.worker.as_mut().unwrap().max_output_tokens = Some(1000);
        full.roles.worker.as_mut().unwrap().api_key_env = Some("K".into());
        let as_json = serde_json::to_value(&full).unwrap();
        let rebuilt = MissionsConfig::from_settings(&settings(as_json)).unwrap();
        assert_eq!(rebuilt, full);
    }

    #[test]
    fn settings_never_panic_on_any_json() {
        let values = [
            serde_json::json!(1),
            serde_json::json!("x"),
            serde_json::json!(true),
            serde_json::json!({"roles": []}),
            serde_json::json!({"roles": {"worker": []}}),
            serde_json::json!({"limits": {"max_turns": 1e300}}),
            serde_json::json!({"limits": {"max_tokens_per_mission": 18446744073709551615u64}}),
            serde_json::json!({"prices": {"m": 1}}),
            serde_json::json!({"replay": {"recording": 1}}),
            serde_json::json!({"roles": {"worker": {"max_output_tokens": 5000000000u64}}}),
        ];
        for v in values {
            if let Ok(s) = EditorSettings::from_json(&v) {
                let _ = MissionsConfig::from_settings(&s);
            }
        }
    }
}
