"""The Vercel AI SDK (pinned in ai-sdk/package.json) keeps a three-turn conversation whole
through the gateway. Its default OpenAI model speaks the Responses API and assumes `store`: from
the second turn it sends its earlier answers back as `{"type": "item_reference", "id": "msg_…"}`,
which the gateway resolves from the responses it stored. The Chat Completions model and the
Anthropic provider (`@ai-sdk/anthropic`, the Messages API) send the whole text each turn.

The SDK comes from `npm install` in tests/e2e/ai-sdk (scripts/test does it).
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from agents import generate_calls, require_cli

HERE = Path(__file__).resolve().parent / "ai-sdk"
MODEL = "gemini-3.8-flash"


def run(gateway, api):
    node = require_cli(shutil.which("node"), "node", "install Node.js 20 or later")
    require_cli(str(HERE / "node_modules" / "ai" / "package.json"), "the AI SDK",
                "run `npm install` in tests/e2e/ai-sdk (scripts/test does it)", executable=False)
    proc = subprocess.run([node, "three_turns.mjs", gateway.url + "/v1", MODEL, api], cwd=HERE,
                          capture_output=True, timeout=60)
    context = (f"exit={proc.returncode}\nstdout={proc.stdout.decode(errors='replace')}\n"
               f"stderr={proc.stderr.decode(errors='replace')[-4000:]}\n"
               + "\n".join(gateway.lines[-20:]))
    assert proc.returncode == 0, context
    return json.loads(proc.stdout.decode().strip().splitlines()[-1])["answers"], context


def turns(call):
    """(role, text) of each part of the contents the mock was given."""
    return [(c["role"], p.get("text", "")) for c in call["body"]["contents"] for p in c["parts"]]


@pytest.mark.parametrize("api", ["responses", "chat", "anthropic"])
def test_the_ai_sdk_keeps_a_three_turn_conversation_whole(gateway, mock, api):
    answers, context = run(gateway, api)
    assert len(answers) == 3 and all(answers), context
    calls = generate_calls(mock)
    assert len(calls) == 3 and all(c["status"] == 200 for c in calls), context
    last = turns(calls[-1])
    # Every user turn and both earlier answers, in order, each in its own turn.
    assert [role for role, _ in last] == ["user", "model", "user", "model", "user"], last
    assert last[0][1].startswith("first question") and last[4][1].startswith("third question"), last
    assert answers[0] in last[1][1] and answers[1] in last[3][1], (answers, last)
