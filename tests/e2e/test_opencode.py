"""The real opencode CLI (pinned in opencode/package.json) on its built-in `openai` provider, the
Responses API, pointed at the gateway as the README says: it sends `store: false` and the whole
conversation each step (its reasoning items included), so it needs nothing stored, and it asks
for `gpt-5.4-nano` for session titles, which a gateway with OPENAI_MODEL_MAP=true serves with
SMALL_MODEL. (The README's opencode.json itself, on its three providers, is run by
test_quickstarts.py.)

The CLI comes from `npm install` in tests/e2e/opencode (scripts/test does it); OPENCODE_BIN
overrides the path of its native binary. Without it these tests are skipped locally, but fail
under CI.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from agents import (OPENCODE_BIN, OPENCODE_INSTALL, RecordingProxy, assert_real_signature,
                    generate_calls, replayed_tool_call, require_cli)
from conftest import KEYS, start_gateway

# opencode re-quotes arguments with spaces: the prompt goes on stdin.
PROMPT = "Please run `echo gateway-e2e-ok` with the shell tool and report what it printed"
COMMAND = "echo gateway-e2e-ok"
MODEL = "gemini-3.8-flash"
# Headless and offline: no models.dev catalogue, no update check, and no background
# `npm install @opencode-ai/plugin` into its config folder (it logs the failure and goes on).
OFFLINE_ENV = {"OPENCODE_DISABLE_MODELS_FETCH": "1", "OPENCODE_DISABLE_AUTOUPDATE": "1",
               "npm_config_offline": "true"}


@pytest.fixture(scope="module")
def opencode():
    return require_cli(OPENCODE_BIN, "opencode CLI", OPENCODE_INSTALL)


class Run:
    def __init__(self, proc, elapsed, gateway, mock):
        self.returncode = proc.returncode
        self.stdout = proc.stdout.decode(errors="replace")
        self.stderr = proc.stderr.decode(errors="replace")
        self.elapsed = elapsed
        self.gateway = gateway
        self.calls = generate_calls(mock)
        self.events = []
        for line in self.stdout.splitlines():
            try:
                self.events.append(json.loads(line))
            except ValueError:
                pass

    def context(self):
        upstream = [(c["model"], c["action"], c["status"]) for c in self.calls]
        return (f"exit={self.returncode} after {self.elapsed:.1f}s\nstdout={self.stdout[-6000:]}\n"
                f"stderr={self.stderr[-6000:]}\nupstream calls={upstream}\n"
                "gateway log tail:\n" + "\n".join(self.gateway.lines[-30:]))


def run_opencode(opencode, gateway, mock, config, model):
    """Runs `opencode run -m model` with `config` as ~/.config/opencode/opencode.json, in a fresh
    HOME and working folder; returns a Run whose `calls` are the upstream generate calls the mock
    recorded during it."""
    root = tempfile.mkdtemp(prefix="opencode-e2e-")
    home, work = Path(root, "home"), Path(root, "work")
    (home / ".config" / "opencode").mkdir(parents=True)
    work.mkdir()
    (home / ".config" / "opencode" / "opencode.json").write_text(json.dumps(config))
    # A clean environment: nothing of the caller's (e.g. a real OPENAI_API_KEY) leaks in.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8",
           **OFFLINE_ENV}
    argv = [opencode, "run", "--auto", "--format", "json", "--print-logs", "-m", model]
    started = time.monotonic()
    try:
        try:
            proc = subprocess.run(argv, input=PROMPT.encode(), cwd=work, env=env,
                                  capture_output=True, timeout=120)
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"opencode timed out; stdout={e.stdout!r} stderr={e.stderr!r}\n"
                        + "\n".join(gateway.lines[-30:]))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return Run(proc, time.monotonic() - started, gateway, mock)


def test_opencode_builtin_openai_provider_needs_no_stored_response_and_titles_with_the_openai_model_map(
        opencode, mock_server, mock):
    with start_gateway(mock_server, OPENAI_MODEL_MAP="true", RESPONSES_STORE_HOURS="0") as gateway, \
            RecordingProxy(gateway.url) as proxy:
        config = {"provider": {"openai": {"options": {"baseURL": proxy.url + "/v1", "apiKey": "anything"},
                                          "models": {MODEL: {}}}}}
        run = run_opencode(opencode, gateway, mock, config, f"openai/{MODEL}")
        small = gateway.status()["models"]["small_model"]["model"]
    ctx = run.context()
    assert run.returncode == 0, ctx
    assert not [e for e in run.events if e.get("type") == "error"], ctx
    texts = [e["part"]["text"] for e in run.events if e.get("type") == "text"]
    assert texts and "gateway-e2e-ok" in texts[-1], ctx
    # The title request (gpt-5.4-nano) was served by the small model, no request was refused.
    assert "gpt-5.4-nano" in run.stderr, "opencode no longer asks for gpt-5.4-nano\n" + ctx
    responses = [r for r in proxy.seen if r["path"] == "/v1/responses"]
    assert len(responses) >= 3 and all(r["status"] == 200 for r in responses), proxy.seen
    calls = run.calls
    assert {c["model"] for c in calls} == {MODEL, small}, ctx
    assert all(c["status"] == 200 and c["api_key"] in KEYS for c in calls), ctx
    # With nothing stored, the call came back with its real signature from the request itself.
    replayed = replayed_tool_call(calls, ctx, "bash")
    assert replayed["functionCall"]["args"] == {"command": COMMAND}, replayed
    assert_real_signature(replayed)
