"""A store that cannot write makes the SLOs it feeds ``error``: counted, logged once, not ready."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry

from sloguard.evaluation.engine import SLOEngine
from sloguard.evaluation.selfmetrics import SelfMetrics
from sloguard.sdk.recorder import Recorder
from sloguard.slo.budget import State
from sloguard.sources.embedded import EmbeddedSource
from sloguard.tracestore.storehealth import StorageFailures, StoreHealth
from tests.support.slos import make_slo

T0 = 1_800_000_000.0
FULL = (
    "CREATE TEMP TRIGGER full BEFORE INSERT ON samples "
    "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
)


async def test_failing_samples_make_every_slo_error_and_the_engine_degraded(
    registry: CollectorRegistry, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    slos = (make_slo("availability"), make_slo("other"))
    health = StoreHealth("samples", on_failure=StorageFailures(registry))
    source = EmbeddedSource(registry, slos, interval=10, health=health)
    engine = SLOEngine(slos, source, self_metrics=SelfMetrics(registry), compact_every=2)
    recorder.agent_call("planner", "success", 0.1)
    first = await engine.tick(T0)
    assert State.ERROR not in {r.evaluation.state for r in first}  # young, but working
    source._db.execute(FULL)
    caplog.set_level(logging.INFO)
    for i in range(1, 6):
        results = await engine.tick(T0 + 10 * i)  # never raises, compaction included
        assert [r.evaluation.state for r in results] == [State.ERROR, State.ERROR]
    error = results[0].evaluation.error
    assert error is not None and "embedded samples are not stored" in error
    assert "database or disk is full" in error

    value = registry.get_sample_value
    for slo in ("availability", "other"):
        assert value("sloguard_slo_evaluation_errors_total", {"slo": slo}) == 5
    labels = {"store": "samples", "operation": "sample"}
    assert value("sloguard_storage_failures_total", labels) == 5
    reasons = [engine.health.degraded(), health.degraded()]
    assert all(r is not None and "database or disk is full" in r for r in reasons)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 2, warnings  # the store's failure and the source's, once each
    assert not any(r.exc_info for r in caplog.records)

    source._db.execute("DROP TRIGGER full")
    results = await engine.tick(T0 + 60)
    assert State.ERROR not in {r.evaluation.state for r in results}
    assert engine.health.degraded() is None and health.degraded() is None
