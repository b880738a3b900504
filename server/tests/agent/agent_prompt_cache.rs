//! The prompt-cache model of the fake providers (`agent_support/prompt_cache.rs`) against
//! examples worked by hand from the providers' documentation: a hit, a miss after one
//! changed byte before the breakpoint, expiry, the minimum size, the 20-position lookback,
//! OpenAI's 128-token steps (tokens: 4 bytes each). Then the agent loop's own requests
//! against it: what a session, the next session of the role and a compaction read.

use crate::agent_support;

use agent_support::prompt_cache::*;
use agent_support::{anthropic_turn, FakeProvider, Measured, Step};
use missions::agent::providers::anthropic::AnthropicProvider;
use missions::agent::session::NoSessionObserver;
use missions::agent::transcript::{SessionTranscript, SharedUsage};
use missions::agent::{run_session, AcceptValid, CancellationToken, SessionEnd, SessionKind, SessionSpec};
use missions::config::{AgentRole, MissionsConfig, PromptCacheTtl};
use serde_json::{json, Value};
use std::time::Duration;

const MIN: Duration = Duration::from_secs(60);
const WINDOW: u64 = 200_000;

fn text(bytes: usize, fill: char) -> String {
    std::iter::repeat_n(fill, bytes).collect()
}

/// A Messages request: one system block of `system` (marked with `ttl` when given), one user
/// message.
fn anthropic(model: &str, system: &str, ttl: Option<&str>, user: &str) -> Value {
    let mut block = json!({"type": "text", "text": system});
    match ttl {
        Some("5m") => block["cache_control"] = json!({"type": "ephemeral"}),
        Some(t) => block["cache_control"] = json!({"type": "ephemeral", "ttl": t}),
        None => {}
    }
    json!({"model": model, "max_tokens": 100, "system": [block], "messages": [{"role": "user", "content": [{"type": "text", "text": user}]}]})
}

fn usage(read: u64, write: u64, input: u64) -> AnthropicUsage {
    AnthropicUsage {
        input_tokens: input,
        cache_read_input_tokens: read,
        cache_creation_input_tokens: write,
        cache_creation_1h: 0,
    }
}

#[test]
fn a_marked_system_prompt_is_written_once_then_read() {
    // 6,000 bytes of system prompt are 1,500 tokens; "What is 2+2?" is 12 bytes, 3 tokens.
    let mut cache = AnthropicCache::for_model("claude-sonnet-4-5", WINDOW);
    let body = anthropic("claude-sonnet-4-5", &text(6000, 's'), Some("5m"), "What is 2+2?");
    assert_eq!(cache.measure(&body, Duration::ZERO).unwrap(), usage(0, 1500, 3));
    assert_eq!(cache.measure(&body, MIN).unwrap(), usage(1500, 0, 3));
    // Text after the breakpoint may change: the prefix is still read.
    let other_question = anthropic("claude-sonnet-4-5", &text(6000, 's'), Some("5m"), "And 3+3, then?");
    assert_eq!(cache.measure(&other_question, 2 * MIN).unwrap(), usage(1500, 0, 4));
    // Without any breakpoint nothing is read or written.
    let unmarked = anthropic("claude-sonnet-4-5", &text(6000, 's'), None, "What is 2+2?");
    assert_eq!(cache.measure(&unmarked, 3 * MIN).unwrap(), usage(0, 0, 1503));
}

#[test]
fn one_changed_byte_before_the_breakpoint_is_a_miss() {
    let mut cache = AnthropicCache::for_model("claude-sonnet-4-5", WINDOW);
    let system = text(6000, 's');
    cache.measure(&anthropic("claude-sonnet-4-5", &system, Some("5m"), "What is 2+2?"), Duration::ZERO).unwrap();
    let mut changed = system.clone();
    changed.replace_range(5999..6000, "t");
    let body = anthropic("claude-sonnet-4-5", &changed, Some("5m"), "What is 2+2?");
    assert_eq!(cache.measure(&body, MIN).unwrap(), usage(0, 1500, 3), "a new entry is written");
    // Caches are per model.
    let body = anthropic("claude-opus-4-1", &system, Some("5m"), "What is 2+2?");
    assert_eq!(cache.measure(&body, MIN).unwrap(), usage(0, 1500, 3));
}

#[test]
fn entries_live_five_minutes_from_their_last_use_or_an_hour_when_asked() {
    let mut cache = AnthropicCache::for_model("claude-sonnet-4-5", WINDOW);
    let body = anthropic("claude-sonnet-4-5", &text(6000, 's'), Some("5m"), "What is 2+2?");
    assert_eq!(cache.measure(&body, Duration::ZERO).unwrap(), usage(0, 1500, 3));
    // Each read refreshes the lifetime: 4 and 8 minutes are both within 5 of the last use.
    assert_eq!(cache.measure(&body, 4 * MIN).unwrap(), usage(1500, 0, 3));
    assert_eq!(cache.measure(&body, 8 * MIN).unwrap(), usage(1500, 0, 3));
    // 5 minutes and a second after the last use, the entry is gone and written again.
    assert_eq!(cache.measure(&body, 13 * MIN + Duration::from_secs(1)).unwrap(), usage(0, 1500, 3));

    let mut cache = AnthropicCache::for_model("claude-sonnet-4-5", WINDOW);
    let hour = anthropic("claude-sonnet-4-5", &text(6000, 's'), Some("1h"), "What is 2+2?");
    let written = cache.measure(&hour, Duration::ZERO).unwrap();
    assert_eq!(written, AnthropicUsage { cache_creation_1h: 1500, ..usage(0, 1500, 3) });
    assert_eq!(
        written.to_json(7)["cache_creation"],
        json!({"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 1500})
    );
    assert_eq!(cache.measure(&hour, 59 * MIN).unwrap(), usage(1500, 0, 3));
    assert_eq!(cache.measure(&hour, 119 * MIN + Duration::from_secs(1)).unwrap().cache_read_input_tokens, 0);
}

#[test]
fn a_prefix_under_the_minimum_is_not_cached() {
    // 4,000 bytes: 1,000 tokens, under the 1,024 minimum.
    let mut cache = AnthropicCache::for_model("claude-sonnet-4-5", WINDOW);
    let short = anthropic("claude-sonnet-4-5", &text(4000, 's'), Some("5m"), "What is 2+2?");
    assert_eq!(cache.measure(&short, Duration::ZERO).unwrap(), usage(0, 0, 1003));
    assert_eq!(cache.measure(&short, MIN).unwrap(), usage(0, 0, 1003));
    // 1,500 tokens are enough for Sonnet, not for Haiku (2,048).
    let mut haiku = AnthropicCache::for_model("claude-3-5-haiku", WINDOW);
    let body = anthropic("claude-3-5-haiku", &text(6000, 's'), Some("5m"), "What is 2+2?");
    assert_eq!(haiku.measure(&body, Duration::ZERO).unwrap(), usage(0, 0, 1503));
    assert_eq!(haiku.measure(&body, MIN).unwrap(), usage(0, 0, 1503));
    let body = anthropic("claude-3-5-haiku", &text(8192, 's'), Some("5m"), "What is 2+2?");
    assert_eq!(haiku.measure(&body, Duration::ZERO).unwrap(), usage(0, 2048, 3));
    assert_eq!(haiku.measure(&body, MIN).unwrap(), usage(2048, 0, 3));
}

/// A conversation of `blocks` blocks: the system prompt (block 1, 1,500 tokens), then
/// one-block messages of 400 bytes (100 tokens) each, alternating user and assistant; the
/// blocks numbered in `marked` (1-based, as the docs count) carry a breakpoint.
fn conversation(blocks: usize, marked: &[usize]) -> Value {
    let mark = |n: usize, mut b: Value| {
        if marked.contains(&n) {
            b["cache_control"] = json!({"type": "ephemeral"});
        }
        b
    };
    let messages: Vec<Value> = (2..=blocks)
        .map(|n| json!({"role": if n % 2 == 0 { "user" } else { "assistant" }, "content": [mark(n, json!({"type": "text", "text": format!("{n:03}{}", text(397, 'm'))}))]}))
        .collect();
    json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "system": [mark(1, json!({"type": "text", "text": text(6000, 's')}))], "messages": messages})
}

#[test]
fn the_lookback_checks_twenty_positions_counting_the_breakpoint() {
    // The docs' example: turn 2 wrote an entry at block 15; turn 3 has 35 blocks and its
    // breakpoint on block 35 checks blocks 35 through 16, so it misses the entry at 15.
    let mut cache = AnthropicCache::for_model("claude-sonnet-4-5", WINDOW);
    let turn2 = cache.measure(&conversation(15, &[15]), Duration::ZERO).unwrap();
    assert_eq!(turn2, usage(0, 1500 + 14 * 100, 0));
    assert_eq!(cache.measure(&conversation(35, &[35]), MIN).unwrap(), usage(0, 1500 + 34 * 100, 0));
    // A second breakpoint at block 15 starts a second lookback there, which finds it.
    let mut cache = AnthropicCache::for_model("claude-sonnet-4-5", WINDOW);
    cache.measure(&conversation(15, &[15]), Duration::ZERO).unwrap();
    assert_eq!(cache.measure(&conversation(35, &[15, 35]), MIN).unwrap(), usage(2900, 2000, 0));
    // Block 34 is 20 positions from 15, counting itself: found.
    let mut cache = AnthropicCache::for_model("claude-sonnet-4-5", WINDOW);
    cache.measure(&conversation(15, &[15]), Duration::ZERO).unwrap();
    assert_eq!(cache.measure(&conversation(34, &[34]), MIN).unwrap(), usage(2900, 1900, 0));
}

#[test]
fn parallel_tool_calls_are_one_position_each_side() {
    // 25 tool calls in one turn add 50 blocks but two positions: the entry is found.
    let system = json!([{"type": "text", "text": text(6000, 's'), "cache_control": {"type": "ephemeral"}}]);
    let first =
        json!({"role": "user", "content": [{"type": "text", "text": "go", "cache_control": {"type": "ephemeral"}}]});
    let body1 = json!({"model": "claude-sonnet-4-5", "max_tokens": 10, "system": system, "messages": [first]});
    let mut cache = AnthropicCache::for_model("claude-sonnet-4-5", WINDOW);
    assert_eq!(cache.measure(&body1, Duration::ZERO).unwrap(), usage(0, 1501, 0));
    let mut first = first.clone();
    first["content"][0].as_object_mut().unwrap().remove("cache_control");
    let calls: Vec<Value> = (0..25).map(|i| json!({"type": "tool_use", "id": format!("t{i:02}"), "name": "read_file", "input": {"path": format!("f{i:02}")}})).collect();
    let mut results: Vec<Value> = (0..25)
        .map(|i| json!({"type": "tool_result", "tool_use_id": format!("t{i:02}"), "content": text(400, 'r')}))
        .collect();
    results[24]["cache_control"] = json!({"type": "ephemeral"});
    let body2 = json!({"model": "claude-sonnet-4-5", "max_tokens": 10, "system": system, "messages": [first, {"role": "assistant", "content": calls}, {"role": "user", "content": results}]});
    let u = cache.measure(&body2, MIN).unwrap();
    assert_eq!(u.cache_read_input_tokens, 1501, "{u:?}");
    assert_eq!(u.input_tokens, 0);
}

#[test]
fn breakpoints_are_limited_to_four_and_longer_ttls_come_first() {
    let mut cache = AnthropicCache::for_model("claude-sonnet-4-5", WINDOW);
    let five = cache.measure(&conversation(8, &[1, 3, 5, 7, 8]), Duration::ZERO).unwrap_err();
    assert_eq!(five, Refusal::Invalid("A maximum of 4 blocks with cache_control may be provided. Found 5.".into()));
    let mut body = conversation(4, &[1, 4]);
    body["messages"][2]["content"][0]["cache_control"] = json!({"type": "ephemeral", "ttl": "1h"});
    assert!(matches!(cache.measure(&body, Duration::ZERO), Err(Refusal::Invalid(m)) if m.contains("longer ttl")));
    // 1h first, then 5m: accepted, and each part is written with its own TTL.
    let mut body = conversation(4, &[1, 4]);
    body["system"][0]["cache_control"] = json!({"type": "ephemeral", "ttl": "1h"});
    let u = cache.measure(&body, Duration::ZERO).unwrap();
    assert_eq!((u.cache_creation_input_tokens, u.cache_creation_1h), (1800, 1500));
    // After 10 minutes the 5-minute entry is gone; the hour's is read.
    assert_eq!(cache.measure(&body, 10 * MIN).unwrap(), usage(1500, 300, 0));
}

#[test]
fn a_prompt_over_the_context_window_is_refused_as_the_api_does() {
    let mut cache = AnthropicCache::for_model("claude-sonnet-4-5", 1000);
    let body = anthropic("claude-sonnet-4-5", &text(6000, 's'), Some("5m"), "What is 2+2?");
    let refusal = cache.measure(&body, Duration::ZERO).unwrap_err();
    assert_eq!(refusal, Refusal::TooLong { tokens: 1503, max: 1000 });
    assert_eq!(refusal.anthropic_body()["error"]["message"], "prompt is too long: 1503 tokens > 1000 maximum");
    let mut openai = OpenAiCache::new(1000);
    let refusal = openai.measure(&chat("gpt-test", &text(5975, 'u')), Duration::ZERO).unwrap_err();
    assert_eq!(refusal.openai_body()["error"]["code"], "context_length_exceeded");
}

/// A Chat Completions request of one user message. Its prompt is `gpt-test\n` (9 bytes),
/// `<|user|>` (8), the content and `<|end|>\n` (8): 25 bytes besides the content.
fn chat(model: &str, content: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": content}]})
}

#[test]
fn openai_caches_in_128_token_steps_from_1024() {
    // 5,975 bytes of content make a 6,000-byte prompt: 1,500 tokens, of which 11 whole
    // steps (1,408 tokens) can be read.
    let content = text(5975, 'u');
    let mut cache = OpenAiCache::new(WINDOW);
    assert_eq!(
        cache.measure(&chat("gpt-test", &content), Duration::ZERO).unwrap(),
        OpenAiUsage { prompt_tokens: 1500, cached_tokens: 0 }
    );
    assert_eq!(
        cache.measure(&chat("gpt-test", &content), MIN).unwrap(),
        OpenAiUsage { prompt_tokens: 1500, cached_tokens: 1408 }
    );
    // One byte changed at byte 5,000 of the prompt (token 1,250, in the 10th step) leaves 9
    // steps: 1,152 tokens.
    let mut changed = content.clone();
    changed.replace_range(4983..4984, "v");
    assert_eq!(cache.measure(&chat("gpt-test", &changed), 2 * MIN).unwrap().cached_tokens, 1152);
    // At byte 3,000 (token 750) the shared prefix is under 1,024 tokens: nothing.
    let mut early = content.clone();
    early.replace_range(2983..2984, "v");
    assert_eq!(cache.measure(&chat("gpt-test", &early), 3 * MIN).unwrap().cached_tokens, 0);
    // A prompt under 1,024 tokens is never cached.
    let small = text(3975, 'u');
    cache.measure(&chat("gpt-test", &small), 4 * MIN).unwrap();
    assert_eq!(
        cache.measure(&chat("gpt-test", &small), 4 * MIN).unwrap(),
        OpenAiUsage { prompt_tokens: 1000, cached_tokens: 0 }
    );
}

#[test]
fn openai_prefixes_expire_unless_kept_a_day() {
    let content = text(5975, 'u');
    let mut cache = OpenAiCache::new(WINDOW);
    cache.measure(&chat("gpt-test", &content), Duration::ZERO).unwrap();
    assert_eq!(cache.measure(&chat("gpt-test", &content), 4 * MIN).unwrap().cached_tokens, 1408);
    assert_eq!(cache.measure(&chat("gpt-test", &content), 9 * MIN + Duration::from_secs(1)).unwrap().cached_tokens, 0);
    let mut day = chat("gpt-test", &content);
    day["prompt_cache_retention"] = json!("24h");
    cache.measure(&day, 20 * MIN).unwrap();
    assert_eq!(cache.measure(&day, 140 * MIN).unwrap().cached_tokens, 1408);
    // The tools are part of the prefix.
    let mut with_tools = chat("gpt-test", &content);
    with_tools["tools"] = json!([{"type": "function", "function": {"name": "bash", "parameters": {"type": "object"}}}]);
    assert_eq!(cache.measure(&with_tools, 141 * MIN).unwrap().cached_tokens, 0);
}

// ---- the agent loop's requests against the model ----------------------------------------

fn call(id: &str, name: &str, args: Value) -> Step {
    Step::stream(anthropic_turn("", &[(id, name, &[args.to_string().as_str()])], 0, 0, 0, 5))
}

fn handoff() -> Value {
    json!({"featureId": "feat-a", "successState": "success", "commitId": "abc", "salientSummary": "feat-a is done; its two files were read first.",
           "whatWasImplemented": "Read the two source files, then implemented feat-a in the first of them.", "whatWasLeftUndone": "",
           "verification": {"commandsRun": [{"command": "true", "exitCode": 0, "observation": "ok"}]},
           "tests": {"added": [], "coverage": "none"}, "discoveredIssues": [],
           "skillFeedback": {"followedProcedure": true, "deviations": []}})
}

/// A worker session that reads two 8 KB files and hands off.
fn reads_then_handoff() -> Vec<Step> {
    vec![
        call("t1", "read_file", json!({"path": "one.txt"})),
        call("t2", "read_file", json!({"path": "two.txt"})),
        call("t3", "submit_handoff", handoff()),
    ]
}

struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("wd/.missions/m")).unwrap();
        for name in ["one.txt", "two.txt"] {
            std::fs::write(dir.path().join("wd").join(name), format!("{name}: {}\n", "x".repeat(80)).repeat(100))
                .unwrap();
        }
        Workspace { dir }
    }

    async fn session(&self, fake: &FakeProvider, ttl: PromptCacheTtl, task: &str) -> SessionEnd {
        let wd = self.dir.path().join("wd");
        let mission = wd.join(".missions/m");
        let provider = AnthropicProvider::new(reqwest::Client::new(), "claude-sonnet-4-5", None)
            .with_base_url(&fake.anthropic_url())
            .with_prompt_cache_ttl(ttl);
        let mut spec =
            SessionSpec::new(SessionKind::Worker, wd.clone(), mission.clone(), task.into(), &MissionsConfig::default());
        spec.shared_context = Some(format!("# AGENTS.md\n{}", "Conventions every worker follows. ".repeat(200)));
        spec.retry = agent_support::fast_retries();
        let mut t =
            SessionTranscript::start(&mission, "mis_cache", task, AgentRole::Worker, SharedUsage::default(), json!({}));
        let outcome =
            run_session(&provider, &spec, &mut t, &mut AcceptValid, &CancellationToken::new(), &mut NoSessionObserver)
                .await;
        outcome.end
    }
}

#[tokio::test]
async fn every_turn_reads_the_whole_previous_prompt_and_the_next_session_the_shared_prefix() {
    let w = Workspace::new();
    let mut script = reads_then_handoff();
    script.extend(reads_then_handoff());
    script.extend(reads_then_handoff());
    let fake = FakeProvider::start_with_cache(script, "claude-sonnet-4-5", 200_000).await;
    assert!(matches!(w.session(&fake, PromptCacheTtl::OneHour, "Implement feat-a.").await, SessionEnd::Finished(_)));
    let first = fake.measured();
    assert_eq!(first.len(), 3);
    assert_eq!((first[0].cache_read, first[0].input), (0, 0), "the first call writes its whole prompt: {first:?}");
    for n in 1..3 {
        assert_eq!(
            first[n].cache_read,
            first[n - 1].total(),
            "call {n} reads everything call {} sent: {first:?}",
            n - 1
        );
        assert_eq!(first[n].input, 0);
    }

    // Ten minutes later a session of the same role on another feature: only its task is
    // new; the tools, the system prompt and the shared context are read (the hour's TTL).
    fake.advance(Duration::from_secs(600));
    let task = "Implement feat-b, which is another feature.";
    assert!(matches!(w.session(&fake, PromptCacheTtl::OneHour, task).await, SessionEnd::Finished(_)));
    let second = fake.measured()[3];
    assert_eq!(second.cache_write, tokens(task.len()), "{second:?}");
    assert_eq!(second.cache_read, first[0].total() - tokens("Implement feat-a.".len()));

    // With the 5-minute TTL the shared prefix is gone after ten minutes.
    let mut script = reads_then_handoff();
    script.extend(reads_then_handoff());
    let fake = FakeProvider::start_with_cache(script, "claude-sonnet-4-5", 200_000).await;
    w.session(&fake, PromptCacheTtl::FiveMinutes, "Implement feat-a.").await;
    fake.advance(Duration::from_secs(600));
    assert!(matches!(w.session(&fake, PromptCacheTtl::FiveMinutes, task).await, SessionEnd::Finished(_)));
    let later = fake.measured()[3];
    assert_eq!(later, Measured { input: 0, cache_read: 0, cache_write: later.total() });
}

#[tokio::test]
async fn after_a_compaction_the_system_prompt_and_the_task_are_still_read() {
    let w = Workspace::new();
    let four_reads = || {
        let mut s: Vec<Step> = ["one.txt", "two.txt", "one.txt", "two.txt"]
            .iter()
            .enumerate()
            .map(|(i, f)| call(&format!("t{i}"), "read_file", json!({"path": f})))
            .collect();
        s.push(call("t9", "submit_handoff", handoff()));
        s
    };
    let fake = FakeProvider::start_with_cache(four_reads(), "claude-sonnet-4-5", 200_000).await;
    w.session(&fake, PromptCacheTtl::OneHour, "Implement feat-a.").await;
    let sizes: Vec<u64> = fake.measured().iter().map(Measured::total).collect();
    // The window fits four calls, not the fifth: the two oldest outputs get shortened.
    let window = (sizes[3] + sizes[4]) / 2;

    let fake = FakeProvider::start_with_cache(four_reads(), "claude-sonnet-4-5", window).await;
    let end = w.session(&fake, PromptCacheTtl::OneHour, "Implement feat-a.").await;
    assert!(matches!(end, SessionEnd::Finished(_)), "{end:?} {:?}", fake.measured());
    let requests = fake.requests();
    assert_eq!(requests.len(), 6, "the fifth call was refused, compacted and sent again");
    assert!(requests[5].body.to_string().contains("older tool output removed"));
    let measured = fake.measured();
    let after = measured[4];
    assert_eq!(after.cache_read, sizes[0], "everything up to the end of the task is read: {measured:?}");
    assert_eq!(after.input, 0);
}
