"""``/api/v1/traces``, ``/decisions``, ``/anomalies``: query values checked, every stored id opens.

The real app (ingest router + traces API) over a real SQLite trace store in ``tmp_path``, over
ASGI.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from prometheus_client import CollectorRegistry

from sloguard.commands.trace import TRACE
from sloguard.ingest.router import ingest_router
from sloguard.sdk.recorder import Recorder
from sloguard.sdk.trace import parse_trace
from sloguard.tracestore.store import TraceStore
from sloguard.web.server import create_app
from sloguard.web.tracesapi import MAX_TIME, traces_router
from tests.support.events import decision, post


@pytest.fixture
def store(tmp_path: Path) -> TraceStore:
    return TraceStore(tmp_path / "traces.sqlite")


@pytest.fixture
async def client(
    registry: CollectorRegistry, recorder: Recorder, store: TraceStore
) -> AsyncIterator[httpx.AsyncClient]:
    routers = [ingest_router(recorder, token=None, traces=store), traces_router(store)]
    app = create_app(registry, routers=routers)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sloguard") as c:
        yield c


ROUTES = ("/api/v1/traces", "/api/v1/decisions", "/api/v1/anomalies")


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("since", "1e300"),
        ("since", "9e15"),
        ("until", "-1e300"),
        ("until", "-1"),
        ("since", "inf"),
        ("until", "nan"),
        ("since", "soon"),
        ("until", str(MAX_TIME + 1)),
    ],
)
async def test_a_time_out_of_range_is_a_400_naming_the_parameter(
    client: httpx.AsyncClient, route: str, name: str, value: str
) -> None:
    await post(client, decision("a", "routing", "x", at=0))  # a stored decision to filter
    r = await client.get(route, params={name: value})
    assert r.status_code == 400, r.text
    assert f"query parameter {name} must be unix seconds from 0 to" in r.json()["detail"]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("value", ["0", str(MAX_TIME), "1.7e9"])
async def test_times_at_the_bounds_are_answered(
    client: httpx.AsyncClient, route: str, value: str
) -> None:
    await post(client, decision("a", "routing", "x", at=0))
    for name in ("since", "until"):
        r = await client.get(route, params={name: value})
        assert r.status_code == 200, r.text


async def test_a_workflows_decisions_take_the_same_checks(client: httpx.AsyncClient) -> None:
    await post(client, decision("a", "routing", "x", at=0))
    r = await client.get("/api/v1/decisions", params={"workflow_id": "wf-001", "since": "9e15"})
    assert r.status_code == 400, r.text
    r = await client.get("/api/v1/decisions", params={"workflow_id": "wf-001", "since": "0"})
    assert r.status_code == 200, r.text
    assert len(r.json()["decisions"]) == 1


# --- trace ids: what ingest accepts, the API opens ------------------------------------------


def _trace(trace_id: str) -> dict[str, object]:
    return {"trace_id": trace_id, "steps": [{"step_id": "s1", "name": "planner", "latency": 5}]}


@pytest.mark.parametrize(
    "trace_id",
    ["a b", "a%2Fb", "a%b", "a?b#c", "a\\b", "...", ".a", "compare2", "Compare", "트", "a\nb"],
)
async def test_every_accepted_trace_id_can_be_opened(
    client: httpx.AsyncClient, trace_id: str
) -> None:
    r = await client.post("/v1/a2a/traces", json=_trace(trace_id))
    assert r.status_code == 200, r.text
    listed = (await client.get("/api/v1/traces")).json()["traces"]
    assert [t["trace_id"] for t in listed] == [trace_id]
    path = "/api/v1/traces/" + quote(trace_id, safe="")  # as the page's encodeURIComponent
    for suffix in ("", "/mermaid", "/svg"):
        r = await client.get(path + suffix)
        assert r.status_code == 200, (suffix, r.text)
    assert (await client.get(path)).json()["summary"]["trace_id"] == trace_id


@pytest.mark.parametrize("trace_id", ["a/b", "/", "a/", "..", ".", "compare"])
async def test_a_trace_id_that_could_not_be_opened_is_refused_at_ingest(
    client: httpx.AsyncClient, store: TraceStore, trace_id: str
) -> None:
    batch = {"traces": [_trace("fine"), _trace(trace_id)]}
    r = await client.post("/v1/a2a/traces", json=batch)
    assert r.status_code == 422, r.text
    [p] = r.json()["problems"]
    assert (p["item"], p["field"]) == (1, "traces[1].trace_id")
    assert "/api/v1/traces/{id}" in p["message"]
    assert store.list(limit=10) == []  # the batch is atomic


@pytest.mark.parametrize("trace_id", ["a/b", "..", "compare"])
async def test_an_event_trace_id_follows_the_same_rule(
    client: httpx.AsyncClient, trace_id: str
) -> None:
    event = {
        "type": "tool_call",
        "tool": "search",
        "status": "success",
        "duration_seconds": 1.0,
        "trace_id": trace_id,
    }
    r = await post(client, event)
    assert r.status_code == 422, r.text
    assert [p["field"] for p in r.json()["problems"]] == ["events[0].trace_id"]


# --- the same ids and names in `sloguard trace` ------------------------------------------------
def run_trace(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="sloguard trace")
    TRACE.add_arguments(parser)
    return TRACE.handler(parser.parse_args(argv))


def test_trace_list_shows_ids_and_names_as_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "traces.sqlite"
    store = TraceStore(path)
    odd = {"trace_id": "[/]\x1b[2J", "steps": [{"name": "[bold]planner\x07", "latency": 5}]}
    store.put(parse_trace(odd), 1_750_000_000.0)
    store.close()
    assert run_trace(["list", "--store", str(path)]) == 0
    out = capsys.readouterr().out
    assert "[/]\ufffd[2J" in out and "[bold]planner\ufffd" in out
    assert "\x1b" not in out and "\x07" not in out
    assert run_trace(["show", "--store", str(path), "[/]\x1b[2J"]) == 0
    assert "[bold]planner\ufffd (agent, ok, 5 ms)" in capsys.readouterr().out
