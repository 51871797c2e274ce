"""Calendar periods: boundaries of weeks, months and quarters in a time zone (month ends, leap
years, daylight-saving changes) and the period window an evaluation reads."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from sloguard.durations import DAY, HOUR
from sloguard.slo.calendar import (
    Calendar,
    CalendarUnit,
    PeriodWindow,
    period_bounds,
    period_window,
)

MONTH, WEEK, QUARTER = CalendarUnit.MONTH, CalendarUnit.WEEK, CalendarUnit.QUARTER


def ts(text: str, zone: str = "UTC") -> float:
    """Unix seconds of a local wall-clock time ``YYYY-MM-DD HH:MM`` in ``zone``."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


def local(at: float, zone: str) -> str:
    return datetime.fromtimestamp(at, UTC).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize(
    ("at", "start", "end"),
    [
        ("2026-01-31 23:59", "2026-01-01 00:00", "2026-02-01 00:00"),
        ("2026-02-01 00:00", "2026-02-01 00:00", "2026-03-01 00:00"),  # the start belongs to it
        ("2024-02-29 12:00", "2024-02-01 00:00", "2024-03-01 00:00"),  # leap year
        ("2025-12-31 23:59", "2025-12-01 00:00", "2026-01-01 00:00"),  # year end
        ("2026-04-30 10:00", "2026-04-01 00:00", "2026-05-01 00:00"),  # 30-day month
    ],
)
def test_month_bounds_in_utc(at: str, start: str, end: str) -> None:
    assert period_bounds(Calendar(MONTH), ts(at)) == (ts(start), ts(end))


def test_month_lengths_follow_the_calendar() -> None:
    def days(at: str) -> float:
        start, end = period_bounds(Calendar(MONTH), ts(at))
        return (end - start) / DAY

    assert [days(a) for a in ("2024-02-10", "2025-02-10", "2026-01-10", "2026-04-10")] == [
        29, 28, 31, 30
    ]  # fmt: skip


def test_a_month_in_berlin_starts_at_local_midnight() -> None:
    at = ts("2026-03-01 00:30", "UTC")  # already 1 March in UTC and in Berlin (01:30)
    start, end = period_bounds(Calendar(MONTH, "Europe/Berlin"), at)
    assert (local(start, "Europe/Berlin"), local(end, "Europe/Berlin")) == (
        "2026-03-01 00:00",
        "2026-04-01 00:00",
    )
    assert datetime.fromtimestamp(start, UTC).hour == 23  # 23:00 UTC on 28 February (CET)
    # March holds the spring-forward change: 31 days minus one hour
    assert end - start == 31 * DAY - HOUR
    # 23:30 UTC on 28 February is already March in Berlin, still February in UTC
    late = ts("2026-02-28 23:30", "UTC")
    assert period_bounds(Calendar(MONTH, "Europe/Berlin"), late)[0] == start
    assert local(period_bounds(Calendar(MONTH), late)[0], "UTC") == "2026-02-01 00:00"


def test_october_in_berlin_is_an_hour_longer() -> None:
    start, end = period_bounds(Calendar(MONTH, "Europe/Berlin"), ts("2026-10-15 12:00", "UTC"))
    assert end - start == 31 * DAY + HOUR


def test_a_week_is_an_iso_week_from_monday() -> None:
    # Thursday 1 January 2026: its ISO week started on Monday 29 December 2025
    start, end = period_bounds(Calendar(WEEK), ts("2026-01-01 12:00"))
    assert (local(start, "UTC"), local(end, "UTC")) == ("2025-12-29 00:00", "2026-01-05 00:00")
    monday = ts("2026-01-05 00:00")
    assert period_bounds(Calendar(WEEK), monday)[0] == monday


def test_a_week_across_a_dst_change_stays_midnight_to_midnight() -> None:
    zone = "America/New_York"  # clocks go forward on Sunday 8 March 2026
    start, end = period_bounds(Calendar(WEEK, zone), ts("2026-03-08 12:00", zone))
    assert (local(start, zone), local(end, zone)) == ("2026-03-02 00:00", "2026-03-09 00:00")
    assert end - start == 7 * DAY - HOUR


@pytest.mark.parametrize(
    ("at", "start", "end"),
    [
        ("2026-02-14 00:00", "2026-01-01 00:00", "2026-04-01 00:00"),
        ("2026-06-30 23:59", "2026-04-01 00:00", "2026-07-01 00:00"),
        ("2026-11-01 00:00", "2026-10-01 00:00", "2027-01-01 00:00"),
    ],
)
def test_quarter_bounds(at: str, start: str, end: str) -> None:
    assert period_bounds(Calendar(QUARTER), ts(at)) == (ts(start), ts(end))


def test_an_unknown_time_zone_is_a_value_error_naming_it() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        period_bounds(Calendar(MONTH, "Mars/Olympus"), 0.0)


def test_the_period_window_grows_from_the_start_and_knows_the_time_left() -> None:
    start = ts("2026-03-01 00:00")
    current = period_window(Calendar(MONTH), 30 * DAY, start + 3 * HOUR + 0.5)
    assert current == PeriodWindow(3 * HOUR, start, ts("2026-04-01 00:00"))
    assert current.left(start + 3 * HOUR) == 31 * DAY - 3 * HOUR
    # at the very start the window is one second, never empty
    assert period_window(Calendar(MONTH), 30 * DAY, start).window == 1.0
    rolling = period_window(None, 7 * DAY, start)
    assert rolling == PeriodWindow(7 * DAY) and rolling.left(start) is None
