"""The embedded source on a real registry and a real SQLite file, with explicit clocks."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from sloguard import AgentMetrics, Recorder
from sloguard.durations import DAY, HOUR, MINUTE
from sloguard.evaluation.evaluator import Evaluator
from sloguard.slo.budget import Counts, State
from sloguard.slo.spec import SLIKind
from sloguard.sources.base import QueryError
from sloguard.sources.embedded import EmbeddedSource
from tests.support.slos import make_slo

T0 = 1_800_000_000.0


def calls(rec: Recorder, agent: str, ok: int, err: int, duration: float = 0.2) -> None:
    for _ in range(ok):
        rec.agent_call(agent, "success", duration)
    for _ in range(err):
        rec.agent_call(agent, "error", duration)


async def test_window_counts_per_instance(registry: CollectorRegistry, recorder: Recorder) -> None:
    slo = make_slo(group_by=("agent_name",))
    src = EmbeddedSource(registry, [slo], interval=10)
    src.sample(T0)
    calls(recorder, "billing", 90, 10)
    calls(recorder, "search", 50, 0)
    src.sample(T0 + 10)
    calls(recorder, "billing", 100, 0)
    src.sample(T0 + 20)
    # sample-and-hold: events are attributed to the sample that first saw them
    got = await src.window_counts(slo, 10, T0 + 20)
    assert got == {
        (("agent_name", "billing"),): Counts(bad=0, total=100),
        (("agent_name", "search"),): Counts(bad=0, total=0),
    }
    got = await src.window_counts(slo, 60, T0 + 20)
    assert got[(("agent_name", "billing"),)] == Counts(bad=10, total=200)
    # a selector narrows, an ungrouped SLO sums
    only = make_slo(selector={"agent_name": "search"})
    assert await src.window_counts(only, 60, T0 + 20) == {(): Counts(0, 50)}
    assert await src.window_counts(make_slo(), 60, T0 + 20) == {(): Counts(10, 250)}


async def test_latency_sli_uses_the_bucket_bound(
    registry: CollectorRegistry, recorder: Recorder
) -> None:
    slo = make_slo(kind=SLIKind.LATENCY, threshold=5.0)
    src = EmbeddedSource(registry, [slo], interval=10)
    src.sample(T0)
    calls(recorder, "a", 8, 0, duration=1.0)
    calls(recorder, "a", 2, 0, duration=7.0)
    src.sample(T0 + 10)
    assert await src.window_counts(slo, 60, T0 + 10) == {(): Counts(bad=2, total=10)}


async def test_survives_restart_and_counter_reset(tmp_path: Path) -> None:
    db = tmp_path / "samples.sqlite"
    slo = make_slo()
    reg1 = CollectorRegistry()
    rec1 = Recorder(AgentMetrics(registry=reg1))
    src = EmbeddedSource(reg1, [slo], path=db, interval=10)
    src.sample(T0)
    calls(rec1, "a", 95, 5)
    src.sample(T0 + 10)
    await src.aclose()
    # new process: counters start again at zero
    reg2 = CollectorRegistry()
    rec2 = Recorder(AgentMetrics(registry=reg2))
    src2 = EmbeddedSource(reg2, [slo], path=db, interval=10)
    calls(rec2, "a", 48, 2)
    src2.sample(T0 + 20)
    assert await src2.window_counts(slo, 30, T0 + 20) == {(): Counts(bad=7, total=150)}
    assert await src2.window_counts(slo, 5, T0 + 20) == {(): Counts(bad=2, total=50)}
    await src2.aclose()


async def test_compaction_thins_old_samples_without_losing_counts(
    registry: CollectorRegistry, recorder: Recorder
) -> None:
    slo = make_slo(period=7 * DAY)
    src = EmbeddedSource(registry, [slo], interval=10, fine_for=2 * HOUR)
    t = T0
    end = T0 + 2 * DAY
    while t <= end:
        calls(recorder, "a", 1, 0 if int(t) % 600 else 1)
        src.sample(t)
        t += 60.0
    before_1d = await src.window_counts(slo, DAY, end)
    before_1h = await src.window_counts(slo, HOUR, end)
    n_before = src.sample_count()
    deleted = src.compact(end)
    assert deleted > 0
    assert src.sample_count() == n_before - deleted
    assert await src.window_counts(slo, HOUR, end) == before_1h
    # a 1-day window now starts at a thinned sample: at most one 10-minute bucket of drift
    after_1d = (await src.window_counts(slo, DAY, end))[()]
    assert abs(after_1d.total - before_1d[()].total) <= 10
    # retention: nothing older than the longest window (+10%) is kept
    src.compact(end + 30 * DAY)
    assert src.sample_count() == 0


async def test_ratio_kind_needs_prometheus(registry: CollectorRegistry) -> None:
    slo = make_slo(kind=SLIKind.RATIO)
    src = EmbeddedSource(registry, [slo])
    with pytest.raises(QueryError, match="needs Prometheus"):
        await src.window_counts(slo, 60, T0)


async def test_a_latency_slo_without_threshold_is_a_query_error(
    registry: CollectorRegistry,
) -> None:
    slo = make_slo("no threshold", kind=SLIKind.LATENCY)  # the loader refuses it; no crash here
    src = EmbeddedSource(registry)
    with pytest.raises(QueryError, match=r"SLO 'no threshold': .*without threshold") as info:
        await src.window_counts(slo, 60, T0)
    assert isinstance(info.value.__cause__, ValueError)


async def test_a_closed_source_is_a_query_error(registry: CollectorRegistry) -> None:
    slo = make_slo("calls")
    src = EmbeddedSource(registry, [slo])
    await src.aclose()
    with pytest.raises(QueryError, match="SLO 'calls': embedded store failed"):
        await src.window_counts(slo, 60, T0)


async def test_evaluator_marks_one_failing_slo_error_and_evaluates_the_rest(
    registry: CollectorRegistry, recorder: Recorder
) -> None:
    good = make_slo("availability", period=HOUR, floor=20)
    bad = make_slo("raw", kind=SLIKind.RATIO, period=HOUR)
    src = EmbeddedSource(registry, [good, bad], interval=5)
    evaluator = Evaluator([good, bad], src)
    src.sample(T0)
    calls(recorder, "a", 1000, 0)
    src.sample(T0 + 5 * MINUTE)
    results = await evaluator.evaluate(T0 + 5 * MINUTE)
    states = {r.slo.name: r.evaluation.state for r in results}
    assert states == {"availability": State.OK, "raw": State.ERROR}
    raw = next(r for r in results if r.slo.name == "raw")
    assert raw.evaluation.error is not None and "needs Prometheus" in raw.evaluation.error
    ok = next(r for r in results if r.slo.name == "availability")
    assert ok.evaluation.sli == 1.0
    assert ok.evaluation.budget_remaining == 1.0
    assert [x.slo.name for x in evaluator.latest] == ["availability", "raw"]


FULL = (
    "CREATE TEMP TRIGGER full BEFORE INSERT ON samples "
    "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
)


async def test_samples_that_cannot_be_stored_are_a_query_error_until_stored_again(
    registry: CollectorRegistry, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    slo = make_slo("calls")
    src = EmbeddedSource(registry, [slo], interval=10)
    calls(recorder, "a", 10, 0)
    assert src.sample(T0) > 0
    src._db.execute(FULL)  # every insert fails as on a full disk (the real one: tests/e2e)
    caplog.set_level(logging.INFO)
    calls(recorder, "a", 10, 0)
    for i in range(1, 4):
        assert src.sample(T0 + 10 * i) == 0  # reported, never raised out of the tick
    with pytest.raises(QueryError) as info:
        await src.window_counts(slo, 60, T0 + 30)
    assert str(info.value) == (
        "SLO 'calls': embedded samples are not stored: cannot store samples: "
        "database or disk is full (failing since 2027-01-15T08:00:10Z)"
    )  # stale windows are an error, not no_data or an old "ok"
    result = (await Evaluator([slo], src).evaluate(T0 + 30))[0]
    assert result.evaluation.state is State.ERROR
    assert src.health.degraded() == (
        "embedded SLI samples: sample failing since 2027-01-15T08:00:10Z (3 failures): "
        "cannot store samples: database or disk is full"
    )
    src._db.execute("DROP TRIGGER full")
    calls(recorder, "a", 0, 5)
    assert src.sample(T0 + 40) > 0
    assert src.health.degraded() is None
    # nothing counted while the store failed is lost: the next sample holds it
    assert await src.window_counts(slo, 10, T0 + 40) == {(): Counts(bad=5, total=15)}
    messages = [r.getMessage() for r in caplog.records if r.name.endswith("storehealth")]
    assert messages == [
        "embedded SLI samples: sample failing: cannot store samples: database or disk is full",
        "embedded SLI samples: sample works again after 3 failures since 2027-01-15T08:00:10Z",
    ]


async def test_a_failing_compaction_is_reported_not_raised(
    registry: CollectorRegistry, recorder: Recorder
) -> None:
    slo = make_slo("calls")
    src = EmbeddedSource(registry, [slo], interval=10)
    calls(recorder, "a", 1, 0)
    stored = src.sample(T0)
    src._db.execute(
        "CREATE TEMP TRIGGER full BEFORE DELETE ON samples "
        "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
    )
    assert src.compact(T0 + 60 * DAY) == 0  # past every retention: it deletes
    reason = src.health.degraded()
    assert reason is not None and "compact failing" in reason and "disk I/O error" in reason
    assert src.sample_count() == stored  # rolled back whole
