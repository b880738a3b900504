//! Token usage as each provider reports it, read into the one `Usage` type
//! (`analysis::cost`, with its roll-up and the price rule).

pub use crate::analysis::cost::{Price, Usage, UsageRollup};

/// The estimate for a model call whose server reported no usage: one token per this many
/// bytes (UTF-8) of the request body as sent and of the answer. Four is the usual figure for
/// English text and code under the BPE tokenizers of GPT, Llama, Qwen and Claude models; it
/// errs low for other scripts.
pub const ESTIMATE_BYTES_PER_TOKEN: u64 = 4;

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
        Usage { input: tokens(request_bytes), cache_read: 0, cache_write: 0, output: tokens(answer_bytes) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_prompt_tokens_lose_their_cached_part() {
        let u = Usage::from_openai(1000, 800, 50);
        assert_eq!(u, Usage { input: 200, cache_read: 800, cache_write: 0, output: 50 });
        assert_eq!(u.total(), 1050);
    }

    #[test]
    fn an_estimate_is_four_bytes_a_token_rounded_up() {
        assert_eq!(Usage::estimate(4001, 8), Usage { input: 1001, cache_read: 0, cache_write: 0, output: 2 });
        assert!(Usage::estimate(0, 0).is_zero());
    }

    #[test]
    fn anthropic_fields_map_one_to_one() {
        let u = Usage::from_anthropic(12, 3000, 400, 90);
        assert_eq!(u, Usage { input: 12, cache_read: 3000, cache_write: 400, output: 90 });
    }
}
