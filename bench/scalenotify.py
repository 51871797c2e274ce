"""Notifications per second through the outbox, for bench/scale.py: the burning instances of
one evaluation cycle through ``AlertCenter.process`` and one ``OutboxWorker`` to a recording
notifier, on the SQLite store (one replica) or on a shared PostgreSQL database with two
replicas (the leader delivers; the follower is shown to claim nothing); there also the
leader publishing one cycle's results for followers and a follower reading them.

Example::

    summary = await sqlite_outbox(results, Path("state.db"))   # {"per_second": ..., ...}
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from sloguard.alerting.center import AlertCenter
from sloguard.alerting.storebase import AlertStore
from sloguard.evaluation.evaluator import InstanceResult
from sloguard.notify.config import AlertRouting, LogSpec, Receiver
from sloguard.notify.outbox import OutboxWorker
from sloguard.notify.recording import RecordingNotifier
from sloguard.notify.routing import Route

RECEIVER = "bench"
SHARE_ROUNDS = 5

__all__ = ["postgres_outbox", "sqlite_outbox"]


async def _through(store: AlertStore, results: tuple[InstanceResult, ...]) -> dict[str, Any]:
    receiver = Receiver(RECEIVER, "log", LogSpec())
    center = AlertCenter(store, AlertRouting({RECEIVER: receiver}, Route(receiver=RECEIVER)))
    sink = RecordingNotifier(RECEIVER)
    worker = OutboxWorker(store, {RECEIVER: sink})
    started = time.perf_counter()
    queued = center.process(results, time.time())
    mid = time.perf_counter()
    while store.depth().get(RECEIVER):
        if not await worker.run_once(RECEIVER):
            break
    done = time.perf_counter()
    n = len(sink.sent)
    return {
        "queued": len(queued),
        "delivered": n,
        "queue_s": mid - started,
        "deliver_s": done - mid,
        "per_second": n / (done - started) if done > started else None,
    }


def _sharing(leader: Any, follower: Any, results: tuple[InstanceResult, ...]) -> dict[str, Any]:
    """The leader publishing a tick's results and a follower reading them (the median of
    :data:`SHARE_ROUNDS`), and the payload's size."""
    from sloguard.alerting.following import ResultSharing
    from sloguard.evaluation.resultcodec import encode_results

    slos = list({r.slo.name: r.slo for r in results}.values())
    publish, read = ResultSharing(leader), ResultSharing(follower)
    publish_s, read_s = [], []
    for _ in range(SHARE_ROUNDS):
        now = time.time()
        t0 = time.perf_counter()
        publish.publish(results, now)
        t1 = time.perf_counter()
        got = read.read(now, slos, stale_after=60.0)
        t2 = time.perf_counter()
        if got is None or len(got) != len(results):
            raise RuntimeError("the follower did not read the leader's results")
        publish_s.append(t1 - t0)
        read_s.append(t2 - t1)
    return {
        "instances": len(results),
        "payload_bytes": len(encode_results(results)),
        "publish_s": statistics.median(publish_s),
        "read_s": statistics.median(read_s),
        "rounds": SHARE_ROUNDS,
    }


async def sqlite_outbox(results: tuple[InstanceResult, ...], db: Path) -> dict[str, Any]:
    """One replica on a SQLite state file."""
    from sloguard.alerting.store import StateStore

    store = StateStore(db)
    try:
        return {"store": "sqlite, one replica", **await _through(store, results)}
    finally:
        store.close()


async def postgres_outbox(results: tuple[InstanceResult, ...], url: str) -> dict[str, Any]:
    """Two replicas on one PostgreSQL database: ``r1`` takes the lease and delivers, ``r2``
    (a follower) gets no lease and claims nothing, before and after."""
    from sloguard.alerting.leader import Fence
    from sloguard.alerting.pgstore import ALERTS, PgAlertStore
    from sloguard.postgres.pool import connect

    stores = [
        PgAlertStore(connect(url, components=[ALERTS]), holder=h, owns_db=True)
        for h in ("r1", "r2")
    ]
    try:
        for store in stores:
            lease, _ = store.acquire(60.0)
            mine = lease.holder == store.holder
            store.fence = Fence(store.lease_name, lease.holder, lease.token) if mine else None
        leader, follower = stores
        if leader.fence is None or follower.fence is not None:
            raise RuntimeError("r1 should lead and r2 follow")
        out = await _through(leader, results)
        follower_claims = len(follower.due(time.time()))
        shared = _sharing(leader, follower, results)
        return {
            "store": "postgresql, two replicas",
            **out,
            "follower_claims": follower_claims,
            "results": shared,
        }
    finally:
        for store in stores:
            store.close()
