"""OpenSLO calendar-aligned windows and time-slice budgeting methods, read into sloguard's
``period: {calendar: ...}`` and ``budgeting:`` and written back (documents written here from
the OpenSLO specification's fields: ``timeWindow[].isRolling``, ``calendar.startTime`` and
``timeZone``, ``budgetingMethod``, ``objectives[].timeSliceTarget`` and ``timeSliceWindow``)."""

from __future__ import annotations

import yaml

from sloguard.durations import DAY, MINUTE
from sloguard.slo.calendar import Calendar, CalendarUnit
from sloguard.slo.loader import check_slo_text, parse_slo_text
from sloguard.slo.peers.opensloout import to_openslo
from sloguard.slo.spec import Budgeting, BudgetingMethod

V1 = """\
apiVersion: openslo/v1
kind: SLO
metadata: {name: checkout}
spec:
  service: shop
  indicator:
    metadata: {name: checkout-errors}
    spec:
      ratioMetric:
        counter: true
        bad:
          metricSource: {type: Prometheus, spec: {query: 'http_requests_total{code=~"5.."}'}}
        total:
          metricSource: {type: Prometheus, spec: {query: http_requests_total}}
  timeWindow:
    - duration: 1M
      isRolling: false
      calendar: {startTime: "2024-01-01 00:00:00", timeZone: Europe/Berlin}
  budgetingMethod: Timeslices
  objectives:
    - displayName: good minutes
      target: 0.999
      timeSliceTarget: 0.95
      timeSliceWindow: 1m
"""

V1ALPHA = """\
apiVersion: openslo/v1alpha
kind: SLO
metadata: {name: pay}
spec:
  service: pay
  budgetingMethod: Occurrences
  timeWindows:
    - {unit: Week, count: 1, isRolling: false, calendar: {startTime: "2024-01-01 00:00:00", timeZone: America/New_York}}
  objectives:
    - target: 0.99
      ratioMetrics:
        good: {source: prometheus, queryType: promql, query: 'pay_total{code="2xx"}'}
        total: {source: prometheus, queryType: promql, query: pay_total}
"""  # noqa: E501


def test_a_calendar_month_of_time_slices_is_read() -> None:
    check = check_slo_text(V1, "slo.yaml")
    assert check.problems == (), [str(p) for p in check.problems]
    assert check.slo_file is not None
    (slo,) = check.slo_file.slos
    assert slo.calendar == Calendar(CalendarUnit.MONTH, "Europe/Berlin")
    assert slo.period == 30 * DAY
    assert slo.budgeting == Budgeting(BudgetingMethod.TIMESLICES, MINUTE, 0.95)
    assert slo.objective == 0.999
    assert [(n.line, n.field, n.message) for n in check.notices if "startTime" in n.field] == [
        (
            18,
            "spec.timeWindow[0].calendar.startTime",
            "startTime is not used: each month starts at midnight on the 1st in Europe/Berlin",
        )
    ]


def test_a_v1alpha_calendar_week_is_read() -> None:
    (slo,) = parse_slo_text(V1ALPHA, "slo.yaml").slos
    assert slo.calendar == Calendar(CalendarUnit.WEEK, "America/New_York")
    assert slo.budgeting == Budgeting()


def test_ratio_timeslices_take_the_window_and_leave_the_target() -> None:
    text = V1.replace("budgetingMethod: Timeslices", "budgetingMethod: RatioTimeslices")
    check = check_slo_text(text, "slo.yaml")
    assert check.slo_file is not None
    (slo,) = check.slo_file.slos
    assert slo.budgeting == Budgeting(BudgetingMethod.RATIO_TIMESLICES, MINUTE, None)
    assert any(
        n.field == "spec.objectives[0].timeSliceTarget"
        and n.message == "timeSliceTarget is not used: RatioTimeslices averages the slices' ratios"
        for n in check.notices
    )


def _problems(text: str) -> list[tuple[int | None, str, str]]:
    check = check_slo_text(text, "slo.yaml")
    assert check.slo_file is None
    return [(p.line, p.field, p.message) for p in check.problems]


def test_mistakes_are_shown_at_the_peer_line_and_field() -> None:
    assert _problems(V1.replace("timeSliceTarget: 0.95", "timeSliceTarget: 95")) == [
        (23, "spec.objectives[0].timeSliceTarget", "must be a ratio in (0, 1] (got 95)")
    ]
    assert _problems(V1.replace("isRolling: false", "isRolling: true")) == [
        (
            17,
            "spec.timeWindow[0].isRolling",
            "a calendar is given but isRolling is true: write isRolling: false",
        )
    ]
    assert _problems(V1.replace("timeZone: Europe/Berlin", "timeZone: Europe/Atlantis")) == [
        (
            18,
            "spec.timeWindow[0].calendar.timeZone",
            "unknown time zone 'Europe/Atlantis' (use an IANA name, e.g. UTC or Europe/Berlin) "
            "(sloguard field slos[0].period.time_zone)",
        )
    ]
    alpha = V1ALPHA.replace("budgetingMethod: Occurrences", "budgetingMethod: Timeslices")
    assert _problems(alpha) == [
        (
            10,
            "spec.objectives[0]",
            "openslo/v1alpha objectives have no timeSliceWindow: write this SLO as openslo/v1 "
            "to use timeslices budgeting",
        )
    ]


def test_calendar_and_slices_round_trip_through_openslo() -> None:
    (slo,) = parse_slo_text(V1, "slo.yaml").slos
    docs = to_openslo([slo])
    spec = docs[0]["spec"]
    assert spec["timeWindow"] == [
        {
            "duration": "1M",
            "isRolling": False,
            "calendar": {"startTime": "2024-01-01 00:00:00", "timeZone": "Europe/Berlin"},
        }
    ]
    assert spec["budgetingMethod"] == "Timeslices"
    assert spec["objectives"] == [
        {"target": 0.999, "timeSliceTarget": 0.95, "timeSliceWindow": "1m"}
    ]
    (back,) = parse_slo_text(yaml.safe_dump_all(docs), "back.yaml").slos
    assert (back.calendar, back.budgeting, back.objective, back.period) == (
        slo.calendar,
        slo.budgeting,
        slo.objective,
        slo.period,
    )
