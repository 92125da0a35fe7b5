"""The real Google Gemini CLI (pinned in gemini-cli/package.json) runs a shell-tool task through
the gateway's native Gemini surface: it streams `POST /v1beta/models/MODEL:streamGenerateContent`,
executes the `run_shell_command` call it gets, sends the functionResponse back and prints the
final answer.

The CLI comes from `npm install` in tests/e2e/gemini-cli; GEMINI_CLI_JS overrides the path of its
bundle (run with `node`). Without it these tests are skipped locally, but fail under CI.
"""

import base64
import glob
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import KEYS

HERE = Path(__file__).resolve().parent
GEMINI_CLI_JS = os.environ.get(
    "GEMINI_CLI_JS",
    str(HERE / "gemini-cli" / "node_modules" / "@google" / "gemini-cli" / "bundle" / "gemini.js"),
)
PROMPT = "Please run `echo gateway-e2e-ok` with the shell tool and report what it printed"
COMMAND = "echo gateway-e2e-ok"
SENTINEL = "skip_thought_signature_validator"
# API-key auth (without it headless mode exits 41, "Invalid auth method selected."), no telemetry.
SETTINGS = {"security": {"auth": {"selectedType": "gemini-api-key"}},
            "privacy": {"usageStatisticsEnabled": False}}


def _in_ci():
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="module")
def gemini_cli():
    node = shutil.which("node")
    if node and os.path.isfile(GEMINI_CLI_JS):
        return [node, GEMINI_CLI_JS]
    reason = (f"Gemini CLI not runnable (node={node}, bundle {GEMINI_CLI_JS}): run "
              "`npm install --no-audit --no-fund` in tests/e2e/gemini-cli")
    if _in_ci():
        pytest.fail(reason + " (CI is set: a missing CLI is a failure, not a skip)")
    pytest.skip(reason)


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
    argv = [*gemini_cli, "--yolo", "--skip-trust", "-m", model, "-p", PROMPT]
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


def generate_calls(mock):
    return [r for r in mock.requests() if r["action"] in ("generateContent", "streamGenerateContent")]


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
    answers = []
    for call in calls:
        parts = call["body"]["contents"][-1]["parts"]
        responses = [p["functionResponse"] for p in parts if "functionResponse" in p]
        if any(r["name"] == "run_shell_command" for r in responses):
            answers.append((call, responses))
    assert answers, "no functionResponse for run_shell_command reached the model\n" + ctx
    call, responses = answers[-1]
    assert "gateway-e2e-ok" in json.dumps(responses), ctx
    # The model turn before it replays the run_shell_command call.
    replayed = call["body"]["contents"][-2]
    assert replayed["role"] == "model", ctx
    function_calls = [p for p in replayed["parts"] if "functionCall" in p]
    assert function_calls, f"the model turn before the functionResponse has no functionCall: {replayed}"
    assert function_calls[0]["functionCall"]["name"] == "run_shell_command", replayed
    assert function_calls[0]["functionCall"]["args"]["command"] == COMMAND, replayed
    return function_calls[0]


def test_gemini_cli_runs_shell_command_through_the_gateway(gemini_cli, gateway, mock):
    run = run_gemini(gemini_cli, gateway.url, gateway, mock, "gemini-2.5-flash")
    assert_completed(run)
    assert_tool_round_trip_upstream(run, "gemini-2.5-flash")


# Not gemini-3-pro-preview: Gemini CLI 0.61 resolves `-m gemini-3-pro-preview` to
# gemini-3.1-pro-preview, a model the mock does not serve.
def test_gemini_cli_on_gemini3_replays_thought_signatures(gemini_cli, gateway, mock):
    run = run_gemini(gemini_cli, gateway.url, gateway, mock, "gemini-3-flash-preview")
    assert_completed(run)
    replayed_call = assert_tool_round_trip_upstream(run, "gemini-3-flash-preview")
    # The CLI sends back the signature it received, or the "skip" sentinel when none came: a
    # sentinel here means the gateway lost the signature on the way to the CLI.
    signature = replayed_call.get("thoughtSignature")
    assert signature, f"the replayed functionCall carries no thoughtSignature: {replayed_call}"
    assert signature != SENTINEL
    assert base64.b64decode(signature, validate=False) != SENTINEL.encode()
