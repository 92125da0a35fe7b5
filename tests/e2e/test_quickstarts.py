"""The README's quick starts, run as written: each block marked `<!-- quickstart:NAME -->` in
README.md is taken from the README itself (only the port of `http://127.0.0.1:8082` is changed
to the test gateway's), so the README and what works cannot drift apart.

Shell blocks run under `bash` in an empty HOME and working folder. The agent CLIs they name
(`claude`, `codex`, `gemini`, `opencode`, `qwen`) are small wrappers around the pinned real CLIs
that add only what a headless test needs (a prompt, non-interactive flags, no telemetry, no
fetches from outside hosts); the variables, files and model names are the README's. Python
blocks run in the test venv with the pinned SDKs. The agents' tool turns must reach Gemini with
the thought signature it issued.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from agents import (CLAUDE_BIN, CLAUDE_INSTALL, CODEX_BIN, CODEX_INSTALL, GEMINI_CLI_JS, GEMINI_INSTALL,
                    OFFLINE, OPENCODE_BIN, OPENCODE_INSTALL, QWEN_INSTALL, QWEN_JS, RecordingProxy,
                    assert_real_signature, generate_calls, replayed_tool_call, require_cli)

README = Path(__file__).resolve().parents[2] / "README.md"
README_URL = "http://127.0.0.1:8082"
PROMPT = "Please run `echo quickstart-ok` with the shell tool and report what it printed"


def block(name):
    """The fenced block after `<!-- quickstart:NAME -->` in the README."""
    text = README.read_text()
    m = re.search(r"<!-- quickstart:" + re.escape(name) + r" -->\s*```[a-z]*\n(.*?)```", text, re.S)
    assert m, f"README.md has no quickstart:{name} block"
    return m.group(1)


def with_gateway(text, gateway):
    assert README_URL in text, text
    return text.replace(README_URL, gateway.url)


def wrappers(root):
    """A bin folder whose `claude`, `codex` and `gemini` run the pinned CLIs headless."""
    bin_dir = Path(root, "bin")
    bin_dir.mkdir()
    scripts = {
        "claude": f'exec "{CLAUDE_BIN}" "$@" -p "$QUICKSTART_PROMPT" --allowedTools Bash --output-format json',
        "codex": (f'exec "{CODEX_BIN}" exec {" ".join(OFFLINE)} -c check_for_update_on_startup=false '
                  '--dangerously-bypass-approvals-and-sandbox --skip-git-repo-check "$@" "$QUICKSTART_PROMPT" < /dev/null'),
        "gemini": f'exec node "{GEMINI_CLI_JS}" --yolo --skip-trust "$@" -p "$QUICKSTART_PROMPT" < /dev/null',
        # opencode reads the prompt from stdin (it re-quotes arguments with spaces). Offline: no
        # models.dev catalogue, and no background `npm install @opencode-ai/plugin` into its config
        # folder (it logs the failure and goes on).
        "opencode": (f'echo "$QUICKSTART_PROMPT" | OPENCODE_DISABLE_MODELS_FETCH=1 npm_config_offline=true '
                     f'exec "{OPENCODE_BIN}" "$@"'),
        "qwen": (f'QWEN_CODE_SUPPRESS_YOLO_WARNING=1 exec node "{QWEN_JS}" --yolo "$@" '
                 '"$QUICKSTART_PROMPT" < /dev/null'),
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text("#!/bin/sh\n" + body + "\n")
        path.chmod(0o755)
    return bin_dir


def run_shell(script, gateway, files=None, work_files=None):
    """Runs `script` under bash in a fresh HOME (with `files` written into it first, and
    `work_files` into its working folder)."""
    root = tempfile.mkdtemp(prefix="quickstart-")
    home, work = Path(root, "home"), Path(root, "work")
    home.mkdir()
    work.mkdir()
    for base, written in ((home, files), (work, work_files)):
        for rel, content in (written or {}).items():
            Path(base, rel).parent.mkdir(parents=True, exist_ok=True)
            Path(base, rel).write_text(content)
    env = {
        "PATH": f"{wrappers(root)}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TMPDIR": root,
        "QUICKSTART_PROMPT": PROMPT,
    }
    try:
        proc = subprocess.run(["bash", "-e", "-c", script], cwd=work, env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=150)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    out = proc.stdout.decode(errors="replace")
    context = (f"exit={proc.returncode}\nstdout={out[-4000:]}\nstderr={proc.stderr.decode(errors='replace')[-4000:]}\n"
               "gateway log tail:\n" + "\n".join(gateway.lines[-20:]))
    assert proc.returncode == 0, context
    return out, context


def assert_shell_round_trip(mock, context):
    calls = generate_calls(mock)
    assert calls and all(c["status"] == 200 for c in calls), context
    answered = [c for c in calls
                if any("functionResponse" in p and "quickstart-ok" in json.dumps(p)
                       for p in c["body"]["contents"][-1]["parts"])]
    assert answered, "no tool result reached Gemini\n" + context
    return calls


def assert_replayed_with_its_signature(calls, context, tool, args):
    """The model turn before the tool's output replays the call as made (`args` among its
    arguments) with the thought signature Gemini issued."""
    replayed = replayed_tool_call(calls, context, tool, marker="quickstart-ok")
    assert args.items() <= replayed["functionCall"]["args"].items(), replayed
    assert_real_signature(replayed)


def test_claude_code_quick_start(gateway, mock):
    require_cli(CLAUDE_BIN, "the Claude Code CLI", CLAUDE_INSTALL)
    script = with_gateway(block("claude-code"), gateway)
    assert "ANTHROPIC_AUTH_TOKEN=" in script and "ANTHROPIC_API_KEY" not in script
    out, context = run_shell(script, gateway)
    result = json.loads(out.strip().splitlines()[-1])
    assert result["is_error"] is False, context
    assert "quickstart-ok" in result["result"], context
    calls = assert_shell_round_trip(mock, context)
    # No model settings: Claude's names follow the live catalog (the mock lists Google's aliases).
    assert {c["model"] for c in calls} <= {"gemini-pro-latest", "gemini-flash-latest"}, context


def test_claude_code_settings_json_quick_start(gateway, mock):
    require_cli(CLAUDE_BIN, "the Claude Code CLI", CLAUDE_INSTALL)
    settings = with_gateway(block("claude-code-settings"), gateway)
    json.loads(settings)
    onboarding = block("claude-code").splitlines()[0]
    # The settings file instead of exported variables; the onboarding line as in the README.
    out, context = run_shell(onboarding + "\nclaude\n", gateway, {".claude/settings.json": settings})
    assert "quickstart-ok" in json.loads(out.strip().splitlines()[-1])["result"], context
    assert_shell_round_trip(mock, context)


def test_codex_quick_start(gateway, mock):
    require_cli(CODEX_BIN, "the Codex CLI", CODEX_INSTALL)
    config = with_gateway(block("codex-config"), gateway)
    script = block("codex")
    out, context = run_shell(script, gateway, {".codex/config.toml": config})
    assert "quickstart-ok" in out, context
    calls = assert_shell_round_trip(mock, context)
    assert {c["model"] for c in calls} == {"gemini-3.1-pro-preview"}, context


def test_gemini_cli_quick_start(gateway, mock):
    require_cli(GEMINI_CLI_JS, "the Gemini CLI", GEMINI_INSTALL, executable=False)
    script = with_gateway(block("gemini-cli"), gateway)
    out, context = run_shell(script, gateway)
    assert "quickstart-ok" in out, context
    assert_shell_round_trip(mock, context)


@pytest.mark.parametrize("name", ["openai-python", "anthropic-python", "google-genai-python"])
def test_sdk_quick_starts(gateway, mock, name):
    code = with_gateway(block(name), gateway)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    out = proc.stdout.decode(errors="replace").strip()
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert "Mock reply" in out, out
    assert generate_calls(mock), "the quick start reached Gemini"


@pytest.mark.parametrize("provider", ["gateway", "gateway-openai", "gateway-google"])
def test_opencode_quick_start(gateway, mock, provider):
    """opencode completes a shell-tool turn on each provider of the README's opencode.json."""
    require_cli(OPENCODE_BIN, "opencode", OPENCODE_INSTALL)
    config = with_gateway(block("opencode-config"), gateway)
    json.loads(config)
    script = block("opencode").replace("-m gateway/", f"-m {provider}/")
    out, context = run_shell(script, gateway, work_files={"opencode.json": config})
    assert "quickstart-ok" in out, context
    calls = assert_shell_round_trip(mock, context)
    # Titles go to the small model, turns to the chosen one: no name the gateway does not know.
    assert {c["model"] for c in calls} <= {"gemini-3.8-flash", "gemini-3.5-flash-lite"}, context
    assert any(c["model"] == "gemini-3.5-flash-lite" for c in calls), "no title from small_model\n" + context
    assert_replayed_with_its_signature(calls, context, "bash", {"command": "echo quickstart-ok"})


@pytest.mark.parametrize("name", ["qwen-code", "qwen-code-anthropic", "qwen-code-gemini"])
def test_qwen_code_quick_starts(gateway, mock, name):
    """Qwen Code completes a shell-tool turn over OpenAI chat, Anthropic and the native API."""
    require_cli(QWEN_JS, "Qwen Code", QWEN_INSTALL, executable=False)
    settings_line = block("qwen-code").splitlines()[0]
    script = with_gateway(block(name), gateway)
    if name != "qwen-code":
        script = settings_line + "\n" + script
    out, context = run_shell(script, gateway)
    assert "quickstart-ok" in out, context
    calls = assert_shell_round_trip(mock, context)
    assert {c["model"] for c in calls} == {"gemini-3.8-flash"}, context
    assert_replayed_with_its_signature(calls, context, "run_shell_command",
                                       {"command": "echo quickstart-ok"})


def test_qwen_code_quick_start_over_the_responses_api(gateway, mock):
    """The README's `openai-responses` auth type with the `qwen-code` block's variables: Qwen Code
    posts /v1/responses (with `store: false` and the whole conversation, reasoning items
    included, so nothing stored is needed)."""
    require_cli(QWEN_JS, "Qwen Code", QWEN_INSTALL, executable=False)
    assert "(`openai-responses`)" in README.read_text()
    with RecordingProxy(gateway.url) as proxy:
        script = with_gateway(block("qwen-code"), proxy)
        assert script.count("--auth-type openai ") == 1, script
        out, context = run_shell(script.replace("--auth-type openai ", "--auth-type openai-responses "),
                                 gateway)
    assert "quickstart-ok" in out, context
    paths = [r["path"] for r in proxy.seen]
    assert paths and all(p == "/v1/responses" for p in paths), paths
    calls = assert_shell_round_trip(mock, context)
    assert_replayed_with_its_signature(calls, context, "run_shell_command",
                                       {"command": "echo quickstart-ok"})
