"""The alert-state store: SLOInstance keys in, the same columns and contents as before out."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from sloguard.alerting.center import AlertCenter
from sloguard.alerting.state import fingerprint
from sloguard.alerting.store import StateStore
from sloguard.evaluation.evaluator import InstanceResult
from sloguard.notify.config import AlertRouting, LogSpec, Receiver
from sloguard.notify.model import Transition
from sloguard.notify.routing import Route
from sloguard.slo.budget import Counts, evaluate
from sloguard.slo.spec import SLOInstance
from tests.support.slos import make_slo

SLO = make_slo("avail", group_by=("agent_name", "tool_name"))
T0 = 1_800_000_000.0
INSTANCE = SLOInstance.of("avail", {"tool_name": "search", "agent_name": "billing"})
#: The ``instance`` column as versions before 0.2.0 wrote it: json.dumps(labels, sort_keys=True).
COLUMN = '{"agent_name": "billing", "tool_name": "search"}'


def result(error_ratio: float, at: float) -> InstanceResult:
    windows = {w: Counts(error_ratio * 1e5, 1e5) for w in SLO.windows()}
    ev = evaluate(objective=SLO.objective, period=SLO.period, policy=SLO.alerting.policy,
                  windows=windows)  # fmt: skip
    return InstanceResult(SLO, INSTANCE, ev, at)


def center(store: StateStore) -> AlertCenter:
    return AlertCenter(
        store, AlertRouting({"log": Receiver("log", "log", LogSpec())}, Route("log"))
    )


def rows(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute("SELECT slo, instance FROM alerts ORDER BY rowid"))


def test_the_instance_key_is_ordered_and_typed() -> None:
    assert SLOInstance("avail", (("tool_name", "search"), ("agent_name", "billing"))) == INSTANCE
    assert INSTANCE.labels == (("agent_name", "billing"), ("tool_name", "search"))
    assert INSTANCE.labels_dict == {"agent_name": "billing", "tool_name": "search"}
    assert SLOInstance("avail").labels_dict == {}


def test_alert_states_are_stored_in_the_same_columns_as_before(tmp_path: Path) -> None:
    db = tmp_path / "alerts.sqlite"
    store = StateStore(db)
    center(store).process([result(0.05, T0)], T0)
    assert rows(db) == [("avail", COLUMN)]
    assert list(StateStore(db).load_alerts()) == [INSTANCE]


def test_alert_states_of_the_previous_version_load(tmp_path: Path) -> None:
    db = tmp_path / "alerts.sqlite"
    StateStore(db).close()  # same schema; then a firing critical, as 0.1 wrote it

    def alert(severity: str, alertname: str = "SLOBurn", firing: bool = False) -> dict[str, object]:
        labels = {"agent_name": "billing", "tool_name": "search", "alertname": alertname,
                  "slo": "avail", "severity": severity}  # fmt: skip
        return {"fingerprint": fingerprint(labels), "labels": labels, "firing": firing,
                "notified": firing, "started_at": T0 if firing else None,
                "last_sent_at": T0 if firing else None, "no_data_since": None}  # fmt: skip

    data = {"critical": alert("critical", firing=True), "warning": alert("warning"),
            "no_data": alert("warning", "SLONoData")}  # fmt: skip
    with sqlite3.connect(db) as old:
        old.execute("INSERT INTO alerts VALUES (?, ?, ?)", ("avail", COLUMN, json.dumps(data)))
    c = center(StateStore(db))
    assert [a.started_at for a in c.active()] == [T0]
    # still firing after the restart: nothing new; then it resolves the episode begun before
    assert c.process([result(0.05, T0 + 30)], T0 + 30) == []
    (resolved,) = c.process([result(0.0, T0 + 60)], T0 + 60)
    assert (resolved.transition, resolved.starts_at) == (Transition.RESOLVED, T0)
    assert rows(db) == [("avail", COLUMN)]  # the same row, not a second key for the instance


def test_which_tiers_fired_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "alerts.sqlite"
    (fired,) = center(StateStore(db)).process([result(1.0, T0)], T0)
    assert fired.transition is Transition.FIRING
    # after a gap in the data: the 1h window holds 10 events (too few to judge the 1h/5m tier),
    # the 6h/30m critical tier is judged and no longer fires
    windows = {w: Counts(0.0, 1e5) for w in SLO.windows()}
    windows[3600.0] = windows[300.0] = Counts(10, 10)
    ev = evaluate(objective=SLO.objective, period=SLO.period, policy=SLO.alerting.policy,
                  windows=windows)  # fmt: skip
    c = center(StateStore(db))  # a restart: the states come back from the file
    assert c.process([InstanceResult(SLO, INSTANCE, ev, T0 + 30)], T0 + 30) == []
    (resolved,) = c.process([result(0.0, T0 + 60)], T0 + 60)
    assert resolved.transition is Transition.RESOLVED


def test_a_receivers_notifications_are_due_in_the_order_they_were_made(tmp_path: Path) -> None:
    """Found by the soak bench: after a receiver outage each notification backed off on its
    own, so an alert's ``resolved`` could be delivered minutes before its ``firing``, leaving
    the receiver showing a resolved incident as firing. Now an alert's notifications wait
    behind its oldest pending one for the same receiver; other alerts are not held up."""
    store = StateStore(tmp_path / "alerts.sqlite")
    alerts = center(store)
    alerts.process([result(0.05, T0)], T0)
    alerts.process([result(0.0, T0 + 600)], T0 + 600)
    queued = store.due(T0 + 600, "log")
    assert [i.notification.transition for i in queued] == [Transition.FIRING, Transition.RESOLVED]
    firing = queued[0].notification
    store.retry(firing, T0 + 900, "503 from the receiver")  # backing off: not due before then
    assert store.due(T0 + 700, "log") == []  # the resolved one waits behind it
    assert store.due(T0 + 700) == []
    later = store.due(T0 + 900, "log")
    assert [i.notification.transition for i in later] == [Transition.FIRING, Transition.RESOLVED]
    other = SLOInstance.of("avail", {"tool_name": "search", "agent_name": "shipping"})
    windows = {w: Counts(0.05 * 1e5, 1e5) for w in SLO.windows()}
    ev = evaluate(objective=SLO.objective, period=SLO.period, policy=SLO.alerting.policy,
                  windows=windows)  # fmt: skip
    alerts.process([InstanceResult(SLO, other, ev, T0 + 700)], T0 + 700)
    due = store.due(T0 + 700, "log")  # billing's firing still backs off: shipping's goes
    assert [i.notification.labels.get("agent_name") for i in due] == ["shipping"]


def test_prune_forgets_what_was_delivered_long_ago_and_keeps_what_is_pending(
    tmp_path: Path,
) -> None:
    """Found by the soak bench: nothing called prune, so the outbox grew for ever."""
    db = tmp_path / "alerts.sqlite"
    store = StateStore(db)
    alerts = center(store)
    alerts.process([result(0.05, T0)], T0)
    alerts.process([result(0.0, T0 + 600)], T0 + 600)
    firing, resolved = (i.notification for i in store.due(T0 + 600, "log"))
    store.delivered(firing, T0 + 601, ref="msg-1")
    assert store.prune(T0 + 600) == 0  # delivered after the cut: kept
    assert store.prune(T0 + 700) == 1
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM outbox").fetchone() == (1,)  # the pending one
        assert conn.execute("SELECT COUNT(*) FROM refs").fetchone() == (1,)  # still needed
    store.delivered(resolved, T0 + 702, ref=None)
    assert store.prune(T0 + 800) == 1
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM outbox").fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM refs").fetchone() == (0,)
