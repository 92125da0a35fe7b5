#!/usr/bin/env python3
"""Benchmark harness: the gateway against the mock upstream, compared with going direct.

Starts the release `mock-gemini` and `gemini-gateway` on free loopback ports, then for each
scenario runs the same load tool with the same settings against the mock directly and through the
gateway, interleaved round by round, and reports the added latency (gateway − direct) at p50/p99
and the throughput ratio. Needs `oha` (cargo install oha) for open-loop fixed-rate latency and
`wrk` (apt install wrk) for saturation throughput.

    python3 bench/bench.py [--rates 500,1000] [--seconds 10] [--rounds 3] [--out docs/PERFORMANCE.md]

With two or more cores (and `taskset`), the gateway runs on core 0 and the mock and the load
tools on core 1, so the gateway's figures are its own. Each fixed-rate gateway run also reads the
gateway's CPU time from /proc: **CPU per request** is what the gateway spent on each.
"""

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"
KEYS = [f"AIzaSyBenchm2Lr8Vt6Wn3Pk1Jh7Gf5Ds0o{i:04d}" for i in range(8)]
BODY = json.dumps({"contents": [{"role": "user", "parts": [{"text": "Benchmark prompt: say hello."}]}]})


PIN = shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2
GATEWAY_CORE, LOAD_CORE = "0", "1"


def pinned(core, cmd):
    return ["taskset", "-c", core, *cmd] if PIN else cmd


def cpu_seconds(pid):
    """CPU time of process `pid` so far, in seconds: the scheduler's nanosecond count summed over
    its threads (`/proc/PID/task/*/schedstat`). `/proc/PID/stat` counts in clock ticks (10 ms),
    which over a 3 s run at 1,000 requests a second is ±3 % of a gateway's CPU per request — as
    much as the changes being measured. A thread that ended during a run takes its time with it;
    the gateway's threads live for the whole run."""
    if not Path(f"/proc/{pid}/schedstat").exists():  # a kernel without CONFIG_SCHEDSTATS
        return sum(user_and_kernel_ticks(pid)) / os.sysconf("SC_CLK_TCK")
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # the thread ended between the listing and the read
    return total / 1e9


def start(cmd, env, pattern):
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    regex = re.compile(pattern)
    found = {}
    ready = threading.Event()

    def pump():
        for raw in proc.stdout:
            m = regex.search(raw.decode(errors="replace"))
            if m and not ready.is_set():
                found["url"] = m.group(1)
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(30) or "url" not in found:
        proc.kill()
        sys.exit(f"could not start {cmd[0]}")
    return proc, found["url"]


def oha(url, rate, seconds, oha_bin, body_file=None):
    """Open-loop load at a fixed rate (`rate=None`: closed loop on one connection); returns
    (p50 ms, p99 ms, success rate, requests)."""
    body = ["-D", body_file] if body_file else ["-d", BODY]
    load = ["-c", "1"] if rate is None else ["-q", str(rate), "--latency-correction", "-c", "64"]
    out = subprocess.run(
        pinned(LOAD_CORE, [oha_bin, "--no-tui", "--output-format", "json", "-z", f"{seconds}s", *load,
         "-m", "POST", "-H", "content-type: application/json", *body, url]),
        check=True, capture_output=True, text=True).stdout
    data = json.loads(out)
    pct = data["latencyPercentiles"]
    codes = data.get("statusCodeDistribution", {})
    ok = codes.get("200", 0) / max(1, sum(codes.values()))
    return pct["p50"] * 1000, pct["p99"] * 1000, ok, sum(codes.values())


def user_and_kernel_ticks(pid):
    """Clock ticks process `pid` has spent in user space and in the kernel (`/proc/PID/stat`)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def oha_cpu(url, rate, seconds, oha_bin, body_file, pid):
    """`oha` against process `pid` (a gateway or the floor): (p50, p99, success, CPU µs per
    request, of which in the kernel). The kernel's part is the CPU time in the share the tick
    counts give it (10 ms ticks: over a few seconds' run, within a few percent)."""
    before, ticks_before = cpu_seconds(pid), user_and_kernel_ticks(pid)
    p50, p99, ok, n = oha(url, rate, seconds, oha_bin, body_file)
    cpu = (cpu_seconds(pid) - before) / max(1, n) * 1e6
    (user, kernel), (user0, kernel0) = user_and_kernel_ticks(pid), ticks_before
    kernel_share = (kernel - kernel0) / max(1, user - user0 + kernel - kernel0)
    return p50, p99, ok, cpu, cpu * kernel_share


def ttfb(url, body_file, n):
    """Closed-loop, one connection: curl's time to first byte and total time per request (ms)."""
    with tempfile.NamedTemporaryFile("w", suffix=".curl", delete=False) as cfg:
        for _ in range(n):
            cfg.write(f'url = "{url}"\noutput = "/dev/null"\n')
    out = subprocess.run(pinned(LOAD_CORE, ["curl", "-s", "-K", cfg.name, "-X", "POST", "-H", "content-type: application/json",
                          "--data-binary", f"@{body_file}", "-w", "%{time_starttransfer} %{time_total}\\n"]),
                         check=True, capture_output=True, text=True).stdout
    rows = [tuple(float(x) * 1000 for x in line.split()) for line in out.splitlines() if line.strip()]
    first = sorted(r[0] for r in rows)
    total = sorted(r[1] for r in rows)
    pct = lambda xs, q: xs[min(len(xs) - 1, int(q * len(xs)))]
    return pct(first, 0.5), pct(first, 0.99), pct(total, 0.5)


def fetch_json(url, method="GET"):
    req = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else None


def post_json(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.read()


def wrk(url, seconds, path_lua):
    """Saturation throughput (requests/s) with 2 threads, 64 connections."""
    out = subprocess.run(pinned(LOAD_CORE, ["wrk", "-t2", "-c64", f"-d{seconds}s", "-s", path_lua, url]),
                         check=True, capture_output=True, text=True).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(m.group(1)) if m else 0.0


def emit(lines, out):
    """Prints the Markdown report, and appends it to `out` when given."""
    report = "\n".join(lines) + "\n"
    print(report)
    if out:
        with open(out, "a") as f:
            f.write("\n" + report)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rates", default="500,1000")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=None, help="append the Markdown report to this file")
    args = ap.parse_args()
    oha_bin = os.environ.get("OHA", shutil.which("oha") or "oha")
    if not shutil.which(oha_bin) and not Path(oha_bin).exists():
        sys.exit("oha not found: cargo install oha (or set OHA=/path/to/oha)")
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install wrk")

    subprocess.run(["cargo", "build", "--release", "--workspace", "--bins", "--quiet"], cwd=ROOT, check=True)
    base_env = {"PATH": os.environ.get("PATH", "")}
    procs = []
    pids = {}  # gateway url → its pid (taskset execs, so the pid is the gateway's)

    state_dir = tempfile.mkdtemp(prefix="gg-bench-state-")

    def gateway(mock_url, **extra):
        gw_env = dict(base_env, GEMINI_API_KEY=",".join(KEYS), GEMINI_BASE_URL=mock_url, PORT="0",
                      LOG_LEVEL="warn", STATE_PATH=tempfile.mkdtemp(dir=state_dir), **extra)
        gw, gw_url = start(pinned(GATEWAY_CORE, [str(TARGET / "gemini-gateway")]), gw_env,
                           r"listening on (http://\S+)")
        procs.append(gw)
        pids[gw_url] = gw.pid
        return gw_url

    def stack(*mock_args):
        mock, mock_url = start(pinned(LOAD_CORE, [str(TARGET / "mock-gemini"), "--port", "0", *mock_args]), base_env,
                               r"listening on (http://\S+)")
        procs.append(mock)
        return mock_url, gateway(mock_url)

    tmp = Path(tempfile.mkdtemp(prefix="gg-bench-"))

    def body_file(name, body):
        path = tmp / name
        path.write_bytes(body if isinstance(body, bytes) else json.dumps(body).encode())
        return str(path)

    def upstream_body_of(mock_url, gw_url, path, body):
        """Sends `body` through the gateway once and returns what reached the mock."""
        fetch_json(mock_url + "/_mock/requests", "DELETE")
        post_json(gw_url + path, body)
        return fetch_json(mock_url + "/_mock/requests")[-1]["body"]

    flash = "/v1beta/models/gemini-3.8-flash"
    key_q = "key=" + KEYS[0]
    small = {"model": "claude-3-5-haiku-latest", "max_tokens": 256,
             "messages": [{"role": "user", "content": "Benchmark prompt: say hello."}]}
    cc = json.loads((ROOT / "tests/fixtures/anthropic/claude-code-first-turn.json").read_text())
    cc["model"] = "claude-3-5-haiku-latest"
    chat = {"model": "gemini-3.8-flash", "max_tokens": 256,
            "messages": [{"role": "user", "content": "Benchmark prompt: say hello."}]}
    responses = {"model": "gemini-3.8-flash", "max_output_tokens": 256, "store": False,
                 "input": "Benchmark prompt: say hello."}
    codex = json.loads((ROOT / "tests/fixtures/openai/codex-turn1.json").read_text())
    codex["model"] = "gemini-3.8-flash"
    try:
        mock_url, gw_url = stack()
        native = body_file("native.json", BODY.encode())
        scenarios = [
            ("native generateContent", f"{mock_url}{flash}:generateContent?{key_q}", native,
             f"{gw_url}{flash}:generateContent", native),
            ("native streamGenerateContent (SSE)", f"{mock_url}{flash}:streamGenerateContent?alt=sse&{key_q}",
             native, f"{gw_url}{flash}:streamGenerateContent?alt=sse", native),
        ]
        for path, label, body, streams in [
            ("/v1/messages", "small", small, (False, True)),
            ("/v1/chat/completions", "small", chat, (False, True)),
            ("/v1/responses", "small", responses, (False, True)),
            ("/v1/messages", "Claude Code first turn, 53 KB, 12 tools", cc, (False, True)),
            ("/v1/responses", "Codex first turn, 46 KB, 9 tools", codex, (True,)),
        ]:
            for stream in streams:
                b = dict(body, stream=stream)
                translated = upstream_body_of(mock_url, gw_url, path, b)
                method = ":streamGenerateContent?alt=sse&" if stream else ":generateContent?"
                scenarios.append((f"{path} {label}{', stream' if stream else ''}",
                                  f"{mock_url}{flash}{method}{key_q}",
                                  body_file(f"direct-{len(scenarios)}.json", translated),
                                  f"{gw_url}{path}", body_file(f"gw-{len(scenarios)}.json", b)))
        rows = []
        for _, d_url, d_body, g_url, g_body in scenarios:  # warm-up
            oha(d_url, 200, 1, oha_bin, d_body)
            oha(g_url, 200, 1, oha_bin, g_body)
        for name, d_url, d_body, g_url, g_body in scenarios:
            for rate in [int(r) for r in args.rates.split(",")]:
                direct, via = [], []
                for _ in range(args.rounds):
                    direct.append(oha(d_url, rate, args.seconds, oha_bin, d_body))
                    via.append(oha_cpu(g_url, rate, args.seconds, oha_bin, g_body, pids[gw_url]))
                med = lambda xs, i: statistics.median(x[i] for x in xs)
                rows.append((name, rate, med(direct, 0), med(via, 0), med(direct, 1), med(via, 1),
                             min(x[2] for x in via), med(via, 3)))

        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
            lua.write('wrk.method = "POST"\nwrk.headers["content-type"] = "application/json"\n'
                      f'wrk.headers["x-goog-api-key"] = "{KEYS[0]}"\nwrk.body = {json.dumps(BODY)}\n')
        thr = []
        for name, d_url, _, g_url, _ in scenarios[:2]:
            d = statistics.median(wrk(d_url, args.seconds, lua.name) for _ in range(args.rounds))
            g = statistics.median(wrk(g_url, args.seconds, lua.name) for _ in range(args.rounds))
            thr.append((name, d, g))

        # The Redis backend against the embedded one: same mock, same load, interleaved.
        redis_rows = []
        if shutil.which("redis-server"):
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                redis_port = sock.getsockname()[1]
            redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
            procs.append(redis)
            for _ in range(200):  # until it accepts connections
                try:
                    socket.create_connection(("127.0.0.1", redis_port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.02)
            redis_gw = gateway(mock_url, REDIS_URL=f"redis://127.0.0.1:{redis_port}/")
            url_e, url_r = f"{gw_url}{flash}:generateContent", f"{redis_gw}{flash}:generateContent"
            oha(url_r, 200, 1, oha_bin, native)
            for rate in [int(r) for r in args.rates.split(",")]:
                emb, red = [], []
                for _ in range(args.rounds):
                    emb.append(oha(url_e, rate, args.seconds, oha_bin, native))
                    red.append(oha(url_r, rate, args.seconds, oha_bin, native))
                med = lambda xs, i: statistics.median(x[i] for x in xs)
                redis_rows.append((rate, med(emb, 0), med(red, 0), med(emb, 1), med(red, 1), min(x[2] for x in red)))

        # Time to first byte and inter-chunk gaps: a mock that streams 4 chunks 20 ms apart.
        slow_mock, slow_gw = stack("--stream-chunks", "4", "--chunk-interval-ms", "20")
        small_stream = dict(small, stream=True)
        translated = upstream_body_of(slow_mock, slow_gw, "/v1/messages", small_stream)
        ttfb_rows = []
        for name, d_url, d_body, g_url, g_body in [
            ("native SSE", f"{slow_mock}{flash}:streamGenerateContent?alt=sse&{key_q}", native,
             f"{slow_gw}{flash}:streamGenerateContent?alt=sse", native),
            ("/v1/messages stream", f"{slow_mock}{flash}:streamGenerateContent?alt=sse&{key_q}",
             body_file("ttfb-direct.json", translated), f"{slow_gw}/v1/messages",
             body_file("ttfb-gw.json", small_stream)),
        ]:
            d = [ttfb(d_url, d_body, 200) for _ in range(args.rounds)]
            g = [ttfb(g_url, g_body, 200) for _ in range(args.rounds)]
            med = lambda xs, i: statistics.median(x[i] for x in xs)
            ttfb_rows.append((name, med(d, 0), med(g, 0), med(d, 1), med(g, 1), med(d, 2), med(g, 2)))
    finally:
        for p in procs:
            p.terminate()

    lines = [f"### {time.strftime('%Y-%m-%d')} — `python3 bench/bench.py --rates {args.rates} "
             f"--seconds {args.seconds} --rounds {args.rounds}`", "",
             f"{os.cpu_count()} cores{' (gateway on core 0; mock and load on core 1)' if PIN else ''}, "
             "loopback, release build, 8 pool keys, mock answering at once; "
             "medians of the rounds. `direct` sends the same (for the translated surfaces: the already translated) "
             "Gemini request straight to the mock.", "",
             "| scenario | rate (req/s) | direct p50 | gateway p50 | **added p50** | direct p99 | gateway p99 | **added p99** | **CPU per request** | gateway success |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, rate, d50, g50, d99, g99, ok, cpu in rows:
        lines.append(f"| {name} | {rate} | {d50:.3f} ms | {g50:.3f} ms | **{g50 - d50:+.3f} ms** | "
                     f"{d99:.3f} ms | {g99:.3f} ms | **{g99 - d99:+.3f} ms** | **{cpu:.0f} µs** | {ok:.2%} |")
    lines += ["", "| scenario (wrk -t2 -c64, saturation) | direct req/s | gateway req/s | **ratio** |",
              "|---|---|---|---|"]
    for name, d, g in thr:
        lines.append(f"| {name} | {d:,.0f} | {g:,.0f} | **{g / d:.2f}** |")
    if redis_rows:
        lines += ["", "State backend: the same gateway on the embedded store vs on a local redis-server "
                  "(native generateContent; every request's key is picked by a Lua script in Redis).", "",
                  "| rate (req/s) | embedded p50 | redis p50 | **Redis extra p50** | embedded p99 | redis p99 | **Redis extra p99** | redis success |",
                  "|---|---|---|---|---|---|---|---|"]
        for rate, e50, r50, e99, r99, ok in redis_rows:
            lines.append(f"| {rate} | {e50:.3f} ms | {r50:.3f} ms | **{r50 - e50:+.3f} ms** | {e99:.3f} ms | "
                         f"{r99:.3f} ms | **{r99 - e99:+.3f} ms** | {ok:.2%} |")
    lines += ["", "Streams of 4 chunks sent 20 ms apart (curl, one connection, 200 requests a round): time to "
              "first byte, and the whole stream (60 ms of upstream gaps; a Nagle stall would add ~40 ms per gap).", "",
              "| stream | direct TTFB p50 | gateway TTFB p50 | **added TTFB p50** | direct TTFB p99 | gateway TTFB p99 | direct whole p50 | gateway whole p50 | **added whole p50** |",
              "|---|---|---|---|---|---|---|---|---|"]
    for name, d50, g50, d99, g99, dt, gt in ttfb_rows:
        lines.append(f"| {name} | {d50:.3f} ms | {g50:.3f} ms | **{g50 - d50:+.3f} ms** | {d99:.3f} ms | "
                     f"{g99:.3f} ms | {dt:.3f} ms | {gt:.3f} ms | **{gt - dt:+.3f} ms** |")
    emit(lines, args.out)


if __name__ == "__main__":
    main()
