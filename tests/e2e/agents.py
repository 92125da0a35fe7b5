"""What the agent-CLI end-to-end tests share (test_claude_code.py, test_codex_cli.py,
test_gemini_cli.py and test_quickstarts.py), kept in one place so the copies cannot drift: where
the pinned CLIs are, how a missing one is skipped locally but fails under CI, the upstream calls
the mock recorded, the check that a replayed functionCall carries a real thought signature, and a
recording proxy to put in front of the gateway.

Not a test module (its name does not start with `test_`); pytest puts tests/e2e on sys.path, so
the tests `from agents import ...`.
"""

import base64
import json
import http.client
import http.server
import os
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

HERE = Path(__file__).resolve().parent

# The pinned CLIs, from `npm install` in their folders here (scripts/test does it); each variable
# overrides its path.
CLAUDE_BIN = os.environ.get(
    "CLAUDE_BIN",
    str(HERE / "claude-code" / "node_modules" / "@anthropic-ai" / "claude-code-linux-x64" / "claude"),
)
CODEX_BIN = os.environ.get(
    "CODEX_BIN",
    str(HERE / "codex" / "node_modules" / "@openai" / "codex-linux-x64" / "vendor"
        / "x86_64-unknown-linux-musl" / "bin" / "codex"),
)
# A bundle run with `node`.
GEMINI_CLI_JS = os.environ.get(
    "GEMINI_CLI_JS",
    str(HERE / "gemini-cli" / "node_modules" / "@google" / "gemini-cli" / "bundle" / "gemini.js"),
)
# opencode's native binary (its platform package), and Qwen Code's bundle (run with `node`).
OPENCODE_BIN = os.environ.get(
    "OPENCODE_BIN",
    str(HERE / "opencode" / "node_modules" / "opencode-linux-x64" / "bin" / "opencode"),
)
QWEN_JS = os.environ.get(
    "QWEN_JS",
    str(HERE / "qwen-code" / "node_modules" / "@qwen-code" / "qwen-code" / "cli.js"),
)
OPENCODE_INSTALL = "run `npm install --no-audit --no-fund` in tests/e2e/opencode (scripts/test does it)"
QWEN_INSTALL = "run `npm install --no-audit --no-fund` in tests/e2e/qwen-code (scripts/test does it)"
CLAUDE_INSTALL = "run `npm install --no-audit --no-fund` in tests/e2e/claude-code (scripts/test does it)"
CODEX_INSTALL = "run `npm install --no-audit --no-fund` in tests/e2e/codex (scripts/test does it)"
GEMINI_INSTALL = "run `npm install --no-audit --no-fund` in tests/e2e/gemini-cli (scripts/test does it)"

# Keeps Codex from calling hosts outside this machine (analytics, plugin and app catalogues).
OFFLINE = ["-c", "analytics.enabled=false", "--disable", "plugins", "--disable", "remote_plugin",
           "--disable", "apps"]

# The thought signature that tells Gemini to skip validation: what a replayed call carries when
# its real signature was lost.
SENTINEL = "skip_thought_signature_validator"


def in_ci():
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_cli(path, what, install_hint, *, executable=True):
    """Returns `path` if it is a file (an executable one unless `executable` is false); otherwise
    skips the test, or fails it when CI is set. A `path` of None (e.g. `shutil.which` found
    nothing) is missing too."""
    if path and os.path.isfile(path) and (not executable or os.access(path, os.X_OK)):
        return path
    reason = f"{what} not found {f'at {path}' if path else 'on PATH'}: {install_hint}"
    if in_ci():
        pytest.fail(reason + " (CI is set: a missing CLI is a failure, not a skip)")
    pytest.skip(reason)


def generate_calls(mock):
    return [r for r in mock.requests() if r["action"] in ("generateContent", "streamGenerateContent")]


def assert_real_signature(call):
    """The replayed functionCall part `call` carries a thought signature, and not the "skip"
    sentinel (neither as is nor base64-encoded)."""
    signature = call.get("thoughtSignature")
    assert signature, f"the replayed functionCall carries no thoughtSignature: {call}"
    assert signature != SENTINEL
    assert base64.b64decode(signature, validate=False) != SENTINEL.encode()


def replayed_tool_call(calls, ctx, tool, marker="gateway-e2e-ok"):
    """The last upstream call that carried `tool`'s output (which must hold `marker`) back to
    the model; returns the functionCall part of the model turn before it, which must replay a
    call of `tool`."""
    answers = []
    for call in calls:
        parts = call["body"]["contents"][-1]["parts"]
        responses = [p["functionResponse"] for p in parts if "functionResponse" in p]
        if any(r["name"] == tool for r in responses):
            answers.append((call, responses))
    assert answers, f"no functionResponse for {tool} reached the model\n" + ctx
    call, responses = answers[-1]
    assert marker in json.dumps(responses), ctx
    replayed = call["body"]["contents"][-2]
    assert replayed["role"] == "model", ctx
    function_calls = [p for p in replayed["parts"] if "functionCall" in p]
    assert function_calls, f"the model turn before the functionResponse has no functionCall: {replayed}"
    assert function_calls[0]["functionCall"]["name"] == tool, replayed
    return function_calls[0]


class RecordingProxy:
    """An HTTP/1.1 proxy in front of the gateway that records each request's method, path and
    headers and the status it got, and relays answers (SSE included) chunk by chunk. A WebSocket
    handshake is relayed with its Upgrade headers (a 101 answer is not relayed further)."""

    HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
                  "proxy-connection", "content-length", "host"}

    def __init__(self, target):
        self.seen = []
        target = urlsplit(target)
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _body(self):
                if self.headers.get("transfer-encoding", "").lower() == "chunked":
                    data = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return data
                        data += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("content-length") or 0))

            def _relay(self):
                body = self._body()
                record = {"method": self.command, "path": self.path, "status": None,
                          "headers": {k.lower(): v for k, v in self.headers.items()}}
                outer.seen.append(record)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in outer.HOP_BY_HOP}
                upgrade = self.headers.get("upgrade")
                if upgrade:
                    headers["Connection"] = "Upgrade"
                    headers["Upgrade"] = upgrade
                if body or self.command in ("POST", "PUT"):
                    headers["content-length"] = str(len(body))
                upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
                try:
                    upstream.request(self.command, self.path, body=body or None, headers=headers)
                    resp = upstream.getresponse()
                    record["status"] = resp.status
                    if resp.status == 101:
                        # Not a WebSocket relay: tell the client so instead of hanging.
                        self.send_error(502, "the gateway accepted a WebSocket; this proxy cannot relay it")
                        self.close_connection = True
                        return
                    self.send_response(resp.status, resp.reason)
                    for k, v in resp.getheaders():
                        if k.lower() not in outer.HOP_BY_HOP:
                            self.send_header(k, v)
                    length = resp.getheader("content-length")
                    if length is not None:  # e.g. a refused handshake: relayed as it came
                        self.send_header("content-length", length)
                        self.end_headers()
                        self.wfile.write(resp.read())
                        self.wfile.flush()
                        return
                    self.send_header("transfer-encoding", "chunked")
                    self.end_headers()
                    while True:
                        data = resp.read1(65536)
                        if not data:
                            break
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client hung up (e.g. after a failed handshake)
                finally:
                    upstream.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _relay

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
