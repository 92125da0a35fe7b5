#!/usr/bin/env python3
"""Benchmark harness: the gateway against the mock upstream, compared with going direct.

Starts the release `mock-gemini` and `gemini-gateway` on free loopback ports, then for each
scenario runs the same load tool with the same settings against the mock directly and through the
gateway, interleaved round by round, and reports the added latency (gateway − direct) at p50/p99
and the throughput ratio. Needs `oha` (cargo install oha) for open-loop fixed-rate latency and
`wrk` (apt install wrk) for saturation throughput.

    python3 bench/bench.py [--rates 500,1000] [--seconds 10] [--rounds 3] [--out docs/PERFORMANCE.md]
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"
KEYS = [f"AIzaSyBenchm2Lr8Vt6Wn3Pk1Jh7Gf5Ds0o{i:04d}" for i in range(8)]
BODY = json.dumps({"contents": [{"role": "user", "parts": [{"text": "Benchmark prompt: say hello."}]}]})


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


def oha(url, rate, seconds, oha_bin):
    """Open-loop load at a fixed rate; returns (p50 ms, p99 ms, success rate, rps)."""
    out = subprocess.run(
        [oha_bin, "--no-tui", "--output-format", "json", "-z", f"{seconds}s", "-q", str(rate),
         "--latency-correction", "-c", "64", "-m", "POST", "-H", "content-type: application/json",
         "-d", BODY, url],
        check=True, capture_output=True, text=True).stdout
    data = json.loads(out)
    pct = data["latencyPercentiles"]
    codes = data.get("statusCodeDistribution", {})
    ok = codes.get("200", 0) / max(1, sum(codes.values()))
    return pct["p50"] * 1000, pct["p99"] * 1000, ok, data["summary"]["requestsPerSec"]


def wrk(url, seconds, path_lua):
    """Saturation throughput (requests/s) with 2 threads, 64 connections."""
    out = subprocess.run(["wrk", "-t2", "-c64", f"-d{seconds}s", "-s", path_lua, url],
                         check=True, capture_output=True, text=True).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(m.group(1)) if m else 0.0


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
    mock, mock_url = start([str(TARGET / "mock-gemini"), "--port", "0"], base_env, r"listening on (http://\S+)")
    gw_env = dict(base_env, GEMINI_API_KEY=",".join(KEYS), GEMINI_BASE_URL=mock_url, PORT="0", LOG_LEVEL="warn")
    gw, gw_url = start([str(TARGET / "gemini-gateway")], gw_env, r"listening on (http://\S+)")

    scenarios = [("non-streaming", "/v1beta/models/gemini-2.5-flash:generateContent"),
                 ("streaming (SSE, whole stream)", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")]
    headers = {"x-goog-api-key": KEYS[0]}
    rows = []
    try:
        # Warm both paths (connections, caches).
        for base in (mock_url, gw_url):
            oha(base + scenarios[0][1], 200, 2, oha_bin)
        for name, path in scenarios:
            for rate in [int(r) for r in args.rates.split(",")]:
                direct, via = [], []
                for _ in range(args.rounds):
                    direct.append(oha(mock_url + path + ("&" if "?" in path else "?") + "key=" + KEYS[0], rate, args.seconds, oha_bin))
                    via.append(oha(gw_url + path, rate, args.seconds, oha_bin))
                med = lambda xs, i: statistics.median(x[i] for x in xs)
                rows.append((name, rate, med(direct, 0), med(via, 0), med(direct, 1), med(via, 1),
                             min(x[2] for x in via)))
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
            lua.write('wrk.method = "POST"\nwrk.headers["content-type"] = "application/json"\n'
                      f'wrk.headers["x-goog-api-key"] = "{KEYS[0]}"\nwrk.body = {json.dumps(BODY)}\n')
        thr = []
        for name, path in scenarios:
            d = statistics.median(wrk(mock_url + path, args.seconds, lua.name) for _ in range(args.rounds))
            g = statistics.median(wrk(gw_url + path, args.seconds, lua.name) for _ in range(args.rounds))
            thr.append((name, d, g))
    finally:
        gw.terminate()
        mock.terminate()

    lines = [f"### {time.strftime('%Y-%m-%d')} — `python3 bench/bench.py --rates {args.rates} "
             f"--seconds {args.seconds} --rounds {args.rounds}`", "",
             f"{os.cpu_count()} cores, loopback, release build, 8 pool keys, mock answering at once; "
             "medians of the rounds.", "",
             "| scenario | rate (req/s) | direct p50 | gateway p50 | **added p50** | direct p99 | gateway p99 | **added p99** | gateway success |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, rate, d50, g50, d99, g99, ok in rows:
        lines.append(f"| {name} | {rate} | {d50:.3f} ms | {g50:.3f} ms | **{g50 - d50:+.3f} ms** | "
                     f"{d99:.3f} ms | {g99:.3f} ms | **{g99 - d99:+.3f} ms** | {ok:.2%} |")
    lines += ["", "| scenario (wrk -t2 -c64, saturation) | direct req/s | gateway req/s | **ratio** |",
              "|---|---|---|---|"]
    for name, d, g in thr:
        lines.append(f"| {name} | {d:,.0f} | {g:,.0f} | **{g / d:.2f}** |")
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        with open(args.out, "a") as f:
            f.write("\n" + report)


if __name__ == "__main__":
    main()
