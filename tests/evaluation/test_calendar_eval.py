"""The evaluator on calendar SLOs: the period window is the time since the period started, the
results and their JSON carry the period, and a budget that outlasts the period does not run out.
"""

from __future__ import annotations

from dataclasses import replace

from sloguard.durations import DAY, HOUR
from sloguard.evaluation.evaluator import Evaluator
from sloguard.evaluation.report import result_dict
from sloguard.slo.budget import Counts
from sloguard.slo.calendar import Calendar, CalendarUnit
from sloguard.slo.spec import SLO, Budgeting, BudgetingMethod
from sloguard.sources.base import WindowCounts
from sloguard.sources.fake import FakeSource
from tests.support.slos import make_slo

MARCH_1 = 1_772_323_200.0  # 2026-03-01T00:00:00Z
APRIL_1 = MARCH_1 + 31 * DAY
AT = MARCH_1 + 2 * DAY + 30.5  # 2 days and half a minute into March


def monthly() -> SLO:
    return replace(make_slo(objective=0.99), calendar=Calendar(CalendarUnit.MONTH))


async def test_the_period_window_is_the_time_since_the_month_started() -> None:
    asked: list[float] = []

    def answer(slo: SLO, window: float, at: float) -> WindowCounts:
        asked.append(window)
        return {(): Counts(bad=10, total=10_000)}  # 0.1 % errors: burn rate 0.1 everywhere

    (r,) = await Evaluator([monthly()], FakeSource(answer=answer)).evaluate(AT)
    assert 2 * DAY + 30 in asked and 30 * DAY not in asked
    ev = r.evaluation
    assert (ev.period_start, ev.period_end) == (MARCH_1, APRIL_1)
    assert ev.budget_remaining is not None and abs(ev.budget_remaining - 0.9) < 1e-9
    # at burn 0.1 the budget would last 9 x 30 days: longer than March, so it never runs out
    assert ev.time_to_exhaustion is None
    doc = result_dict(r)
    assert doc["calendar"] == {"unit": "month", "time_zone": "UTC"}
    assert (doc["period_start"], doc["period_end"]) == (MARCH_1, APRIL_1)
    assert doc["period_left_seconds"] == APRIL_1 - AT
    assert doc["period"] == "30d"  # the nominal length
    assert doc["budgeting"] == {"method": "occurrences"}


async def test_a_budget_that_runs_out_before_the_period_ends_says_when() -> None:
    def answer(slo: SLO, window: float, at: float) -> WindowCounts:
        # half the month's budget spent so far; burning at 5 in the alert windows
        bad = 50 if window == 2 * DAY + 30 else 500
        return {(): Counts(bad=bad, total=10_000)}

    (r,) = await Evaluator([monthly()], FakeSource(answer=answer)).evaluate(AT)
    tte = r.evaluation.time_to_exhaustion
    assert tte is not None and abs(tte - 0.5 * 30 * DAY / 5) < 1e-3  # 3 days, before April


async def test_a_rolling_slo_has_no_period_bounds() -> None:
    source = FakeSource(answer=lambda s, w, at: {(): Counts(bad=50, total=10_000)})
    (r,) = await Evaluator([make_slo(objective=0.99)], source).evaluate(AT)
    doc = result_dict(r)
    assert (doc["calendar"], doc["period_start"], doc["period_left_seconds"]) == (None, None, None)
    tte = r.evaluation.time_to_exhaustion
    assert tte is not None and abs(tte - 30 * DAY) < 1e-3  # not capped by any period end


async def test_the_json_of_a_time_slice_slo_names_its_slices() -> None:
    slo = replace(make_slo(), budgeting=Budgeting(BudgetingMethod.TIMESLICES, 60.0, 0.99))
    source = FakeSource(answer=lambda s, w, at: {(): Counts(bad=1, total=w / 60)})
    (r,) = await Evaluator([slo], source).evaluate(AT)
    assert result_dict(r)["budgeting"] == {
        "method": "timeslices",
        "slice": "1m",
        "slice_objective": 0.99,
    }
    assert r.evaluation.events == 30 * DAY / 60  # slices
    assert abs((r.evaluation.burn_rates[HOUR] or 0) - (1 / 60) / 0.001) < 1e-9
