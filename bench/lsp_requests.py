#!/usr/bin/env python3
"""Latency of completion and code lens requests of `missions lsp` (stdlib only).

    python3 gen_mission.py --assertions 10000 --out /tmp/mission-10000   # shared/bench
    python3 bench/lsp_requests.py --server "target/release/missions lsp" \
        --mission /tmp/mission-10000 --runs 30

shared/bench/lspbench.py measures open, change, hover and definition; this adds the request
kinds of issue 4 beside it with the same sequence (spawn, initialize, initialized, didOpen of
features.json then the contract, wait for both first diagnostics) and the same percentile
(linear interpolation). Each request is timed twice from the moment it is written:
  header_ms   until the response's Content-Length header arrives: the server has computed
              and serialised the answer (tower-lsp writes whole frames);
  decoded_ms  until the body is read and decoded by this client (adds transfer and
              Python's json.loads, which dominate for large answers).
Requests: completion right after `"fulfills": [` of the middle feature, completion inside an
assertion id string there, completion of a `status` value (six items: the fixed cost of
a request), code lens of the contract, code lens of features.json.
"""
import argparse
import json
import os
import queue
import shlex
import subprocess
import sys
import threading
import time
from urllib.parse import quote


def uri_of(path):
    return "file://" + quote(os.path.abspath(path), safe="/:@-._~!$&'()*+,;=")


def pct(values, p):
    v = sorted(values)
    if len(v) == 1:
        return v[0]
    k = (len(v) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def stats(values):
    r = lambda x: round(x, 2)
    return {"p50": r(pct(values, 50)), "p90": r(pct(values, 90)), "max": r(max(values)), "min": r(min(values)), "n": len(values)}


def utf16_len(s):
    return len(s.encode("utf-16-le")) // 2


class Server:
    def __init__(self, command):
        self.proc = subprocess.Popen(shlex.split(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
        self.messages = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        out = self.proc.stdout
        while True:
            length = None
            header_t = None
            while True:
                line = out.readline()
                if not line:
                    return
                if header_t is None:
                    header_t = time.perf_counter()
                line = line.strip()
                if not line:
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = b""
            while len(body) < length:
                chunk = out.read(length - len(body))
                if not chunk:
                    return
                body += chunk
            message = json.loads(body)
            self.messages.put((header_t, time.perf_counter(), len(body), message))

    def send(self, message):
        message["jsonrpc"] = "2.0"
        body = json.dumps(message).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def wait(self, wanted, timeout=60):
        deadline = time.perf_counter() + timeout
        while True:
            header_t, done_t, size, message = self.messages.get(timeout=max(0.01, deadline - time.perf_counter()))
            if wanted(message):
                return header_t, done_t, size, message

    def request(self, method, params):
        self.next_id += 1
        rid = self.next_id
        start = time.perf_counter()
        message = {"id": rid, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        header_t, done_t, size, message = self.wait(lambda m: m.get("id") == rid and "method" not in m)
        if "error" in message:
            raise RuntimeError("%s failed: %s" % (method, message["error"]))
        return (header_t - start) * 1000, (done_t - start) * 1000, size, message["result"]


def position_of(text, offset):
    line = text.count("\n", 0, offset)
    start = text.rfind("\n", 0, offset) + 1
    return {"line": line, "character": utf16_len(text[start:offset])}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", required=True)
    ap.add_argument("--mission", required=True, help="folder with features.json and validation-contract.md")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    features_path = os.path.join(args.mission, "features.json")
    contract_path = os.path.join(args.mission, "validation-contract.md")
    features = open(features_path, encoding="utf-8").read()
    contract = open(contract_path, encoding="utf-8").read()
    fu, cu = uri_of(features_path), uri_of(contract_path)

    marker = '"fulfills": ['
    occurrences = [i for i in range(len(features)) if features.startswith(marker, i)] if len(features) < 50_000_000 else []
    middle = occurrences[len(occurrences) // 2] + len(marker)
    item = features.index('"VAL-', middle)
    status = features.index('"status": "', middle) + len('"status": "') + 1
    positions = {"after_bracket": position_of(features, middle), "inside_id": position_of(features, item + 6), "status": position_of(features, status)}

    server = Server(args.server)
    root = uri_of(args.mission)
    server.request("initialize", {"processId": os.getpid(), "rootUri": root, "capabilities": {"general": {"positionEncodings": ["utf-16"]}}, "workspaceFolders": None})
    server.send({"method": "initialized", "params": {}})
    server.send({"method": "textDocument/didOpen", "params": {"textDocument": {"uri": fu, "languageId": "json", "version": 1, "text": features}}})
    server.send({"method": "textDocument/didOpen", "params": {"textDocument": {"uri": cu, "languageId": "markdown", "version": 1, "text": contract}}})
    server.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == cu and m["params"].get("version") == 1)

    kinds = {
        "completion_after_bracket": ("textDocument/completion", {"textDocument": {"uri": fu}, "position": positions["after_bracket"]}),
        "completion_inside_id": ("textDocument/completion", {"textDocument": {"uri": fu}, "position": positions["inside_id"]}),
        # Six items: the cost of a completion request itself, for comparison.
        "completion_status_value": ("textDocument/completion", {"textDocument": {"uri": fu}, "position": positions["status"]}),
        "code_lens_contract": ("textDocument/codeLens", {"textDocument": {"uri": cu}}),
        "code_lens_features": ("textDocument/codeLens", {"textDocument": {"uri": fu}}),
    }
    # codeLens/resolve of one lens in the middle of the contract (servers that resolve lenses).
    lenses = server.request("textDocument/codeLens", {"textDocument": {"uri": cu}})[3]
    if lenses and lenses[len(lenses) // 2].get("command") is None:
        kinds["code_lens_resolve"] = ("codeLens/resolve", lenses[len(lenses) // 2])
    summary = {"server": args.server, "mission": args.mission, "runs": args.runs, "assertions": contract.count("\n### VAL-") + contract.startswith("### VAL-")}
    for name, (method, params) in kinds.items():
        header, decoded, sizes, counts = [], [], [], []
        for i in range(args.warmup + args.runs):
            h, d, size, result = server.request(method, params)
            if i >= args.warmup:
                header.append(h)
                decoded.append(d)
                sizes.append(size)
                items = result.get("items", []) if isinstance(result, dict) else (result or [])
                counts.append(len(items))
        summary[name] = {"header_ms": stats(header), "decoded_ms": stats(decoded), "bytes": sizes[-1], "items": counts[-1]}
    server.request("shutdown", None)
    server.send({"method": "exit"})
    try:
        server.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.proc.kill()
    text = json.dumps(summary, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
