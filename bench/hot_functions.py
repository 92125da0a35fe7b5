#!/usr/bin/env python3
"""The functions a serving gateway runs, listed for the linker to lay out together.

A release build has about 10.8 MB of code, and the functions a gateway runs from start-up
through every surface's requests are about 2.5 MB of it, scattered among the rest. The kernel
maps code in 64 KiB windows around each page it faults in (and this host's in large folios),
so scattered hot code made 7-9 MiB of the binary resident in every gateway, a quarter of its
memory at 1,000 streams. `build.rs` hands `link/hot-functions.txt` to the linker (lld's
`--symbol-ordering-file`), which places the listed functions first, in the order listed:
resident code falls to about 3.6 MiB (docs/PERFORMANCE.md, fifteenth step).

This writes that list: it runs a release gateway under valgrind's callgrind in front of the
mock, once only starting and stopping, then once per surface over plain HTTP and over TLS with
HTTP/2 (as Gemini is reached) with `ab.py`'s scenarios, and once with a few requests of each
other kind, and lists the functions that ran by their exact symbol names: start-up's first,
then those shared by two surfaces or more, then each surface's own, each part hottest first. Those names carry a hash of the build's settings and dependency
versions (not of RUSTFLAGS): after changing Cargo.lock, the toolchain or the release profile,
write the list again, or the names stop matching and the layout falls back to the linker's own
(nothing breaks; `--check` tells).

    python3 bench/hot_functions.py [--binary target/release/gemini-gateway] [--out link/hot-functions.txt]
    python3 bench/hot_functions.py --check [--binary PATH]

Needs valgrind (`apt-get install valgrind`) and oha; takes a few minutes.
"""

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (start, pinning, keys, the build's target folder)
from ab import SCENARIOS, big_scenarios  # noqa: E402  (the scenarios every bench measures)

LIST = bench.ROOT / "link" / "hot-functions.txt"
LISTENING = r"listening on (https?://\S+)"
# Other requests a serving gateway answers, a few each: the code they run is resident too.
OTHERS = [
    ("GET", "/v1/models", None),
    ("GET", "/v1beta/models", None),
    ("POST", "/v1/messages/count_tokens",
     {"model": "claude-3-5-haiku-latest", "messages": [{"role": "user", "content": "Count me."}]}),
    ("POST", "/v1/embeddings", {"model": "gemini-embedding-001", "input": "Embed me."}),
    ("GET", "/health", None),
    ("GET", "/metrics", None),
]


def defined_functions(binary):
    """The function symbols `binary` defines."""
    out = subprocess.run(["nm", "--defined-only", binary], check=True, capture_output=True, text=True).stdout
    return {line.split()[2] for line in out.splitlines() if len(line.split()) == 3 and line.split()[1] in "tTwW"}


def self_costs(dump):
    """Instructions each function ran itself, from a callgrind dump written with --demangle=no."""
    names, costs = {}, collections.Counter()
    current, skip_next = None, False
    for line in Path(dump).read_text(errors="replace").splitlines():
        m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line)
        if m:
            if m.group(3):
                names[m.group(2)] = m.group(3)
            if m.group(1) == "fn":
                current = names.get(m.group(2))
            continue
        if line.startswith("calls="):
            skip_next = True  # the next cost line is the call's inclusive cost
            continue
        m = re.match(r"^[+\-*]?\d*\s+(\d+)$", line)
        if m and current:
            if skip_next:
                skip_next = False
            else:
                costs[current] += int(m.group(1))
    return costs


def send(url, method, path, body, n, tmp, oha_bin):
    cmd = [oha_bin, "--no-tui", "-n", str(n), "-c", "2", "-m", method]
    if body is not None:
        body_file = tmp / f"body-{abs(hash(path + json.dumps(body)))}.json"
        body_file.write_text(json.dumps(body))
        cmd += ["-H", "content-type: application/json", "-D", str(body_file)]
    subprocess.run(bench.pinned(bench.LOAD_CORE, cmd + [url + path]), check=True, capture_output=True)


def profile(binary, upstream, extra, scenarios, others, tmp, oha_bin):
    """Self costs of a gateway in front of `upstream` answering `scenarios` (20 requests each)
    and `others` (4 each), from its start to its exit."""
    out = tmp / f"cg.{len(list(tmp.glob('cg.*')))}"
    env = {"PATH": os.environ.get("PATH", ""), "GEMINI_API_KEY": ",".join(bench.KEYS),
           "GEMINI_BASE_URL": upstream, "PORT": "0", "LOG_LEVEL": "warn",
           "BIG_MODEL": "gemini-3.1-pro-preview", "SMALL_MODEL": "gemini-3.8-flash",
           "STATE_PATH": tempfile.mkdtemp(dir=tmp, prefix="state-"), **extra}
    cmd = ["valgrind", "--tool=callgrind", "--dump-instr=no", "--demangle=no", f"--callgrind-out-file={out}", binary]
    gw, url = bench.start(bench.pinned(bench.GATEWAY_CORE, cmd), env, LISTENING)
    try:
        for _, path, body, stream in scenarios:
            send(url, "POST", path, dict(body, stream=True) if stream else body, 20, tmp, oha_bin)
        for method, path, body in others:
            send(url, method, path, body, 4, tmp, oha_bin)
    finally:
        gw.terminate()
        gw.wait()
    return self_costs(out)


def layout(startup, groups):
    """The order to list functions in: start-up's first (every gateway runs them once), then
    those two or more kinds of request share, then each kind's own, each part hottest first —
    so a gateway serving one surface has little of the others' code resident around its own."""
    runs = collections.Counter(name for costs in groups.values() for name in costs)
    total = sum(groups.values(), collections.Counter())
    order = [name for name, _ in startup.most_common()]
    seen = set(order)
    shared = [name for name, _ in total.most_common() if runs[name] > 1 and name not in seen]
    order += shared
    seen.update(shared)
    for costs in groups.values():
        own = [name for name, _ in costs.most_common() if name not in seen]
        order += own
        seen.update(own)
    return order


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=str(bench.TARGET / "gemini-gateway"))
    ap.add_argument("--out", default=str(LIST))
    ap.add_argument("--check", action="store_true", help="only count the listed names the binary defines")
    args = ap.parse_args()
    defined = defined_functions(args.binary)
    if args.check:
        listed = Path(args.out).read_text().split()
        found = sum(name in defined for name in listed)
        print(f"{found} of {len(listed)} hot functions listed in {args.out} are in {args.binary}")
        return
    if not shutil.which("valgrind"):
        sys.exit("needs valgrind (apt-get install valgrind)")
    oha_bin = os.environ.get("OHA", shutil.which("oha") or "oha")
    tmp = Path(tempfile.mkdtemp(prefix="gg-hot-"))
    mock_bin = str(bench.TARGET / "mock-gemini")
    pem = str(tmp / "upstream.pem")
    procs = []
    try:
        for flags in (["--port", "0"], ["--tls", pem]):
            proc, url = bench.start(bench.pinned(bench.LOAD_CORE, [mock_bin, *flags]),
                                    {"PATH": os.environ.get("PATH", "")}, LISTENING)
            procs.append((proc, url))
        plain, tls = procs[0][1], procs[1][1]
        scenarios = SCENARIOS + big_scenarios()
        startup = profile(args.binary, plain, {}, [], [], tmp, oha_bin)
        groups = {}
        for word in ("native", "/v1/messages", "/v1/chat", "/v1/responses"):
            mine = [s for s in scenarios if word in s[0]]
            groups[word] = profile(args.binary, plain, {}, mine, [], tmp, oha_bin)
            streams = [s for s in mine if "stream" in s[0] and "Claude" not in s[0]]
            groups[word + " over TLS"] = profile(args.binary, tls, {"UPSTREAM_CA_FILE": pem}, streams, [], tmp, oha_bin)
        groups["others"] = profile(args.binary, plain, {}, [], OTHERS, tmp, oha_bin)
    finally:
        for proc, _ in procs:
            proc.terminate()
    hot = [name for name in layout(startup, groups) if name in defined]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(hot) + "\n")
    print(f"{len(hot)} functions written to {args.out}")


if __name__ == "__main__":
    main()
