"""OpenSLO's calendar-aligned time windows and budgeting methods → sloguard's ``period:`` and
``budgeting:``. Pure.

- ``timeWindow: [{duration: 1M, isRolling: false, calendar: {startTime, timeZone}}]`` (v1; v1alpha
  ``timeWindows: [{unit: Month, count: 1, isRolling: false, calendar: ...}]``) →
  ``period: {calendar: month, time_zone: <timeZone>}``; one week (``1w``), month (``1M``) or
  quarter (``1Q``). ``startTime`` is not used: sloguard's periods start at midnight on their
  first day (ISO weeks on Monday), a notice says so.
- ``budgetingMethod: Timeslices`` with an objective's ``timeSliceWindow`` and
  ``timeSliceTarget`` (a ratio) → ``budgeting: {method: timeslices, slice, slice_objective}``
  (percent); ``RatioTimeslices`` → ``ratio_timeslices`` with its ``timeSliceWindow``.

Example::

    fields = calendar_fields(window, alpha=False)   # [(("period", "calendar"), "month", ...)]
"""

from __future__ import annotations

from typing import Any

from sloguard.slo.peers.base import Origin
from sloguard.slo.peers.openslonode import PeerNode, shorthand
from sloguard.yamldoc import show, suggest

__all__ = ["METHODS", "budgeting_fields", "budgeting_method", "calendar_fields", "is_calendar"]

#: One SLO's translated fields: (path under the SLO entry, value, origin).
Fields = list[tuple[tuple[Any, ...], Any, Origin]]
#: OpenSLO's budgeting methods and sloguard's names for them.
METHODS = {
    "Occurrences": "occurrences",
    "Timeslices": "timeslices",
    "RatioTimeslices": "ratio_timeslices",
}
_SHORTHAND = {"1w": "week", "1M": "month", "1Q": "quarter"}
_ALPHA_UNITS = {"Week": "week", "Month": "month", "Quarter": "quarter"}


def is_calendar(window: PeerNode) -> bool:
    """Whether a time window is calendar-aligned (``isRolling: false`` or a ``calendar``)."""
    data = window.data if isinstance(window.data, dict) else {}
    return data.get("isRolling") is False or window.has("calendar")


def calendar_fields(window: PeerNode, *, alpha: bool) -> Fields:
    """The ``period:`` of a calendar-aligned window; a problem when it is not one week, month
    or quarter, or says ``isRolling: true`` beside a calendar."""
    data = window.data if isinstance(window.data, dict) else {}
    if data.get("isRolling") is True:
        window.problem(
            "a calendar is given but isRolling is true: write isRolling: false", "isRolling"
        )
        return []
    if alpha:
        key, shown = "unit", f"{data.get('count')} {data.get('unit')}"
        unit = _ALPHA_UNITS.get(str(data.get("unit"))) if data.get("count") == 1 else None
    else:
        key, shown = "duration", str(data.get("duration"))
        unit = _SHORTHAND.get(shown)
    if unit is None:
        window.problem(
            "a calendar-aligned window must be one week, month or quarter "
            f"({'count: 1 with unit Week, Month or Quarter' if alpha else '1w, 1M or 1Q'}): "
            f"sloguard resets the budget at the start of each (got {shown})",
            key,
        )
        return []
    fields: Fields = [(("period", "calendar"), unit, window.at(key))]
    calendar = window.get("calendar")
    if not window.has("calendar"):
        window.notice(f"no calendar: each {unit} starts at midnight UTC", key)
    elif calendar.keys(("startTime", "timeZone"), " (startTime, timeZone)"):
        zone = calendar.text("timeZone")
        if zone is not None:
            fields.append((("period", "time_zone"), zone, calendar.at("timeZone")))
        if calendar.has("startTime"):
            first = "Monday" if unit == "week" else "the 1st"
            calendar.notice(
                f"startTime is not used: each {unit} starts at midnight on {first} in "
                f"{zone or 'UTC'}",
                "startTime",
            )
    return fields


def budgeting_method(spec: PeerNode) -> str | None:
    """sloguard's name of the SLO's ``budgetingMethod`` (occurrences when absent, with a
    notice); None and a problem when it is unknown."""
    method = spec.data.get("budgetingMethod") if isinstance(spec.data, dict) else None
    if method is None:
        spec.notice("no budgetingMethod: read as Occurrences (events are counted)")
        return "occurrences"
    if method not in METHODS:
        spec.problem(
            f"unknown budgetingMethod {show(method)}{suggest(str(method), list(METHODS))}",
            "budgetingMethod",
        )
        return None
    return METHODS[method]


def budgeting_fields(objective: PeerNode, method: str | None, *, alpha: bool) -> Fields:
    """The ``budgeting:`` of one objective under ``method`` (sloguard's name)."""
    keys = ("timeSliceTarget", "timeSliceWindow")
    if method in (None, "occurrences"):
        for key in keys:
            if objective.has(key):
                objective.notice(f"{key} is not used: the budget counts events (Occurrences)", key)
        return []
    if alpha:
        objective.problem(
            "openslo/v1alpha objectives have no timeSliceWindow: write this SLO as openslo/v1 "
            f"to use {method} budgeting"
        )
        return []
    size = shorthand(objective, "timeSliceWindow", required=True)
    target = objective.number("timeSliceTarget", required=method == "timeslices")
    fields: Fields = [(("budgeting", "method"), method, objective.at())]
    if method == "ratio_timeslices" and target is not None:
        objective.notice(
            "timeSliceTarget is not used: RatioTimeslices averages the slices' ratios",
            "timeSliceTarget",
        )
    elif target is not None and not 0 < target <= 1:
        objective.problem(f"must be a ratio in (0, 1] (got {target:g})", "timeSliceTarget")
        return []
    elif target is not None:
        percent = round(target * 100, 10)
        fields.append((("budgeting", "slice_objective"), percent, objective.at("timeSliceTarget")))
    elif method == "timeslices":
        return []  # the missing target is a problem already
    if size is None:
        return []  # the missing or wrong window is a problem already
    fields.append((("budgeting", "slice"), size, objective.at("timeSliceWindow")))
    return fields
