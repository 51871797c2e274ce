"""Run the SLO engine's tick on a schedule: APScheduler 3.x on the daemon's event loop.

The job coalesces (a late run is done once, not once per missed slot), never overlaps itself
(``max_instances=1``), and every skipped or missed run is counted in
``sloguard_scheduler_missed_runs_total``. A failing tick is logged; the next one runs anyway.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobEvent,
    JobExecutionEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from sloguard.evaluation.selfmetrics import SelfMetrics

_log = logging.getLogger(__name__)


class EvaluationSchedule:
    """Call ``tick(now)`` every ``interval`` seconds on the running event loop."""

    def __init__(
        self,
        tick: Callable[[float], Awaitable[object]],
        interval: float,
        *,
        self_metrics: SelfMetrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._tick = tick
        self.interval = interval
        self._metrics = self_metrics
        self._clock = clock
        self._scheduler: AsyncIOScheduler | None = None
        self.runs = 0

    async def _run(self) -> None:
        await self._tick(self._clock())
        self.runs += 1

    def _on_event(self, event: JobEvent) -> None:
        if event.code in (EVENT_JOB_MISSED, EVENT_JOB_MAX_INSTANCES):
            if self._metrics is not None:
                self._metrics.missed_runs.inc()
            _log.warning("evaluation run skipped: the previous one is still running or late")
        elif event.code == EVENT_JOB_ERROR and isinstance(event, JobExecutionEvent):
            _log.error("evaluation run failed", exc_info=event.exception)

    def start(self) -> None:
        """Start on the running loop; the first run is immediate."""
        scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop(), timezone=UTC)
        scheduler.add_listener(
            self._on_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_ERROR
        )
        scheduler.add_job(
            self._run,
            IntervalTrigger(seconds=self.interval, timezone=UTC),
            id="evaluate",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(1, int(self.interval)),
            next_run_time=datetime.now(UTC),
        )
        scheduler.start()
        self._scheduler = scheduler

    def shutdown(self) -> None:
        """Stop scheduling (a run in progress is not awaited)."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
