"""Followers serve the leader's evaluations: with a shared store, the leader publishes each
tick's results (:mod:`sloguard.alerting.pgresults`) and a follower takes them instead of
querying the SLI source itself, so N replicas cost Prometheus what one does. A follower
evaluates on its own what the leader's results leave out (SLOs it does not know, or knows
with another definition), and everything while the leader's results are missing, unreadable
or older than ``stale_after`` (no leader, or one that stopped evaluating): it never goes
blind. One log line each time a follower switches between the two.

Example::

    sharing = ResultSharing(store)
    sharing.publish(results, now)                        # the leader, after its tick
    sharing.read(now, slos, stale_after=2 * interval)    # a follower: results, or None
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sloguard.alerting.pgresults import SharedResults
from sloguard.alerting.storebase import NotLeader
from sloguard.evaluation.evaluator import InstanceResult
from sloguard.evaluation.resultcodec import decode_results, encode_results
from sloguard.slo.spec import SLO

__all__ = ["ResultSharing"]

_log = logging.getLogger(__name__)


class ResultSharing:
    """Publish the leader's results; read them on a follower (see the module docstring)."""

    def __init__(self, board: SharedResults) -> None:
        self.board = board
        #: Whose results this replica served at its last tick: "leader" or "own".
        self.serving = "own"

    def publish(self, results: Sequence[InstanceResult], now: float) -> None:
        """Save the leader's tick (a failure is logged: followers then evaluate on their own)."""
        self.serving = "own"
        try:
            self.board.publish_results(now, encode_results(results))
        except NotLeader as exc:
            _log.warning("evaluation results not published: %s", exc)
        except Exception as exc:  # the store's failures are watched elsewhere; keep the tick
            _log.warning("cannot publish the evaluation results for followers: %s", exc)

    def read(
        self, now: float, slos: Sequence[SLO], stale_after: float
    ) -> tuple[InstanceResult, ...] | None:
        """The leader's latest results for ``slos`` when fresh, or None (evaluate here)."""
        why = None
        try:
            found = self.board.latest_results()
            if found is None:
                why = "the leader has published no evaluation results"
            elif now - found[0] > stale_after:
                why = f"the leader's evaluation results are {now - found[0]:.0f}s old"
            else:
                decoded = decode_results(found[1], {s.name: s for s in slos})
        except Exception as exc:
            why = f"cannot read the leader's evaluation results: {exc}"
        if why is not None:
            if self.serving != "own":
                _log.warning("%s; evaluating here", why)
            self.serving = "own"
            return None
        if self.serving != "leader":
            names = ", ".join(sorted(decoded.unknown))
            others = f"; not of {names} (defined differently here, or not at all)"
            _log.info("serving the leader's evaluations%s", others if decoded.unknown else "")
        self.serving = "leader"
        return decoded.results
