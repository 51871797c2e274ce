"""The raw-counter windows of one SLO asked at one evaluation time, read in one query.

The evaluator asks for every window of an SLO at once (``asyncio.gather``); the windows read
from raw counters (all but the long ones read from records) are collected for one turn of the
event loop and sent as one query, each window's part labelled ``sloguard_window``
(:func:`batch_query`): a 30 s cycle of 100 SLOs sends 100 requests for their short windows
instead of 400, and Prometheus does the same work either way. A lone window is sent as it
always was (:func:`~sloguard.slo.timeslices.counts_query`).

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

__all__ = ["RawBatches", "batch_query"]

ReadWindows = Callable[[SLO, Sequence[float], float], Awaitable[Mapping[float, WindowCounts]]]


def batch_query(slo: SLO, windows: Sequence[float]) -> str:
    """One query for several windows of ``slo``: each window's query, labelled."""
    return " or ".join(
        f'label_replace({counts_query(slo, w)}, "{WINDOW_LABEL}", "{w:g}", "", "")'
        for w in windows
    )


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

    async def counts(self, slo: SLO, window: float, at: float) -> WindowCounts:
        """``window``'s counts, read with the other windows of ``slo`` asked now."""
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
