"""``MetricsCollector``: seed 000's helper API on top of the one recorder.

Works as in the seed, called on the class (``MetricsCollector.record_agent_call(...)`` records
into the current telemetry), or on an instance bound to a recorder of your own.

Example::

    collector = MetricsCollector(Recorder(AgentMetrics(registry=CollectorRegistry())))
    collector.record_agent_call("billing", "success", 1.4, 120, 80, "gpt-4o")
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sloguard.conventions import RoutingOutcome, Status
from sloguard.sdk.recorder import Recorder
from sloguard.sdk.telemetry import current_telemetry

R = TypeVar("R")


class _either(Generic[R]):
    """Method callable on the class (current telemetry's recorder) or on an instance."""

    def __init__(self, func: Callable[..., R]) -> None:
        self.func = func
        self.__doc__ = func.__doc__

    def __get__(self, obj: MetricsCollector | None, cls: type | None = None) -> Callable[..., R]:
        def bound(*args: Any, **kwargs: Any) -> R:
            recorder = obj.recorder if obj is not None else current_telemetry().recorder
            return self.func(recorder, *args, **kwargs)

        bound.__doc__ = self.func.__doc__
        return bound


class MetricsCollector:
    """Seed 000's metric helpers; every method goes through :class:`Recorder`."""

    def __init__(self, recorder: Recorder | None = None) -> None:
        self._recorder = recorder

    @property
    def recorder(self) -> Recorder:
        """The recorder this collector writes to."""
        return self._recorder if self._recorder is not None else current_telemetry().recorder

    @_either
    def record_agent_call(
        recorder: Recorder,
        agent_name: str,
        status: str | Status,
        duration: float,
        input_tokens: int = 0,
        output_tokens: int = 0,
        model: str | None = None,
        *,
        cost: float | None = None,
        trace_id: str | None = None,
    ) -> None:
        """Record one agent call: count, latency (seconds), tokens by direction, cost."""
        recorder.agent_call(
            agent_name,
            status,
            duration,
            model=model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost=cost,
            trace_id=trace_id,
        )

    @_either
    def record_tool_call(
        recorder: Recorder,
        agent_name: str,
        tool_name: str,
        status: str | Status,
        duration: float,
    ) -> None:
        """Record one tool call of ``agent_name``."""
        recorder.tool_call(agent_name, tool_name, status, duration)

    @_either
    def record_handoff(recorder: Recorder, source_agent: str, target_agent: str) -> None:
        """Record a handoff between two agents."""
        recorder.handoff(source_agent, target_agent)

    @_either
    def record_decision(
        recorder: Recorder,
        agent_name: str,
        decision_type: str,
        confidence: float | None = None,
    ) -> None:
        """Record a decision and its confidence."""
        recorder.decision(agent_name, decision_type, confidence)

    @_either
    def record_routing_outcome(
        recorder: Recorder,
        agent_name: str,
        outcome: str | RoutingOutcome | bool,
    ) -> None:
        """Record whether a routing decision was correct (feeds routing-accuracy SLOs)."""
        recorder.routing_outcome(agent_name, outcome)
