"""Which windows the Prometheus source reads from the rates ``sloguard rules`` records, and the
bookkeeping of the windows read from raw counters instead (:mod:`sloguard.sources.prometheus`
sends the queries).

Three modes (``prometheus.recorded_long_windows``):

- ``None`` (``false``): never; every window from raw counters.
- a duration ``W0``: every window of at least ``W0`` is asked of the records first; when they
  do not reach back to its start, a second query reads raw counters (a warning, logged once per
  SLO × window).
- :data:`AUTO` (the daemon's default): one query every :data:`RECHECK` seconds of evaluation
  time (:func:`detection_query`) lists the SLOs that have records; for those, windows of at
  least :data:`AUTO_RECORDED_FROM` are asked of the records; other SLOs and shorter windows go
  to raw counters with no second query. A window the records do not reach back over is read
  from raw counters (logged once per SLO at info) and, for :data:`RECHECK` seconds, no window
  of that SLO at least as long is asked of the records (state per SLO: a calendar period's
  growing window adds none).

Every window read from raw counters for want of records is counted and reported to
``on_fallback(slo_name)`` (the daemon's ``sloguard_recorded_window_fallbacks_total``).

A window read from the records is kept and answered again, without a query, until its SLO's
next refresh: once per :data:`REUSE` seconds of evaluation time, at an offset of its own
(:func:`refresh_offset`, from its name: :mod:`.kept`), so that the SLOs' long windows are read
again spread over the cycles rather than all in one. The records change once per
:data:`~sloguard.slo.promql.RATE_INTERVAL` (5 minutes), so a 30 s evaluation interval would
otherwise read the same long windows ten times for the same answer; :data:`REUSE` is that
interval, so each refresh finds one new record (half the reads of refreshing every 150 s, the
first choice: bench/scale.py's cycle −10 to −15 %). It adds at most :data:`REUSE` to their lag
(the records already lag up to 5 minutes): ≤ 1.4 % of a 6h window, ≤ 2.8 % with the records'.

Example::

    windows = RecordedWindows(AUTO)
    if windows.asks(slo, window) and windows.detection_due(at):
        windows.detected(at, frozenset({"calls"}))          # the detection query's answer
    windows.use(slo, window, at, where)                     # True: ask the records first
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

from sloguard.durations import format_duration
from sloguard.slo.promql import COVERAGE_SLACK, RATE_INTERVAL, SLO_LABEL, TOTAL_RATE
from sloguard.slo.spec import SLO
from sloguard.sources.base import WindowCounts
from sloguard.sources.kept import KeptAnswers, offset

__all__ = [
    "AUTO",
    "AUTO_RECORDED_FROM",
    "RECHECK",
    "REUSE",
    "RecordedFrom",
    "RecordedWindows",
    "detection_query",
    "refresh_offset",
]

#: ``recorded_from`` value: use the records where they exist (detected, cached).
AUTO = "auto"
#: In auto mode, the shortest window read from records: their lag (≤ one 5 min record) is
#: ≤ 1.4 % of it, and shorter windows are cheap to read from raw counters.
AUTO_RECORDED_FROM = 6 * 3600.0
#: In auto mode, how long (seconds of evaluation time) a detection, or a window found not
#: covered by the records, is trusted before asking again.
RECHECK = 600.0
#: How long (seconds of evaluation time) a window read from the records is answered again.
REUSE = RATE_INTERVAL

RecordedFrom = float | Literal["auto"] | None
_log = logging.getLogger("sloguard.sources.prometheus")  # where users look for these lines


def refresh_offset(name: str) -> float:
    """Seconds past each :data:`REUSE` period at which an SLO's kept windows expire."""
    return offset(name, REUSE)


def detection_query() -> str:
    """The SLOs with a total rate recorded lately: ``count by (sloguard_slo) (…)``."""
    slack = format_duration(COVERAGE_SLACK)
    return f"count by ({SLO_LABEL}) (last_over_time({TOTAL_RATE}[{slack}]))"


class RecordedWindows:
    """The recorded-windows policy of one source (see the module docstring)."""

    def __init__(
        self, mode: RecordedFrom, on_fallback: Callable[[str], None] | None = None
    ) -> None:
        if isinstance(mode, str) and mode != AUTO:
            raise ValueError(f"recorded_from must be seconds, None or {AUTO!r}")
        if isinstance(mode, float | int) and mode <= COVERAGE_SLACK:
            raise ValueError(f"recorded_from must be longer than {format_duration(COVERAGE_SLACK)}")
        self.mode = mode
        self._on_fallback = on_fallback
        self.fallbacks = 0
        self._falling_back: set[tuple[str, float]] = set()  # duration mode: logged windows
        self._recorded: tuple[float, frozenset[str]] | None = None  # (detected at, SLO names)
        # auto, per SLO: (found at, the shortest window the records did not reach back over)
        self._uncovered: dict[str, tuple[float, float]] = {}
        self._kept = KeptAnswers(REUSE)

    def asks(self, slo: SLO, window: float) -> bool:
        """Auto mode: does this window need the detection's answer?"""
        return self.mode == AUTO and not slo.budgeting.sliced and window >= AUTO_RECORDED_FROM

    def detection_due(self, at: float) -> bool:
        """Auto mode: is the last detection missing or older than :data:`RECHECK`?"""
        return self._recorded is None or abs(at - self._recorded[0]) >= RECHECK

    def detected(self, at: float, names: frozenset[str]) -> None:
        """The detection's answer at ``at``: the SLOs with records."""
        self._recorded = (at, names)

    @property
    def names(self) -> frozenset[str]:
        """The SLOs with records, as last detected (none before the first detection)."""
        return self._recorded[1] if self._recorded is not None else frozenset()

    def use(self, slo: SLO, window: float, at: float, where: str) -> bool:
        """Ask the records first for this window? (A skipped one counts as a fallback.)"""
        mode = self.mode
        if mode is None or slo.budgeting.sliced:  # slices: raw
            return False
        if not isinstance(mode, str):
            return window >= mode
        if window < AUTO_RECORDED_FROM or slo.name not in self.names:
            return False
        found = self._uncovered.get(slo.name)
        if found is None or abs(at - found[0]) >= RECHECK or window < found[1]:
            return True
        self.fell_back(slo, window, None, where)  # at least as long as one not covered: raw
        return False

    def kept(self, slo: SLO, window: float, at: float) -> WindowCounts | None:
        """This window's counts as the records gave them since the SLO's last refresh time
        (less than :data:`REUSE` ago)."""
        return self._kept.get(slo, window, at, REUSE)

    def covered(self, slo: SLO, window: float, at: float, counts: WindowCounts, where: str) -> None:
        """The records answered for this window at ``at``: keep the answer for :data:`REUSE`."""
        self._kept.put(slo, window, at, counts)
        if (slo.name, window) in self._falling_back:
            self._falling_back.discard((slo.name, window))
            _log.info("%s: read from recorded rates (again)", where)

    def fell_back(self, slo: SLO, window: float, at: float | None, where: str) -> None:
        """Count (and log once) a window read from raw counters for want of records; ``at``:
        when the records were just found not to reach back over it (None: not asked)."""
        self.fallbacks += 1
        if self._on_fallback is not None:
            self._on_fallback(slo.name)
        if self.mode == AUTO:
            if at is not None:
                known = self._uncovered.get(slo.name)
                fresh = known if known is not None and abs(at - known[0]) < RECHECK else None
                self._uncovered[slo.name] = (at, window if fresh is None else min(window, fresh[1]))
                if known is None:
                    _log.info("%s: records younger than the window; reading raw counters", where)
            return
        key = (slo.name, window)
        if key not in self._falling_back:
            self._falling_back.add(key)
            _log.warning(
                "%s: recorded rates missing or younger than the window (rules not loaded?);"
                " reading raw counters",
                where,
            )
