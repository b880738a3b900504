//! The editor's `missions.*` settings (design §5), layered over missions.toml.
//!
//! The settings are serde mirror types of missions.toml's (every key optional, `null` setting
//! nothing), read with `serde_path_to_error` so an error names the setting, and merged over
//! the file key by key; the merged configuration is then checked as the file is.

use super::{
    check_api_key_env, check_base_url, AgentRole, ConfigError, Limits, MissionsConfig, PromptCacheTtl, ProviderKind,
    ReplayConfig, RoleConfig, Sandbox,
};
use crate::analysis::cost::Price;
use serde::de::{self, Deserializer, IntoDeserializer, Visitor};
use serde::Deserialize;
use serde_json::Value;
use serde_path_to_error::Segment;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::path::PathBuf;

/// The editor's `missions.*` settings, layered over missions.toml: an object in
/// missions.toml's own shape and snake_case key names, as the VS Code extension sends it
/// (`{"roles": {"worker": {"model": "…", "base_url": "…"}}, "limits": {"max_turns": 50}}`).
/// Every key of missions.toml may be set (`roles.<role>.*`, `limits.*`, `sandbox`, `network`,
/// `auto_approve`, `replay.recording`, `prices.<model>`); unknown keys and wrong types are
/// errors naming the setting (`missions.roles.worker.modle`). `null` at any level sets
/// nothing, so missions.toml keeps that key.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditorSettings {
    #[serde(default, deserialize_with = "table")]
    roles: RolesSettings,
    #[serde(default, deserialize_with = "table")]
    limits: LimitsSettings,
    #[serde(default, deserialize_with = "name")]
    sandbox: Option<Sandbox>,
    network: Option<bool>,
    auto_approve: Option<bool>,
    #[serde(default, deserialize_with = "table")]
    replay: ReplaySettings,
    /// A price replaces the file's price of that model whole (unset parts are 0).
    #[serde(default, deserialize_with = "table")]
    prices: BTreeMap<String, Table<PriceSettings>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RolesSettings {
    #[serde(default, deserialize_with = "table")]
    orchestrator: RoleSettings,
    #[serde(default, deserialize_with = "table")]
    worker: RoleSettings,
    #[serde(default, deserialize_with = "table")]
    validator: RoleSettings,
}

/// A `[roles.<role>]` table's keys; all unset (a table of nulls) sets nothing.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleSettings {
    #[serde(default, deserialize_with = "name")]
    provider: Option<ProviderKind>,
    model: Option<String>,
    base_url: Option<String>,
    api_key_env: Option<String>,
    command: Option<Vec<String>>,
    max_output_tokens: Option<Whole32>,
    stream: Option<bool>,
    #[serde(default, deserialize_with = "name")]
    prompt_cache_ttl: Option<PromptCacheTtl>,
}

/// `[limits]`, in its order (the order an unknown key's message lists them in).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsSettings {
    max_parallel_workers: Option<Whole32>,
    max_validation_rounds: Option<Whole32>,
    max_turns: Option<Whole32>,
    max_tokens_per_mission: Option<Whole64>,
    max_cost: Option<f64>,
    command_timeout_s: Option<Whole64>,
    session_timeout_s: Option<Whole64>,
    first_byte_timeout_s: Option<Whole64>,
    stream_idle_timeout_s: Option<Whole64>,
    service_start_timeout_s: Option<Whole64>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplaySettings {
    recording: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceSettings {
    input: Option<f64>,
    cache_read: Option<f64>,
    cache_write: Option<f64>,
    output: Option<f64>,
}

/// A table of settings: an object, or `null`, which sets nothing as an empty table does.
/// (serde_json would also take a list for a struct, its fields in order.)
#[derive(Debug, Clone, PartialEq)]
struct Table<T>(Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Table<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TableVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for TableVisitor<T> {
            type Value = Table<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Table<T>, E> {
                Ok(Table(None))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Table<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| Table(Some(t)))
            }
        }
        d.deserialize_any(TableVisitor(PhantomData))
    }
}

/// A table field: unset or `null` is the empty table.
fn table<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(Table::<T>::deserialize(d)?.0.unwrap_or_default())
}

/// One of an enum's names, as a string (serde_json would also take `{"<name>": null}`).
fn name<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    match Option::<String>::deserialize(d)? {
        Some(name) => T::deserialize(name.into_deserializer()).map(Some),
        None => Ok(None),
    }
}

/// A whole number from 0 to `MAX`. JSON has one number type, so `50.0` counts as 50.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Whole<const MAX: u64>(u64);

type Whole32 = Whole<{ u32::MAX as u64 }>;
type Whole64 = Whole<{ u64::MAX }>;

impl Whole32 {
    fn narrow(self) -> u32 {
        u32::try_from(self.0).unwrap_or(u32::MAX)
    }
}

impl<'de, const MAX: u64> Deserialize<'de> for Whole<MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct WholeVisitor<const MAX: u64>;
        fn out_of_range<E: de::Error>(max: u64, found: impl fmt::Display) -> E {
            E::custom(format_args!("expected a whole number from 0 to {max}, found {found}"))
        }
        impl<const MAX: u64> Visitor<'_> for WholeVisitor<MAX> {
            type Value = Whole<MAX>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a whole number")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Whole<MAX>, E> {
                if n <= MAX {
                    Ok(Whole(n))
                } else {
                    Err(out_of_range(MAX, n))
                }
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Whole<MAX>, E> {
                match u64::try_from(n) {
                    Ok(n) => self.visit_u64(n),
                    Err(_) => Err(out_of_range(MAX, n)),
                }
            }
            fn visit_f64<E: de::Error>(self, f: f64) -> Result<Whole<MAX>, E> {
                if f.fract() == 0.0 && f >= 0.0 && f <= MAX as f64 {
                    Ok(Whole(f as u64))
                } else {
                    // As JSON writes it (`1e300`, `2.5`).
                    let shown = serde_json::Number::from_f64(f).map_or(f.to_string(), |n| n.to_string());
                    Err(out_of_range(MAX, shown))
                }
            }
        }
        d.deserialize_any(WholeVisitor::<MAX>)
    }
}

/// An error naming the setting `missions.<key>` (`key` in missions.toml's terms).
fn setting(key: &str, message: impl Into<String>) -> ConfigError {
    let key = if key.is_empty() { "missions".to_string() } else { format!("missions.{key}") };
    ConfigError::Setting { key, message: message.into() }
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
    setting(key, format!("unknown setting; expected one of {}", expected.join(", ")))
}

/// serde's error for the settings in the settings' words: the setting's whole name, what it
/// takes in missions.toml's terms, and what was found, never the value found (it may be a
/// pasted key). serde's messages (`unknown field`, `unknown variant`, `invalid type`) have
/// kept their shapes for years; the table test below pins every one.
fn setting_error(error: serde_path_to_error::Error<serde_json::Error>) -> ConfigError {
    let mut key = String::new();
    let mut in_list = false;
    for segment in error.path() {
        match segment {
            Segment::Map { key: name } => {
                if !key.is_empty() {
                    key.push('.');
                }
                key.push_str(name);
            }
            Segment::Seq { .. } => in_list = true,
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    let serde_message = error.into_inner().to_string();
    // The names serde says it expected: `` `a` ``, `` `a` or `b` ``, `` one of `a`, `b`, `c` ``
    // (or `there are no fields`).
    let names = |rest: &str| -> Vec<String> {
        let list = rest.split_once("expected ").map_or("", |(_, l)| l);
        let list = list.strip_prefix("one of ").unwrap_or(list);
        list.split(", ")
            .flat_map(|n| n.split("` or `"))
            .map(|n| n.trim_matches('`').to_string())
            .filter(|n| !n.is_empty())
            .collect()
    };
    let what = |serde_expected: &str| -> &'static str {
        match serde_expected {
            _ if in_list => "a list of strings",
            _ if key.is_empty() => "an object in missions.toml's shape",
            "a boolean" => "true or false",
            "a whole number" => "a whole number",
            "a sequence" => "a list of strings (the program and its arguments)",
            "f64" if key == "limits.max_cost" => "an amount (in the currency of [prices])",
            "f64" => "a number (USD per million tokens)",
            "a string" | "path string" => "a string",
            _ => "an object",
        }
    };
    let message = if serde_message.starts_with("unknown field `") {
        let expected = names(&serde_message);
        return unknown(&key, &expected.iter().map(String::as_str).collect::<Vec<_>>());
    } else if let Some(rest) = serde_message.strip_prefix("unknown variant `") {
        let value = rest.split_once("`, ").map_or(rest, |(value, _)| value);
        format!("unknown value `{value}`; expected one of {}", names(rest).join(", "))
    } else if let Some(rest) = serde_message.strip_prefix("invalid type: ") {
        let (found, serde_expected) = rest.rsplit_once(", expected ").unwrap_or((rest, ""));
        format!("expected {}, found {}", what(serde_expected), found_kind(found))
    } else {
        serde_message
    };
    setting(&key, message)
}

/// The kind of JSON value serde's `invalid type: <unexpected>` names.
fn found_kind(unexpected: &str) -> &'static str {
    [
        ("integer", "a number"),
        ("floating point", "a number"),
        ("string", "a string"),
        ("boolean", "a boolean"),
        ("sequence", "a list"),
        ("map", "an object"),
        ("null", "null"),
    ]
    .into_iter()
    .find(|(serde_word, _)| unexpected.starts_with(serde_word))
    .map_or("a value", |(_, kind)| kind)
}

impl EditorSettings {
    /// Reads the settings object (the answer to `workspace/configuration` for section
    /// `missions`); null is no settings. Checks every key and value on its own; what depends
    /// on missions.toml (a provider's `model`) is checked by [`MissionsConfig::with_settings`].
    pub fn from_json(value: &Value) -> Result<EditorSettings, ConfigError> {
        let settings: Table<EditorSettings> = serde_path_to_error::deserialize(value).map_err(setting_error)?;
        let mut settings = settings.0.unwrap_or_default();
        settings.prices.retain(|_, price| price.0.is_some());
        settings.check()?;
        Ok(settings)
    }

    /// The checks of single values missions.toml's are checked with.
    fn check(&self) -> Result<(), ConfigError> {
        for (role, r) in self.roles.each() {
            if let Some(url) = &r.base_url {
                check_base_url(url).map_err(|m| setting(&format!("roles.{role}.base_url"), m))?;
            }
            if let Some(name) = &r.api_key_env {
                check_api_key_env(name).map_err(|m| setting(&format!("roles.{role}.api_key_env"), m))?;
            }
        }
        // Over the defaults, which are in range, any limit out of range is a setting's.
        let mut limits = Limits::default();
        self.limits.over(&mut limits);
        limits.check().map_err(|(key, message)| setting(&key, message))
    }

    /// True when nothing is set (missions.toml applies as it is).
    pub fn is_empty(&self) -> bool {
        *self == EditorSettings::default()
    }

    /// Whether the settings set anything under `key` (`roles.worker.model`, `roles.worker`),
    /// for the checks of the merged configuration: a key checked on its own in
    /// [`EditorSettings::from_json`] is in range there and in the file.
    fn touches(&self, key: &str) -> bool {
        let mut parts = key.split('.');
        match (parts.next(), parts.next()) {
            (Some("roles"), Some(role)) => {
                self.roles.each().any(|(r, s)| r.as_str() == role && *s != RoleSettings::default())
            }
            (Some("limits"), Some("max_cost")) => self.limits.max_cost.is_some(),
            (Some("replay"), _) => self.replay.recording.is_some(),
            _ => false,
        }
    }
}

impl RolesSettings {
    fn each(&self) -> impl Iterator<Item = (AgentRole, &RoleSettings)> {
        [
            (AgentRole::Orchestrator, &self.orchestrator),
            (AgentRole::Worker, &self.worker),
            (AgentRole::Validator, &self.validator),
        ]
        .into_iter()
    }
}

impl LimitsSettings {
    fn over(&self, l: &mut Limits) {
        set(&mut l.max_parallel_workers, self.max_parallel_workers.map(Whole32::narrow));
        set(&mut l.max_validation_rounds, self.max_validation_rounds.map(Whole32::narrow));
        set(&mut l.max_turns, self.max_turns.map(Whole32::narrow));
        set(&mut l.max_tokens_per_mission, self.max_tokens_per_mission.map(|w| w.0));
        set(&mut l.max_cost, self.max_cost);
        set(&mut l.command_timeout_s, self.command_timeout_s.map(|w| w.0));
        set(&mut l.session_timeout_s, self.session_timeout_s.map(|w| w.0));
        set(&mut l.first_byte_timeout_s, self.first_byte_timeout_s.map(|w| w.0));
        set(&mut l.stream_idle_timeout_s, self.stream_idle_timeout_s.map(|w| w.0));
        set(&mut l.service_start_timeout_s, self.service_start_timeout_s.map(|w| w.0));
    }
}

/// A set value replaces the file's; an unset one keeps it.
fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *slot = value;
    }
}

/// The same for a key missions.toml may leave out.
fn set_some<T: Clone>(slot: &mut Option<T>, value: &Option<T>) {
    if value.is_some() {
        slot.clone_from(value);
    }
}

impl RoleSettings {
    /// `base` (the file's table of this role, if any) with these settings over it. A table
    /// whose provider the settings change is not the file's any more: it starts empty.
    fn over(&self, base: Option<RoleConfig>, role: AgentRole, file: Option<&str>) -> Result<RoleConfig, ConfigError> {
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
        set_some(&mut rc.model, &self.model);
        set_some(&mut rc.base_url, &self.base_url);
        set_some(&mut rc.api_key_env, &self.api_key_env);
        set_some(&mut rc.command, &self.command);
        set_some(&mut rc.max_output_tokens, &self.max_output_tokens.map(Whole32::narrow));
        set_some(&mut rc.stream, &self.stream);
        set_some(&mut rc.prompt_cache_ttl, &self.prompt_cache_ttl);
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
        for (role, rs) in settings.roles.each() {
            // A table of nulls sets nothing (and needs no provider).
            if *rs == RoleSettings::default() {
                continue;
            }
            let slot = match role {
                AgentRole::Orchestrator => &mut self.roles.orchestrator,
                AgentRole::Worker => &mut self.roles.worker,
                AgentRole::Validator => &mut self.roles.validator,
            };
            *slot = Some(rs.over(slot.take(), role, file)?);
        }
        settings.limits.over(&mut self.limits);
        set(&mut self.sandbox, settings.sandbox);
        set(&mut self.network, settings.network);
        set(&mut self.auto_approve, settings.auto_approve);
        if let Some(recording) = &settings.replay.recording {
            self.replay = Some(ReplayConfig { recording: recording.clone() });
        }
        for (model, price) in &settings.prices {
            let Some(price) = &price.0 else { continue };
            let price = Price {
                input: price.input.unwrap_or_default(),
                cache_read: price.cache_read.unwrap_or_default(),
                cache_write: price.cache_write.unwrap_or_default(),
                output: price.output.unwrap_or_default(),
            };
            self.prices.insert(model.clone(), price);
        }
        let origin = match file {
            Some(file) => format!("{file} with the missions.* settings"),
            None => "the missions.* settings".to_string(),
        };
        self.validate(&origin).map_err(|e| match e {
            ConfigError::Invalid { key, message, .. } if settings.touches(&key) || file.is_none() => {
                setting(&key, message)
            }
            other => other,
        })?;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::DESIGN_EXAMPLE;

    #[test]
    fn prompt_cache_ttl_is_an_anthropic_setting_of_5m_or_1h() {
        let file = MissionsConfig::parse(
            "[roles.worker]\nprovider = \"anthropic\"\nmodel = \"m\"\nprompt_cache_ttl = \"5m\"\n",
            "missions.toml",
        )
        .unwrap();
        assert_eq!(file.role(AgentRole::Worker).unwrap().prompt_cache_ttl, Some(PromptCacheTtl::FiveMinutes));
        let s =
            EditorSettings::from_json(&serde_json::json!({"roles": {"worker": {"prompt_cache_ttl": "1h"}}})).unwrap();
        let c = file.with_settings(&s, "missions.toml").unwrap();
        assert_eq!(c.role(AgentRole::Worker).unwrap().prompt_cache_ttl, Some(PromptCacheTtl::OneHour));
        let err = EditorSettings::from_json(&serde_json::json!({"roles": {"worker": {"prompt_cache_ttl": "2h"}}}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("missions.roles.worker.prompt_cache_ttl") && err.contains("5m, 1h"), "{err}");
        let err = MissionsConfig::parse(
            "[roles.worker]\nprovider = \"anthropic\"\nmodel = \"m\"\nprompt_cache_ttl = \"2h\"\n",
            "missions.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("prompt_cache_ttl") && err.contains("line 4"), "{err}");
        let err = MissionsConfig::parse(
            "[roles.worker]\nprovider = \"openai\"\nmodel = \"m\"\nprompt_cache_ttl = \"1h\"\n",
            "missions.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("roles.worker.prompt_cache_ttl") && err.contains("only for provider = \"anthropic\""),
            "{err}"
        );
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
        let err = EditorSettings::from_json(&serde_json::json!({"roles": {"worker": {"stream": "no"}}}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("missions.roles.worker.stream") && err.contains("true or false"), "{err}");
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
        assert_eq!(c.role(AgentRole::Orchestrator).unwrap(), file.role(AgentRole::Orchestrator).unwrap());
        // Nothing set (null, empty objects): the file as it is.
        for nothing in [
            serde_json::json!(null),
            serde_json::json!({}),
            serde_json::json!({"roles": {"worker": null, "validator": {"model": null}}, "limits": {}}),
        ] {
            let s = settings(nothing);
            assert!(s.is_empty());
            assert_eq!(file.clone().with_settings(&s, "missions.toml").unwrap(), file);
        }
        // A null key keeps the file's value.
        let s = settings(serde_json::json!({"roles": {"orchestrator": {"model": null, "api_key_env": "OTHER_KEY"}}}));
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
        let err = file.with_settings(&s, "missions.toml").unwrap_err().to_string();
        assert_eq!(err, "setting `missions.roles.validator.model`: provider \"openai\" needs a `model`");
    }

    #[test]
    fn settings_alone_configure_the_roles_without_a_missions_toml() {
        let role = |p: &str, m: &str| serde_json::json!({"provider": p, "model": m, "api_key_env": "KEY"});
        let s = settings(
            serde_json::json!({"roles": {"orchestrator": role("anthropic", "a"), "worker": role("openai", "w"), "validator": {"provider": "command", "command": ["claude", "-p"]}}, "auto_approve": true, "sandbox": "bwrap", "network": false, "prices": {"a": {"input": 3, "output": 15.5}}}),
        );
        let c = MissionsConfig::from_settings(&s).unwrap();
        assert!(AgentRole::ALL.iter().all(|r| c.role(*r).is_ok()));
        assert_eq!(c.role(AgentRole::Worker).unwrap().model.as_deref(), Some("w"));
        assert_eq!(c.role(AgentRole::Validator).unwrap().command.as_ref().unwrap(), &["claude", "-p"]);
        assert!(c.auto_approve && c.sandbox == Sandbox::Bwrap && !c.network);
        assert_eq!(c.price("a").unwrap().output, 15.5);
        assert_eq!(c.limits, Limits::default());
        // A role the settings leave out stays missing; one without a provider is an error.
        let c = MissionsConfig::from_settings(&settings(serde_json::json!({"roles": {"worker": role("openai", "w")}})))
            .unwrap();
        assert!(matches!(c.role(AgentRole::Validator), Err(ConfigError::MissingRole(AgentRole::Validator))));
        let err = MissionsConfig::from_settings(&settings(serde_json::json!({"roles": {"worker": {"model": "w"}}})))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "setting `missions.roles.worker.provider`: not set, and there is no missions.toml to take it from"
        );
        let err = MissionsConfig::parse("[roles.worker]\nprovider = \"openai\"\nmodel = \"m\"\n", "missions.toml")
            .unwrap()
            .with_settings(&settings(serde_json::json!({"roles": {"validator": {"model": "v"}}})), "missions.toml")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "setting `missions.roles.validator.provider`: not set, and missions.toml has no [roles.validator] table to take it from");
        let err =
            MissionsConfig::from_settings(&settings(serde_json::json!({"roles": {"worker": {"provider": "replay"}}})))
                .unwrap_err()
                .to_string();
        assert!(err.starts_with("setting `missions.roles.worker.provider`: provider \"replay\" needs"), "{err}");
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
            // serde_json would take these for a table and an enum; the settings do not.
            (serde_json::json!({"replay": ["r.jsonl"]}), "setting `missions.replay`: expected an object, found a list"),
            (serde_json::json!({"sandbox": {"bwrap": null}}), "setting `missions.sandbox`: expected a string, found an object"),
        ] {
            assert_eq!(settings_err(value.clone()), expected, "{value}");
        }
        let err = settings_err(serde_json::json!({"roles": {"worker": {"api_key_env": "sk-proj-abc123-secret"}}}));
        assert!(
            err.starts_with("setting `missions.roles.worker.api_key_env`: must name an environment variable"),
            "{err}"
        );
        assert!(!err.contains("sk-proj-abc123-secret"), "{err}");
        let err = settings_err(serde_json::json!({"roles": {"worker": {"model": ["sk-proj-abc123-secret"]}}}));
        assert!(!err.contains("sk-proj"), "{err}");
    }

    #[test]
    fn every_setting_the_vs_code_extension_contributes_is_read() {
        // The extension sends its `missions.*` settings under missions.toml's key names
        // (`roles.worker.baseUrl` as `roles.worker.base_url`: editors/vscode/src/settings.ts).
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../editors/vscode/package.json");
        let manifest: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let properties = manifest["contributes"]["configuration"]["properties"].as_object().unwrap();
        let mut read = 0;
        for (name, schema) in properties {
            let name = name.strip_prefix("missions.").unwrap();
            if name.starts_with("server.") || name.starts_with("trace.") {
                continue; // the extension's own
            }
            let (table, key) = name.rsplit_once('.').unwrap();
            let snake: String = key
                .chars()
                .flat_map(|c| {
                    let underscore = c.is_ascii_uppercase().then_some('_');
                    underscore.into_iter().chain([c.to_ascii_lowercase()])
                })
                .collect();
            let value = match (&schema["enum"][0], &schema["default"], schema["type"].as_str()) {
                (Value::String(first), _, _) => Value::from(first.as_str()),
                (_, Value::Number(default), _) => Value::Number(default.clone()),
                (_, _, Some("array")) => serde_json::json!(["program"]),
                _ if snake == "base_url" => Value::from("http://localhost:11434/v1"),
                _ => Value::from("SOME_NAME"),
            };
            let mut setting = serde_json::json!({ snake.as_str(): value });
            for part in table.rsplit('.') {
                setting = serde_json::json!({ part: setting });
            }
            let settings = EditorSettings::from_json(&setting);
            assert!(settings.is_ok_and(|s| !s.is_empty()), "missions.{name}: {setting}");
            read += 1;
        }
        assert!(read >= 20, "{read} settings");
    }

    #[test]
    fn every_key_of_missions_toml_can_be_a_setting() {
        // A file setting every key, turned into settings (its own shape as JSON), rebuilds it.
        let text = format!("{DESIGN_EXAMPLE}max_parallel_workers = 2\nmax_turns = 9\nmax_tokens_per_mission = 7\ncommand_timeout_s = 33\n");
        let mut full = MissionsConfig::parse(&text, "m.toml").unwrap();
        full.sandbox = Sandbox::Bwrap;
        full.network = true;
        full.auto_approve = true;
        full.replay = Some(ReplayConfig { recording: "r.jsonl".into() });
        full.prices.insert("m".into(), Price { input: 1.0, cache_read: 2.0, cache_write: 3.0, output: 4.0 });
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
