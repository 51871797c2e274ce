"""The raw-counter windows of one SLO asked at one evaluation time, read in one query.

The evaluator asks for every window of an SLO at once (``asyncio.gather``); the windows read
from raw counters (all but the long ones read from records) are collected for one turn of the
event loop and sent as one query, each window's part labelled ``sloguard_window``
(:func:`batch_query`): a 30 s cycle of 100 SLOs sends 100 requests for their short windows
instead of 400, and Prometheus does the same work either way. A lone window is sent as it
always was (:func:`~sloguard.slo.timeslices.counts_query`).

A long window's answer is answered again, without a query, for a while (:func:`reuse_period`):
until it is older than :data:`REUSE_FRACTION` of the window (1/72, the 1.4 % lag the recorded
long windows keep, :mod:`sloguard.sources.recorded`), at most :data:`MAX_REUSE` (their
5 minutes), on a grid of that period offset by the SLO's name so that the SLOs re-read in
different cycles (:mod:`.kept`). Windows shorter than 72 evaluation intervals never wait (a
30 s interval: every window under 36 minutes), nor do the two windows of the SLO's fastest tier (the
shortest long window: the tier a full outage pages on first, whose delay is the page's). With
the default policy that is the 2h window, re-read every 100 s instead of every 30 s: on a
history scraped every 15 s it is 40 % of the raw windows' cost in Prometheus
(BENCHMARKS.md, "Scale"); a warning tier's short window, it lags up to 1.4 % of it.

Example::

    batches = RawBatches(read)       # read(slo, windows, at) -> {window: WindowCounts}
    await asyncio.gather(*(batches.counts(slo, w, at) for w in (300.0, 3600.0)))  # one read
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from sloguard.slo.promql import WINDOW_LABEL
from sloguard.slo.spec import SLO
from sloguard.slo.timeslices import counts_query
from sloguard.sources.base import WindowCounts
from sloguard.sources.kept import KeptAnswers

__all__ = ["MAX_REUSE", "REUSE_FRACTION", "RawBatches", "batch_query", "reuse_period"]

#: A raw window's answer is kept while younger than this fraction of the window …
REUSE_FRACTION = 1 / 72
#: … and at most this long (seconds of evaluation time: the recorded windows' reuse).
MAX_REUSE = 300.0

ReadWindows = Callable[[SLO, Sequence[float], float], Awaitable[Mapping[float, WindowCounts]]]


def batch_query(slo: SLO, windows: Sequence[float]) -> str:
    """One query for several windows of ``slo``: each window's query, labelled."""
    return " or ".join(
        f'label_replace({counts_query(slo, w)}, "{WINDOW_LABEL}", "{w:g}", "", "")'
        for w in windows
    )


def reuse_period(slo: SLO, window: float) -> float:
    """Seconds of evaluation time a raw answer for ``window`` may be answered again (0: never):
    the windows of the fastest tier (shortest long window) are always read."""
    fastest = min(slo.alerting.policy.tiers, key=lambda t: t.long_window, default=None)
    if fastest is not None and window in (fastest.long_window, fastest.short_window):
        return 0.0
    return min(window * REUSE_FRACTION, MAX_REUSE)


@dataclass
class _Batch:
    slo: SLO
    at: float
    windows: list[float] = field(default_factory=list)
    read: asyncio.Future[Mapping[float, WindowCounts]] | None = None


class RawBatches:
    """Collect the windows asked together; read each collection once (see the module doc)."""

    def __init__(self, read: ReadWindows) -> None:
        self._read = read
        self._open: dict[tuple[str, float], _Batch] = {}
        self._kept = KeptAnswers(MAX_REUSE)

    def __len__(self) -> int:
        """Answers kept."""
        return len(self._kept)

    async def counts(self, slo: SLO, window: float, at: float) -> WindowCounts:
        """``window``'s counts, read with the other windows of ``slo`` asked now (or a recent
        answer, see the module docstring)."""
        period = reuse_period(slo, window)
        kept = self._kept.get(slo, window, at, period) if period > 0 else None
        if kept is not None:
            return kept
        counts = await self._fresh(slo, window, at)
        if period > 0:
            self._kept.put(slo, window, at, counts)
        return counts

    async def _fresh(self, slo: SLO, window: float, at: float) -> WindowCounts:
        key = (slo.name, at)
        batch = self._open.get(key)
        if batch is None or batch.slo is not slo:
            batch = self._open[key] = _Batch(slo, at)
            batch.read = asyncio.ensure_future(self._send(key, batch))
        batch.windows.append(window)
        assert batch.read is not None
        return (await asyncio.shield(batch.read))[window]

    async def _send(self, key: tuple[str, float], batch: _Batch) -> Mapping[float, WindowCounts]:
        await asyncio.sleep(0)  # the other windows asked in this turn join the batch
        if self._open.get(key) is batch:
            del self._open[key]
        return await self._read(batch.slo, sorted(set(batch.windows)), batch.at)
