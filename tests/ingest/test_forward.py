"""Forwarding without a database: a sidecar ships what it stores, the central daemon stores it
(``POST /v1/traces/store``) and counts its metrics and anomalies once — on the sidecar only.

The in-process tests drive the real routers over ASGI; those with a real central daemon serve
it with uvicorn on 127.0.0.1 (marked e2e by the conftest) and let the real
:class:`TraceForwarder` post to it over HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from sloguard.ingest.forward import TraceForwarder, encode, store_url
from sloguard.ingest.forwardqueue import ForwardPolicy
from sloguard.ingest.router import ingest_router
from sloguard.sdk.guard import CardinalityGuard
from sloguard.sdk.metrics import AgentMetrics
from sloguard.sdk.recorder import Recorder
from sloguard.sdk.trace import ResponseTrace
from sloguard.tracestore.store import SqliteTraceStore
from sloguard.web.server import create_app
from tests.support.processes import free_port
from tests.support.uvicornserver import serving

TOKEN = "central-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NS = 10**9


def a2a(
    trace_id: str, agent: str = "billing", *, failed: bool = True, steps: int = 1
) -> dict[str, Any]:
    """A trace as agents post it to ``/v1/a2a/traces`` (flat shape)."""
    first: dict[str, Any] = {"step_id": "s1", "call_type": "AGENT", "name": agent, "latency": 120}
    if failed:
        first["error"] = "upstream timeout"
    more = [
        {"step_id": f"t{n}", "parent_step_id": "s1", "call_type": "TOOL", "name": "lookup",
         "latency": 10}
        for n in range(1, steps)
    ]  # fmt: skip
    return {"trace_id": trace_id, "steps": [first, *more]}


def forwarded(*traces: dict[str, Any]) -> dict[str, Any]:
    """What a sidecar forwards: root steps marked as recorded (see :mod:`.forward`)."""
    out = []
    for t in traces:
        steps = [
            {**s, "additional_attributes": {"sloguard.metrics_recorded": True}}
            if s.get("parent_step_id") is None
            else s
            for s in t["steps"]
        ]
        out.append({**t, "steps": steps})
    return {"traces": out}


class Side:
    """One daemon's ingest: its registry, recorder, trace store and ASGI client factory."""

    def __init__(self, tmp_path: Path, name: str, **router: Any) -> None:
        self.registry = CollectorRegistry()
        self.recorder = Recorder(AgentMetrics(registry=self.registry), CardinalityGuard())
        self.store = SqliteTraceStore(tmp_path / f"{name}.sqlite")
        self.app = create_app(
            self.registry,
            routers=[ingest_router(self.recorder, traces=self.store, **router)],
        )

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://sloguard"
        )

    def value(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0

    def calls(self, agent: str = "billing") -> float:
        return self.value("agent_calls_total", agent_name=agent, status="error") + self.value(
            "agent_calls_total", agent_name=agent, status="success"
        )


def central(tmp_path: Path, token: str | None = TOKEN) -> Side:
    return Side(tmp_path, "central", token=token, store_only=True)


# --- the central daemon's store-only endpoint -------------------------------------------------
async def test_forwarded_traces_are_stored_without_counting_anything(tmp_path: Path) -> None:
    c = central(tmp_path)
    body = forwarded(a2a("f-1"), a2a("f-2", "search", failed=False, steps=30))
    async with c.client() as client:
        r = await client.post("/v1/traces/store", json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 2
    stored = c.store.get("f-1")
    assert stored is not None and stored.steps[0].name == "billing"
    assert c.store.get("f-2") is not None
    assert c.calls("billing") == 0 and c.calls("search") == 0
    assert c.value("agent_workflow_runs_total", workflow="billing", status="error") == 0
    assert c.value("sloguard_ingest_requests_total", endpoint="store", result="accepted") == 1
    assert c.value("sloguard_ingest_items_total", endpoint="store") == 2


async def test_even_an_unmarked_trace_is_only_stored(tmp_path: Path) -> None:
    c = central(tmp_path)
    async with c.client() as client:
        r = await client.post("/v1/traces/store", json={"traces": [a2a("plain")]}, headers=AUTH)
    assert r.status_code == 200, r.text
    assert c.store.get("plain") is not None
    assert c.calls() == 0


async def test_an_evaluator_store_serves_nothing_else(tmp_path: Path) -> None:
    c = central(tmp_path)
    async with c.client() as client:
        r = await client.post("/v1/a2a/traces", json=a2a("x"), headers=AUTH)
    assert r.status_code == 404


async def test_the_store_needs_the_ingest_token(tmp_path: Path) -> None:
    c = central(tmp_path)
    async with c.client() as client:
        none = await client.post("/v1/traces/store", json=forwarded(a2a("t")))
        wrong = await client.post(
            "/v1/traces/store", json=forwarded(a2a("t")), headers={"Authorization": "Bearer no"}
        )
    assert none.status_code == 401 and wrong.status_code == 401
    assert c.store.get("t") is None


async def test_a_bad_forwarded_batch_is_refused_whole_with_every_problem(tmp_path: Path) -> None:
    c = central(tmp_path)
    bad = a2a("bad")
    bad["steps"][0]["call_type"] = "WIZARD"
    async with c.client() as client:
        r = await client.post("/v1/traces/store", json=forwarded(a2a("good"), bad), headers=AUTH)
    assert r.status_code == 422, r.text
    assert [p["field"] for p in r.json()["problems"]] == ["traces[1].steps[0].call_type"]
    assert c.store.get("good") is None  # atomic


# --- the sidecar tells the forwarder of every trace it stores ---------------------------------
class Heard:
    def __init__(self) -> None:
        self.traces: list[ResponseTrace] = []

    def __call__(self, traces: Sequence[ResponseTrace]) -> None:
        self.traces.extend(traces)


async def test_a_sidecar_hands_on_stored_a2a_and_otlp_traces(tmp_path: Path) -> None:
    heard = Heard()
    sidecar = Side(tmp_path, "sidecar", token=None, on_stored=heard)
    start = int((time.time() - 60) * NS)
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "invoke_agent planner",
        "kind": 1,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + NS),
        "attributes": [
            {"key": "gen_ai.operation.name", "value": {"stringValue": "invoke_agent"}},
            {"key": "gen_ai.agent.name", "value": {"stringValue": "planner"}},
        ],
    }
    async with sidecar.client() as client:
        assert (await client.post("/v1/a2a/traces", json=a2a("a2a-1"))).status_code == 200
        bad = a2a("refused")
        bad["steps"][0]["latency"] = -1
        assert (await client.post("/v1/a2a/traces", json=bad)).status_code == 422
        otlp = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
        assert (await client.post("/v1/traces", json=otlp)).status_code == 200
    ids = [t.trace_id for t in heard.traces]
    assert ids == ["a2a-1", "5b8efff798038103d269b633813fc60c"]
    assert sidecar.calls() == 1  # the sidecar counts as before


def test_encoding_marks_roots_and_leaves_unknown_starts_out() -> None:
    import json

    callee = {"trace_id": "callee", "steps": [{"step_id": "c1", "call_type": "AGENT", "name": "b"}]}
    trace = a2a("enc", steps=2)
    trace["steps"][1]["start_time"] = "2025-06-01T12:00:00+00:00"
    trace["steps"][0]["step_action"] = {
        "agent_invocation": {"agent_name": "b", "response_trace": callee}
    }
    data = json.loads(encode(ResponseTrace.from_dict(trace)))
    root, tool = data["steps"]
    assert root["additional_attributes"]["sloguard.metrics_recorded"] is True
    assert "sloguard.metrics_recorded" not in tool["additional_attributes"]
    assert "start_time" not in root
    assert tool["start_time"].startswith("2025-06-01T12:00:00")
    nested = root["response_trace"]["steps"][0]
    assert "start_time" not in nested


def test_the_store_path_is_added_to_a_base_url() -> None:
    assert store_url("http://central:9464") == "http://central:9464/v1/traces/store"
    assert store_url("http://central:9464/") == "http://central:9464/v1/traces/store"
    assert store_url("https://c.example/sloguard/v1/traces/store") == (
        "https://c.example/sloguard/v1/traces/store"
    )


# --- sidecar → central over HTTP --------------------------------------------------------------
FAST = ForwardPolicy(max_batch=50, max_delay=0.05, backoff_initial=0.05, backoff_max=0.2)


def eventually(what: str, done: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if done():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


async def test_traces_a_sidecar_stores_reach_the_central_store_counted_once(
    tmp_path: Path,
) -> None:
    c = central(tmp_path)
    port = free_port()
    with serving(c.app, port) as url:
        registry = CollectorRegistry()
        forwarder = TraceForwarder(url, token=TOKEN, registry=registry, policy=FAST)
        sidecar = Side(tmp_path, "sidecar", token=None, on_stored=forwarder.forward)
        forwarder.start()
        async with sidecar.client() as client:
            for i in range(5):
                r = await client.post("/v1/a2a/traces", json=a2a(f"s-{i}", steps=3))
                assert r.status_code == 200
        assert forwarder.close(timeout=10.0)
    for i in range(5):
        got = c.store.get(f"s-{i}")
        assert got is not None and len(got.steps) == 3
    assert sidecar.calls() == 5
    assert c.calls() == 0  # Prometheus scrapes the sidecar: counted there, once
    sent = registry.get_sample_value("sloguard_forwarded_traces_total", {"outcome": "delivered"})
    assert sent == 5
    assert registry.get_sample_value("sloguard_forward_queue_depth") == 0


async def test_central_down_then_back_gets_every_trace_once(tmp_path: Path) -> None:
    c = central(tmp_path)
    port = free_port()
    registry = CollectorRegistry()
    forwarder = TraceForwarder(
        f"http://127.0.0.1:{port}", token=TOKEN, registry=registry, policy=FAST, timeout=2.0
    )

    def sample(name: str, **labels: str) -> float:
        return registry.get_sample_value(name, labels) or 0.0

    sidecar = Side(tmp_path, "sidecar", token=None, on_stored=forwarder.forward)
    with capture_logs() as logs:
        await down_then_back(forwarder, sidecar, c, port, sample)
    events = [e["event"] for e in logs if "forward" in e["event"]]
    assert events == ["forwarding traces failed; retrying", "forwarding traces works again"]
    listed = c.store.list(limit=100)
    assert sorted(s.trace_id for s in listed) == ["d-0", "d-1", "d-2", "d-3"]
    newest = c.store.get("d-0")
    assert newest is not None and len(newest.steps) == 4
    assert sample("sloguard_forward_dropped_total", reason="queue_full") == 0
    assert sample("sloguard_forward_dropped_total", reason="shutdown") == 0
    assert c.calls() == 0


async def down_then_back(
    forwarder: TraceForwarder,
    sidecar: Side,
    c: Side,
    port: int,
    sample: Callable[..., float],
) -> None:
    """Store traces while nothing listens on ``port``, then serve the central daemon there."""
    forwarder.start()
    async with sidecar.client() as client:
        for i in range(4):
            assert (await client.post("/v1/a2a/traces", json=a2a(f"d-{i}"))).status_code == 200
        # d-0 stored again with more steps while the central daemon is down: sent once, newest
        assert (await client.post("/v1/a2a/traces", json=a2a("d-0", steps=4))).status_code == 200
    eventually(
        "failed attempts", lambda: sample("sloguard_forwarded_traces_total", outcome="failed") >= 8
    )
    assert sample("sloguard_forward_queue_depth") == 4
    assert sample("sloguard_forwarded_traces_total", outcome="delivered") == 0
    with serving(c.app, port):
        eventually(
            "delivery",
            lambda: sample("sloguard_forwarded_traces_total", outcome="delivered") == 4,
        )
        assert forwarder.close(timeout=5.0)


def test_what_cannot_be_sent_by_the_deadline_is_counted_at_shutdown() -> None:
    registry = CollectorRegistry()
    port = free_port()  # nothing listens
    forwarder = TraceForwarder(
        f"http://127.0.0.1:{port}", token=None, registry=registry, policy=FAST, timeout=1.0
    )
    forwarder.start()
    forwarder.forward([ResponseTrace.from_dict(a2a("lost"))])
    assert not forwarder.close(timeout=0.3)
    assert registry.get_sample_value("sloguard_forward_dropped_total", {"reason": "shutdown"}) == 1
    assert registry.get_sample_value("sloguard_forward_queue_depth") == 0


def test_a_refused_batch_is_dropped_and_counted(tmp_path: Path) -> None:
    c = central(tmp_path)
    port = free_port()
    registry = CollectorRegistry()
    with serving(c.app, port) as url:
        forwarder = TraceForwarder(url, token="wrong", registry=registry, policy=FAST)
        forwarder.start()
        forwarder.forward(
            [ResponseTrace.from_dict(a2a("r-1")), ResponseTrace.from_dict(a2a("r-2"))]
        )
        eventually(
            "the refusal",
            lambda: (
                (
                    registry.get_sample_value(
                        "sloguard_forward_dropped_total", {"reason": "rejected"}
                    )
                    or 0
                )
                == 2
            ),
        )
        assert forwarder.close(timeout=2.0)
    assert (
        registry.get_sample_value("sloguard_forwarded_traces_total", {"outcome": "rejected"}) == 2
    )
    assert c.store.get("r-1") is None
