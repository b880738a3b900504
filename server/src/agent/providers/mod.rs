//! Wire-format backends for the [`crate::agent::provider::Provider`] trait.

pub mod anthropic;
pub mod command;
mod http;
pub mod openai;
pub mod replay;

pub use http::HttpSettings;

use crate::agent::provider::Provider;
use crate::agent::secrets::ApiKey;
use crate::config::{ProviderKind, RoleConfig};
use std::sync::Arc;

/// Why a role's provider could not be built.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ProviderSetupError {
    #[error("environment variable {0} is not set (it should hold the API key)")]
    MissingApiKey(String),
    /// `command` runs whole sessions and `replay` reads a recording: the runner builds those.
    #[error("provider `{0}` is not an HTTP model provider")]
    NotHttpProvider(&'static str),
    #[error("role has no `model`")]
    MissingModel,
}

/// Builds the model-call provider a role asks for. The key is read from `api_key_env` now,
/// so a missing key is reported before any work starts.
pub fn from_role(
    role: &RoleConfig,
    http: reqwest::Client,
    settings: HttpSettings,
) -> Result<Arc<dyn Provider>, ProviderSetupError> {
    let key = match &role.api_key_env {
        Some(name) => Some(ApiKey::from_env(name).ok_or_else(|| ProviderSetupError::MissingApiKey(name.clone()))?),
        None => None,
    };
    let model = role.model.clone().ok_or(ProviderSetupError::MissingModel)?;
    match role.provider {
        ProviderKind::Anthropic => {
            let mut p = anthropic::AnthropicProvider::new(http, model, key);
            if let Some(url) = &role.base_url {
                p = p.with_base_url(url);
            }
            if let Some(n) = role.max_output_tokens {
                p = p.with_max_output_tokens(n);
            }
            let p = p
                .with_streaming(role.stream.unwrap_or(true))
                .with_prompt_cache_ttl(role.prompt_cache_ttl.unwrap_or_default());
            Ok(Arc::new(p.with_settings(settings)))
        }
        ProviderKind::Openai => {
            let mut p = openai::OpenAiProvider::new(http, model, key);
            if let Some(url) = &role.base_url {
                p = p.with_base_url(url);
            }
            if let Some(n) = role.max_output_tokens {
                p = p.with_max_output_tokens(n);
            }
            let p = p.with_streaming(role.stream.unwrap_or(true));
            Ok(Arc::new(p.with_settings(settings)))
        }
        ProviderKind::Command => Err(ProviderSetupError::NotHttpProvider("command")),
        ProviderKind::Replay => Err(ProviderSetupError::NotHttpProvider("replay")),
    }
}

/// An HTTP client for providers: rustls, no automatic redirects to other hosts' keys.
pub fn http_client(settings: &HttpSettings) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(settings.connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
}
