"""``sloguard run`` on a full file system: SLOs ``error``, not ready, counted, logged once.

The file system fills for real without mounting anything: the daemon runs under a wrapper that
ignores SIGXFSZ and, on SIGUSR1, sets ``RLIMIT_FSIZE`` to one byte, so every write that extends
a file fails with EFBIG, as writes fail with ENOSPC on a full disk (SQLite: "disk I/O error" or
"database or disk is full"); SIGUSR2 lifts the limit (an operator freed space). Its stderr is a
pipe, which the limit does not touch, so the log stays complete.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.processes import STOP_DEADLINE, _env

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE and SIGXFSZ: Linux")

WRAPPER = textwrap.dedent(
    """
    import resource, signal, sys
    INF = resource.RLIM_INFINITY
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death
    signal.signal(signal.SIGUSR1, lambda *_: resource.setrlimit(resource.RLIMIT_FSIZE, (1, INF)))
    signal.signal(signal.SIGUSR2, lambda *_: resource.setrlimit(resource.RLIMIT_FSIZE, (INF, INF)))
    from sloguard.cli import main
    raise SystemExit(main(sys.argv[1:]))
    """
)
SLOS = """\
apiVersion: sloguard/v1
slos:
  - name: availability
    objective: 99
    period: 1d
    sli: {kind: success_rate}
  - name: tools
    objective: 99
    period: 1d
    sli: {kind: tool_success_rate}
"""


def trace(trace_id: str) -> dict[str, Any]:
    return {
        "traceId": trace_id,
        "steps": [
            {
                "stepId": "s1",
                "callType": "AGENT",
                "latency": 120,
                "stepAction": {
                    "agentInvocation": {
                        "agentUrl": "http://planner",
                        "agentName": "planner",
                        "requests": {"text": "x" * 2000 + trace_id},
                    }
                },
            }
        ],
    }


class Daemon:
    def __init__(self, proc: subprocess.Popen[bytes], base: str) -> None:
        self.proc = proc
        self.base = base
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def close(self) -> None:
        self._reader.join(timeout=STOP_DEADLINE)
        if self.proc.stderr is not None:
            self.proc.stderr.close()

    def events(self) -> list[dict[str, Any]]:
        out = []
        for line in list(self.lines):
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"event": line, "level": "raw"})
        return out

    def metric(self, name: str, **labels: str) -> float:
        text = httpx.get(f"{self.base}/metrics", timeout=5).text
        want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        total = 0.0
        for line in text.splitlines():
            if not line.startswith(name):
                continue
            series, _, value = line.rpartition(" ")
            key = series[len(name) :]
            got = ",".join(sorted(key.strip("{}").split(","))) if key else ""
            if (key in ("", "{}") and not labels) or got == want:
                total += float(value)
        return total

    def states(self) -> dict[str, str]:
        slos = httpx.get(f"{self.base}/api/v1/slos", timeout=5).json()["slos"]
        return {s["slo"]: s["state"] for s in slos}

    def wait(self, what: str, check: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = "\n".join(self.lines[-40:])
                pytest.fail(f"{what}: not within {timeout}s (exit {self.proc.poll()}):\n{log}")
            time.sleep(0.1)


@pytest.fixture
def daemon(tmp_path: Path, free_port: int) -> Iterator[Daemon]:
    (tmp_path / "slos.yaml").write_text(SLOS, encoding="utf-8")
    env = {
        "SLOGUARD_DATA_DIR": str(tmp_path / "state"),
        "SLOGUARD_SLO_FILES": f'["{tmp_path / "slos.yaml"}"]',
        "SLOGUARD_EVALUATION_INTERVAL": "0.5",
        "SLOGUARD_TRACES__PRUNE_INTERVAL": "1s",
        "SLOGUARD_TRACES__MIN_FREE_BYTES": "0",  # the write path; the rule: tests/tracestore
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", WRAPPER, "run", "--port", str(free_port)],
        cwd=tmp_path,
        env=_env(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    d = Daemon(proc, f"http://127.0.0.1:{free_port}")

    def ready() -> bool:
        try:
            return httpx.get(f"{d.base}/readyz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        d.wait("ready", ready)
        yield d
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=STOP_DEADLINE)
        d.close()


def post(d: Daemon, trace_id: str) -> int:
    r = httpx.post(f"{d.base}/v1/a2a/traces", json=trace(trace_id), timeout=10)
    return r.status_code


def test_a_full_disk_is_loud_and_sloguard_recovers_when_space_returns(daemon: Daemon) -> None:
    d = daemon
    assert post(d, "before") == 200
    d.wait("evaluated", lambda: bool(d.states()) and "error" not in d.states().values())
    assert httpx.get(f"{d.base}/api/v1/traces/before", timeout=5).status_code == 200

    d.proc.send_signal(signal.SIGUSR1)  # the disk is full from here
    time.sleep(0.2)
    answers = [post(d, f"t{i}") for i in range(30)]
    assert set(answers) == {200}  # the batch's metrics are recorded; the client keeps going
    d.wait(
        "every SLO in error",
        lambda: set(d.states().values()) == {"error"},
    )
    ready = httpx.get(f"{d.base}/readyz", timeout=5)
    assert ready.status_code == 503
    reason = ready.json()["reason"]
    assert "embedded SLI samples: sample failing since" in reason
    assert "trace store: write failing since" in reason
    errors = [s["error"] for s in httpx.get(f"{d.base}/api/v1/slos", timeout=5).json()["slos"]]
    assert all("embedded samples are not stored" in e for e in errors), errors
    stored = sum(
        1
        for i in range(30)
        if httpx.get(f"{d.base}/api/v1/traces/t{i}", timeout=5).status_code == 200
    )
    failed = d.metric("sloguard_storage_failures_total", store="traces", operation="write")
    assert failed == 30 - stored > 0  # every trace not stored is counted
    assert d.metric("sloguard_ingest_store_failures_total", what="traces") == failed
    assert d.metric("sloguard_storage_failures_total", store="samples", operation="sample") > 0
    assert d.metric("sloguard_slo_evaluation_errors_total", slo="availability") > 0
    time.sleep(2.0)  # several more ticks on the full disk

    events = d.events()
    assert not [e for e in events if "Traceback" in json.dumps(e)]
    # a COMMIT that failed on the full disk ended its transaction: no ROLLBACK error over it
    assert not [e for e in events if "cannot rollback" in json.dumps(e)]
    firsts = [e["event"] for e in events if "failing:" in str(e.get("event"))]
    assert sorted(firsts) == [
        "embedded SLI samples: sample failing: cannot store samples: disk I/O error",
        "trace store: write failing: OperationalError: disk I/O error",
    ], firsts  # one line per change, not one per tick or per request
    down = [e for e in events if str(e.get("event")).startswith("SLI source down")]
    assert len(down) == 1

    d.proc.send_signal(signal.SIGUSR2)  # space freed
    d.wait("ready again", lambda: httpx.get(f"{d.base}/readyz", timeout=5).status_code == 200)
    d.wait("evaluated again", lambda: "error" not in d.states().values())
    assert post(d, "after") == 200
    assert httpx.get(f"{d.base}/api/v1/traces/after", timeout=5).status_code == 200
    events = d.events()
    assert [e for e in events if "works again" in str(e.get("event"))]
    d.proc.send_signal(signal.SIGTERM)
    assert d.proc.wait(timeout=STOP_DEADLINE) == 0
