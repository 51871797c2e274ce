"""The contract of a :class:`~sloguard.tracestore.base.TraceStore`, run against every store.

What a store must do (the API, ingest, alert links and the pruner rely on each point):

1. **Round trip.** A stored trace comes back equal, redacted (parameters and requests), with
   its summary; a later trace of the same id replaces it (in one batch: the last one wins);
   writers in several threads or processes never duplicate an id.
2. **Listings.** ``list`` is newest start first (ties: the later stored first), filtered by
   agent (where it worked), status and ``[since, until)``, cut at ``limit``; ``failing`` is the
   newest failed traces, or those where one agent's work failed; ``successful`` the newest
   ``ok`` bodies; ``summary`` and ``get`` answer None for an unknown id.
3. **Decisions** come back equal (with their UTC offset), oldest first, the newest ``limit``
   when more match, filtered by workflow, agent and time; **events** newest first with their
   ``received_at``, filtered by type, agent (``source_agent`` for handoffs), trace id and time.
4. **Bad input** is an :class:`~sloguard.errors.InvalidRecord` naming every bad item, storing
   nothing; a bad ``limit`` or ``now`` is a ValueError.
5. **Retention.** ``prune`` drops by age, by steps (oldest traces first), by decision and event
   counts (newest kept) and by bytes (``used_bytes`` back under ``max_bytes``), says what it
   dropped and why; a write past the point where pruning starts calls ``on_full``.
6. **Stats and health.** ``stats`` counts what is held; ``check`` succeeds on a working store
   and its health is not degraded; a reopened store sees what the first stored.

The SQLite store runs always; the PostgreSQL store runs against a real PostgreSQL
(``tests/support/pgserver.py``; a fresh database per test) and is ``e2e``.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from sloguard.analysis.decisionrecord import DecisionRecord, Option
from sloguard.errors import InvalidRecord
from sloguard.sdk.trace import ResponseTrace, parse_trace
from sloguard.tracestore.base import TraceStore
from sloguard.tracestore.store import SqliteTraceStore
from tests.support.traces import routed, seed_workflow

NOW = 1_750_000_000.0
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
KST = timezone(timedelta(hours=9))

Factory = Callable[..., TraceStore]
_databases = count()


@pytest.fixture(scope="module")
def pg_admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.support.pgserver import start_postgres

    with start_postgres(tmp_path_factory.mktemp("pg")) as url:
        yield url


def fresh_database(admin_url: str) -> str:
    """A new empty database on the server of ``admin_url``; return its URL."""
    import psycopg

    name = f"contract_{next(_databases)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    return admin_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.e2e)])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    """Open a store of this kind (the same storage each call) with the given bounds."""
    opened: list[TraceStore] = []
    url = fresh_database(request.getfixturevalue("pg_admin")) if request.param == "postgres" else ""

    def factory(**bounds: Any) -> TraceStore:
        store: TraceStore
        if url:
            from sloguard.tracestore.pgstore import open_pg_trace_store

            store = open_pg_trace_store(url, **bounds)
        else:
            store = SqliteTraceStore(tmp_path / "traces.sqlite", min_free_bytes=0, **bounds)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def store(make: Factory) -> TraceStore:
    return make()


def at(trace_id: str, start: str, *, error: str | None = None, agent: str = "x") -> ResponseTrace:
    step: dict[str, Any] = {"name": agent, "call_type": "AGENT", "start_time": start}
    if error:
        step["error"] = error
    return parse_trace({"trace_id": trace_id, "steps": [step]})


def decision(agent: str, seconds: float, *, workflow: str | None = "wf-1") -> DecisionRecord:
    return DecisionRecord(
        agent, T0 + timedelta(seconds=seconds), "routing", "billing", 0.8, workflow_id=workflow
    )


# --- 1. round trip ------------------------------------------------------------------------------
def test_a_trace_comes_back_equal_with_its_summary(store: TraceStore) -> None:
    trace = seed_workflow("wf-1")
    summary = store.put(trace, NOW)
    got = store.get("wf-1")
    assert got is not None and got.as_dict() == trace.as_dict()
    assert store.summary("wf-1") == summary
    assert (summary.agent, summary.status, summary.steps) == ("supervisor", "ok", 11)
    assert store.get("nope") is None and store.summary("nope") is None


def test_parameters_and_requests_are_redacted(store: TraceStore) -> None:
    raw = {
        "trace_id": "red",
        "steps": [
            {"step_id": "a", "name": "x", "parameters": {"token": "t", "n": 1},
             "requests": {"auth": "s"}},
        ],
    }  # fmt: skip
    store.put(parse_trace(raw), NOW)
    got = store.get("red")
    assert got is not None
    assert got.steps[0].parameters == {"token": "[REDACTED]", "n": 1}
    assert got.steps[0].requests == {"auth": "[REDACTED]"}


def test_a_later_trace_of_the_same_id_replaces_it(store: TraceStore) -> None:
    store.put(routed("r"), NOW)
    store.put(routed("r", fails=True), NOW + 1)
    assert [(s.trace_id, s.status) for s in store.list()] == [("r", "error")]
    assert len(store.list(agent="billing-agent")) == 1
    assert [s.trace_id for s in store.failing(agent="billing-agent")] == ["r"]
    store.put_traces([routed("b", fails=True), routed("b")], NOW + 2)
    assert store.summary("b") is not None and store.summary("b").status == "ok"  # type: ignore[union-attr]


def test_writers_in_threads_never_duplicate_an_id(make: Factory) -> None:
    stores = [make(), make()]  # two handles on one storage, as two sidecars on one database
    errors: list[BaseException] = []

    def write(store: TraceStore, n: int) -> None:
        try:
            for i in range(15):
                store.put_traces([routed(f"same-{i}", fails=bool(n)), routed(f"own-{n}-{i}")], NOW)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(s, n)) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    ids = [s.trace_id for s in stores[0].list(limit=1000)]
    assert len(ids) == len(set(ids)) == 45
    assert len(stores[1].list(agent="supervisor", limit=1000)) == 45


# --- 2. listings ----------------------------------------------------------------------------------
def test_listings_filter_and_order(store: TraceStore) -> None:
    store.put(at("a", "2025-03-01T09:00:00+00:00", agent="planner"), NOW)
    store.put(at("b", "2025-03-01T10:00:00+00:00", error="boom", agent="planner"), NOW)
    store.put(at("c", "2025-03-01T11:00:00+00:00", agent="writer"), NOW)
    store.put(at("tie", "2025-03-01T11:00:00+00:00", error="x", agent="writer"), NOW + 1)

    def ids(**kw: Any) -> list[str]:
        return [s.trace_id for s in store.list(**kw)]

    assert ids() == ["tie", "c", "b", "a"]
    assert ids(agent="planner") == ["b", "a"]
    assert ids(status="error") == ["tie", "b"]
    assert ids(status="ok", agent="writer") == ["c"]
    nine, ten = T0.timestamp(), T0.timestamp() + 3600
    assert ids(since=ten) == ["tie", "c", "b"]
    assert ids(until=ten) == ["a"]
    assert ids(since=nine, until=ten + 1, agent="planner") == ["b", "a"]
    assert ids(limit=1) == ["tie"]
    assert [s.trace_id for s in store.failing()] == ["tie", "b"]
    assert [s.trace_id for s in store.failing(agent="planner", limit=5)] == ["b"]
    assert store.failing(agent="nobody") == []
    assert [t.trace_id for t in store.successful(limit=5)] == ["c", "a"]


def test_bad_limits_and_times_are_value_errors(store: TraceStore) -> None:
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ValueError, match="limit must be an integer >= 1"):
            store.list(limit=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="now must be finite"):
        store.put(routed("r"), float("nan"))


# --- 3. decisions and events ----------------------------------------------------------------------
def test_decisions_round_trip_in_order(store: TraceStore) -> None:
    seoul = DecisionRecord(
        "supervisor",
        datetime(2025, 3, 1, 18, 0, 0, 123456, tzinfo=KST),
        "routing",
        "billing-agent",
        0.82,
        options_considered=(Option("billing-agent", 0.82), Option("shipping-agent")),
        reasoning="사용자가 환불을 요청",
        workflow_id="wf-001",
        input_summary="환불 요청",
    )
    store.put_decisions([seoul, decision("a", 1), decision("b", 2), decision("a", 3)], NOW)
    assert store.decisions(workflow_id="wf-001") == [seoul]
    assert store.decisions(workflow_id="wf-001")[0].timestamp.utcoffset() == timedelta(hours=9)
    assert [r.agent_id for r in store.decisions(workflow_id="wf-1")] == ["a", "b", "a"]
    assert [r.timestamp for r in store.decisions(agent="a")] == [
        T0 + timedelta(seconds=1),
        T0 + timedelta(seconds=3),
    ]
    assert [r.agent_id for r in store.decisions(workflow_id="wf-1", limit=2)] == ["b", "a"]
    since = (T0 + timedelta(seconds=2)).timestamp()
    assert [r.agent_id for r in store.decisions(since=since, until=since + 1)] == ["b"]


def test_events_are_newest_first_and_filtered(store: TraceStore) -> None:
    store.put_events([{"type": "tool_call", "agent": "a", "trace_id": "t1"}], NOW)
    store.put_events(
        [{"type": "handoff", "source_agent": "a", "target_agent": "b", "api_key": "k"}], NOW + 1
    )
    store.put_events([{"type": "tool_call", "agent": "b"}], NOW + 2)
    assert [e["type"] for e in store.events()] == ["tool_call", "handoff", "tool_call"]
    assert [e["received_at"] for e in store.events(agent="a")] == [NOW + 1, NOW]
    assert store.events(trace_id="t1")[0]["agent"] == "a"
    assert store.events(type="handoff")[0]["api_key"] == "[REDACTED]"
    assert len(store.events(type="tool_call", since=NOW + 1)) == 1
    assert len(store.events(until=NOW + 1, limit=5)) == 1


# --- 4. bad input ---------------------------------------------------------------------------------
def test_bad_items_are_refused_whole(store: TraceStore) -> None:
    with pytest.raises(InvalidRecord, match=r"traces\[1\]: expected a ResponseTrace, got dict"):
        store.put_traces([routed("ok"), {"trace_id": "x"}], NOW)  # type: ignore[list-item]
    with pytest.raises(InvalidRecord, match=r"events\[1\]\.type: must be a non-empty string"):
        store.put_events([{"type": "a"}, {"type": ""}], NOW)
    with pytest.raises(InvalidRecord, match="decisions"):
        store.put_decisions([decision("a", 1), "no"], NOW)  # type: ignore[list-item]
    assert store.list() == [] and store.events() == [] and store.decisions() == []


# --- 5. retention ---------------------------------------------------------------------------------
def test_prune_by_age_drops_every_kind(store: TraceStore) -> None:
    store.put(routed("old"), NOW - 8 * 86400)
    store.put_decisions([decision("a", 1)], NOW - 8 * 86400)
    store.put_events([{"type": "x"}], NOW - 8 * 86400)
    store.put(routed("new"), NOW - 86400)
    result = store.prune(NOW)
    assert (result.traces, result.decisions, result.events) == (1, 1, 1)
    assert result.reasons == {"age": 3}
    assert [s.trace_id for s in store.list()] == ["new"]
    assert [s.trace_id for s in store.list(agent="supervisor")] == ["new"]
    assert store.prune(NOW).rows == 0


def test_prune_by_steps_drops_the_oldest_stored(make: Factory) -> None:
    store = make(max_steps=12)  # routed(): 5 steps each
    for i in range(4):
        store.put(routed(f"r{i}"), NOW + i)
    result = store.prune(NOW + 10)
    assert (result.traces, result.steps, result.reasons) == (2, 10, {"steps": 2})
    assert sorted(s.trace_id for s in store.list()) == ["r2", "r3"]


def test_prune_keeps_the_newest_decisions_and_events(make: Factory) -> None:
    store = make(max_decisions=2, max_events=3)
    store.put_decisions([decision("a", i) for i in range(5)], NOW)
    store.put_events([{"type": f"e{i}"} for i in range(5)], NOW)
    result = store.prune(NOW)
    assert (result.decisions, result.events) == (3, 2)
    assert [r.timestamp for r in store.decisions()] == [
        T0 + timedelta(seconds=3),
        T0 + timedelta(seconds=4),
    ]
    assert [e["type"] for e in store.events()] == ["e4", "e3", "e2"]


def test_prune_by_bytes_gets_back_under_the_bound(make: Factory) -> None:
    store = make(max_bytes=1024 * 1024)
    woken: list[int] = []
    store.on_full = lambda: woken.append(1)
    n = 0
    while not woken and n < 1000:  # ~12 KiB a trace after compression: random text
        steps = [
            {"name": "a", "parameters": {f"p{j}": secrets.token_hex(100) for j in range(10)}}
            for _ in range(10)
        ]
        raw = {"trace_id": f"big-{n}", "steps": steps}
        store.put(parse_trace(raw), NOW + n)
        n += 1
    assert woken, "on_full was never called"
    result = store.prune(NOW + n)
    assert result.reasons.get("bytes", 0) > 0
    assert result.bytes_after < result.bytes_before
    assert store.used_bytes() <= 1024 * 1024
    kept = [s.trace_id for s in store.list(limit=10_000)]
    assert f"big-{n - 1}" in kept and "big-0" not in kept


# --- 6. stats and health --------------------------------------------------------------------------
def test_stats_check_and_reopening(make: Factory) -> None:
    store = make()
    store.put_traces([routed("a"), seed_workflow("b")], NOW)
    store.put_decisions([decision("a", 1)], NOW + 1)
    store.put_events([{"type": "x"}, {"type": "y"}], NOW + 2)
    stats = store.stats()
    assert (stats.traces, stats.steps, stats.decisions, stats.events) == (2, 16, 1, 2)
    assert (stats.oldest_stored_at, stats.newest_stored_at) == (NOW, NOW)
    assert 0 < stats.used_bytes == store.used_bytes()
    assert stats.file_bytes > 0
    assert store.check(NOW) is True
    assert store.health.degraded() is None
    again = make()
    got = again.get("b")
    assert got is not None and got.as_dict() == seed_workflow("b").as_dict()
    assert again.stats().events == 2


def test_nul_characters_are_stored_not_refused(store: TraceStore) -> None:
    nul = DecisionRecord("a\x00", T0, "routing", "x", 0.5, reasoning="why\x00not")
    store.put_decisions([nul], NOW)
    store.put_events([{"type": "odd", "agent": "b\x00", "note": "n\x00"}], NOW)
    [got] = store.decisions()
    assert got.reasoning.startswith("why") and got.reasoning.endswith("not")
    assert store.events(type="odd")[0]["note"] == "n\x00"  # the body keeps it exactly
