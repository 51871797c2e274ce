"""Calendar periods and time-slice budgeting in SLO files: the models read, and every wrong
value a problem with its file, line and field."""

from __future__ import annotations

import textwrap
from typing import Any

from sloguard.durations import DAY, MINUTE
from sloguard.slo.budget import default_policy
from sloguard.slo.calendar import Calendar, CalendarUnit
from sloguard.slo.loader import check_slo_text, parse_slo_text
from sloguard.slo.spec import Budgeting, BudgetingMethod

FILE = "slos.yaml"


def _yaml(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def problems(text: str, **options: Any) -> list[str]:
    check = check_slo_text(_yaml(text), FILE, **options)
    assert check.slo_file is None, "expected problems"
    return [str(p) for p in check.problems]


def test_a_calendar_month_in_a_time_zone() -> None:
    (slo,) = parse_slo_text(
        _yaml("""
        slos:
          - name: monthly
            objective: 99.5
            period: {calendar: month, time_zone: Europe/Berlin}
            sli: {kind: success_rate}
        """)
    ).slos
    assert slo.calendar == Calendar(CalendarUnit.MONTH, "Europe/Berlin")
    assert slo.period == 30 * DAY  # the nominal length: the default policy is the 30-day one
    assert slo.alerting.policy == default_policy(30 * DAY)
    assert slo.budgeting == Budgeting()


def test_a_week_defaults_to_utc_and_scales_the_policy_to_seven_days() -> None:
    (slo,) = parse_slo_text(
        "slos:\n  - {name: w, objective: 99, period: {calendar: week}, sli: {kind: success_rate}}\n"
    ).slos
    assert slo.calendar == Calendar(CalendarUnit.WEEK, "UTC")
    assert slo.alerting.policy == default_policy(7 * DAY)


def test_time_slices() -> None:
    (a, b) = parse_slo_text(
        _yaml("""
        slos:
          - name: minutes
            objective: 99
            sli: {kind: success_rate}
            budgeting: {method: timeslices, slice: 1m, slice_objective: 95}
          - name: mean
            objective: 99
            sli: {kind: success_rate}
            budgeting: {method: ratio_timeslices, slice: 5m}
        """),
        resolution=60.0,
    ).slos
    assert a.budgeting == Budgeting(BudgetingMethod.TIMESLICES, MINUTE, 0.95)
    assert b.budgeting == Budgeting(BudgetingMethod.RATIO_TIMESLICES, 5 * MINUTE, None)


def test_calendar_mistakes_are_located() -> None:
    assert problems("""
        slos:
          - name: a
            objective: 99
            period: {calendar: fortnight}
            sli: {kind: success_rate}
          - name: b
            objective: 99
            period: {calendar: month, time_zone: Europe/Atlantis, day: 1}
            sli: {kind: success_rate}
          - name: c
            objective: 99
            period: {time_zone: UTC}
            sli: {kind: success_rate}
        """) == [
        f"{FILE}:4: slos[0].period.calendar: unknown calendar period 'fortnight' "
        "(allowed: month, quarter, week)",
        f"{FILE}:8: slos[1].period.day: unknown key 'day' (allowed: calendar, time_zone)",
        f"{FILE}:8: slos[1].period.time_zone: unknown time zone 'Europe/Atlantis' "
        "(use an IANA name, e.g. UTC or Europe/Berlin)",
        f"{FILE}:12: slos[2].period.calendar: required field is missing",
    ]


def test_budgeting_mistakes_are_located() -> None:
    assert problems(
        """
        slos:
          - name: a
            objective: 99
            sli: {kind: success_rate}
            budgeting: {method: timeslice, slice: 1m}
          - name: b
            objective: 99
            sli: {kind: success_rate}
            budgeting: {method: timeslices}
          - name: c
            objective: 99
            sli: {kind: success_rate}
            budgeting: {method: ratio_timeslices, slice: 10s, slice_objective: 99}
          - name: d
            objective: 99
            sli: {kind: success_rate}
            budgeting: {method: timeslices, slice: 1m, slice_objective: 120}
          - name: e
            objective: 99
            sli: {kind: success_rate}
            budgeting: {method: occurrences, slice: 1m}
        """,
        resolution=120.0,
    ) == [
        f"{FILE}:5: slos[0].budgeting.method: unknown budgeting method 'timeslice', "
        "did you mean 'timeslices'?",
        f"{FILE}:9: slos[1].budgeting.slice: method timeslices needs slice: the slice length, "
        "e.g. slice: 1m",
        f"{FILE}:9: slos[1].budgeting.slice_objective: method timeslices needs "
        "slice_objective: the percent of good events that makes a slice good, e.g. "
        "slice_objective: 99",
        f"{FILE}:13: slos[2].budgeting.slice: the slice 10s is shorter than the source's "
        "sample interval (30s): most slices would hold no sample",
        f"{FILE}:13: slos[2].budgeting.slice_objective: slice_objective applies only to method "
        "timeslices (ratio_timeslices averages the slices' ratios)",
        f"{FILE}:17: slos[3].budgeting.slice_objective: must be a percent in (0, 100] (got 120)",
        f"{FILE}:21: slos[4].budgeting.slice: slice applies only to the time-slice methods",
    ]
