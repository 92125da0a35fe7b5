#!/usr/bin/env python3
"""A do-nothing OTLP/HTTP collector for `ab.py --otlp-sink`: answers 200 to every POST to
/v1/traces (an empty ExportTraceServiceResponse is zero bytes of protobuf) without decoding it,
and tells on GET /count how many exports and bytes it took, so a run shows that spans did leave.

    python3 bench/otlp_sink.py   # prints "listening on http://127.0.0.1:PORT"
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COUNT = {"exports": 0, "bytes": 0}


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        n = int(self.headers.get("content-length", 0))
        self.rfile.read(n)
        ok = self.path == "/v1/traces"
        if ok:
            COUNT["exports"] += 1
            COUNT["bytes"] += n
        self.send_response(200 if ok else 404)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def do_GET(self):
        body = json.dumps(COUNT).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)
