"""Gemini's stored resources through the gateway with the official google-genai SDK, over a pool
of three keys of three projects (the mock's keys are each a project of their own): a file
uploaded (resumable, in the SDK's own chunks) is used by three generate_content calls that all
reach the key that owns it, listed and deleted; a file whose key was revoked is said to have gone
with it; a context cache is made, used three times on its owner and deleted."""

import io

import pytest
from google import genai
from google.genai import errors, types

from conftest import KEYS, start_gateway

MODEL = "gemini-3.8-flash"


def make_client(gateway):
    opts = types.HttpOptions(base_url=gateway.url, retry_options=types.HttpRetryOptions(attempts=1))
    return genai.Client(api_key="client-key-not-a-pool-key", http_options=opts)


def keys_of(mock, action):
    return [r["api_key"] for r in mock.requests() if r["action"] == action and r["api_key"]]


def generate_keys(mock):
    return [r["api_key"] for r in mock.requests() if r["action"] == "generateContent"]


def upload(client, text=b"The gateway routes every file to its project.\n" * 100):
    return client.files.upload(file=io.BytesIO(text),
                               config=types.UploadFileConfig(mime_type="text/plain", display_name="notes"))


def test_a_file_is_used_listed_and_deleted_on_its_owner(gateway, mock):
    client = make_client(gateway)
    file = upload(client)
    assert file.name.startswith("files/") and file.state == types.FileState.ACTIVE
    (owner,) = set(keys_of(mock, "files.upload"))
    for _ in range(3):
        resp = client.models.generate_content(model=MODEL, contents=[file, "What does this file say?"])
        assert resp.text
    assert generate_keys(mock) == [owner] * 3
    assert client.files.get(name=file.name).size_bytes == file.size_bytes
    listed = [f.name for f in client.files.list()]
    assert file.name in listed and len(listed) == len(set(listed))
    client.files.delete(name=file.name)
    assert keys_of(mock, "files.delete") == [owner]
    assert file.name not in [f.name for f in client.files.list()]


def test_a_file_goes_with_its_revoked_key(mock_server, mock):
    with start_gateway(mock_server) as gw:
        client = make_client(gw)
        file = upload(client)
        (owner,) = set(keys_of(mock, "files.upload"))
        mock.script(owner, {"type": "key_invalid"})
        for _ in range(2):
            with pytest.raises(errors.ClientError) as refused:
                client.models.generate_content(model=MODEL, contents=[file, "Still there?"])
            assert refused.value.code == 404
        assert "went with its key" in refused.value.message
        assert all(k[-8:] not in refused.value.message for k in KEYS)


def test_a_context_cache_is_made_used_and_deleted_on_its_owner(gateway, mock):
    client = make_client(gateway)
    long_text = "Every resource belongs to the project of the key that made it. " * 400
    cache = client.caches.create(model=MODEL, config=types.CreateCachedContentConfig(
        contents=[types.Content(role="user", parts=[types.Part(text=long_text)])], ttl="600s",
        display_name="handbook"))
    assert cache.name.startswith("cachedContents/")
    (owner,) = set(keys_of(mock, "cachedContents.create"))
    for _ in range(3):
        resp = client.models.generate_content(
            model=MODEL, contents="Summarise the handbook",
            config=types.GenerateContentConfig(cached_content=cache.name))
        assert resp.usage_metadata.cached_content_token_count > 0
    assert generate_keys(mock) == [owner] * 3
    assert cache.name in [c.name for c in client.caches.list()]
    client.caches.update(name=cache.name, config=types.UpdateCachedContentConfig(ttl="1200s"))
    client.caches.delete(name=cache.name)
    assert keys_of(mock, "cachedContents.delete") == [owner]


def test_a_batch_is_made_polled_and_read_on_its_owner(gateway, mock):
    client = make_client(gateway)
    batch = client.batches.create(model=MODEL, src=[
        types.InlinedRequest(contents="First question", metadata={"key": "one"}),
        types.InlinedRequest(contents="Second question", metadata={"key": "two"})],
        config=types.CreateBatchJobConfig(display_name="nightly"))
    assert batch.name.startswith("batches/")
    (owner,) = set(keys_of(mock, "batches.create"))
    first = client.batches.get(name=batch.name)
    assert first.state != types.JobState.JOB_STATE_SUCCEEDED
    done = client.batches.get(name=batch.name)
    assert done.state == types.JobState.JOB_STATE_SUCCEEDED
    answers = done.dest.inlined_responses
    assert [a.response.text for a in answers] == [f"Mock batch reply {i} from {MODEL}" for i in (1, 2)]
    assert batch.name in [b.name for b in client.batches.list()]
    client.batches.delete(name=batch.name)
    assert set(keys_of(mock, "batches.get") + keys_of(mock, "batches.delete")) == {owner}


def test_a_batch_from_a_file_writes_a_file_downloaded_through_the_gateway(gateway, mock):
    client = make_client(gateway)
    lines = b"".join(
        b'{"key": "k%d", "request": {"contents": [{"role": "user", "parts": [{"text": "Q%d"}]}]}}\n' % (i, i)
        for i in range(3))
    source = client.files.upload(file=io.BytesIO(lines),
                                 config=types.UploadFileConfig(mime_type="application/jsonl"))
    (owner,) = set(keys_of(mock, "files.upload"))
    batch = client.batches.create(model=MODEL, src=source.name)
    client.batches.get(name=batch.name)
    done = client.batches.get(name=batch.name)
    assert done.dest.file_name.startswith("files/batch-")
    output = client.files.download(file=done.dest.file_name)
    assert output.count(b"Mock batch reply") == 3
    assert set(keys_of(mock, "batches.create") + keys_of(mock, "files.download")) == {owner}


def test_an_interaction_is_continued_on_the_project_that_keeps_it(gateway, mock):
    client = make_client(gateway)
    first = client.interactions.create(model=MODEL, input="Remember the number 7")
    (owner,) = set(keys_of(mock, "interactions.create"))
    second = client.interactions.create(model=MODEL, input="Which number?",
                                        previous_interaction_id=first.id)
    third = client.interactions.create(model=MODEL, input="And again?",
                                       previous_interaction_id=second.id)
    assert "turn 3" in third.steps[-1].content[0].text
    assert client.interactions.get(first.id).status == "completed"
    client.interactions.delete(first.id)
    assert set(keys_of(mock, "interactions.create") + keys_of(mock, "interactions.get")
               + keys_of(mock, "interactions.delete")) == {owner}
