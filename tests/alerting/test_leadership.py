"""Leadership: the lease's timing and transitions (pure), the loop that keeps the fence and the
self metrics, the worker's last check before a send, and — on a real PostgreSQL (``e2e``) —
the lease row, fenced commits and fenced, claimed outbox rows."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from sloguard.alerting.leader import Fence, Leadership, Lease, LeaseTiming, observe
from sloguard.alerting.leading import Elector
from sloguard.alerting.store import StateStore
from sloguard.alerting.storebase import NotLeader
from sloguard.notify.outbox import NotifyMetrics, OutboxWorker
from sloguard.notify.recording import RecordingNotifier
from tests.support.notifications import T0, notification

# --- pure ------------------------------------------------------------------------------------


def test_the_lease_is_timed_for_a_takeover_within_two_intervals() -> None:
    for interval in (0.6, 2.0, 30.0, 300.0):
        t = LeaseTiming.of(interval)
        assert t.takeover <= 2 * interval
        assert t.ttl >= 4 * t.renew  # a leader has several chances to renew
    assert LeaseTiming.of(0.1).ttl == 1.0  # never shorter than a second (that wins below 0.6 s)
    with pytest.raises(ValueError, match="interval must be positive"):
        LeaseTiming.of(0)


def test_observe_says_acquired_lost_and_leader_changed() -> None:
    me = Leadership.start("a")
    assert not me.leads(T0)
    led, change = observe(me, Lease("a", 1, T0 + 5), T0)
    assert (change, led.leader, led.token, led.changes) == ("acquired", True, 1, 1)
    assert led.leads(T0 + 4.9) and not led.leads(T0 + 5)
    renewed, change = observe(led, Lease("a", 1, T0 + 7), T0 + 2)
    assert change is None and renewed.changes == 1
    lost, change = observe(renewed, Lease("b", 2, T0 + 9), T0 + 4)
    assert (change, lost.leader, lost.holder, lost.changes) == ("lost", False, "b", 2)
    again, change = observe(lost, Lease("c", 3, T0 + 9), T0 + 5)
    assert (change, again.holder, again.changes) == ("changed hands", "c", 3)
    back, change = observe(again, Lease("a", 4, T0 + 12), T0 + 6)
    assert change == "acquired" and back.details() == {
        "role": "leader", "replica": "a", "leader": "a", "token": 4,
    }  # fmt: skip


def test_a_new_term_of_the_same_holder_is_a_takeover() -> None:
    led, _ = observe(Leadership.start("a"), Lease("a", 1, T0 + 5), T0)
    # the lease expired (this replica was paused) and it took it again: other leaders may
    # have committed meanwhile, so this is a new term to reload for
    again, change = observe(led, Lease("a", 3, T0 + 20), T0 + 15)
    assert change == "acquired" and again.token == 3


def test_a_database_that_cannot_be_asked_ends_the_leadership() -> None:
    led, _ = observe(Leadership.start("a"), Lease("a", 1, T0 + 5), T0)
    down, change = observe(led, None, T0 + 1)
    assert change == "lost" and not down.leads(T0 + 1) and down.holder == "a"
    assert observe(down, None, T0 + 2) == (down, None)


def test_the_lease_expiry_is_read_on_the_database_clock() -> None:
    # the database is 100 s ahead of this replica: 5 s left there is 5 s left here
    led, _ = observe(Leadership.start("a"), Lease("a", 1, T0 + 105), T0, db_now=T0 + 100)
    assert led.leads(T0 + 4.9) and not led.leads(T0 + 5.1)


# --- the loop, with a lease store in memory ---------------------------------------------------


@dataclass
class MemoryLease:
    holder: str
    answers: list[Lease | None]
    lease_name: str = "alerts"
    fence: Fence | None = None
    released: list[bool] = field(default_factory=list)

    def acquire(self, ttl: float) -> tuple[Lease, float]:
        lease = self.answers.pop(0)
        if lease is None:
            raise OSError("connection refused")
        return lease, T0

    def release(self) -> None:
        self.released.append(True)


async def test_the_loop_keeps_fence_metrics_and_callbacks_in_step() -> None:
    registry = CollectorRegistry()
    store = MemoryLease("a", [Lease("a", 1, T0 + 5), Lease("b", 2, T0 + 9), None])
    calls: list[str] = []
    elector = Elector(
        store, LeaseTiming.of(2.0), registry=registry, clock=lambda: T0,
        on_acquired=lambda: calls.append("acquired"), on_lost=lambda: calls.append("lost"),
    )  # fmt: skip

    def metric(name: str) -> float | None:
        return registry.get_sample_value(name)

    assert await elector.once() == "acquired"
    assert store.fence == Fence("alerts", "a", 1) and elector.leads()
    assert metric("sloguard_is_leader") == 1
    assert await elector.once() == "lost"
    assert store.fence is None and not elector.leads()
    assert elector.details()["leader"] == "b" and elector.details()["role"] == "follower"
    assert metric("sloguard_is_leader") == 0
    assert metric("sloguard_leader_changes_total") == 2
    assert await elector.once() is None  # the database is down: still a follower
    assert calls == ["acquired", "lost"]


# --- the worker's last check ------------------------------------------------------------------


async def test_a_worker_that_no_longer_leads_sends_nothing_and_records_nothing(
    tmp_path: Path,
) -> None:
    store = StateStore(tmp_path / "alerts.sqlite")
    n = notification("firing", key="k1", receiver="hook", at=T0)
    store.commit({}, [n], [], T0)
    hook = RecordingNotifier("hook")
    registry = CollectorRegistry()
    leading = [False]
    worker = OutboxWorker(
        store, {"hook": hook}, metrics=NotifyMetrics(registry), clock=lambda: T0,
        may_send=lambda: leading[0],
    )  # fmt: skip
    assert await worker.run_once("hook") == 0
    assert hook.attempts == []
    assert store.states() == [("k1", "hook", "pending", 0)]
    fenced = {"receiver": "hook", "result": "fenced", "reason": "not_leader"}
    assert registry.get_sample_value("sloguard_notifications_total", fenced) == 1
    leading[0] = True
    assert await worker.run_once("hook") == 1
    assert [x.id for x in hook.attempts] == ["k1"]


# --- on a real PostgreSQL ---------------------------------------------------------------------


_databases = count()


@pytest.fixture(scope="module")
def pg_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.support.pgserver import start_postgres

    with start_postgres(tmp_path_factory.mktemp("pg")) as url:
        yield url


@pytest.fixture
def replicas(pg_url: str) -> Iterator[tuple[Any, Any, Any]]:
    """Two replicas' stores on one fresh database, and a raw connection to it."""
    import psycopg

    from sloguard.alerting.pgstore import ALERTS, PgAlertStore
    from sloguard.postgres.pool import connect

    name = f"lead_{next(_databases)}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    url = pg_url.rsplit("/", 1)[0] + "/" + name
    one = PgAlertStore(connect(url, components=[ALERTS]), holder="r1", owns_db=True)
    two = PgAlertStore(connect(url, components=[ALERTS]), holder="r2", owns_db=True)
    with psycopg.connect(url, autocommit=True) as raw:
        yield one, two, raw
    one.close()
    two.close()


def lead(store: Any, ttl: float = 60.0) -> Any:
    lease, _ = store.acquire(ttl)
    store.fence = (
        Fence(store.lease_name, lease.holder, lease.token)
        if (lease.holder == store.holder)
        else None
    )
    return lease


def expire(raw: Any, what: str = "leases SET expires_at") -> None:
    raw.execute(f"UPDATE {what} = now() - interval '1 second'".encode())


@pytest.mark.e2e
def test_one_holder_at_a_time_and_each_new_holder_gets_the_next_token(replicas: Any) -> None:
    one, two, raw = replicas
    first = lead(one)
    assert (first.holder, first.token) == ("r1", 1)
    assert lead(one).token == 1  # renewing keeps the term
    assert lead(two).holder == "r1" and two.fence is None
    expire(raw)
    assert (lead(two).holder, lead(two).token) == ("r2", 2)
    assert lead(one).holder == "r2" and one.fence is None
    expire(raw)
    assert (lead(one).holder, lead(one).token) == ("r1", 3)


@pytest.mark.e2e
def test_a_fenced_old_leader_commits_nothing_and_claims_nothing(replicas: Any) -> None:
    one, two, raw = replicas
    lead(one)
    n = notification("firing", key="n1", receiver="hook", at=T0)
    assert one.commit({}, [n], [], T0) == 1
    with pytest.raises(NotLeader, match="does not hold"):
        two.commit({}, [notification("firing", key="n2", at=T0)], [], T0)
    two.fence = Fence("alerts", "r2", 1)  # a forged fence does not pass either
    with pytest.raises(NotLeader, match="no longer held"):
        two.commit({}, [], [], T0)
    assert two.due(T0) == []
    expire(raw)
    lead(two)
    # r1 was paused and still believes it leads (its fence is set): the database says no
    assert one.fence is not None and not one.still_leader()
    with pytest.raises(NotLeader, match="a newer leader took over"):
        one.commit({}, [notification("firing", key="n3", at=T0)], [], T0)
    assert one.due(T0) == []
    assert [s[0] for s in two.states()] == ["n1"]
    assert [i.notification.id for i in two.due(T0)] == ["n1"]
    assert two.still_leader()


@pytest.mark.e2e
def test_rows_claimed_by_a_dead_leader_wait_for_the_claim_to_expire(replicas: Any) -> None:
    one, two, raw = replicas
    lead(one)
    n = notification("firing", key="c1", receiver="hook", at=T0)
    one.commit({}, [n], [], T0)
    [first] = one.due(T0)  # claimed, then r1 dies
    assert first.notification.id == "c1" and not first.in_doubt
    [again] = one.due(T0)  # its own claim: offered again, r1 knows what it did with it
    assert again.notification.id == "c1" and not again.in_doubt
    expire(raw)
    lead(two)
    assert two.due(T0) == []  # r1 may be sending it right now
    expire(raw, "outbox SET claim_until")
    [item] = two.due(T0)
    assert item.notification == n
    assert item.in_doubt  # r1 may have delivered it: a receiver that can look, looks first
    two.delivered(n, T0 + 1, None)
    assert two.states() == [("c1", "hook", "delivered", 1)]
    one.retry(n, T0 + 60, "timeout")  # r1's late outcome does not undo the delivery
    assert two.states() == [("c1", "hook", "delivered", 1)]


class Doubting(RecordingNotifier):
    """A receiver that can look before posting again: records what it was told was in doubt."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.told: list[str] = []

    def in_doubt(self, notification_id: str) -> None:
        self.told.append(notification_id)


@pytest.mark.e2e
async def test_the_next_leaders_worker_tells_the_receiver_what_may_have_been_delivered(
    replicas: Any,
) -> None:
    one, two, raw = replicas
    lead(one)
    n = notification("firing", key="d1", receiver="hook", at=T0)
    m = notification("firing", key="d2", receiver="hook", instance={"agent_name": "y"}, at=T0)
    m = replace(m, fingerprint="other")
    one.commit({}, [n, m], [], T0)
    assert [i.notification.id for i in one.due(T0, limit=1)] == ["d1"]  # r1 dies sending d1
    expire(raw)
    lead(two)
    expire(raw, "outbox SET claim_until")
    hook = Doubting("hook")
    worker = OutboxWorker(
        two, {"hook": hook}, metrics=NotifyMetrics(CollectorRegistry()), clock=lambda: T0,
        may_send=two.still_leader,
    )  # fmt: skip
    assert await worker.run_once("hook") == 2
    assert hook.told == ["d1"]  # d2 was never claimed before: nothing to look for
    assert sorted(x.id for x in hook.attempts) == ["d1", "d2"]


@pytest.mark.e2e
def test_claims_skip_rows_another_transaction_is_claiming(replicas: Any) -> None:
    one, _, raw = replicas
    lead(one)
    a = notification("firing", key="a", receiver="hook", at=T0)
    b = notification("firing", key="b", receiver="hook", instance={"agent_name": "x"}, at=T0)
    b = replace(b, fingerprint="other")
    one.commit({}, [a, b], [], T0)
    with raw.transaction():
        raw.execute("SELECT id FROM outbox WHERE id = 'a' FOR UPDATE")
        assert [i.notification.id for i in one.due(T0)] == ["b"]


@pytest.mark.e2e
def test_replicas_racing_for_an_expired_lease_elect_exactly_one(replicas: Any) -> None:
    one, two, raw = replicas
    lead(one)
    for term in range(2, 22):  # twenty races: each answers both racers with the same winner
        expire(raw)
        answers: list[Lease] = []
        start = threading.Barrier(2)

        def race(store: Any, start: threading.Barrier, answers: list[Lease]) -> None:
            start.wait()
            answers.append(store.acquire(60.0)[0])

        threads = [threading.Thread(target=race, args=(s, start, answers)) for s in (one, two)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len({(a.holder, a.token) for a in answers}) == 1, answers
        assert answers[0].token == term


@pytest.mark.e2e
async def test_followers_serve_the_leaders_results_and_evaluate_only_what_they_leave_out(
    replicas: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The leader's tick, published fenced, is what a follower serves while fresh; an SLO the
    leader does not share is evaluated by the follower; stale or missing: all evaluated here."""
    from sloguard.alerting.following import ResultSharing
    from sloguard.evaluation.engine import SLOEngine
    from sloguard.slo.budget import Counts
    from sloguard.sources.fake import FakeSource
    from tests.support.slos import make_slo

    one, two, raw = replicas
    shared, own = make_slo("shared"), make_slo("own")
    asked: list[str] = []

    def answer(slo: Any, window: float, at: float) -> dict[Any, Counts]:
        asked.append(slo.name)
        return {(): Counts(bad=1, total=100)}

    leader = SLOEngine([shared], FakeSource(answer=answer))
    follower = SLOEngine([shared, own], FakeSource(answer=answer))
    leading, following = ResultSharing(one), ResultSharing(two)
    assert following.read(T0, follower.evaluator.slos, stale_after=60) is None  # none yet
    lead(one)
    results = await leader.tick(T0)
    leading.publish(results, T0)
    asked.clear()
    caplog.set_level("INFO", logger="sloguard.alerting.following")
    got = following.read(T0 + 30, follower.evaluator.slos, stale_after=60)
    assert got == results and following.serving == "leader"
    served = await follower.follow(got, T0 + 30)
    assert set(asked) == {"own"}  # the shared SLO was not asked of the source
    assert [r.slo.name for r in follower.latest()] == ["shared", "own"]
    assert follower.latest()[0] == results[0]
    assert len(served) == 2
    assert "serving the leader's evaluations" in caplog.text
    assert following.read(T0 + 61, follower.evaluator.slos, stale_after=60) is None
    assert following.serving == "own" and "results are 61s old; evaluating here" in caplog.text
    expire(raw)
    lead(two)  # r1 paused: its results are refused, the last published stay r1's
    leading.publish(await leader.tick(T0 + 90), T0 + 90)
    assert "evaluation results not published" in caplog.text
    assert one.latest_results()[0] == T0
