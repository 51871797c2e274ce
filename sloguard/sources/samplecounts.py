"""Window counts from counter samples held in memory: the embedded source's arithmetic. Pure.

A series' samples are times (ascending) and *reset-adjusted* values, so the increase over
``(start, end]`` is ``adj(end) - adj(start)``. A time-slice SLO is answered per slice
(:func:`sloguard.slo.timeslices.slice_counts`).

Example::

    history = ([0.0, 60.0, 120.0], [0.0, 10.0, 30.0])
    increase(history, 30.0, 120.0)     # 30.0 - 0.0
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from typing import Any

from sloguard.slo.budget import Counts
from sloguard.slo.promql import CounterSLI, Selector
from sloguard.slo.spec import SLO, Budgeting, InstanceLabels
from sloguard.slo.timeslices import slice_counts, slice_ends
from sloguard.sources.base import WindowCounts, instance_key

__all__ = [
    "History", "Series", "clamped", "increase", "slice_events", "sliced", "sums",
    "window_from_samples",
]  # fmt: skip

#: One series' samples: times (ascending) and reset-adjusted values.
History = tuple[list[float], list[float]]


def increase(history: History, start: float, end: float) -> float | None:
    """``adj(end) - adj(start)`` (0 before the first sample); None for a series born after
    ``end``: what the embedded source's SQL answers for one series, from memory."""
    times, values = history
    i = bisect.bisect_right(times, end)
    if i == 0:
        return None
    j = bisect.bisect_right(times, start)
    return values[i - 1] - (values[j - 1] if j > 0 else 0.0)


def clamped(
    bad: Mapping[InstanceLabels, float], total: Mapping[InstanceLabels, float]
) -> WindowCounts:
    """Counts per instance with events, ``0 <= bad <= total``."""
    return {k: Counts(bad=max(0.0, min(bad.get(k, 0.0), t)), total=t) for k, t in total.items()}


#: One series' labels and samples, as the embedded source reads them.
Series = list[tuple[dict[str, str], History]]


def sums(
    series: Mapping[Selector, Series],
    terms: Any,
    group_by: tuple[str, ...],
    start: float,
    end: float,
) -> dict[InstanceLabels, float]:
    """The signed sum of the terms' increases over ``(start, end]`` per instance."""
    out: dict[InstanceLabels, float] = {}
    for sign, selector in terms:
        for labels, history in series[selector]:
            inc = increase(history, start, end)
            if inc is not None:
                key = instance_key(labels, group_by)
                out[key] = out.get(key, 0.0) + sign * inc
    return out


def slice_events(
    counters: CounterSLI,
    series: Mapping[Selector, Series],
    group_by: tuple[str, ...],
    end: float,
    size: float,
) -> WindowCounts:
    """The event counts per instance of the slice ``(end - size, end]``."""
    return clamped(
        sums(series, counters.bad, group_by, end - size, end),
        sums(series, counters.total, group_by, end - size, end),
    )


def sliced(budgeting: Budgeting, slices: Iterable[WindowCounts]) -> WindowCounts:
    """A window's slice counts per instance from its slices' event counts."""
    per_key: dict[InstanceLabels, list[Counts]] = {}
    for events in slices:
        for key, counts in events.items():
            per_key.setdefault(key, []).append(counts)
    out = {key: slice_counts(budgeting, each) for key, each in per_key.items()}
    return {key: counts for key, counts in out.items() if counts is not None}


def window_from_samples(
    slo: SLO, counters: CounterSLI, series: Mapping[Selector, Series], window: float, at: float
) -> WindowCounts:
    """What the embedded source's ``window_counts`` answers, from samples in memory: events, or
    slices for a time-slice SLO."""
    g = slo.group_by
    b = slo.budgeting
    if not b.sliced:
        return clamped(
            sums(series, counters.bad, g, at - window, at),
            sums(series, counters.total, g, at - window, at),
        )
    ends = slice_ends(window, at, b.slice)
    return sliced(b, (slice_events(counters, series, g, end, b.slice) for end in ends))
