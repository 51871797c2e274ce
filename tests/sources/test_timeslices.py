"""Time-slice SLIs: slices counted, not events, in the pure maths, the PromQL and the embedded
source (real registry, real SQLite, explicit clocks)."""

from __future__ import annotations

from dataclasses import replace

from prometheus_client import CollectorRegistry

from sloguard import Recorder
from sloguard.durations import HOUR, MINUTE
from sloguard.evaluation.evaluator import Evaluator
from sloguard.slo.budget import Counts
from sloguard.slo.spec import SLO, Budgeting, BudgetingMethod
from sloguard.slo.timeslices import counts_query, slice_counts, slice_ends, slice_query
from sloguard.sources.base import Steps
from sloguard.sources.embedded import EmbeddedSource
from tests.support.slos import make_slo

T0 = 1_800_000_000.0  # a multiple of 60: slices end at T0 + k minutes
TIMESLICES = Budgeting(BudgetingMethod.TIMESLICES, MINUTE, 0.95)
RATIO = Budgeting(BudgetingMethod.RATIO_TIMESLICES, MINUTE)


def sliced(budgeting: Budgeting, **kw: object) -> SLO:
    return replace(make_slo(objective=0.9, **kw), budgeting=budgeting)  # type: ignore[arg-type]


def calls(rec: Recorder, agent: str, ok: int, err: int) -> None:
    for _ in range(ok):
        rec.agent_call(agent, "success", 0.1)
    for _ in range(err):
        rec.agent_call(agent, "error", 0.1)


def test_slices_end_on_the_slice_grid_inside_the_window() -> None:
    assert slice_ends(300.0, 630.0, 60.0) == (360.0, 420.0, 480.0, 540.0, 600.0)
    assert slice_ends(300.0, 600.0, 60.0) == (360.0, 420.0, 480.0, 540.0, 600.0)  # (at-W, at]
    assert slice_ends(30.0, 650.0, 60.0) == ()


def test_a_slice_is_bad_below_its_objective_and_empty_slices_do_not_count() -> None:
    slices = [Counts(0, 100), Counts(5, 100), Counts(6, 100), Counts(0, 0), Counts(1, 1)]
    # 5 % errors meets 95 %; 6 % and 100 % do not; the empty slice is left out
    assert slice_counts(TIMESLICES, slices) == Counts(bad=2, total=4)
    got = slice_counts(RATIO, slices)
    assert got is not None and got.total == 4 and abs(got.bad - (0 + 0.05 + 0.06 + 1)) < 1e-12
    assert slice_counts(TIMESLICES, [Counts(0, 0)]) is None


def test_the_slice_query_is_a_subquery_on_the_slice_grid() -> None:
    q = slice_query(sliced(TIMESLICES), HOUR)
    assert "[59m59s:1m]" in q and "> bool 0.05" in q and "increase(agent_calls_total" in q
    assert "[1m]" in q and "count_over_time(" in q and "sum_over_time(" in q
    assert "> bool" not in slice_query(sliced(RATIO), HOUR)
    assert counts_query(make_slo(), HOUR).startswith("label_replace(label_replace(sum by (status)")


async def test_embedded_counts_slices_not_events(
    registry: CollectorRegistry, recorder: Recorder
) -> None:
    slo = sliced(TIMESLICES, group_by=("agent_name",))
    src = EmbeddedSource(registry, [slo], interval=10)
    src.sample(T0)
    # minute 1: 1000 calls, 100 failing (10 %: bad); minutes 2-4: 10 calls, none failing;
    # minute 5: nothing. By events the error ratio is 100/1030, by slices 1 bad of 4.
    per_minute = [(900, 100), (10, 0), (10, 0), (10, 0), (0, 0)]
    for minute, (ok, err) in enumerate(per_minute):
        for step in range(1, 7):
            if step == 3:
                calls(recorder, "billing", ok, err)
            src.sample(T0 + minute * MINUTE + step * 10)
    at = T0 + 5 * MINUTE
    key = (("agent_name", "billing"),)
    assert await src.window_counts(slo, 5 * MINUTE, at) == {key: Counts(bad=1, total=4)}
    assert await src.window_counts(slo, 3 * MINUTE, at) == {key: Counts(bad=0, total=2)}
    ratio = await src.window_counts(replace(slo, budgeting=RATIO), 5 * MINUTE, at)
    assert ratio == {key: Counts(bad=0.1, total=4)}
    # the same answers from a history read (charts), point by point
    history = (await src.range_counts(slo, [5 * MINUTE], Steps(at, MINUTE, 2)))[5 * MINUTE]
    assert history == [{key: Counts(bad=1, total=4)}, {key: Counts(bad=1, total=4)}]


async def test_a_slice_still_open_is_read_again_later(
    registry: CollectorRegistry, recorder: Recorder
) -> None:
    slo = sliced(TIMESLICES)
    src = EmbeddedSource(registry, [slo], interval=10)
    src.sample(T0)
    calls(recorder, "a", 10, 0)
    src.sample(T0 + 30)
    # asked at T0+60 before the sample at T0+60 is stored: the slice is not final yet
    assert await src.window_counts(slo, MINUTE, T0 + 60) == {(): Counts(bad=0, total=1)}
    calls(recorder, "a", 0, 10)
    src.sample(T0 + 60)
    assert await src.window_counts(slo, MINUTE, T0 + 60) == {(): Counts(bad=1, total=1)}


async def test_the_evaluator_judges_a_slice_slo_by_its_slices(
    registry: CollectorRegistry, recorder: Recorder
) -> None:
    slo = sliced(TIMESLICES)
    src = EmbeddedSource(registry, [slo], interval=10)
    src.sample(T0)
    for minute in range(10):  # one bad minute in ten, with one event among a thousand
        calls(recorder, "a", 999 if minute else 0, 1)
        src.sample(T0 + (minute + 1) * MINUTE)
    (result,) = await Evaluator([slo], src).evaluate(T0 + 10 * MINUTE)
    ev = result.evaluation
    assert ev.events == 10  # slices, not the 9 992 calls
    assert ev.sli == 0.9  # 9 good slices of 10; by events it would be 0.999
    assert ev.budget_remaining is not None and abs(ev.budget_remaining) < 1e-9


def test_compaction_never_thins_samples_below_the_finest_slice(
    registry: CollectorRegistry, recorder: Recorder
) -> None:
    fine = EmbeddedSource(registry, [sliced(replace(TIMESLICES, slice=30.0))], interval=10)
    plain = EmbeddedSource(registry, [make_slo()], interval=10)
    calls(recorder, "a", 1, 0)
    for i in range(3 * 360):  # three hours of samples every 10 s
        fine.sample(T0 + i * 10)
        plain.sample(T0 + i * 10)
    series = fine._db.execute("SELECT COUNT(*) FROM series").fetchone()[0]
    fine.compact(T0 + 3 * HOUR)
    plain.compact(T0 + 3 * HOUR)
    # the hour older than two hours: one sample per 30 s slice instead of one per minute
    assert (fine.sample_count(), plain.sample_count()) == (series * 840, series * 780)
