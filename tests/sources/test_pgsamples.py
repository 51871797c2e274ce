"""Replicas sharing the embedded samples on one real PostgreSQL: each samples its own registry
under its own process name, every replica answers the fleet's counts; the daemon's assembly
picks the shared store when ``storage.url`` is set."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from prometheus_client import CollectorRegistry

from sloguard import AgentMetrics, Recorder
from sloguard.assembly import slo_engine
from sloguard.durations import MINUTE
from sloguard.evaluation.evaluator import Evaluator
from sloguard.sdk.metrics import Buckets
from sloguard.settings.model import Settings
from sloguard.slo.budget import Counts
from sloguard.slo.spec import Budgeting, BudgetingMethod
from sloguard.sources.embedded import EmbeddedSource
from sloguard.sources.pgsamples import PgSampleStore, open_pg_sample_store
from sloguard.tracestore.storehealth import StorageFailures
from tests.support.slos import make_slo

pytestmark = pytest.mark.e2e

T0 = 1_800_000_000.0
BILLING = (("agent_name", "billing"),)


@pytest.fixture(scope="module")
def pg_admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.support.pgserver import start_postgres

    with start_postgres(tmp_path_factory.mktemp("pg")) as url:
        yield url


@pytest.fixture
def pg_url(pg_admin: str, request: pytest.FixtureRequest) -> str:
    name = "samples_" + str(request.node.name).lower().replace("-", "_")[:40]
    with psycopg.connect(pg_admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    return pg_admin.rsplit("/", 1)[0] + "/" + name


def calls(rec: Recorder, ok: int, err: int) -> None:
    for _ in range(ok):
        rec.agent_call("billing", "success", 0.1)
    for _ in range(err):
        rec.agent_call("billing", "error", 0.1)


async def test_every_replica_answers_the_sum_of_every_replicas_events(pg_url: str) -> None:
    slo = make_slo(group_by=("agent_name",))
    regs = [CollectorRegistry(), CollectorRegistry()]
    recs = [Recorder(AgentMetrics(registry=r)) for r in regs]
    sources = [
        EmbeddedSource(r, [slo], interval=10, store=open_pg_sample_store(pg_url, process=p))
        for r, p in zip(regs, ("replica-a:9464", "replica-b:9464"), strict=True)
    ]
    calls(recs[0], 1, 0)  # the series exist before the first sample
    calls(recs[1], 1, 0)
    sources[0].sample(T0)
    sources[1].sample(T0 + 4)  # the replicas' ticks are not aligned
    calls(recs[0], 90, 10)
    calls(recs[1], 45, 5)
    sources[0].sample(T0 + 10)
    sources[1].sample(T0 + 14)
    for source in sources:
        # (T0 + 4, T0 + 14]: a's increase from T0 to T0 + 10, b's from T0 + 4 to T0 + 14
        assert await source.window_counts(slo, 10, T0 + 14) == {BILLING: Counts(15, 150)}
        assert await source.window_counts(slo, 3, T0 + 14) == {BILLING: Counts(5, 50)}
    # one replica's compaction loses nobody's counts; its evaluation reads the fleet
    sources[1].compact(T0 + 14)
    assert await sources[0].window_counts(slo, 10, T0 + 14) == {BILLING: Counts(15, 150)}
    results = await Evaluator([slo], sources[1]).evaluate(T0 + 14)
    assert results[0].evaluation.sli == pytest.approx(1 - 15 / 152)  # from 0: both births
    for source in sources:
        await source.aclose()


async def test_a_slice_holds_every_replicas_events_once_final(pg_url: str) -> None:
    budgeting = Budgeting(BudgetingMethod.TIMESLICES, MINUTE, 0.95)
    slo = replace(make_slo(objective=0.9), budgeting=budgeting)
    regs = [CollectorRegistry(), CollectorRegistry()]
    recs = [Recorder(AgentMetrics(registry=r)) for r in regs]
    sources = [
        EmbeddedSource(r, [slo], interval=10, store=open_pg_sample_store(pg_url, process=p))
        for r, p in zip(regs, ("a:1", "b:1"), strict=True)
    ]
    calls(recs[0], 1, 0)
    calls(recs[1], 1, 0)
    for source in sources:
        source.sample(T0)
    calls(recs[0], 20, 0)  # a alone is a good slice, a + b a bad one (3 of 40 bad)
    calls(recs[1], 17, 3)
    sources[0].sample(T0 + 60)
    # b's sample of the slice (T0, T0 + 60] commits after a reads it: not final yet for a
    assert await sources[0].window_counts(slo, MINUTE, T0 + 60) == {(): Counts(0, 1)}
    sources[1].sample(T0 + 60)
    assert await sources[0].window_counts(slo, MINUTE, T0 + 60) == {(): Counts(1, 1)}
    for t in (T0 + 70, T0 + 80, T0 + 90):
        for source in sources:
            source.sample(t)
    for source in sources:
        assert await source.window_counts(slo, MINUTE, T0 + 90) == {(): Counts(1, 1)}
    for source in sources:
        await source.aclose()


def test_the_assembly_samples_into_the_database_as_host_and_port(
    pg_url: str, tmp_path: Path
) -> None:
    slos = tmp_path / "slos.yaml"
    slos.write_text(
        "apiVersion: sloguard/v1\nslos:\n"
        "  - name: availability\n    objective: 99\n    period: 1d\n"
        "    sli: {kind: success_rate}\n",
        encoding="utf-8",
    )
    settings = Settings(
        data_dir=tmp_path / "data",
        slo_files=(slos,),
        port=19464,
        storage={"url": pg_url},  # type: ignore[arg-type]  # validated into StorageSettings
    )
    registry = CollectorRegistry()
    engine = slo_engine(settings, registry, Buckets(), StorageFailures(registry))
    embedded = engine.embedded
    assert embedded is not None and isinstance(embedded.store, PgSampleStore)
    assert embedded.store.process == f"{socket.gethostname()}:19464"
    Recorder(AgentMetrics(registry=registry)).agent_call("billing", "success", 0.1)
    assert embedded.sample(T0) > 0
    assert embedded.store.count() > 0
    assert not (tmp_path / "data" / "samples.sqlite").exists()
    embedded.store.close()
