#!/usr/bin/env python3
"""Two builds of the gateway side by side: CPU per request and added latency, interleaved.

For a change whose cost is a few percent (metrics, a new check on the hot path), two runs of
`bench.py` drift more between each other than the change moves. This starts both gateways at
once, each on the gateway core, in front of one mock, and alternates the same fixed-rate load
between them round by round, so both see the same machine at the same time.

    python3 bench/ab.py BEFORE_BIN AFTER_BIN [--rate 1000] [--seconds 5] [--rounds 7]

BEFORE_BIN and AFTER_BIN are `gemini-gateway` binaries (for example from a `git worktree` of the
earlier commit built with its own CARGO_TARGET_DIR); the mock is this tree's release build.
They may be the same binary with different settings: `--before-env` / `--after-env NAME=VALUE`
(repeatable) add to one side's environment, and `--otlp-sink` starts a do-nothing OTLP/HTTP
collector (`otlp_sink.py`, on the load core) and points the after gateway's
`OTEL_EXPORTER_OTLP_ENDPOINT` at it — what traces cost:

    python3 bench/ab.py BIN BIN --otlp-sink --rounds 3

Two processes of the same build differ by up to ±10 % in CPU per request for the whole of their
lives (measured: `ab.py X X`); `--fresh` starts both gateways anew every round, so that this
averages out over the rounds instead of deciding the result.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (the harness's helpers: start, oha, oha_cpu, pinning)

SCENARIOS = [
    # (name, path, body, stream)
    ("native generateContent", "/v1beta/models/gemini-3.8-flash:generateContent",
     json.loads(bench.BODY), False),
    ("native streamGenerateContent (SSE)", "/v1beta/models/gemini-3.8-flash:streamGenerateContent?alt=sse",
     json.loads(bench.BODY), False),
    ("/v1/messages small", "/v1/messages",
     {"model": "claude-3-5-haiku-latest", "max_tokens": 256,
      "messages": [{"role": "user", "content": "Benchmark prompt: say hello."}]}, False),
    ("/v1/messages small, stream", "/v1/messages",
     {"model": "claude-3-5-haiku-latest", "max_tokens": 256,
      "messages": [{"role": "user", "content": "Benchmark prompt: say hello."}]}, True),
    ("/v1/chat/completions small", "/v1/chat/completions",
     {"model": "gemini-3.8-flash", "max_tokens": 256,
      "messages": [{"role": "user", "content": "Benchmark prompt: say hello."}]}, False),
    ("/v1/chat/completions small, stream", "/v1/chat/completions",
     {"model": "gemini-3.8-flash", "max_tokens": 256,
      "messages": [{"role": "user", "content": "Benchmark prompt: say hello."}]}, True),
    ("/v1/responses small", "/v1/responses",
     {"model": "gemini-3.8-flash", "max_output_tokens": 256, "store": False,
      "input": "Benchmark prompt: say hello."}, False),
    ("/v1/responses small, stream", "/v1/responses",
     {"model": "gemini-3.8-flash", "max_output_tokens": 256, "store": False,
      "input": "Benchmark prompt: say hello."}, True),
]


def big_scenarios():
    """Claude Code's real first turn (53 KB, 12 tools) and a 500 KB conversation."""
    import floor  # noqa: E402  (the floor harness's conversation builder)
    cc = json.loads((bench.ROOT / "tests/fixtures/anthropic/claude-code-first-turn.json").read_text())
    cc["model"] = "claude-3-5-haiku-latest"
    return [("/v1/messages Claude Code 53 KB, stream", "/v1/messages", cc, True),
            ("/v1/messages conversation 500 KB", "/v1/messages", floor.conversation(500_000), False)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--only", default=None, help="scenarios whose name contains one of these (comma-separated)")
    ap.add_argument("--before-env", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--after-env", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--chunks", type=int, default=None,
                    help="chunks per streamed answer (the mock's --stream-chunks; floor.py uses 20)")
    ap.add_argument("--fresh", action="store_true",
                    help="start both gateways anew for every round: a process's own luck (its heap and "
                         "hash layout) then averages out over the rounds instead of favouring one side")
    ap.add_argument("--otlp-sink", action="store_true",
                    help="the after gateway sends traces to a local OTLP/HTTP sink")
    args = ap.parse_args()
    extra = {side: dict(e.split("=", 1) for e in getattr(args, f"{side}_env")) for side in ("before", "after")}
    scenarios = SCENARIOS + big_scenarios()
    if args.only:
        scenarios = [c for c in scenarios if any(w in c[0] for w in args.only.split(","))]
    oha_bin = os.environ.get("OHA", shutil.which("oha") or "oha")
    procs = []
    tmp = Path(tempfile.mkdtemp(prefix="gg-ab-"))
    try:
        chunks = ["--stream-chunks", str(args.chunks)] if args.chunks else []
        mock, mock_url = bench.start(bench.pinned(bench.LOAD_CORE, [str(bench.TARGET / "mock-gemini"), "--port", "0",
                                                                     *chunks]),
                                     {"PATH": os.environ.get("PATH", "")}, r"listening on (http://\S+)")
        procs.append(mock)
        sink_url = None
        if args.otlp_sink:
            sink, sink_url = bench.start(
                bench.pinned(bench.LOAD_CORE, [sys.executable, str(Path(__file__).resolve().parent / "otlp_sink.py")]),
                {"PATH": os.environ.get("PATH", "")}, r"listening on (http://\S+)")
            procs.append(sink)
            extra["after"].setdefault("OTEL_EXPORTER_OTLP_ENDPOINT", sink_url)
        def start_gateways():
            started = []
            for label, binary in [("before", args.before), ("after", args.after)]:
                # Both on today's models by name: a build from before the live catalog defaults
                # to models the mock (like Google) no longer serves.
                env = {"PATH": os.environ.get("PATH", ""), "GEMINI_API_KEY": ",".join(bench.KEYS),
                       "GEMINI_BASE_URL": mock_url, "PORT": "0", "LOG_LEVEL": "warn",
                       "BIG_MODEL": "gemini-3.1-pro-preview", "SMALL_MODEL": "gemini-3.8-flash",
                       "STATE_PATH": tempfile.mkdtemp(dir=tmp, prefix=f"state-{label}-")}
                env.update(extra[label])
                gw, url = bench.start(bench.pinned(bench.GATEWAY_CORE, [binary]), env, r"listening on (http://\S+)")
                procs.append(gw)
                started.append((label, url, gw))
            return started

        def stop(started):
            for _, _, gw in started:
                gw.terminate()
                gw.wait()
                procs.remove(gw)

        gateways = start_gateways()
        rows = []
        for i, (name, path, body, stream) in enumerate(scenarios):
            rate = min(args.rate, 100) if "conversation" in name else args.rate
            body_file = tmp / f"body-{i}.json"
            body_file.write_text(json.dumps(dict(body, stream=True) if stream else body))
            runs = {label: [] for label, _, _ in gateways}
            for r in range(args.rounds):
                if args.fresh and (i or r):
                    stop(gateways)
                    gateways = start_gateways()
                if args.fresh or r == 0:
                    for _, url, _ in gateways:  # warm-up
                        bench.oha(url + path, 200, 1, oha_bin, str(body_file))
                order = gateways if r % 2 == 0 else gateways[::-1]
                for label, url, gw in order:
                    runs[label].append(bench.oha_cpu(url + path, rate, args.seconds, oha_bin, str(body_file), gw.pid))
            med = lambda label, i: statistics.median(x[i] for x in runs[label])
            rows.append((name, med("before", 3), med("after", 3), med("before", 0), med("after", 0)))
        sink_count = None
        if sink_url:
            import urllib.request
            with urllib.request.urlopen(sink_url + "/count", timeout=5) as resp:
                sink_count = json.loads(resp.read())
    finally:
        for p in procs:
            p.terminate()

    print(f"`python3 bench/ab.py BEFORE AFTER --rate {args.rate} --seconds {args.seconds} --rounds {args.rounds}`"
          " (both gateways on the gateway core, rounds alternated; medians)\n")
    print("| scenario | CPU per request before | after | **change** | gateway p50 before | after |")
    print("|---|---|---|---|---|---|")
    for name, cb, ca, pb, pa in rows:
        print(f"| {name} | {cb:.0f} µs | {ca:.0f} µs | **{(ca - cb) / cb:+.1%}** | {pb:.3f} ms | {pa:.3f} ms |")
    if sink_count:
        print(f"\nThe OTLP sink took {sink_count['exports']} exports, {sink_count['bytes'] / 1e6:.1f} MB.")


if __name__ == "__main__":
    main()
