"""Ask a source for an SLO's history (the edge of :mod:`sloguard.evaluation.history`).

A source that reads a whole history at once (:class:`~sloguard.sources.base.RangeSource`: the
embedded samples in one read, Prometheus with one ``query_range`` per window) is asked so; any
other source is asked :meth:`~sloguard.sources.base.SLISource.window_counts` once per window and
time, at most :data:`CONCURRENCY` at a time. The number of times is bounded by
:func:`~sloguard.evaluation.history.plan`.

Example::

    steps = plan(slo, now=time.time(), range_=None, step=None)
    for h in await read_histories(source, slo, steps, {"agent_name": "billing"}):
        print(h.instance, h.budget[-1])
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from sloguard.evaluation.history import MAX_INSTANCES, InstanceHistory, histories
from sloguard.slo.calendar import period_window
from sloguard.slo.spec import SLO
from sloguard.sources.base import RangeSource, SLISource, Steps, WindowCounts

__all__ = ["CONCURRENCY", "read_counts", "read_histories"]

#: Queries in flight at once when a source is asked time by time.
CONCURRENCY = 8


async def read_counts(
    source: SLISource, slo: SLO, steps: Steps
) -> Mapping[float, Sequence[WindowCounts]]:
    """Counts of every window of ``slo`` at each of ``steps.times()``; QueryError on failure.

    A calendar SLO's period window differs at every time (the time since its period started):
    its counts, kept under ``slo.period``, are asked time by time, so the budget resets.
    """
    if slo.calendar is not None:
        rolling = {**await _read(source, slo, sorted(slo.alerting.policy.windows()), steps)}
        limit = asyncio.Semaphore(CONCURRENCY)

        async def since_start(at: float) -> WindowCounts:
            async with limit:
                window = period_window(slo.calendar, slo.period, at).window
                return await source.window_counts(slo, window, at)

        rolling[slo.period] = await asyncio.gather(*map(since_start, steps.times()))
        return rolling
    return await _read(source, slo, sorted(slo.windows()), steps)


async def _read(
    source: SLISource, slo: SLO, windows: Sequence[float], steps: Steps
) -> Mapping[float, Sequence[WindowCounts]]:
    if isinstance(source, RangeSource):
        return await source.range_counts(slo, windows, steps)
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(window: float, at: float) -> WindowCounts:
        async with limit:
            return await source.window_counts(slo, window, at)

    times = steps.times()
    answers = await asyncio.gather(*(one(w, t) for w in windows for t in times))
    n = len(times)
    return {w: list(answers[i * n : (i + 1) * n]) for i, w in enumerate(windows)}


async def read_histories(
    source: SLISource,
    slo: SLO,
    steps: Steps,
    labels: Mapping[str, str] | None = None,
    *,
    limit: int = MAX_INSTANCES,
) -> list[InstanceHistory]:
    """The history of every instance of ``slo`` whose labels include ``labels`` (``limit``)."""
    return histories(slo, steps, await read_counts(source, slo, steps), labels, limit=limit)
