"""sloguard's own metrics (``sloguard_*``) about evaluation and scheduling."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram


class SelfMetrics:
    """Self metrics of the evaluator and scheduler on ``registry``."""

    def __init__(self, registry: CollectorRegistry | None = REGISTRY) -> None:
        r = registry
        self.evaluations = Counter(
            "sloguard_slo_evaluations", "SLO evaluations that completed.", ["slo"], registry=r
        )
        self.evaluation_errors = Counter(
            "sloguard_slo_evaluation_errors",
            "SLO evaluations that failed (source down, slow or erroring).",
            ["slo"],
            registry=r,
        )
        self.recorded_fallbacks = Counter(
            "sloguard_recorded_window_fallbacks",
            "Long windows read from raw counters because the recorded rates were missing.",
            ["slo"],
            registry=r,
        )
        self.cycle_seconds = Histogram(
            "sloguard_evaluation_cycle_seconds",
            "Time of one evaluation cycle over all SLOs.",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
            registry=r,
        )
        self.missed_runs = Counter(
            "sloguard_scheduler_missed_runs",
            "Evaluation runs skipped because the previous one was still running or late.",
            registry=r,
        )
        self.last_cycle = Gauge(
            "sloguard_evaluation_last_cycle_timestamp_seconds",
            "When the last evaluation cycle finished.",
            registry=r,
        )
