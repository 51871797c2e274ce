"""Window answers answered again for a while, each SLO on a grid of its own (pure).

An answer for an SLO's window read at ``t`` is answered again at ``at`` while both fall in the
same period of ``period`` seconds of evaluation time, the periods offset by the SLO's name
(:func:`offset`) so that the SLOs read their windows again in different cycles rather than all
in one. An answer is the SLO's as it was defined then (a reloaded SLO reads again), never
replaced by an earlier time's answer that arrived last, and forgotten once older than
``longest``. :mod:`.recorded` keeps the windows read from records for 5 minutes,
:mod:`.rawbatch` the long raw windows for 1/72 of their length.

Example::

    kept = KeptAnswers(longest=300.0)
    kept.put(slo, 7200.0, at, counts)
    kept.get(slo, 7200.0, at + 30, period=100.0)   # counts, or None: read again
"""

from __future__ import annotations

import zlib
from typing import NamedTuple

from sloguard.slo.spec import SLO
from sloguard.sources.base import WindowCounts

__all__ = ["KeptAnswers", "offset"]


def offset(name: str, period: float) -> float:
    """Seconds past the clock's ``period`` grid at which an SLO's periods start."""
    return float(zlib.crc32(name.encode()) % max(1, int(period)))


class _Kept(NamedTuple):
    slo: SLO
    at: float
    counts: WindowCounts


class KeptAnswers:
    """Answers per SLO and window (see the module docstring)."""

    def __init__(self, longest: float) -> None:
        self.longest = longest
        self._kept: dict[tuple[str, float], _Kept] = {}
        self._now: float | None = None

    def __len__(self) -> int:
        """Answers kept."""
        return len(self._kept)

    def get(self, slo: SLO, window: float, at: float, period: float) -> WindowCounts | None:
        """The answer read in ``at``'s period of the SLO's grid, or None (read it)."""
        self._sweep(at)
        found = self._kept.get((slo.name, window))
        if found is None or found.slo is not slo or found.at > at:
            return None
        start = offset(slo.name, period)
        return found.counts if (at - start) // period == (found.at - start) // period else None

    def put(self, slo: SLO, window: float, at: float, counts: WindowCounts) -> None:
        """Keep the answer read at ``at`` (unless a later time's is kept)."""
        self._sweep(at)
        newer = self._kept.get((slo.name, window))
        if newer is None or newer.at <= at:
            self._kept[(slo.name, window)] = _Kept(slo, at, counts)

    def _sweep(self, at: float) -> None:
        """A later evaluation time: forget what cannot be answered again (a calendar period's
        window is a new length every cycle)."""
        if self._now is None or at > self._now:
            self._now = at
            self._kept = {k: v for k, v in self._kept.items() if at - v.at < self.longest}
