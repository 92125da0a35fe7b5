#!/usr/bin/env python3
"""Two builds of the gateway side by side: instructions executed per request, counted by callgrind.

`ab.py` measures CPU time, which on a small shared machine moves ±5–13 % between runs of the same
build; a change worth 1–3 % (an allocation per event, a timer per chunk) cannot be told from
noise there. This counts the instructions the gateway executes instead, which repeat from run to
run of one build within a few tenths of a percent. Each gateway runs under valgrind's callgrind in
front of the mock (one at a time); per scenario, after a warm-up its counters are zeroed
(`callgrind_control -z`), a fixed number of requests is sent, and the counters are dumped
(`callgrind_control -d`), so start-up and shutdown are not counted.

    python3 bench/instructions.py BEFORE_BIN AFTER_BIN [--requests 200] [--runs 2] [--only NAMES]

Instructions are not cycles: a contended lock, a cache miss or a system call counts as one or a
few, so a change that removes work shows here and one that removes waiting or contention does
not. What matters is confirmed with `ab.py`. Needs valgrind (`apt-get install valgrind`); the
gateway runs about 30× slower under it, so a run of every scenario takes a few minutes.
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (the harness's helpers: start, pinning, keys)
from ab import SCENARIOS, big_scenarios  # noqa: E402  (the same scenarios as the CPU comparison)


def send(url, n, oha_bin, body_file):
    """`n` requests on 4 connections; the number answered 200."""
    out = subprocess.run(
        bench.pinned(bench.LOAD_CORE, [oha_bin, "--no-tui", "--output-format", "json", "-n", str(n), "-c", "4",
                                       "-m", "POST", "-H", "content-type: application/json", "-D", body_file, url]),
        check=True, capture_output=True, text=True).stdout
    return json.loads(out).get("statusCodeDistribution", {}).get("200", 0)


def counted(pid, dumps_before, out_dir):
    """Dumps `pid`'s counters and returns the instructions since they were last zeroed."""
    subprocess.run(["callgrind_control", "-d", str(pid)], check=True, capture_output=True)
    dumps = sorted(out_dir.glob(f"cg.{pid}.*"), key=lambda p: int(p.suffix[1:]))
    fresh = [d for d in dumps if d not in dumps_before]
    if not fresh:
        sys.exit("callgrind wrote no dump")
    m = re.search(r"^summary:\s+(\d+)", fresh[-1].read_text(errors="replace"), re.M)
    return int(m.group(1))


def measure(binary, scenarios, mock_url, args, tmp, oha_bin):
    """Instructions per request for each scenario, through one gateway under callgrind."""
    env = {"PATH": os.environ.get("PATH", ""), "GEMINI_API_KEY": ",".join(bench.KEYS),
           "GEMINI_BASE_URL": mock_url, "PORT": "0", "LOG_LEVEL": "warn",
           "BIG_MODEL": "gemini-3.1-pro-preview", "SMALL_MODEL": "gemini-3.8-flash",
           "STATE_PATH": tempfile.mkdtemp(dir=tmp, prefix="state-")}
    out_dir = Path(tempfile.mkdtemp(dir=tmp, prefix="cg-"))
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_dir}/cg.%p", "--dump-instr=no", binary]
    gw, url = bench.start(bench.pinned(bench.GATEWAY_CORE, cmd), env, r"listening on (http://\S+)")
    per_request = {}
    try:
        for i, (name, path, body, stream) in enumerate(scenarios):
            body_file = tmp / f"body-{i}.json"
            body_file.write_text(json.dumps(dict(body, stream=True) if stream else body))
            send(url + path, 20, oha_bin, str(body_file))  # warm-up: pools, caches, the catalog
            subprocess.run(["callgrind_control", "-z", str(gw.pid)], check=True, capture_output=True)
            dumps_before = set(out_dir.glob(f"cg.{gw.pid}.*"))
            n = args.requests // 10 if "conversation" in name else args.requests
            ok = send(url + path, n, oha_bin, str(body_file))
            if ok != n:
                sys.exit(f"{name}: {ok} of {n} answered 200")
            per_request[name] = counted(gw.pid, dumps_before, out_dir) / n
    finally:
        gw.terminate()
        gw.wait()
    return per_request


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--requests", type=int, default=200, help="requests counted per scenario (a tenth for 500 KB)")
    ap.add_argument("--runs", type=int, default=2, help="runs of each build, alternated")
    ap.add_argument("--only", default=None, help="scenarios whose name contains one of these (comma-separated)")
    ap.add_argument("--chunks", type=int, default=20, help="chunks per streamed answer (the mock's --stream-chunks)")
    args = ap.parse_args()
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        sys.exit("needs valgrind (apt-get install valgrind)")
    scenarios = SCENARIOS + big_scenarios()
    if args.only:
        scenarios = [c for c in scenarios if any(w in c[0] for w in args.only.split(","))]
    oha_bin = os.environ.get("OHA", shutil.which("oha") or "oha")
    tmp = Path(tempfile.mkdtemp(prefix="gg-instr-"))
    mock, mock_url = bench.start(
        bench.pinned(bench.LOAD_CORE, [str(bench.TARGET / "mock-gemini"), "--port", "0",
                                       "--stream-chunks", str(args.chunks)]),
        {"PATH": os.environ.get("PATH", "")}, r"listening on (http://\S+)")
    runs = {"before": [], "after": []}
    try:
        for r in range(args.runs):
            order = [("before", args.before), ("after", args.after)]
            for label, binary in (order if r % 2 == 0 else order[::-1]):
                runs[label].append(measure(binary, scenarios, mock_url, args, tmp, oha_bin))
    finally:
        mock.terminate()

    print(f"`python3 bench/instructions.py BEFORE AFTER --requests {args.requests} --runs {args.runs}` "
          "(instructions per request under callgrind; medians of the runs, each run's spread beside)\n")
    print("| scenario | before | after | **change** | spread before | spread after |")
    print("|---|---|---|---|---|---|")
    for name, *_ in scenarios:
        b = [run[name] for run in runs["before"]]
        a = [run[name] for run in runs["after"]]
        mb, ma = statistics.median(b), statistics.median(a)
        spread = lambda xs, m: (max(xs) - min(xs)) / m
        print(f"| {name} | {mb:,.0f} | {ma:,.0f} | **{(ma - mb) / mb:+.1%}** | ±{spread(b, mb) / 2:.1%} | "
              f"±{spread(a, ma) / 2:.1%} |")


if __name__ == "__main__":
    main()
