"""``/api/v1/slos`` of a calendar-month SLO and a time-slice SLO: the period's bounds, the time
until the budget resets, and the budgeting method, from the evaluator's real results."""

from __future__ import annotations

from dataclasses import replace

import httpx
from prometheus_client import CollectorRegistry

from sloguard.durations import DAY
from sloguard.evaluation.evaluator import Evaluator
from sloguard.slo.budget import Counts
from sloguard.slo.calendar import Calendar, CalendarUnit
from sloguard.slo.spec import Budgeting, BudgetingMethod
from sloguard.sources.fake import FakeSource
from sloguard.web.server import create_app
from sloguard.web.sloapi import slo_router
from tests.support.slos import make_slo

MARCH_1_BERLIN = 1_772_319_600.0  # 2026-02-28T23:00:00Z
APRIL_1_BERLIN = 1_774_994_400.0  # 2026-03-31T22:00:00Z (summer time)
AT = MARCH_1_BERLIN + 10 * DAY


async def test_the_api_gives_the_period_and_the_time_left() -> None:
    monthly = replace(
        make_slo("monthly", objective=0.99), calendar=Calendar(CalendarUnit.MONTH, "Europe/Berlin")
    )
    minutes = replace(
        make_slo("minutes", objective=0.99),
        budgeting=Budgeting(BudgetingMethod.RATIO_TIMESLICES, 300.0),
    )
    source = FakeSource(answer=lambda slo, w, at: {(): Counts(bad=1, total=1000)})
    results = await Evaluator([monthly, minutes], source).evaluate(AT)
    app = create_app(CollectorRegistry(), routers=[slo_router(lambda: results)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sloguard") as client:
        body = (await client.get("/api/v1/slos")).json()
    by_name = {s["slo"]: s for s in body["slos"]}
    m = by_name["monthly"]
    assert m["calendar"] == {"unit": "month", "time_zone": "Europe/Berlin"}
    assert (m["period_start"], m["period_end"]) == (MARCH_1_BERLIN, APRIL_1_BERLIN)
    assert m["period_left_seconds"] == APRIL_1_BERLIN - AT
    assert m["budgeting"] == {"method": "occurrences"}
    s = by_name["minutes"]
    assert (s["calendar"], s["period_start"], s["period_end"]) == (None, None, None)
    assert s["budgeting"] == {"method": "ratio_timeslices", "slice": "5m", "slice_objective": None}
