"""A calendar-month SLO and time-slice SLOs read from a real Prometheus (backfilled history
across a month boundary in Europe/Berlin) agree with the embedded source fed the same counter
values: the same period, budget and events at every time asked, the same slices."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from sloguard import conventions as c
from sloguard.durations import DAY, HOUR, MINUTE
from sloguard.evaluation.evaluator import Evaluator
from sloguard.slo.calendar import Calendar, CalendarUnit, period_bounds
from sloguard.slo.spec import SLO, Budgeting, BudgetingMethod
from sloguard.sources.base import SLISource
from sloguard.sources.embedded import EmbeddedSource
from sloguard.sources.prometheus import PrometheusSource
from tests.support.promserver import (
    Family,
    Series,
    backfill_openmetrics,
    openmetrics_text,
    start_prometheus,
)
from tests.support.slos import make_slo

BERLIN = "Europe/Berlin"
STEP = 60.0  # one sample a minute, on the minute grid
MONTH = Calendar(CalendarUnit.MONTH, BERLIN)


def _boundary() -> float:
    """The latest start of a month in Berlin at least three days ago (history then ends a day
    before now, as a scraping server would keep it)."""
    zone = ZoneInfo(BERLIN)
    local = datetime.fromtimestamp(time.time() - 3 * DAY, UTC).astimezone(zone)
    return period_bounds(MONTH, local.timestamp())[0]


def _per_minute(t: float, boundary: float) -> tuple[int, int]:
    """(good, bad) calls in the minute ending at ``t``: 60 a minute; 3 % failing 10:00-11:00 on
    the day before the boundary and 1 % on the day after (slices bad at 99 %, good at 98 %);
    silence for half an hour on the day after."""
    if boundary + DAY + 5 * HOUR < t <= boundary + DAY + 5.5 * HOUR:
        return 0, 0
    if boundary - 14 * HOUR < t <= boundary - 13 * HOUR:
        return 58, 2  # 3.3 %
    if boundary + 10 * HOUR < t <= boundary + 11 * HOUR:
        return 59, 1  # 1.7 %
    return 60, 0


class _Counters(Collector):
    """The history's counters at one time, as the SDK would expose them."""

    def __init__(self) -> None:
        self.good = self.bad = 0.0

    def collect(self) -> Iterable[Metric]:
        m = Metric("agent_calls", "calls", "counter")
        for status, value in (("success", self.good), ("error", self.bad)):
            m.add_sample(c.AGENT_CALLS, {"agent_name": "billing", "status": status}, value)
        return [m]


@pytest.fixture(scope="module")
def history(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, EmbeddedSource, float]]:
    """Prometheus with two days of history on each side of a Berlin month boundary, and an
    embedded source that sampled the same counter values at the same times."""
    boundary = _boundary()
    start = boundary - 2 * DAY
    times = [start + i * STEP for i in range(int(4 * DAY / STEP) + 1)]
    good, bad, values = 0.0, 0.0, []
    registry = CollectorRegistry(auto_describe=False)
    counters = _Counters()
    registry.register(counters)
    slos = [_sliced(BudgetingMethod.TIMESLICES), _monthly()]
    embedded = EmbeddedSource(registry, slos, interval=STEP)
    for i, t in enumerate(times):
        if i:
            g, b = _per_minute(t, boundary)
            good, bad = good + g, bad + b
        values.append((t, good, bad))
        counters.good, counters.bad = good, bad
        embedded.sample(t)
    series = [
        Series(c.AGENT_CALLS, {"agent_name": "billing", "status": "success"},
               [(t, g) for t, g, _ in values]),
        Series(c.AGENT_CALLS, {"agent_name": "billing", "status": "error"},
               [(t, b) for t, _, b in values]),
    ]  # fmt: skip
    root = tmp_path_factory.mktemp("prometheus-budget")
    backfill_openmetrics(
        openmetrics_text([Family("agent_calls", "counter", series)]), root / "data"
    )
    with start_prometheus(root, storage=root / "data") as url:
        yield url, embedded, boundary


def _monthly() -> SLO:
    return replace(make_slo("monthly", objective=0.999), calendar=MONTH)


def _sliced(method: BudgetingMethod) -> SLO:
    objective = 0.99 if method is BudgetingMethod.TIMESLICES else None
    return replace(
        make_slo(f"slices-{method}", objective=0.99),
        budgeting=Budgeting(method, 5 * MINUTE, objective),
    )


async def _results(slo: SLO, source: SLISource, at: float) -> tuple[object, ...]:
    (r,) = await Evaluator([slo], source).evaluate(at)
    ev = r.evaluation
    burns = {w: None if b is None else round(b, 9) for w, b in ev.burn_rates.items()}
    return (ev.state, ev.events, ev.sli, ev.budget_remaining, ev.period_start, ev.period_end, burns)


@pytest.mark.prometheus
async def test_a_calendar_month_agrees_with_prometheus_across_the_boundary(
    history: tuple[str, EmbeddedSource, float],
) -> None:
    url, embedded, boundary = history
    slo = _monthly()
    async with PrometheusSource(url) as prom:
        before = await _results(slo, prom, boundary - 2 * HOUR)
        after = await _results(slo, prom, boundary + 12 * HOUR)
        assert before == await _results(slo, embedded, boundary - 2 * HOUR)
        assert after == await _results(slo, embedded, boundary + 12 * HOUR)
        assert prom.query_count == 2  # every window of an evaluation in one query (rawbatch)
    # before: the 120 failures of the bad hour count against the old month's budget ...
    assert before[4] == period_bounds(MONTH, boundary - HOUR)[0]
    assert isinstance(before[3], float) and before[3] < 0.5
    # ... after: the new month started whole and holds only its own 60 failures
    assert after[4] == boundary and after[1] == 12 * 60 * 60
    assert after[3] == pytest.approx(1 - (60 / (12 * 3600)) / 0.001)


@pytest.mark.prometheus
@pytest.mark.parametrize("method", [BudgetingMethod.TIMESLICES, BudgetingMethod.RATIO_TIMESLICES])
async def test_time_slices_agree_with_prometheus(
    history: tuple[str, EmbeddedSource, float], method: BudgetingMethod
) -> None:
    url, embedded, boundary = history
    slo = _sliced(method)
    at = boundary + DAY + 6 * HOUR  # after the silent half hour
    async with PrometheusSource(url) as prom:
        for window in (HOUR, DAY, 2 * DAY):
            got = await prom.window_counts(slo, window, at)
            want = await embedded.window_counts(slo, window, at)
            assert got.keys() == want.keys() == {()}
            assert got[()].total == want[()].total
            assert got[()].bad == pytest.approx(want[()].bad, abs=1e-9)
        assert await _results(slo, prom, at) == await _results(slo, embedded, at)
        assert prom.query_count > 3
    # over two days: 576 slices less the six silent ones; the hour at 3.3 % holds 12 bad
    # slices, the hour at 1.7 % 12 more (both above 1 %)
    counts = (await embedded.window_counts(slo, 2 * DAY, at))[()]
    assert counts.total == 576 - 6
    if method is BudgetingMethod.TIMESLICES:
        assert counts.bad == 12 + 12
