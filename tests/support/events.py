"""Events for ``POST /v1/events`` and the anomaly counters they move.

Not a test module: ``decision`` builds a decision event at a time after ``T0`` (the instant of
the table-built traces), ``post`` sends events through a client of the app, ``anomalies`` reads
``agent_anomalies_total`` back from a registry.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from prometheus_client import CollectorRegistry

from tests.support.traces import T0


def decision(
    agent: str,
    kind: str,
    choice: str | None,
    confidence: float | None = 0.9,
    *,
    at: float | None = None,
    wf: str | None = "wf-001",
    **extra: Any,
) -> dict[str, Any]:
    """A decision event; ``at`` is seconds after T0 (None: no timestamp, the time received)."""
    event: dict[str, Any] = {"type": "decision", "agent": agent, "decision_type": kind, **extra}
    for key, value in (("chosen_option", choice), ("confidence", confidence), ("workflow_id", wf)):
        if value is not None:
            event[key] = value
    if at is not None:
        event["timestamp"] = (T0 + timedelta(seconds=at)).isoformat().replace("+00:00", "Z")
    return event


async def post(client: httpx.AsyncClient, *events: dict[str, Any]) -> httpx.Response:
    return await client.post("/v1/events", json={"events": list(events)})


def anomalies(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    """``agent_anomalies_total`` by (agent, anomaly)."""
    return {
        (s.labels["agent_name"], s.labels["anomaly"]): s.value
        for m in registry.collect()
        for s in m.samples
        if s.name == "agent_anomalies_total"
    }
