//! Both wire formats end to end against a fake provider on loopback: multi-turn tool use,
//! usage, cache breakpoints, local-server quirks, and non-streamed answers.

use crate::agent_support;

use agent_support::*;
use missions::agent::providers::anthropic::{self, AnthropicProvider};
use missions::agent::providers::openai::OpenAiProvider;
use missions::agent::providers::{self, HttpSettings};
use missions::agent::secrets::ApiKey;
use missions::agent::transcript::{rollup_from_transcript, SessionTranscript, SharedUsage, TRANSCRIPT_FILE};
use missions::agent::{ContentBlock, StopReason, Usage};
use missions::config::{AgentRole, MissionsConfig};
use serde_json::{json, Value};

fn cache_marks(body: &Value) -> usize {
    body.to_string().matches("\"cache_control\"").count()
}

#[tokio::test]
async fn anthropic_multi_turn_tool_use_counts_usage_and_places_cache_breakpoints() {
    let fake = FakeProvider::start(vec![
        Step::stream(anthropic_turn(
            "I'll read it.",
            &[("toolu_01", "read_file", &["{\"pa", "th\": \"gre", "et.txt\"}"])],
            30,
            0,
            1500,
            40,
        )),
        Step::stream(anthropic_turn("It says hello.", &[], 60, 1500, 90, 12)),
    ])
    .await;
    let key = ApiKey::new("sk-ant-test-multi-turn-000111");
    let provider =
        AnthropicProvider::new(reqwest::Client::new(), "claude-test", Some(key)).with_base_url(&fake.anthropic_url());
    let dir = tempfile::tempdir().unwrap();
    let usage = SharedUsage::default();
    let mut t = SessionTranscript::start(
        dir.path(),
        "mis_a",
        "ses_1",
        AgentRole::Worker,
        usage.clone(),
        json!({"provider": "anthropic"}),
    );
    let mut req = request("What does greet.txt say?");

    let turns = run_exchange(&provider, &mut t, &mut req, &fast_retries()).await;

    assert_eq!(turns.len(), 2);
    assert_eq!(turns[0].stop_reason, StopReason::ToolUse);
    assert_eq!(turns[0].tool_calls()[0].input, &json!({"path": "greet.txt"}));
    assert_eq!(turns[1].text(), "It says hello.");
    let want = Usage { input: 90, cache_read: 1500, cache_write: 1590, output: 52 };
    assert_eq!(t.session_usage(), want);
    assert_eq!(usage.lock().unwrap().role("worker"), want);

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2);
    for (i, r) in reqs.iter().enumerate() {
        assert_eq!(r.path, "/v1/messages");
        assert_eq!(r.header("x-api-key"), Some("sk-ant-test-multi-turn-000111"));
        assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
        assert_eq!(r.body["stream"], json!(true));
        // The role's instructions (after the tools) for an hour, the task, and the moving one
        // on the latest turn (the task itself on the first call): at most 3 of the 4 allowed.
        assert_eq!(cache_marks(&r.body), 2 + i);
        assert!(r.body["tools"][0].get("cache_control").is_none());
        assert_eq!(r.body["system"][0]["cache_control"], json!({"type": "ephemeral", "ttl": "1h"}));
        assert!(r.body["system"][1].get("cache_control").is_none());
        assert_eq!(r.header("anthropic-beta"), Some(anthropic::EXTENDED_CACHE_TTL_BETA));
        let last = r.body["messages"].as_array().unwrap().last().unwrap();
        assert!(last["content"].as_array().unwrap().last().unwrap().get("cache_control").is_some());
    }
    // The second request carries the tool_use and its result; the breakpoint moved onto it.
    let second = &reqs[1].body["messages"];
    assert_eq!(
        second[1]["content"][1],
        json!({"type": "tool_use", "id": "toolu_01", "name": "read_file", "input": {"path": "greet.txt"}})
    );
    assert_eq!(second[2]["content"][0]["type"], "tool_result");
    assert_eq!(second[2]["content"][0]["tool_use_id"], "toolu_01");
    // The task keeps its own (5-minute) breakpoint, so a compacted conversation still reads it.
    assert_eq!(second[0]["content"][0]["cache_control"], json!({"type": "ephemeral"}));

    let lines = read_transcript(dir.path());
    assert_eq!(
        kinds(&lines),
        [
            "session_start",
            "request",
            "assistant_turn",
            "usage",
            "tool_call",
            "tool_result",
            "request",
            "assistant_turn",
            "usage",
            "session_end"
        ]
    );
    assert_eq!(lines[9]["usage"]["cacheWrite"], 1590);
    assert_eq!(rollup_from_transcript(&dir.path().join(TRANSCRIPT_FILE)).unwrap().mission, want);
}

#[tokio::test]
async fn openai_multi_turn_tool_use_assembles_split_arguments_and_normalises_usage() {
    let fake = FakeProvider::start(vec![
        Step::stream(openai_turn(
            "Reading. ",
            &[
                (0, "call_1", "read_file", &["{\"path\"", ": \"a.txt\"}"]),
                (1, "call_2", "read_file", &["{\"path\": \"b.txt\"}"]),
            ],
            1000,
            800,
            30,
        )),
        Step::stream(openai_turn("Both say hi.", &[], 1200, 1000, 8)),
    ])
    .await;
    let provider =
        OpenAiProvider::new(reqwest::Client::new(), "gpt-test", Some(ApiKey::new("sk-openai-test-bearer-42424242")))
            .with_base_url(&fake.openai_url());
    let dir = tempfile::tempdir().unwrap();
    let mut t =
        SessionTranscript::start(dir.path(), "mis_o", "ses_2", AgentRole::Validator, SharedUsage::default(), json!({}));
    let mut req = request("Compare a.txt and b.txt");

    let turns = run_exchange(&provider, &mut t, &mut req, &fast_retries()).await;

    assert_eq!(turns.len(), 2);
    let calls = turns[0].tool_calls();
    assert_eq!(calls.iter().map(|c| c.id).collect::<Vec<_>>(), ["call_1", "call_2"]);
    assert_eq!(calls[0].input, &json!({"path": "a.txt"}));
    assert_eq!(turns[1].text(), "Both say hi.");
    // prompt_tokens include the cached part; normalised input does not.
    assert_eq!(t.session_usage(), Usage { input: 400, cache_read: 1800, cache_write: 0, output: 38 });

    let reqs = fake.requests();
    assert_eq!(reqs[0].path, "/v1/chat/completions");
    assert_eq!(reqs[0].header("authorization"), Some("Bearer sk-openai-test-bearer-42424242"));
    assert_eq!(reqs[0].body["stream_options"], json!({"include_usage": true}));
    assert_eq!(reqs[0].body["messages"][0]["role"], "system");
    assert_eq!(reqs[0].body["tools"][0]["function"]["name"], "read_file");
    let msgs = reqs[1].body["messages"].as_array().unwrap();
    assert_eq!(msgs[2]["tool_calls"][1]["id"], "call_2");
    assert_eq!(msgs[3], json!({"role": "tool", "tool_call_id": "call_1", "content": "1\tcontents of a.txt"}));
    assert_eq!(msgs[4]["tool_call_id"], "call_2");
}

#[tokio::test]
async fn an_ollama_role_from_missions_toml_gets_both_calls_sent_at_index_zero() {
    // Ollama streams each call whole, all at index 0, and finishes with "stop".
    let frame = |id: &str, path: &str| {
        let c = json!({"id": "chatcmpl-9", "object": "chat.completion.chunk", "model": "qwen2.5-coder:32b", "system_fingerprint": "fp_ollama",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": "", "tool_calls": [
                {"id": id, "index": 0, "type": "function", "function": {"name": "read_file", "arguments": json!({"path": path}).to_string()}}]},
                "finish_reason": null}]});
        format!("data: {c}\n\n")
    };
    let stop = json!({"id": "chatcmpl-9", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": "stop"}]});
    let usage = json!({"id": "chatcmpl-9", "object": "chat.completion.chunk", "choices": [], "usage": {"prompt_tokens": 310, "completion_tokens": 48, "total_tokens": 358}});
    let frames = vec![
        frame("call_x1", "a.rs"),
        frame("call_x2", "b.rs"),
        format!("data: {stop}\n\n"),
        format!("data: {usage}\n\n"),
        "data: [DONE]\n\n".into(),
    ];
    let fake =
        FakeProvider::start(vec![Step::stream(frames), Step::stream(openai_turn("Done.", &[], 400, 0, 3))]).await;

    let toml = format!(
        "[roles.worker]\nprovider = \"openai\"\nmodel = \"qwen2.5-coder:32b\"\nbase_url = \"{}\"\n",
        fake.openai_url()
    );
    let config = MissionsConfig::parse(&toml, "missions.toml").unwrap();
    let settings = HttpSettings::default();
    let provider = providers::from_role(
        config.role(AgentRole::Worker).unwrap(),
        providers::http_client(&settings).unwrap(),
        settings,
    )
    .unwrap();
    assert_eq!((provider.name(), provider.model()), ("openai", "qwen2.5-coder:32b"));

    let dir = tempfile::tempdir().unwrap();
    let mut t =
        SessionTranscript::start(dir.path(), "mis_l", "ses_3", AgentRole::Worker, SharedUsage::default(), json!({}));
    let mut req = request("read both");
    let turns = run_exchange(provider.as_ref(), &mut t, &mut req, &fast_retries()).await;

    let calls = turns[0].tool_calls();
    assert_eq!(calls.len(), 2);
    assert_eq!((calls[0].id, calls[1].id), ("call_x1", "call_x2"));
    assert_eq!(calls[1].input, &json!({"path": "b.rs"}));
    assert_eq!(turns[0].stop_reason, StopReason::ToolUse);
    // No api_key_env: no Authorization header at all.
    assert!(fake.requests()[0].header("authorization").is_none());
    assert_eq!(fake.requests()[1].body["model"], "qwen2.5-coder:32b");
}

#[tokio::test]
async fn non_streamed_json_answers_are_accepted_in_both_formats() {
    let fake = FakeProvider::start(vec![
        Step::json(json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test",
            "content": [{"type": "text", "text": "Plain answer."}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 5, "cache_read_input_tokens": 7, "output_tokens": 3}})),
        Step::json(json!({"id": "chatcmpl-2", "object": "chat.completion", "model": "m", "choices": [{"index": 0, "finish_reason": "tool_calls",
            "message": {"role": "assistant", "content": null, "tool_calls": [{"id": "c9", "type": "function",
                "function": {"name": "read_file", "arguments": "{\"path\":\"x\"}"}}]}}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 4}}})),
    ])
    .await;
    let cancel = missions::agent::CancellationToken::new();
    let anthropic =
        AnthropicProvider::new(reqwest::Client::new(), "claude-test", None).with_base_url(&fake.anthropic_url());
    let turn = missions::agent::complete_turn(
        &anthropic,
        &request("hi"),
        &fast_retries(),
        &cancel,
        &mut missions::agent::turn::NoObserver,
    )
    .await
    .unwrap();
    assert_eq!(turn.content, vec![ContentBlock::Text { text: "Plain answer.".into() }]);
    assert_eq!(turn.usage, Usage { input: 5, cache_read: 7, cache_write: 0, output: 3 });

    let openai = OpenAiProvider::new(reqwest::Client::new(), "m", None).with_base_url(&fake.openai_url());
    let turn = missions::agent::complete_turn(
        &openai,
        &request("hi"),
        &fast_retries(),
        &cancel,
        &mut missions::agent::turn::NoObserver,
    )
    .await
    .unwrap();
    assert_eq!(turn.tool_calls()[0].input, &json!({"path": "x"}));
    assert_eq!(turn.usage, Usage { input: 16, cache_read: 4, cache_write: 0, output: 2 });
}

/// Calls the model once with `request`, returning the turn.
async fn call(
    provider: &dyn missions::agent::Provider,
    request: &missions::agent::ModelRequest,
) -> missions::agent::AssistantTurn {
    missions::agent::complete_turn(
        provider,
        request,
        &fast_retries(),
        &missions::agent::CancellationToken::new(),
        &mut missions::agent::turn::NoObserver,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn openai_an_empty_assistant_answer_goes_back_as_a_string_not_null() {
    let fake = FakeProvider::start(vec![
        Step::stream(openai_turn("", &[], 10, 0, 1)),
        Step::stream(openai_turn("", &[(0, "call_1", "read_file", &["{\"path\":\"a\"}"])], 10, 0, 1)),
        Step::stream(openai_turn("done", &[], 10, 0, 1)),
    ])
    .await;
    let openai = OpenAiProvider::new(reqwest::Client::new(), "m", None).with_base_url(&fake.openai_url());
    let mut req = request("hi");
    let turn = call(&openai, &req).await;
    assert!(turn.content.is_empty(), "{:?}", turn.content);
    req.messages.push(turn.to_message());
    req.messages.push(missions::agent::Message::user_text("Go on with the tools."));
    let turn = call(&openai, &req).await;
    req.messages.push(turn.to_message());
    req.messages.push(missions::agent::Message::tool_results([missions::agent::ToolResult {
        tool_use_id: "call_1".into(),
        content: "a".into(),
        is_error: false,
    }]));
    call(&openai, &req).await;

    let body = fake.requests().last().unwrap().body.clone();
    let assistants: Vec<&Value> =
        body["messages"].as_array().unwrap().iter().filter(|m| m["role"] == "assistant").collect();
    assert_eq!(assistants.len(), 2, "{body}");
    // The real API: content is a string, or null only beside tool_calls.
    for m in &assistants {
        assert!(m["content"].is_string() || (m["content"].is_null() && m["tool_calls"].is_array()), "{m}");
    }
    assert_eq!(assistants[0]["content"], json!(""));
    assert!(assistants[0].get("tool_calls").is_none());
    assert_eq!(assistants[1]["tool_calls"][0]["id"], "call_1");
}

#[tokio::test]
async fn anthropic_whitespace_only_text_is_never_sent_back() {
    let fake = FakeProvider::start(vec![
        Step::stream(anthropic_turn("\n\n", &[("toolu_1", "read_file", &["{\"path\": \"a\"}"])], 10, 0, 0, 1)),
        Step::stream(anthropic_turn(" \n\t ", &[], 10, 0, 0, 1)),
        Step::stream(anthropic_turn("done", &[], 10, 0, 0, 1)),
    ])
    .await;
    let anthropic =
        AnthropicProvider::new(reqwest::Client::new(), "claude-test", None).with_base_url(&fake.anthropic_url());
    let mut req = request("hi");
    let turn = call(&anthropic, &req).await;
    req.messages.push(turn.to_message());
    req.messages.push(missions::agent::Message::tool_results([missions::agent::ToolResult {
        tool_use_id: "toolu_1".into(),
        content: "a".into(),
        is_error: false,
    }]));
    let turn = call(&anthropic, &req).await;
    req.messages.push(turn.to_message());
    req.messages.push(missions::agent::Message::user_text("Go on with the tools."));
    call(&anthropic, &req).await;

    let body = fake.requests().last().unwrap().body.clone();
    let messages = body["messages"].as_array().unwrap();
    for m in messages {
        let blocks = m["content"].as_array().unwrap();
        assert!(!blocks.is_empty(), "a message without content blocks: {body}");
        for b in blocks {
            if b["type"] == "text" {
                assert!(!b["text"].as_str().unwrap().trim().is_empty(), "{body}");
            }
        }
    }
    // The tool call survives without its whitespace text; the blank answer is dropped.
    let assistants: Vec<&Value> = messages.iter().filter(|m| m["role"] == "assistant").collect();
    assert_eq!(assistants.len(), 1, "{body}");
    assert_eq!(assistants[0]["content"].as_array().unwrap().len(), 1);
    assert_eq!(assistants[0]["content"][0]["type"], "tool_use");
}

#[tokio::test]
async fn anthropic_tool_input_given_whole_in_content_block_start_is_used() {
    let sse = |event: &str, data: Value| format!("event: {event}\ndata: {data}\n\n");
    let frames = vec![
        sse(
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
            "model": "claude-test", "content": [], "stop_reason": null, "usage": {"input_tokens": 5, "output_tokens": 1}}}),
        ),
        sse(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "tool_use", "id": "toolu_a", "name": "read_file", "input": {"path": "whole.txt"}}}),
        ),
        sse("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
        // A start block with an input and deltas as well: the deltas are the arguments.
        sse(
            "content_block_start",
            json!({"type": "content_block_start", "index": 1,
            "content_block": {"type": "tool_use", "id": "toolu_b", "name": "read_file", "input": {"path": "ignored"}}}),
        ),
        sse(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": "{\"path\": \"streamed.txt\"}"}}),
        ),
        sse("content_block_stop", json!({"type": "content_block_stop", "index": 1})),
        // The usual empty start input with no deltas: no arguments.
        sse(
            "content_block_start",
            json!({"type": "content_block_start", "index": 2,
            "content_block": {"type": "tool_use", "id": "toolu_c", "name": "list_files", "input": {}}}),
        ),
        sse("content_block_stop", json!({"type": "content_block_stop", "index": 2})),
        sse(
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}}),
        ),
        sse("message_stop", json!({"type": "message_stop"})),
    ];
    let fake = FakeProvider::start(vec![Step::stream(frames)]).await;
    let anthropic =
        AnthropicProvider::new(reqwest::Client::new(), "claude-test", None).with_base_url(&fake.anthropic_url());
    let turn = call(&anthropic, &request("hi")).await;
    let calls = turn.tool_calls();
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0].input, &json!({"path": "whole.txt"}));
    assert_eq!(calls[1].input, &json!({"path": "streamed.txt"}));
    assert_eq!(calls[2].input, &json!({}));
}

#[tokio::test]
async fn openai_a_server_refusing_stream_options_is_asked_again_without_them_and_remembered() {
    let refused = json!({"error": {"message": "Unrecognized request argument supplied: stream_options", "type": "invalid_request_error", "param": null, "code": null}});
    let mut no_usage = openai_turn("hello", &[], 0, 0, 0);
    no_usage.retain(|f| !f.contains("\"usage\""));
    let fake = FakeProvider::start(vec![
        Step::error(400, &[], refused.clone()),
        Step::stream(no_usage.clone()),
        Step::stream(no_usage),
    ])
    .await;
    let openai = OpenAiProvider::new(reqwest::Client::new(), "m", None).with_base_url(&fake.openai_url());
    let turn = call(&openai, &request("hi")).await;
    assert_eq!(turn.content, vec![ContentBlock::Text { text: "hello".into() }]);
    assert_eq!(turn.usage, Usage::default(), "the server gives no usage");
    // The second call goes without stream_options at once.
    call(&openai, &request("again")).await;
    let bodies: Vec<Value> = fake.requests().into_iter().map(|r| r.body).collect();
    assert_eq!(bodies.len(), 3);
    assert_eq!(bodies[0]["stream_options"], json!({"include_usage": true}));
    assert!(bodies[1].get("stream_options").is_none(), "{}", bodies[1]);
    assert!(bodies[2].get("stream_options").is_none(), "{}", bodies[2]);
    assert_eq!(bodies[1]["messages"], bodies[0]["messages"], "the same request otherwise");

    // Any other 400 is not resent.
    let other = FakeProvider::start(vec![Step::error(
        400,
        &[],
        json!({"error": {"message": "Unrecognized request argument supplied: tools"}}),
    )])
    .await;
    let openai = OpenAiProvider::new(reqwest::Client::new(), "m", None).with_base_url(&other.openai_url());
    let e = missions::agent::complete_turn(
        &openai,
        &request("hi"),
        &fast_retries(),
        &missions::agent::CancellationToken::new(),
        &mut missions::agent::turn::NoObserver,
    )
    .await
    .unwrap_err();
    assert_eq!(e.status, Some(400));
    assert_eq!(other.requests().len(), 1);
}
