"""Persistent alert state, the notification outbox and receiver message references (SQLite).

Everything an evaluation decides is committed in one transaction: the new alert states and the
notifications they cause. A crash before the commit loses nothing (the next evaluation decides
the same again); a crash after it loses nothing either (the outbox still holds the
notifications). Delivered notifications are kept for a while (idempotency, audit) and pruned.

The store is the outbox worker's :class:`~sloguard.notify.outbox.OutboxStore` and implements
:class:`~sloguard.alerting.storebase.AlertStore` for one replica (no leadership: it is always
its own leader; the shared PostgreSQL store is :mod:`sloguard.alerting.pgstore`). Alert states are
keyed by :class:`~sloguard.slo.spec.SLOInstance`; only here does it become the two columns
``slo`` (the name) and ``instance`` (the labels as JSON with sorted keys).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sloguard.alerting.silences import Silence, silence_dict, silence_from_dict
from sloguard.alerting.state import AlertEvent, AlertState, InstanceAlerts
from sloguard.errors import ConfigError, Problem
from sloguard.notify.model import Notification, from_dict, to_dict
from sloguard.notify.outbox import OutboxItem
from sloguard.slo.spec import SLOInstance

__all__ = ["StateStore", "alert_from", "alert_json", "instance_column", "instance_from"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    slo TEXT NOT NULL, instance TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (slo, instance)
);
CREATE TABLE IF NOT EXISTS outbox (
    id TEXT PRIMARY KEY, receiver TEXT NOT NULL, fingerprint TEXT NOT NULL,
    started_at REAL NOT NULL, payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',        -- pending | delivered | failed
    attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL, created_at REAL NOT NULL,
    last_error TEXT, done_at REAL, sending_at REAL  -- sending_at: a send in flight (in doubt)
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_at);
CREATE INDEX IF NOT EXISTS outbox_alert ON outbox (state, receiver, fingerprint, created_at);
CREATE TABLE IF NOT EXISTS refs (
    receiver TEXT NOT NULL, fingerprint TEXT NOT NULL, started_at REAL NOT NULL,
    ref TEXT, last_sent REAL,
    PRIMARY KEY (receiver, fingerprint, started_at)
);
CREATE TABLE IF NOT EXISTS disabled (receiver TEXT PRIMARY KEY, reason TEXT, at REAL);
CREATE TABLE IF NOT EXISTS silences (
    id TEXT PRIMARY KEY, ends_at REAL NOT NULL, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS suppressed (
    id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, labels TEXT NOT NULL,
    transition TEXT NOT NULL, reason TEXT NOT NULL, silences TEXT NOT NULL, at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS suppressed_at ON suppressed (at);
"""
#: Tuple fields of :class:`AlertState` (JSON gives lists back).
_TUPLES = ("firing_tiers", "silenced_by")


def instance_column(instance: SLOInstance) -> str:
    return json.dumps(instance.labels_dict, sort_keys=True)


def instance_from(slo: str, column: str) -> SLOInstance:
    return SLOInstance.of(slo, json.loads(column))


def alert_json(a: InstanceAlerts) -> str:
    return json.dumps({k: {**asdict(getattr(a, k)), "labels": dict(getattr(a, k).labels)}
                       for k in ("critical", "warning", "no_data")})  # fmt: skip


def _state_from(v: dict[str, Any]) -> AlertState:
    # rows written before silences and acknowledgements lack their fields: the defaults apply
    fields: dict[str, Any] = {k: tuple(x) if k in _TUPLES else x for k, x in v.items()}
    return AlertState(**fields)


def alert_from(text: str) -> InstanceAlerts:
    d = json.loads(text)
    return InstanceAlerts(**{k: _state_from(v) for k, v in d.items()})


def _cannot_open(path: str | Path, exc: sqlite3.Error) -> ConfigError:
    message = (
        f"cannot open the alert store: {exc}; check that the user sloguard runs as can write "
        "this file and its directory"
    )
    return ConfigError([Problem(str(path), None, "", message)])


class StateStore:
    """SQLite in WAL mode; one connection, used from the event loop's thread."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        try:
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise _cannot_open(path, exc) from exc
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # an accepted alert survives power loss
            self._db.executescript(_SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(outbox)")}
            if "sending_at" not in columns:  # a file of an older version
                self._db.execute("ALTER TABLE outbox ADD COLUMN sending_at REAL")
        except sqlite3.Error as exc:  # read-only file or directory, not a database, ...
            self._db.close()
            raise _cannot_open(path, exc) from exc

    # --- alert states --------------------------------------------------------------------------
    def load_alerts(self) -> dict[SLOInstance, InstanceAlerts]:
        """Every instance's alerts."""
        rows = self._db.execute("SELECT slo, instance, data FROM alerts")
        return {instance_from(slo, inst): alert_from(data) for slo, inst, data in rows}

    def commit(
        self,
        alerts: Mapping[SLOInstance, InstanceAlerts],
        notifications: Iterable[Notification],
        sent: Iterable[tuple[str, str, float, float]],
        now: float,
        suppressed: Iterable[AlertEvent] = (),
    ) -> int:
        """Save changed alerts and enqueue notifications atomically; return how many queued.

        ``sent`` are (receiver, fingerprint, started_at, at) reminders to remember per receiver;
        ``suppressed`` are the events recorded but not sent (:meth:`suppress`).
        Enqueuing is idempotent: a notification id already in the outbox is not added again.
        """
        queued = 0
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(
                "INSERT OR REPLACE INTO alerts (slo, instance, data) VALUES (?, ?, ?)",
                [(i.slo, instance_column(i), alert_json(a)) for i, a in alerts.items()],
            )
            for n in notifications:
                cur = self._db.execute(
                    "INSERT OR IGNORE INTO outbox (id, receiver, fingerprint, started_at, payload,"
                    " next_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        n.id,
                        n.receiver,
                        n.fingerprint,
                        n.starts_at,
                        json.dumps(to_dict(n)),
                        now,
                        now,
                    ),
                )
                queued += cur.rowcount
            self._db.executemany(
                "INSERT INTO refs (receiver, fingerprint, started_at, last_sent) VALUES (?,?,?,?)"
                " ON CONFLICT (receiver, fingerprint, started_at)"
                " DO UPDATE SET last_sent=excluded.last_sent",
                list(sent),
            )
            self.suppress(suppressed)
            self._db.execute("COMMIT")
        except BaseException:
            # A COMMIT that failed on a full disk may have ended the transaction already:
            # a plain ROLLBACK would then raise "no transaction is active" over the real error.
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        return queued

    def still_leader(self) -> bool:
        """Always: one replica on its own file is its own leader."""
        return True

    def last_sent(self, receiver: str, fp: str, started_at: float) -> float | None:
        """When ``receiver`` was last told about this alert episode."""
        row = self._db.execute(
            "SELECT last_sent FROM refs WHERE receiver=? AND fingerprint=? AND started_at=?",
            (receiver, fp, started_at),
        ).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    # --- outbox ---------------------------------------------------------------------------------
    def due(self, now: float, receiver: str | None = None, limit: int = 100) -> list[OutboxItem]:
        """Pending notifications whose time has come, oldest first, each alert's in order: a
        notification waits behind an older pending one of the same alert for the same receiver
        until that one is due (after an outage a ``resolved`` never overtakes its ``firing``;
        other alerts are not held up)."""
        sql = (
            "SELECT payload, attempts, next_at, sending_at IS NOT NULL FROM outbox o"
            " WHERE state='pending' AND next_at<=?"
            " AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.state='pending'"
            " AND e.receiver=o.receiver AND e.fingerprint=o.fingerprint AND e.next_at>?"
            " AND (e.created_at, e.rowid) < (o.created_at, o.rowid))"
        )
        args: list[Any] = [now, now]
        if receiver is not None:
            sql += " AND receiver=?"
            args.append(receiver)
        sql += " ORDER BY created_at, rowid LIMIT ?"
        args.append(limit)
        return [
            OutboxItem(from_dict(json.loads(p)), a, t, in_doubt=bool(d))
            for p, a, t, d in self._db.execute(sql, args)
        ]

    def sending(self, notification_id: str, now: float) -> None:
        """Mark a send in flight: if this process dies before its outcome is recorded, the
        next one reads the notification as ``in_doubt`` (a receiver that can looks first)."""
        self._db.execute("UPDATE outbox SET sending_at=? WHERE id=?", (now, notification_id))

    def next_due(self) -> float | None:
        """The earliest ``next_at`` of pending notifications."""
        row = self._db.execute("SELECT MIN(next_at) FROM outbox WHERE state='pending'").fetchone()
        return None if row[0] is None else float(row[0])

    def delivered(self, n: Notification, now: float, ref: str | None) -> None:
        """Mark delivered and remember the receiver's message reference for the episode."""
        self._db.execute("BEGIN IMMEDIATE")
        self._db.execute(
            "UPDATE outbox SET state='delivered', done_at=?, attempts=attempts+1, sending_at=NULL"
            " WHERE id=?",
            (now, n.id),
        )
        if ref is not None:
            self._db.execute(
                "INSERT INTO refs (receiver, fingerprint, started_at, ref) VALUES (?,?,?,?)"
                " ON CONFLICT (receiver, fingerprint, started_at) DO UPDATE SET ref=excluded.ref",
                (n.receiver, n.fingerprint, n.starts_at, ref),
            )
        self._db.execute("COMMIT")

    def retry(self, n: Notification, next_at: float, reason: str) -> None:
        """Schedule another attempt."""
        self._db.execute(
            "UPDATE outbox SET attempts=attempts+1, next_at=?, last_error=?, sending_at=NULL"
            " WHERE id=?",
            (next_at, reason, n.id),
        )

    def failed(self, n: Notification, now: float, reason: str) -> None:
        """Give up on a notification."""
        self._db.execute(
            "UPDATE outbox SET state='failed', attempts=attempts+1, done_at=?, last_error=?,"
            " sending_at=NULL WHERE id=?",
            (now, reason, n.id),
        )

    def ref(self, receiver: str, fp: str, started_at: float) -> str | None:
        """The receiver's message reference of an alert episode (Slack ts)."""
        row = self._db.execute(
            "SELECT ref FROM refs WHERE receiver=? AND fingerprint=? AND started_at=?",
            (receiver, fp, started_at),
        ).fetchone()
        return None if row is None else row[0]

    def depth(self) -> dict[str, int]:
        """Pending notifications per receiver."""
        rows = self._db.execute(
            "SELECT receiver, COUNT(*) FROM outbox WHERE state='pending' GROUP BY receiver"
        )
        return {r: int(c) for r, c in rows}

    def states(self, receiver: str | None = None) -> list[tuple[str, str, str, int]]:
        """(id, receiver, state, attempts) of every outbox row (tests, debugging)."""
        sql = "SELECT id, receiver, state, attempts FROM outbox"
        args: tuple[Any, ...] = ()
        if receiver is not None:
            sql += " WHERE receiver=?"
            args = (receiver,)
        return [tuple(r) for r in self._db.execute(sql + " ORDER BY rowid", args)]

    # --- receivers ------------------------------------------------------------------------------
    def disable(self, receiver: str, reason: str, now: float) -> None:
        """Stop delivering to a receiver (it answered 410 Gone, or its credentials are revoked)."""
        self._db.execute(
            "INSERT OR REPLACE INTO disabled (receiver, reason, at) VALUES (?, ?, ?)",
            (receiver, reason, now),
        )

    def disabled(self) -> dict[str, str]:
        """Disabled receivers and why."""
        return {
            r: reason for r, reason in self._db.execute("SELECT receiver, reason FROM disabled")
        }

    def prune(self, before: float) -> int:
        """Forget delivered/failed notifications done before ``before``, and the message
        references of episodes that began before it and have nothing pending."""
        self._db.execute("BEGIN IMMEDIATE")
        gone = self._db.execute(
            "DELETE FROM outbox WHERE state!='pending' AND done_at < ?", (before,)
        ).rowcount
        self._db.execute(
            "DELETE FROM refs WHERE started_at < ? AND NOT EXISTS (SELECT 1 FROM outbox o"
            " WHERE o.state='pending' AND o.receiver=refs.receiver"
            " AND o.fingerprint=refs.fingerprint AND o.started_at=refs.started_at)",
            (before,),
        )
        self._db.execute("COMMIT")
        return gone

    # --- silences and what they (or acknowledgements) kept from the receivers -------------------
    def silences(self) -> list[Silence]:
        """Every stored silence (pending, active, and expired ones not yet pruned)."""
        rows = self._db.execute("SELECT data FROM silences ORDER BY ends_at DESC, id")
        return [silence_from_dict(json.loads(d)) for (d,) in rows]

    def save_silence(self, silence: Silence) -> None:
        """Insert or replace one silence."""
        self._db.execute(
            "INSERT OR REPLACE INTO silences (id, ends_at, data) VALUES (?, ?, ?)",
            (silence.id, silence.ends_at, json.dumps(silence_dict(silence))),
        )

    def suppress(self, events: Iterable[AlertEvent]) -> None:
        """Record alert events that were not sent (silenced, acknowledged)."""
        self._db.executemany(
            "INSERT OR IGNORE INTO suppressed (id, fingerprint, labels, transition, reason,"
            " silences, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (e.id, e.fingerprint, json.dumps(dict(e.labels), sort_keys=True),
                 e.transition.value, e.suppressed, json.dumps(list(e.silences)), e.at)
                for e in events
            ],
        )  # fmt: skip

    def suppressions(self, since: float = float("-inf")) -> list[dict[str, Any]]:
        """Recorded suppressions at or after ``since``, oldest first."""
        rows = self._db.execute(
            "SELECT fingerprint, labels, transition, reason, silences, at FROM suppressed"
            " WHERE at >= ? ORDER BY at, rowid",
            (since,),
        )
        return [
            {"fingerprint": fp, "labels": json.loads(labels), "transition": t, "reason": reason,
             "silences": json.loads(sil), "at": at}
            for fp, labels, t, reason, sil, at in rows
        ]  # fmt: skip

    def prune_silences(self, before: float) -> int:
        """Forget silences that ended before ``before`` and suppressions recorded before it."""
        self._db.execute("BEGIN IMMEDIATE")
        gone = self._db.execute("DELETE FROM silences WHERE ends_at < ?", (before,)).rowcount
        self._db.execute("DELETE FROM suppressed WHERE at < ?", (before,))
        self._db.execute("COMMIT")
        return gone

    def history_rows(
        self, slo: str, start: float, end: float, limit: int
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """An SLO's firing/resolved/downgraded notifications queued in ``[start, end]`` (payload and
        ``created_at``) and its suppressions then, each at most ``limit`` rows."""
        sent = [
            {**json.loads(payload), "created_at": created}
            for payload, created in self._db.execute(
                "SELECT payload, created_at FROM outbox WHERE created_at >= ? AND created_at <= ?"
                " AND json_extract(payload, '$.slo') = ?"
                " AND json_extract(payload, '$.transition') IN ('firing', 'resolved', 'downgraded')"
                " ORDER BY created_at LIMIT ?",
                (start, end, slo, limit),
            )
        ]
        suppressed = [
            {"fingerprint": fp, "labels": json.loads(labels), "transition": t, "reason": r,
             "at": at}
            for fp, labels, t, r, at in self._db.execute(
                "SELECT fingerprint, labels, transition, reason, at FROM suppressed"
                " WHERE at >= ? AND at <= ? AND json_extract(labels, '$.slo') = ?"
                " ORDER BY at LIMIT ?",
                (start, end, slo, limit),
            )
        ]  # fmt: skip
        return sent, suppressed

    def close(self) -> None:
        """Close the database."""
        self._db.close()
