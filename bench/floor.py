#!/usr/bin/env python3
"""The gateway's cost as a multiple of the physical floor, surface by surface.

The floor is the strictest server we can write (`mock-gemini --floor`: a bare hyper HTTP/1.1
service, no router and no layers, that reads each body and sends the bytes the strict mock
answered the first request of its kind, checking and recording nothing), pinned to the same core
as the gateway. The bench checks that the floor costs no more than the strict mock per native
request (else the ratios would flatter the gateway) and says so in the report. For every scenario, in one run and interleaved round by
round (a fresh floor and a fresh gateway every round), the same load generator (on the other core) sends:

- to the floor, the Gemini request the gateway itself sends upstream (captured once through a
  gateway in front of the strict mock), and
- to the gateway, the client's request; the gateway's own upstream is a second floor server on
  the load core, so the gateway's core does only the gateway's work.

Reported: CPU per request (per stream, for the streamed rows: 20-chunk answers) of the gateway
and of the floor, read from /proc (the scheduler's nanosecond counts) and their ratio; added p50/p99 at a fixed rate
(`oha -q RATE -c 64`, open loop) and on one connection (`oha -c 1`, closed loop); the peak RSS
of a fresh gateway carrying 1,000 concurrent streams; and a 500 KB Claude Code conversation.
Beside them, in the same rounds, the least a proxy can do (`mock-gemini --relay`, a byte relay in
front of the gateway's upstream, sent the floor's requests): its CPU and added latency are the
physical limit of any gateway on this machine.

    [GATEWAY_BIN=path] python3 bench/floor.py [--rate 1000] [--seconds 4] [--rounds 3] [--streams 1000] [--out docs/PERFORMANCE.md]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (start, oha, cpu_seconds, pinning, keys)
import hot_functions  # noqa: E402  (which of the listed hot functions a binary has)
from bench import GATEWAY_CORE, LOAD_CORE, KEYS, ROOT, TARGET, pinned  # noqa: E402

FLASH = "/v1beta/models/gemini-3.8-flash"
CHUNKS = "20"
# The 500 KB conversation's fixed rate (about a millisecond of gateway CPU each: 1,000/s would
# saturate the core and measure the queue).
BIG_RATE = 100
LISTENING = r"listening on (https?://\S+)"
# The gateway measured (GATEWAY_BIN: another build, e.g. the commit before a change).
GATEWAY_BIN = os.environ.get("GATEWAY_BIN", str(TARGET / "gemini-gateway"))


def peak_rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def conversation(target_bytes):
    """A Claude Code conversation of about `target_bytes`: the real first turn, then turns of
    reading files (tool calls and results) until the body is that large."""
    cc = json.loads((ROOT / "tests/fixtures/anthropic/claude-code-first-turn.json").read_text())
    cc["model"] = "claude-3-5-haiku-latest"
    source = (ROOT / "src/dispatch/mod.rs").read_text()
    i = 0
    while len(json.dumps(cc)) < target_bytes:
        i += 1
        cc["messages"].append({"role": "assistant", "content": [
            {"type": "text", "text": f"Reading part {i} of the dispatcher."},
            {"type": "tool_use", "id": f"toolu_{i:04d}", "name": "Read",
             "input": {"file_path": f"/work/src/dispatch/part{i}.rs"}}]})
        cc["messages"].append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": f"toolu_{i:04d}", "content": source[:6000]},
            {"type": "text", "text": f"Go on with part {i + 1}."}]})
    return cc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--streams", type=int, default=1000)
    ap.add_argument("--out", default=None, help="append the Markdown report to this file")
    ap.add_argument("--only", default=None, help="run only scenarios whose name contains one of these (comma-separated)")
    args = ap.parse_args()
    oha_bin = os.environ.get("OHA", shutil.which("oha") or "oha")
    subprocess.run(["cargo", "build", "--release", "--workspace", "--bins", "--quiet"], cwd=ROOT, check=True)
    base_env = {"PATH": os.environ.get("PATH", "")}
    tmp = Path(tempfile.mkdtemp(prefix="gg-floor-"))
    procs = []

    def spawn(core, cmd, env=base_env):
        proc, url = bench.start(pinned(core, cmd), env, LISTENING)
        procs.append(proc)
        return proc, url

    def gateway(upstream, core=GATEWAY_CORE, **extra):
        # The tiers named, so that an older build (whose defaults are retired models) makes the
        # same calls as this one.
        env = dict(base_env, GEMINI_API_KEY=",".join(KEYS), GEMINI_BASE_URL=upstream, PORT="0",
                   LOG_LEVEL="warn", STATE_PATH=tempfile.mkdtemp(dir=tmp),
                   BIG_MODEL="gemini-3.1-pro-preview", SMALL_MODEL="gemini-3.8-flash", **extra)
        return spawn(core, [GATEWAY_BIN], env)

    def body_file(name, body):
        path = tmp / name
        path.write_bytes(json.dumps(body).encode())
        return str(path)

    small = {"model": "claude-3-5-haiku-latest", "max_tokens": 256,
             "messages": [{"role": "user", "content": "Benchmark prompt: say hello."}]}
    chat = {"model": "gemini-3.8-flash", "max_tokens": 256,
            "messages": [{"role": "user", "content": "Benchmark prompt: say hello."}]}
    responses = {"model": "gemini-3.8-flash", "max_output_tokens": 256, "store": False,
                 "input": "Benchmark prompt: say hello."}
    cc = json.loads((ROOT / "tests/fixtures/anthropic/claude-code-first-turn.json").read_text())
    cc["model"] = "claude-3-5-haiku-latest"
    big = conversation(500_000)
    native = json.loads(bench.BODY)
    cases = [  # (name, gateway path, client body, stream)
        ("native generateContent", f"{FLASH}:generateContent", native, False),
        ("native streamGenerateContent (SSE)", f"{FLASH}:streamGenerateContent?alt=sse", native, True),
        ("/v1/messages", "/v1/messages", small, False),
        ("/v1/messages, stream", "/v1/messages", small, True),
        ("/v1/chat/completions", "/v1/chat/completions", chat, False),
        ("/v1/chat/completions, stream", "/v1/chat/completions", chat, True),
        ("/v1/responses", "/v1/responses", responses, False),
        ("/v1/responses, stream", "/v1/responses", responses, True),
        ("/v1/messages Claude Code 53 KB, stream", "/v1/messages", cc, True),
        (f"/v1/messages conversation {len(json.dumps(big)) // 1000} KB", "/v1/messages", big, False),
    ]
    if args.only:
        cases = [c for c in cases if any(word in c[0] for word in args.only.split(","))]
    try:
        # What the gateway sends upstream for each case, from a gateway in front of the strict mock.
        mock, mock_url = spawn(LOAD_CORE, [str(TARGET / "mock-gemini"), "--port", "0"])
        capture_proc, capture = gateway(mock_url, core=LOAD_CORE)
        scenarios = []
        for i, (name, path, body, stream) in enumerate(cases):
            client_body = dict(body, stream=True) if stream and not path.startswith(FLASH) else body
            bench.fetch_json(mock_url + "/_mock/requests", "DELETE")
            bench.post_json(capture + path, client_body)
            upstream = bench.fetch_json(mock_url + "/_mock/requests")[-1]
            method = ":streamGenerateContent?alt=sse&" if stream else ":generateContent?"
            scenarios.append((name, stream, f"{FLASH}{method}key={KEYS[0]}",
                              body_file(f"floor-{i}.json", upstream["body"]), path,
                              body_file(f"gw-{i}.json", client_body)))
        for p in (capture_proc, mock):
            p.terminate()
            procs.remove(p)

        floor_proc, floor = spawn(GATEWAY_CORE, [str(TARGET / "mock-gemini"), "--floor", "--port", "0",
                                                 "--stream-chunks", CHUNKS])
        _, upstream = spawn(LOAD_CORE, [str(TARGET / "mock-gemini"), "--floor", "--port", "0",
                                        "--stream-chunks", CHUNKS])
        gw_proc, gw = gateway(upstream)
        for _, _, f_path, f_body, g_path, g_body in scenarios:  # warm-up (and the floors' first answers)
            bench.oha(floor + f_path, 200, 1, oha_bin, f_body)
            bench.oha(gw + g_path, 200, 1, oha_bin, g_body)
        # The floor must be no slower than the strict mock on the same request and core.
        strict_proc, strict = spawn(GATEWAY_CORE, [str(TARGET / "mock-gemini"), "--port", "0",
                                                   "--stream-chunks", CHUNKS])
        native_case = next(s for s in scenarios if not s[1])
        bench.oha(strict + native_case[2], 200, 1, oha_bin, native_case[3])
        floor_check = {"floor": [], "strict": []}
        for _ in range(args.rounds):
            for label, pid, url in (("floor", floor_proc.pid, floor), ("strict", strict_proc.pid, strict)):
                floor_check[label].append(
                    bench.oha_cpu(url + native_case[2], args.rate, args.seconds, oha_bin, native_case[3], pid)[3])
        strict_proc.terminate()
        procs.remove(strict_proc)
        floor_cpu = statistics.median(floor_check["floor"])
        strict_cpu = statistics.median(floor_check["strict"])
        if floor_cpu > strict_cpu * 1.05:
            sys.exit(f"the floor ({floor_cpu:.0f} µs) costs more than the strict mock ({strict_cpu:.0f} µs): "
                     "it is not a floor")
        rows = []
        for name, stream, f_path, f_body, g_path, g_body in scenarios:
            rate = BIG_RATE if "conversation" in name else args.rate
            at_rate = {"floor": [], "gw": [], "relay": []}
            one = {"floor": [], "gw": [], "relay": []}
            for _ in range(args.rounds):
                # A fresh floor and gateway every round: two processes of one build differ by up to
                # ±10 % for their whole lives (heap and hash layout), which would otherwise decide
                # a ratio instead of averaging out over the rounds.
                for p in (floor_proc, gw_proc):
                    p.terminate()
                    p.wait()
                    procs.remove(p)
                floor_proc, floor = spawn(GATEWAY_CORE, [str(TARGET / "mock-gemini"), "--floor", "--port", "0",
                                                         "--stream-chunks", CHUNKS])
                gw_proc, gw = gateway(upstream)
                bench.oha(floor + f_path, 200, 1, oha_bin, f_body)
                bench.oha(gw + g_path, 200, 1, oha_bin, g_body)
                # The least a proxy can do: the floor's own request through a byte relay on the
                # gateway's core to the gateway's upstream.
                relay_proc, relay = spawn(GATEWAY_CORE, [str(TARGET / "mock-gemini"), "--relay",
                                                         upstream.split("//", 1)[1]])
                bench.oha(relay + f_path, 200, 1, oha_bin, f_body)
                for label, pid, url, body in (("floor", floor_proc.pid, floor + f_path, f_body),
                                              ("gw", gw_proc.pid, gw + g_path, g_body),
                                              ("relay", relay_proc.pid, relay + f_path, f_body)):
                    at_rate[label].append(bench.oha_cpu(url, rate, args.seconds, oha_bin, body, pid))
                    one[label].append(bench.oha_cpu(url, None, args.seconds, oha_bin, body, pid))
                relay_proc.terminate()
                procs.remove(relay_proc)
            med = lambda runs, i: statistics.median(r[i] for r in runs)
            rows.append(dict(
                name=name, stream=stream, rate=rate,
                floor_cpu=med(at_rate["floor"], 3), gw_cpu=med(at_rate["gw"], 3),
                floor_kernel=med(at_rate["floor"], 4), gw_kernel=med(at_rate["gw"], 4),
                rate_f50=med(at_rate["floor"], 0), rate_g50=med(at_rate["gw"], 0),
                rate_f99=med(at_rate["floor"], 1), rate_g99=med(at_rate["gw"], 1),
                one_f50=med(one["floor"], 0), one_g50=med(one["gw"], 0),
                one_f99=med(one["floor"], 1), one_g99=med(one["gw"], 1),
                relay_cpu=med(at_rate["relay"], 3), one_r50=med(one["relay"], 0),
                ok=min(r[2] for r in at_rate["gw"] + one["gw"])))

        # Peak memory: a fresh gateway carrying N concurrent 20-chunk streams, 1 s each.
        _, slow = spawn(LOAD_CORE, [str(TARGET / "mock-gemini"), "--port", "0", "--stream-chunks", CHUNKS,
                                    "--chunk-interval-ms", "50"])
        # The same over TLS with HTTP/2, as Gemini serves: the streams share upstream connections.
        pem = str(tmp / "upstream.pem")
        _, slow_tls = spawn(LOAD_CORE, [str(TARGET / "mock-gemini"), "--tls", pem, "--stream-chunks", CHUNKS,
                                        "--chunk-interval-ms", "50"])
        rss_rows = []
        sse = f"{FLASH}:streamGenerateContent?alt=sse"
        for name, path, body, upstream, extra in [
            ("native SSE", sse, native, slow, {}),
            ("/v1/messages, stream", "/v1/messages", dict(small, stream=True), slow, {}),
            ("native SSE, upstream over TLS + HTTP/2", sse, native, slow_tls, {"UPSTREAM_CA_FILE": pem}),
            ("/v1/messages, stream, upstream over TLS + HTTP/2", "/v1/messages", dict(small, stream=True),
             slow_tls, {"UPSTREAM_CA_FILE": pem}),
        ]:
            proc, url = gateway(upstream, **extra)
            idle = peak_rss_mib(proc.pid)
            f = body_file("streams.json", body)
            out = subprocess.run(pinned(LOAD_CORE, [oha_bin, "--no-tui", "--output-format", "json",
                                                    "-n", str(args.streams), "-c", str(args.streams),
                                                    "-m", "POST", "-H", "content-type: application/json",
                                                    "-D", f, url + path]),
                                 check=True, capture_output=True, text=True).stdout
            codes = json.loads(out).get("statusCodeDistribution", {})
            rss_rows.append((name, idle, peak_rss_mib(proc.pid), codes.get("200", 0)))
            proc.terminate()
            procs.remove(proc)
    finally:
        for p in procs:
            p.terminate()

    lines = [f"### {time.strftime('%Y-%m-%d')} — `python3 bench/floor.py --rate {args.rate} "
             f"--seconds {args.seconds} --rounds {args.rounds} --streams {args.streams}`", "",
             f"{os.cpu_count()} cores; the gateway and the floor each on core {GATEWAY_CORE}, the load generator "
             f"and the gateway's own upstream (a second floor server) on core {LOAD_CORE}. Streams are "
             f"{CHUNKS}-chunk SSE answers. Medians of {args.rounds} interleaved rounds, each with a fresh floor "
             f"and gateway. The floor "
             f"(a bare hyper service) costs {floor_cpu:.0f} µs per native request against the strict "
             f"mock's {strict_cpu:.0f} µs on the same core: no slower, as a floor must be. In the kernel: "
             "the part of each CPU figure spent there (the share of its clock ticks); the gateway receives "
             "and sends on two connections where the floor does on one, so its kernel time alone is "
             "a multiple of the floor's whole cost (the last such column).", "",
             "| scenario | floor CPU | gateway CPU | **× floor** | in the kernel: floor | gateway | gateway's × floor "
             "| rate | added p50 @ rate | added p99 @ rate "
             "| floor p50, 1 conn | gateway p50, 1 conn | **added p50, 1 conn** | added p99, 1 conn | success |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        unit = "per stream" if r["stream"] else "per request"
        lines.append(
            f"| {r['name']} | {r['floor_cpu']:.0f} µs | {r['gw_cpu']:.0f} µs {unit} | **{r['gw_cpu'] / r['floor_cpu']:.1f}×** | "
            f"{r['floor_kernel']:.0f} µs | {r['gw_kernel']:.0f} µs | {r['gw_kernel'] / r['floor_cpu']:.1f}× | {r['rate']}/s | "
            f"{r['rate_g50'] - r['rate_f50']:+.3f} ms | {r['rate_g99'] - r['rate_f99']:+.3f} ms | "
            f"{r['one_f50']:.3f} ms | {r['one_g50']:.3f} ms | **{r['one_g50'] - r['one_f50']:+.3f} ms** | "
            f"{r['one_g99'] - r['one_f99']:+.3f} ms | {r['ok']:.2%} |")
    lines += ["", "The least a proxy can do, measured in the same rounds: the floor's own requests through a "
              "byte relay on the gateway's core (`mock-gemini --relay`: each connection copied both ways to "
              "one of its own to the gateway's upstream, no HTTP) — the physical limit of a proxy here, "
              "against which the gateway's own work is what is left:", "",
              "| scenario | relay CPU | **relay × floor** | gateway × relay | relay's added p50, 1 conn "
              "| **gateway's beyond the relay's** |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['relay_cpu']:.0f} µs | **{r['relay_cpu'] / r['floor_cpu']:.1f}×** | "
            f"{r['gw_cpu'] / r['relay_cpu']:.1f}× | {r['one_r50'] - r['one_f50']:+.3f} ms | "
            f"**{r['one_g50'] - r['one_r50']:+.3f} ms** |")
    listed = (ROOT / "link" / "hot-functions.txt").read_text().split()
    defined = hot_functions.defined_functions(GATEWAY_BIN)
    lines += ["", f"{args.streams} concurrent streams (20 chunks, 50 ms apart) through a fresh gateway; the "
              "upstream is the strict mock over plain HTTP/1.1 (one connection per stream), or over TLS "
              "with HTTP/2 as Gemini itself is reached. The binary has "
              f"{sum(name in defined for name in listed)} of the {len(listed)} functions "
              "`link/hot-functions.txt` lists to be laid out together:", "",
              "| stream | RSS idle | **peak RSS** | streams answered 200 |", "|---|---|---|---|"]
    for name, idle, peak, ok in rss_rows:
        lines.append(f"| {name} | {idle:.1f} MiB | **{peak:.1f} MiB** | {ok} of {args.streams} |")
    bench.emit(lines, args.out)


if __name__ == "__main__":
    main()
