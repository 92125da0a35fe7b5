"""The real OpenAI Codex CLI (pinned in codex/package.json) runs a shell-tool task through the
gateway's Responses API, over HTTP (`POST /v1/responses`) and over the Responses WebSocket: it
executes the `exec_command` call it gets, sends the `function_call_output` back and prints the
final answer.

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

from agents import (CODEX_BIN, CODEX_INSTALL, OFFLINE, assert_real_signature,
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


def run_codex(codex, base_url, gateway, mock, model, provider_extra="", env_extra=None,
              keep_home=False, home=None, resume=None):
    """Runs `codex exec` in a fresh HOME / CODEX_HOME and working folder (or, with `home` and
    `resume`, `codex exec resume --last RESUME` in an earlier run's); returns a Run whose
    `calls` are the upstream generate calls the mock recorded during it."""
    root = home or tempfile.mkdtemp(prefix="codex-e2e-")
    home_dir = Path(root, "home")
    work = Path(root, "work")
    codex_home = home_dir / ".codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    work.mkdir(exist_ok=True)
    (codex_home / "config.toml").write_text(_config(base_url, provider_extra))
    # A clean environment: nothing of the caller's (e.g. a real OPENAI_API_KEY) leaks in.
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home_dir),
        "CODEX_HOME": str(codex_home),
        "LANG": "C.UTF-8",
        "GW_KEY": "client-key-not-a-pool-key",
        **(env_extra or {}),
    }
    argv = [codex, "exec", *OFFLINE, "--dangerously-bypass-approvals-and-sandbox",
            "--skip-git-repo-check", "-m", model]
    argv += ["resume", "--last", resume] if resume else [PROMPT]
    started = time.monotonic()
    try:
        try:
            proc = subprocess.run(argv, cwd=work, env=env, stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=120)
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"codex timed out; stdout={e.stdout!r} stderr={e.stderr!r}\n"
                        + "\n".join(gateway.lines[-30:]))
    finally:
        if not (keep_home or home):
            shutil.rmtree(root, ignore_errors=True)
    run = Run(proc, time.monotonic() - started, gateway, mock)
    run.home = root
    return run


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


def test_codex_over_a_websocket_continues_with_previous_response_id(codex, gateway, mock):
    """Codex with `supports_websockets = true` (as the README's Codex block sets it) does two
    tool-using turns (`exec`, then `exec resume --last`) over the Responses WebSocket: a warm-up
    (`generate: false`), then each step sends only its new input with `previous_response_id`,
    and it never falls back to HTTPS."""
    seen = len(gateway.lines)
    extra = "supports_websockets = true\n"
    log = {"RUST_LOG": "codex_api=info,codex_core=info"}
    first = run_codex(codex, gateway.url, gateway, mock, "gemini-3.8-flash",
                      provider_extra=extra, env_extra=log, keep_home=True)
    assert_completed(first)
    second = run_codex(codex, gateway.url, gateway, mock, "gemini-3.8-flash", provider_extra=extra,
                       env_extra=log, home=first.home, resume="Now run `echo gateway-e2e-ok` again")
    assert_completed(second)
    for run in (first, second):
        assert "successfully connected to Responses WebSocket" in run.stderr, run.context()
        assert "Falling back from WebSockets" not in run.stderr, run.context()
        assert "falling back to HTTP" not in run.stderr, run.context()
    creates = [l for l in gateway.lines[seen:] if "response.create" in l]
    continued = [l for l in creates if "previous_response_id=true" in l]
    # Each run: a warm-up, the turn, the turn's tool output; all but the warm-ups continue.
    assert len(creates) >= 6 and len(continued) >= 4, "\n".join(creates)
    assert_tool_round_trip_upstream(second, "gemini-3.8-flash")
    shutil.rmtree(first.home, ignore_errors=True)
