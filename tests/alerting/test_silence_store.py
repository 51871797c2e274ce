"""Silences and acknowledgements in the SQLite alert store: a database of the previous version
opens and gains them; they survive a restart; expired silences are pruned after the retention."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from prometheus_client import CollectorRegistry

from sloguard.alerting.center import AlertCenter
from sloguard.alerting.silences import parse_matcher
from sloguard.alerting.store import StateStore
from sloguard.alerting.storebase import AlertStore
from sloguard.notify.config import AlertRouting, LogSpec, Receiver
from sloguard.notify.routing import Route
from tests.alerting.test_store import COLUMN, T0, result

#: The schema before silences: the tables a 0.2 daemon created (no silences, no suppressed).
OLD_SCHEMA = """
CREATE TABLE alerts (slo TEXT NOT NULL, instance TEXT NOT NULL, data TEXT NOT NULL,
                     PRIMARY KEY (slo, instance));
CREATE TABLE outbox (id TEXT PRIMARY KEY, receiver TEXT NOT NULL, fingerprint TEXT NOT NULL,
    started_at REAL NOT NULL, payload TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL, created_at REAL NOT NULL,
    last_error TEXT, done_at REAL);
CREATE TABLE refs (receiver TEXT NOT NULL, fingerprint TEXT NOT NULL, started_at REAL NOT NULL,
    ref TEXT, last_sent REAL, PRIMARY KEY (receiver, fingerprint, started_at));
CREATE TABLE disabled (receiver TEXT PRIMARY KEY, reason TEXT, at REAL);
"""


def center(store: AlertStore) -> AlertCenter:
    routing = AlertRouting({"log": Receiver("log", "log", LogSpec())}, Route("log"))
    return AlertCenter(store, routing, registry=CollectorRegistry())


def test_a_database_of_the_previous_version_gains_silences(tmp_path: Path) -> None:
    db = tmp_path / "alerts.sqlite"
    with sqlite3.connect(db) as old:
        old.executescript(OLD_SCHEMA)
        labels = {"agent_name": "billing", "tool_name": "search", "alertname": "SLOBurn",
                  "slo": "avail", "severity": "critical"}  # fmt: skip
        state = {"fingerprint": "f" * 16, "labels": labels, "firing": True, "notified": True,
                 "started_at": T0, "last_sent_at": T0, "no_data_since": None,
                 "firing_tiers": ["1h/5m"]}  # fmt: skip
        idle = {**state, "firing": False, "notified": False, "started_at": None,
                "last_sent_at": None, "firing_tiers": []}  # fmt: skip
        data = {"critical": state, "warning": idle, "no_data": idle}
        old.execute("INSERT INTO alerts VALUES (?, ?, ?)", ("avail", COLUMN, json.dumps(data)))
    c = center(StateStore(db))
    [alert] = c.active()
    assert (alert.silenced_by, alert.acked_by) == ((), None)  # the new fields' defaults
    c.silences.add([parse_matcher("slo=avail")], starts_at=T0, ends_at=T0 + 60,
                   created_by="ana", comment="x", now=T0)  # fmt: skip
    assert c.acknowledge("f" * 16, "ana", "", T0).acked_by == "ana"


def test_silences_and_acknowledgements_survive_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "alerts.sqlite"
    c = center(StateStore(db))
    [fired] = c.process([result(1.0, T0)], T0)
    s = c.silences.add([parse_matcher("slo=avail")], starts_at=T0 + 100, ends_at=T0 + 200,
                       created_by="ana", comment="window", now=T0)  # fmt: skip
    c.acknowledge(fired.fingerprint, "ana", "on it", T0 + 1)
    again = center(StateStore(db))
    assert again.silences.all() == [s]
    [alert] = [a for a in again.active() if a.fingerprint == fired.fingerprint]
    assert (alert.acked_by, alert.acked_at) == ("ana", T0 + 1)


def test_expired_silences_are_kept_then_pruned(tmp_path: Path) -> None:
    c = center(StateStore(tmp_path / "alerts.sqlite"))
    old = c.silences.add([parse_matcher("slo=avail")], starts_at=T0, ends_at=T0 + 60,
                         created_by="ana", comment="old", now=T0)  # fmt: skip
    live = c.silences.add([parse_matcher("slo=avail")], starts_at=T0, ends_at=T0 + 86400,
                          created_by="ana", comment="live", now=T0)  # fmt: skip
    c.process([result(1.0, T0 + 10)], T0 + 10)  # silenced: a suppression is recorded
    assert len(c.store.suppressions()) == 1
    expired = c.silences.expire(live.id, T0 + 100)
    assert expired.ends_at == T0 + 100
    # a week later (the default retention) the one that ended at T0 + 60 goes, not the other
    assert c.silences.prune(T0 + 80) == 1
    assert c.silences.all() == [expired]
    assert [s.id for s in center(c.store).silences.all()] == [live.id]
    assert old.id not in c.silences.by_id
    assert c.store.suppressions() == []  # recorded at T0 + 10, before the cut


async def test_the_daemon_prunes_after_the_configured_retention(tmp_path: Path) -> None:
    from sloguard.alerting.runtime import AlertRuntime

    rt = AlertRuntime(tmp_path, registry=CollectorRegistry(), silence_retention=3600.0)
    try:
        s = rt.center.silences.add([parse_matcher("slo=avail")], starts_at=T0, ends_at=T0 + 60,
                                   created_by="ana", comment="x", now=T0)  # fmt: skip
        rt.check_self([], T0 + 3600)  # ended 3540 s ago: kept
        assert rt.center.silences.all() == [s]
        rt._pruned_at = float("-inf")  # the next hourly pass
        rt.check_self([], T0 + 3661)  # ended 3601 s ago: pruned
        assert rt.center.silences.all() == []
    finally:
        await rt.worker.aclose()
        rt.store.close()
