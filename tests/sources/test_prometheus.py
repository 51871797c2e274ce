"""PrometheusSource against a real Prometheus serving backfilled history, and local stub servers.

The history (8 hours at 15 s, every counter 0 at its first sample, evaluated exactly on the last
sample) makes Prometheus 2.x's ``increase`` exact: no extrapolation happens at either window
edge (see ``tests/support/promserver.py``), so counts are asserted with ``==``.

billing: 100 calls per step; 1 error every 20th step, then 10 errors per step for the last
10 minutes (40 steps). search: 50 calls per step, never an error (its error series does not
exist, as with prometheus_client before the first error). Latency: billing has 1 slow call
(> 5 s) per step, 30 in the last 10 minutes; search is always fast.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Histogram

from sloguard import conventions as c
from sloguard.durations import DAY, HOUR, MINUTE
from sloguard.slo.budget import Counts, Severity, State, burn_rate, evaluate
from sloguard.slo.promql import window_query
from sloguard.slo.spec import SLI, SLO, InstanceLabels, SLIKind
from sloguard.sources.base import QueryError, WindowCounts
from sloguard.sources.prometheus import PrometheusSource
from sloguard.sources.rawbatch import MAX_REUSE, reuse_period
from tests.support.hostile import HostileServer
from tests.support.promserver import (
    Answer,
    Family,
    Series,
    StubPrometheus,
    backfill_openmetrics,
    binary,
    free_port,
    openmetrics_text,
    start_prometheus,
    vector,
)
from tests.support.slos import make_slo

STEP = 15
STEPS = 8 * 3600 // STEP  # 1920 steps: samples 0..STEPS
BURST = 40  # the last 10 minutes
BOUNDS = (*c.AGENT_LATENCY_BUCKETS, float("inf"))
BILLING: InstanceLabels = (("agent_name", "billing"),)
SEARCH: InstanceLabels = (("agent_name", "search"),)


def client_le_values() -> dict[float, str]:
    """The ``le`` values prometheus_client writes for the agent latency buckets ("5.0", "+Inf")."""
    registry = CollectorRegistry()
    Histogram("h", "h", buckets=c.AGENT_LATENCY_BUCKETS, registry=registry)
    samples = [s for family in registry.collect() for s in family.samples if s.name == "h_bucket"]
    return {float(s.labels["le"]): s.labels["le"] for s in samples}


CLIENT_LE = client_le_values()


def billing_errors(step: int) -> int:
    return 10 if step > STEPS - BURST else int(step % 20 == 0)


def billing_latency(step: int) -> Mapping[float, int]:
    """Observations per bucket (upper bound → count in that bucket) in one step."""
    if step > STEPS - BURST:
        return {0.5: 20, 1.0: 20, 2.0: 20, 5.0: 10, 10.0: 20, 30.0: 10}
    return {0.1: 10, 0.25: 20, 0.5: 20, 1.0: 20, 2.0: 15, 5.0: 14, 10.0: 1}


def search_latency(step: int) -> Mapping[float, int]:
    return {0.25: 25, 0.5: 25}


def cumulative(per_step: Callable[[int], float]) -> list[float]:
    """Counter values at samples 0..STEPS (0 at the first sample)."""
    return list(accumulate([0.0] + [float(per_step(i)) for i in range(1, STEPS + 1)]))


@dataclass(frozen=True)
class History:
    """The generated counters, by series, as values at samples 0..STEPS ending at ``at``."""

    at: int
    calls: dict[tuple[str, str], list[float]] = field(default_factory=dict, repr=False)
    buckets: dict[tuple[str, float], list[float]] = field(default_factory=dict, repr=False)

    def increase(self, values: list[float], window: float) -> float:
        """What ``increase(series[window])`` must answer at ``at``."""
        return values[-1] - values[max(0, STEPS - int(window) // STEP)]

    def success_counts(self, agent: str, window: float) -> Counts:
        errors = self.calls.get((agent, "error"))
        bad = self.increase(errors, window) if errors is not None else 0.0
        good = self.increase(self.calls[(agent, "success")], window)
        return Counts(bad=bad, total=bad + good)

    def latency_counts(self, agent: str, threshold: float, window: float) -> Counts:
        total = self.increase(self.buckets[(agent, float("inf"))], window)
        fast = self.increase(self.buckets[(agent, threshold)], window)
        return Counts(bad=total - fast, total=total)

    def families(self) -> list[Family]:
        times = [self.at - (STEPS - i) * STEP for i in range(STEPS + 1)]
        calls = [
            Series(c.AGENT_CALLS, {"agent_name": a, "status": s}, list(zip(times, v, strict=True)))
            for (a, s), v in self.calls.items()
        ]
        latency = []
        for (agent, le), values in self.buckets.items():
            labels = {"agent_name": agent, "le": CLIENT_LE[le]}
            latency.append(
                Series(f"{c.AGENT_LATENCY}_bucket", labels, list(zip(times, values, strict=True)))
            )
            if le == float("inf"):
                count = Series(
                    f"{c.AGENT_LATENCY}_count", {"agent_name": agent}, latency[-1].samples
                )
                latency.append(count)
        return [
            Family("agent_calls", "counter", calls),
            Family(c.AGENT_LATENCY, "histogram", latency),
        ]


def build_history(at: int) -> History:
    h = History(at)
    h.calls[("billing", "success")] = cumulative(lambda i: 100 - billing_errors(i))
    h.calls[("billing", "error")] = cumulative(billing_errors)
    h.calls[("search", "success")] = cumulative(lambda i: 50)
    for agent, dist in (("billing", billing_latency), ("search", search_latency)):
        for bound in BOUNDS:
            h.buckets[(agent, bound)] = cumulative(at_most(dist, bound))
    return h


def at_most(dist: Callable[[int], Mapping[float, int]], bound: float) -> Callable[[int], float]:
    """Per-step observations of ``dist`` in buckets up to ``bound`` (a cumulative bucket)."""
    return lambda step: sum(n for le, n in dist(step).items() if le <= bound)


@pytest.fixture(scope="module")
def history() -> History:
    # Just before now (on an hour, minus one), so even a scraping server would keep the blocks.
    return build_history(at=(int(time.time()) // 3600 - 1) * 3600)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory, history: History) -> Iterator[str]:
    root = tmp_path_factory.mktemp("prometheus")
    backfill_openmetrics(openmetrics_text(history.families()), root / "data")
    with start_prometheus(root, storage=root / "data") as url:
        yield url


@pytest.fixture
async def source(prometheus: str) -> AsyncIterator[PrometheusSource]:
    async with PrometheusSource(prometheus) as src:
        yield src


def ratio_slo(name: str, *, good: str | None = None, bad: str | None = None, total: str) -> SLO:
    return SLO(
        name=name,
        objective=0.999,
        period=30 * DAY,
        sli=SLI(SLIKind.RATIO, good=good, bad=bad, total=total),
        alerting=make_slo().alerting,
        group_by=("agent_name",),
    )


async def all_windows(src: PrometheusSource, slo: SLO, at: float) -> dict[float, WindowCounts]:
    windows = sorted(slo.windows())
    got = await asyncio.gather(*(src.window_counts(slo, w, at) for w in windows))
    return dict(zip(windows, got, strict=True))


# --- real Prometheus: exact counts -------------------------------------------------------------


@pytest.mark.prometheus
async def test_success_rate_counts_per_agent_are_exact(
    source: PrometheusSource, history: History
) -> None:
    slo = make_slo("calls", group_by=("agent_name",))
    got = await all_windows(source, slo, history.at)
    assert sorted(got) == [
        5 * MINUTE,
        30 * MINUTE,
        HOUR,
        2 * HOUR,
        6 * HOUR,
        DAY,
        3 * DAY,
        30 * DAY,
    ]
    for window, counts in got.items():
        assert counts == {
            BILLING: history.success_counts("billing", window),
            SEARCH: history.success_counts("search", window),
        }
    # The numbers by hand: 5m is all burst, 1h adds 10 steady errors, 1d+ covers the history.
    assert got[5 * MINUTE][BILLING] == Counts(200, 2000)
    assert got[HOUR][BILLING] == Counts(410, 24000)
    assert got[DAY][BILLING] == got[30 * DAY][BILLING] == Counts(494, 192000)
    assert got[HOUR][SEARCH] == Counts(0, 12000)


@pytest.mark.prometheus
async def test_burn_rates_and_firing_tiers(source: PrometheusSource, history: History) -> None:
    slo = make_slo("calls", group_by=("agent_name",))
    got = await all_windows(source, slo, history.at)
    policy = slo.alerting.policy

    billing = evaluate(
        objective=slo.objective,
        period=slo.period,
        policy=policy,
        windows={w: counts.get(BILLING) for w, counts in got.items()},
    )
    assert billing.state is State.BURNING and billing.severity is Severity.CRITICAL
    assert billing.burn_rates[5 * MINUTE] == burn_rate(200 / 2000, 0.999)  # 100
    assert billing.burn_rates[HOUR] == burn_rate(410 / 24000, 0.999)  # 17.08 > 14.4
    assert billing.burn_rates[30 * MINUTE] == burn_rate(404 / 12000, 0.999)  # 33.7
    assert billing.burn_rates[6 * HOUR] == burn_rate(470 / 144000, 0.999)  # 3.26 < 6
    assert billing.burn_rates[2 * HOUR] == burn_rate(422 / 48000, 0.999)  # 8.79
    assert billing.burn_rates[DAY] == burn_rate(494 / 192000, 0.999)  # 2.57 < 3, > 1
    assert [(t.tier.name, t.tier.severity) for t in billing.firing] == [
        ("1h/5m", Severity.CRITICAL),
        ("3d/6h", Severity.WARNING),
    ]
    assert billing.budget_remaining == pytest.approx(1 - 494 / 192000 / 0.001)

    search = evaluate(
        objective=slo.objective,
        period=slo.period,
        policy=policy,
        windows={w: counts.get(SEARCH) for w, counts in got.items()},
    )
    assert search.state is State.OK and search.firing == () and search.budget_remaining == 1.0


@pytest.mark.prometheus
async def test_ungrouped_and_selected_slos(source: PrometheusSource, history: History) -> None:
    everyone = make_slo("all calls")
    only_billing = make_slo("billing calls", selector={"agent_name": "billing"})
    for window in (5 * MINUTE, HOUR, 3 * DAY):
        b = history.success_counts("billing", window)
        s = history.success_counts("search", window)
        assert await source.window_counts(everyone, window, history.at) == {
            (): Counts(b.bad + s.bad, b.total + s.total)
        }
        assert await source.window_counts(only_billing, window, history.at) == {(): b}


@pytest.mark.prometheus
async def test_latency_slo_counts_calls_slower_than_the_threshold_bucket(
    source: PrometheusSource, history: History
) -> None:
    slo = make_slo(
        "latency", kind=SLIKind.LATENCY, threshold=5.0, objective=0.99, group_by=("agent_name",)
    )
    assert 'le="5.0"' in window_query(slo, HOUR)
    got = await all_windows(source, slo, history.at)
    for window, counts in got.items():
        assert counts == {
            BILLING: history.latency_counts("billing", 5.0, window),
            SEARCH: history.latency_counts("search", 5.0, window),
        }
    assert got[5 * MINUTE][BILLING] == Counts(600, 2000)
    assert got[HOUR][BILLING] == Counts(40 * 30 + 200, 24000)
    assert got[HOUR][SEARCH] == Counts(0, 12000)


@pytest.mark.prometheus
async def test_ratio_slos_with_raw_promql(source: PrometheusSource, history: History) -> None:
    calls = make_slo("calls", group_by=("agent_name",))
    by_good = ratio_slo(
        "ratio good", good='agent_calls_total{status="success"}', total="agent_calls_total"
    )
    by_bad = ratio_slo(
        "ratio bad",
        bad='sum by (agent_name) (increase(agent_calls_total{status="error"}[$window]))',
        total="agent_calls_total",
    )
    for window in (5 * MINUTE, 6 * HOUR, 30 * DAY):
        expected = await source.window_counts(calls, window, history.at)
        assert await source.window_counts(by_good, window, history.at) == expected
        assert await source.window_counts(by_bad, window, history.at) == expected


@pytest.mark.prometheus
async def test_an_instance_with_bad_events_but_no_total_is_ignored(
    source: PrometheusSource, history: History
) -> None:
    slo = ratio_slo(
        "mismatched",
        bad='agent_calls_total{status="error"}',  # only billing has errors
        total='agent_calls_total{agent_name="search"}',
    )
    got = await source.window_counts(slo, HOUR, history.at)
    assert got == {SEARCH: Counts(0, history.success_counts("search", HOUR).total)}


@pytest.mark.prometheus
async def test_one_query_per_slo_whatever_the_instances_and_windows(
    source: PrometheusSource, history: History, prometheus: str
) -> None:
    """The windows of an SLO asked together are one query (rawbatch); each window's counts are
    those it has asked alone (of a source that kept nothing)."""
    grouped = make_slo("calls", group_by=("agent_name",))
    ungrouped = make_slo("all calls")
    assert source.query_count == 0
    got = await all_windows(source, grouped, history.at)
    assert len(got) == len(grouped.windows()) == 8
    assert all(len(counts) == 2 for counts in got.values())
    assert source.query_count == 1
    await all_windows(source, ungrouped, history.at)
    assert source.query_count == 2
    for window, counts in got.items():
        async with PrometheusSource(prometheus) as alone:
            assert await alone.window_counts(grouped, window, history.at) == counts, window
            assert alone.query_count == 1


@pytest.mark.prometheus
async def test_long_raw_windows_are_answered_again_for_a_while(
    source: PrometheusSource, history: History, prometheus: str
) -> None:
    """A second cycle a second later reads the fastest tier's windows (1h and 5m) again, and
    with them, in the same one query, only the windows whose reuse period turned; the others
    are the first answers (tests/sources/test_rawbatch.py has the rules)."""
    slo = make_slo("calls", group_by=("agent_name",))
    first = await all_windows(source, slo, history.at)
    again = await all_windows(source, slo, history.at + 1)
    assert source.query_count == 2
    async with PrometheusSource(prometheus) as fresh:
        now = await all_windows(fresh, slo, history.at + 1)
    for w in first:
        assert again[w] == now[w] or again[w] is first[w], w
        if reuse_period(slo, w) == 0:
            assert again[w] is not first[w] and again[w] == now[w], w
    # 30m 2h 6h 1d 3d 30d are kept, but for a period that turned in that second (rare)
    assert sum(again[w] is first[w] for w in first) >= 4
    await all_windows(source, slo, history.at + MAX_REUSE + 1)  # past every period: one read
    assert source.query_count == 3


@pytest.mark.prometheus
async def test_invalid_promql_is_a_query_error_with_prometheus_words(
    source: PrometheusSource, history: History
) -> None:
    slo = ratio_slo("broken", bad="agent_calls_total{", total="agent_calls_total")
    with pytest.raises(QueryError) as info:
        await source.window_counts(slo, HOUR, history.at)
    message = str(info.value)
    assert "SLO 'broken', window 1h" in message
    assert "HTTP 400: bad_data" in message and "parse error" in message
    assert source.url in message


@pytest.mark.prometheus
async def test_check_passes_against_a_running_prometheus(source: PrometheusSource) -> None:
    await source.check()
    assert source.query_count == 0


@pytest.mark.prometheus
async def test_an_empty_prometheus_answers_no_instances(tmp_path: Path) -> None:
    with start_prometheus(tmp_path) as url:
        async with PrometheusSource(url) as src:
            assert await src.window_counts(make_slo(), HOUR, time.time()) == {}


# --- local stub servers: failures, headers, TLS ------------------------------------------------


def part(name: str, agent: str | None = None) -> dict[str, str]:
    return {"sloguard_part": name, **({"agent_name": agent} if agent else {})}


GROUPED = make_slo("calls", group_by=("agent_name",))
AT = 1_700_000_000.0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            vector((part("total", "a"), "10"), (part("bad", "a"), "2"), (part("total", "b"), "5")),
            {(("agent_name", "a"),): Counts(2, 10), (("agent_name", "b"),): Counts(0, 5)},
            id="missing bad is 0 bad",
        ),
        pytest.param(
            vector((part("bad", "a"), "2"), (part("total", "b"), "5")),
            {(("agent_name", "b"),): Counts(0, 5)},
            id="bad without total is ignored",
        ),
        pytest.param(
            vector((part("total", "a"), "10"), (part("bad", "a"), "-1e-12")),
            {(("agent_name", "a"),): Counts(0, 10)},
            id="float noise below zero is 0",
        ),
        pytest.param(
            vector((part("total", "a"), "0"), (part("bad", "a"), "0")),
            {(("agent_name", "a"),): Counts(0, 0)},
            id="no events",
        ),
        pytest.param(vector(), {}, id="empty vector"),
        pytest.param(
            vector(
                ({**part("failed", "a"), "status": "error"}, "2"),
                ({**part("passed", "a"), "status": "success"}, "8"),
                ({**part("passed", "a"), "status": "timeout"}, "1"),
                ({**part("failed", "b"), "status": "error"}, "3"),
                ({**part("passed", "c"), "status": "success"}, "5"),
            ),
            {
                (("agent_name", "a"),): Counts(2, 11),
                (("agent_name", "b"),): Counts(3, 3),
                (("agent_name", "c"),): Counts(0, 5),
            },
            id="outcomes: failed is bad, failed and passed are the total",
        ),
    ],
)
async def test_answers_are_read_into_counts(body: bytes, expected: WindowCounts) -> None:
    with StubPrometheus(Answer(body=body)) as stub:
        async with PrometheusSource(stub.url) as src:
            assert await src.window_counts(GROUPED, HOUR, AT) == expected


@pytest.mark.parametrize(
    ("answer", "cause"),
    [
        pytest.param(
            Answer(503, b"Service Unavailable", "text/plain"),
            "HTTP 503: Service Unavailable",
            id="503 text",
        ),
        pytest.param(
            Answer(
                422,
                b'{"status":"error","errorType":"execution","error":"query timed out"}',
            ),
            "HTTP 422: execution: query timed out",
            id="error json",
        ),
        pytest.param(
            Answer(200, b'{"status":"error","errorType":"internal","error":"boom"}'),
            "HTTP 200: internal: boom",
            id="error json with 200",
        ),
        pytest.param(Answer(302, b""), "HTTP 302: (empty body)", id="redirect"),
        pytest.param(Answer(200, b"<html>proxy</html>"), "not a JSON object", id="not json"),
        pytest.param(Answer(200, b'{"status": "success"}'), "without a data object", id="no data"),
        pytest.param(
            Answer(200, vector(result_type="matrix")),
            "expected a vector result, got 'matrix'",
            id="matrix",
        ),
        pytest.param(
            Answer(200, vector((part("total", "a"), "NaN"))),
            'total of instance {agent_name="a"} is nan',
            id="NaN",
        ),
        pytest.param(Answer(200, vector((part("total", "a"), "+Inf"))), "is inf", id="Inf"),
        pytest.param(
            Answer(200, vector((part("total", "a"), "10"), (part("bad", "a"), "-3"))),
            'bad of instance {agent_name="a"} is negative (-3)',
            id="negative",
        ),
        pytest.param(
            Answer(200, vector(({"agent_name": "a"}, "1"))),
            "has no sloguard_part label",
            id="no part label",
        ),
        pytest.param(
            Answer(200, vector((part("failed", "a"), "1"), (part("failed", "a"), "2"))),
            'two failed series for instance {agent_name="a"}',
            id="two failed series",
        ),
        pytest.param(
            Answer(200, vector((part("passed", "a"), "1"), (part("total", "a"), "2"))),
            "failed/passed series beside bad/total series",
            id="outcome parts mixed with bad and total",
        ),
        pytest.param(
            Answer(200, vector((part("passed", "a"), "NaN"))),
            'passed of instance {agent_name="a"} is nan',
            id="NaN passed",
        ),
        pytest.param(
            Answer(200, vector((part("total", "a"), "ten"))),
            "malformed vector element",
            id="value not a number",
        ),
        pytest.param(
            Answer(
                200,
                b'{"status":"success","data":{"resultType":"vector","result":[{"metric":'
                b'{"sloguard_part":"total","agent_name":{"a":1}},"value":[1,"1"]}]}}',
            ),
            "malformed vector element",
            id="label value not a string",
        ),
        pytest.param(
            Answer(200, b'{"status":"success","data":{"resultType":"vector","result":[7]}}'),
            "malformed vector element: 7",
            id="element not an object",
        ),
        pytest.param(
            Answer(
                200,
                b'{"status":"success","data":{"resultType":"vector","result":'
                b'[{"metric":{"sloguard_part":"total"},"value":{"1":0,"2":0}}]}}',
            ),
            "malformed vector element",
            id="value not a pair",
        ),
    ],
)
async def test_bad_answers_are_query_errors(answer: Answer, cause: str) -> None:
    with StubPrometheus(answer) as stub:
        async with PrometheusSource(stub.url) as src:
            with pytest.raises(QueryError) as info:
                await src.window_counts(GROUPED, HOUR, AT)
    assert str(info.value).startswith(f"SLO 'calls', window 1h: Prometheus at {stub.url}: ")
    assert cause in str(info.value)
    assert isinstance(info.value.__cause__, Exception)


async def test_connection_refused_is_a_query_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with PrometheusSource(url) as src:
        with pytest.raises(QueryError, match=r"SLO 'calls', window 5m: .* cannot connect"):
            await src.window_counts(GROUPED, 5 * MINUTE, AT)
        with pytest.raises(QueryError, match=r"readiness check: .* cannot connect"):
            await src.check()


async def test_a_slow_server_is_a_query_error_after_the_timeout() -> None:
    with StubPrometheus(Answer(body=vector(), delay=10.0)) as stub:
        async with PrometheusSource(stub.url, timeout=0.2) as src:
            started = time.monotonic()
            cause = r"no answer within 0\.2s \((ReadTimeout|TimeoutError)\)"
            with pytest.raises(QueryError, match=cause):
                await src.window_counts(GROUPED, HOUR, AT)
            assert time.monotonic() - started < 5


async def test_check_reports_an_unready_server() -> None:
    with StubPrometheus(Answer(503, b"not ready", "text/plain")) as stub:
        async with PrometheusSource(stub.url) as src:
            with pytest.raises(QueryError, match=r"readiness check: .*HTTP 503: not ready"):
                await src.check()
    assert stub.received[0].method == "GET"
    assert stub.received[0].path == "/api/v1/status/buildinfo"


async def test_a_closed_source_is_a_query_error_and_sends_nothing() -> None:
    with StubPrometheus(Answer(body=vector())) as stub:
        src = PrometheusSource(stub.url)
        await src.aclose()
        with pytest.raises(QueryError, match=r"SLO 'calls', window 1h: .* the source is closed"):
            await src.window_counts(GROUPED, HOUR, AT)
        with pytest.raises(QueryError, match=r"readiness check: .* the source is closed"):
            await src.check()
        await src.aclose()
    assert stub.received == []


async def test_the_query_is_a_form_post_with_time_and_timeout() -> None:
    with StubPrometheus(Answer(body=vector())) as stub:
        async with PrometheusSource(f"{stub.url}/prefix/", timeout=7) as src:
            await src.window_counts(GROUPED, HOUR, 1_700_000_123.5)
    (req,) = stub.received
    assert (req.method, req.path) == ("POST", "/prefix/api/v1/query")
    assert req.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert req.form == {
        "query": window_query(GROUPED, HOUR),
        "time": "1700000123.500",
        "timeout": "7",
    }


@pytest.mark.parametrize(
    ("kwargs", "url_auth", "authorization"),
    [
        ({"bearer_token": "s3cret-token"}, "", "Bearer s3cret-token"),
        (
            {"basic_auth": ("alice", "pa55word")},
            "",
            "Basic " + base64.b64encode(b"alice:pa55word").decode(),
        ),
        ({}, "bob:hunter2@", "Basic " + base64.b64encode(b"bob:hunter2").decode()),
    ],
    ids=["bearer", "basic", "url userinfo"],
)
async def test_credentials_are_sent_and_never_shown(
    kwargs: dict[str, Any], url_auth: str, authorization: str
) -> None:
    with StubPrometheus(Answer(503, b"down")) as stub:
        url = stub.url.replace("://", f"://{url_auth}")
        async with PrometheusSource(url, headers={"X-Scope-OrgID": "tenant-1"}, **kwargs) as src:
            with pytest.raises(QueryError) as info:
                await src.window_counts(GROUPED, HOUR, AT)
            shown = f"{src!r} {src.url} {info.value}"
    (req,) = stub.received
    assert req.headers["Authorization"] == authorization
    assert req.headers["X-Scope-OrgID"] == "tenant-1"
    for secret in ("s3cret", "pa55word", "hunter2", authorization.split()[1]):
        assert secret not in shown


async def test_concurrency_is_bounded() -> None:
    with StubPrometheus(Answer(body=vector(), delay=0.25)) as stub:
        async with PrometheusSource(stub.url, max_concurrency=3) as src:
            slos = [make_slo(f"calls-{i}", group_by=("agent_name",)) for i in range(9)]
            await asyncio.gather(*(src.window_counts(s, HOUR, AT) for s in slos))
            assert src.query_count == 9  # one per SLO (an SLO's windows are one query)
    assert len(stub.received) == 9
    assert stub.max_in_flight == 3


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="http"):
        PrometheusSource("prometheus:9090")
    with pytest.raises(ValueError, match="max_concurrency"):
        PrometheusSource("http://localhost:9090", max_concurrency=0)
    with pytest.raises(ValueError, match="either"):
        PrometheusSource("http://localhost:9090", bearer_token="t", basic_auth=("u", "p"))


async def test_an_unsupported_sli_is_a_query_error() -> None:
    broken = make_slo("latency", kind=SLIKind.LATENCY)  # no threshold
    async with PrometheusSource("http://127.0.0.1:9") as src:
        with pytest.raises(QueryError, match="SLO 'latency', window 1h: cannot build the query"):
            await src.window_counts(broken, HOUR, AT)
        assert src.query_count == 0


# --- TLS -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    cert: Path
    key: Path


def self_signed(directory: Path, name: str) -> Pki:
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    openssl = binary("openssl", "openssl")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return Pki(cert, key)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[Pki, Pki]:
    root = tmp_path_factory.mktemp("pki")
    return self_signed(root, "server"), self_signed(root, "client")


def server_tls(server: Pki, client_ca: Path | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(server.cert, server.key)
    if client_ca is not None:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(client_ca)
    return ctx


async def test_tls_verifies_against_a_ca_file(pki: tuple[Pki, Pki]) -> None:
    server, _ = pki
    with StubPrometheus(Answer(body=vector()), tls=server_tls(server)) as stub:
        async with PrometheusSource(stub.url, verify=str(server.cert)) as src:
            assert await src.window_counts(GROUPED, HOUR, AT) == {}
        async with PrometheusSource(stub.url, verify=False) as src:
            assert await src.window_counts(GROUPED, HOUR, AT) == {}
        async with PrometheusSource(stub.url) as src:  # system CAs do not know this server
            with pytest.raises(QueryError, match="CERTIFICATE_VERIFY_FAILED"):
                await src.window_counts(GROUPED, HOUR, AT)


async def test_tls_client_certificate(pki: tuple[Pki, Pki]) -> None:
    server, client = pki
    with StubPrometheus(
        Answer(body=vector()), tls=server_tls(server, client_ca=client.cert)
    ) as stub:
        verify = str(server.cert)
        pair = (str(client.cert), str(client.key))
        async with PrometheusSource(stub.url, verify=verify, cert=pair) as src:
            assert await src.window_counts(GROUPED, HOUR, AT) == {}
        async with PrometheusSource(stub.url, verify=verify) as src:
            # The server's refusal arrives as an SSL alert or as a closed connection.
            with pytest.raises(QueryError, match=r"SLO 'calls', window 1h: .*request failed"):
                await src.window_counts(GROUPED, HOUR, AT)


def test_unreadable_tls_files_are_query_errors(tmp_path: Path) -> None:
    with pytest.raises(QueryError, match="cannot load the TLS files"):
        PrometheusSource("https://127.0.0.1:9", verify=str(tmp_path / "missing.pem"))
    with pytest.raises(QueryError, match="cannot load the TLS files"):
        PrometheusSource("https://127.0.0.1:9", cert=str(tmp_path / "missing.pem"))


@pytest.mark.e2e
@pytest.mark.parametrize("declared", [None, 10 * 1024**3])
async def test_an_endless_answer_is_a_query_error_at_the_size_limit(declared: int | None) -> None:
    """A server streaming 1 MiB chunks forever (declaring a huge length, or none) is cut off at
    ``max_answer_bytes``, long before its 5 s lifetime, and the source still works after."""
    limit = 4 * 1024 * 1024
    with HostileServer("flood", declared=declared) as server:
        async with PrometheusSource(server.url, timeout=30, max_answer_bytes=limit) as src:
            started = time.monotonic()
            for _ in range(2):
                with pytest.raises(QueryError, match=rf"answer longer than {limit} bytes"):
                    await src.window_counts(GROUPED, HOUR, AT)
                with pytest.raises(QueryError, match=r"readiness check: .*answer longer than"):
                    await src.check()
            assert time.monotonic() - started < 3
    assert server.requests == 4


@pytest.mark.e2e
async def test_a_trickling_answer_is_a_query_error_at_the_deadline() -> None:
    """One byte every 0.1 s never trips a 0.5 s per-read timeout; the whole request's deadline
    ends it."""
    with HostileServer("trickle", every=0.1) as server:
        async with PrometheusSource(server.url, timeout=0.5) as src:
            started = time.monotonic()
            with pytest.raises(QueryError, match=r"SLO 'calls', window 1h: .*within 0\.5s"):
                await src.window_counts(GROUPED, HOUR, AT)
            assert time.monotonic() - started < 2
    assert 1 <= server.sent < 100


async def test_a_batch_answer_without_its_window_labels_is_a_query_error_for_each_window() -> None:
    with StubPrometheus(Answer(200, vector((part("total", "a"), "10")))) as stub:
        async with PrometheusSource(stub.url) as src:
            got = await asyncio.gather(
                src.window_counts(GROUPED, 5 * MINUTE, AT),
                src.window_counts(GROUPED, HOUR, AT),
                return_exceptions=True,
            )
    assert len(stub.received) == 1
    for error in got:
        assert isinstance(error, QueryError)
        assert str(error).startswith(f"SLO 'calls', windows 5m, 1h: Prometheus at {stub.url}: ")
        assert "series without a sloguard_window of the windows asked" in str(error)
