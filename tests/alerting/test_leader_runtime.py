"""The alert runtime with a leadership lease: a follower commits nothing and serves what the
leader committed; a new leader reloads the states before its first commit (no second page for
an alert another leader already paged); ``/readyz`` details say the role."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry

from sloguard.alerting.leader import Fence, Lease, LeaseTiming
from sloguard.alerting.runtime import AlertRuntime
from sloguard.alerting.silences import Matcher, MatchType
from sloguard.alerting.store import StateStore
from sloguard.alerting.storebase import NotLeader
from sloguard.durations import DAY
from sloguard.evaluation.evaluator import InstanceResult
from sloguard.notify.config import AlertRouting, LogSpec, Receiver
from sloguard.notify.routing import Route
from sloguard.slo.budget import Counts, evaluate
from sloguard.slo.spec import SLOInstance
from sloguard.web.auth import ReadAuth
from sloguard.web.server import create_app
from sloguard.web.silenceapi import WriteAccess, silence_router
from tests.support.slos import make_slo

T0 = 1_800_000_000.0
SLO = make_slo("avail")
ROUTING = AlertRouting({"log": Receiver("log", "log", LogSpec())}, Route("log"))


class SharedFile(StateStore):
    """One SQLite file standing in for the shared database, with a scripted lease."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(path)
        self.holder = holder
        self.lease_name = "alerts"
        self.fence: Fence | None = None
        self.answer = Lease("someone-else", 1, T0 + 1e9)

    def commit(self, *args: Any, **kwargs: Any) -> int:
        """Fenced like the shared store's: only while the fence is set."""
        if self.fence is None:
            raise NotLeader("this replica does not hold the leadership lease")
        return super().commit(*args, **kwargs)

    def acquire(self, ttl: float) -> tuple[Lease, float]:
        return self.answer, T0

    def release(self) -> None:
        self.fence = None


def burning(at: float) -> InstanceResult:
    windows = {w: Counts(0.5 * 1e5, 1e5) for w in SLO.windows()}
    ev = evaluate(objective=SLO.objective, period=30 * DAY, policy=SLO.alerting.policy,
                  windows=windows)  # fmt: skip
    return InstanceResult(SLO, SLOInstance.of(SLO.name, {}), ev, at)


def replica(tmp_path: Path, name: str) -> tuple[AlertRuntime, SharedFile]:
    store = SharedFile(tmp_path / "shared.sqlite", name)
    rt = AlertRuntime(
        tmp_path, registry=CollectorRegistry(), routing=ROUTING, store=store,
        lease=LeaseTiming.of(30.0),
    )  # fmt: skip
    assert rt.elector is not None
    rt.elector.clock = lambda: T0
    return rt, store


async def test_a_follower_commits_nothing_and_shows_what_the_leader_committed(
    tmp_path: Path,
) -> None:
    leader, leader_store = replica(tmp_path, "a")
    follower, follower_store = replica(tmp_path, "b")
    assert leader.elector is not None and follower.elector is not None
    leader_store.answer = follower_store.answer = Lease("a", 1, T0 + 30)
    await leader.elector.once()
    await follower.elector.once()
    assert leader.leads() and not follower.leads()
    assert follower.leadership() == {
        "role": "follower", "replica": "b", "leader": "a", "token": 1, "leads": False,
        "shared": True,
    }  # fmt: skip
    follower.after_tick([burning(T0)], T0)
    assert follower_store.states() == []  # nothing queued by a follower
    assert follower.center.active() == []
    leader.after_tick([burning(T0)], T0)
    assert len(leader_store.states()) == 1
    follower.after_tick([burning(T0 + 30)], T0 + 30)  # it reloads what the leader committed
    assert {a.started_at for a in follower.center.active()} == {T0}
    assert follower_store.states() == leader_store.states()


async def test_a_new_leader_reloads_before_its_first_commit(tmp_path: Path) -> None:
    old, old_store = replica(tmp_path, "a")
    new, new_store = replica(tmp_path, "b")  # built before the old leader paged
    assert old.elector is not None and new.elector is not None
    old_store.answer = new_store.answer = Lease("a", 1, T0 + 30)
    await old.elector.once()
    old.after_tick([burning(T0)], T0)
    assert len(old_store.states()) == 1
    old_store.answer = new_store.answer = Lease("b", 2, T0 + 90)  # "a" died; "b" took over
    await new.elector.once()
    assert new.leads()
    new.after_tick([burning(T0 + 60)], T0 + 60)
    assert len(new_store.states()) == 1  # the alert was already paged: not again
    assert {a.started_at for a in new.center.active()} == {T0}


async def test_without_a_lease_the_runtime_always_leads(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    rt = AlertRuntime(tmp_path, registry=registry, routing=ROUTING)
    assert rt.elector is None and rt.leads()
    assert registry.get_sample_value("sloguard_is_leader") == 1
    assert rt.leadership() == {"role": "leader", "shared": False}
    rt.after_tick([burning(T0)], T0)
    assert len(rt.store.states()) == 1


async def test_the_leader_applies_silences_made_through_a_follower(tmp_path: Path) -> None:
    leader, leader_store = replica(tmp_path, "a")
    follower, follower_store = replica(tmp_path, "b")
    assert leader.elector is not None and follower.elector is not None
    leader_store.answer = follower_store.answer = Lease("a", 1, T0 + 30)
    await leader.elector.once()
    await follower.elector.once()
    follower.center.silences.add(
        [Matcher("slo", MatchType.EQUAL, "avail")], starts_at=T0, ends_at=T0 + 3600,
        created_by="ana", comment="deploy", now=T0,
    )  # fmt: skip
    leader.after_tick([burning(T0)], T0)
    assert leader_store.states() == []  # silenced: recorded, not queued
    assert [s["reason"] for s in leader_store.suppressions()] == ["silenced"]


async def test_an_acknowledgement_through_a_follower_is_refused_with_where_to_go(
    tmp_path: Path,
) -> None:
    leader, leader_store = replica(tmp_path, "a")
    follower, follower_store = replica(tmp_path, "b")
    assert leader.elector is not None and follower.elector is not None
    leader_store.answer = follower_store.answer = Lease("a", 1, T0 + 30)
    await leader.elector.once()
    await follower.elector.once()
    leader.after_tick([burning(T0)], T0)
    follower.after_tick([burning(T0)], T0)
    fp = next(a.fingerprint for a in follower.center.active() if a.labels["severity"] == "critical")

    def app(rt: AlertRuntime) -> httpx.AsyncClient:
        routes = [silence_router(rt.center, WriteAccess(ReadAuth()), clock=lambda: T0 + 1)]
        served = create_app(CollectorRegistry(), routers=routes)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=served), base_url="http://x")

    body = {"by": "ana", "comment": "on it"}
    async with app(follower) as client:
        r = await client.post(f"/api/v1/alerts/{fp}/ack", json=body)
    assert r.status_code == 503, r.text
    assert "acknowledge through the leader" in r.json()["detail"]
    async with app(leader) as client:
        r = await client.post(f"/api/v1/alerts/{fp}/ack", json=body)
    assert r.status_code == 200 and r.json()["alert"]["acknowledged_by"] == "ana"


async def test_the_leader_shares_its_results_and_a_follower_serves_them(tmp_path: Path) -> None:
    """``share`` (the daemon calls it in a worker thread after the tick) publishes only on the
    leader; the follower's ``leader_results`` are the leader's, while fresh."""
    from sloguard.alerting.pgresults import SharedResults

    board: dict[str, tuple[float, bytes]] = {}

    class Board(SharedFile, SharedResults):  # type: ignore[misc]  # _db: SQLite here
        def publish_results(self, at: float, payload: bytes) -> None:
            if self.fence is None:
                raise NotLeader("this replica does not hold the leadership lease")
            board["latest"] = (at, payload)

        def latest_results(self) -> tuple[float, bytes] | None:
            return board.get("latest")

    def sharing_replica(name: str) -> tuple[AlertRuntime, Board]:
        store = Board(tmp_path / "shared.sqlite", name)
        rt = AlertRuntime(
            tmp_path, registry=CollectorRegistry(), routing=ROUTING, store=store,
            lease=LeaseTiming.of(30.0),
        )  # fmt: skip
        assert rt.elector is not None and rt.sharing is not None
        rt.elector.clock = lambda: T0
        return rt, store

    leader, leader_store = sharing_replica("a")
    follower, follower_store = sharing_replica("b")
    assert leader.elector is not None and follower.elector is not None
    leader_store.answer = follower_store.answer = Lease("a", 1, T0 + 30)
    await leader.elector.once()
    await follower.elector.once()
    tick = [burning(T0)]
    follower.share(tick, T0)
    assert board == {}  # a follower publishes nothing
    assert follower.leader_results(T0, [SLO], stale_after=60.0) is None  # nothing yet: own
    leader.after_tick(tick, T0)
    leader.share(tick, T0)
    assert leader.leader_results(T0, [SLO], stale_after=60.0) is None  # the leader evaluates
    served = follower.leader_results(T0 + 30, [SLO], stale_after=60.0)
    assert served is not None and [r.instance for r in served] == [tick[0].instance]
    assert follower.leadership()["evaluations"] == "leader"
    assert follower.leader_results(T0 + 61, [SLO], stale_after=60.0) is None  # too old
