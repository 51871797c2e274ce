"""The alert store on the shared PostgreSQL database (``storage.url``): alert states, the
outbox, receiver references, silences and suppressions of every replica, with the leadership
lease that picks the one replica that evaluates and delivers (:mod:`sloguard.alerting.leader`).

Same contract as the SQLite file (:class:`~sloguard.alerting.storebase.AlertStore`, one suite
in ``tests/contract/``); the schema is the ``alerts`` component (:mod:`sloguard.alerting.
pgqueries`), migrated at start. Thread-safe: each call takes a connection of the pool.

**Fencing** (``fenced=True``, the daemon's default): :meth:`commit` and :meth:`due` check in
their own transaction that :attr:`fence` (set by the leadership loop while this replica leads)
still holds the lease unexpired, taking a share lock on the lease row so a takeover waits for
the transaction to end; otherwise they raise :class:`~sloguard.alerting.storebase.NotLeader`
(:meth:`due` answers nothing). :meth:`due` *claims* the rows it returns (``FOR UPDATE SKIP
LOCKED``, ``claimed_by``/``claim_token``/``claim_until`` by the database's clock): a row claimed
by a leader that died is offered again once its claim expires (the lease's TTL). Immediately
before each send the outbox worker asks :meth:`still_leader`; the gap that remains is between
that answer and the receiver getting the request (a leader paused exactly there sends once
more when it wakes up; the receiver sees the same notification id, its idempotency key).

Example::

    store = PgAlertStore(connect(url, components=[ALERTS]), holder="pod-1")
    store.fence = Fence("alerts", "pod-1", 7)      # the leadership loop sets it
    store.commit({instance: alerts}, [notification], [], now)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sloguard.alerting import pgqueries as q
from sloguard.alerting.leader import Fence, Lease
from sloguard.alerting.pgresults import SharedResults
from sloguard.alerting.silences import Silence, silence_dict, silence_from_dict
from sloguard.alerting.state import AlertEvent, InstanceAlerts
from sloguard.alerting.store import alert_from, alert_json, instance_column, instance_from
from sloguard.alerting.storebase import NotLeader
from sloguard.notify.model import Notification, from_dict, to_dict
from sloguard.notify.outbox import OutboxItem
from sloguard.postgres.migrations import Component, Migration
from sloguard.postgres.pool import Conn, Postgres
from sloguard.slo.spec import SLOInstance

__all__ = ["ALERTS", "LEASE", "PgAlertStore"]

#: The alert store's part of the shared schema.
ALERTS = Component("alerts", tuple(Migration(i + 1, sql) for i, sql in enumerate(q.MIGRATIONS)))
#: The name of the alert leadership lease.
LEASE = "alerts"


class PgAlertStore(SharedResults):
    """Alert states and the outbox in PostgreSQL (see the module docstring). ``holder``: this
    replica's id in claims and the lease; ``claim_ttl``: seconds a claim keeps other leaders
    off a row; ``owns_db``: close the pool with the store."""

    def __init__(
        self,
        db: Postgres,
        *,
        holder: str = "",
        fenced: bool = True,
        claim_ttl: float = 30.0,
        lease_name: str = LEASE,
        owns_db: bool = False,
    ) -> None:
        self._db = db
        self.holder = holder
        self.fenced = fenced
        self.claim_ttl = claim_ttl
        self.lease_name = lease_name
        self._owns_db = owns_db
        #: The lease this replica holds (None: it does not lead); set by the leadership loop.
        self.fence: Fence | None = None

    # --- the lease --------------------------------------------------------------------------
    def acquire(self, ttl: float) -> tuple[Lease, float]:
        """Acquire or renew the lease for :attr:`holder` in one statement; return the lease as
        it now is (another holder's when it is taken) and the database's time."""
        args = {"name": self.lease_name, "holder": self.holder, "ttl": ttl}
        with self._db.connection() as conn:
            row = conn.execute(q.ACQUIRE, args).fetchone()
            if row is not None and not row[3]:
                # Not taken: the statement's own read of the row is from before a racing
                # takeover committed; a new statement sees who holds it now.
                row = conn.execute(q.CURRENT, args).fetchone()
        assert row is not None  # the upsert or the existing row answers
        holder, token, expires_at, mine, db_now = row
        if not mine and holder == self.holder:  # an old term of this replica's: not held
            holder = ""
        return Lease(str(holder), int(token), float(expires_at)), float(db_now)

    def release(self) -> None:
        """Give the lease up now (shutdown), if this replica holds it."""
        fence = self.fence
        self.fence = None
        if fence is not None:
            with self._db.connection() as conn:
                conn.execute(q.RELEASE, {"name": fence.name, "holder": fence.holder,
                                         "token": fence.token})  # fmt: skip

    def _fence_args(self) -> dict[str, Any]:
        fence = self.fence
        if fence is None:
            if self.fenced:
                raise NotLeader("this replica does not hold the leadership lease")
            return {"holder": self.holder, "token": 0}
        return {"holder": fence.holder, "token": fence.token, "name": fence.name}

    def _check(self, conn: Conn, args: Mapping[str, Any]) -> None:
        if not self.fenced:
            return
        if conn.execute(q.HOLDS, args).fetchone() is None:
            raise NotLeader(
                f"lease {args['name']!r} is no longer held by {args['holder']!r} with token "
                f"{args['token']}: a newer leader took over"
            )

    def still_leader(self) -> bool:
        """Does this replica still hold the lease (the worker asks right before each send)?"""
        if not self.fenced:
            return True
        try:
            args = self._fence_args()
            with self._db.connection() as conn, conn.transaction():
                self._check(conn, args)
        except NotLeader:
            return False
        return True

    # --- alert states -----------------------------------------------------------------------
    def load_alerts(self) -> dict[SLOInstance, InstanceAlerts]:
        """Every instance's alerts."""
        with self._db.connection() as conn:
            rows = conn.execute("SELECT slo, instance, data FROM alerts").fetchall()
        return {instance_from(slo, inst): alert_from(data) for slo, inst, data in rows}

    def commit(
        self,
        alerts: Mapping[SLOInstance, InstanceAlerts],
        notifications: Iterable[Notification],
        sent: Iterable[tuple[str, str, float, float]],
        now: float,
        suppressed: Iterable[AlertEvent] = (),
    ) -> int:
        """Save alerts and enqueue notifications atomically, fenced; return how many queued."""
        args = self._fence_args()
        queued = 0
        with self._db.connection() as conn, conn.transaction():
            self._check(conn, args)
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO alerts (slo, instance, data) VALUES (%s, %s, %s)"
                    " ON CONFLICT (slo, instance) DO UPDATE SET data = EXCLUDED.data",
                    [(i.slo, instance_column(i), alert_json(a)) for i, a in alerts.items()],
                )
            for n in notifications:
                cur2 = conn.execute(
                    "INSERT INTO outbox (id, receiver, fingerprint, started_at, payload, next_at,"
                    " created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (id) DO NOTHING",
                    (n.id, n.receiver, n.fingerprint, n.starts_at, json.dumps(to_dict(n)),
                     now, now),
                )  # fmt: skip
                queued += cur2.rowcount
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO refs (receiver, fingerprint, started_at, last_sent)"
                    " VALUES (%s, %s, %s, %s) ON CONFLICT (receiver, fingerprint, started_at)"
                    " DO UPDATE SET last_sent = EXCLUDED.last_sent",
                    list(sent),
                )
            self._suppress(conn, suppressed)
        return queued

    def last_sent(self, receiver: str, fp: str, started_at: float) -> float | None:
        """When ``receiver`` was last told about this alert episode."""
        row = self._one(
            "SELECT last_sent FROM refs WHERE receiver=%s AND fingerprint=%s AND started_at=%s",
            (receiver, fp, started_at),
        )
        return None if row is None or row[0] is None else float(row[0])

    # --- outbox ---------------------------------------------------------------------------------
    def due(self, now: float, receiver: str | None = None, limit: int = 100) -> list[OutboxItem]:
        """Claim and return the due notifications (see the module docstring); nothing when
        this replica does not lead."""
        try:
            args = self._fence_args()
        except NotLeader:
            return []
        claim = {**args, "now": now, "receiver": receiver, "limit": limit, "ttl": self.claim_ttl}
        with self._db.connection() as conn, conn.transaction():
            try:
                self._check(conn, args)
            except NotLeader:
                return []
            rows = conn.execute(q.CLAIM, claim).fetchall()
        rows.sort(key=lambda r: (r[3], r[4]))
        return [
            OutboxItem(from_dict(json.loads(p)), int(a), float(t), in_doubt=bool(doubt))
            for p, a, t, _, _, doubt in rows
        ]

    def next_due(self) -> float | None:
        """The earliest ``next_at`` of pending notifications."""
        row = self._one("SELECT MIN(next_at) FROM outbox WHERE state='pending'", ())
        return None if row is None or row[0] is None else float(row[0])

    def delivered(self, n: Notification, now: float, ref: str | None) -> None:
        """Mark delivered (whoever sent it: it was delivered) and remember the reference."""
        with self._db.connection() as conn, conn.transaction():
            conn.execute(
                "UPDATE outbox SET state='delivered', done_at=%s, attempts=attempts+1,"
                " claimed_by=NULL, claim_until=NULL WHERE id=%s",
                (now, n.id),
            )
            if ref is not None:
                conn.execute(
                    "INSERT INTO refs (receiver, fingerprint, started_at, ref)"
                    " VALUES (%s, %s, %s, %s) ON CONFLICT (receiver, fingerprint, started_at)"
                    " DO UPDATE SET ref = EXCLUDED.ref",
                    (n.receiver, n.fingerprint, n.starts_at, ref),
                )

    def retry(self, n: Notification, next_at: float, reason: str) -> None:
        """Schedule another attempt (unless another replica has claimed the row since)."""
        self._run(
            "UPDATE outbox SET attempts=attempts+1, next_at=%s, last_error=%s, claimed_by=NULL,"
            " claim_until=NULL WHERE id=%s AND state='pending'"
            " AND (claimed_by IS NULL OR claimed_by=%s)",
            (next_at, reason, n.id, self.holder),
        )

    def failed(self, n: Notification, now: float, reason: str) -> None:
        """Give up on a notification."""
        self._run(
            "UPDATE outbox SET state='failed', attempts=attempts+1, done_at=%s, last_error=%s,"
            " claimed_by=NULL, claim_until=NULL WHERE id=%s AND state='pending'",
            (now, reason, n.id),
        )

    def ref(self, receiver: str, fp: str, started_at: float) -> str | None:
        """The receiver's message reference of an alert episode (Slack ts)."""
        row = self._one(
            "SELECT ref FROM refs WHERE receiver=%s AND fingerprint=%s AND started_at=%s",
            (receiver, fp, started_at),
        )
        return None if row is None else row[0]

    def depth(self) -> dict[str, int]:
        """Pending notifications per receiver."""
        rows = self._all(
            "SELECT receiver, COUNT(*) FROM outbox WHERE state='pending' GROUP BY receiver", ()
        )
        return {str(r): int(c) for r, c in rows}

    def states(self, receiver: str | None = None) -> list[tuple[str, str, str, int]]:
        """(id, receiver, state, attempts) of every outbox row, in the order queued."""
        rows = self._all(
            "SELECT id, receiver, state, attempts FROM outbox"
            " WHERE %(r)s::text IS NULL OR receiver = %(r)s::text ORDER BY seq",
            {"r": receiver},
        )
        return [(str(i), str(r), str(s), int(a)) for i, r, s, a in rows]

    def disable(self, receiver: str, reason: str, now: float) -> None:
        """Stop delivering to a receiver."""
        self._run(
            "INSERT INTO disabled (receiver, reason, at) VALUES (%s, %s, %s)"
            " ON CONFLICT (receiver) DO UPDATE SET reason=EXCLUDED.reason, at=EXCLUDED.at",
            (receiver, reason, now),
        )

    def disabled(self) -> dict[str, str]:
        """Disabled receivers and why."""
        rows = self._all("SELECT receiver, reason FROM disabled", ())
        return {str(r): str(why) for r, why in rows}

    def prune(self, before: float) -> int:
        """Forget notifications done before ``before`` and old episodes' references."""
        with self._db.connection() as conn, conn.transaction():
            gone = conn.execute(
                "DELETE FROM outbox WHERE state!='pending' AND done_at < %s", (before,)
            ).rowcount
            conn.execute(
                "DELETE FROM refs WHERE started_at < %s AND NOT EXISTS (SELECT 1 FROM outbox o"
                " WHERE o.state='pending' AND o.receiver=refs.receiver"
                " AND o.fingerprint=refs.fingerprint AND o.started_at=refs.started_at)",
                (before,),
            )
        return gone

    # --- silences, suppressions, history --------------------------------------------------------
    def silences(self) -> list[Silence]:
        """Every stored silence, latest end first."""
        rows = self._all("SELECT data FROM silences ORDER BY ends_at DESC, id", ())
        return [silence_from_dict(json.loads(d)) for (d,) in rows]

    def save_silence(self, silence: Silence) -> None:
        """Insert or replace one silence (not fenced: any replica's API may write it)."""
        self._run(
            "INSERT INTO silences (id, ends_at, data) VALUES (%s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET ends_at=EXCLUDED.ends_at, data=EXCLUDED.data",
            (silence.id, silence.ends_at, json.dumps(silence_dict(silence))),
        )

    def suppress(self, events: Iterable[AlertEvent]) -> None:
        """Record alert events that were not sent (silenced, acknowledged)."""
        with self._db.connection() as conn, conn.transaction():
            self._suppress(conn, events)

    @staticmethod
    def _suppress(conn: Conn, events: Iterable[AlertEvent]) -> None:
        rows = [
            (e.id, e.fingerprint, json.dumps(dict(e.labels), sort_keys=True),
             e.transition.value, e.suppressed, json.dumps(list(e.silences)), e.at)
            for e in events
        ]  # fmt: skip
        if rows:
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO suppressed (id, fingerprint, labels, transition, reason,"
                    " silences, at) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (id) DO NOTHING",
                    rows,
                )

    def suppressions(self, since: float = float("-inf")) -> list[dict[str, Any]]:
        """Recorded suppressions at or after ``since``, oldest first."""
        rows = self._all(
            "SELECT fingerprint, labels, transition, reason, silences, at FROM suppressed"
            " WHERE at >= %s ORDER BY at, seq",
            (since,),
        )
        return [
            {"fingerprint": fp, "labels": json.loads(labels), "transition": t, "reason": reason,
             "silences": json.loads(sil), "at": at}
            for fp, labels, t, reason, sil, at in rows
        ]  # fmt: skip

    def prune_silences(self, before: float) -> int:
        """Forget silences that ended before ``before`` and suppressions recorded before it."""
        with self._db.connection() as conn, conn.transaction():
            gone = conn.execute("DELETE FROM silences WHERE ends_at < %s", (before,)).rowcount
            conn.execute("DELETE FROM suppressed WHERE at < %s", (before,))
        return gone

    def history_rows(
        self, slo: str, start: float, end: float, limit: int
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """An SLO's firing/resolved/downgraded notifications queued in ``[start, end]`` and its
        suppressions then, each at most ``limit`` rows."""
        sent = [
            {**json.loads(payload), "created_at": created}
            for payload, created in self._all(
                "SELECT payload, created_at FROM outbox WHERE created_at >= %s"
                " AND created_at <= %s AND payload::jsonb->>'slo' = %s"
                " AND payload::jsonb->>'transition' IN ('firing', 'resolved', 'downgraded')"
                " ORDER BY created_at, seq LIMIT %s",
                (start, end, slo, limit),
            )
        ]
        suppressed = [
            {"fingerprint": fp, "labels": json.loads(labels), "transition": t, "reason": r,
             "at": at}
            for fp, labels, t, r, at in self._all(
                "SELECT fingerprint, labels, transition, reason, at FROM suppressed"
                " WHERE at >= %s AND at <= %s AND labels::jsonb->>'slo' = %s"
                " ORDER BY at, seq LIMIT %s",
                (start, end, slo, limit),
            )
        ]  # fmt: skip
        return sent, suppressed

    def close(self) -> None:
        """Close the pool when this store opened it (a shared pool stays open)."""
        if self._owns_db:
            self._db.close()

    # --- helpers --------------------------------------------------------------------------------
    def _one(self, sql: str, args: Any) -> tuple[Any, ...] | None:
        with self._db.connection() as conn:
            return conn.execute(sql.encode(), args).fetchone()

    def _all(self, sql: str, args: Any) -> list[tuple[Any, ...]]:
        with self._db.connection() as conn:
            return conn.execute(sql.encode(), args).fetchall()

    def _run(self, sql: str, args: Any) -> None:
        with self._db.connection() as conn:
            conn.execute(sql.encode(), args)
