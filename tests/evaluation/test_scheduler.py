"""The evaluation schedule on a real event loop with APScheduler 3.x."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from sloguard.evaluation.scheduler import EvaluationSchedule
from sloguard.evaluation.selfmetrics import SelfMetrics


async def test_runs_repeatedly_and_survives_a_failing_tick(registry: CollectorRegistry) -> None:
    seen: list[float] = []

    async def tick(now: float) -> None:
        seen.append(now)
        if len(seen) == 1:
            raise RuntimeError("first tick fails")

    schedule = EvaluationSchedule(tick, 0.2, self_metrics=SelfMetrics(registry))
    schedule.start()
    try:
        for _ in range(100):
            if len(seen) >= 3:
                break
            await asyncio.sleep(0.05)
    finally:
        schedule.shutdown()
    assert len(seen) >= 3  # the failure of the first tick did not stop the schedule
    assert seen == sorted(seen)


async def test_overlapping_runs_are_skipped_and_counted(registry: CollectorRegistry) -> None:
    release = asyncio.Event()
    started = 0

    async def slow_tick(now: float) -> None:
        nonlocal started
        started += 1
        await release.wait()

    metrics = SelfMetrics(registry)
    schedule = EvaluationSchedule(slow_tick, 0.1, self_metrics=metrics)
    schedule.start()
    try:
        for _ in range(100):
            missed = registry.get_sample_value("sloguard_scheduler_missed_runs_total") or 0
            if missed >= 2:
                break
            await asyncio.sleep(0.05)
    finally:
        release.set()
        schedule.shutdown()
    assert started == 1  # max_instances=1: no second run while the first is in progress
    assert (registry.get_sample_value("sloguard_scheduler_missed_runs_total") or 0) >= 2
