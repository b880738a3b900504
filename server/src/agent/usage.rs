//! Token usage normalised across providers, and its roll-up per session, role and mission.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::{Add, AddAssign};

/// The estimate for a model call whose server reported no usage: one token per this many
/// bytes (UTF-8) of the request body as sent and of the answer. Four is the usual figure for
/// English text and code under the BPE tokenizers of GPT, Llama, Qwen and Claude models; it
/// errs low for other scripts.
pub const ESTIMATE_BYTES_PER_TOKEN: u64 = 4;

/// Tokens of one call (or a sum of calls). `input` never includes cached tokens, so the four
/// fields add up to everything the provider billed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub input: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    pub output: u64,
}

impl Usage {
    /// Anthropic's `input_tokens` already excludes cache reads and writes.
    pub fn from_anthropic(
        input_tokens: u64,
        cache_read_input_tokens: u64,
        cache_creation_input_tokens: u64,
        output_tokens: u64,
    ) -> Self {
        Usage {
            input: input_tokens,
            cache_read: cache_read_input_tokens,
            cache_write: cache_creation_input_tokens,
            output: output_tokens,
        }
    }

    /// OpenAI's `prompt_tokens` includes `prompt_tokens_details.cached_tokens`.
    pub fn from_openai(prompt_tokens: u64, cached_tokens: u64, completion_tokens: u64) -> Self {
        Usage {
            input: prompt_tokens.saturating_sub(cached_tokens),
            cache_read: cached_tokens.min(prompt_tokens),
            cache_write: 0,
            output: completion_tokens,
        }
    }

    /// The estimate for a call whose server reported no usage (see
    /// [`ESTIMATE_BYTES_PER_TOKEN`]): the whole request counts as uncached input.
    pub fn estimate(request_bytes: usize, answer_bytes: usize) -> Self {
        let tokens = |bytes: usize| (bytes as u64).div_ceil(ESTIMATE_BYTES_PER_TOKEN);
        Usage {
            input: tokens(request_bytes),
            cache_read: 0,
            cache_write: 0,
            output: tokens(answer_bytes),
        }
    }

    pub fn total(&self) -> u64 {
        self.input + self.cache_read + self.cache_write + self.output
    }

    pub fn is_zero(&self) -> bool {
        self.total() == 0
    }
}

impl Add for Usage {
    type Output = Usage;
    fn add(self, o: Usage) -> Usage {
        Usage {
            input: self.input + o.input,
            cache_read: self.cache_read + o.cache_read,
            cache_write: self.cache_write + o.cache_write,
            output: self.output + o.output,
        }
    }
}

impl AddAssign for Usage {
    fn add_assign(&mut self, o: Usage) {
        *self = *self + o;
    }
}

/// USD per million tokens (`[prices."model"]`): the one price rule lives in `analysis::cost`.
pub use crate::analysis::cost::Price;

impl From<Usage> for crate::analysis::cost::Tokens {
    fn from(u: Usage) -> Self {
        crate::analysis::cost::Tokens { input: u.input, cache_read: u.cache_read, cache_write: u.cache_write, output: u.output }
    }
}

/// Usage summed per session, per role and for the whole mission.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageRollup {
    pub mission: Usage,
    pub by_role: BTreeMap<String, Usage>,
    pub by_session: BTreeMap<String, Usage>,
    /// Per role, per model (what the cost is computed from).
    pub by_role_model: BTreeMap<String, BTreeMap<String, Usage>>,
}

impl UsageRollup {
    /// Adds one call's usage; `model` is the session's model (`None`: no record names it).
    pub fn record(&mut self, session_id: &str, role: &str, model: Option<&str>, usage: Usage) {
        self.mission += usage;
        *self.by_role.entry(role.to_string()).or_default() += usage;
        *self.by_session.entry(session_id.to_string()).or_default() += usage;
        let model = model.unwrap_or(crate::analysis::cost::UNKNOWN_MODEL);
        *self.by_role_model.entry(role.to_string()).or_default().entry(model.to_string()).or_default() += usage;
    }

    /// Role -> model -> tokens, as `analysis::cost` takes them.
    pub fn tokens_by_role_model(&self) -> BTreeMap<String, BTreeMap<String, crate::analysis::cost::Tokens>> {
        self.by_role_model.iter().map(|(role, models)| (role.clone(), models.iter().map(|(m, u)| (m.clone(), (*u).into())).collect())).collect()
    }

    pub fn session(&self, session_id: &str) -> Usage {
        self.by_session.get(session_id).copied().unwrap_or_default()
    }

    pub fn role(&self, role: &str) -> Usage {
        self.by_role.get(role).copied().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_prompt_tokens_lose_their_cached_part() {
        let u = Usage::from_openai(1000, 800, 50);
        assert_eq!(
            u,
            Usage {
                input: 200,
                cache_read: 800,
                cache_write: 0,
                output: 50
            }
        );
        assert_eq!(u.total(), 1050);
    }

    #[test]
    fn an_estimate_is_four_bytes_a_token_rounded_up() {
        assert_eq!(
            Usage::estimate(4001, 8),
            Usage { input: 1001, cache_read: 0, cache_write: 0, output: 2 }
        );
        assert!(Usage::estimate(0, 0).is_zero());
    }

    #[test]
    fn anthropic_fields_map_one_to_one() {
        let u = Usage::from_anthropic(12, 3000, 400, 90);
        assert_eq!(
            u,
            Usage {
                input: 12,
                cache_read: 3000,
                cache_write: 400,
                output: 90
            }
        );
    }

    #[test]
    fn rollup_sums_per_session_role_and_mission() {
        let mut r = UsageRollup::default();
        let a = Usage {
            input: 1,
            cache_read: 2,
            cache_write: 3,
            output: 4,
        };
        r.record("s1", "worker", Some("big"), a);
        r.record("s1", "worker", Some("big"), a);
        r.record("s2", "validator", None, a);
        assert_eq!(r.session("s1"), a + a);
        assert_eq!(r.role("validator"), a);
        assert_eq!(r.mission, a + a + a);
        assert_eq!(r.by_role_model["worker"]["big"], a + a);
        assert_eq!(r.by_role_model["validator"][crate::analysis::cost::UNKNOWN_MODEL], a);
    }
}
