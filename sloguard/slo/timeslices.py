"""Time-slice SLIs: events counted per slice, slices counted per window. Pure.

A time-slice SLO (``budgeting: {method: timeslices, slice: 1m, slice_objective: 99}``) divides
time into slices of ``slice`` seconds that end at multiples of ``slice`` (unix time, the same
grid as a Prometheus subquery's steps). A window ``(at - W, at]`` holds the slices whose end
lies in it; a slice without events is left out. Each slice then counts as:

- ``timeslices``: one bad slice when its error ratio exceeds ``1 - slice_objective`` (its good
  ratio is below ``slice_objective``), else one good slice;
- ``ratio_timeslices`` (OpenSLO's ``RatioTimeslices``): its error ratio, so the window's error
  ratio is the mean of the slices' error ratios.

The result is an ordinary :class:`~sloguard.slo.budget.Counts` of *slices* (``total`` slices,
``bad`` bad slices or summed error ratios), so budgets and burn rates need no other change:
burn rate = (bad slices / slices) / (1 - objective) over every window.

Example::

    b = Budgeting(BudgetingMethod.TIMESLICES, slice=60.0, slice_objective=0.99)
    slice_ends(300.0, at=630.0, size=60.0)           # (360.0, 420.0, 480.0, 540.0, 600.0)
    slice_counts(b, [Counts(0, 100), Counts(5, 100), Counts(0, 0)])   # Counts(bad=1, total=2)
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from sloguard.durations import format_duration
from sloguard.slo.budget import Counts
from sloguard.slo.promql import PART_LABEL, bad_and_total, window_query
from sloguard.slo.spec import SLO, Budgeting, BudgetingMethod

__all__ = ["counts_query", "slice_bad", "slice_counts", "slice_ends", "slice_parts", "slice_query"]


def slice_ends(window: float, at: float, size: float) -> tuple[float, ...]:
    """The ends of the slices of ``size`` seconds in ``(at - window, at]``, oldest first."""
    first = math.floor((at - window) / size) + 1
    last = math.floor(at / size)
    return tuple(k * size for k in range(first, last + 1))


def slice_bad(budgeting: Budgeting, counts: Counts) -> float | None:
    """What one slice adds to ``bad`` (0..1); None for a slice without events (not counted)."""
    ratio = counts.error_ratio
    if ratio is None:
        return None
    if budgeting.method is BudgetingMethod.RATIO_TIMESLICES:
        return ratio
    threshold = 1.0 - (budgeting.slice_objective if budgeting.slice_objective is not None else 1.0)
    return 1.0 if ratio > threshold else 0.0


def slice_counts(budgeting: Budgeting, slices: Iterable[Counts]) -> Counts | None:
    """The slice counts of a window from its slices' event counts; None when no slice had
    events."""
    bad = total = 0.0
    for counts in slices:
        value = slice_bad(budgeting, counts)
        if value is not None:
            bad, total = bad + value, total + 1.0
    return Counts(bad=bad, total=total) if total > 0 else None


def slice_parts(slo: SLO, window: float) -> tuple[str, str]:
    """PromQL of (bad slices, slices with events) of ``slo`` per instance over ``window``: a
    subquery evaluating the slice's error ratio at every slice end. It costs ``window / slice``
    evaluations of the slice's increases per series (43 200 for 30 days of 1-minute slices)
    every time it runs: mind it in recording rules evaluated every minute.

    The range is one second shorter than ``window`` so that a slice ending exactly at the
    window's start is left out whichever way the Prometheus version closes ranges.
    """
    b = slo.budgeting
    bad, total = bad_and_total(slo, b.slice)
    ratio = f"({bad} / ({total} > 0))"
    if b.method is BudgetingMethod.TIMESLICES:
        objective = b.slice_objective if b.slice_objective is not None else 1.0
        ratio = f"({ratio} > bool {1.0 - objective!r})"
    span = format_duration(max(b.slice, window - 1.0))
    step = format_duration(b.slice)
    return (
        f"sum_over_time({ratio}[{span}:{step}])",
        f"count_over_time(({total} > 0)[{span}:{step}])",
    )


def slice_query(slo: SLO, window: float) -> str:
    """One query of bad and all slices per instance over ``window`` (the part label as in
    :func:`sloguard.slo.promql.window_query`), from :func:`slice_parts`."""
    bad, total = slice_parts(slo, window)
    return (
        f'label_replace({bad}, "{PART_LABEL}", "bad", "", "")'
        f' or label_replace({total}, "{PART_LABEL}", "total", "", "")'
    )


def counts_query(slo: SLO, window: float) -> str:
    """The query of ``slo``'s counts over ``window``: slices for a time-slice SLO
    (:func:`slice_query`), else events (:func:`sloguard.slo.promql.window_query`)."""
    return slice_query(slo, window) if slo.budgeting.sliced else window_query(slo, window)
