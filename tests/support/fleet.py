"""What the fleet tests share (several ``sloguard run`` processes, a Prometheus, a receiver):
the SLO they burn, the traces they send, the scrape configuration and waiting with logs.

Not a test module: ``tests/e2e/test_shared_traces.py``, ``test_forwarded_traces.py`` and
``test_ha.py`` import it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import _stderr
from tests.support.webhookreceiver import WebhookReceiver

#: One SLO per agent over an hour: a few failing traces of an agent burn it.
SLOS = """\
slos:
  - name: availability
    objective: 99
    period: 1h
    sli: {kind: success_rate}
    group_by: [agent_name]
"""


def trace(trace_id: str, agent: str, *, failed: bool) -> dict[str, Any]:
    """An A2A trace of one agent step (failed: with an error)."""
    step: dict[str, Any] = {"step_id": "s1", "call_type": "AGENT", "name": agent, "latency": 100}
    if failed:
        step["error"] = "upstream timeout"
    return {"trace_id": trace_id, "steps": [step]}


def two_targets(a: int, b: int) -> str:
    """A Prometheus configuration scraping two local ports every second (job ``sidecars``)."""
    return (
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: sidecars\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{a}', '127.0.0.1:{b}']\n"
    )


def billing_firing(hook: WebhookReceiver) -> list[dict[str, Any]]:
    """The firing payloads the receiver accepted for the agent ``billing``."""
    return [
        r.json
        for r in hook.deliveries
        if isinstance(r.json, dict)
        and r.json.get("status") == "firing"
        and any(a["labels"].get("agent_name") == "billing" for a in r.json.get("alerts", []))
    ]


def wait(
    what: str,
    done: Callable[[], bool],
    tmp_path: Path,
    procs: int,
    *,
    deadline: float = 120.0,
    every: float = 0.5,
) -> None:
    """Poll ``done`` until it holds; fail with the tail of every spawned process's log."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if done():
            return
        time.sleep(every)
    logs = "\n".join(
        f"--- process {i}\n" + _stderr(tmp_path, i)[-3000:]
        for i in range(procs)
        if (tmp_path / f"stderr-{i}.log").exists()
    )
    pytest.fail(f"timed out waiting for {what}\n{logs}")
