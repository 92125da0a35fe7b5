"""The real Claude Code CLI (pinned in claude-code/package.json) runs a tool-using task through the
gateway: it streams `/v1/messages?beta=true`, executes the Bash tool_use it gets, sends the
tool_result back and prints the final answer.

The CLI comes from `npm install` in tests/e2e/claude-code (scripts/test does it); CLAUDE_BIN
overrides its path. Without it these tests are skipped locally, but fail under CI.
"""

import base64
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
import urllib.request

import pytest

from agents import (CLAUDE_BIN, CLAUDE_INSTALL, RecordingProxy, assert_real_signature, generate_calls,
                    require_cli)
from conftest import KEYS

PROMPT = "Please run `echo gateway-e2e-ok` with Bash"


@pytest.fixture(scope="module")
def claude():
    return require_cli(CLAUDE_BIN, "Claude Code CLI", CLAUDE_INSTALL)


def run_claude(claude, base_url, gateway, prompt=PROMPT, model=None, env_extra=None, inspect=None,
               tools="Bash", expect="gateway-e2e-ok", files=None):
    """Runs `claude -p` in a fresh HOME and working folder (with `--model model`, and `env_extra`
    in its environment), `tools` allowed; returns its parsed JSON result, which must contain
    `expect`. `files` (name → bytes) are written to the working folder first, whose path
    replaces `{work}` in the prompt. `inspect(home)` looks at the HOME it left before it is
    removed."""
    home = tempfile.mkdtemp(prefix="cc-home-")
    work = tempfile.mkdtemp(prefix="cc-work-")
    for name, data in (files or {}).items():
        Path(work, name).write_bytes(data)
    prompt = prompt.replace("{work}", work)
    try:
        # A clean environment: nothing of the caller's (e.g. a real ANTHROPIC_API_KEY) leaks in.
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": home,
            "LANG": "C.UTF-8",
            "ANTHROPIC_BASE_URL": base_url,
            "ANTHROPIC_API_KEY": "client-key-not-a-pool-key",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            **(env_extra or {}),
        }
        args = [claude, "-p", prompt, "--allowedTools", tools, "--output-format", "json"]
        if model:
            args += ["--model", model]
        try:
            proc = subprocess.run(
                args,
                cwd=work, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=120,
            )
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"claude timed out; stdout={e.stdout!r} stderr={e.stderr!r}\n"
                        + "\n".join(gateway.lines[-30:]))
        if inspect:
            inspect(home)
    finally:
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    out = proc.stdout.decode(errors="replace")
    context = (f"exit={proc.returncode}\nstdout={out}\nstderr={proc.stderr.decode(errors='replace')}\n"
               "gateway log tail:\n" + "\n".join(gateway.lines[-30:]))
    try:
        result = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        pytest.fail("claude did not print a JSON result\n" + context)
    assert proc.returncode == 0, context
    assert result["is_error"] is False, context
    assert result["num_turns"] >= 2, context
    assert expect in result["result"], context
    return result


def bash_answers(mock):
    """Upstream calls whose last turn answers a Bash function call."""
    out = []
    for call in generate_calls(mock):
        contents = call["body"]["contents"]
        responses = [p["functionResponse"] for p in contents[-1]["parts"] if "functionResponse" in p]
        if any(r["name"] == "Bash" for r in responses):
            out.append((call, responses))
    return out


def assert_tool_round_trip_upstream(mock, model):
    calls = generate_calls(mock)
    assert any(c["model"] == model for c in calls), [c["model"] for c in calls]
    assert all(c["status"] == 200 for c in calls), [(c["model"], c["status"]) for c in calls]
    answers = [(c, r) for c, r in bash_answers(mock) if c["model"] == model]
    assert answers, f"no functionResponse for Bash reached {model} upstream"
    call, responses = answers[-1]
    assert "gateway-e2e-ok" in json.dumps(responses)
    # The model turn before it replays the Bash call.
    replayed = call["body"]["contents"][-2]
    assert replayed["role"] == "model"
    function_calls = [p for p in replayed["parts"] if "functionCall" in p]
    assert function_calls and function_calls[0]["functionCall"]["name"] == "Bash"
    assert function_calls[0]["functionCall"]["args"]["command"] == "echo gateway-e2e-ok"
    return function_calls[0]


def test_claude_code_runs_bash_through_the_gateway(claude, gateway, mock):
    run_claude(claude, gateway.url, gateway)
    # With no model settings Claude Code's default (sonnet/opus) model maps to BIG_MODEL, which
    # follows the live catalog: Google's gemini-pro-latest.
    replayed_call = assert_tool_round_trip_upstream(mock, "gemini-pro-latest")
    assert_real_signature(replayed_call)


@pytest.mark.parametrize("model", ["gemini-3.8-flash", "gemini-3.1-pro-preview", "gemini-4-hydrogen"])
def test_claude_code_on_todays_models_replays_thought_signatures(claude, gateway, mock, model):
    run_claude(claude, gateway.url, gateway, model=model)
    replayed_call = assert_tool_round_trip_upstream(mock, model)
    # Gemini 3 and 4 reject a replayed call without its signature (the mock too, with a 400 that
    # would have failed the run); the gateway must replay the issued one, not the "skip" sentinel.
    assert_real_signature(replayed_call)


def test_claude_code_picker_lists_the_gateways_models_and_a_turn_on_one_works(claude, gateway, mock):
    """With gateway model discovery on, Claude Code asks `GET /v1/models` and caches the
    `claude-…` ids it keeps in ~/.claude/cache/gateway-models.json; one of them serves a turn."""
    cached = {}

    def read_cache(home):
        path = Path(home, ".claude", "cache", "gateway-models.json")
        cached["text"] = path.read_text() if path.exists() else None

    model = "claude-gemini-3.8-flash"
    run_claude(claude, gateway.url, gateway, model=model, inspect=read_cache,
               env_extra={"CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY": "1"})
    assert cached["text"], "Claude Code wrote no gateway-models.json"
    for expected in ("claude-sonnet-gateway", "claude-gemini-3.8-flash", "claude-gemini-3.1-pro-preview"):
        assert expected in cached["text"], cached["text"][:2000]
    assert_tool_round_trip_upstream(mock, "gemini-3.8-flash")


def test_claude_code_web_search_is_answered_by_google_search(claude, gateway, mock):
    """Claude Code's WebSearch tool (deferred: loaded with ToolSearch first) runs as a request of
    its own whose only tool is Anthropic's `web_search_20250305`: the gateway sends it to Gemini
    as Google Search and answers with the searches and sources Claude Code reads back into its
    tool result."""
    mock.reset()
    prompt = 'Please call ToolSearch for "select:WebSearch" and then call WebSearch for "rust 2027 edition"'
    run_claude(claude, gateway.url, gateway, prompt=prompt, model="claude-gemini-3.8-flash",
               tools="ToolSearch,WebSearch", expect="Tool WebSearch returned")
    calls = generate_calls(mock)
    searches = [c for c in calls if c["body"].get("tools") == [{"googleSearch": {}}]]
    assert searches, [c["body"].get("tools") for c in calls]
    asked = json.dumps(searches[0]["body"]["contents"])
    assert "rust 2027 edition" in asked, asked
    # The sources reached Claude Code: its tool result, sent back upstream, lists them.
    answered = [r for c in calls for r in c["body"]["contents"][-1]["parts"]
                if r.get("functionResponse", {}).get("name") == "WebSearch"]
    assert answered, "no WebSearch tool result went back upstream"
    told = answered[-1]["functionResponse"]["response"]["output"]
    assert told.startswith('Web search results for query: "rust 2027 edition"'), told
    assert "grounding-api-redirect/mock-source-a" in told and '"title":"example.org"' in told, told
    assert "Mock search answer from gemini-3.8-flash" in told, told


# A 1×1 PNG.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC")


@pytest.mark.parametrize("model", ["gemini-3.8-flash", "gemini-2.5-flash-lite"])
def test_claude_code_reads_an_image_and_gemini_gets_it_with_the_result(claude, gateway, mock, model):
    """Claude Code's Read of a PNG answers with an image inside the tool result: Gemini 3 gets it
    as the function response's own part, 2.5 (which refuses that) a note in the output."""
    mock.reset()
    run_claude(claude, gateway.url, gateway, prompt='Please call Read for "{work}/pixel.png"',
               model=model, tools="Read", expect="Tool Read returned", files={"pixel.png": PIXEL})
    answers = [r["functionResponse"] for c in generate_calls(mock) if c["model"] == model
               for r in c["body"]["contents"][-1]["parts"]
               if r.get("functionResponse", {}).get("name") == "Read"]
    assert answers, "no Read result went back upstream"
    media = answers[-1].get("parts", [])
    if model.startswith("gemini-3"):
        assert [m["inlineData"]["mimeType"] for m in media] == ["image/png"], answers[-1]
    else:
        assert media == [], answers[-1]
        assert "[Omitted from the tool result" in json.dumps(answers[-1]), answers[-1]


def test_a_claude_code_setup_from_before_december_2026_still_answers(claude, gateway, mock):
    # ANTHROPIC_MODEL names a model retired on 1 December 2026: its replacement answers.
    run_claude(claude, gateway.url, gateway, env_extra={"ANTHROPIC_MODEL": "gemini-2.5-pro"})
    assert_tool_round_trip_upstream(mock, "gemini-3.8-flash")


def _sessionless_keys(gateway, mock, n=3):
    """The pool keys `n` consecutive Anthropic requests without a session id went out on."""
    mock.reset()
    for _ in range(n):
        body = json.dumps({"model": "claude-haiku-4-5", "max_tokens": 64,
                           "messages": [{"role": "user", "content": "hi"}]}).encode()
        req = urllib.request.Request(gateway.url + "/v1/messages", data=body,
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert resp.status == 200
    keys = [c["api_key"] for c in generate_calls(mock)]
    mock.reset()
    return keys


def test_claude_code_session_stays_on_one_key(claude, gateway, mock):
    # Control: without a session the pool rotates, so "one key per run" below is not luck.
    assert len(set(_sessionless_keys(gateway, mock))) > 1

    with RecordingProxy(gateway.url) as proxy:
        run_claude(claude, proxy.url, gateway)
    messages = [r for r in proxy.seen if r["path"].startswith("/v1/messages")]
    assert len(messages) >= 2, [r["path"] for r in proxy.seen]
    sessions = {r["headers"].get("x-claude-code-session-id") for r in messages}
    assert None not in sessions, "a Claude Code request came without X-Claude-Code-Session-Id"
    assert len(sessions) == 1, f"one run should be one session: {sessions}"
    # Every upstream call of the run went out on the same pool key, unless a key was rate-limited.
    calls = generate_calls(mock)
    assert len(calls) >= 2 and all(c["api_key"] in KEYS for c in calls)
    if not any(c["status"] == 429 for c in calls):
        keys = {c["api_key"] for c in calls}
        assert len(keys) == 1, f"one session used {len(keys)} keys: " + str(
            [(c["action"], c["api_key"][-4:], c["status"]) for c in calls])


def test_a_ten_turn_claude_code_session_reads_its_prefix_from_gemini_s_cache(claude, gateway, mock):
    """Ten turns of one conversation (`--continue`): each request after the first finds its
    prefix in the implicit cache of the one project it keeps to, so every turn from the second
    on reports `cache_read_input_tokens`."""
    home = tempfile.mkdtemp(prefix="cc-home-")
    work = tempfile.mkdtemp(prefix="cc-work-")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "LANG": "C.UTF-8",
           "ANTHROPIC_BASE_URL": gateway.url, "ANTHROPIC_API_KEY": "client-key-not-a-pool-key",
           "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1"}
    reads = []
    try:
        for turn in range(10):
            args = [claude, "-p", f"Turn {turn + 1}: say something short", "--output-format", "json"]
            if turn:
                args.insert(1, "--continue")
            proc = subprocess.run(args, cwd=work, env=env, stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=120)
            out = proc.stdout.decode(errors="replace")
            assert proc.returncode == 0, f"turn {turn + 1}: {out} {proc.stderr.decode(errors='replace')}"
            result = json.loads(out.strip().splitlines()[-1])
            reads.append(result["usage"].get("cache_read_input_tokens", 0))
    finally:
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    assert all(n > 0 for n in reads[1:]), reads
    calls = [c for c in generate_calls(mock) if c["status"] == 200]
    turns = [c for c in calls if len(c["body"]["contents"]) > 1]
    assert len({c["api_key"] for c in turns}) == 1, "the conversation's prefix moved between projects"
