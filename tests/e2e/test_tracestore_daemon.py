"""``sloguard run`` prunes its trace store in every mode, by the ``traces:`` settings."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from sloguard.tracestore.store import TraceStore
from tests.support.processes import STOP_DEADLINE, Spawn, _stderr, _wait_healthy
from tests.support.traces import routed


@pytest.mark.parametrize("mode", ["exporter", "evaluator", "all"])
def test_the_daemon_prunes_expired_traces_in_every_mode(
    spawn: Spawn, free_port: int, tmp_path: Path, mode: str
) -> None:
    data = tmp_path / "state"
    data.mkdir()
    store = TraceStore(data / "traces.sqlite")
    now = time.time()
    store.put(routed("expired"), now - 3 * 3600)
    store.put(routed("fresh"), now)
    store.close()
    env = {
        "SLOGUARD_DATA_DIR": str(data),
        "SLOGUARD_MODE": mode,
        "SLOGUARD_TRACES__MAX_AGE": "2h",
        "SLOGUARD_TRACES__PRUNE_INTERVAL": "1h",  # only the pass at start can run in this test
    }
    proc = spawn("run", "--port", str(free_port), env=env)
    _wait_healthy(proc, f"http://127.0.0.1:{free_port}", tmp_path)

    reader = TraceStore(data / "traces.sqlite")
    deadline = time.monotonic() + 20
    while reader.get("expired") is not None:
        if time.monotonic() > deadline:
            pytest.fail(f"the expired trace was never pruned:\n{_stderr(tmp_path)}")
        time.sleep(0.05)
    assert reader.get("fresh") is not None
    reader.close()

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=STOP_DEADLINE) == 0
    lines = [json.loads(line) for line in _stderr(tmp_path).splitlines()]
    [pruned] = [e for e in lines if e["event"] == "trace store pruned"]
    assert (pruned["traces"], pruned["steps"], pruned["reasons"]) == (1, 5, {"age": 1})
