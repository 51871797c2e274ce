"""The metric families of DESIGN §4 on one (injectable) prometheus_client registry.

Example::

    from prometheus_client import CollectorRegistry
    metrics = AgentMetrics(registry=CollectorRegistry())
    metrics.agent_calls.labels(agent_name="planner", status="success").inc()
    metrics.series_per_combination["agent_tool_call_seconds"]   # 12: 9 buckets + 3

No ``_created`` series unless ``created_series=True``: only these families are affected, never
other metrics of the process (``prometheus_client.disable_created_metrics`` is process-wide).
With ``gen_ai=True`` the OpenTelemetry GenAI client families are created beside them
(``metrics.gen_ai``, fed by the recorder).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.samples import Sample

from sloguard import conventions as c

__all__ = [
    "AgentMetrics",
    "Buckets",
    "CreatedlessCounter",
    "CreatedlessHistogram",
    "GenAIMetrics",
    "series_per_combination",
]

_BUCKET_FIELDS = (
    "agent_latency",
    "tool_duration",
    "decision_confidence",
    "workflow_duration",
    "workflow_cost",
    "workflow_tokens",
)


@dataclass(frozen=True, slots=True)
class Buckets:
    """Histogram bucket bounds; defaults contain seed 000's buckets."""

    agent_latency: tuple[float, ...] = c.AGENT_LATENCY_BUCKETS
    tool_duration: tuple[float, ...] = c.TOOL_DURATION_BUCKETS
    decision_confidence: tuple[float, ...] = c.DECISION_CONFIDENCE_BUCKETS
    workflow_duration: tuple[float, ...] = c.WORKFLOW_DURATION_BUCKETS
    workflow_cost: tuple[float, ...] = c.WORKFLOW_COST_BUCKETS
    workflow_tokens: tuple[float, ...] = c.WORKFLOW_TOKEN_BUCKETS

    def __post_init__(self) -> None:
        for name in _BUCKET_FIELDS:
            bounds: Sequence[float] = getattr(self, name)
            if not bounds:
                raise ValueError(f"buckets.{name} must not be empty")
            if any(b <= 0 for b in bounds) and name != "decision_confidence":
                raise ValueError(f"buckets.{name} must be positive, got {list(bounds)}")
            if list(bounds) != sorted(set(bounds)):
                raise ValueError(f"buckets.{name} must be strictly increasing, got {list(bounds)}")


class CreatedlessCounter(Counter):
    """A Counter that exposes no ``_created`` sample (its children are of this class too)."""

    def _child_samples(self) -> Iterable[Sample]:
        return tuple(s for s in super()._child_samples() if s.name != "_created")


class CreatedlessHistogram(Histogram):
    """A Histogram that exposes no ``_created`` sample (its children are of this class too)."""

    def _child_samples(self) -> Iterable[Sample]:
        return tuple(s for s in super()._child_samples() if s.name != "_created")


def _histogram_series(bounds: Sequence[float], created: bool) -> int:
    """Series of one histogram child: buckets, ``+Inf``, ``_count``, ``_sum`` (``_created``)."""
    return len(bounds) + 3 + int(created)


def series_per_combination(buckets: Buckets, *, created: bool = False) -> dict[str, int]:
    """Return how many series one combination of a family's client-given label values adds.

    Counted over every value of the family's other labels (status, direction, outcome, token
    type, error type), as the exposition may show them: what the series budget charges. With
    ``created``, each counter and histogram child also shows its ``_created`` series.

    >>> series_per_combination(Buckets())["agent_calls_total"]
    2
    """
    counter = 1 + int(created)

    def _histogram(bounds: Sequence[float]) -> int:
        return _histogram_series(bounds, created)

    return {
        c.AGENT_CALLS: counter * len(c.Status),
        c.AGENT_LATENCY: _histogram(buckets.agent_latency),
        c.AGENT_TOKENS: counter * len(c.Direction),
        c.AGENT_COST: counter,
        c.ACTIVE_AGENTS: 1,
        c.AGENT_HANDOFFS: counter,
        c.TOOL_DURATION: _histogram(buckets.tool_duration),
        c.TOOL_CALLS: counter * len(c.Status),
        c.DECISIONS: counter,
        c.DECISION_CONFIDENCE: _histogram(buckets.decision_confidence),
        c.ROUTING_OUTCOMES: counter * len(c.RoutingOutcome),
        c.ANOMALIES: counter,
        c.WORKFLOW_RUNS: counter * len(c.Status),
        c.WORKFLOW_DURATION: _histogram(buckets.workflow_duration),
        c.WORKFLOW_COST: _histogram(buckets.workflow_cost),
        c.WORKFLOW_TOKENS: _histogram(buckets.workflow_tokens),
        # per (agent, model): input and output; per agent: success ("") and error
        c.GEN_AI_TOKEN_USAGE: 2 * _histogram(c.GEN_AI_TOKEN_BUCKETS),
        c.GEN_AI_OPERATION_DURATION: 2 * _histogram(c.GEN_AI_DURATION_BUCKETS),
    }


class AgentMetrics:
    """Create and hold every agent metric family on ``registry``, and what their series cost
    (``series_per_combination``, for these buckets).

    ``created_series`` keeps the ``_created`` series of these counters and histograms (off: they
    double the series of every counter child and say little a scraper needs); ``gen_ai`` also
    creates the OpenTelemetry GenAI client families (:class:`GenAIMetrics`).
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = REGISTRY,
        buckets: Buckets | None = None,
        *,
        created_series: bool = False,
        gen_ai: bool = False,
    ) -> None:
        b = buckets or Buckets()
        self.registry = registry
        self.buckets = b
        self.created_series = created_series
        self._counter: type[Counter] = Counter if created_series else CreatedlessCounter
        self._histogram: type[Histogram] = Histogram if created_series else CreatedlessHistogram
        self._agent_families(registry, b)
        self._tool_and_decision_families(registry, b)
        self._workflow_families(registry, b)
        self._overflow_families(registry)
        self.gen_ai = GenAIMetrics(registry, self._histogram) if gen_ai else None
        self.series_per_combination = series_per_combination(b, created=created_series)

    def _agent_families(self, r: CollectorRegistry | None, b: Buckets) -> None:
        """Agent calls, latency, tokens, cost, running agents and handoffs."""
        self.agent_calls = self._counter(
            c.AGENT_CALLS, "Agent invocations by outcome.", [c.L_AGENT, c.L_STATUS], registry=r
        )
        self.agent_latency = self._histogram(
            c.AGENT_LATENCY,
            "Agent invocation latency in seconds.",
            [c.L_AGENT],
            buckets=b.agent_latency,
            registry=r,
        )
        self.tokens = self._counter(
            c.AGENT_TOKENS,
            "Tokens consumed by agents, by model and direction.",
            [c.L_AGENT, c.L_MODEL, c.L_DIRECTION],
            registry=r,
        )
        self.cost = self._counter(
            c.AGENT_COST, "Cost of agent work in US dollars.", [c.L_AGENT, c.L_MODEL], registry=r
        )
        self.active_agents = Gauge(
            c.ACTIVE_AGENTS,
            "Agent invocations currently running.",
            [c.L_AGENT],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.handoffs = self._counter(
            c.AGENT_HANDOFFS,
            "Handoffs from one agent to another.",
            [c.L_SOURCE, c.L_TARGET],
            registry=r,
        )

    def _tool_and_decision_families(self, r: CollectorRegistry | None, b: Buckets) -> None:
        """Tool calls and duration; decisions, their confidence, routing outcomes, anomalies."""
        self.tool_duration = self._histogram(
            c.TOOL_DURATION,
            "Tool call duration in seconds.",
            [c.L_AGENT, c.L_TOOL],
            buckets=b.tool_duration,
            registry=r,
        )
        self.tool_calls = self._counter(
            c.TOOL_CALLS,
            "Tool calls by outcome.",
            [c.L_AGENT, c.L_TOOL, c.L_STATUS],
            registry=r,
        )
        self.decisions = self._counter(
            c.DECISIONS, "Agent decisions.", [c.L_AGENT, c.L_DECISION_TYPE], registry=r
        )
        self.decision_confidence = self._histogram(
            c.DECISION_CONFIDENCE,
            "Confidence of agent decisions (0..1).",
            [c.L_AGENT, c.L_DECISION_TYPE],
            buckets=b.decision_confidence,
            registry=r,
        )
        self.routing_outcomes = self._counter(
            c.ROUTING_OUTCOMES,
            "Routing decisions judged correct or incorrect.",
            [c.L_AGENT, c.L_OUTCOME],
            registry=r,
        )
        self.anomalies = self._counter(
            c.ANOMALIES, "Detected decision anomalies.", [c.L_AGENT, c.L_ANOMALY], registry=r
        )

    def _workflow_families(self, r: CollectorRegistry | None, b: Buckets) -> None:
        """End-to-end runs: outcome, duration, and the cost and tokens of each run."""
        w = [c.L_WORKFLOW]
        self.workflow_runs = self._counter(
            c.WORKFLOW_RUNS, "End-to-end workflow runs by outcome.", [*w, c.L_STATUS], registry=r
        )
        self.workflow_duration = self._histogram(
            c.WORKFLOW_DURATION,
            "Workflow run duration in seconds.",
            w,
            buckets=b.workflow_duration,
            registry=r,
        )
        self.workflow_cost = self._histogram(
            c.WORKFLOW_COST,
            "Cost of one workflow run in US dollars.",
            w,
            buckets=b.workflow_cost,
            registry=r,
        )
        self.workflow_tokens = self._histogram(
            c.WORKFLOW_TOKENS,
            "Tokens of one workflow run (input + output).",
            w,
            buckets=b.workflow_tokens,
            registry=r,
        )

    def _overflow_families(self, r: CollectorRegistry | None) -> None:
        """What the cardinality guard folded: label values and series over budget."""
        self.label_overflow = self._counter(
            c.LABEL_OVERFLOW,
            "Client-given label values folded into _other by the cardinality guard.",
            ["label"],
            registry=r,
        )
        self.series_overflow = self._counter(
            c.SERIES_OVERFLOW,
            "Observations recorded under the _other child because the series budget was full.",
            ["metric"],
            registry=r,
        )


class GenAIMetrics:
    """The OpenTelemetry GenAI client metrics for agent calls, as Prometheus names them.

    ``gen_ai_client_token_usage`` (tokens per call, by ``gen_ai_token_type`` input/output) and
    ``gen_ai_client_operation_duration_seconds`` (``error_type`` set on failed calls), with
    ``gen_ai_operation_name="invoke_agent"`` and the agent in ``gen_ai_agent_name``; the
    conventions' bucket bounds. ``gen_ai_provider_name`` is not known to sloguard and not set.

    Example::

        m = GenAIMetrics(CollectorRegistry())
        m.duration.labels("invoke_agent", "planner", "").observe(1.2)
    """

    def __init__(
        self, registry: CollectorRegistry | None, histogram: type[Histogram] = CreatedlessHistogram
    ) -> None:
        labels: Any = [c.L_GEN_AI_OPERATION, c.L_GEN_AI_AGENT]
        self.token_usage = histogram(
            c.GEN_AI_TOKEN_USAGE,
            "Tokens used per GenAI operation (OpenTelemetry gen_ai.client.token.usage).",
            [*labels, c.L_GEN_AI_MODEL, c.L_GEN_AI_TOKEN_TYPE],
            buckets=c.GEN_AI_TOKEN_BUCKETS,
            registry=registry,
        )
        self.duration = histogram(
            c.GEN_AI_OPERATION_DURATION,
            "GenAI operation duration (OpenTelemetry gen_ai.client.operation.duration).",
            [*labels, c.L_ERROR_TYPE],
            buckets=c.GEN_AI_DURATION_BUCKETS,
            registry=registry,
        )
