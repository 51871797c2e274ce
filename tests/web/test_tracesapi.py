"""``/api/v1/traces``, ``/decisions``, ``/anomalies``: query values checked, every stored id opens.

The real app (ingest router + traces API) over a real SQLite trace store in ``tmp_path``, over
ASGI.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from fastapi import HTTPException
from prometheus_client import CollectorRegistry

from sloguard.commands.trace import TRACE
from sloguard.ingest.router import ingest_router
from sloguard.sdk.recorder import Recorder
from sloguard.sdk.trace import parse_trace
from sloguard.tracestore.store import TraceStore
from sloguard.web.server import create_app
from sloguard.web.tracesapi import MAX_TIME, ReadLimit, traces_router
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


# --- deep traces: bounded answers, bounded concurrency (issue 13, defect 4) ---------------------


def _chain(trace_id: str, n: int) -> dict[str, object]:
    """A parent chain of ``n`` steps, agent and tool alternating."""
    steps = [
        {
            "step_id": f"s{i}",
            "parent_step_id": f"s{i - 1}" if i else None,
            "call_type": "TOOL" if i % 2 else "AGENT",
            "name": "search" if i % 2 else ("planner", "coder")[i // 2 % 2],
            "start_time": f"2025-03-01T09:00:00.{i:06d}+00:00",
            "latency": n - i,
        }
        for i in range(n)
    ]
    return {"trace_id": trace_id, "steps": steps}


async def test_a_deep_trace_is_answered_in_size_linear_in_its_steps(
    client: httpx.AsyncClient, store: TraceStore
) -> None:
    store.put_traces([parse_trace(_chain("deep", 3000))], now=0.0)
    r = await client.get("/api/v1/traces/deep")
    assert r.status_code == 200
    tree = r.json()["tree"]
    assert tree.endswith("… 1000 more steps not shown (at most 2000 lines)")
    assert len(tree) < 2000 * 250  # its indentation grew with depth: 3000 steps gave 18 MB
    assert len(r.content) < 2_000_000


@pytest.mark.parametrize(
    "path",
    ["/api/v1/traces/t", "/api/v1/traces/t/mermaid", "/api/v1/traces/t/svg",
     "/api/v1/traces/compare?a=t"],
)  # fmt: skip
async def test_expensive_reads_past_the_limit_answer_503_with_retry_after(
    registry: CollectorRegistry, store: TraceStore, path: str
) -> None:
    store.put_traces([parse_trace(_chain("t", 4))], now=0.0)
    reads = ReadLimit(1, wait=0.0, retry_after=3)
    app = create_app(registry, routers=[traces_router(store, reads=reads)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sloguard") as c:
        assert reads.try_acquire()  # a read in progress holds the only slot
        r = await c.get(path)
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"] == "3"
        assert "busy" in r.json()["detail"]
        assert (await c.get("/api/v1/traces")).status_code == 200  # listing is cheap: not limited
        reads.release()
        r = await c.get(path)
        assert r.status_code in (200, 404), r.text  # compare: no successful baseline but itself
        assert reads.try_acquire()  # the request gave its slot back
    with pytest.raises(ValueError, match="slots"):
        ReadLimit(0)


def test_a_read_waits_for_a_slot_within_its_bounds() -> None:
    reads = ReadLimit(1, waiting=1, wait=60.0)
    assert reads.try_acquire()
    served = threading.Event()

    def read() -> None:
        with reads.slot():
            served.set()

    waiter = threading.Thread(target=read)
    waiter.start()
    while reads._queued == 0:  # the read is waiting in the queue
        time.sleep(0.001)
    with pytest.raises(HTTPException) as refused, reads.slot():  # the queue is full
        pass
    assert refused.value.status_code == 503
    assert not served.is_set()
    reads.release()  # the running read ends: the waiting one gets its slot
    waiter.join()
    assert served.is_set() and reads.try_acquire()


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


def test_trace_diff_says_when_a_comparison_was_cut(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "traces.sqlite"
    store = TraceStore(path)
    a = parse_trace(_chain("a", 1500))
    other = _chain("b", 1500)
    for step in other["steps"]:  # type: ignore[attr-defined]
        step["name"] = step["name"].replace("coder", "tester")
    store.put_traces([a, parse_trace(other)], now=1_750_000_000.0)
    store.close()
    assert run_trace(["diff", "a", "b", "--store", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith(
        "… and more: at most 500 differing events of each run are compared"
    )
    assert len(out.splitlines()) <= 2 + 2 * 2 * 500 + 1
