"""Storage failures of the trace store: counted, logged once per change, readiness; free space.

The free-space rule runs against an injected ``free_bytes``; a real full file system is made in
a subprocess with ``RLIMIT_FSIZE`` (writes past the size fail with EFBIG, as on a full disk).
"""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from sloguard.tracestore.database import Database
from sloguard.tracestore.pruner import TracePruner
from sloguard.tracestore.retention import MiB
from sloguard.tracestore.store import TraceStore, space_budget
from sloguard.tracestore.storehealth import StorageFailure, StorageFailures, StoreHealth
from tests.support.traces import routed

NOW = 1_750_000_000.0
REPO = Path(__file__).resolve().parents[2]


def lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [
        (r.levelno, r.getMessage())
        for r in caplog.records
        if r.name == "sloguard.tracestore.storehealth"
    ]


# --- the health of one store ---------------------------------------------------------------------
def test_failures_are_counted_each_and_logged_once_per_change(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()
    health = StoreHealth("traces", on_failure=StorageFailures(registry))
    caplog.set_level(logging.INFO)
    assert health.degraded() is None
    for i in range(5):
        health.failed("write", "database or disk is full", NOW + i)
    assert health.degraded() == (
        "trace store: write failing since 2025-06-15T15:06:40Z (5 failures): "
        "database or disk is full"
    )
    assert health.succeeded(["write", "free_space"], NOW + 10)
    assert not health.succeeded(["write"], NOW + 11)  # nothing to clear: no line
    assert health.degraded() is None
    assert lines(caplog) == [
        (logging.WARNING, "trace store: write failing: database or disk is full"),
        (
            logging.INFO,
            "trace store: write works again after 5 failures since 2025-06-15T15:06:40Z",
        ),
    ]
    value = registry.get_sample_value
    assert value("sloguard_storage_failures_total", {"store": "traces", "operation": "write"}) == 5
    # every series exists at zero before the first failure, so alerts on rates work
    zero = {"store": "samples", "operation": "sample"}
    assert value("sloguard_storage_failures_total", zero) == 0


# --- the free-space rule -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("limit", "used", "free", "min_free", "budget"),
    [
        (500 * MiB, 100 * MiB, 10 * MiB, 64 * MiB, 46 * MiB),  # gives back the shortfall
        (500 * MiB, 100 * MiB, 1000 * MiB, 64 * MiB, 500 * MiB),  # room: its own bound
        (500 * MiB, 100 * MiB, 64 * MiB, 64 * MiB, 100 * MiB),  # at the minimum: keeps all
        (50 * MiB, 100 * MiB, 80 * MiB, 64 * MiB, 50 * MiB),  # never above its own bound
        (500 * MiB, 1 * MiB, 0, 64 * MiB, 0),  # disk filled by others: gives all it has
        (500 * MiB, 100 * MiB, None, 64 * MiB, 500 * MiB),  # unknown (":memory:")
        (500 * MiB, 100 * MiB, 10 * MiB, 0, 500 * MiB),  # rule off
    ],
)
def test_space_budget(limit: int, used: int, free: int | None, min_free: int, budget: int) -> None:
    assert space_budget(limit, used, free, min_free) == budget


class Disk:
    """An injected ``free_bytes``."""

    def __init__(self, free: int) -> None:
        self.free = free

    def __call__(self, path: str) -> int:
        return self.free


def test_writes_are_refused_below_the_free_space_minimum_and_resume_above(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    registry = CollectorRegistry()
    disk = Disk(1 * MiB)
    woken: list[bool] = []
    store = TraceStore(
        tmp_path / "traces.sqlite",
        min_free_bytes=8 * MiB,
        free_bytes=disk,
        on_failure=StorageFailures(registry),
    )
    store.on_full = lambda: woken.append(True)
    caplog.set_level(logging.INFO)
    for i in range(3):
        with pytest.raises(StorageFailure, match=r"1\.0 MiB free .* below traces\.min_free_bytes"):
            store.put(routed(f"t{i}"), NOW)
    with pytest.raises(StorageFailure):
        store.put_events([{"type": "agent_call", "agent": "a"}], NOW)
    assert store.list() == []
    assert woken == [True] * 4  # the pruner is asked to take the shortfall from the store
    labels = {"store": "traces", "operation": "free_space"}
    assert registry.get_sample_value("sloguard_storage_failures_total", labels) == 4
    reason = store.health.degraded()
    assert reason is not None and reason.startswith("trace store: free_space failing since")
    assert not store.check(NOW + 1)  # still full: not ready, and a probe is not counted
    assert registry.get_sample_value("sloguard_storage_failures_total", labels) == 4

    disk.free = 100 * MiB
    assert store.check(NOW + 2)
    assert store.health.degraded() is None
    store.put(routed("after"), NOW + 3)
    assert [s.trace_id for s in store.list()] == ["after"]
    assert [level for level, _ in lines(caplog)] == [logging.WARNING, logging.INFO]
    store.close()


def test_prune_gives_back_the_shortfall_when_the_disk_is_below_the_minimum(
    tmp_path: Path,
) -> None:
    disk = Disk(1000 * MiB)
    store = TraceStore(tmp_path / "traces.sqlite", min_free_bytes=64 * MiB, free_bytes=disk)
    for i in range(300):
        store.put(routed(f"t{i:03}"), NOW + i)
    store.prune(NOW + 300)
    assert len(store.list(limit=1000)) == 300  # room on the disk: nothing goes
    used = store.used_bytes()
    disk.free = 64 * MiB - used // 2  # short by half of what the store takes
    pruned = store.prune(NOW + 301)
    assert pruned.reasons.get("bytes", 0) > 0
    assert store.used_bytes() <= 0.8 * used // 2 + 8192  # down to 80 % of the budget
    left = [s.trace_id for s in store.list(limit=1000)]
    assert 0 < len(left) < 300 and "t299" in left  # the oldest went first
    store.close()


def test_without_the_rule_writes_ignore_free_space(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "traces.sqlite", min_free_bytes=0, free_bytes=Disk(0))
    store.put(routed("t"), NOW)
    assert store.get("t") is not None
    store.close()


# --- a real full file system ---------------------------------------------------------------------
FULL_DISK = textwrap.dedent(
    """
    import resource, signal, sys
    from pathlib import Path
    from prometheus_client import CollectorRegistry
    from sloguard.tracestore.store import TraceStore
    from sloguard.tracestore.storehealth import StorageFailure, StorageFailures
    from tests.support.traces import routed

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death, as ENOSPC would be
    path = Path(sys.argv[1])
    registry = CollectorRegistry()
    store = TraceStore(path, min_free_bytes=0, on_failure=StorageFailures(registry))
    store.put(routed("before"), 1.0)
    resource.setrlimit(resource.RLIMIT_FSIZE, (path.stat().st_size, resource.RLIM_INFINITY))
    failed = 0
    for i in range(200):
        try:
            store.put(routed(f"t{i}", f"agent-{i}"), 2.0)
        except StorageFailure as exc:
            failed += 1
            error = str(exc)
    print("failed", failed, "of 200:", error)
    print("degraded", store.health.degraded())
    print("counted", registry.get_sample_value(
        "sloguard_storage_failures_total", {"store": "traces", "operation": "write"}))
    print("probe", store.check(3.0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)
    print("probe", store.check(4.0), store.health.degraded())
    store.put(routed("after"), 5.0)
    print("stored", sorted(s.trace_id for s in store.list(limit=1000))[:2])
    """
)


def test_a_full_file_system_fails_writes_loudly_and_the_probe_sees_it_recover(
    tmp_path: Path,
) -> None:
    run = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(tmp_path / "traces.sqlite")],
        cwd=REPO,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    out = run.stdout.splitlines()
    assert out[0].startswith("failed ")
    failed = int(out[0].split()[1])
    assert failed > 150, out  # once the file cannot grow, every write fails
    assert "trace store: cannot write:" in out[0]
    assert out[1].startswith("degraded trace store: write failing since")
    assert out[2] == f"counted {float(failed)}"
    assert out[3] == "probe False"
    assert out[4] == "probe True None"
    assert out[5] == "stored ['after', 'before']"
    assert "Traceback" not in run.stderr


def test_a_failed_commit_leaves_no_transaction_open(tmp_path: Path) -> None:
    # A COMMIT can fail with the transaction still open (here: a deferred constraint; on a full
    # disk, depending on where the write fails); every later write would then fail with
    # "cannot start a transaction within a transaction".
    db = Database(tmp_path / "x.sqlite")
    db.conn.execute("PRAGMA foreign_keys=ON")
    db.conn.execute("CREATE TABLE p (id INTEGER PRIMARY KEY)")
    db.conn.execute("CREATE TABLE c (p INTEGER REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED)")
    with pytest.raises(sqlite3.IntegrityError), db.transaction() as conn:
        conn.execute("INSERT INTO c VALUES (1)")  # refused only at COMMIT
    assert not db.conn.in_transaction
    with db.transaction() as conn:
        conn.execute("INSERT INTO p VALUES (1)")
    assert db.read("SELECT COUNT(*) FROM c") == [(0,)]
    db.close()


# --- the pruner ----------------------------------------------------------------------------------
def wait_for(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout}s")
        time.sleep(0.01)


def test_the_pruner_finds_out_when_writing_works_again(tmp_path: Path) -> None:
    disk = Disk(0)
    store = TraceStore(tmp_path / "t.sqlite", min_free_bytes=MiB, free_bytes=disk)
    with pytest.raises(StorageFailure):
        store.put(routed("t"), NOW)
    pruner = TracePruner(store, interval=0.02)
    pruner.start()
    try:
        wait_for(lambda: pruner.passes >= 3, "three passes")
        assert store.health.degraded() is not None  # still full: still not ready
        disk.free = 10 * MiB  # space freed; no write comes (not ready: no traffic)
        wait_for(lambda: store.health.degraded() is None, "ready again without a write")
    finally:
        pruner.stop()
        store.close()


def test_a_failing_prune_is_logged_once_not_per_pass(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = TraceStore(tmp_path / "t.sqlite", min_free_bytes=0)
    store.put(routed("old"), time.time() - 30 * 86400)
    store._db.conn.execute(
        "CREATE TEMP TRIGGER full BEFORE DELETE ON traces "
        "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
    )
    pruner = TracePruner(store, interval=0.02)
    caplog.set_level(logging.INFO)
    with capture_logs() as structured:
        pruner.start()
        try:
            wait_for(lambda: pruner.passes >= 5, "five failing passes")
        finally:
            pruner.stop()
    assert [e for e in structured if e["event"] == "trace store prune failed"] == []
    assert [m for _, m in lines(caplog)] == [
        "trace store: prune failing: IntegrityError: disk I/O error"
    ]
    store.close()
