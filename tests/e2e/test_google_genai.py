"""The official google-genai SDK, pointed at the gateway, works unchanged."""

import pytest
from google import genai
from google.genai import errors, types

from conftest import KEYS, start_gateway

MODEL = "gemini-2.5-flash"


def make_client(gateway, api_version=None):
    opts = types.HttpOptions(base_url=gateway.url, api_version=api_version,
                             retry_options=types.HttpRetryOptions(attempts=1))
    return genai.Client(api_key="client-key-not-a-pool-key", http_options=opts)


@pytest.mark.parametrize("api_version", [None, "v1beta"])
def test_generate(gateway, mock, api_version):
    client = make_client(gateway, api_version)
    resp = client.models.generate_content(model=MODEL, contents="Say hello to the gateway")
    assert resp.text.startswith("Mock reply from")
    assert resp.usage_metadata.prompt_token_count > 0
    calls = [r for r in mock.requests() if r["action"] == "generateContent"]
    assert calls and calls[-1]["api_key"] in KEYS
    assert calls[-1]["path"].startswith(f"/{api_version or 'v1'}/")


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
    assert "models/gemini-2.5-flash" in names
    assert client.models.get(model=MODEL).output_token_limit == 65536


def test_a_rate_limited_key_is_invisible_to_the_sdk(mock):
    # A gateway of its own: the shared one may have learned (from other tests' 429s, all at
    # once on every key) that its keys share a project, and then one key's 429 rests them all.
    with start_gateway(mock) as gateway:
        mock.script(KEYS[0], {"type": "rate_limit_per_minute", "retry_delay": "30s"}, model="gemini-2.5-pro")
        client = make_client(gateway, "v1beta")
        for _ in range(3):
            assert client.models.generate_content(model="gemini-2.5-pro", contents="hi").text
        views = {k["key"]: k for k in gateway.status()["keys"]}
    cooled = views[KEYS[0][:6] + "..." + KEYS[0][-4:]]
    assert "gemini-2.5-pro" in cooled["cooldowns"]


def test_an_exhausted_pool_is_a_503_the_sdk_understands(gateway, mock):
    for k in KEYS:
        mock.script(k, {"type": "rate_limit_per_minute", "retry_delay": "20s"}, model="gemini-2.0-flash")
    client = make_client(gateway, "v1beta")
    with pytest.raises(errors.ServerError) as info:
        client.models.generate_content(model="gemini-2.0-flash", contents="hi")
    assert info.value.code == 503
    assert info.value.status == "UNAVAILABLE"


def test_a_bad_request_comes_back_as_a_client_error(gateway, mock):
    client = make_client(gateway, "v1beta")
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model="gemini-0-unknown", contents="hi")
    assert info.value.code == 404
