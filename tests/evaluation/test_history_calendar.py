"""A calendar SLO's history (the chart behind ``/api/v1/slos/{name}/history``) shows the budget
resetting at the period's start; a rolling SLO's does not."""

from __future__ import annotations

from dataclasses import replace

from sloguard.durations import DAY, HOUR
from sloguard.evaluation.historyread import read_histories
from sloguard.slo.budget import Counts
from sloguard.slo.calendar import Calendar, CalendarUnit
from sloguard.slo.spec import SLO
from sloguard.sources.base import Steps, WindowCounts
from sloguard.sources.fake import FakeSource
from tests.support.slos import make_slo

MARCH_1 = 1_772_323_200.0  # 2026-03-01T00:00:00Z
INCIDENT = MARCH_1 - 2 * DAY  # 500 failures at once, two days before March


def answer(slo: SLO, window: float, at: float) -> WindowCounts:
    """One event a second; the incident's failures when the window holds it."""
    bad = 500.0 if at - window < INCIDENT <= at else 0.0
    return {(): Counts(bad=bad, total=window)}


async def test_the_budget_resets_at_the_month_start_in_the_history() -> None:
    monthly = replace(make_slo(objective=0.999), calendar=Calendar(CalendarUnit.MONTH))
    steps = Steps(end=MARCH_1 + 2 * DAY, step=HOUR, count=24 * 4)  # 27 Feb 00:00 .. 3 Mar
    (calendar,) = await read_histories(FakeSource(answer=answer), monthly, steps)
    (rolling,) = await read_histories(FakeSource(answer=answer), make_slo(objective=0.999), steps)
    times = steps.times()
    before = [b for t, b in zip(times, calendar.budget, strict=True) if INCIDENT < t < MARCH_1]
    after = [b for t, b in zip(times, calendar.budget, strict=True) if t >= MARCH_1]
    assert before and all(b is not None and b < 1.0 for b in before)
    assert after and all(b == 1.0 for b in after)
    rolled = [b for t, b in zip(times, rolling.budget, strict=True) if t >= MARCH_1]
    assert all(b is not None and b < 1.0 for b in rolled)
