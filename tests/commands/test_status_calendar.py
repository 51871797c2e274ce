"""``sloguard status`` on a wide terminal shows a calendar SLO's period and the time until its
budget resets (the table itself, rendered by Rich, from the API's own JSON)."""

from __future__ import annotations

import io
from dataclasses import replace

from rich.console import Console

from sloguard.commands.statusview import WIDE, status_table
from sloguard.durations import DAY
from sloguard.evaluation.evaluator import InstanceResult
from sloguard.evaluation.report import result_dict
from sloguard.slo.budget import Counts, evaluate
from sloguard.slo.calendar import Calendar, CalendarUnit, period_window
from sloguard.slo.spec import SLOInstance
from tests.support.slos import make_slo

MARCH_1 = 1_772_323_200.0  # 2026-03-01T00:00:00Z


def render(items: list[dict[str, object]]) -> str:
    out = io.StringIO()
    Console(file=out, width=WIDE + 20, color_system=None).print(status_table(items, WIDE + 20))
    return out.getvalue()


def test_the_wide_table_shows_the_calendar_and_the_time_left() -> None:
    monthly = replace(make_slo("monthly"), calendar=Calendar(CalendarUnit.MONTH))
    at = MARCH_1 + 28 * DAY  # three days before April
    current = period_window(monthly.calendar, monthly.period, at)
    counts = {w: Counts(1, 10_000) for w in (*monthly.alerting.policy.windows(), current.window)}
    ev = evaluate(
        objective=monthly.objective,
        period=monthly.period,
        policy=monthly.alerting.policy,
        windows=counts,
        period_window=current.window,
        period_left=current.left(at),
    )
    ev = replace(ev, period_start=current.start, period_end=current.end)
    item = result_dict(InstanceResult(monthly, SLOInstance("monthly"), ev, at))
    rolling = dict(item, slo="rolling", calendar=None, period="7d")
    out = render([item, rolling])
    assert "month (3d left)" in out
    assert "7d" in out
