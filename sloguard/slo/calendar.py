"""Calendar-aligned SLO periods: the current week, month or quarter in a time zone. Pure.

A rolling SLO looks back ``period`` seconds from now. A calendar SLO's budget starts afresh at
the start of each calendar period in its time zone (midnight local time: Monday of an ISO week,
the 1st of a month, the 1st of January/April/July/October for a quarter) and its **period
window** is the time since that start (it grows through the period). Its ``period`` in seconds
is the nominal length (:data:`NOMINAL`: 7, 30 or 90 days), which scales the default alert policy
as for a rolling SLO of that length; the alert windows themselves stay rolling.

Boundaries are computed in local time with :mod:`zoneinfo`, so a month in ``Europe/Berlin``
that contains a daylight-saving change is one hour shorter or longer than its days suggest.

Example::

    cal = Calendar(CalendarUnit.MONTH, "Europe/Berlin")
    start, end = period_bounds(cal, 1_772_323_200.0)   # 2026-03-01T00:00Z
    # start = 2026-02-28T23:00Z (1 March, 00:00 in Berlin), end = 2026-03-31T22:00Z
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sloguard.durations import DAY

__all__ = [
    "NOMINAL", "Calendar", "CalendarUnit", "PeriodWindow", "period_bounds", "period_window",
    "time_zone",
]  # fmt: skip


class CalendarUnit(StrEnum):
    """The calendar period a budget resets at."""

    WEEK = "week"  # ISO week, from Monday 00:00
    MONTH = "month"
    QUARTER = "quarter"


#: The nominal length of each unit in seconds: the SLO's ``period`` (policy scaling, listings).
NOMINAL = {CalendarUnit.WEEK: 7 * DAY, CalendarUnit.MONTH: 30 * DAY, CalendarUnit.QUARTER: 90 * DAY}


@dataclass(frozen=True, slots=True)
class Calendar:
    """A calendar period in an IANA time zone (``UTC`` by default)."""

    unit: CalendarUnit
    time_zone: str = "UTC"

    @property
    def nominal(self) -> float:
        """The nominal length in seconds."""
        return NOMINAL[self.unit]


def time_zone(name: str) -> ZoneInfo:
    """The zone named ``name``; ``ValueError`` naming it when it is unknown.

    Example::

        time_zone("Europe/Berlin")   # ZoneInfo(key='Europe/Berlin')
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name, e.g. UTC or Europe/Berlin)"
        ) from exc


def _start_of(unit: CalendarUnit, local: datetime) -> datetime:
    day = local.replace(hour=0, minute=0, second=0, microsecond=0, fold=0)
    if unit is CalendarUnit.WEEK:
        return day - timedelta(days=day.weekday())
    if unit is CalendarUnit.MONTH:
        return day.replace(day=1)
    return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)


def _next(unit: CalendarUnit, start: datetime) -> datetime:
    if unit is CalendarUnit.WEEK:
        return start + timedelta(days=7)  # wall-clock arithmetic: midnight stays midnight
    months = 1 if unit is CalendarUnit.MONTH else 3
    month = start.month - 1 + months
    return start.replace(year=start.year + month // 12, month=month % 12 + 1)


def period_bounds(calendar: Calendar, at: float) -> tuple[float, float]:
    """The ``[start, end)`` (unix seconds) of the calendar period that contains ``at``.

    Example::

        period_bounds(Calendar(CalendarUnit.WEEK), 1_767_225_600.0)   # Thu 2026-01-01
        # (1_766_966_400.0, 1_767_571_200.0): Mon 2025-12-29 .. Mon 2026-01-05, UTC
    """
    zone = time_zone(calendar.time_zone)
    local = datetime.fromtimestamp(at, UTC).astimezone(zone)
    start = _start_of(calendar.unit, local)
    end = _next(calendar.unit, start)
    # wall-clock datetimes in the zone: .timestamp() applies each one's own UTC offset
    return start.timestamp(), end.timestamp()


@dataclass(frozen=True, slots=True)
class PeriodWindow:
    """The window an SLO's budget is measured over at one time: ``window`` seconds back from
    then; a calendar SLO's period ``[start, end)`` too (None for a rolling one)."""

    window: float
    start: float | None = None
    end: float | None = None

    def left(self, at: float) -> float | None:
        """Seconds from ``at`` until the period ends (None when rolling)."""
        return None if self.end is None else max(0.0, self.end - at)


def period_window(calendar: Calendar | None, period: float, at: float) -> PeriodWindow:
    """The period's window at ``at``: ``period`` when rolling, else the whole seconds since the
    calendar period started (at least 1 s: a source cannot count over an empty window).

    Example::

        period_window(None, 2_592_000.0, at)                      # PeriodWindow(2592000.0)
        period_window(Calendar(CalendarUnit.MONTH), 2_592_000.0, 1_772_326_800.0)
        # PeriodWindow(window=3600.0, start=1772323200.0, end=1775001600.0): 1 March, 01:00 UTC
    """
    if calendar is None:
        return PeriodWindow(period)
    start, end = period_bounds(calendar, at)
    return PeriodWindow(max(1.0, float(math.floor(at - start))), start, end)
