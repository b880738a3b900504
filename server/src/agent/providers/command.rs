//! `command` provider: an external headless coding agent (`claude -p`, `codex exec`,
//! `droid exec`, or any program) runs a whole session of a role. The role's prompt goes in on
//! stdin; JSON lines on stdout are read for progress and usage where the tool reports them;
//! the last message must hold the role's final JSON object, checked like the built-in final
//! tool. The transcript records the final object as a call of the role's final tool, so a
//! `replay` of the mission reproduces the session.

use crate::agent::cancel::CancellationToken;
use crate::agent::event::StreamEvent;
use crate::agent::final_tool::{FinalDecision, FinalToolHandler};
use crate::agent::message::{AssistantTurn, ContentBlock, Message, ModelRequest, StopReason};
use crate::agent::roles::SessionKind;
use crate::agent::schema;
use crate::agent::secrets::redact;
use crate::agent::session::{SessionEnd, SessionObserver, SessionOutcome, SessionSpec};
use crate::agent::tools::bash::{die_with_parent, kill_group};
use crate::agent::transcript::SessionTranscript;
use crate::agent::usage::Usage;
use crate::config::RoleConfig;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Bytes of the agent's stderr kept for an error message.
const STDERR_TAIL: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandAgent {
    pub argv: Vec<String>,
}

/// What one stdout line told us.
#[derive(Debug, Default, PartialEq)]
struct LineInfo {
    /// An assistant message (progress; the last one may hold the final object).
    message: Option<String>,
    /// The session's final answer, when the tool marks one (claude's `result`).
    final_text: Option<String>,
    usage: Option<Usage>,
}

impl CommandAgent {
    pub fn from_role(role: &RoleConfig) -> Option<Self> {
        role.command.clone().filter(|a| !a.is_empty()).map(|argv| CommandAgent { argv })
    }

    /// Runs the external agent as a whole session of `spec.kind`.
    pub async fn run(
        &self,
        spec: &SessionSpec,
        transcript: &mut SessionTranscript,
        handler: &mut dyn FinalToolHandler,
        cancel: &CancellationToken,
        observer: &mut dyn SessionObserver,
    ) -> SessionOutcome {
        let mut turns = 0u32;
        let end = self.drive(spec, transcript, handler, cancel, observer, &mut turns).await;
        crate::agent::session::finish_session(spec, transcript, end, turns)
    }

    async fn drive(
        &self,
        spec: &SessionSpec,
        transcript: &mut SessionTranscript,
        handler: &mut dyn FinalToolHandler,
        cancel: &CancellationToken,
        observer: &mut dyn SessionObserver,
        turns: &mut u32,
    ) -> SessionEnd {
        let Some(program) = self.argv.first() else {
            return SessionEnd::Failed("provider \"command\" has an empty `command`".into());
        };
        let kind = spec.kind;
        let prompt = command_prompt(spec);
        transcript.request(
            "command",
            program,
            &ModelRequest { system: vec![], messages: vec![Message::user_text(prompt.clone())], ..Default::default() },
        );
        let mut command = Command::new(program);
        command
            .args(&self.argv[1..])
            .current_dir(&spec.working_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        die_with_parent(&mut command);
        crate::agent::processes::tag(&mut command, &spec.mission_dir);
        // The agent keeps its own API key (it needs it); it gets the git identity if missing.
        for (k, v) in &spec.commands.added_env {
            command.env(k, v);
        }
        let mut child = match command.spawn() {
            Ok(c) => c,
            Err(e) => return SessionEnd::Failed(format!("cannot start the external agent `{program}`: {e}")),
        };
        let pgid = child.id() as i32;
        let (Some(mut stdin), Some(stdout), Some(mut stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            kill_group(pgid);
            return SessionEnd::Failed("the external agent's pipes could not be opened".into());
        };
        std::thread::spawn(move || {
            // An agent that exits without reading its prompt closes the pipe: not our error.
            let _ = stdin.write_all(prompt.as_bytes());
        });
        let stderr_thread = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr.read_to_end(&mut buf);
            let start = buf.len().saturating_sub(STDERR_TAIL);
            String::from_utf8_lossy(&buf[start..]).into_owned()
        });
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut buf = Vec::new();
            while matches!(reader.read_until(b'\n', &mut buf), Ok(n) if n > 0) {
                if tx.send(String::from_utf8_lossy(&buf).into_owned()).is_err() {
                    break;
                }
                buf.clear();
            }
        });

        let mut last_message: Option<String> = None;
        let mut final_text: Option<String> = None;
        let mut plain = String::new();
        let deadline = spec.session_timeout.map(|t| tokio::time::Instant::now() + t);
        let timed_out = || SessionEnd::TimedOut(spec.session_timeout.map_or(0, |t| t.as_secs()));
        loop {
            let line = tokio::select! {
                biased;
                _ = cancel.cancelled() => {
                    return stop(pgid, &mut child, SessionEnd::Cancelled);
                }
                _ = until(deadline) => {
                    return stop(pgid, &mut child, timed_out());
                }
                line = rx.recv() => line,
            };
            let Some(line) = line else { break };
            match serde_json::from_str::<Value>(line.trim()) {
                Ok(v) if v.is_object() => {
                    let info = interpret(&v);
                    if info == LineInfo::default() && v.get("type").is_none() {
                        // Not an event of a known agent: a plain command printing its answer.
                        plain.push_str(&line);
                        continue;
                    }
                    if let Some(u) = info.usage {
                        transcript.usage(u);
                        if let Some(end) = crate::agent::session::budget_spent(
                            &transcript.mission_rollup(),
                            spec.max_mission_tokens,
                            spec.max_mission_cost,
                            &spec.prices,
                        ) {
                            return stop(pgid, &mut child, end);
                        }
                    }
                    if let Some(m) = info.message {
                        *turns += 1;
                        observer.on_event(&StreamEvent::TextDelta { text: m.clone() });
                        last_message = Some(m);
                        if *turns > spec.max_turns {
                            return stop(pgid, &mut child, SessionEnd::MaxTurns(spec.max_turns));
                        }
                    }
                    if info.final_text.is_some() {
                        final_text = info.final_text;
                    }
                }
                _ => {
                    if plain.len() < 1 << 20 {
                        plain.push_str(&line);
                    }
                }
            }
        }
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break Some(s),
                Ok(None) => {}
                Err(_) => break None,
            }
            tokio::select! {
                _ = cancel.cancelled() => {
                    return stop(pgid, &mut child, SessionEnd::Cancelled);
                }
                _ = until(deadline) => {
                    return stop(pgid, &mut child, timed_out());
                }
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
        };
        let stderr_tail = redact(&stderr_thread.join().unwrap_or_default());
        let exit = status.and_then(|s| s.code());
        let last = final_text.or(last_message).or_else(|| (!plain.trim().is_empty()).then(|| plain.clone()));
        let Some(last) = last else {
            return SessionEnd::Failed(format!(
                "the external agent `{program}` ended (exit {}) without a final message{}",
                exit.map_or("by a signal".into(), |c| c.to_string()),
                stderr_note(&stderr_tail)
            ));
        };
        if *turns == 0 {
            *turns = 1;
        }
        let object = match extract_final_object(&last) {
            Ok(o) => o,
            Err(e) => {
                return SessionEnd::Failed(format!(
                    "the external agent's last message holds no valid final JSON object for `{}`: {e}{}",
                    kind.final_tool(),
                    stderr_note(&stderr_tail)
                ))
            }
        };
        if kind == SessionKind::Orchestrator && spec.allow_questions && object.get("questions").is_some() {
            // The external planner asks the person, as `ask_user` would.
            transcript.tool_call("command-final", "ask_user", &object);
            let (output, end) = crate::agent::session::ask_user(&spec.mission_dir, &object);
            transcript.tool_result("command-final", "ask_user", &output.content, output.is_error);
            return end.unwrap_or_else(|| {
                SessionEnd::Failed(format!("the external agent's questions were refused: {}", output.content))
            });
        }
        let tool = kind.final_tool();
        let final_schema = if kind == SessionKind::Orchestrator {
            schema::plan_done_schema()
        } else {
            crate::agent::tools::schema_of(tool).map(|t| t.input_schema).unwrap_or(json!({}))
        };
        // Recorded as a call of the final tool, so replay drives the built-in loop the same way.
        let turn = AssistantTurn {
            content: vec![
                ContentBlock::Text { text: last.clone() },
                ContentBlock::ToolUse { id: "command-final".into(), name: tool.into(), input: object.clone() },
            ],
            stop_reason: StopReason::ToolUse,
            usage: Usage::default(),
        };
        transcript.assistant_turn(&turn);
        transcript.tool_call("command-final", tool, &object);
        let verdict = schema::validate(&final_schema, &object)
            .map_err(|e| schema::describe(&e))
            .and_then(|()| schema::check_final_semantics(tool, &object))
            .map(|()| handler.decide(kind, &object));
        let (content, end) = match verdict {
            Err(e) => (
                e.clone(),
                SessionEnd::Failed(format!("the external agent's final object breaks the `{tool}` schema: {e}")),
            ),
            Ok(FinalDecision::Reject(m)) => {
                (m.clone(), SessionEnd::Failed(format!("the external agent's `{tool}` was rejected: {m}")))
            }
            Ok(FinalDecision::Accept(v)) => ("accepted".to_string(), SessionEnd::Finished(v)),
        };
        transcript.tool_result("command-final", tool, &content, !matches!(end, SessionEnd::Finished(_)));
        end
    }
}

fn stderr_note(tail: &str) -> String {
    let tail = tail.trim();
    if tail.is_empty() {
        String::new()
    } else {
        format!("; its stderr ends with: {tail}")
    }
}

/// The prompt for an external agent: the role, the task, and how to finish without our tools.
pub fn command_prompt(spec: &SessionSpec) -> String {
    let kind = spec.kind;
    let system = kind.system_prompt(&spec.working_dir, &spec.mission_dir).join("\n\n");
    let (what, schema) = if kind == SessionKind::Orchestrator {
        (
            "When the plan files are written and lint-clean, end your final message with exactly",
            schema::plan_done_schema(),
        )
    } else {
        (
            "Your own tools stand in for the tools named above. When you are done, end your final message with one JSON object (bare, or in a ```json fenced block) that matches this JSON Schema, the arguments of",
            crate::agent::tools::schema_of(kind.final_tool()).map(|t| t.input_schema).unwrap_or(json!({})),
        )
    };
    let example = if kind == SessionKind::Orchestrator {
        "{\"planDone\": true}".to_string()
    } else {
        serde_json::to_string_pretty(&schema).unwrap_or_default()
    };
    let asking = if kind == SessionKind::Orchestrator && spec.allow_questions {
        "\nTo ask the person instead (only what they must decide), write nothing else and end your final message with `{\"questions\": [\"…\", \"…\"]}`: the questions go to mission.md and planning resumes with the answers.\n"
    } else {
        ""
    };
    format!(
        "{system}\n\n# Your task\n\n{}\n\n# How to finish\n\n{what} `{}`:\n\n{example}\n{asking}",
        spec.first_message_text(),
        kind.final_tool()
    )
}

/// Ends the agent's whole process group, reaps it, and passes `end` on.
fn stop(pgid: i32, child: &mut std::process::Child, end: SessionEnd) -> SessionEnd {
    kill_group(pgid);
    let _ = child.wait();
    end
}

/// Resolves at `deadline`, never without one.
async fn until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Pulls progress, a final answer and usage out of one JSON line of claude, codex or droid.
fn interpret(v: &Value) -> LineInfo {
    let ty = v["type"].as_str().unwrap_or_default();
    let text_of = |content: &Value| -> Option<String> {
        let text: String = content
            .as_array()?
            .iter()
            .filter(|b| b["type"] == "text")
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join("");
        (!text.is_empty()).then_some(text)
    };
    let n = |x: &Value| x.as_u64().unwrap_or(0);
    match ty {
        // claude -p --output-format stream-json
        "assistant" => LineInfo { message: text_of(&v["message"]["content"]), ..Default::default() },
        "result" => LineInfo {
            final_text: v["result"].as_str().map(str::to_string),
            usage: v.get("usage").filter(|u| u.is_object()).map(|u| {
                Usage::from_anthropic(
                    n(&u["input_tokens"]),
                    n(&u["cache_read_input_tokens"]),
                    n(&u["cache_creation_input_tokens"]),
                    n(&u["output_tokens"]),
                )
            }),
            ..Default::default()
        },
        // codex exec --json
        "item.completed" if v["item"]["type"] == "agent_message" => {
            LineInfo { message: v["item"]["text"].as_str().map(str::to_string), ..Default::default() }
        }
        "turn.completed" => LineInfo {
            usage: v.get("usage").filter(|u| u.is_object()).map(|u| {
                let cached = n(&u["cached_input_tokens"]);
                Usage::from_openai(n(&u["input_tokens"]), cached, n(&u["output_tokens"]))
            }),
            ..Default::default()
        },
        // droid exec -o stream-json, and other tools: a final text, or an assistant message.
        "completion" => LineInfo {
            final_text: v["finalText"].as_str().or(v["text"].as_str()).map(str::to_string),
            ..Default::default()
        },
        "message" if v["role"] == "assistant" => LineInfo {
            message: v["text"].as_str().map(str::to_string).or_else(|| text_of(&v["content"])),
            ..Default::default()
        },
        _ => LineInfo::default(),
    }
}

/// The final object of a last message: the whole message as a JSON object, or the last
/// ```json fenced block that parses as one.
pub fn extract_final_object(text: &str) -> Result<Value, String> {
    let trimmed = text.trim();
    if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(trimmed) {
        return Ok(v);
    }
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("```") {
        let after = &rest[start + 3..];
        let body_start = after.find('\n').map_or(after.len(), |i| i + 1);
        let lang = after[..body_start].trim();
        let body = &after[body_start..];
        let Some(end) = body.find("```") else { break };
        if lang.is_empty() || lang.eq_ignore_ascii_case("json") {
            blocks.push(&body[..end]);
        }
        rest = &body[end + 3..];
    }
    for block in blocks.iter().rev() {
        match serde_json::from_str::<Value>(block.trim()) {
            Ok(v @ Value::Object(_)) => return Ok(v),
            Ok(_) => {}
            Err(e) => return Err(format!("the last ```json block is not valid JSON ({e})")),
        }
    }
    // A plain command's output: the last line that is a whole JSON object.
    if let Some(v) =
        trimmed.lines().rev().find_map(|l| serde_json::from_str::<Value>(l.trim()).ok().filter(Value::is_object))
    {
        return Ok(v);
    }
    let shown: String = trimmed.chars().rev().take(200).collect::<Vec<_>>().into_iter().rev().collect();
    Err(format!("expected a bare JSON object or a ```json block; the message ends with: {shown}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_objects_are_found_bare_or_fenced() {
        assert_eq!(extract_final_object(" {\"planDone\": true}\n").unwrap(), json!({"planDone": true}));
        let fenced = "Done.\n```json\n{\"a\": 1}\n```\nthen\n```json\n{\"a\": 2}\n```\n";
        assert_eq!(extract_final_object(fenced).unwrap(), json!({"a": 2}));
        assert!(extract_final_object("All done, tests pass!").unwrap_err().contains("All done"));
        assert!(extract_final_object("```json\n{\"a\": \n```").unwrap_err().contains("not valid JSON"));
        assert!(extract_final_object("[1, 2]").is_err());
        assert_eq!(extract_final_object("building…\nok\n{\"planDone\": true}\n").unwrap(), json!({"planDone": true}));
    }

    #[test]
    fn claude_and_codex_lines_give_messages_and_usage() {
        let a = interpret(
            &json!({"type": "assistant", "message": {"content": [{"type": "text", "text": "Reading."}, {"type": "tool_use"}]}}),
        );
        assert_eq!(a.message.as_deref(), Some("Reading."));
        let r = interpret(
            &json!({"type": "result", "subtype": "success", "result": "{}", "usage": {"input_tokens": 5, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 7, "output_tokens": 9}}),
        );
        assert_eq!(r.final_text.as_deref(), Some("{}"));
        assert_eq!(r.usage, Some(Usage { input: 5, cache_read: 100, cache_write: 7, output: 9 }));
        let c = interpret(&json!({"type": "item.completed", "item": {"type": "agent_message", "text": "ok"}}));
        assert_eq!(c.message.as_deref(), Some("ok"));
        let u = interpret(
            &json!({"type": "turn.completed", "usage": {"input_tokens": 50, "cached_input_tokens": 20, "output_tokens": 3}}),
        );
        assert_eq!(u.usage, Some(Usage { input: 30, cache_read: 20, cache_write: 0, output: 3 }));
        assert_eq!(interpret(&json!({"type": 7})), LineInfo::default());
    }
}
