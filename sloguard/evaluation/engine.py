"""The SLO engine of one daemon: a source, an evaluator and the tick that drives them.

A tick samples the embedded source (when that is the source), evaluates every SLO at ``now``,
times the cycle and returns the results; every ``compact_every`` ticks it thins the embedded
samples. What happens to the results (alerts) is the caller's: the daemon's tick is
``alerts.process(await engine.tick(now), now)``. A follower of a shared store ticks with
:meth:`SLOEngine.follow` instead: the leader's results, and its own only for what they leave out.

Every tick also updates :attr:`SLOEngine.health`: when every SLO evaluation fails (the source is
down) one warning is logged, when evaluations succeed again one info line, never one per tick;
``/readyz`` answers from :meth:`~sloguard.evaluation.health.SourceHealth.degraded`. A sample
the embedded source cannot store (a full disk) never fails the tick: the source reports it to its
own health and answers :class:`~sloguard.sources.base.QueryError` until a sample is stored, so
the SLOs it feeds are ``error`` (counted in ``sloguard_slo_evaluation_errors_total``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from sloguard.evaluation.evaluator import Evaluator, InstanceResult
from sloguard.evaluation.health import SourceHealth
from sloguard.evaluation.selfmetrics import SelfMetrics
from sloguard.slo.spec import SLO
from sloguard.sources.base import SLISource
from sloguard.sources.embedded import EmbeddedSource

_log = logging.getLogger(__name__)


class SLOEngine:
    """Source + evaluator + tick."""

    def __init__(
        self,
        slos: Sequence[SLO],
        source: SLISource,
        *,
        self_metrics: SelfMetrics | None = None,
        compact_every: int = 120,
        health: SourceHealth | None = None,
    ) -> None:
        self.source = source
        self.health = health if health is not None else SourceHealth()
        self.self_metrics = self_metrics
        self.evaluator = Evaluator(slos, source, self_metrics=self_metrics)
        self.compact_every = compact_every
        self.ticks = 0

    @property
    def embedded(self) -> EmbeddedSource | None:
        """The embedded source, when that is the source."""
        return self.source if isinstance(self.source, EmbeddedSource) else None

    def latest(self) -> tuple[InstanceResult, ...]:
        """The latest result of every SLO instance."""
        return self.evaluator.latest

    async def tick(self, now: float) -> tuple[InstanceResult, ...]:
        """Sample (embedded), evaluate every SLO at ``now``, record the cycle time."""
        started = time.perf_counter()
        self._sample(now)
        results = await self.evaluator.evaluate(now)
        self._observe(results, now, started)
        return results

    async def follow(
        self, leader: Sequence[InstanceResult], now: float
    ) -> tuple[InstanceResult, ...]:
        """A follower's tick: sample (embedded: every replica samples its own counters), take
        the leader's results, evaluate here only the SLOs they leave out (unknown to the leader
        or configured differently); return the tick's results."""
        started = time.perf_counter()
        self._sample(now)
        covered = {r.slo.name for r in leader}
        missing = [s.name for s in self.evaluator.slos if s.name not in covered]
        own = await self.evaluator.evaluate(now, only=missing) if missing else ()
        self.evaluator.adopt(leader)
        results = (*leader, *own)
        self._observe(results, now, started)
        return results

    def _sample(self, now: float) -> None:
        embedded = self.embedded
        if embedded is not None:
            embedded.sample(now)
            if self.ticks % self.compact_every == self.compact_every - 1:
                embedded.compact(now)

    def _observe(self, results: Sequence[InstanceResult], now: float, started: float) -> None:
        self.ticks += 1
        change = self.health.observe(results, now)
        if change is not None:
            _log.log(logging.INFO if change.up else logging.WARNING, change.message)
        if self.self_metrics is not None:
            self.self_metrics.cycle_seconds.observe(time.perf_counter() - started)
            self.self_metrics.last_cycle.set(now)

    async def aclose(self) -> None:
        """Close the source."""
        await self.source.aclose()
