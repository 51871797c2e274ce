"""The contract of an :class:`~sloguard.alerting.storebase.AlertStore`, run against every store.

What a store must do (the alert center, the outbox worker, the silences and the history rely
on each point):

1. **Alert states** round trip by instance; a later commit replaces an instance's alerts.
2. **Commit** is atomic and idempotent per notification id (the count says how many were new);
   ``last_sent`` remembers reminders per receiver and episode.
3. **Outbox order**: ``due`` answers the due notifications oldest first, one receiver's when
   asked, at most ``limit``; a notification waits behind an older pending one of the same alert
   and receiver until that one is due (a ``resolved`` never overtakes its ``firing``).
4. **Outcomes**: ``delivered`` (with the receiver's reference), ``retry`` (later, counted),
   ``failed``; ``depth``, ``states``, ``next_due`` agree; disabled receivers are remembered.
5. **Pruning** forgets what was done before a time, never what is pending.
6. **Silences and suppressions** round trip, latest end first / oldest first; pruned by time;
   the **history** reads an SLO's firing and resolved notifications and suppressions.
7. A **reopened** store sees what the first committed.

The SQLite store runs always; the PostgreSQL store runs against a real PostgreSQL
(``tests/support/pgserver.py``; a fresh database per test), unfenced and holding the lease
(fenced, as the daemon runs it), and is ``e2e``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from sloguard.alerting.leader import Fence
from sloguard.alerting.silences import Matcher, MatchType, new_silence
from sloguard.alerting.state import AlertEvent, new_instance
from sloguard.alerting.store import StateStore
from sloguard.alerting.storebase import AlertStore
from sloguard.notify.model import Transition
from sloguard.slo.budget import Severity
from sloguard.slo.spec import SLOInstance
from tests.support.notifications import T0, notification

Factory = Callable[[], AlertStore]
_databases = count()
INSTANCE = SLOInstance.of("checkout-availability", {"agent_name": "billing"})


@pytest.fixture(scope="module")
def pg_admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.support.pgserver import start_postgres

    with start_postgres(tmp_path_factory.mktemp("pg")) as url:
        yield url


def fresh_database(admin_url: str) -> str:
    """A new empty database on the server of ``admin_url``; return its URL."""
    import psycopg

    name = f"alerts_{next(_databases)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    return admin_url.rsplit("/", 1)[0] + "/" + name


KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.e2e),
         pytest.param("postgres-fenced", marks=pytest.mark.e2e)]  # fmt: skip


@pytest.fixture(params=KINDS)
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    """Open a store of this kind (the same storage each call)."""
    opened: list[AlertStore] = []
    kind = str(request.param)
    url = fresh_database(request.getfixturevalue("pg_admin")) if kind != "sqlite" else ""

    def factory() -> AlertStore:
        store: AlertStore
        if url:
            from sloguard.alerting.pgstore import ALERTS, LEASE, PgAlertStore
            from sloguard.postgres.pool import connect

            fenced = kind == "postgres-fenced"
            pg = PgAlertStore(
                connect(url, components=[ALERTS]), holder="r1", fenced=fenced, owns_db=True
            )
            if fenced:
                lease, _ = pg.acquire(60.0)
                pg.fence = Fence(LEASE, lease.holder, lease.token)
            store = pg
        else:
            store = StateStore(tmp_path / "alerts.sqlite")
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


def alerts(firing: bool = False, started: float | None = None) -> Any:
    fresh = new_instance(INSTANCE.slo, INSTANCE.labels_dict)
    return replace(fresh, critical=replace(fresh.critical, firing=firing, started_at=started))


def event(key: str, at: float, slo: str = "checkout-availability") -> AlertEvent:
    return AlertEvent(
        key, Transition.FIRING, "fp1", {"slo": slo, "alertname": "SLOBurn"},
        Severity.CRITICAL, at - 60, at, suppressed="silenced", silences=("s1",),
    )  # fmt: skip


def test_alert_states_round_trip_and_are_replaced(make: Factory) -> None:
    store = make()
    assert store.load_alerts() == {}
    store.commit({INSTANCE: alerts()}, [], [], T0)
    store.commit({INSTANCE: alerts(True, T0)}, [], [], T0 + 1)
    assert store.load_alerts() == {INSTANCE: alerts(True, T0)}
    assert store.still_leader()


def test_commit_is_idempotent_per_notification_and_remembers_reminders(make: Factory) -> None:
    store = make()
    n = notification("firing", key="a", receiver="hook", at=T0)
    sent = [("hook", n.fingerprint, n.starts_at, T0)]
    assert store.commit({INSTANCE: alerts(True, T0)}, [n], sent, T0) == 1
    assert store.commit({}, [n], [], T0 + 1) == 0
    assert [i.notification for i in store.due(T0)] == [n]
    assert store.last_sent("hook", n.fingerprint, n.starts_at) == T0
    store.commit({}, [], [("hook", n.fingerprint, n.starts_at, T0 + 60)], T0 + 60)
    assert store.last_sent("hook", n.fingerprint, n.starts_at) == T0 + 60
    assert store.last_sent("other", n.fingerprint, n.starts_at) is None


def test_due_is_oldest_first_per_receiver_and_in_order_per_alert(make: Factory) -> None:
    store = make()
    firing = notification("firing", key="f", receiver="hook", at=T0)
    resolved = notification("resolved", key="r", receiver="hook", at=T0 + 10)
    other = notification("firing", key="o", receiver="hook", instance={"agent_name": "x"}, at=T0)
    other = replace(other, fingerprint="another")
    slack = notification("firing", key="s", receiver="slack", at=T0)
    store.commit({}, [firing], [], T0)
    store.commit({}, [resolved, other, slack], [], T0 + 10)
    assert [i.notification.id for i in store.due(T0 + 10, "hook")] == ["f", "r", "o"]
    assert [i.notification.id for i in store.due(T0 + 10)] == ["f", "r", "o", "s"]
    assert [i.notification.id for i in store.due(T0 + 10, "hook", limit=1)] == ["f"]
    assert store.due(T0 - 1) == []
    store.retry(firing, T0 + 100, "503")  # the firing waits: its resolve waits behind it
    assert [i.notification.id for i in store.due(T0 + 20, "hook")] == ["o"]
    assert store.next_due() == T0 + 10
    [item] = store.due(T0 + 100, "hook", limit=1)
    assert (item.notification.id, item.attempts, item.next_at) == ("f", 1, T0 + 100)


def test_outcomes_depth_states_and_disabled_receivers(make: Factory) -> None:
    store = make()
    a = notification("firing", key="a", receiver="hook", at=T0)
    b = notification("firing", key="b", receiver="slack", at=T0)
    c = replace(notification("firing", key="c", receiver="slack", at=T0), fingerprint="c")
    store.commit({}, [a, b, c], [], T0)
    assert store.depth() == {"hook": 1, "slack": 2}
    store.delivered(a, T0 + 1, "ts-1")
    store.failed(b, T0 + 1, "400 bad request")
    store.retry(c, T0 + 5, "timeout")
    assert store.ref("hook", a.fingerprint, a.starts_at) == "ts-1"
    assert store.ref("slack", b.fingerprint, b.starts_at) is None
    assert store.depth() == {"slack": 1}
    assert store.states() == [
        ("a", "hook", "delivered", 1), ("b", "slack", "failed", 1), ("c", "slack", "pending", 1),
    ]  # fmt: skip
    assert store.states("hook") == [("a", "hook", "delivered", 1)]
    assert store.disabled() == {}
    store.disable("slack", "410 gone", T0)
    store.disable("slack", "token revoked", T0 + 1)
    assert store.disabled() == {"slack": "token revoked"}


def test_prune_forgets_what_was_done_never_what_is_pending(make: Factory) -> None:
    store = make()
    done = notification("firing", key="d", receiver="hook", at=T0)
    waiting = replace(notification("firing", key="w", receiver="hook", at=T0), fingerprint="w")
    store.commit({}, [done, waiting], [], T0)
    store.delivered(done, T0 + 1, "ref")
    assert store.prune(T0 + 1) == 0  # done at T0+1: not before it
    assert store.prune(T0 + 2) == 1
    assert [s[0] for s in store.states()] == ["w"]
    assert store.ref("hook", done.fingerprint, done.starts_at) is None


def test_silences_suppressions_and_history(make: Factory) -> None:
    store = make()
    matchers = [Matcher("slo", MatchType.EQUAL, "checkout-availability")]
    early = new_silence("s1", matchers, starts_at=T0, ends_at=T0 + 60, created_by="ana",
                        comment="deploy", now=T0)  # fmt: skip
    late = new_silence("s2", matchers, starts_at=T0, ends_at=T0 + 600, created_by="bo",
                       comment="INC-7", now=T0)  # fmt: skip
    store.save_silence(early)
    store.save_silence(late)
    store.save_silence(replace(early, comment="deploy, longer"))
    assert [s.id for s in store.silences()] == ["s2", "s1"]
    assert store.silences()[1].comment == "deploy, longer"
    store.suppress([event("e1", T0 + 5)])
    store.commit({}, [], [], T0 + 6, suppressed=[event("e2", T0 + 6), event("e1", T0 + 5)])
    got = store.suppressions()
    assert [(g["at"], g["reason"], g["silences"]) for g in got] == [
        (T0 + 5, "silenced", ["s1"]), (T0 + 6, "silenced", ["s1"]),
    ]  # fmt: skip
    assert store.suppressions(T0 + 6)[0]["labels"]["slo"] == "checkout-availability"
    fired = notification("firing", key="h", receiver="hook", at=T0 + 7)
    store.commit({}, [fired, notification("firing", key="x", slo="other", at=T0)], [], T0 + 7)
    sent, suppressed = store.history_rows("checkout-availability", T0, T0 + 10, 100)
    assert [(s["id"], s["created_at"]) for s in sent] == [("h", T0 + 7)]
    assert [s["at"] for s in suppressed] == [T0 + 5, T0 + 6]
    assert store.history_rows("checkout-availability", T0, T0 + 10, 1)[1][0]["at"] == T0 + 5
    assert store.prune_silences(T0 + 61) == 1
    assert [s.id for s in store.silences()] == ["s2"]
    assert store.suppressions() == []


def test_a_reopened_store_sees_what_was_committed(make: Factory) -> None:
    first = make()
    n = notification("firing", key="k", receiver="hook", at=T0)
    first.commit({INSTANCE: alerts(True, T0)}, [n], [], T0)
    again = make()
    assert again.load_alerts() == {INSTANCE: alerts(True, T0)}
    assert again.depth() == {"hook": 1}
