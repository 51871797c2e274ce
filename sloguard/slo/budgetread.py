"""An SLO entry's calendar period and budgeting method, read from its ``period:`` and
``budgeting:`` fields (every wrong value a problem at its field).

::

    period: 30d                                          # rolling (default 30d)
    period: {calendar: month, time_zone: Europe/Berlin}  # week (ISO, from Monday), quarter
    budgeting: {method: timeslices, slice: 1m, slice_objective: 99}   # percent of a slice
    budgeting: {method: ratio_timeslices, slice: 5m}     # the mean of the slices' ratios

Example::

    calendar = read_calendar(findings, s.at("period"), s.data["period"])   # None on problems
    budgeting = read_budgeting(findings, s, options.resolution)
"""

from __future__ import annotations

from typing import Any

from sloguard.slo.calendar import Calendar, CalendarUnit, time_zone
from sloguard.slo.docreader import DocNode, Findings, choice, duration, number, show_duration
from sloguard.slo.spec import Budgeting, BudgetingMethod
from sloguard.yamldoc import FieldPath

__all__ = ["read_budgeting", "read_calendar"]

_CALENDAR_KEYS = ("calendar", "time_zone")
_BUDGETING_KEYS = ("method", "slice", "slice_objective")
_unit = choice(CalendarUnit, [u.value for u in CalendarUnit], "calendar period")
_method = choice(BudgetingMethod, [m.value for m in BudgetingMethod], "budgeting method")


def _zone(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a time zone name, e.g. Europe/Berlin (got {value!r})")
    time_zone(value)
    return value


def read_calendar(findings: Findings, path: FieldPath, value: Any) -> Calendar | None:
    """The calendar of a ``period:`` mapping; None (and problems) when it is wrong."""
    n = DocNode(findings, path, value, _CALENDAR_KEYS)
    before = len(findings.problems)
    unit = n.get("calendar", _unit, required=True)
    zone = n.get("time_zone", _zone) or "UTC"
    if unit is None or len(findings.problems) > before:
        return None
    return Calendar(unit, zone)


def _percent(value: Any) -> float:
    percent = number(value)
    if not 0 < percent <= 100:
        raise ValueError(f"must be a percent in (0, 100] (got {percent:g})")
    return round(percent / 100, 12)


def read_budgeting(findings: Findings, s: DocNode, resolution: float) -> Budgeting | None:
    """The entry's ``budgeting:`` (occurrences when absent); None (and problems) when wrong.

    A slice must be at least the source's sample interval (a quarter of ``resolution``): a
    shorter slice would often hold no sample at all.
    """
    if "budgeting" not in s:
        return Budgeting()
    n = DocNode(findings, s.at("budgeting"), s.data["budgeting"], _BUDGETING_KEYS)
    if not n.valid:
        return None
    before = len(findings.problems)
    method = n.get("method", _method, required=True)
    size = n.get("slice", duration)
    objective = n.get("slice_objective", _percent)
    if method is BudgetingMethod.OCCURRENCES:
        for key in ("slice", "slice_objective"):
            if key in n:
                findings.problem(n.at(key), f"{key} applies only to the time-slice methods")
    elif method is not None:
        if "slice" not in n:
            findings.problem(
                n.at("slice"), f"method {method} needs slice: the slice length, e.g. slice: 1m"
            )
        elif size is not None and size < resolution / 4:
            findings.problem(
                n.at("slice"),
                f"the slice {show_duration(size)} is shorter than the source's sample interval "
                f"({show_duration(resolution / 4)}): most slices would hold no sample",
            )
        if method is BudgetingMethod.TIMESLICES and "slice_objective" not in n:
            findings.problem(
                n.at("slice_objective"),
                "method timeslices needs slice_objective: the percent of good events that makes "
                "a slice good, e.g. slice_objective: 99",
            )
        if method is BudgetingMethod.RATIO_TIMESLICES and "slice_objective" in n:
            findings.problem(
                n.at("slice_objective"),
                "slice_objective applies only to method timeslices (ratio_timeslices averages "
                "the slices' ratios)",
            )
    if method is None or len(findings.problems) > before:
        return None
    if method is BudgetingMethod.OCCURRENCES:
        return Budgeting()
    return Budgeting(method, size or 0.0, objective)
