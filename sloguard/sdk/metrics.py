"""The metric families of DESIGN §4 on one (injectable) prometheus_client registry.

Example::

    from prometheus_client import CollectorRegistry
    metrics = AgentMetrics(registry=CollectorRegistry())
    metrics.agent_calls.labels(agent_name="planner", status="success").inc()
    metrics.series_per_combination["agent_tool_call_seconds"]   # 13: 9 buckets + 4
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from sloguard import conventions as c

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


#: Series of one counter child in the exposition: ``_total`` and ``_created``.
_COUNTER_SERIES = 2


def _histogram_series(bounds: Sequence[float]) -> int:
    """Series of one histogram child: its buckets, ``+Inf``, ``_count``, ``_sum``, ``_created``."""
    return len(bounds) + 4


def series_per_combination(buckets: Buckets) -> dict[str, int]:
    """Return how many series one combination of a family's client-given label values adds.

    Counted over every value of the family's other labels (status, direction, outcome), as the
    exposition shows them: what the series budget charges.
    """
    counter = _COUNTER_SERIES
    return {
        c.AGENT_CALLS: counter * len(c.Status),
        c.AGENT_LATENCY: _histogram_series(buckets.agent_latency),
        c.AGENT_TOKENS: counter * len(c.Direction),
        c.AGENT_COST: counter,
        c.ACTIVE_AGENTS: 1,
        c.AGENT_HANDOFFS: counter,
        c.TOOL_DURATION: _histogram_series(buckets.tool_duration),
        c.TOOL_CALLS: counter * len(c.Status),
        c.DECISIONS: counter,
        c.DECISION_CONFIDENCE: _histogram_series(buckets.decision_confidence),
        c.ROUTING_OUTCOMES: counter * len(c.RoutingOutcome),
        c.ANOMALIES: counter,
        c.WORKFLOW_RUNS: counter * len(c.Status),
        c.WORKFLOW_DURATION: _histogram_series(buckets.workflow_duration),
        c.WORKFLOW_COST: _histogram_series(buckets.workflow_cost),
        c.WORKFLOW_TOKENS: _histogram_series(buckets.workflow_tokens),
    }


class AgentMetrics:
    """Create and hold every agent metric family on ``registry``, and what their series cost
    (``series_per_combination``, for these buckets)."""

    def __init__(
        self, registry: CollectorRegistry | None = REGISTRY, buckets: Buckets | None = None
    ) -> None:
        b = buckets or Buckets()
        self.registry = registry
        self.buckets = b
        self._agent_families(registry, b)
        self._tool_and_decision_families(registry, b)
        self._workflow_families(registry, b)
        self._overflow_families(registry)
        self.series_per_combination = series_per_combination(b)

    def _agent_families(self, r: CollectorRegistry | None, b: Buckets) -> None:
        """Agent calls, latency, tokens, cost, running agents and handoffs."""
        self.agent_calls = Counter(
            c.AGENT_CALLS, "Agent invocations by outcome.", [c.L_AGENT, c.L_STATUS], registry=r
        )
        self.agent_latency = Histogram(
            c.AGENT_LATENCY,
            "Agent invocation latency in seconds.",
            [c.L_AGENT],
            buckets=b.agent_latency,
            registry=r,
        )
        self.tokens = Counter(
            c.AGENT_TOKENS,
            "Tokens consumed by agents, by model and direction.",
            [c.L_AGENT, c.L_MODEL, c.L_DIRECTION],
            registry=r,
        )
        self.cost = Counter(
            c.AGENT_COST, "Cost of agent work in US dollars.", [c.L_AGENT, c.L_MODEL], registry=r
        )
        self.active_agents = Gauge(
            c.ACTIVE_AGENTS,
            "Agent invocations currently running.",
            [c.L_AGENT_TYPE],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.handoffs = Counter(
            c.AGENT_HANDOFFS,
            "Handoffs from one agent to another.",
            [c.L_SOURCE, c.L_TARGET],
            registry=r,
        )

    def _tool_and_decision_families(self, r: CollectorRegistry | None, b: Buckets) -> None:
        """Tool calls and duration; decisions, their confidence, routing outcomes, anomalies."""
        self.tool_duration = Histogram(
            c.TOOL_DURATION,
            "Tool call duration in seconds.",
            [c.L_AGENT, c.L_TOOL],
            buckets=b.tool_duration,
            registry=r,
        )
        self.tool_calls = Counter(
            c.TOOL_CALLS,
            "Tool calls by outcome.",
            [c.L_AGENT, c.L_TOOL, c.L_STATUS],
            registry=r,
        )
        self.decisions = Counter(
            c.DECISIONS, "Agent decisions.", [c.L_AGENT, c.L_DECISION_TYPE], registry=r
        )
        self.decision_confidence = Histogram(
            c.DECISION_CONFIDENCE,
            "Confidence of agent decisions (0..1).",
            [c.L_AGENT, c.L_DECISION_TYPE],
            buckets=b.decision_confidence,
            registry=r,
        )
        self.routing_outcomes = Counter(
            c.ROUTING_OUTCOMES,
            "Routing decisions judged correct or incorrect.",
            [c.L_AGENT, c.L_OUTCOME],
            registry=r,
        )
        self.anomalies = Counter(
            c.ANOMALIES, "Detected decision anomalies.", [c.L_AGENT, c.L_ANOMALY], registry=r
        )

    def _workflow_families(self, r: CollectorRegistry | None, b: Buckets) -> None:
        """End-to-end runs: outcome, duration, and the cost and tokens of each run."""
        w = [c.L_WORKFLOW]
        self.workflow_runs = Counter(
            c.WORKFLOW_RUNS, "End-to-end workflow runs by outcome.", [*w, c.L_STATUS], registry=r
        )
        self.workflow_duration = Histogram(
            c.WORKFLOW_DURATION,
            "Workflow run duration in seconds.",
            w,
            buckets=b.workflow_duration,
            registry=r,
        )
        self.workflow_cost = Histogram(
            c.WORKFLOW_COST,
            "Cost of one workflow run in US dollars.",
            w,
            buckets=b.workflow_cost,
            registry=r,
        )
        self.workflow_tokens = Histogram(
            c.WORKFLOW_TOKENS,
            "Tokens of one workflow run (input + output).",
            w,
            buckets=b.workflow_tokens,
            registry=r,
        )

    def _overflow_families(self, r: CollectorRegistry | None) -> None:
        """What the cardinality guard folded: label values and series over budget."""
        self.label_overflow = Counter(
            c.LABEL_OVERFLOW,
            "Client-given label values folded into _other by the cardinality guard.",
            ["label"],
            registry=r,
        )
        self.series_overflow = Counter(
            c.SERIES_OVERFLOW,
            "Observations recorded under the _other child because the series budget was full.",
            ["metric"],
            registry=r,
        )
