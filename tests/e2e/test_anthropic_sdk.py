"""The official `anthropic` Python SDK, pointed at the gateway, works unchanged.

Claude model names map to the gateway's defaults, which follow the live catalog (haiku →
gemini-flash-latest, answered by gemini-3.8-flash; sonnet/opus → gemini-pro-latest, answered by
gemini-3.1-pro-preview); Gemini names are served as named (a retired one by its replacement).
Tool use and thinking run on a 3.x Flash, on 3.1 Pro and on a Gemini 4 preview. The upstream is
the strict mock, so a translation mistake (an unknown field, a lost thought signature, a field
Gemini 4 refuses, a broken SSE event) fails these tests.
"""

import base64
import struct
import zlib

import anthropic
import pytest

from conftest import KEYS

HAIKU = "claude-haiku-4-5"
SONNET = "claude-sonnet-4-6"
# What the defaults resolve to (the mock lists Google's -latest aliases), and what answers them.
SMALL, SMALL_SERVED = "gemini-flash-latest", "gemini-3.8-flash"
BIG, BIG_SERVED = "gemini-pro-latest", "gemini-3.1-pro-preview"
FLASH = "gemini-3.8-flash"
PRO = "gemini-3.1-pro-preview"
GEMINI4 = "gemini-4-hydrogen"
TODAY = [FLASH, PRO, GEMINI4]

BASH_TOOL = {
    "name": "Bash",
    "description": "Executes a bash command and returns its output.",
    "input_schema": {
        "type": "object",
        "properties": {
            "command": {"type": "string", "description": "The command to execute"},
            "description": {"type": "string", "description": "What the command does"},
            "timeout": {"type": "number", "description": "Optional timeout in milliseconds"},
        },
        "required": ["command"],
        "additionalProperties": False,
        "$schema": "http://json-schema.org/draft-07/schema#",
    },
}


def make_client(gateway):
    return anthropic.Anthropic(base_url=gateway.url, api_key="client-key-not-a-pool-key", max_retries=0)


def png_1x1():
    """A valid 1x1 RGBA PNG, built here (signature, IHDR, IDAT, IEND with CRCs)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    idat = zlib.compress(b"\x00" + bytes([255, 0, 0, 255]))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def text_of(message):
    return "".join(b.text for b in message.content if b.type == "text")


def generate_calls(mock, model=None):
    return [r for r in mock.requests()
            if r["action"] in ("generateContent", "streamGenerateContent")
            and (model is None or r["model"] == model)]


def test_create(gateway, mock):
    client = make_client(gateway)
    msg = client.messages.create(model=HAIKU, max_tokens=256,
                                 messages=[{"role": "user", "content": "Say hello to the gateway"}])
    assert msg.type == "message" and msg.role == "assistant"
    assert msg.model == HAIKU
    assert msg.stop_reason == "end_turn"
    assert text_of(msg).startswith(f"Mock reply from {SMALL_SERVED}")
    assert msg.usage.input_tokens > 0 and msg.usage.output_tokens > 0
    calls = generate_calls(mock)
    assert len(calls) == 1 and calls[0]["model"] == SMALL
    assert calls[0]["api_key"] in KEYS and calls[0]["status"] == 200


def test_stream(gateway, mock):
    client = make_client(gateway)
    with client.messages.stream(model=SONNET, max_tokens=256,
                                messages=[{"role": "user", "content": "Stream a few words please"}]) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) >= 2, "the answer should arrive in several deltas"
    assert "".join(pieces) == text_of(final)
    assert text_of(final).startswith(f"Mock reply from {BIG_SERVED}")
    assert final.model == SONNET
    assert final.stop_reason == "end_turn"
    assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0
    assert [c["action"] for c in generate_calls(mock)] == ["streamGenerateContent"]


def _tool_round_trip(client, model, stream):
    prompt = [{"role": "user", "content": "Please run `echo sdk-ok` with Bash"}]

    def ask(messages):
        kwargs = dict(model=model, max_tokens=1024, tools=[BASH_TOOL], messages=messages)
        if stream:
            with client.messages.stream(**kwargs) as s:
                return s.get_final_message()
        return client.messages.create(**kwargs)

    first = ask(prompt)
    assert first.stop_reason == "tool_use"
    uses = [b for b in first.content if b.type == "tool_use"]
    assert len(uses) == 1
    assert uses[0].name == "Bash"
    assert uses[0].input["command"] == "echo sdk-ok"
    assert uses[0].id
    # The client sends the assistant content back verbatim (thinking blocks and their
    # signatures included), then the tool's result.
    history = prompt + [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": uses[0].id, "content": "sdk-ok\n"}]},
    ]
    second = ask(history)
    assert second.stop_reason == "end_turn"
    assert "sdk-ok" in text_of(second)
    assert "Tool Bash returned" in text_of(second)
    return first, second


def _function_response_calls(mock, model):
    out = []
    for call in generate_calls(mock, model):
        contents = call["body"]["contents"]
        if any("functionResponse" in p for p in contents[-1]["parts"]):
            out.append(call)
    return out


def test_tool_use_round_trip(gateway, mock):
    _tool_round_trip(make_client(gateway), SONNET, stream=False)
    calls = generate_calls(mock)
    assert [c["status"] for c in calls] == [200, 200]
    decl = calls[0]["body"]["tools"][0]["functionDeclarations"][0]
    assert decl["name"] == "Bash"
    (answered,) = _function_response_calls(mock, BIG)
    replayed = answered["body"]["contents"][-2]
    assert replayed["role"] == "model"
    call_parts = [p for p in replayed["parts"] if "functionCall" in p]
    assert call_parts[0]["functionCall"]["args"]["command"] == "echo sdk-ok"


@pytest.mark.parametrize("model", TODAY)
@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_tool_use_round_trip_keeps_thought_signatures(gateway, mock, model, stream):
    first, _ = _tool_round_trip(make_client(gateway), model, stream=stream)
    assert first.model == model
    # The signature travels to the client inside a thinking block...
    signed = [b for b in first.content if b.type == "thinking" and b.signature]
    assert signed, f"no signed thinking block in {first.content}"
    # ...and the mock (which rejects missing or forged Gemini 3 and 4 signatures) saw the issued one.
    calls = generate_calls(mock, model)
    assert all(c["status"] == 200 for c in calls), [c["status"] for c in calls]
    (answered,) = _function_response_calls(mock, model)
    replayed = answered["body"]["contents"][-2]
    call_parts = [p for p in replayed["parts"] if "functionCall" in p]
    signature = call_parts[0].get("thoughtSignature")
    assert signature and signature != "skip_thought_signature_validator"
    assert base64.b64decode(signature) != b"skip_thought_signature_validator"


@pytest.mark.parametrize("model", [PRO, GEMINI4])
def test_thinking_tool_loop_over_several_turns(gateway, mock, model):
    """Thinking shown + tools, streamed, two tool rounds: every replayed history (thought
    blocks, signature carriers, earlier turns) must pass the mock's validation."""
    client = make_client(gateway)
    kwargs = dict(model=model, max_tokens=4096, tools=[BASH_TOOL],
                  thinking={"type": "enabled", "budget_tokens": 2048})
    history = []
    for command in ("echo one", "echo two"):
        history.append({"role": "user", "content": f"Please run `{command}` with Bash"})
        with client.messages.stream(messages=history, **kwargs) as s:
            asked = s.get_final_message()
        assert asked.content[0].type == "thinking" and asked.content[0].thinking
        (use,) = [b for b in asked.content if b.type == "tool_use"]
        assert use.input["command"] == command
        history += [
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in asked.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": command[5:]}]},
        ]
        with client.messages.stream(messages=history, **kwargs) as s:
            answered = s.get_final_message()
        assert answered.stop_reason == "end_turn"
        assert f"Tool Bash returned: {command[5:]}" in text_of(answered)
        history.append({"role": "assistant",
                        "content": [b.model_dump(exclude_none=True) for b in answered.content]})
    calls = generate_calls(mock, model)
    assert len(calls) == 4 and all(c["status"] == 200 for c in calls), [c["status"] for c in calls]
    # The first turn's call is still in the last request's history, with its issued signature.
    replayed = [p for c in calls[-1]["body"]["contents"] if c["role"] == "model"
                for p in c["parts"] if "functionCall" in p]
    assert len(replayed) == 2
    assert all(p.get("thoughtSignature") not in (None, "skip_thought_signature_validator") for p in replayed)


def test_thinking(gateway, mock):
    client = make_client(gateway)
    msg = client.messages.create(model=SONNET, max_tokens=4096,
                                 thinking={"type": "enabled", "budget_tokens": 2048},
                                 messages=[{"role": "user", "content": "Think about the gateway, then answer"}])
    kinds = [b.type for b in msg.content]
    assert "thinking" in kinds and "text" in kinds
    assert kinds.index("thinking") < kinds.index("text")
    thinking = next(b for b in msg.content if b.type == "thinking")
    assert thinking.thinking, "the thought text should be shown"
    (call,) = generate_calls(mock)
    # Today's models think in levels: a 2,048-token budget is MEDIUM.
    config = call["body"]["generationConfig"]["thinkingConfig"]
    assert config == {"includeThoughts": True, "thinkingLevel": "MEDIUM"}


def test_thinking_stream(gateway, mock):
    client = make_client(gateway)
    with client.messages.stream(model=HAIKU, max_tokens=4096,
                                thinking={"type": "enabled", "budget_tokens": 2048},
                                messages=[{"role": "user", "content": "Think, then stream an answer"}]) as stream:
        events = [e.type for e in stream]
        final = stream.get_final_message()
    assert "thinking" in events
    assert [b.type for b in final.content][0] == "thinking"
    assert text_of(final).startswith(f"Mock reply from {SMALL_SERVED}")


def test_gemini_4_takes_a_budget_sampling_and_a_tight_limit(gateway, mock):
    """Gemini 4 refuses a thinking budget and ignores sampling: the gateway sends a level and no
    sampling fields, and keeps room for its thinking inside max_tokens."""
    client = make_client(gateway)
    # (This SDK no longer takes sampling arguments: older clients send them, so the body does.)
    msg = client.messages.create(model=GEMINI4, max_tokens=300, extra_body={"temperature": 0.2, "top_k": 5},
                                 thinking={"type": "enabled", "budget_tokens": 20000},
                                 messages=[{"role": "user", "content": "Answer briefly"}])
    assert text_of(msg).startswith(f"Mock reply from {GEMINI4}")
    (call,) = generate_calls(mock)
    assert call["status"] == 200 and call["path"].startswith("/v1alpha/")
    config = call["body"]["generationConfig"]
    assert config["thinkingConfig"] == {"includeThoughts": True, "thinkingLevel": "HIGH"}
    assert "temperature" not in config and "topK" not in config
    assert config["maxOutputTokens"] > 300


def test_a_retired_model_name_answers_from_its_replacement(gateway, mock):
    client = make_client(gateway)
    raw = client.messages.with_raw_response.create(
        model="gemini-2.5-pro", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    assert raw.headers["x-gateway-served-model"] == FLASH
    assert raw.headers["x-gateway-substitution"] == "retired"
    msg = raw.parse()
    assert msg.model == FLASH
    assert [c["model"] for c in generate_calls(mock)] == [FLASH]


def test_image(gateway, mock):
    client = make_client(gateway)
    data = base64.b64encode(png_1x1()).decode()
    msg = client.messages.create(model=HAIKU, max_tokens=256, messages=[{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}},
        {"type": "text", "text": "What is in this picture?"},
    ]}])
    assert "What is in this picture?" in text_of(msg)
    (call,) = generate_calls(mock)
    parts = call["body"]["contents"][0]["parts"]
    blobs = [p["inlineData"] for p in parts if "inlineData" in p]
    assert blobs == [{"mimeType": "image/png", "data": data}]


def test_count_tokens(gateway, mock):
    client = make_client(gateway)
    messages = [{"role": "user", "content": "How many tokens is this message?"}]
    plain = client.messages.count_tokens(model=HAIKU, messages=messages)
    assert plain.input_tokens > 0
    system = client.messages.count_tokens(model=HAIKU, messages=messages,
                                          system="You are a careful assistant. " * 20)
    assert system.input_tokens > plain.input_tokens
    tools = client.messages.count_tokens(model=HAIKU, messages=messages, tools=[BASH_TOOL])
    assert tools.input_tokens > plain.input_tokens
    assert all(r["action"] in ("countTokens", "list") for r in mock.requests())


def test_unknown_model_is_a_404_naming_live_models(gateway, mock):
    client = make_client(gateway)
    with pytest.raises(anthropic.NotFoundError) as info:
        client.messages.create(model="gpt-4o", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 404
    assert info.value.body["type"] == "error"
    assert info.value.body["error"]["type"] == "not_found_error"
    message = info.value.body["error"]["message"]
    assert "gpt-4o" in message and "closest live models" in message
    assert generate_calls(mock) == [], "an unknown model must not reach the upstream"


def test_exhausted_pool_is_a_503_overloaded_error(gateway, mock):
    model = "gemini-2.5-flash-lite"
    for k in KEYS:
        mock.script(k, {"type": "rate_limit_per_minute", "retry_delay": "20s"}, model=model)
    client = make_client(gateway)
    with pytest.raises(anthropic.APIStatusError) as info:
        client.messages.create(model=model, max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    err = info.value
    assert err.status_code == 503
    assert err.body["error"]["type"] == "overloaded_error"
    retry_after = int(err.response.headers["retry-after"])
    assert 0 < retry_after <= 20
    for k in KEYS:
        assert k not in err.response.text


def test_a_stream_broken_midway_raises_in_the_sdk(gateway, mock):
    model = "gemini-3.5-flash"
    for k in KEYS:
        mock.script(k, {"type": "stream_break", "after_chunks": 1}, model=model)
    client = make_client(gateway)
    received = []
    with pytest.raises(anthropic.APIStatusError) as info:
        with client.messages.stream(model=model, max_tokens=256,
                                    messages=[{"role": "user", "content": "Stream a long answer please"}]) as stream:
            for text in stream.text_stream:
                received.append(text)
            stream.get_final_message()
    # The gateway reports the break as an SSE `error` event, which the SDK raises — never a
    # clean end of a cut answer.
    assert info.value.body["error"]["type"] == "overloaded_error"
    # A stream that broke after commit is continued on other keys (at most twice); here every
    # key breaks too.
    calls = generate_calls(mock, model)
    assert len(calls) == 3
    assert len({c["api_key"] for c in calls}) == 3, "each continuation goes to another key"
