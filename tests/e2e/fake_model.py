#!/usr/bin/env python3
"""A fake model on 127.0.0.1 for the editor end-to-end tests: an OpenAI-compatible Chat
Completions server (streaming, tool calls, usage) that answers from a recorded mission, so the
real runner, through its real `openai` provider over real HTTP, goes through a whole mission.

The recording is a transcript in the runner's format (`server/demo/recording.jsonl`, what
`missions demo` replays): each line names its session and role; `assistant_turn` lines hold
what the model said. Each role gets its own base URL (`/orchestrator/v1`, `/worker/v1`,
`/validator/v1`); within a role, sessions are handed out in the recorded order and a request's
turn is the number of assistant messages it carries, as the `replay` provider does in process.
Like a model that read its tool results, a recorded `commitId` becomes the commit the session's
own `git rev-parse HEAD` printed (commit ids differ from the recording's on another machine).

    fake_model.py --recording server/demo/recording.jsonl [--port 0] [--lifetime 900] [--watch-stdin]

prints `http://127.0.0.1:PORT` on its first line of stdout, then serves until killed, for
--lifetime seconds at most, or (--watch-stdin) until its standard input closes: the test that
started it is gone.
Standard library only.
"""

import argparse
import copy
import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROLES = ("orchestrator", "worker", "validator")


def load_recording(path):
    """{role: [[turn content blocks, ...] per session, in order]}"""
    sessions = {}
    order = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("kind") != "assistant_turn" or record.get("role") not in ROLES:
                continue
            key = record["sessionId"]
            if key not in sessions:
                sessions[key] = (record["role"], [])
                order.append(key)
            sessions[key][1].append(record.get("content") or [])
    by_role = {role: [] for role in ROLES}
    for key in order:
        role, turns = sessions[key]
        by_role[role].append(turns)
    return by_role


class Script:
    """Which recorded session answers a request: per role, a cursor over the sessions."""

    def __init__(self, by_role):
        self.by_role = by_role
        self.lock = threading.Lock()
        # role -> (session index, first user message, highest turn served)
        self.current = {}

    def turn(self, role, first_user, turn):
        with self.lock:
            index, first, served = self.current.get(role, (-1, None, -1))
            # A first turn starts the role's next session, unless it repeats the first turn
            # of the session just started (a retried request).
            if turn == 0 and not (index >= 0 and first == first_user and served == 0):
                index += 1
                first, served = first_user, -1
            self.current[role] = (index, first, max(served, turn))
            sessions = self.by_role.get(role, [])
            if index >= len(sessions):
                return None, f"the recording holds {len(sessions)} {role} sessions; session {index + 1} was asked for"
            turns = sessions[index]
            if turn >= len(turns):
                return None, f"{role} session {index + 1} of the recording has {len(turns)} turns; turn {turn + 1} was asked for"
            return turns[turn], None


def text_of(content):
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


COMMIT = re.compile(r"(?m)^([0-9a-f]{40})$")


def with_real_commits(blocks, messages):
    """The recorded calls, each `commitId` (at any depth) replaced by the last commit hash a tool printed."""
    printed = [m.group(1) for msg in messages if msg.get("role") == "tool" for m in COMMIT.finditer(text_of(msg.get("content")))]
    if not printed:
        return blocks
    def replace(value):
        if isinstance(value, dict):
            for key, inner in value.items():
                if key == "commitId" and isinstance(inner, str):
                    value[key] = printed[-1]
                else:
                    replace(inner)
        elif isinstance(value, list):
            for inner in value:
                replace(inner)

    blocks = copy.deepcopy(blocks)
    for block in blocks:
        if block.get("type") == "tool_use":
            replace(block.get("input"))
    return blocks


def chunk(model, delta, finish=None):
    body = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(body)}\n\n"


def frames(model, blocks):
    out = [chunk(model, {"role": "assistant", "content": ""})]
    calls = [b for b in blocks if b.get("type") == "tool_use"]
    for block in blocks:
        if block.get("type") == "text" and block.get("text"):
            out.append(chunk(model, {"content": block["text"]}))
    for index, call in enumerate(calls):
        out.append(chunk(model, {"tool_calls": [{"index": index, "id": call.get("id", f"call_{index}"), "type": "function",
                                                  "function": {"name": call["name"], "arguments": json.dumps(call.get("input", {}))}}]}))
    out.append(chunk(model, {}, "tool_calls" if calls else "stop"))
    usage = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [],
             "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}}
    out.append(f"data: {json.dumps(usage)}\n\n")
    out.append("data: [DONE]\n\n")
    return "".join(out).encode()


def handler_for(script, log):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            parts = self.path.strip("/").split("/")
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            if len(parts) != 4 or parts[0] not in ROLES or parts[1:] != ["v1", "chat", "completions"]:
                return self.fail(404, f"no such endpoint {self.path}; use /<role>/v1/chat/completions")
            try:
                body = json.loads(raw)
            except ValueError:
                return self.fail(400, "the request body is not JSON")
            messages = body.get("messages") or []
            turn = sum(1 for m in messages if m.get("role") == "assistant")
            first_user = next((text_of(m.get("content")) for m in messages if m.get("role") == "user"), "")
            blocks, problem = script.turn(parts[0], first_user, turn)
            log(f"{parts[0]} turn {turn}: {problem or ', '.join(b.get('name', b.get('type', '?')) for b in blocks)}")
            if problem:
                return self.fail(400, problem)
            payload = frames(body.get("model", "fake"), with_real_commits(blocks, messages))
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def fail(self, status, message):
            payload = json.dumps({"error": {"message": f"fake model: {message}", "type": "invalid_request_error"}}).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_):
            pass

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recording", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--lifetime", type=float, default=900, help="seconds before it stops by itself")
    parser.add_argument("--log", help="append one line per request here")
    parser.add_argument("--watch-stdin", action="store_true", help="stop when standard input closes")
    args = parser.parse_args()
    script = Script(load_recording(args.recording))
    if not any(script.by_role.values()):
        sys.exit(f"fake model: {args.recording} holds no assistant turns")
    log_file = open(args.log, "a", encoding="utf-8") if args.log else None

    def log(line):
        if log_file:
            log_file.write(line + "\n")
            log_file.flush()

    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(script, log))
    server.daemon_threads = True
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)

    def stop_when_stdin_closes():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except OSError:
            pass
        server.shutdown()

    if args.watch_stdin:
        threading.Thread(target=stop_when_stdin_closes, daemon=True).start()
    timer = threading.Timer(args.lifetime, server.shutdown)
    timer.daemon = True
    timer.start()
    server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
