"""An SLO instance's history: budget remaining and burn rates at evenly spaced times. Pure.

The page's charts and ``GET /api/v1/slos/{name}/history`` show, for one SLO, how each instance
spent its error budget over the period and how fast each alert window burned. Every point is
what the evaluator would have decided at that time from the same counts: the counts of every
window at a time go through :func:`sloguard.slo.budget.evaluate`, nothing else.

:func:`plan` turns the request (``range``, ``step``, ``now``) into :class:`Steps` within the
bounds (:data:`MAX_POINTS`); :func:`histories` turns counts per window and time into one
:class:`InstanceHistory` per instance. Asking the source is the caller's
(:mod:`sloguard.evaluation.historyread`).

Example::

    steps = plan(slo, now=now, range_=None, step=None)       # the period, DEFAULT_POINTS points
    counts = {w: [fake_counts(w, t) for t in steps.times()] for w in slo.windows()}
    [h] = histories(slo, steps, counts)
    h.budget[-1] == evaluate(..., windows={w: counts[w][-1].get(()) ...}).budget_remaining
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sloguard.durations import format_duration
from sloguard.errors import SloguardError
from sloguard.slo.budget import Counts, State, evaluate
from sloguard.slo.spec import SLO, InstanceLabels, SLOInstance
from sloguard.sources.base import Steps, WindowCounts

__all__ = [
    "DEFAULT_POINTS",
    "MAX_INSTANCES",
    "MAX_POINTS",
    "HistoryRequestError",
    "InstanceHistory",
    "histories",
    "plan",
    "select",
]

#: Points of a history when no ``step`` is asked.
DEFAULT_POINTS = 240
#: The most points one history may have (the cost of a request is points x windows).
MAX_POINTS = 500
#: The most instances one answer carries (the cost of a request is also per instance).
MAX_INSTANCES = 50


class HistoryRequestError(SloguardError, ValueError):
    """A history request that cannot be answered as asked (the message names the parameter)."""


@dataclass(frozen=True, slots=True)
class InstanceHistory:
    """One instance's series, each aligned with ``times`` (None: nothing known at that time)."""

    instance: SLOInstance
    times: tuple[float, ...]
    budget: tuple[float | None, ...]
    #: burn rate per window (seconds), every window of the SLO's policy
    burn: Mapping[float, tuple[float | None, ...]]
    states: tuple[State, ...]


def plan(slo: SLO, *, now: float, range_: float | None, step: float | None) -> Steps:
    """The times of a history ending at ``now``: ``range_`` (default the SLO's period) split
    into ``step`` s (default: :data:`DEFAULT_POINTS` points); at most :data:`MAX_POINTS`.

    Raise :class:`HistoryRequestError` for a range or step that is not positive and finite, a
    step longer than the range, or too many points.
    """
    span = slo.period if range_ is None else range_
    if not (math.isfinite(span) and span > 0):
        raise HistoryRequestError(f"range must be a positive duration, got {span!r}s")
    if step is None:
        step = max(1.0, span / (DEFAULT_POINTS - 1))
    if not (math.isfinite(step) and step > 0):
        raise HistoryRequestError(f"step must be a positive duration, got {step!r}s")
    if step > span:
        raise HistoryRequestError(
            f"step {format_duration(step)} is longer than the range {format_duration(span)}"
        )
    count = math.floor(span / step + 1e-9) + 1
    if count > MAX_POINTS:
        least = format_duration(math.ceil(span / (MAX_POINTS - 1)))
        raise HistoryRequestError(
            f"range {format_duration(span)} at step {format_duration(step)} is {count} points;"
            f" at most {MAX_POINTS}: use a step of at least {least}"
        )
    return Steps(end=now, step=step, count=count)


def select(slo: SLO, asked: Mapping[str, str]) -> Mapping[str, str]:
    """The instance labels of a request, checked against the SLO's ``group_by``.

    Raise :class:`HistoryRequestError` naming a label the SLO is not grouped by.
    """
    unknown = sorted(set(asked) - set(slo.group_by))
    if unknown:
        grouped = ", ".join(slo.group_by) or "no label (it has one instance)"
        raise HistoryRequestError(
            f"SLO {slo.name!r} is not grouped by {', '.join(unknown)}; it is grouped by {grouped}"
        )
    return dict(asked)


def histories(
    slo: SLO,
    steps: Steps,
    counts: Mapping[float, Sequence[WindowCounts]],
    labels: Mapping[str, str] | None = None,
    *,
    limit: int = MAX_INSTANCES,
) -> list[InstanceHistory]:
    """One history per instance of ``slo`` seen in ``counts`` (whose labels include
    ``labels``), in instance order, at most ``limit``.

    ``counts`` maps every window of the SLO to its counts at each of ``steps.times()``.
    """
    times = steps.times()
    windows = sorted(slo.windows())
    for w in windows:
        if len(counts.get(w, ())) != len(times):
            raise ValueError(f"counts of window {format_duration(w)} do not cover every time")
    wanted = set((labels or {}).items())
    keys = sorted({k for w in windows for at_time in counts[w] for k in at_time})
    keys = [k for k in keys if wanted <= set(k)]
    if not keys and {name for name, _ in wanted} == set(slo.group_by):
        keys = [tuple(sorted(wanted))]  # the one instance asked for, with no data yet
    return [_one(slo, key, times, windows, counts) for key in keys[:limit]]


def _one(
    slo: SLO,
    key: InstanceLabels,
    times: tuple[float, ...],
    windows: list[float],
    counts: Mapping[float, Sequence[WindowCounts]],
) -> InstanceHistory:
    budget: list[float | None] = []
    states: list[State] = []
    burn: dict[float, list[float | None]] = {w: [] for w in slo.alerting.policy.windows()}
    for i in range(len(times)):
        at_time: dict[float, Counts | None] = {w: counts[w][i].get(key) for w in windows}
        ev = evaluate(
            objective=slo.objective,
            period=slo.period,
            policy=slo.alerting.policy,
            windows=at_time,
            min_events=slo.min_events,
        )
        budget.append(ev.budget_remaining)
        states.append(ev.state)
        for w, series in burn.items():
            series.append(ev.burn_rates.get(w))
    return InstanceHistory(
        SLOInstance(slo.name, key),
        times,
        tuple(budget),
        {w: tuple(v) for w, v in sorted(burn.items())},
        tuple(states),
    )
