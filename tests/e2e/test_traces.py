"""Traces over OTLP/HTTP, as a collector receives them: a gateway with OTEL_EXPORTER_OTLP_ENDPOINT
set serves one real Claude Code turn from a pool whose first key Google calls invalid, and posts
protobuf `ExportTraceServiceRequest`s to a receiver running in the test. The request that met the
dead key is one server span with the failed attempt and the successful one as its children; the
GenAI attributes are there, and no attribute of any span holds any of the pool's keys.
"""

import gzip
import queue
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (ExportTraceServiceRequest,
                                                                      ExportTraceServiceResponse)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from conftest import KEYS, start_gateway
from test_claude_code import claude, run_claude  # noqa: F401 (the fixture)

MODEL = "gemini-3.8-flash"
SERVER, CLIENT = Span.SpanKind.SPAN_KIND_SERVER, Span.SpanKind.SPAN_KIND_CLIENT


class Receiver:
    """An OTLP/HTTP receiver on a free port: every span posted to /v1/traces goes on a queue,
    with its resource's attributes."""

    def __init__(self):
        self.spans = queue.Queue()
        self.posts = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                outer.posts.append((self.path, self.headers.get("content-type")))
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                export = ExportTraceServiceRequest.FromString(body)
                for rs in export.resource_spans:
                    resource = attributes(rs.resource.attributes)
                    for ss in rs.scope_spans:
                        for span in ss.spans:
                            outer.spans.put((resource, span))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def until(self, done, timeout=20):
        """Spans received until `done(spans)` holds (each arrival is checked; no polling)."""
        got = []
        while not done(got):
            try:
                got.append(self.spans.get(timeout=timeout))
            except queue.Empty:
                pytest.fail(f"the collector did not receive the spans awaited; got {len(got)}: "
                            + "; ".join(f"{s.name} kind={s.kind}" for _, s in got))
        return got

    def close(self):
        self.server.shutdown()


def value(v):
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


def attributes(kvs):
    return {kv.key: value(kv.value) for kv in kvs}


def failover_trace(received):
    """The server span whose children include a failed attempt followed by a served one."""
    by_parent = {}
    for _, s in received:
        by_parent.setdefault(s.parent_span_id, []).append(s)
    for _, s in received:
        if s.kind != SERVER:
            continue
        children = sorted((c for c in by_parent.get(s.span_id, []) if c.kind == CLIENT),
                          key=lambda c: c.start_time_unix_nano)
        outcomes = [attributes(c.attributes).get("gateway.attempt.outcome") for c in children]
        if "key_rejected" in outcomes and outcomes[-1:] == ["ok"]:
            return s, children
    return None


@pytest.fixture()
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_a_claude_code_turn_that_met_a_dead_key_is_one_trace_with_both_attempts(
        claude, mock_server, mock, receiver):  # noqa: F811
    dead, good = KEYS[0], KEYS[1]
    # Only calls to the model: the catalog read at startup still succeeds on the dead key.
    mock.script(dead, {"type": "key_invalid"}, model=MODEL)
    with start_gateway(
        mock_server,
        GEMINI_API_KEY=f"{dead},{good}",
        BIG_MODEL=MODEL,
        SMALL_MODEL=MODEL,
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
        OTEL_SERVICE_NAME="gateway-under-test",
        OTEL_BSP_SCHEDULE_DELAY="100",
    ) as gw:
        # Round-robin starts on the first key; until the dead key has been met, one more turn.
        for _ in range(3):
            run_claude(claude, gw.url, gw)
            if any(r["api_key"] == dead and r["model"] == MODEL for r in mock.requests()):
                break
        assert any(r["api_key"] == dead and r["model"] == MODEL and r["status"] == 400
                   for r in mock.requests()), "the dead key was never tried"
        received = receiver.until(lambda got: failover_trace(got) is not None)

    server, children = failover_trace(received)
    resource = received[0][0]
    assert resource["service.name"] == "gateway-under-test"
    a = attributes(server.attributes)
    assert server.name == f"chat {MODEL}"
    assert a["gen_ai.system"] == "gemini"
    assert a["gen_ai.provider.name"] == "gcp.gemini"
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.request.model"] == MODEL
    assert a["gen_ai.response.model"] == MODEL
    assert a["gateway.surface"] == "anthropic"
    assert a["http.response.status_code"] == 200
    assert a["gateway.attempts"] == len(children) >= 2
    assert a["gen_ai.usage.input_tokens"] > 0 and a["gen_ai.usage.output_tokens"] > 0
    failed, served = children[0], children[-1]
    f, s = attributes(failed.attributes), attributes(served.attributes)
    assert f["gateway.attempt.outcome"] == "key_rejected"
    assert f["gateway.attempt.failure"] == "key_invalid"
    assert f["gateway.pick.reason"] == "round_robin"
    assert s["gateway.attempt.outcome"] == "ok"
    assert s["gateway.previous_failure"] == "key_invalid"
    assert f["gateway.key.id"] != s["gateway.key.id"]
    assert {failed.trace_id, served.trace_id} == {server.trace_id}
    assert server.start_time_unix_nano <= failed.start_time_unix_nano
    assert served.end_time_unix_nano <= server.end_time_unix_nano

    # Every span the collector got: no pool key, whole or its first characters, in any value.
    for _, span in received:
        for k, v in attributes(span.attributes).items():
            for key in KEYS:
                assert key not in str(v) and key[:12] not in str(v), f"{span.name}: {k}={v}"
    assert all(path == "/v1/traces" and ctype == "application/x-protobuf"
               for path, ctype in receiver.posts), receiver.posts
