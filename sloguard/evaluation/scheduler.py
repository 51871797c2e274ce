"""Run the SLO engine's tick on a schedule: APScheduler 3.x on the daemon's event loop.

The job coalesces (a late run is done once, not once per missed slot), never overlaps itself
(``max_instances=1``), and every skipped or missed run is counted in
``sloguard_scheduler_missed_runs_total``. A failing tick is logged as one line (its traceback
only at DEBUG) and not handed to APScheduler, which would log a traceback of its own; the next
one runs anyway.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from apscheduler.events import (
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobEvent,
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
        try:
            await self._tick(self._clock())
        except Exception as exc:  # one failure never stops the loop (PRACTICES #10)
            _log.error("evaluation run failed: %s: %s", type(exc).__name__, exc)
            _log.debug("evaluation run failed", exc_info=exc)
            return
        self.runs += 1

    def _on_event(self, event: JobEvent) -> None:
        if event.code in (EVENT_JOB_MISSED, EVENT_JOB_MAX_INSTANCES):
            if self._metrics is not None:
                self._metrics.missed_runs.inc()
            _log.warning("evaluation run skipped: the previous one is still running or late")

    def start(self) -> None:
        """Start on the running loop; the first run is immediate."""
        scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop(), timezone=UTC)
        scheduler.add_listener(self._on_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
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
