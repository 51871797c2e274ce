"""The app the fuzz tests aim at, and what they compare before and after a request.

Not a test module. :func:`fuzzed_app` assembles what ``sloguard run`` serves over HTTP, minus the
SLO engine: the three ingest endpoints behind a bearer token, the traces, decisions and anomalies
API over a real SQLite trace store, and ``/api/v1/slos`` / ``/api/v1/alerts`` over fixed
answers. :func:`snapshot` is everything an ingest request may change: every sample of
``generate_latest`` except the request counter itself (a refused request is counted, by design),
and every trace, decision and event the store holds.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from sloguard.ingest.router import ingest_router
from sloguard.sdk.guard import CardinalityGuard
from sloguard.sdk.metrics import AgentMetrics
from sloguard.sdk.recorder import Recorder
from sloguard.tracestore.store import TraceStore
from sloguard.web.server import create_app
from sloguard.web.sloapi import alerts_router, slo_router
from sloguard.web.tracesapi import traces_router

TOKEN = "fuzz-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
#: Events and traces per request (small, so the generated batches reach the bound).
MAX_ITEMS = 20
#: Counted for every request, accepted or not: not part of what a refused batch must not change.
REQUEST_COUNTER = "sloguard_ingest_requests_total"

Sample = tuple[str, tuple[tuple[str, str], ...]]


@dataclass(frozen=True)
class Fuzzed:
    """The app and the state behind it."""

    app: FastAPI
    registry: CollectorRegistry
    store: TraceStore


def fuzzed_app(data_dir: Path) -> Fuzzed:
    """Return the app with an ingest token and a trace store in ``data_dir``."""
    registry = CollectorRegistry()
    recorder = Recorder(AgentMetrics(registry=registry), CardinalityGuard())
    store = TraceStore(data_dir / "traces.sqlite")
    routers = [
        ingest_router(recorder, token=TOKEN, max_items=MAX_ITEMS, traces=store),
        traces_router(store),
        slo_router(lambda: []),
        alerts_router(lambda: []),
    ]
    return Fuzzed(create_app(registry, routers=routers), registry, store)


def samples(registry: CollectorRegistry) -> dict[Sample, float]:
    """Every sample ``/metrics`` shows (``_created`` times and the request counter aside)."""
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if not s.name.endswith("_created") and s.name != REQUEST_COUNTER
    }


def stored(store: TraceStore) -> dict[str, Any]:
    """Everything the trace store holds, comparable."""
    return {
        "traces": sorted((s.trace_id, repr(store.get(s.trace_id))) for s in store.list(limit=1000)),
        "decisions": sorted(repr(d) for d in store.decisions(limit=100_000)),
        "events": sorted(repr(e) for e in store.events(limit=100_000)),
    }


def snapshot(f: Fuzzed) -> tuple[dict[Sample, float], dict[str, Any]]:
    """The metrics and the store, as a refused request must leave them."""
    return samples(f.registry), stored(f.store)


def delta(before: dict[Sample, float], after: dict[Sample, float]) -> dict[Sample, float]:
    """The samples that changed, by how much (new samples count from 0)."""
    return {k: v - before.get(k, 0.0) for k, v in after.items() if v != before.get(k, 0.0)}


class Caller:
    """Send requests to the app in-process from a plain (synchronous) hypothesis test.

    Example::

        with Caller(fuzzed.app) as call:
            response = call("POST", "/v1/events", content=b"{}")
    """

    def __init__(self, app: FastAPI) -> None:
        self._app = app
        self._runner = asyncio.Runner()

    def __enter__(self) -> Caller:
        return self

    def __exit__(self, *exc: object) -> None:
        self._runner.close()

    def __call__(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._runner.run(self._send(method, url, **kwargs))

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        transport = httpx.ASGITransport(app=self._app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sloguard") as client:
            return await client.request(method, url, **kwargs)


#: The series of the end-to-end run every accepted trace records (``agent_workflow_*``).
RUN_SERIES = frozenset(
    f"agent_workflow_{family}_{part}"
    for family in ("duration_seconds", "cost_usd", "tokens")
    for part in ("count", "sum", "bucket")
) | {"agent_workflow_runs_total"}
