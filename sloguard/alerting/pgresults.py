"""The leader's latest evaluation results in the shared PostgreSQL database, so that followers
serve them (``/metrics``, the API, the page) instead of querying the SLI source themselves: one
row per lease, replaced every tick by the leader in a transaction fenced like its commits
(a paused old leader's results are refused). The payload is
:func:`sloguard.evaluation.resultcodec.encode_results`.

A mixin of :class:`~sloguard.alerting.pgstore.PgAlertStore` (its connection pool and fence).

Example::

    store.publish_results(now, encode_results(results))     # the leader, after its tick
    store.latest_results()                                  # a follower: (at, payload) or None
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # psycopg is the optional extra: the daemon imports this module without it
    from sloguard.postgres.pool import Conn, Postgres

__all__ = ["SharedResults"]

_PUBLISH = """
INSERT INTO results (board, at, holder, token, payload)
VALUES (%(board)s, %(at)s, %(holder)s, %(token)s, %(payload)s)
ON CONFLICT (board) DO UPDATE SET at = EXCLUDED.at, holder = EXCLUDED.holder,
    token = EXCLUDED.token, payload = EXCLUDED.payload
"""


class SharedResults:
    """Publish and read the leader's latest evaluation results (see the module docstring)."""

    _db: Postgres
    lease_name: str

    def _fence_args(self) -> dict[str, Any]:  # pragma: no cover - PgAlertStore's
        raise NotImplementedError

    def _check(self, conn: Conn, args: Mapping[str, Any]) -> None:  # pragma: no cover
        raise NotImplementedError

    def publish_results(self, at: float, payload: bytes) -> None:
        """Replace the latest results with this tick's; raises ``NotLeader`` when the lease is
        no longer this replica's."""
        args = self._fence_args()
        row = {"board": self.lease_name, "at": at, "payload": payload}
        with self._db.connection() as conn, conn.transaction():
            self._check(conn, args)
            conn.execute(_PUBLISH, {**row, "holder": args["holder"], "token": args["token"]})

    def latest_results(self) -> tuple[float, bytes] | None:
        """The latest results published (evaluation time, payload), or None."""
        with self._db.connection() as conn:
            found = conn.execute(
                "SELECT at, payload FROM results WHERE board = %s", (self.lease_name,)
            ).fetchone()
        return None if found is None else (float(found[0]), bytes(found[1]))
