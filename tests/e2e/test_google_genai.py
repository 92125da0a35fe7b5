"""The official google-genai SDK, pointed at the gateway, works unchanged: on today's Flash and
Pro under its default API version and v1beta, and on a Gemini 4 preview under v1alpha (and, the
gateway sending it where it is served, under v1beta too); a retired name answers from its
replacement."""

import pytest
from google import genai
from google.genai import errors, types

from conftest import KEYS, start_gateway

MODEL = "gemini-3.8-flash"
PRO = "gemini-3.1-pro-preview"
GEMINI4 = "gemini-4-argon"


def make_client(gateway, api_version=None):
    opts = types.HttpOptions(base_url=gateway.url, api_version=api_version,
                             retry_options=types.HttpRetryOptions(attempts=1))
    return genai.Client(api_key="client-key-not-a-pool-key", http_options=opts)


def generate_calls(mock):
    return [r for r in mock.requests() if r["action"] in ("generateContent", "streamGenerateContent")]


@pytest.mark.parametrize("model", [MODEL, PRO])
@pytest.mark.parametrize("api_version", [None, "v1beta"])
def test_generate(gateway, mock, api_version, model):
    client = make_client(gateway, api_version)
    resp = client.models.generate_content(model=model, contents="Say hello to the gateway")
    assert resp.text.startswith(f"Mock reply from {model}")
    assert resp.usage_metadata.prompt_token_count > 0
    calls = generate_calls(mock)
    assert calls and calls[-1]["api_key"] in KEYS
    assert calls[-1]["path"].startswith(f"/{api_version or 'v1'}/")


@pytest.mark.parametrize("api_version", ["v1alpha", "v1beta"])
def test_gemini_4_with_thinking(gateway, mock, api_version):
    client = make_client(gateway, api_version)
    config = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_level="HIGH",
                                                                              include_thoughts=True))
    resp = client.models.generate_content(model=GEMINI4, contents="Think, then answer", config=config)
    assert resp.text.startswith(f"Mock reply from {GEMINI4}")
    (call,) = generate_calls(mock)
    assert call["status"] == 200 and call["path"] == f"/v1alpha/models/{GEMINI4}:generateContent"


def test_gemini_4_with_a_budget_written_for_older_models(gateway, mock):
    """Gemini 4 answers 400 to a thinking budget; a client written for 2.5 sends one: the gateway
    sends the level it stands for instead."""
    client = make_client(gateway, "v1alpha")
    config = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_budget=4096))
    assert client.models.generate_content(model=GEMINI4, contents="hi", config=config).text
    (call,) = generate_calls(mock)
    assert call["body"]["generationConfig"]["thinkingConfig"] == {"thinkingLevel": "MEDIUM"}


def test_stream(gateway, mock):
    client = make_client(gateway, "v1beta")
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="Stream a few words please"))
    assert len(chunks) >= 2
    text = "".join(c.text or "" for c in chunks)
    assert text.startswith("Mock reply from")
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP


def test_count_tokens(gateway, mock):
    client = make_client(gateway)
    resp = client.models.count_tokens(model=MODEL, contents="How many tokens is this?")
    assert resp.total_tokens > 0


def test_models_list_and_get(gateway, mock):
    client = make_client(gateway, "v1beta")
    names = [m.name for m in client.models.list()]
    assert f"models/{MODEL}" in names and "models/gemini-2.5-pro" not in names
    assert client.models.get(model=MODEL).output_token_limit == 65536
    alpha_client = make_client(gateway, "v1alpha")
    alpha = [m.name for m in alpha_client.models.list()]
    assert f"models/{GEMINI4}" in alpha


def test_a_retired_model_answers_from_its_replacement(gateway, mock):
    client = make_client(gateway, "v1beta")
    resp = client.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert resp.model_version == "gemini-3.5-flash-lite"
    assert [c["model"] for c in generate_calls(mock)] == ["gemini-3.5-flash-lite"]


def test_a_rate_limited_key_is_invisible_to_the_sdk(mock):
    # A gateway of its own: the shared one may have learned (from other tests' 429s, all at
    # once on every key) that its keys share a project, and then one key's 429 rests them all.
    with start_gateway(mock) as gateway:
        mock.script(KEYS[0], {"type": "rate_limit_per_minute", "retry_delay": "30s"}, model=PRO)
        client = make_client(gateway, "v1beta")
        for _ in range(3):
            assert client.models.generate_content(model=PRO, contents="hi").text
        views = {k["key"]: k for k in gateway.status()["keys"]}
    cooled = views[KEYS[0][:6] + "..." + KEYS[0][-4:]]
    assert PRO in cooled["cooldowns"]


def test_an_exhausted_pool_is_a_503_the_sdk_understands(gateway, mock):
    model = "gemini-3.6-flash"
    for k in KEYS:
        mock.script(k, {"type": "rate_limit_per_minute", "retry_delay": "20s"}, model=model)
    client = make_client(gateway, "v1beta")
    with pytest.raises(errors.ServerError) as info:
        client.models.generate_content(model=model, contents="hi")
    assert info.value.code == 503
    assert info.value.status == "UNAVAILABLE"


def test_an_unknown_model_is_a_404_naming_live_ones(gateway, mock):
    client = make_client(gateway, "v1beta")
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model="gemini-0-unknown", contents="hi")
    assert info.value.code == 404
    assert "closest live models" in info.value.message
    assert generate_calls(mock) == []
