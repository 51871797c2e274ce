"""Step attributes that may hold credentials are redacted where a trace comes in (issue 13, 6a).

Nothing unredacted is stored or served; the ``gen_ai.*`` attributes the metrics read are kept.
"""

from __future__ import annotations

import sqlite3
import time
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from sloguard.conventions import REDACTED
from sloguard.ingest.router import ingest_router
from sloguard.sdk.recorder import Recorder
from sloguard.tracestore.store import TraceStore
from sloguard.web.server import create_app

SECRET = "hunter2-do-not-store"
ATTRS = {
    "password": SECRET,
    "api_key": SECRET,
    "nested": {"client_secret": SECRET, "note": "kept"},
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.usage.input_tokens": 12,
    "retries": 2,
}


@pytest.fixture
def store(tmp_path: Path) -> TraceStore:
    return TraceStore(tmp_path / "traces.sqlite")


@pytest.fixture
async def client(
    registry: CollectorRegistry, recorder: Recorder, store: TraceStore
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(registry, routers=[ingest_router(recorder, token=None, traces=store)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as c:
        yield c


def stored_text(path: Path) -> str:
    """Every stored trace body and event, as the database file holds them."""
    with sqlite3.connect(path) as db:
        traces = [zlib.decompress(b) for (b,) in db.execute("SELECT body FROM trace_bodies")]
        events = [bytes(b) for (b,) in db.execute("SELECT body FROM events")]
    return b"\n".join(traces + events).decode()


def callee(trace_id: str) -> dict[str, object]:
    return {"trace_id": trace_id, "steps": [{"name": "inner", "additional_attributes": ATTRS}]}


async def test_a2a_trace_attributes_are_redacted_before_they_are_stored(
    client: httpx.AsyncClient, store: TraceStore
) -> None:
    step = {
        "name": "planner",
        "latency": 100,
        "additional_attributes": ATTRS,
        "step_action": {"agent_invocation": {"response_trace": callee("inner-trace")}},
    }
    r = await client.post("/v1/a2a/traces", json={"trace_id": "t-redact", "steps": [step]})
    assert r.status_code == 200, r.text
    stored = store.get("t-redact")
    assert stored is not None
    outer = stored.steps[0]
    assert outer.additional_attributes["password"] == REDACTED
    assert outer.additional_attributes["api_key"] == REDACTED
    assert outer.additional_attributes["nested"] == {"client_secret": REDACTED, "note": "kept"}
    assert outer.additional_attributes["retries"] == 2
    assert (outer.model, outer.input_tokens) == ("gpt-4o", 12)  # the metrics' attributes stay
    assert outer.response_trace is not None
    assert outer.response_trace.steps[0].additional_attributes["password"] == REDACTED
    assert SECRET not in str(stored.as_dict())
    text = stored_text(Path(store.path))
    assert "t-redact" in text and SECRET not in text


def otlp_span(*attributes: tuple[str, str]) -> dict[str, object]:
    now = time.time_ns()
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "invoke_agent planner",
        "kind": 1,
        "startTimeUnixNano": str(now - 10**9),
        "endTimeUnixNano": str(now),
        "attributes": [
            {"key": key, "value": {"stringValue": value}}
            for key, value in (
                ("gen_ai.operation.name", "invoke_agent"),
                ("gen_ai.agent.name", "planner"),
                ("gen_ai.request.model", "gpt-4o"),
                *attributes,
            )
        ],
    }
    return {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}


async def test_otlp_span_attributes_other_than_the_metrics_are_not_stored(
    client: httpx.AsyncClient, store: TraceStore
) -> None:
    body = otlp_span(("password", SECRET), ("app.api_key", SECRET), ("user.note", SECRET))
    r = await client.post("/v1/traces", json=body)
    assert r.status_code == 200, r.text
    (summary,) = store.list(limit=10)
    stored = store.get(summary.trace_id)
    assert stored is not None and stored.steps[0].model == "gpt-4o"
    assert SECRET not in stored_text(Path(store.path))


async def test_events_cannot_carry_attribute_maps_to_the_store(
    client: httpx.AsyncClient, store: TraceStore
) -> None:
    event = {"type": "agent_call", "agent": "a", "status": "success", "duration_seconds": 1}
    r = await client.post("/v1/events", json={"events": [event]})
    assert r.status_code == 200, r.text
    # Events refuse unknown fields: no attribute map of theirs can carry a secret to the store.
    bad = await client.post("/v1/events", json={"events": [{**event, "password": SECRET}]})
    assert bad.status_code == 422
    text = stored_text(Path(store.path))
    assert "agent_call" in text and SECRET not in text
