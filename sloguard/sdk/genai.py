"""Feed the optional OpenTelemetry GenAI client metrics from the recorder's agent calls.

The recorder calls :meth:`GenAIRecorder.call` and :meth:`GenAIRecorder.tokens` with label values
the cardinality guard already admitted; each new combination must also fit the series budget of
its family (``gen_ai_client_operation_duration_seconds`` per agent,
``gen_ai_client_token_usage`` per agent and model), else it is recorded under ``_other`` and
counted in ``sloguard_series_overflow_total{metric}``, as for the ``agent_*`` families.

Example::

    metrics = AgentMetrics(registry=CollectorRegistry(), gen_ai=True)
    g = GenAIRecorder(metrics, CardinalityGuard())
    g.call("planner", ok=True, duration=1.2)
    g.tokens("planner", "gpt-4o", 120, 80)
"""

from __future__ import annotations

from sloguard import conventions as c
from sloguard.sdk.guard import CardinalityGuard
from sloguard.sdk.metrics import AgentMetrics, GenAIMetrics

__all__ = ["GenAIRecorder"]

_OP = c.GEN_AI_INVOKE_AGENT


class GenAIRecorder:
    """Record agent calls in the GenAI families of ``metrics.gen_ai`` (which must exist)."""

    def __init__(self, metrics: AgentMetrics, guard: CardinalityGuard) -> None:
        if metrics.gen_ai is None:
            raise ValueError("GenAIRecorder needs AgentMetrics(gen_ai=True)")
        self._m: GenAIMetrics = metrics.gen_ai
        self._overflow = metrics.series_overflow
        self._guard = guard
        per = metrics.series_per_combination
        self._duration_cost = ((c.GEN_AI_OPERATION_DURATION, per[c.GEN_AI_OPERATION_DURATION]),)
        self._token_cost = ((c.GEN_AI_TOKEN_USAGE, per[c.GEN_AI_TOKEN_USAGE]),)
        # admitted label values per raw value; children are made on first use, so an error or
        # token-type series appears only once it has an observation
        self._calls: dict[str, str] = {}
        self._usage: dict[tuple[str, str], tuple[str, str]] = {}

    def _fit(self, cost: tuple[tuple[str, int], ...], values: tuple[str, ...]) -> tuple[str, ...]:
        if self._guard.admit_series(cost, values):
            return values
        self._overflow.labels(cost[0][0]).inc()
        return (c.OVERFLOW_VALUE,) * len(values)

    def call(self, agent: str, *, ok: bool, duration: float) -> None:
        """Observe one agent call of ``agent`` (an admitted label value) lasting ``duration``."""
        a = self._calls.get(agent)
        if a is None:
            (a,) = self._fit(self._duration_cost, (agent,))
            if a != c.OVERFLOW_VALUE:
                self._calls[agent] = a
        error = "" if ok else c.GEN_AI_OTHER_ERROR
        self._m.duration.labels(_OP, a, error).observe(duration)

    def tokens(self, agent: str, model: str, input_tokens: int | None, output: int | None) -> None:
        """Observe the input and output tokens of one call (admitted label values)."""
        if input_tokens is None and output is None:
            return
        key = (agent, model)
        found = self._usage.get(key)
        if found is None:
            fitted = self._fit(self._token_cost, key)
            found = (fitted[0], fitted[1])
            if c.OVERFLOW_VALUE not in found:
                self._usage[key] = found
        usage = self._m.token_usage
        if input_tokens is not None:
            usage.labels(_OP, *found, "input").observe(input_tokens)
        if output is not None:
            usage.labels(_OP, *found, "output").observe(output)
