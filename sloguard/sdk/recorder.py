"""The one recorder: the single code path from agent activity to metric updates.

The SDK (trace steps, decorators, :class:`MetricsCollector`) and the HTTP ingest both call it.
Every method validates all of its arguments before it touches a metric, so a call that raises
:class:`InvalidRecord` records nothing. Client-given label values pass the cardinality guard.

Label children are cached per raw label value, so the hot path is a dict lookup instead of
``labels()`` (which takes a lock and builds a tuple each time); the caches are bounded.

Each new combination of admitted label values must also fit the guard's series budget
(:meth:`CardinalityGuard.admit_series`); one that does not is recorded under the overflow
child, every client label ``_other``, so totals and sums stay right, and each such observation
counts in ``sloguard_series_overflow_total{metric}``. Budgets are checked on a cache miss only.

Example::

    recorder = Recorder(AgentMetrics(registry=CollectorRegistry()))
    recorder.agent_call("planner", "success", 1.2, model="gpt-4o", input_tokens=10,
                        output_tokens=5, cost=0.001)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, Unpack

from sloguard import conventions as c
from sloguard.errors import InvalidRecord
from sloguard.sdk.arguments import (
    Usage,
    check_name,
    check_status,
    nonneg_int,
    nonneg_number,
    split_tokens,
    usage_figures,
)
from sloguard.sdk.genai import GenAIRecorder
from sloguard.sdk.guard import CardinalityGuard, SeriesCost
from sloguard.sdk.metrics import AgentMetrics, Buckets, series_per_combination

#: ``Usage`` and ``split_tokens`` live in :mod:`sloguard.sdk.arguments`; kept importable here.
__all__ = ["DEFAULT_CACHE_SIZE", "Recorder", "Usage", "split_tokens"]

DEFAULT_CACHE_SIZE = 4096

_T = TypeVar("_T")
_OUTCOMES = frozenset(o.value for o in c.RoutingOutcome)


class Recorder:
    """Turn agent calls, tool calls, handoffs, decisions, routing, tokens and cost into metrics."""

    def __init__(
        self,
        metrics: AgentMetrics | None = None,
        guard: CardinalityGuard | None = None,
        *,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self.metrics = metrics if metrics is not None else AgentMetrics()
        self.guard = guard if guard is not None else CardinalityGuard()
        overflow = self.metrics.label_overflow
        self.guard.set_overflow_callback(lambda label: overflow.labels(label).inc())
        self._cache_size = cache_size
        self._agent: dict[str, tuple[Any, Any, Any]] = {}
        self._model: dict[tuple[str, str], list[Any]] = {}
        self._tool: dict[tuple[str, str], tuple[Any, Any, Any]] = {}
        self._active: dict[str, Any] = {}
        # Stand-ins for AgentMetrics (the ingest's dry run) are charged as default buckets.
        real = isinstance(self.metrics, AgentMetrics)
        per = self.metrics.series_per_combination if real else series_per_combination(Buckets())
        gen_ai = real and self.metrics.gen_ai is not None
        self._gen_ai = GenAIRecorder(self.metrics, self.guard) if gen_ai else None

        def cost(*families: str) -> SeriesCost:
            return tuple((f, per[f]) for f in families)

        self._agent_cost = cost(c.AGENT_LATENCY, c.AGENT_CALLS)
        self._model_cost = cost(c.AGENT_TOKENS, c.AGENT_COST)
        self._tool_cost = cost(c.TOOL_DURATION, c.TOOL_CALLS)
        self._handoff_cost = cost(c.AGENT_HANDOFFS)
        # A decision may add a confidence histogram: its series are reserved with the count's.
        self._decision_cost = cost(c.DECISIONS, c.DECISION_CONFIDENCE)
        self._routing_cost = cost(c.ROUTING_OUTCOMES)
        self._anomaly_cost = cost(c.ANOMALIES)
        self._active_cost = cost(c.ACTIVE_AGENTS)
        self._workflow_cost = cost(
            c.WORKFLOW_DURATION, c.WORKFLOW_RUNS, c.WORKFLOW_COST, c.WORKFLOW_TOKENS
        )
        self._workflow: dict[str, tuple[Any, ...]] = {}
        self._overflow_counts: dict[str, Any] = {}
        self._folded: dict[SeriesCost, Any] = {}
        self._handoff: dict[tuple[str, str], Any] = {}
        self._decision: dict[tuple[str, str], tuple[Any, tuple[str, ...]]] = {}

    # --- series budget ------------------------------------------------------------------------
    def _count_overflow(self, cost: SeriesCost, observed: int | None = None) -> None:
        """Count one overflow for each family observed (the first ``observed`` of ``cost``)."""
        counts = self._overflow_counts
        for family, _ in cost[:observed]:
            child = counts.get(family)
            if child is None:
                child = counts[family] = self.metrics.series_overflow.labels(family)
            child.inc()

    def _budgeted(
        self, cost: SeriesCost, *values: str, observed: int | None = None
    ) -> tuple[str, ...]:
        """Return ``values``, or all ``_other`` if the series budget refuses the combination."""
        if self.guard.admit_series(cost, values):
            return values
        self._count_overflow(cost, observed)
        return (c.OVERFLOW_VALUE,) * len(values)

    # --- label-child caches ------------------------------------------------------------------
    def _children(
        self,
        cache: dict[Any, _T],
        key: Any,
        cost: SeriesCost,
        admitted: tuple[str, ...],
        build: Callable[..., _T],
    ) -> _T:
        """Build the children of ``admitted`` values within the series budget, cached by ``key``.

        The overflow children of a refused combination are built once and kept apart.
        """
        if not self.guard.admit_series(cost, admitted):
            self._count_overflow(cost)
            folded = self._folded.get(cost)
            if folded is None:
                folded = self._folded[cost] = build(*(c.OVERFLOW_VALUE,) * len(admitted))
            return folded
        value = build(*admitted)
        # Folded values are not cached, so every folded observation is counted as overflow.
        if len(cache) < self._cache_size and c.OVERFLOW_VALUE not in admitted:
            cache[key] = value
        return value

    def _agent_children(self, agent: str) -> tuple[Any, Any, Any]:
        hit = self._agent.get(agent)
        if hit is not None:
            return hit
        admitted = (self.guard.admit(c.L_AGENT, agent),)
        return self._children(self._agent, agent, self._agent_cost, admitted, self._build_agent)

    def _build_agent(self, a: str) -> tuple[Any, Any, Any]:
        m = self.metrics
        return (
            m.agent_latency.labels(a),
            m.agent_calls.labels(a, c.Status.SUCCESS.value),
            m.agent_calls.labels(a, c.Status.ERROR.value),
        )

    def _model_children(self, agent: str, model: str) -> list[Any]:
        key = (agent, model)
        hit = self._model.get(key)
        if hit is not None:
            return hit
        admitted = (self.guard.admit(c.L_AGENT, agent), self.guard.admit(c.L_MODEL, model))
        return self._children(self._model, key, self._model_cost, admitted, self._build_model)

    def _build_model(self, a: str, mo: str) -> list[Any]:
        """[input, output, total, cost, a, mo]: token children are made on their first count
        (a ``direction="total"`` series that would stay 0 is never exposed)."""
        return [None, None, None, self.metrics.cost.labels(a, mo), a, mo]

    def _token_child(self, children: list[Any], i: int) -> Any:
        child = children[i]
        if child is None:
            direction = (c.Direction.INPUT, c.Direction.OUTPUT, c.Direction.TOTAL)[i].value
            child = children[i] = self.metrics.tokens.labels(children[4], children[5], direction)
        return child

    def _tool_children(self, agent: str, tool: str) -> tuple[Any, Any, Any]:
        key = (agent, tool)
        hit = self._tool.get(key)
        if hit is not None:
            return hit
        admitted = (self.guard.admit(c.L_AGENT, agent), self.guard.admit(c.L_TOOL, tool))
        return self._children(self._tool, key, self._tool_cost, admitted, self._build_tool)

    def _build_tool(self, a: str, t: str) -> tuple[Any, Any, Any]:
        m = self.metrics
        return (
            m.tool_duration.labels(a, t),
            m.tool_calls.labels(a, t, c.Status.SUCCESS.value),
            m.tool_calls.labels(a, t, c.Status.ERROR.value),
        )

    # --- public API ----------------------------------------------------------------------------
    def agent_call(
        self,
        agent: str,
        status: str | c.Status,
        duration: float,
        *,
        model: str | None = None,
        trace_id: str | None = None,
        **usage: Unpack[Usage],
    ) -> None:
        """Record one finished agent invocation (count, latency, tokens, cost)."""
        agent = check_name("agent_name", agent)
        s = check_status(status)
        d = nonneg_number("duration", duration)
        split, usd = usage_figures(usage)
        latency, ok, err = self._agent_children(agent)
        (ok if s == "success" else err).inc()
        if trace_id:
            latency.observe(d, exemplar={"trace_id": trace_id})
        else:
            latency.observe(d)
        if self._gen_ai is not None:
            self._gen_ai.call(self.guard.admit(c.L_AGENT, agent), ok=s == "success", duration=d)
        if usd is not None or split != (None, None, None):
            self._usage(agent, check_name("model", model, default=c.UNKNOWN_VALUE), split, usd)

    def usage(self, agent: str, model: str | None, **usage: Unpack[Usage]) -> None:
        """Record tokens and cost of ``agent`` on ``model`` without counting a call."""
        agent = check_name("agent_name", agent)
        model = check_name("model", model, default=c.UNKNOWN_VALUE)
        split, usd = usage_figures(usage)
        self._usage(agent, model, split, usd)

    def _usage(
        self,
        agent: str,
        model: str,
        split: tuple[int | None, int | None, int | None],
        usd: float | None,
    ) -> None:
        children = self._model_children(agent, model)
        for index, n in enumerate(split):
            if n is not None:
                self._token_child(children, index).inc(n)
        if usd is not None:
            children[3].inc(usd)
        if self._gen_ai is not None:
            g = self.guard
            self._gen_ai.tokens(g.admit(c.L_AGENT, agent), g.admit(c.L_MODEL, model), *split[:2])

    def tool_call(
        self,
        agent: str,
        tool: str,
        status: str | c.Status,
        duration: float,
        *,
        trace_id: str | None = None,
    ) -> None:
        """Record one finished tool call made by ``agent``."""
        agent = check_name("agent_name", agent, default=c.UNKNOWN_VALUE)
        tool = check_name("tool_name", tool)
        s = check_status(status)
        d = nonneg_number("duration", duration)
        hist, ok, err = self._tool_children(agent, tool)
        (ok if s == "success" else err).inc()
        if trace_id:
            hist.observe(d, exemplar={"trace_id": trace_id})
        else:
            hist.observe(d)

    def handoff(self, source: str, target: str) -> None:
        """Record a handoff from ``source`` agent to ``target`` agent."""
        source = check_name("source_agent", source)
        target = check_name("target_agent", target)
        key = (source, target)
        child = self._handoff.get(key)
        if child is None:
            admitted = (self.guard.admit(c.L_SOURCE, source), self.guard.admit(c.L_TARGET, target))
            child = self._children(
                self._handoff, key, self._handoff_cost, admitted, self.metrics.handoffs.labels
            )
        child.inc()

    def workflow_run(
        self,
        workflow: str,
        status: str | c.Status,
        duration: float,
        *,
        cost: float | None = None,
        tokens: int | None = None,
        trace_id: str | None = None,
    ) -> None:
        """Record one finished end-to-end run of ``workflow``: outcome, duration, and its cost
        (USD) and tokens when known (a run without them is not observed in those histograms)."""
        workflow = check_name("workflow", workflow)
        s = check_status(status)
        d = nonneg_number("duration", duration)
        usd = None if cost is None else nonneg_number("cost", cost)
        n = nonneg_int("tokens", tokens)
        hit = self._workflow.get(workflow)
        if hit is None:
            admitted = (self.guard.admit(c.L_WORKFLOW, workflow),)
            hit = self._children(
                self._workflow, workflow, self._workflow_cost, admitted, self._build_workflow
            )
        latency, ok, err, cost_hist, token_hist = hit
        (ok if s == "success" else err).inc()
        if trace_id:
            latency.observe(d, exemplar={"trace_id": trace_id})
        else:
            latency.observe(d)
        if usd is not None:
            cost_hist.observe(usd)
        if n is not None:
            token_hist.observe(n)

    def _build_workflow(self, w: str) -> tuple[Any, ...]:
        m = self.metrics
        return (
            m.workflow_duration.labels(w),
            m.workflow_runs.labels(w, c.Status.SUCCESS.value),
            m.workflow_runs.labels(w, c.Status.ERROR.value),
            m.workflow_cost.labels(w),
            m.workflow_tokens.labels(w),
        )

    def decision(self, agent: str, decision_type: str, confidence: float | None = None) -> None:
        """Record one decision, and its confidence (0..1) when known."""
        agent = check_name("agent_name", agent)
        decision_type = check_name("decision_type", decision_type)
        if confidence is not None:
            conf = nonneg_number("confidence", confidence)
            if conf > 1:
                raise InvalidRecord(f"confidence must be within 0..1, got {confidence!r}")
        key = (agent, decision_type)
        hit = self._decision.get(key)
        if hit is None:
            g = self.guard
            labels = self._budgeted(
                self._decision_cost,
                g.admit(c.L_AGENT, agent),
                g.admit(c.L_DECISION_TYPE, decision_type),
                observed=None if confidence is not None else 1,
            )
            hit = (self.metrics.decisions.labels(*labels), labels)
            if len(self._decision) < self._cache_size and c.OVERFLOW_VALUE not in labels:
                self._decision[key] = hit
        count, labels = hit
        count.inc()
        if confidence is not None:
            # Created on first use only: a decision without confidence adds no histogram.
            self.metrics.decision_confidence.labels(*labels).observe(conf)

    def routing_outcome(self, agent: str, outcome: str | c.RoutingOutcome | bool) -> None:
        """Record whether a routing decision of ``agent`` was correct."""
        agent = check_name("agent_name", agent)
        if isinstance(outcome, bool):
            o = (c.RoutingOutcome.CORRECT if outcome else c.RoutingOutcome.INCORRECT).value
        else:
            o = outcome.value if isinstance(outcome, c.RoutingOutcome) else outcome
        if o not in _OUTCOMES:
            raise InvalidRecord(f"outcome must be one of {sorted(_OUTCOMES)}, got {outcome!r}")
        (a,) = self._budgeted(self._routing_cost, self.guard.admit(c.L_AGENT, agent))
        self.metrics.routing_outcomes.labels(a, o).inc()

    def anomaly(self, agent: str, kind: str) -> None:
        """Record one detected anomaly (low_confidence, handoff_loop, …) of ``agent``."""
        agent = check_name("agent_name", agent)
        kind = check_name("anomaly", kind)
        g = self.guard
        labels = self._budgeted(
            self._anomaly_cost, g.admit(c.L_AGENT, agent), g.admit(c.L_ANOMALY, kind)
        )
        self.metrics.anomalies.labels(*labels).inc()

    def _active_child(self, agent: str) -> Any:
        hit = self._active.get(agent)
        if hit is not None:
            return hit
        admitted = (self.guard.admit(c.L_AGENT, agent),)
        build = self.metrics.active_agents.labels
        return self._children(self._active, agent, self._active_cost, admitted, build)

    def agent_started(self, agent: str) -> None:
        """Count one more running invocation of ``agent`` (``active_agents{agent_name}``)."""
        self._active_child(check_name("agent_name", agent)).inc()

    def agent_finished(self, agent: str) -> None:
        """Count one fewer running invocation of ``agent``."""
        self._active_child(check_name("agent_name", agent)).dec()
