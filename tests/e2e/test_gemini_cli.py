"""The real Google Gemini CLI (pinned in gemini-cli/package.json) runs a shell-tool task through
the gateway's native Gemini surface: it streams `POST /v1beta/models/MODEL:streamGenerateContent`,
executes the `run_shell_command` call it gets, sends the functionResponse back and prints the
final answer.

The CLI comes from `npm install` in tests/e2e/gemini-cli; GEMINI_CLI_JS overrides the path of its
bundle (run with `node`). Without it these tests are skipped locally, but fail under CI.
"""

import glob
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from agents import (GEMINI_CLI_JS, GEMINI_INSTALL, assert_real_signature, generate_calls,
                    replayed_tool_call, require_cli)
from conftest import KEYS

PROMPT = "Please run `echo gateway-e2e-ok` with the shell tool and report what it printed"
COMMAND = "echo gateway-e2e-ok"
# API-key auth (without it headless mode exits 41, "Invalid auth method selected."), no telemetry.
SETTINGS = {"security": {"auth": {"selectedType": "gemini-api-key"}},
            "privacy": {"usageStatisticsEnabled": False}}


@pytest.fixture(scope="module")
def gemini_cli():
    bundle = require_cli(GEMINI_CLI_JS, "Gemini CLI bundle", GEMINI_INSTALL, executable=False)
    node = require_cli(shutil.which("node"), "node", "the Gemini CLI runs on Node.js")
    return [node, bundle]


class Run:
    def __init__(self, proc, elapsed, reports, gateway, mock):
        self.returncode = proc.returncode
        self.stdout = proc.stdout.decode(errors="replace")
        self.stderr = proc.stderr.decode(errors="replace")
        self.elapsed = elapsed
        self.reports = reports
        self.gateway = gateway
        self.calls = generate_calls(mock)

    def context(self):
        upstream = [(c["model"], c["action"], c["status"]) for c in self.calls]
        return (f"exit={self.returncode} after {self.elapsed:.1f}s\nstdout={self.stdout}\n"
                f"stderr={self.stderr[-6000:]}\nupstream calls={upstream}\n"
                + "".join(f"CLI error report:\n{r[-3000:]}\n" for r in self.reports)
                + "gateway log tail:\n" + "\n".join(self.gateway.lines[-30:]))


def run_gemini(gemini_cli, base_url, gateway, mock, model):
    """Runs `gemini -p` in a fresh HOME and working folder; returns a Run whose `calls` are the
    upstream generate calls the mock recorded during it."""
    root = tempfile.mkdtemp(prefix="gemini-cli-e2e-")
    home = Path(root, "home")
    work = Path(root, "work")
    tmp = Path(root, "tmp")  # the CLI writes its error reports (gemini-client-error-*.json) there
    (home / ".gemini").mkdir(parents=True)
    work.mkdir()
    tmp.mkdir()
    (home / ".gemini" / "settings.json").write_text(json.dumps(SETTINGS))
    # A clean environment: nothing of the caller's (a real GEMINI_API_KEY, GOOGLE_CLOUD_PROJECT,
    # CI, ...) leaks in. The client key is not a pool key: the gateway must use its own.
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "LANG": "C.UTF-8",
        "GOOGLE_GEMINI_BASE_URL": base_url,
        "GEMINI_API_KEY": "client-key-not-a-pool-key",
    }
    argv = [*gemini_cli, "--yolo", "--skip-trust", *(["-m", model] if model else []), "-p", PROMPT]
    started = time.monotonic()
    try:
        try:
            proc = subprocess.run(argv, cwd=work, env=env, stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=120)
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"gemini timed out; stdout={e.stdout!r} stderr={e.stderr!r}\n"
                        + "\n".join(gateway.lines[-30:]))
        reports = [Path(p).read_text(errors="replace")
                   for p in sorted(glob.glob(str(tmp / "**" / "gemini-client-error-*.json"), recursive=True))]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return Run(proc, time.monotonic() - started, reports, gateway, mock)


def assert_completed(run):
    assert run.returncode == 0, run.context()
    assert "gateway-e2e-ok" in run.stdout, run.context()


def assert_tool_round_trip_upstream(run, model):
    """The run_shell_command call and its output went through the gateway to `model`; returns
    the replayed functionCall part."""
    calls, ctx = run.calls, run.context()
    # With -m the CLI makes no routing-classifier call: every step streams on `model`.
    assert calls and all(c["model"] == model for c in calls), ctx
    assert all(c["action"] == "streamGenerateContent" for c in calls), ctx
    assert all(c["status"] == 200 for c in calls), ctx
    assert all(c["api_key"] in KEYS for c in calls), "an upstream call went out without a pool key"
    # The model turn before the command's output replays the run_shell_command call.
    replayed = replayed_tool_call(calls, ctx, "run_shell_command")
    assert replayed["functionCall"]["args"]["command"] == COMMAND, replayed
    return replayed


def test_gemini_cli_with_its_own_defaults_runs_through_the_gateway(gemini_cli, gateway, mock):
    # No -m: the CLI routes by itself (a classifier call on a Flash-Lite, the answer on a Flash);
    # every model it picks is live.
    run = run_gemini(gemini_cli, gateway.url, gateway, mock, None)
    assert_completed(run)
    calls = run.calls
    assert calls and all(c["status"] == 200 for c in calls), run.context()
    replayed_tool_call([c for c in calls if c["action"] == "streamGenerateContent"], run.context(),
                       "run_shell_command")


@pytest.mark.parametrize("model", ["gemini-3.8-flash", "gemini-3.1-pro-preview", "gemini-4-argon"])
def test_gemini_cli_on_todays_models_replays_thought_signatures(gemini_cli, gateway, mock, model):
    run = run_gemini(gemini_cli, gateway.url, gateway, mock, model)
    assert_completed(run)
    replayed_call = assert_tool_round_trip_upstream(run, model)
    # The CLI sends back the signature it received, or the "skip" sentinel when none came: a
    # sentinel here means the gateway lost the signature on the way to the CLI.
    assert_real_signature(replayed_call)
