"""History series: every point is what the evaluator decides at that time from the same counts.

The counts come from a :class:`FakeSource` whose answer depends on time (an outage that starts
and stops), so the budget spent and the burn rates move; the evaluator is asked at each time of
the history and must agree with the history point by point.
"""

from __future__ import annotations

import math

import pytest

from sloguard.durations import DAY, HOUR, MINUTE
from sloguard.evaluation.evaluator import Evaluator
from sloguard.evaluation.history import (
    DEFAULT_POINTS,
    MAX_POINTS,
    HistoryRequestError,
    histories,
    plan,
    select,
)
from sloguard.evaluation.historyread import read_counts, read_histories
from sloguard.slo.budget import Counts, State
from sloguard.slo.spec import SLO, SLOInstance
from sloguard.sources.base import Steps, WindowCounts
from sloguard.sources.fake import FakeSource
from tests.support.slos import make_slo

NOW = 1_800_000_000.0
OUTAGE = (NOW - 5 * HOUR, NOW - 3 * HOUR)  # 20 % errors for billing, none for search
RATE = 10.0  # events per second, each agent


def _events_between(start: float, end: float, a: float, b: float) -> float:
    return max(0.0, min(end, b) - max(start, a))


def world(slo: SLO, window: float, at: float) -> WindowCounts:
    """Counts of the window ``(at - window, at]``: events since ``NOW - 2d``."""
    start = max(at - window, NOW - 2 * DAY)
    if at <= start:
        return {}
    seconds = at - start
    bad = 0.2 * RATE * _events_between(start, at, *OUTAGE)
    return {
        (("agent_name", "billing"),): Counts(bad=bad, total=RATE * seconds),
        (("agent_name", "search"),): Counts(bad=0.0, total=RATE * seconds),
    }


def grouped(period: float = 1 * DAY) -> SLO:
    return make_slo("availability", period=period, group_by=("agent_name",), objective=0.99)


async def test_every_point_equals_what_the_evaluator_decides_then() -> None:
    slo = grouped()
    source = FakeSource(answer=world)
    steps = plan(slo, now=NOW, range_=12 * HOUR, step=30 * MINUTE)
    got = {h.instance: h for h in await read_histories(source, slo, steps)}
    assert sorted(i.labels for i in got) == [
        (("agent_name", "billing"),),
        (("agent_name", "search"),),
    ]
    evaluator = Evaluator([slo], FakeSource(answer=world))
    for i, at in enumerate(steps.times()):
        for r in await evaluator.evaluate(at):
            h = got[r.instance]
            assert h.times[i] == at
            assert h.budget[i] == r.evaluation.budget_remaining
            assert h.states[i] == r.evaluation.state
            for window, series in h.burn.items():
                assert series[i] == r.evaluation.burn_rates[window]
    billing = got[SLOInstance.of("availability", {"agent_name": "billing"})]
    budget = [b for b in billing.budget if b is not None]
    # Spent during the outage, flat before and after it; never a value the maths cannot give.
    assert budget[0] == 1.0 and budget[-1] < 0.5
    assert budget == sorted(budget, reverse=True)
    one_hour = billing.burn[HOUR / 30]  # the 1h tier of a 30d policy is 2m for a 1d period
    assert max(b for b in one_hour if b is not None) == pytest.approx(20.0)
    assert one_hour[-1] == 0.0  # the outage ended three hours ago


async def test_points_before_any_data_are_gaps_not_zeros() -> None:
    slo = make_slo("calls", period=DAY)

    def late(slo: SLO, window: float, at: float) -> WindowCounts:
        return {(): Counts(bad=1.0, total=100.0)} if at > NOW - HOUR else {}

    steps = plan(slo, now=NOW, range_=2 * HOUR, step=30 * MINUTE)
    [h] = await read_histories(FakeSource(answer=late), slo, steps)
    assert h.budget[:3] == (None, None, None)
    assert h.states[:3] == (State.NO_DATA,) * 3
    assert list(h.budget[3:]) == [pytest.approx(1 - 0.01 / 0.001)] * 2
    assert all(s[0] is None for s in h.burn.values())


async def test_the_labels_asked_select_instances_and_a_silent_instance_is_all_gaps() -> None:
    slo = grouped()
    steps = plan(slo, now=NOW, range_=HOUR, step=30 * MINUTE)
    counts = await read_counts(FakeSource(answer=world), slo, steps)
    [only] = histories(slo, steps, counts, {"agent_name": "search"})
    assert only.instance == SLOInstance.of("availability", {"agent_name": "search"})
    [silent] = histories(slo, steps, counts, {"agent_name": "nobody"})
    assert silent.budget == (None, None, None)
    assert len(histories(slo, steps, counts, limit=1)) == 1


def test_counts_must_cover_every_window_and_time() -> None:
    slo = make_slo(period=DAY)
    steps = Steps(end=NOW, step=60.0, count=2)
    counts: dict[float, list[WindowCounts]] = {w: [{}, {}] for w in slo.windows()}
    counts[DAY] = [{}]
    with pytest.raises(ValueError, match="do not cover every time"):
        histories(slo, steps, counts)


def test_plan_defaults_to_the_period_in_default_points() -> None:
    slo = make_slo(period=30 * DAY)
    steps = plan(slo, now=NOW, range_=None, step=None)
    assert steps.end == NOW
    assert steps.count == DEFAULT_POINTS
    assert steps.start == pytest.approx(NOW - 30 * DAY)
    assert steps.times()[-1] == NOW and len(steps.times()) == steps.count


def test_plan_takes_the_range_and_step_asked() -> None:
    steps = plan(make_slo(), now=NOW, range_=6 * HOUR, step=10 * MINUTE)
    assert (steps.start, steps.end, steps.step, steps.count) == (NOW - 6 * HOUR, NOW, 600.0, 37)


@pytest.mark.parametrize(
    ("range_", "step", "message"),
    [
        (
            30 * DAY,
            60.0,
            "range 30d at step 1m is 43201 points; at most 500: use a step of at least",
        ),
        (HOUR, 2 * HOUR, "step 2h is longer than the range 1h"),
        (0.0, None, "range must be a positive duration"),
        (math.inf, None, "range must be a positive duration"),
        (HOUR, 0.0, "step must be a positive duration"),
    ],
)
def test_plan_refuses_what_it_cannot_draw(range_: float, step: float | None, message: str) -> None:
    with pytest.raises(HistoryRequestError, match=message):
        plan(make_slo(), now=NOW, range_=range_, step=step)


def test_the_smallest_step_the_error_suggests_fits() -> None:
    with pytest.raises(HistoryRequestError) as info:
        plan(make_slo(), now=NOW, range_=30 * DAY, step=60.0)
    suggested = str(info.value).rsplit("at least ", 1)[1]
    from sloguard.durations import parse_duration

    assert plan(make_slo(), now=NOW, range_=30 * DAY, step=parse_duration(suggested)).count <= (
        MAX_POINTS
    )


def test_select_names_the_labels_an_slo_is_not_grouped_by() -> None:
    assert select(grouped(), {"agent_name": "billing"}) == {"agent_name": "billing"}
    with pytest.raises(HistoryRequestError, match=r"not grouped by model; it is grouped by agent"):
        select(grouped(), {"agent_name": "billing", "model": "x"})
    with pytest.raises(HistoryRequestError, match=r"grouped by no label \(it has one instance\)"):
        select(make_slo(), {"agent_name": "billing"})


async def test_a_source_failure_is_a_query_error() -> None:
    from sloguard.sources.base import QueryError

    slo = make_slo(period=DAY)
    steps = plan(slo, now=NOW, range_=HOUR, step=30 * MINUTE)
    with pytest.raises(QueryError, match="connection refused"):
        await read_histories(FakeSource(error="connection refused"), slo, steps)
