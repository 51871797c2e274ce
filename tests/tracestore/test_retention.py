"""Retention of the trace store (age, counts, bytes), its pruner thread, and older files."""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sloguard.analysis.decisionrecord import DecisionRecord
from sloguard.conventions import CallType
from sloguard.errors import InvalidRecord
from sloguard.sdk.redact import Redactor
from sloguard.sdk.trace import ResponseTrace, parse_trace
from sloguard.tracestore.database import StoreVersionError
from sloguard.tracestore.model import storable
from sloguard.tracestore.pruner import TracePruner
from sloguard.tracestore.retention import PRUNE_AT, PRUNE_TO, MiB, Retention
from sloguard.tracestore.store import TraceStore
from tests.support.traces import T0, routed

NOW = 1_750_000_000.0
DAY = 86400.0
KiB = 1024


def decision(agent: str, seconds: float = 0) -> DecisionRecord:
    return DecisionRecord(agent, T0 + timedelta(seconds=seconds), "handoff", "writer", 0.9)


def event(n: int) -> dict[str, Any]:
    return {"type": "agent_call", "agent": f"a{n}", "trace_id": f"t{n}"}


def bulky(n: int, rng: random.Random) -> ResponseTrace:
    """A 10-step trace whose parameters hardly compress (about 2 KB stored)."""
    steps = [
        {
            "step_id": f"s{k}",
            "call_type": "AGENT" if k == 0 else "TOOL",
            "name": "planner" if k == 0 else "search",
            "parent_step_id": None if k == 0 else "s0",
            "start_time": T0.isoformat(),
            "latency": 10,
            "parameters": {"q": "%0200x" % rng.getrandbits(800)},  # noqa: UP031
        }
        for k in range(10)
    ]
    return parse_trace({"trace_id": f"bulky-{n:05d}", "steps": steps})


def fill(store: TraceStore, traces: int, now: float, first: int = 0) -> None:
    rng = random.Random(first)
    for start in range(first, first + traces, 100):
        batch = [bulky(n, rng) for n in range(start, min(start + 100, first + traces))]
        store.put_traces(batch, now)
        store.put_decisions([decision(f"a{n}") for n in range(start, start + 50)], now)
        store.put_events([event(n) for n in range(start, start + 50)], now)


def wait_until(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting: {what}")
        time.sleep(0.01)


# --- age and counts ------------------------------------------------------------------------------
def test_prune_by_age_covers_traces_decisions_and_events(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "t.sqlite")  # max_age_seconds: 7 days
    store.put(routed("old"), NOW - 8 * DAY)
    store.put_decisions([decision("a"), decision("b")], NOW - 8 * DAY)
    store.put_events([event(1), event(2), event(3)], NOW - 8 * DAY)
    store.put(routed("new"), NOW - 6 * DAY)
    store.put_decisions([decision("c")], NOW - 6 * DAY)
    store.put_events([event(4)], NOW - 6 * DAY)
    p = store.prune(NOW)
    assert (p.traces, p.steps, p.decisions, p.events) == (1, 5, 2, 3)
    assert p.reasons == {"age": 6}
    assert [s.trace_id for s in store.list()] == ["new"]
    assert store.list(agent="billing-agent")[0].trace_id == "new"
    assert [r.agent_id for r in store.decisions()] == ["c"]
    assert [e["agent"] for e in store.events()] == ["a4"]
    assert store.prune(NOW).rows == 0


def test_prune_by_steps_counts_the_steps_dropped(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "t.sqlite", max_steps=12)  # routed(): 5 steps each
    for i in range(4):
        store.put(routed(f"r{i}"), NOW + i)
    p = store.prune(NOW + 10)
    assert (p.traces, p.steps, p.reasons) == (2, 10, {"steps": 2})
    assert store.stats().steps == 10


def test_prune_keeps_the_newest_stored_decisions(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "t.sqlite", max_decisions=3)
    # stored in this order, decided in the reverse one: "oldest" is the order of storing
    store.put_decisions([decision("d0", 50), decision("d1", 40)], NOW)
    store.put_decisions([decision("d2", 30), decision("d3", 20), decision("d4", 10)], NOW + 1)
    p = store.prune(NOW + 2)
    assert (p.decisions, p.reasons) == (2, {"decisions": 2})
    assert [r.agent_id for r in store.decisions()] == ["d4", "d3", "d2"]


def test_prune_keeps_the_newest_events(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "t.sqlite", max_events=4)
    store.put_events([event(n) for n in range(10)], NOW)
    p = store.prune(NOW)
    assert (p.events, p.reasons) == (6, {"events": 6})
    assert [e["agent"] for e in store.events()] == ["a9", "a8", "a7", "a6"]


def test_a_cancelled_prune_stops_before_dropping(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "t.sqlite")
    store.put(routed("old"), NOW - 8 * DAY)
    cancel = threading.Event()
    cancel.set()
    assert store.prune(NOW, cancel=cancel).rows == 0
    assert store.get("old") is not None


# --- bytes ---------------------------------------------------------------------------------------
def test_the_log_and_the_pages_share_max_bytes() -> None:
    r = Retention(max_bytes=MiB)
    assert (r.wal_bytes, r.db_bytes) == (64 * KiB, MiB - 128 * KiB)
    assert r.high_water == int((MiB - 128 * KiB) * PRUNE_AT)
    big = Retention(max_bytes=512 * MiB)
    assert (big.wal_bytes, big.db_bytes, big.chunk) == (4 * MiB, 504 * MiB, 512)


def test_prune_by_bytes_brings_the_file_within_max_bytes(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "t.sqlite", max_bytes=MiB)
    fill(store, 800, NOW)
    before = store.stats()
    assert before.used_bytes > MiB  # nothing pruned yet: well over the bound
    p = store.prune(NOW + 1)
    after = store.stats()
    assert set(p.reasons) == {"bytes"}
    assert after.used_bytes <= (MiB - 128 * KiB) * PRUNE_TO
    assert after.file_bytes <= MiB  # the file itself shrank: freed pages went back
    assert p.bytes_before == before.used_bytes and p.bytes_after == after.used_bytes
    # every kind lost its oldest share, and none was wiped out
    assert 0 < after.traces < before.traces
    assert 0 < after.decisions < before.decisions
    assert 0 < after.events < before.events
    assert store.get("bulky-00000") is None
    assert store.get("bulky-00799") is not None
    assert store.prune(NOW + 1).rows == 0


def test_below_the_high_water_nothing_goes_for_bytes(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "t.sqlite", max_bytes=MiB)
    fill(store, 100, NOW)
    assert store.used_bytes() < store.retention.high_water
    assert store.prune(NOW).rows == 0


def test_a_write_past_the_high_water_calls_on_full(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "t.sqlite", max_bytes=MiB)
    calls: list[int] = []
    store.on_full = lambda: calls.append(store.used_bytes())
    fill(store, 100, NOW)
    assert calls == []
    fill(store, 500, NOW, first=100)
    assert calls and all(used > store.retention.high_water * 0.9 for used in calls)


def test_new_files_can_shrink(tmp_path: Path) -> None:
    assert TraceStore(tmp_path / "t.sqlite").auto_vacuum == "incremental"


# --- the pruner thread ---------------------------------------------------------------------------
def test_the_pruner_runs_at_start_and_when_the_store_fills(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "t.sqlite", max_bytes=MiB)
    store.put(routed("expired"), time.time() - 8 * DAY)
    pruner = TracePruner(store, interval=3600)
    pruner.start()
    try:
        wait_until(lambda: pruner.passes >= 1, "the first pass")
        assert store.get("expired") is None
        assert pruner.last is not None and pruner.last.reasons == {"age": 1}
        # within the hour, only the store filling up can start another pass
        fill(store, 800, time.time())
        wait_until(lambda: pruner.passes >= 2, "a pass started by the store")
    finally:
        pruner.stop()
    assert store.on_full is None  # a stopped pruner is not woken any more


def test_a_failing_pass_does_not_stop_the_pruner(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "t.sqlite")
    store.close()  # every pass now fails
    pruner = TracePruner(store, interval=3600)
    pruner.start()
    try:
        wait_until(lambda: pruner.passes >= 1, "the first (failing) pass")
        pruner.wake()
        wait_until(lambda: pruner.passes >= 2, "another pass after a failure")
        assert pruner.last is None
    finally:
        pruner.stop()


def test_pruner_needs_a_positive_interval(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="interval must be > 0 seconds, got 0"):
        TracePruner(TraceStore(tmp_path / "t.sqlite"), interval=0)


def test_bad_retention_bounds_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as info:
        TraceStore(tmp_path / "t.sqlite", max_bytes=0, max_steps=-1)
    assert str(info.value) == (
        "invalid retention: max_steps must be > 0, got -1; max_bytes must be > 0, got 0"
    )


# --- traces: batches ----------------------------------------------------------------------------
def test_put_traces_is_one_batch_where_a_later_trace_replaces_an_earlier(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "t.sqlite")
    summaries = store.put_traces([routed("a"), routed("b"), routed("a", fails=True)], NOW)
    assert [s.trace_id for s in summaries] == ["b", "a"]
    assert sorted((s.trace_id, s.status) for s in store.list()) == [("a", "error"), ("b", "ok")]
    with pytest.raises(InvalidRecord, match=r"traces\[1\]: expected a ResponseTrace, got dict"):
        store.put_traces([routed("c"), {"trace_id": "d"}], NOW)  # type: ignore[list-item]
    assert store.get("c") is None


# --- files of the first version ------------------------------------------------------------------
V0_SCHEMA = """
CREATE TABLE traces (
    trace_id TEXT PRIMARY KEY, started_at REAL NOT NULL, stored_at REAL NOT NULL,
    agent TEXT NOT NULL, status TEXT NOT NULL, steps INTEGER NOT NULL, cost REAL,
    json TEXT NOT NULL
);
CREATE INDEX traces_started ON traces (started_at);
CREATE INDEX traces_stored ON traces (stored_at);
CREATE INDEX traces_status ON traces (status, started_at);
CREATE TABLE steps (
    trace_id TEXT NOT NULL, step_id TEXT NOT NULL, agent TEXT, call_type TEXT NOT NULL,
    status TEXT NOT NULL, start REAL NOT NULL
);
CREATE INDEX steps_trace ON steps (trace_id);
CREATE INDEX steps_agent ON steps (agent, status, start);
CREATE INDEX steps_start ON steps (start);
"""


def write_v0(path: Path, traces: list[ResponseTrace]) -> None:
    """Write ``traces`` as the first trace store did (JSON text, a row per step)."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(V0_SCHEMA)
    for n, t in enumerate(traces):
        steps = list(t.walk())
        text = json.dumps(storable(t.as_dict(), Redactor()), default=str)
        failed = any(s.failed for s in steps)
        start = min(s.start_time.timestamp() for s in steps)
        db.execute(
            "INSERT INTO traces VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (t.trace_id, start, NOW + n, "supervisor", "error" if failed else "ok", len(steps),
             None, text),
        )  # fmt: skip
        for s in steps:
            agent = s.name if s.call_type is CallType.AGENT else s.scope_agent
            db.execute(
                "INSERT INTO steps VALUES (?, ?, ?, ?, ?, ?)",
                (t.trace_id, s.step_id, agent, s.call_type.value,
                 "error" if s.failed else "ok", s.start_time.timestamp()),
            )  # fmt: skip
    db.commit()
    db.close()


def test_a_first_version_file_is_migrated_and_can_shrink_afterwards(tmp_path: Path) -> None:
    path = tmp_path / "traces.sqlite"
    good, bad = routed("good"), routed("bad", "shipping-agent", (("track", "lost"),), fails=True)
    write_v0(path, [good, bad])
    store = TraceStore(path)
    got = store.get("good")
    assert got is not None and got.as_dict() == parse_trace(good.as_dict()).as_dict()
    assert [s.trace_id for s in store.list()] == ["bad", "good"]  # equal starts: newest stored
    assert [s.trace_id for s in store.list(agent="shipping-agent")] == ["bad"]
    assert [s.trace_id for s in store.failing(agent="shipping-agent")] == ["bad"]
    assert store.failing(agent="billing-agent") == []
    assert store.auto_vacuum == "incremental"
    store.put(routed("new"), NOW + 5)  # new bodies (compressed) beside migrated ones (text)
    assert {s.trace_id for s in store.list()} == {"good", "bad", "new"}
    assert store.prune(NOW + 2 + 7 * DAY).traces == 2  # stored at NOW and NOW + 1
    store.close()
    db = sqlite3.connect(path)
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "steps" not in tables and "traces_v0" not in tables
    assert db.execute("PRAGMA user_version").fetchone() == (2,)


def test_a_file_of_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "traces.sqlite"
    TraceStore(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=3")
    db.close()
    with pytest.raises(StoreVersionError, match="trace store schema 3 is newer than this"):
        TraceStore(path)


def test_a_batch_larger_than_one_in_list_replaces_every_trace(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "t.sqlite")
    store.put_traces([routed(f"r{i}") for i in range(1200)], NOW)
    store.put_traces([routed(f"r{i}", fails=True) for i in range(1200)], NOW + 1)
    stats = store.stats()
    assert (stats.traces, stats.steps) == (1200, 6000)
    assert len(store.list(status="error", limit=1000)) == 1000
    assert store.list(status="ok") == []
