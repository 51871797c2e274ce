"""The evaluator: the only module that calls a source and the budget math.

For every SLO it asks the source for each window it needs (at one ``at`` timestamp), then runs
:func:`sloguard.slo.budget.evaluate` per instance. A calendar SLO's period window is the time
since its period started (:func:`sloguard.slo.calendar.period_window`); its results carry the
period's start and end. One SLO's failure never stops the others: its
instances are marked ``error`` and the failure is counted.

Example::

    evaluator = Evaluator(slos, source)
    results = await evaluator.evaluate(at=time.time())
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from sloguard.evaluation.selfmetrics import SelfMetrics
from sloguard.slo.budget import Counts, Evaluation, evaluate
from sloguard.slo.calendar import PeriodWindow, period_window
from sloguard.slo.spec import SLO, InstanceLabels, SLOInstance
from sloguard.sources.base import QueryError, SLISource, WindowCounts

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InstanceResult:
    """The evaluation of one SLO instance at ``at``."""

    slo: SLO
    instance: SLOInstance
    evaluation: Evaluation
    at: float

    @property
    def labels(self) -> dict[str, str]:
        """The instance's ``group_by`` labels."""
        return self.instance.labels_dict


class Evaluator:
    """Evaluate SLOs against a source; keep the latest result of every instance."""

    def __init__(
        self,
        slos: Sequence[SLO],
        source: SLISource,
        *,
        self_metrics: SelfMetrics | None = None,
    ) -> None:
        self.slos = tuple(slos)
        self.source = source
        self.self_metrics = self_metrics
        self._latest: dict[SLOInstance, InstanceResult] = {}

    @property
    def latest(self) -> tuple[InstanceResult, ...]:
        """The latest result of every instance, in SLO order."""
        order = {slo.name: i for i, slo in enumerate(self.slos)}
        return tuple(
            sorted(
                self._latest.values(),
                key=lambda r: (order.get(r.slo.name, 0), r.instance.labels),
            )
        )

    async def evaluate(self, at: float) -> tuple[InstanceResult, ...]:
        """Evaluate every SLO at ``at`` (unix seconds); return this cycle's results."""
        per_slo = await asyncio.gather(*(self._evaluate_slo(slo, at) for slo in self.slos))
        results = tuple(r for rs in per_slo for r in rs)
        for slo, rs in zip(self.slos, per_slo, strict=True):
            for key in [k for k in self._latest if k.slo == slo.name]:
                del self._latest[key]
            for r in rs:
                self._latest[r.instance] = r
        return results

    async def _evaluate_slo(self, slo: SLO, at: float) -> list[InstanceResult]:
        current = period_window(slo.calendar, slo.period, at)
        windows = sorted(slo.alerting.policy.windows() | {current.window})
        answers = await asyncio.gather(
            *(self.source.window_counts(slo, w, at) for w in windows), return_exceptions=True
        )
        failure = next((a for a in answers if isinstance(a, BaseException)), None)
        if failure is not None:
            if not isinstance(failure, QueryError):
                _log.error("evaluating SLO %r failed unexpectedly", slo.name, exc_info=failure)
            message = str(failure) if isinstance(failure, QueryError) else repr(failure)
            if self.self_metrics is not None:
                self.self_metrics.evaluation_errors.labels(slo.name).inc()
            instances = [i for i in self._latest if i.slo == slo.name] or [SLOInstance(slo.name)]
            error = [
                InstanceResult(
                    slo,
                    instance,
                    evaluate(
                        objective=slo.objective,
                        period=slo.period,
                        policy=slo.alerting.policy,
                        windows={},
                        error=message,
                    ),
                    at,
                )
                for instance in instances
            ]
            return error
        by_window: dict[float, WindowCounts] = {
            w: a for w, a in zip(windows, answers, strict=True) if not isinstance(a, BaseException)
        }
        keys = sorted({k for counts in by_window.values() for k in counts}) or [()]
        if self.self_metrics is not None:
            self.self_metrics.evaluations.labels(slo.name).inc()
        return [
            InstanceResult(
                slo,
                SLOInstance(slo.name, key),
                instance_evaluation(slo, current, key, by_window, at),
                at,
            )
            for key in keys
        ]


def instance_evaluation(
    slo: SLO,
    current: PeriodWindow,
    key: InstanceLabels,
    by_window: Mapping[float, WindowCounts],
    at: float,
) -> Evaluation:
    """One instance's evaluation from its SLO's window counts at ``at`` (the period's window
    is ``current.window``; a calendar period's bounds are kept in the evaluation).

    Example::

        current = period_window(slo.calendar, slo.period, at)
        instance_evaluation(slo, current, (), {current.window: {(): Counts(1, 100)}, ...}, at)
    """
    windows: dict[float, Counts | None] = {w: c.get(key) for w, c in by_window.items()}
    evaluation = evaluate(
        objective=slo.objective,
        period=slo.period,
        policy=slo.alerting.policy,
        windows=windows,
        min_events=slo.min_events,
        period_window=current.window,
        period_left=current.left(at),
    )
    if current.start is None:
        return evaluation
    return replace(evaluation, period_start=current.start, period_end=current.end)
