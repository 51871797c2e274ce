"""``range_counts``: a whole history in one read answers what ``window_counts`` answers at each
time, for the embedded source (real registry, real SQLite file, a restart with a counter reset,
thinned samples) and for Prometheus (a real server on backfilled history: ``query_range``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from itertools import accumulate
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from sloguard import AgentMetrics, Recorder
from sloguard import conventions as c
from sloguard.durations import HOUR, MINUTE
from sloguard.evaluation.evaluator import Evaluator
from sloguard.slo.budget import Counts
from sloguard.slo.spec import SLIKind
from sloguard.sources.base import QueryError, RangeSource, Steps
from sloguard.sources.embedded import EmbeddedSource
from sloguard.sources.prometheus import PrometheusSource
from sloguard.sources.promrange import matrix_as_vectors
from sloguard.web.historyapi import history_router
from sloguard.web.server import create_app
from tests.support.promserver import (
    Family,
    Series,
    backfill_openmetrics,
    openmetrics_text,
    start_prometheus,
)
from tests.support.slos import make_slo

T0 = 1_800_000_000.0
BILLING = (("agent_name", "billing"),)
SEARCH = (("agent_name", "search"),)


def _calls(rec: Recorder, agent: str, ok: int, err: int) -> None:
    for _ in range(ok):
        rec.agent_call(agent, "success", 0.2)
    for _ in range(err):
        rec.agent_call(agent, "error", 0.2)


async def _embedded_history(db: Path) -> EmbeddedSource:
    """Three hours of samples every 30 s, a restart (counters back to 0) half way, then
    compacted so samples older than 30 minutes are thinned to one a minute."""
    rnd = random.Random(7)
    slo = make_slo(group_by=("agent_name",))
    first = CollectorRegistry()
    rec = Recorder(AgentMetrics(registry=first))
    src = EmbeddedSource(first, [slo], path=db, interval=30, fine_for=30 * MINUTE)
    for i in range(360):
        if i == 180:  # a new process: new counters, same file
            await src.aclose()
            second = CollectorRegistry()
            rec = Recorder(AgentMetrics(registry=second))
            src = EmbeddedSource(second, [slo], path=db, interval=30, fine_for=30 * MINUTE)
        _calls(rec, "billing", rnd.randint(5, 20), rnd.randint(0, 4))
        if i >= 40:  # search appears later: a series born after the first times asked
            _calls(rec, "search", rnd.randint(1, 9), 0)
        src.sample(T0 + 30 * i)
    assert src.compact(T0 + 30 * 359) > 0
    return src


async def test_embedded_range_counts_equal_window_counts_at_every_time(tmp_path: Path) -> None:
    src = await _embedded_history(tmp_path / "samples.sqlite")
    assert isinstance(src, RangeSource)
    slo = make_slo(group_by=("agent_name",))
    windows = [5 * MINUTE, 17 * MINUTE, HOUR, 4 * HOUR]
    steps = Steps(end=T0 + 30 * 359 + 7, step=97.0, count=111)  # between samples, odd step
    got = await src.range_counts(slo, windows, steps)
    assert sorted(got) == windows
    seen_search_born = False
    for w in windows:
        assert len(got[w]) == steps.count
        for at, counts in zip(steps.times(), got[w], strict=True):
            assert counts == await src.window_counts(slo, w, at)
            seen_search_born |= BILLING in counts and SEARCH not in counts
    assert seen_search_born
    # before any sample: no data, as window_counts says
    early = await src.range_counts(slo, [HOUR], Steps(end=T0 - 60, step=30.0, count=3))
    assert early == {HOUR: [{}, {}, {}]}


async def test_embedded_range_counts_refuse_a_ratio_sli(tmp_path: Path) -> None:
    src = await _embedded_history(tmp_path / "samples.sqlite")
    ratio = make_slo("raw", kind=SLIKind.RATIO)
    with pytest.raises(QueryError, match="'raw': kind 'ratio' needs Prometheus"):
        await src.range_counts(ratio, [HOUR], Steps(end=T0, step=60.0, count=2))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"data": {"resultType": "vector", "result": []}},
            "expected a matrix result, got 'vector'",
        ),
        ({"data": {"resultType": "matrix", "result": {}}}, "matrix result is not a list"),
        (
            {"data": {"resultType": "matrix", "result": [{"metric": {}}]}},
            "malformed matrix element",
        ),
        (
            {"data": {"resultType": "matrix", "result": [{"metric": {}, "values": [["x", "1"]]}]}},
            "malformed matrix value",
        ),
        (
            {"data": {"resultType": "matrix", "result": [{"metric": {}, "values": [[5000, "1"]]}]}},
            "outside the asked range",
        ),
    ],
)
def test_a_malformed_range_answer_is_named(body: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        matrix_as_vectors(body, Steps(end=120.0, step=60.0, count=3))


# --- a real Prometheus -------------------------------------------------------------------------
STEP = 15
STEPS = 2 * 3600 // STEP


def _billing_errors(i: int) -> int:
    return 6 if STEPS - 120 < i <= STEPS - 60 else int(i % 10 == 0)


@pytest.fixture(scope="module")
def prometheus(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, int, dict[str, list[float]]]]:
    """Two hours of billing calls at 15 s (0 at the first sample), ending on a past hour."""
    at = (int(time.time()) // 3600 - 1) * 3600
    values = {
        "error": list(accumulate([0.0] + [float(_billing_errors(i)) for i in range(1, STEPS + 1)])),
        "success": list(
            accumulate([0.0] + [float(30 - _billing_errors(i)) for i in range(1, STEPS + 1)])
        ),
    }
    times = [at - (STEPS - i) * STEP for i in range(STEPS + 1)]
    series = [
        Series(
            c.AGENT_CALLS, {"agent_name": "billing", "status": s}, list(zip(times, v, strict=True))
        )
        for s, v in values.items()
    ]
    root = tmp_path_factory.mktemp("prometheus-range")
    backfill_openmetrics(
        openmetrics_text([Family("agent_calls", "counter", series)]), root / "data"
    )
    with start_prometheus(root, storage=root / "data") as url:
        yield url, at, values


@pytest.mark.prometheus
async def test_prometheus_range_counts_are_exact_and_equal_instant_queries(
    prometheus: tuple[str, int, dict[str, list[float]]],
) -> None:
    url, at, values = prometheus
    slo = make_slo(group_by=("agent_name",))
    steps = Steps(end=float(at), step=5 * MINUTE, count=13)  # the last hour, on samples
    windows = [5 * MINUTE, 30 * MINUTE]
    async with PrometheusSource(url) as src:
        got = await src.range_counts(slo, windows, steps)
        assert src.query_count == len(windows)  # one query_range per window
        for w in windows:
            for at_time, counts in zip(steps.times(), got[w], strict=True):
                end = STEPS - int(at - at_time) // STEP
                start = end - int(w) // STEP
                bad = values["error"][end] - values["error"][start]
                total = bad + values["success"][end] - values["success"][start]
                assert counts == {BILLING: Counts(bad=bad, total=total)}
                assert counts == await src.window_counts(slo, w, at_time)
        # before the history: nothing, not zeros
        empty = await src.range_counts(
            slo, [5 * MINUTE], Steps(end=at - 3 * HOUR, step=60.0, count=2)
        )
        assert empty == {5 * MINUTE: [{}, {}]}


@pytest.mark.prometheus
async def test_the_history_api_reads_prometheus_with_query_range(
    prometheus: tuple[str, int, dict[str, list[float]]],
) -> None:
    """The chart's data over a real Prometheus: each point is what an evaluation at that time
    (instant queries) decides, and the request costs one ``query_range`` per window."""
    url, at, _ = prometheus
    slo = make_slo("calls", period=HOUR, objective=0.95, group_by=("agent_name",), floor=60.0)
    async with PrometheusSource(url) as src:
        router = history_router(lambda: [slo], src, clock=lambda: float(at))
        app = create_app(CollectorRegistry(), routers=[router])
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sloguard") as client:
            r = await client.get(
                "/api/v1/slos/calls/history",
                params={"agent_name": "billing", "range": "1h", "step": "5m"},
            )
        assert r.status_code == 200, r.text
        assert src.query_count == len(slo.windows())
        [got] = r.json()["instances"]
        evaluator = Evaluator([slo], src)
        budgets = []
        for t, budget in got["points"]:
            [res] = await evaluator.evaluate(t)
            assert budget == pytest.approx(res.evaluation.budget_remaining, abs=1e-9)
            budgets.append(budget)
        assert min(budgets) < 0.5 < max(budgets)  # the burst spent the hour's budget
