"""The official `openai` Python SDK, pointed at the gateway, works unchanged: Chat Completions,
the Responses API, Embeddings, the model list and the error shapes.

Gemini model names are served as named; tool use runs on a 3.x Flash, on 3.1 Pro and on a Gemini
4 preview. The upstream is the strict mock, so a translation mistake (an unknown field, a lost
thought signature, a field Gemini 4 refuses, a broken SSE event) fails these tests.
"""

import base64
import http.server
import json
import struct
import threading
import zlib

import openai
import pytest

from conftest import KEYS, start_gateway

FLASH = "gemini-3.8-flash"
PRO = "gemini-3.1-pro-preview"
GEMINI4 = "gemini-4-argon"
SIGNING = [PRO, GEMINI4]
SENTINEL = "skip_thought_signature_validator"
PROMPT = "Please run `echo openai-e2e-ok` with Bash"

BASH = {
    "type": "function",
    "function": {
        "name": "Bash",
        "description": "Executes a bash command and returns its output.",
        "parameters": {
            "type": "object",
            "properties": {
                "command": {"type": "string", "description": "The command to execute"},
                "description": {"type": "string"},
            },
            "required": ["command"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}
BASH_RESPONSES = {"type": "function", **BASH["function"]}


def client(gateway, base="/v1", **kw):
    return openai.OpenAI(base_url=gateway.url + base, api_key="client-key-not-a-pool-key",
                         max_retries=0, **kw)


def generate_calls(mock, model=None):
    return [r for r in mock.requests()
            if r["action"] in ("generateContent", "streamGenerateContent")
            and (model is None or r["model"] == model)]


def png_1x1():
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    idat = zlib.compress(b"\x00" + bytes([255, 0, 0, 255]))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# --- Chat Completions -------------------------------------------------------------------------

def test_create_answers_in_openai_shape_with_the_clients_model_name(gateway, mock):
    c = client(gateway)
    r = c.chat.completions.create(model=FLASH, messages=[
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello there"},
    ], max_tokens=200, temperature=0.5, top_p=0.9, stop=["#1", "#2", "#3", "#4", "#5", "#6"], seed=7,
        presence_penalty=0.1, frequency_penalty=0.2, user="u-1")
    assert r.object == "chat.completion" and r.model == FLASH
    assert r.choices[0].finish_reason == "stop"
    assert "hello there" in r.choices[0].message.content
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0
    assert r.usage.completion_tokens_details.reasoning_tokens >= 0
    assert r.usage.prompt_tokens_details.cached_tokens == 0
    body = generate_calls(mock, FLASH)[-1]["body"]
    assert body["systemInstruction"]["parts"][0]["text"] == "Be brief."
    g = body["generationConfig"]
    assert g["stopSequences"] == ["#1", "#2", "#3", "#4", "#5"]
    assert (g["maxOutputTokens"], g["temperature"], g["seed"]) == (200, 0.5, 7)


def test_stream_with_include_usage_ends_with_a_usage_chunk(gateway, mock):
    c = client(gateway)
    chunks = list(c.chat.completions.create(
        model=FLASH, messages=[{"role": "user", "content": "stream me"}], stream=True,
        stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert "stream me" in text
    finishes = [ch.choices[0].finish_reason for ch in chunks if ch.choices and ch.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0
    assert all(ch.object == "chat.completion.chunk" and ch.model == FLASH for ch in chunks)


def tool_round_trip(gateway, mock, model, strip, stream=False):
    """Asks for a Bash call, answers it (echoing the assistant message whole, or only the
    standard fields), and returns the replayed functionCall part Gemini got."""
    c = client(gateway)
    messages = [{"role": "user", "content": PROMPT}]
    if stream:
        calls = {}
        finish = None
        for ch in c.chat.completions.create(model=model, messages=messages, tools=[BASH], stream=True):
            for d in (ch.choices[0].delta.tool_calls or []) if ch.choices else []:
                entry = calls.setdefault(d.index, {"id": None, "name": "", "arguments": ""})
                entry["id"] = d.id or entry["id"]
                entry["name"] += d.function.name or ""
                entry["arguments"] += d.function.arguments or ""
            if ch.choices and ch.choices[0].finish_reason:
                finish = ch.choices[0].finish_reason
        assert finish == "tool_calls" and len(calls) == 1
        call = calls[0]
        assistant = {"role": "assistant", "content": None, "tool_calls": [
            {"id": call["id"], "type": "function", "function": {"name": call["name"], "arguments": call["arguments"]}}]}
    else:
        r = c.chat.completions.create(model=model, messages=messages, tools=[BASH], tool_choice="auto")
        assert r.choices[0].finish_reason == "tool_calls"
        tc = r.choices[0].message.tool_calls[0]
        call = {"id": tc.id, "name": tc.function.name, "arguments": tc.function.arguments}
        if strip:
            assistant = {"role": "assistant", "tool_calls": [
                {"id": tc.id, "type": "function", "function": {"name": tc.function.name, "arguments": tc.function.arguments}}]}
        else:
            assistant = r.choices[0].message.model_dump(exclude_none=True)
    assert call["name"] == "Bash"
    assert json.loads(call["arguments"])["command"] == "echo openai-e2e-ok"
    messages += [assistant, {"role": "tool", "tool_call_id": call["id"], "content": "openai-e2e-ok\n"}]
    r = c.chat.completions.create(model=model, messages=messages, tools=[BASH])
    assert "openai-e2e-ok" in r.choices[0].message.content
    last = generate_calls(mock, model)[-1]
    assert last["status"] == 200
    replay = last["body"]["contents"][-2]
    assert replay["role"] == "model"
    fc = [p for p in replay["parts"] if "functionCall" in p][0]
    response = last["body"]["contents"][-1]["parts"][0]["functionResponse"]
    assert response["name"] == "Bash" and "openai-e2e-ok" in json.dumps(response)
    return fc


def test_tool_round_trip_on_a_3x_flash(gateway, mock):
    fc = tool_round_trip(gateway, mock, FLASH, strip=False)
    assert fc["functionCall"]["args"]["command"] == "echo openai-e2e-ok"
    assert fc.get("thoughtSignature") and fc["thoughtSignature"] != SENTINEL


@pytest.mark.parametrize("model", SIGNING)
@pytest.mark.parametrize("strip", [False, True], ids=["echoed-whole", "standard-fields-only"])
def test_tool_round_trip_keeps_the_thought_signature(gateway, mock, model, strip):
    fc = tool_round_trip(gateway, mock, model, strip=strip)
    assert fc.get("thoughtSignature") and fc["thoughtSignature"] != SENTINEL


@pytest.mark.parametrize("model", SIGNING)
def test_streamed_tool_call_round_trip(gateway, mock, model):
    fc = tool_round_trip(gateway, mock, model, strip=True, stream=True)
    assert fc.get("thoughtSignature") and fc["thoughtSignature"] != SENTINEL


@pytest.mark.parametrize("model", SIGNING)
def test_a_foreign_tool_history_gets_the_skip_sentinel_not_a_400(gateway, mock, model):
    c = client(gateway)
    r = c.chat.completions.create(model=model, tools=[BASH], messages=[
        {"role": "user", "content": "list files"},
        {"role": "assistant", "tool_calls": [{"id": "call_from_gpt", "type": "function",
                                              "function": {"name": "Bash", "arguments": "{\"command\": \"ls\"}"}}]},
        {"role": "tool", "tool_call_id": "call_from_gpt", "content": "a.txt"},
    ])
    assert r.choices[0].message.content
    fc = generate_calls(mock, model)[-1]["body"]["contents"][1]["parts"][0]
    assert fc["thoughtSignature"] == SENTINEL


def test_json_schema_and_reasoning_effort(gateway, mock):
    c = client(gateway)
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
              "additionalProperties": False}
    r = c.chat.completions.create(model=FLASH, messages=[{"role": "user", "content": "a city"}],
                                  response_format={"type": "json_schema", "json_schema": {
                                      "name": "place", "schema": schema, "strict": True}},
                                  reasoning_effort="low")
    json.loads(r.choices[0].message.content)
    g = generate_calls(mock, FLASH)[-1]["body"]["generationConfig"]
    assert g["responseMimeType"] == "application/json"
    assert g["responseJsonSchema"]["properties"]["city"] == {"type": "string"}
    assert g["thinkingConfig"] == {"thinkingLevel": "LOW"}
    c.chat.completions.create(model=PRO, messages=[{"role": "user", "content": "x"}], reasoning_effort="high")
    assert generate_calls(mock, PRO)[-1]["body"]["generationConfig"]["thinkingConfig"]["thinkingLevel"] == "HIGH"


def test_gemini_4_gets_what_it_accepts(gateway, mock):
    """Gemini 4 answers 400 to penalties, several candidates and MINIMAL: the gateway sends
    none of them (one choice comes back), so the client gets an answer."""
    c = client(gateway)
    r = c.chat.completions.create(model=GEMINI4, messages=[{"role": "user", "content": "x"}],
                                  reasoning_effort="minimal", presence_penalty=0.5, frequency_penalty=0.5,
                                  n=2, temperature=0.3)
    assert r.choices[0].message.content and len(r.choices) == 1
    (call,) = generate_calls(mock, GEMINI4)
    assert call["status"] == 200 and call["path"].startswith("/v1alpha/")
    g = call["body"]["generationConfig"]
    assert g == {"thinkingConfig": {"thinkingLevel": "LOW"}}


def test_images_as_data_urls_and_fetched_urls(mock_server):
    png = png_1x1()

    class Image(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("content-type", "image/png")
            self.send_header("content-length", str(len(png)))
            self.end_headers()
            self.wfile.write(png)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Image)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/pixel.png"
    data_url = "data:image/png;base64," + base64.b64encode(png).decode()
    try:
        with start_gateway(mock_server, MEDIA_FETCH="all") as gw:
            mock_server.reset()
            c = client(gw)
            c.chat.completions.create(model=FLASH, messages=[{"role": "user", "content": [
                {"type": "text", "text": "what is in these?"},
                {"type": "image_url", "image_url": {"url": data_url}},
                {"type": "image_url", "image_url": {"url": url}},
            ]}])
            parts = generate_calls(mock_server, FLASH)[-1]["body"]["contents"][0]["parts"]
            inline = [p["inlineData"] for p in parts if "inlineData" in p]
            assert [i["mimeType"] for i in inline] == ["image/png", "image/png"]
            assert base64.b64decode(inline[1]["data"]) == png
        with start_gateway(mock_server) as gw:
            with pytest.raises(openai.BadRequestError) as e:
                client(gw).chat.completions.create(model=FLASH, messages=[{"role": "user", "content": [
                    {"type": "image_url", "image_url": {"url": url}}]}])
            assert "internal" in e.value.message
    finally:
        server.shutdown()


# --- Responses API ----------------------------------------------------------------------------

def test_responses_create_text_and_stream(gateway, mock):
    c = client(gateway)
    r = c.responses.create(model=FLASH, input="hello responses", instructions="Be brief.", store=False)
    assert r.status == "completed" and r.model == FLASH
    assert "hello responses" in r.output_text
    assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0
    events = list(c.responses.create(model=FLASH, input="stream responses", store=False, stream=True))
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    delta = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert "stream responses" in delta
    done = events[-1].response
    assert done.usage.output_tokens_details.reasoning_tokens >= 0
    assert done.usage.input_tokens_details.cached_tokens == 0


def responses_round_trip(gateway, mock, model, stream, drop_reasoning=False):
    c = client(gateway)
    items = [{"role": "user", "content": PROMPT}]
    if stream:
        events = list(c.responses.create(model=model, input=items, tools=[BASH_RESPONSES], store=False,
                                         stream=True, include=["reasoning.encrypted_content"]))
        assert events[-1].type == "response.completed"
        output = events[-1].response.output
        assert any(e.type == "response.function_call_arguments.done" for e in events)
    else:
        output = c.responses.create(model=model, input=items, tools=[BASH_RESPONSES], store=False,
                                    include=["reasoning.encrypted_content"]).output
    calls = [o for o in output if o.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "Bash"
    assert json.loads(calls[0].arguments)["command"] == "echo openai-e2e-ok"
    echoed = [o.model_dump(exclude_none=True) for o in output
              if not (drop_reasoning and o.type == "reasoning")]
    items += echoed + [{"type": "function_call_output", "call_id": calls[0].call_id, "output": "openai-e2e-ok"}]
    r = c.responses.create(model=model, input=items, tools=[BASH_RESPONSES], store=False)
    assert "openai-e2e-ok" in r.output_text
    last = generate_calls(mock, model)[-1]
    assert last["status"] == 200
    return [p for p in last["body"]["contents"][-2]["parts"] if "functionCall" in p][0]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_responses_function_call_round_trip_on_a_3x_flash(gateway, mock, stream):
    fc = responses_round_trip(gateway, mock, FLASH, stream)
    assert fc["functionCall"]["name"] == "Bash"


@pytest.mark.parametrize("model", SIGNING)
@pytest.mark.parametrize("drop_reasoning", [False, True], ids=["with-reasoning", "reasoning-dropped"])
def test_responses_round_trip_keeps_the_thought_signature(gateway, mock, model, drop_reasoning):
    fc = responses_round_trip(gateway, mock, model, stream=True, drop_reasoning=drop_reasoning)
    assert fc.get("thoughtSignature") and fc["thoughtSignature"] != SENTINEL


def test_stored_responses_through_the_official_sdk(gateway, mock):
    """`store` (the default) keeps a response: the SDK continues it with `previous_response_id`,
    reads it back, lists its input and deletes it; an id the gateway never stored is OpenAI's
    `previous_response_not_found`."""
    c = client(gateway)
    first = c.responses.create(model=FLASH, input="first question")
    assert first.store is True
    second = c.responses.create(model=FLASH, input="second question", previous_response_id=first.id)
    assert second.previous_response_id == first.id
    contents = generate_calls(mock)[-1]["body"]["contents"]
    assert [x["role"] for x in contents] == ["user", "model", "user"], contents
    assert c.responses.retrieve(second.id).id == second.id
    items = c.responses.input_items.list(second.id, order="asc")
    assert [i.type for i in items.data][:1] == ["message"]
    c.responses.delete(second.id)
    with pytest.raises(openai.NotFoundError):
        c.responses.retrieve(second.id)
    with pytest.raises(openai.BadRequestError) as e:
        c.responses.create(model=FLASH, input="hi", previous_response_id="resp_123")
    assert e.value.code == "previous_response_not_found"
    assert e.value.body["param"] == "previous_response_id"


# --- Embeddings, models, Google's base path, errors ------------------------------------------

def test_embeddings_as_floats_and_as_the_sdks_default_base64(gateway, mock):
    c = client(gateway)
    r = c.embeddings.create(model="gemini-embedding-001", input=["one", "two", "one"], dimensions=64)
    vectors = [d.embedding for d in r.data]
    assert [len(v) for v in vectors] == [64, 64, 64] and vectors[0] == vectors[2] != vectors[1]
    assert r.model == "gemini-embedding-001" and r.usage.prompt_tokens > 0
    floats = c.embeddings.create(model="gemini-embedding-001", input="one", dimensions=64,
                                 encoding_format="float")
    assert floats.data[0].embedding == pytest.approx(vectors[0], rel=1e-6)
    batch = [r for r in mock.requests() if r["action"] == "batchEmbedContents"][-1]
    assert batch["body"]["requests"][0]["outputDimensionality"] == 64
    many = c.embeddings.create(model="gemini-embedding-001", input=[f"t{i}" for i in range(150)])
    assert len(many.data) == 150 and [d.index for d in many.data] == list(range(150))
    assert len([r for r in mock.requests() if r["action"] == "batchEmbedContents"]) == 4
    with pytest.raises(openai.BadRequestError):
        c.embeddings.create(model="gemini-embedding-001", input=[[1, 2, 3]])


def test_models_list_and_retrieve_in_openai_shape(gateway):
    c = client(gateway)
    ids = [m.id for m in c.models.list()]
    assert FLASH in ids and "gemini-embedding-001" in ids
    assert c.models.retrieve(FLASH).id == FLASH
    with pytest.raises(openai.NotFoundError):
        c.models.retrieve("gemini-no-such-model")


def test_googles_openai_base_path_works_by_changing_only_the_host(gateway, mock):
    c = client(gateway, base="/v1beta/openai")
    r = c.chat.completions.create(model=FLASH, messages=[{"role": "user", "content": "via google path"}])
    assert "via google path" in r.choices[0].message.content
    assert FLASH in [m.id for m in c.models.list()]


def test_errors_come_in_openai_shape(gateway, mock):
    c = client(gateway)
    with pytest.raises(openai.NotFoundError) as e:
        c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert e.value.body["code"] == "model_not_found"
    assert "closest live models" in e.value.message
    with pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(model=FLASH, messages=[{"role": "user", "content": "x"}], n="two")
    assert e.value.body["type"] == "invalid_request_error" and e.value.body["param"] == "n"
    # Every key rate-limited for a model no other test uses (the gateway is shared).
    for k in KEYS:
        mock.script(k, {"type": "rate_limit_per_minute", "retry_delay": "20s"}, model="gemini-2.5-flash-lite")
    with pytest.raises((openai.RateLimitError, openai.InternalServerError)) as e:
        c.chat.completions.create(model="gemini-2.5-flash-lite", messages=[{"role": "user", "content": "x"}])
    assert e.value.status_code in (429, 503)
    assert e.value.body["type"] == "rate_limit_error"
    assert int(e.value.response.headers["retry-after"]) > 0
