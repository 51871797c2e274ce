"""Source health: one log line when every SLO evaluation starts failing and one when it stops."""

from __future__ import annotations

import logging

import pytest

from sloguard.evaluation.engine import SLOEngine
from sloguard.evaluation.health import SourceHealth
from sloguard.slo.budget import Counts
from sloguard.slo.spec import SLO
from sloguard.sources.base import QueryError, WindowCounts
from sloguard.sources.fake import FakeSource
from tests.support.slos import make_slo

T0 = 1_800_000_000.0
INTERVAL = 10.0
SLOS = (make_slo("avail"), make_slo("latency-ish"))


class Switch:
    """Answers of a source that can be taken down and brought back."""

    def __init__(self) -> None:
        self.down: set[str] = set()  # SLO names whose queries fail; "*" for all

    def __call__(self, slo: SLO, window: float, at: float) -> WindowCounts:
        if "*" in self.down or slo.name in self.down:
            raise QueryError("prometheus: connection refused")
        return {(): Counts(0.0, 1000.0)}


async def ticks(engine: SLOEngine, start: int, n: int) -> None:
    for i in range(start, start + n):
        await engine.tick(T0 + i * INTERVAL)


def records(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [
        (r.levelno, r.getMessage())
        for r in caplog.records
        if r.name == "sloguard.evaluation.engine"
    ]


async def test_down_and_up_are_logged_once_each(caplog: pytest.LogCaptureFixture) -> None:
    switch = Switch()
    switch.down.add("*")  # unreachable from the start
    engine = SLOEngine(SLOS, FakeSource(answer=switch))
    caplog.set_level(logging.INFO)
    await ticks(engine, 0, 17)
    (down,) = records(caplog)
    assert down[0] == logging.WARNING
    assert down[1].startswith("SLI source down: every SLO evaluation failed (2 SLOs)")
    assert "connection refused" in down[1]
    reason = engine.health.degraded()
    assert reason is not None and "17 ticks" in reason and "connection refused" in reason
    assert "since 2027-01-15T08:00:00Z" in reason

    switch.down.clear()
    await ticks(engine, 17, 5)
    assert engine.health.degraded() is None
    (_, up) = records(caplog)
    assert up == (logging.INFO, "SLI source up again after 2m50s (17 failed evaluation ticks): "
                                "SLOs are evaluated")  # fmt: skip

    switch.down.add("*")  # a two-minute stop later on: one more line, then one on the way back
    await ticks(engine, 22, 12)
    switch.down.clear()
    await ticks(engine, 34, 3)
    levels = [level for level, _ in records(caplog)]
    assert levels == [logging.WARNING, logging.INFO, logging.WARNING, logging.INFO]


async def test_one_failing_slo_is_its_own_error_not_a_degraded_evaluator(
    caplog: pytest.LogCaptureFixture,
) -> None:
    switch = Switch()
    switch.down.add("avail")
    engine = SLOEngine(SLOS, FakeSource(answer=switch))
    caplog.set_level(logging.INFO)
    await ticks(engine, 0, 3)
    assert [r.evaluation.state.value for r in engine.latest()] == ["error", "ok"]
    assert engine.health.degraded() is None and records(caplog) == []


async def test_without_slos_there_is_nothing_to_judge() -> None:
    engine = SLOEngine((), FakeSource(error="down"))
    await ticks(engine, 0, 3)
    assert engine.health.degraded() is None


async def test_health_is_a_collaborator() -> None:
    health = SourceHealth()
    engine = SLOEngine(SLOS, FakeSource(error="connection refused"), health=health)
    await ticks(engine, 0, 1)
    assert engine.health is health and health.down_since == T0 and health.failed_ticks == 1
