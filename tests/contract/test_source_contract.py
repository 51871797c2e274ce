"""The contract of an :class:`~sloguard.sources.base.SLISource`, run against every source.

What a source must do (the evaluator relies on each point):

1. **Resolution.** ``resolution`` is a positive, finite number of seconds.
2. **Counts per instance.** For every SLI kind it supports, ``window_counts(slo, window, at)``
   returns a mapping from instance key to :class:`~sloguard.slo.budget.Counts` of the events in
   ``(at - window, at]``: one key per instance, each key the SLO's ``group_by`` labels as
   ``(label, value)`` pairs sorted by label (``()`` when ungrouped; a label a series lacks is
   ``""``); ``selector`` narrows which series count; counts are finite and
   ``0 <= bad <= total``.
3. **No data is an empty answer**, not an error and not zeros: a selector matching no series,
   or a window before any sample, answers ``{}``.
4. **Reads are pure.** The same question asked again, or concurrently (the evaluator gathers
   every window of an SLO at once), gets the same answer.
5. **Every failure is a QueryError**, never a foreign exception (httpx, sqlite3, ValueError):
   an unsupported SLI kind, an SLO the source cannot turn into a query, a backend that is down;
   the message names the SLO.
6. **Closing.** ``aclose()`` may be called twice; a closed source refuses with a QueryError.

Every source answers the same world: calls, tool calls and routing outcomes recorded through a
real :class:`~sloguard.Recorder` during the minute before ``AT``. The Prometheus source reads it
from a real Prometheus serving that registry's counters backfilled with promtool (0 at
``AT - 60``, final at ``AT``: ``increase`` extrapolates nothing, so counts are exact; see
``tests/support/promserver.py``); the embedded source samples the registry itself at
``AT - 60`` and ``AT`` (into SQLite, and into a real PostgreSQL as ``embedded-postgres``); the
fake is told the expected answers (``FakeSource(answer=...)``).
A "broken" source of each kind has a backend that fails: a Prometheus port nobody listens on, an
embedded store whose samples table was dropped, a fake with ``error=``.
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from itertools import count
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from sloguard import AgentMetrics, Recorder
from sloguard.durations import DAY, HOUR, MINUTE
from sloguard.slo.budget import Counts
from sloguard.slo.spec import SLI, SLO, SLIKind
from sloguard.sources.base import QueryError, SLISource, WindowCounts
from sloguard.sources.embedded import EmbeddedSource
from sloguard.sources.fake import FakeSource
from sloguard.sources.prometheus import PrometheusSource
from sloguard.sources.samplestore import SampleStore
from tests.support.promserver import (
    Family,
    Series,
    backfill_openmetrics,
    free_port,
    openmetrics_text,
    start_prometheus,
)
from tests.support.slos import make_slo
from tests.support.vmserver import import_families, start_victoria

#: The end of the world's minute: on a past hour, so even a scraping Prometheus keeps the blocks.
AT = float((int(time.time()) // 3600 - 1) * 3600)
START = AT - MINUTE
WINDOWS = (5 * MINUTE, HOUR, DAY)  # each covers the whole world

BILLING = (("agent_name", "billing"),)
SEARCH = (("agent_name", "search"),)
SUPPORT = (("workflow", "support"),)


def record_world(rec: Recorder) -> None:
    """What happened during the minute before ``AT``."""
    for agent, status, duration, times in (
        ("billing", "success", 1.0, 88),
        ("billing", "success", 7.0, 2),  # slower than the latency SLO's 5 s
        ("billing", "error", 1.0, 10),
        ("search", "success", 0.2, 50),
    ):
        for _ in range(times):
            rec.agent_call(agent, status, duration)
    for agent, tool, status, times in (
        ("billing", "ledger", "success", 19),
        ("billing", "ledger", "error", 1),
        ("search", "index", "success", 5),
    ):
        for _ in range(times):
            rec.tool_call(agent, tool, status, 0.1)
    for correct, times in ((True, 45), (False, 5)):
        for _ in range(times):
            rec.routing_outcome("router", correct)
    for status, duration, cost, times in (
        ("success", 2.0, 0.01, 40),
        ("error", 3.0, 0.02, 5),
        ("success", 40.0, 0.01, 3),  # slower than the workflow latency SLO's 30 s
        ("success", 2.0, 0.1, 2),  # dearer than the workflow cost SLO's $0.05
    ):
        for _ in range(times):
            rec.workflow_run("support", status, duration, cost=cost, tokens=1200)


def ratio_slo(name: str, *, good: str, total: str | None = None) -> SLO:
    sli = SLI(SLIKind.RATIO, good=good, total=total)
    return replace(make_slo(name, group_by=("agent_name",)), sli=sli)


#: One SLO per kind, and what every source supporting the kind must answer for the world.
BY_KIND: dict[SLIKind, tuple[SLO, WindowCounts]] = {
    SLIKind.SUCCESS_RATE: (
        make_slo("calls", group_by=("agent_name",)),
        {BILLING: Counts(10, 100), SEARCH: Counts(0, 50)},
    ),
    SLIKind.LATENCY: (
        make_slo("latency", kind=SLIKind.LATENCY, threshold=5.0, group_by=("agent_name",)),
        {BILLING: Counts(2, 100), SEARCH: Counts(0, 50)},
    ),
    SLIKind.TOOL_SUCCESS_RATE: (
        make_slo("tools", kind=SLIKind.TOOL_SUCCESS_RATE, group_by=("tool_name", "agent_name")),
        {
            (("agent_name", "billing"), ("tool_name", "ledger")): Counts(1, 20),
            (("agent_name", "search"), ("tool_name", "index")): Counts(0, 5),
        },
    ),
    SLIKind.ROUTING_ACCURACY: (
        make_slo("routing", kind=SLIKind.ROUTING_ACCURACY, group_by=("agent_name",)),
        {(("agent_name", "router"),): Counts(5, 50)},
    ),
    SLIKind.WORKFLOW_SUCCESS_RATE: (
        make_slo("runs", kind=SLIKind.WORKFLOW_SUCCESS_RATE, group_by=("workflow",)),
        {SUPPORT: Counts(5, 50)},
    ),
    SLIKind.WORKFLOW_LATENCY: (
        make_slo("run time", kind=SLIKind.WORKFLOW_LATENCY, threshold=30.0, group_by=("workflow",)),
        {SUPPORT: Counts(3, 50)},
    ),
    SLIKind.WORKFLOW_COST: (
        make_slo("run cost", kind=SLIKind.WORKFLOW_COST, max_cost=0.05, group_by=("workflow",)),
        {SUPPORT: Counts(2, 50)},
    ),
    SLIKind.RATIO: (
        ratio_slo("ratio", good='agent_calls_total{status="success"}', total="agent_calls_total"),
        {BILLING: Counts(10, 100), SEARCH: Counts(0, 50)},
    ),
}
ALL_CALLS = make_slo("all calls")
BILLING_CALLS = make_slo("billing calls", selector={"agent_name": "billing"})
BY_MODEL = make_slo("calls by model", group_by=("model",))  # calls have no model label
NOBODY = make_slo("nobody's calls", selector={"agent_name": "nobody"})
SHAPES: dict[str, tuple[SLO, WindowCounts]] = {
    "ungrouped": (ALL_CALLS, {(): Counts(10, 150)}),
    "selector": (BILLING_CALLS, {(): Counts(10, 100)}),
    "missing group_by label": (BY_MODEL, {(("model", ""),): Counts(10, 150)}),
    "selector matching nothing": (NOBODY, {}),
}
#: SLOs no query can be built for (the loader refuses them; a source must not crash on them),
#: with the sources known to break the contract on them.
MALFORMED: dict[str, tuple[SLO, dict[str, str]]] = {
    "latency without threshold": (
        make_slo("no threshold", kind=SLIKind.LATENCY),
        {},
    ),
    "ratio without total": (
        ratio_slo("no total", good='agent_calls_total{status="success"}'),
        {},
    ),
}
EXPECTED = {slo.name: counts for slo, counts in (*BY_KIND.values(), *SHAPES.values())}
EVERY_SLO = [slo for slo, _ in (*BY_KIND.values(), *SHAPES.values())]


@dataclass(frozen=True)
class Subject:
    """A source under test with the world loaded, and a broken one of the same kind."""

    name: str
    kinds: frozenset[SLIKind]
    source: SLISource
    broken: SLISource


@pytest.fixture(scope="module")
def prometheus_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus serving the world (its URL)."""
    root = tmp_path_factory.mktemp("prometheus-world")
    backfill_openmetrics(openmetrics_text(world_families()), root / "data")
    with start_prometheus(root, storage=root / "data") as url:
        yield url


def world_families() -> list[Family]:
    """The world's counters: 0 at ``START`` and their final value at ``AT``."""
    registry = CollectorRegistry()
    record_world(Recorder(AgentMetrics(registry=registry)))
    families = []
    for family in registry.collect():
        series = [
            Series(s.name, s.labels, [(START, 0.0), (AT, s.value)])
            for s in family.samples
            if family.type in ("counter", "histogram")
            and s.name.endswith(("_total", "_bucket", "_count"))
        ]
        if series:
            families.append(Family(family.name, family.type, series))
    return families


@pytest.fixture(scope="module")
def victoria_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real VictoriaMetrics serving the world (its URL): the same samples as Prometheus."""
    root = tmp_path_factory.mktemp("victoria-world")
    with start_victoria(root) as url:
        import_families(url, world_families())
        yield url


def embedded_world(path: Path, store: SampleStore | None = None) -> EmbeddedSource:
    registry = CollectorRegistry()
    source = EmbeddedSource(registry, EVERY_SLO, path=path, interval=15, store=store)
    source.sample(START)
    record_world(Recorder(AgentMetrics(registry=registry)))
    source.sample(AT)
    return source


def fake_world(slo: SLO, window: float, at: float) -> WindowCounts:
    return EXPECTED.get(slo.name, {}) if at >= AT else {}


ALL_KINDS = frozenset(SLIKind)
SUBJECTS = [
    pytest.param("prometheus", marks=[pytest.mark.e2e, pytest.mark.prometheus]),
    pytest.param("victoriametrics", marks=[pytest.mark.e2e]),
    "embedded",
    pytest.param("embedded-postgres", marks=[pytest.mark.e2e]),  # samples in PostgreSQL
    "fake",
]
_databases = count()


@pytest.fixture(scope="module")
def pg_admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL server (its URL)."""
    from tests.support.pgserver import start_postgres

    with start_postgres(tmp_path_factory.mktemp("pg")) as url:
        yield url


def pg_samples(admin_url: str, *, broken: bool = False) -> SampleStore:
    """A sample store on a new database of that server; ``broken``: its samples table dropped."""
    import psycopg

    from sloguard.sources.pgsamples import open_pg_sample_store

    name = f"source_{next(_databases)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    store = open_pg_sample_store(url, process="contract:9464")
    if broken:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(b"DROP TABLE samples")
    return store


@pytest.fixture(params=SUBJECTS)
async def subject(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Subject]:
    name: str = request.param
    if name == "prometheus":
        url: str = request.getfixturevalue("prometheus_world")
        found = Subject(
            name,
            ALL_KINDS,
            PrometheusSource(url),
            PrometheusSource(f"http://127.0.0.1:{free_port()}", timeout=5),
        )
    elif name == "victoriametrics":  # the Prometheus source against a compatible store
        url = request.getfixturevalue("victoria_world")
        found = Subject(
            name,
            ALL_KINDS,
            PrometheusSource(url),
            PrometheusSource(f"http://127.0.0.1:{free_port()}", timeout=5),
        )
    elif name == "embedded":
        broken = embedded_world(tmp_path / "broken.sqlite")
        with sqlite3.connect(tmp_path / "broken.sqlite") as db:
            db.execute("DROP TABLE samples")
        kinds = ALL_KINDS - {SLIKind.RATIO}  # raw PromQL needs Prometheus
        found = Subject(name, kinds, embedded_world(tmp_path / "samples.sqlite"), broken)
    elif name == "embedded-postgres":
        admin: str = request.getfixturevalue("pg_admin")
        source = embedded_world(tmp_path / "unused.sqlite", pg_samples(admin))
        broken = embedded_world(tmp_path / "unused.sqlite", pg_samples(admin, broken=True))
        found = Subject(name, ALL_KINDS - {SLIKind.RATIO}, source, broken)
    else:
        found = Subject(
            name, ALL_KINDS, FakeSource(answer=fake_world), FakeSource(error="backend down")
        )
    yield found
    await found.source.aclose()
    await found.broken.aclose()


def known_bug(request: pytest.FixtureRequest, subject: Subject, bugs: dict[str, str]) -> None:
    """Expect this test to fail for a subject with a known bug (strict: it must still fail)."""
    if subject.name in bugs:
        request.applymarker(pytest.mark.xfail(reason=bugs[subject.name], strict=True))


def assert_counts(answer: WindowCounts, slo: SLO) -> None:
    """Point 2's shape: keys are the sorted group_by labels; counts finite, 0 <= bad <= total."""
    labels = tuple(sorted(slo.group_by))
    for key, counts in answer.items():
        assert tuple(label for label, _ in key) == labels, key
        assert isinstance(counts, Counts)
        assert math.isfinite(counts.bad) and math.isfinite(counts.total), counts
        assert 0 <= counts.bad <= counts.total, counts


# --- 1. resolution ---------------------------------------------------------------------------


def test_resolution_is_a_positive_number_of_seconds(subject: Subject) -> None:
    assert isinstance(subject.source.resolution, int | float)
    assert math.isfinite(subject.source.resolution) and subject.source.resolution > 0


# --- 2. counts per instance --------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(SLIKind), ids=[k.value for k in SLIKind])
async def test_each_kind_is_counted_per_instance_or_refused(
    subject: Subject, kind: SLIKind
) -> None:
    slo, expected = BY_KIND[kind]
    for window in WINDOWS:
        if kind not in subject.kinds:
            with pytest.raises(QueryError, match=repr(slo.name)):
                await subject.source.window_counts(slo, window, AT)
            continue
        answer = await subject.source.window_counts(slo, window, AT)
        assert_counts(answer, slo)
        assert answer == expected, f"window {window:g}s"


@pytest.mark.parametrize(("slo", "expected"), SHAPES.values(), ids=SHAPES.keys())
async def test_group_by_and_selector_shape_the_instances(
    subject: Subject, slo: SLO, expected: WindowCounts
) -> None:
    answer = await subject.source.window_counts(slo, HOUR, AT)
    assert_counts(answer, slo)
    assert answer == expected


# --- 3. no data ----------------------------------------------------------------------------------


async def test_a_window_before_any_sample_is_an_empty_answer(subject: Subject) -> None:
    slo, _ = BY_KIND[SLIKind.SUCCESS_RATE]
    assert await subject.source.window_counts(slo, 5 * MINUTE, START - HOUR) == {}


# --- 4. pure reads -------------------------------------------------------------------------------


async def test_answers_are_the_same_asked_again_or_concurrently(subject: Subject) -> None:
    slo, expected = BY_KIND[SLIKind.SUCCESS_RATE]
    first = [await subject.source.window_counts(slo, w, AT) for w in WINDOWS]
    together = await asyncio.gather(
        *(subject.source.window_counts(s, w, AT) for s in (slo, ALL_CALLS) for w in WINDOWS)
    )
    assert first == [expected] * len(WINDOWS)
    assert list(together) == [expected] * len(WINDOWS) + [EXPECTED[ALL_CALLS.name]] * len(WINDOWS)


# --- 5. failures -----------------------------------------------------------------------------


async def test_a_failing_backend_is_a_query_error_naming_the_slo(subject: Subject) -> None:
    for slo, _ in BY_KIND.values():
        with pytest.raises(QueryError, match=repr(slo.name)):
            await subject.broken.window_counts(slo, HOUR, AT)


@pytest.mark.parametrize(("slo", "bugs"), MALFORMED.values(), ids=MALFORMED.keys())
async def test_an_slo_without_a_query_is_answered_or_refused_with_a_query_error(
    request: pytest.FixtureRequest, subject: Subject, slo: SLO, bugs: dict[str, str]
) -> None:
    known_bug(request, subject, bugs)
    answer: WindowCounts | QueryError
    try:
        answer = await subject.source.window_counts(slo, HOUR, AT)
    except QueryError as exc:
        answer = exc
    if isinstance(answer, QueryError):
        assert repr(slo.name) in str(answer)
    else:
        assert_counts(answer, slo)


# --- 6. closing ------------------------------------------------------------------------------


async def test_aclose_is_idempotent(subject: Subject) -> None:
    await subject.source.aclose()
    await subject.source.aclose()
    await subject.broken.aclose()
    await subject.broken.aclose()


async def test_a_closed_source_refuses_with_a_query_error(subject: Subject) -> None:
    slo, _ = BY_KIND[SLIKind.SUCCESS_RATE]
    await subject.source.aclose()
    with pytest.raises(QueryError, match=repr(slo.name)):
        await subject.source.window_counts(slo, HOUR, AT)
