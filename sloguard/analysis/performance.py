"""``analyze_trace_performance``: cost, tokens, wall latency and the bottleneck of a trace.

Pure: takes step values, returns values. The bottleneck is the step with the most *exclusive*
time (its own latency minus the time covered by its children), so a parent that merely waits
for its children is not blamed, unlike the seed's ``max(latency)``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol


class StepLike(Protocol):
    """What the analysis needs of a step."""

    @property
    def step_id(self) -> str: ...
    @property
    def parent_step_id(self) -> str | None: ...
    @property
    def name(self) -> str: ...
    @property
    def call_type(self) -> Any: ...
    @property
    def start_time(self) -> datetime: ...
    @property
    def end_time(self) -> datetime | None: ...
    @property
    def latency(self) -> int | None: ...
    @property
    def cost(self) -> float | None: ...
    @property
    def total_tokens(self) -> int | None: ...
    @property
    def error(self) -> str | None: ...


class TraceLike(Protocol):
    """What the analysis needs of a trace."""

    @property
    def trace_id(self) -> str: ...
    @property
    def steps(self) -> Sequence[StepLike]: ...


@dataclass(frozen=True, slots=True)
class Bottleneck:
    """The step that spent the most time on its own."""

    step_id: str
    name: str
    latency_ms: float
    exclusive_ms: float


@dataclass(frozen=True, slots=True)
class TracePerformance:
    """Result of :func:`analyze_trace_performance`."""

    trace_id: str
    steps: int
    errors: int
    total_cost: float
    total_tokens: int
    total_latency_ms: float
    bottleneck: Bottleneck | None
    cost_by_type: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict."""
        b = self.bottleneck
        return {
            "trace_id": self.trace_id,
            "steps": self.steps,
            "errors": self.errors,
            "total_cost": self.total_cost,
            "total_tokens": self.total_tokens,
            "total_latency_ms": self.total_latency_ms,
            "bottleneck": None
            if b is None
            else {
                "step_id": b.step_id,
                "name": b.name,
                "latency_ms": b.latency_ms,
                "exclusive_ms": b.exclusive_ms,
            },
            "cost_by_type": dict(self.cost_by_type),
        }


def _end(step: StepLike) -> datetime:
    if step.end_time is not None:
        return step.end_time
    return step.start_time + timedelta(milliseconds=step.latency or 0)


def _covered_ms(intervals: Iterable[tuple[datetime, datetime]]) -> float:
    total = 0.0
    cur_start: datetime | None = None
    cur_end: datetime | None = None
    for s, e in sorted(intervals):
        if cur_end is None or s > cur_end:
            if cur_start is not None and cur_end is not None:
                total += (cur_end - cur_start).total_seconds() * 1000
            cur_start, cur_end = s, e
        elif e > cur_end:
            cur_end = e
    if cur_start is not None and cur_end is not None:
        total += (cur_end - cur_start).total_seconds() * 1000
    return total


def analyze_trace_performance(trace: TraceLike) -> TracePerformance:
    """Summarise a trace: total cost and tokens (zeros count), wall latency, bottleneck."""
    steps = list(trace.steps)
    if not steps:
        return TracePerformance(trace.trace_id, 0, 0, 0.0, 0, 0.0, None, {})
    cost_by_type: dict[str, float] = defaultdict(float)
    for s in steps:
        ct = getattr(s.call_type, "value", str(s.call_type))
        cost_by_type[ct] += s.cost or 0.0
    wall = (max(_end(s) for s in steps) - min(s.start_time for s in steps)).total_seconds() * 1000
    children: dict[str, list[StepLike]] = defaultdict(list)
    for s in steps:
        if s.parent_step_id is not None:
            children[s.parent_step_id].append(s)
    best: Bottleneck | None = None
    for s in steps:
        latency = float(s.latency or 0)
        start, end = s.start_time, _end(s)
        inner = [(max(c.start_time, start), min(_end(c), end)) for c in children.get(s.step_id, [])]
        exclusive = max(0.0, latency - _covered_ms((a, b) for a, b in inner if b > a))
        if best is None or exclusive > best.exclusive_ms:
            best = Bottleneck(s.step_id, s.name, latency, exclusive)
    return TracePerformance(
        trace_id=trace.trace_id,
        steps=len(steps),
        errors=sum(1 for s in steps if s.error is not None),
        total_cost=sum(s.cost or 0.0 for s in steps),
        total_tokens=sum(s.total_tokens or 0 for s in steps),
        total_latency_ms=wall,
        bottleneck=best,
        cost_by_type=dict(cost_by_type),
    )
