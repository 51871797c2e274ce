"""``backtest_budget``: a calendar-month SLO's budget resets at the month boundary (in its time
zone), a rolling one does not, and a time-slice SLO counts slices — through the real embedded
source and evaluator on a simulated clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from sloguard.durations import DAY, HOUR, MINUTE
from sloguard.rules.simulate import backtest_budget
from sloguard.slo.calendar import Calendar, CalendarUnit, period_bounds
from sloguard.slo.spec import SLO, Budgeting, BudgetingMethod
from tests.support.slos import make_slo

BERLIN = "Europe/Berlin"


def berlin(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(BERLIN)).timestamp()


START, END = berlin("2026-01-29 00:00"), berlin("2026-02-02 00:00")
FEB_1 = berlin("2026-02-01 00:00")  # 23:00 UTC on 31 January
INCIDENT = (berlin("2026-01-30 10:00"), berlin("2026-01-30 11:00"))


def traffic(t: float) -> tuple[float, float]:
    """One event a second; 2 % failing for an hour on 30 January, none otherwise."""
    return 1.0, 0.02 if INCIDENT[0] <= t < INCIDENT[1] else 0.0


def monthly() -> SLO:
    return replace(make_slo(objective=0.999), calendar=Calendar(CalendarUnit.MONTH, BERLIN))


async def test_a_calendar_month_budget_resets_at_the_boundary() -> None:
    result = await backtest_budget(monthly(), traffic, start=START, end=END, step=HOUR)
    assert result.resets() == (FEB_1,)
    for p in result.points:  # every point knows its month, in Berlin time
        assert p.period_start == period_bounds(monthly().calendar, p.at)[0]  # type: ignore[arg-type]
    before = [p for p in result.points if INCIDENT[1] <= p.at <= FEB_1 - HOUR]
    after = [p for p in result.points if p.at > FEB_1]
    # 72 bad events spent: 72 / (0.001 x the events since the 29th) of the budget
    last = before[-1]
    assert last.budget_remaining is not None
    assert abs(last.budget_remaining - (1 - 72 / (0.001 * last.events))) < 1e-9
    assert last.budget_remaining < 0.8
    # from the first evaluation of February on, the budget is whole again
    assert after and all(p.budget_remaining == 1.0 for p in after)
    assert after[0].events <= HOUR + 60  # counted from 1 February only
    # the JSON names the reset
    assert result.as_dict()["resets"] == [FEB_1]


async def test_a_rolling_period_does_not_reset() -> None:
    rolling = make_slo(objective=0.999, period=30 * DAY)
    result = await backtest_budget(rolling, traffic, start=START, end=END, step=HOUR)
    assert result.resets() == ()
    after = [p for p in result.points if p.at > FEB_1]
    assert after and all(p.budget_remaining is not None and p.budget_remaining < 0.8 for p in after)


async def test_a_time_slice_slo_counts_slices_not_events() -> None:
    # 99 % of 5-minute slices must have at least 99 % good events; the incident's hour holds
    # twelve bad slices while only 2 % of that hour's events failed
    slo = replace(
        monthly(),
        objective=0.99,
        budgeting=Budgeting(BudgetingMethod.TIMESLICES, 5 * MINUTE, 0.99),
    )
    start, end = berlin("2026-01-30 00:00"), berlin("2026-01-31 00:00")
    result = await backtest_budget(slo, traffic, start=start, end=end, step=HOUR)
    last = result.points[-1]
    assert last.events == 24 * 12  # slices in the day
    assert last.sli == 1 - 12 / (24 * 12)
    assert last.budget_remaining is not None
    assert abs(last.budget_remaining - (1 - (12 / 288) / 0.01)) < 1e-9  # overspent: -3.17
