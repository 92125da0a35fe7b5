"""End-to-end fixtures: the built mock-gemini and gemini-gateway binaries on free ports.

The binaries come from `target/debug` (built by `scripts/test`); GATEWAY_BIN / MOCK_BIN override.
"""

import contextlib
import json
import os
import re
import subprocess
import tempfile
import threading
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
GATEWAY_BIN = os.environ.get("GATEWAY_BIN", str(TARGET / "debug" / "gemini-gateway"))
MOCK_BIN = os.environ.get("MOCK_BIN", str(TARGET / "debug" / "mock-gemini"))

KEYS = [f"AIzaSyE2eQm2Lr8Vt6Wn3Pk1Jh7Gf5Ds0o_{i:04d}" for i in range(3)]


def _wait_for_line(proc, pattern, lines):
    """Reads the process output until a line matches; keeps every line in `lines`."""
    regex = re.compile(pattern)
    found = {}
    event = threading.Event()

    def pump():
        for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            lines.append(line)
            m = regex.search(line)
            if m and not event.is_set():
                found["m"] = m
                event.set()
        event.set()

    threading.Thread(target=pump, daemon=True).start()
    if not event.wait(30) or "m" not in found:
        proc.kill()
        raise RuntimeError(f"process did not start: {lines}")
    return found["m"]


class Mock:
    def __init__(self, url):
        self.url = url

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            return json.loads(raw) if raw else None

    def script(self, key, behaviour, model=None, times=None):
        self._call("POST", "/_mock/rules", {"key": key, "model": model, "times": times, "behaviour": behaviour})

    def reset(self):
        self._call("DELETE", "/_mock/rules")
        self._call("DELETE", "/_mock/requests")

    def requests(self):
        return self._call("GET", "/_mock/requests")


class Gateway:
    def __init__(self, url, lines):
        self.url = url
        self.lines = lines

    def status(self):
        with urllib.request.urlopen(self.url + "/v1/keys/status", timeout=10) as resp:
            return json.loads(resp.read())


@pytest.fixture(scope="session")
def mock_server():
    proc = subprocess.Popen([MOCK_BIN, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines = []
    m = _wait_for_line(proc, r"listening on (http://\S+)", lines)
    yield Mock(m.group(1))
    proc.terminate()
    proc.wait(10)


@contextlib.contextmanager
def start_gateway(mock_server, **extra_env):
    """Runs a gateway over the pool KEYS against `mock_server`; `extra_env` adds or overrides
    environment variables (e.g. BIG_MODEL). On exit it must stop cleanly and its log must not
    contain a whole pool key."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "GEMINI_API_KEY": ",".join(KEYS),
        "GEMINI_BASE_URL": mock_server.url,
        "HOST": "127.0.0.1",
        "PORT": "0",
        "LOG_LEVEL": "debug",
        "STATE_PATH": tempfile.mkdtemp(prefix="gg-e2e-state-"),
    }
    env.update(extra_env)
    proc = subprocess.Popen([GATEWAY_BIN], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            cwd=str(ROOT / "tests" / "e2e"))
    lines = []
    try:
        m = _wait_for_line(proc, r"listening on (http://\S+)", lines)
        yield Gateway(m.group(1), lines)
    finally:
        if proc.poll() is None:
            proc.terminate()
    assert proc.wait(10) == 0
    log = "\n".join(lines)
    for k in KEYS:
        assert k not in log, "a whole key appeared in the gateway's log"


@pytest.fixture(scope="session")
def gateway(mock_server):
    """The gateway with no model settings: Claude's names follow the live catalog (haiku →
    gemini-flash-latest, sonnet/opus → gemini-pro-latest)."""
    with start_gateway(mock_server) as gw:
        yield gw


@pytest.fixture()
def mock(mock_server):
    mock_server.reset()
    yield mock_server
    mock_server.reset()
