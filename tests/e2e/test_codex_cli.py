"""The real OpenAI Codex CLI (pinned in codex/package.json) runs a shell-tool task through the
gateway's Responses API: it streams `POST /v1/responses`, executes the `exec_command` call it gets,
sends the `function_call_output` back and prints the final answer.

The CLI comes from `npm install` in tests/e2e/codex; CODEX_BIN overrides the path of its native
binary. Without it these tests are skipped locally, but fail under CI.
"""

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from agents import (CODEX_BIN, CODEX_INSTALL, OFFLINE, RecordingProxy, assert_real_signature,
                    generate_calls, replayed_tool_call, require_cli)
from conftest import KEYS

PROMPT = "Please run `echo gateway-e2e-ok` with the shell tool and report what it printed"
COMMAND = "echo gateway-e2e-ok"


@pytest.fixture(scope="module")
def codex():
    return require_cli(CODEX_BIN, "Codex CLI", CODEX_INSTALL)


def _config(base_url, provider_extra=""):
    return (
        'model_provider = "gw"\n'
        "check_for_update_on_startup = false\n"
        "[model_providers.gw]\n"
        'name = "gateway"\n'
        f'base_url = "{base_url}/v1"\n'
        'env_key = "GW_KEY"\n'
        'wire_api = "responses"\n'
        + provider_extra
    )


class Run:
    def __init__(self, proc, elapsed, gateway, mock):
        self.returncode = proc.returncode
        self.stdout = proc.stdout.decode(errors="replace")
        self.stderr = proc.stderr.decode(errors="replace")
        self.elapsed = elapsed
        self.gateway = gateway
        self.calls = generate_calls(mock)

    def context(self):
        upstream = [(c["model"], c["action"], c["status"]) for c in self.calls]
        return (f"exit={self.returncode} after {self.elapsed:.1f}s\nstdout={self.stdout}\n"
                f"stderr={self.stderr[-6000:]}\nupstream calls={upstream}\n"
                "gateway log tail:\n" + "\n".join(self.gateway.lines[-30:]))


def run_codex(codex, base_url, gateway, mock, model, provider_extra=""):
    """Runs `codex exec` in a fresh HOME / CODEX_HOME and working folder; returns a Run whose
    `calls` are the upstream generate calls the mock recorded during it."""
    root = tempfile.mkdtemp(prefix="codex-e2e-")
    home = Path(root, "home")
    work = Path(root, "work")
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True)
    work.mkdir()
    (codex_home / "config.toml").write_text(_config(base_url, provider_extra))
    # A clean environment: nothing of the caller's (e.g. a real OPENAI_API_KEY) leaks in.
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CODEX_HOME": str(codex_home),
        "LANG": "C.UTF-8",
        "GW_KEY": "client-key-not-a-pool-key",
    }
    argv = [codex, "exec", *OFFLINE, "--dangerously-bypass-approvals-and-sandbox",
            "--skip-git-repo-check", "-m", model, PROMPT]
    started = time.monotonic()
    try:
        try:
            proc = subprocess.run(argv, cwd=work, env=env, stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=120)
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"codex timed out; stdout={e.stdout!r} stderr={e.stderr!r}\n"
                        + "\n".join(gateway.lines[-30:]))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return Run(proc, time.monotonic() - started, gateway, mock)


def assert_completed(run):
    assert run.returncode == 0, run.context()
    assert "gateway-e2e-ok" in run.stdout, run.context()


def assert_tool_round_trip_upstream(run, model):
    """The exec_command call and its output went through the gateway to `model`; returns the
    replayed functionCall part."""
    calls, ctx = run.calls, run.context()
    assert calls and all(c["model"] == model for c in calls), ctx
    assert all(c["status"] == 200 for c in calls), ctx
    assert all(c["api_key"] in KEYS for c in calls), "an upstream call went out without a pool key"
    # Codex sends its session as `prompt_cache_key` (and `session-id`): one run, one pool key.
    keys = {c["api_key"] for c in calls}
    assert len(keys) == 1, f"one Codex session used {len(keys)} pool keys: " + str(
        [(c["model"], c["api_key"][-4:], c["status"]) for c in calls])
    # The model turn before the command's output replays the exec_command call as the model made it.
    replayed = replayed_tool_call(calls, ctx, "exec_command")
    assert replayed["functionCall"]["args"] == {"cmd": COMMAND}, replayed
    return replayed


def test_codex_runs_exec_command_through_the_gateway(codex, gateway, mock):
    run = run_codex(codex, gateway.url, gateway, mock, "gemini-3.8-flash")
    assert_completed(run)
    assert_tool_round_trip_upstream(run, "gemini-3.8-flash")


@pytest.mark.parametrize("model", ["gemini-3.1-pro-preview", "gemini-4-argon"])
def test_codex_on_todays_models_replays_thought_signatures(codex, gateway, mock, model):
    run = run_codex(codex, gateway.url, gateway, mock, model)
    assert_completed(run)
    replayed_call = assert_tool_round_trip_upstream(run, model)
    # Codex keeps no Gemini signatures: the gateway has to bring the issued one back (through the
    # reasoning item's encrypted_content or its own memory), not the "skip" sentinel.
    assert_real_signature(replayed_call)


@pytest.fixture(scope="module")
def websocket_run(codex, gateway, mock_server):
    """One Codex run with `supports_websockets = true` on the provider, through a RecordingProxy."""
    mock_server.reset()
    try:
        with RecordingProxy(gateway.url) as proxy:
            run = run_codex(codex, proxy.url, gateway, mock_server, "gemini-3.8-flash",
                            provider_extra="supports_websockets = true\n")
    finally:
        mock_server.reset()
    handshakes = [r for r in proxy.seen
                  if r["method"] == "GET" and r["headers"].get("upgrade", "").lower() == "websocket"]
    posts = [r for r in proxy.seen if r["method"] == "POST" and r["path"] == "/v1/responses"]
    return run, handshakes, posts


def test_codex_with_websockets_enabled_falls_back_to_http(websocket_run):
    run, handshakes, posts = websocket_run
    # Codex 0.169 honours the setting: it first tries a WebSocket on GET /v1/responses ...
    assert handshakes, "Codex never tried a WebSocket: does it still read supports_websockets?"
    assert all(h["path"] == "/v1/responses" and 400 <= (h["status"] or 0) < 500 for h in handshakes), handshakes
    # ... and, refused, completes the task over HTTP.
    assert_completed(run)
    assert len(posts) >= 2 and all(p["status"] == 200 for p in posts), posts
    assert_tool_round_trip_upstream(run, "gemini-3.8-flash")


def test_codex_websocket_refusal_makes_it_fall_back_at_once(websocket_run):
    run, handshakes, _ = websocket_run
    # Codex treats a refused handshake as a stream error and retries it with backoff
    # (stream_max_retries, 5 by default: ~6 s) unless the answer says "use HTTP" right away:
    # 426 Upgrade Required does, a 404 does not.
    assert len(handshakes) == 1, (
        f"Codex tried the WebSocket {len(handshakes)} times (statuses "
        f"{[h['status'] for h in handshakes]}) before falling back to HTTP, {run.elapsed:.1f}s "
        "for the whole run: the gateway's refusal of GET /v1/responses should make it fall back "
        "at once\n" + "\n".join(l for l in run.stderr.splitlines() if "ebSocket" in l or "Reconnecting" in l))
