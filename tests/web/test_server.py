"""The HTTP app in-process (httpx over ASGI): probes, exposition formats, exemplars, routers."""

from __future__ import annotations

import threading

import httpx
from fastapi import APIRouter, FastAPI
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from sloguard.evaluation.engine import SLOEngine
from sloguard.sdk.metrics import AgentMetrics
from sloguard.sdk.recorder import Recorder
from sloguard.slo.budget import Counts
from sloguard.slo.spec import SLO
from sloguard.sources.base import QueryError, WindowCounts
from sloguard.sources.fake import FakeSource
from sloguard.web.server import create_app
from tests.support.slos import make_slo

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sloguard")


def _recorded() -> CollectorRegistry:
    registry = CollectorRegistry()
    recorder = Recorder(AgentMetrics(registry=registry))
    recorder.agent_call("planner", "success", 0.7, trace_id="4bf92f3577b34da6a3ce929d0e0e4736")
    return registry


async def test_metrics_text_format_by_default() -> None:
    async with _client(create_app(_recorded())) as client:
        r = await client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    assert families["agent_calls"].samples[0].labels == {
        "agent_name": "planner",
        "status": "success",
    }
    assert "trace_id" not in r.text  # exemplars exist only in OpenMetrics


async def test_metrics_openmetrics_with_exemplars_on_accept() -> None:
    async with _client(create_app(_recorded())) as client:
        r = await client.get("/metrics", headers={"Accept": OPENMETRICS})
    assert r.headers["content-type"].startswith("application/openmetrics-text")
    assert r.text.endswith("# EOF\n")
    bucket = next(
        line
        for line in r.text.splitlines()
        if line.startswith('agent_latency_seconds_bucket{agent_name="planner",le="1.0"}')
    )
    assert '# {trace_id="4bf92f3577b34da6a3ce929d0e0e4736"} 0.7' in bucket


async def test_metrics_gzip_when_asked() -> None:
    async with _client(create_app(_recorded())) as client:
        r = await client.get("/metrics", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    assert "agent_calls_total" in r.text


async def test_health_and_readiness() -> None:
    ready = threading.Event()
    async with _client(create_app(CollectorRegistry(), ready=ready.is_set)) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        r = await client.get("/readyz")
        assert (r.status_code, r.json()) == (503, {"status": "not ready"})
        ready.set()
        r = await client.get("/readyz")
        assert (r.status_code, r.json()) == (200, {"status": "ready"})


async def test_always_ready_without_a_readiness_check() -> None:
    async with _client(create_app(CollectorRegistry())) as client:
        assert (await client.get("/readyz")).status_code == 200


async def test_extra_routers_are_served() -> None:
    router = APIRouter(prefix="/api/v1")

    @router.get("/slos")
    def slos() -> list[str]:
        return ["availability"]

    async with _client(create_app(CollectorRegistry(), routers=[router])) as client:
        assert (await client.get("/api/v1/slos")).json() == ["availability"]
        assert (await client.get("/healthz")).status_code == 200


async def test_readiness_says_why_while_every_evaluation_fails() -> None:
    # the daemon's wiring: /readyz asks the SLO engine's source health
    switch = {"down": True}

    def answer(slo: SLO, window: float, at: float) -> WindowCounts:
        if switch["down"]:
            raise QueryError("prometheus: connection refused")
        return {(): Counts(0.0, 100.0)}

    engine = SLOEngine([make_slo("avail")], FakeSource(answer=answer))
    app = create_app(CollectorRegistry(), ready=lambda: True, degraded=[engine.health.degraded])
    async with _client(app) as client:
        assert (await client.get("/readyz")).status_code == 200  # nothing evaluated yet
        await engine.tick(1_800_000_000.0)
        r = await client.get("/readyz")
        assert (r.status_code, r.json()["status"]) == (503, "degraded")
        assert r.json()["reason"].startswith("evaluator degraded: every SLO evaluation has failed")
        assert "connection refused" in r.json()["reason"]
        switch["down"] = False
        await engine.tick(1_800_000_010.0)
        r = await client.get("/readyz")
        assert (r.status_code, r.json()) == (200, {"status": "ready"})


async def test_not_started_wins_over_degraded() -> None:
    app = create_app(CollectorRegistry(), ready=lambda: False, degraded=[lambda: "broken"])
    async with _client(app) as client:
        r = await client.get("/readyz")
    assert (r.status_code, r.json()) == (503, {"status": "not ready"})


async def test_readiness_carries_the_leadership_details() -> None:
    # a follower is ready (it serves) and says it follows, and who leads
    role = {"role": "follower", "replica": "pod-2", "leader": "pod-1", "token": 3}
    app = create_app(CollectorRegistry(), ready=lambda: True, details=lambda: {"leadership": role})
    async with _client(app) as client:
        r = await client.get("/readyz")
    assert (r.status_code, r.json()) == (200, {"status": "ready", "leadership": role})
