//! API keys: read only from the environment, and redacted from every text we write.
//!
//! Every key read through [`ApiKey`] is registered in a process-wide list, so error messages,
//! transcripts and logs can all be scrubbed with [`redact`] without threading the keys around.

use std::fmt;
use std::sync::RwLock;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Shorter values are not redacted: replacing every "x" of a dummy local key would mangle text.
const MIN_SECRET_LEN: usize = 8;

pub const REDACTED: &str = "[REDACTED]";

/// An API key. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key value and registers it for redaction.
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        register(&value);
        ApiKey(value)
    }

    /// Reads the key from environment variable `name`; `None` when unset or empty.
    pub fn from_env(name: &str) -> Option<Self> {
        match std::env::var(name) {
            Ok(v) if !v.trim().is_empty() => Some(ApiKey::new(v.trim())),
            _ => None,
        }
    }

    /// The key itself, for the request header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Adds a value to the redaction list (no-op for short or already known values).
pub fn register(value: &str) {
    if value.len() < MIN_SECRET_LEN {
        return;
    }
    let mut list = SECRETS.write().unwrap_or_else(|p| p.into_inner());
    if !list.iter().any(|s| s == value) {
        list.push(value.to_string());
        // Longest first, so a key that contains another is replaced whole.
        list.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// Replaces every registered secret in `text`, also in its JSON-escaped form.
pub fn redact(text: &str) -> String {
    let list = SECRETS.read().unwrap_or_else(|p| p.into_inner());
    let mut out = text.to_string();
    for secret in list.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), REDACTED);
        }
        let escaped = serde_json::to_string(secret).unwrap_or_default();
        let escaped = escaped.trim_matches('"');
        if escaped != secret && out.contains(escaped) {
            out = out.replace(escaped, REDACTED);
        }
    }
    out
}

/// Keeps other processes of the same user, the agents' commands among them, from reading this
/// process's environment (and so its API keys) through `/proc/<pid>/environ` or ptrace: the
/// process is made non-dumpable, as ssh-agent does. Keys are also removed from the commands'
/// own environments; a process with root's powers can still read them, so agents that should
/// not see them run unprivileged or under `sandbox = "bwrap"`. Linux only; elsewhere a no-op.
pub fn protect_process_environment() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable) {
        tracing::warn!("cannot make the process non-dumpable: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn the_process_is_made_non_dumpable_so_its_environment_is_not_readable() {
        protect_process_environment();
        assert_eq!(rustix::process::dumpable_behavior().unwrap(), rustix::process::DumpableBehavior::NotDumpable);
    }

    #[test]
    fn registered_keys_are_redacted_and_never_printed() {
        let key = ApiKey::new("sk-unit-test-0123456789abcdef");
        let text = format!("bad key {} in header", key.expose());
        assert_eq!(redact(&text), "bad key [REDACTED] in header");
        assert_eq!(format!("{key:?} {key}"), "[REDACTED] [REDACTED]");
    }

    #[test]
    fn short_values_are_left_alone() {
        register("abc");
        assert_eq!(redact("abcabc"), "abcabc");
    }

    #[test]
    fn an_unset_variable_gives_no_key() {
        // The set case runs in tests/agent_secrets.rs, alone in its process: setting the
        // environment here would race the other tests of this binary.
        assert!(ApiKey::from_env("MISSIONS_UNIT_TEST_KEY_NEVER_SET_7f3a").is_none());
    }
}
