"""Leadership among replicas sharing one database: the lease's timing and what one answer of
the database means for this replica (pure: the answer and ``now`` are passed in).

Exactly one replica, the **leader**, evaluates alerts (commits alert states and the outbox) and
delivers notifications; the others, **followers**, serve ``/metrics``, the API and the page.
The leader holds a **lease**, one row (``name``, ``holder``, ``token``, ``expires_at`` by the
database's clock) acquired or renewed in one statement (:data:`sloguard.alerting.pgqueries.
ACQUIRE`). Each new holder gets the next **fencing token**: every commit and outbox claim
checks, in its own transaction, that (holder, token) still holds the lease unexpired, so a
paused old leader that wakes up writes nothing.

Timing from the evaluation interval ``I``: the lease lives ``ttl = 1.25 I`` and every replica
asks for it every ``renew = I / 4``. A leader that dies right after renewing is replaced at the
latest ``ttl + renew = 1.5 I`` later (plus one database round trip): within two intervals.
The leader renews five times per TTL, so one slow round trip does not lose the lease. The
lease never lives less than :data:`MIN_TTL` (a second): below an interval of 0.6 s that floor,
not two intervals, bounds the takeover.

Example::

    timing = LeaseTiming.of(interval=2.0)            # ttl 2.5 s, renew every 0.5 s
    before = Leadership.start("pod-1")
    after, change = observe(before, Lease("pod-1", 7, expires_at=102.5), now=100.0)
    after.leader, change                             # True, "acquired"
"""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["Fence", "Leadership", "Lease", "LeaseTiming", "observe"]

#: Never a lease shorter than this (seconds): a database round trip must fit many times.
MIN_TTL = 1.0


@dataclass(frozen=True, slots=True)
class LeaseTiming:
    """How long the lease lives and how often it is asked for (seconds).

    Example::

        LeaseTiming.of(60.0)    # LeaseTiming(ttl=75.0, renew=15.0)
    """

    ttl: float
    renew: float

    @classmethod
    def of(cls, interval: float) -> LeaseTiming:
        """The timing for an evaluation interval: a takeover within ``1.5 * interval``."""
        if not interval > 0:
            raise ValueError(f"interval must be positive, got {interval!r}")
        ttl = max(MIN_TTL, 1.25 * interval)
        return cls(ttl=ttl, renew=ttl / 5)

    @property
    def takeover(self) -> float:
        """The longest a dead leader goes unreplaced (ignoring round trips)."""
        return self.ttl + self.renew


@dataclass(frozen=True, slots=True)
class Lease:
    """The lease as the database answered: who holds it, its token, when it expires (database
    clock, seconds since the epoch)."""

    holder: str
    token: int
    expires_at: float


@dataclass(frozen=True, slots=True)
class Fence:
    """What a fenced write checks: the lease ``name`` held by ``holder`` with ``token``."""

    name: str
    holder: str
    token: int


@dataclass(frozen=True, slots=True)
class Leadership:
    """This replica's view: its own id, whether it leads, who does, the token, the number of
    leader changes seen, and until when (this replica's clock) it may act as leader."""

    me: str
    leader: bool = False
    holder: str | None = None
    token: int = 0
    changes: int = 0
    valid_until: float = float("-inf")

    @classmethod
    def start(cls, me: str) -> Leadership:
        """Before the first answer: a follower that knows no leader."""
        return cls(me=me)

    def leads(self, now: float) -> bool:
        """Does this replica lead at ``now`` (its last answer made it leader, not expired)?"""
        return self.leader and now < self.valid_until

    def details(self) -> dict[str, object]:
        """For ``/readyz``: role, this replica's id, the leader's id and the token."""
        return {
            "role": "leader" if self.leader else "follower",
            "replica": self.me,
            "leader": self.holder,
            "token": self.token,
        }


def observe(
    before: Leadership, lease: Lease | None, now: float, db_now: float | None = None
) -> tuple[Leadership, str | None]:
    """Fold one answer of the database into the view; say what changed for the log
    (``"acquired"``, ``"lost"``, ``"changed hands"``) or None.

    ``lease`` None: the database could not be asked — a leader stops leading (it cannot prove
    it still holds the lease), the leader's id is kept. ``valid_until`` converts the lease's
    expiry to this replica's clock through ``db_now`` (the database's time of the answer).
    """
    if lease is None:
        if before.leader:
            return replace(before, leader=False, valid_until=float("-inf")), "lost"
        return before, None
    mine = lease.holder == before.me
    left = lease.expires_at - (db_now if db_now is not None else now)
    after = replace(
        before,
        leader=mine,
        holder=lease.holder,
        token=lease.token,
        valid_until=now + left if mine else float("-inf"),
    )
    change: str | None = None
    if mine and (not before.leader or lease.token != before.token):
        change = "acquired"  # a new term: reload what other leaders committed
    elif before.leader and not mine:
        change = "lost"
    elif lease.holder != before.holder or lease.token != before.token:
        change = "changed hands"
    if change is not None and (lease.holder, lease.token) != (before.holder, before.token):
        after = replace(after, changes=before.changes + 1)
    return after, change
