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
from collections.abc import Collection, Mapping, Sequence
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
        self._latest: dict[str, dict[SLOInstance, InstanceResult]] = {}  # by SLO name

    @property
    def latest(self) -> tuple[InstanceResult, ...]:
        """The latest result of every instance, in SLO order."""
        return tuple(
            r
            for slo in self.slos
            for r in sorted(self._latest.get(slo.name, {}).values(), key=_by_labels)
        )

    async def evaluate(
        self, at: float, only: Collection[str] | None = None
    ) -> tuple[InstanceResult, ...]:
        """Evaluate every SLO (or those named in ``only``) at ``at`` (unix seconds); return
        this cycle's results."""
        slos = self.slos if only is None else [s for s in self.slos if s.name in only]
        per_slo = await asyncio.gather(*(self._evaluate_slo(slo, at) for slo in slos))
        results = tuple(r for rs in per_slo for r in rs)
        self.adopt(results)
        return results

    def adopt(self, results: Sequence[InstanceResult]) -> None:
        """Take ``results`` as the latest of their SLOs (a tick's own, or the leader's for a
        follower), replacing those SLOs' previous instances."""
        fresh: dict[str, dict[SLOInstance, InstanceResult]] = {}
        for r in results:
            fresh.setdefault(r.slo.name, {})[r.instance] = r
        self._latest.update(fresh)

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
            instances = list(self._latest.get(slo.name, {})) or [SLOInstance(slo.name)]
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


def _by_labels(r: InstanceResult) -> InstanceLabels:
    return r.instance.labels


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
