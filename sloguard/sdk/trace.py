"""The A2A traceability trace model (seed 001): :class:`TraceRecord` steps of a ResponseTrace.

Unlike the sample library, timing is real (monotonic clock), zero cost/tokens are kept, ending a
step twice or with bad values raises :class:`~sloguard.errors.TraceError` before anything is
recorded, and the parent step is taken from context (async-safe) when not given.

Example (the seed's "pattern 1", full manual control)::

    trace = ResponseTrace()
    step = TraceRecord(CallType.AGENT, name="user query")
    ...
    step.end_step(cost=0.1, total_tokens=500)
    trace.add_step(step)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any

from sloguard.conventions import CallType
from sloguard.errors import TraceError
from sloguard.sdk.figures import check_latency, check_usage
from sloguard.sdk.ids import new_id
from sloguard.sdk.redact import Redactor
from sloguard.sdk.stepjson import flat_step
from sloguard.sdk.traceparse import parse_into

_DEFAULT_REDACTOR = Redactor()

#: The innermost open step and the workflow's trace of this context (async-safe: each task has
#: its own copy); read through :mod:`sloguard.sdk.context`.
current_step_var: ContextVar[TraceRecord | None] = ContextVar("sloguard_step", default=None)
current_trace_var: ContextVar[ResponseTrace | None] = ContextVar("sloguard_trace", default=None)

#: Records a step ended by hand (not by a ``TraceStep``). :mod:`sloguard.sdk.telemetry`, which
#: ``import sloguard`` always loads, installs the one that feeds the current telemetry.
_step_ended: list[Callable[[TraceRecord], None]] = []


def on_step_ended(record: Callable[[TraceRecord], None]) -> None:
    """Install what records a step ended by hand (one, replacing any before it)."""
    _step_ended[:] = [record]


class TraceRecord:
    """One step of a trace: an agent call, a tool call or host work.

    ``cost``, tokens and latency are the step's *own* figures; they do not include children.
    """

    __slots__ = (
        "_ended",
        "_fixed_ms",
        "_managed",
        "_redactor",
        "_t0",
        "additional_attributes",
        "agent_url",
        "call_type",
        "cost",
        "duration",
        "end_time",
        "error",
        "error_type",
        "ext",
        "input_tokens",
        "latency",
        "model",
        "name",
        "output_tokens",
        "parameters",
        "parent_step_id",
        "requests",
        "response_trace",
        "scope_agent",
        "scope_host",
        "start_time",
        "step_id",
        "step_type",
        "total_tokens",
        "trace",
        "trace_id",
    )

    def __init__(
        self,
        call_type: CallType | str,
        name: str = "",
        *,
        parameters: Mapping[str, Any] | None = None,
        requests: Any = None,
        step_type: str | None = None,
        trace_id: str | None = None,
        step_id: str | None = None,
        parent_step_id: str | None = None,
        trace: ResponseTrace | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        try:
            self.call_type = call_type if call_type.__class__ is CallType else CallType(call_type)
        except ValueError:
            raise TraceError(
                f"call_type must be one of AGENT, TOOL, HOST, got {call_type!r}"
            ) from None
        self.name = name or self.call_type.value.lower()
        self.step_id = step_id or new_id()
        self.step_type = step_type
        r = self._redactor = redactor or _DEFAULT_REDACTOR
        self.parameters: dict[str, Any] = r.clean(parameters)
        self.requests = (
            r.clean(requests)
            if requests is not None and isinstance(requests, Mapping)
            else requests
        )
        parent = current_step_var.get()
        if trace is not None and parent is not None and parent.trace is not trace:
            parent = None  # the open step belongs to another trace: not our parent
        self.trace: ResponseTrace | None = trace
        if trace is None:
            self.trace = parent.trace if parent is not None else current_trace_var.get()
        self.trace_id: str = trace_id or (
            self.trace.trace_id
            if self.trace is not None
            else parent.trace_id
            if parent is not None
            else new_id()
        )
        self.parent_step_id = parent_step_id or (parent.step_id if parent is not None else None)
        # Nearest enclosing AGENT / HOST names: tool metrics and handoffs are attributed to them.
        if parent is None:
            self.scope_agent: str | None = None
            self.scope_host: str | None = None
        else:
            self.scope_agent = (
                parent.name if parent.call_type is CallType.AGENT else parent.scope_agent
            )
            self.scope_host = (
                parent.name if parent.call_type is CallType.HOST else parent.scope_host
            )
        self.start_time = datetime.now(UTC)
        self._t0 = time.perf_counter()
        self.end_time: datetime | None = None
        self.latency: int | None = None
        self.duration: float | None = None
        self.cost: float | None = None
        self.total_tokens: int | None = None
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.model: str | None = None
        self.additional_attributes: dict[str, Any] = {}
        self.error: str | None = None
        self.error_type: str | None = None
        self.agent_url: str | None = None
        self.response_trace: ResponseTrace | None = None
        self.ext: dict[str, Any] = {}
        self._ended = False
        self._managed = False  # owned by a TraceStep: the clock stops when its block exits
        self._fixed_ms: float | None = None

    def _redactor_(self) -> Redactor:
        # The parser builds steps without __init__ (no redactor of their own): the default.
        return getattr(self, "_redactor", _DEFAULT_REDACTOR)

    @property
    def ended(self) -> bool:
        """True once :meth:`end_step` ran."""
        return self._ended

    @property
    def failed(self) -> bool:
        """True when the step recorded an error."""
        return self.error is not None

    def end_step(
        self,
        cost: float | None = None,
        total_tokens: int | None = None,
        *,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        model: str | None = None,
        additional_attributes: Mapping[str, Any] | None = None,
        error: BaseException | str | None = None,
        latency: float | None = None,
    ) -> None:
        """End the step with its figures; raise :class:`TraceError` (recording nothing) if bad.

        ``latency`` (milliseconds) overrides the measured time, for work timed elsewhere.
        """
        i, o, t = self._check_usage(model, input_tokens, output_tokens, total_tokens, cost)
        check_latency(self.name, latency)
        self._ended = True
        self._fixed_ms = float(latency) if latency is not None else None
        self._accumulate(model, i, o, t, total_tokens, cost)
        if additional_attributes:
            # Attributes are stored and exported like parameters: redacted as they come in.
            self.additional_attributes.update(self._redactor_().clean(additional_attributes))
        if error is not None:
            self.set_error(error)
        if not self._managed:
            self.stop_clock()
            for record in _step_ended:
                record(self)

    def add_usage(
        self,
        *,
        model: str | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        total_tokens: int | None = None,
        cost: float | None = None,
    ) -> None:
        """Add the usage of one LLM call to the step (several calls accumulate)."""
        i, o, t = self._check_usage(model, input_tokens, output_tokens, total_tokens, cost)
        self._accumulate(model, i, o, t, total_tokens, cost)

    def _check_usage(
        self,
        model: str | None,
        input_tokens: int | None,
        output_tokens: int | None,
        total_tokens: int | None,
        cost: float | None,
    ) -> tuple[int | None, int | None, int | None]:
        """Validate usage figures (raising TraceError, changing nothing); return the split."""
        if self._ended:
            raise TraceError(f"step {self.name!r} ({self.step_id}) was already ended")
        return check_usage(self.name, model, input_tokens, output_tokens, total_tokens, cost)

    def _accumulate(
        self,
        model: str | None,
        i: int | None,
        o: int | None,
        t: int | None,
        total: int | None,
        cost: float | None,
    ) -> None:
        if cost is not None:
            self.cost = (self.cost or 0.0) + float(cost)
        if i is not None:
            self.input_tokens = (self.input_tokens or 0) + i
        if o is not None:
            self.output_tokens = (self.output_tokens or 0) + o
        added = (
            total
            if total is not None
            else ((i or 0) + (o or 0) if i is not None or o is not None else t)
        )
        if added is not None:
            self.total_tokens = (self.total_tokens or 0) + added
        if model is not None:
            self.model = model

    def stop_clock(self) -> None:
        """Fix the end time and latency (an explicit ``latency=`` wins over the clock)."""
        if self._fixed_ms is not None:
            self.duration = self._fixed_ms / 1000.0
        else:
            self.duration = time.perf_counter() - self._t0
        self.end_time = self.start_time + timedelta(seconds=self.duration)
        self.latency = round(self.duration * 1000)

    def set_error(self, error: BaseException | str) -> None:
        """Record an error (an exception's type and message, or a message)."""
        if isinstance(error, BaseException):
            self.error_type = type(error).__name__
            self.error = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        else:
            self.error = str(error)
            self.error_type = self.error_type or "error"

    # --- serialisation ------------------------------------------------------------------------
    def as_dict(self) -> dict[str, Any]:
        """Return the step in the sample library's flat JSON shape (DESIGN §5).

        Attributes are redacted again: code may have set some on the step directly.
        """
        return flat_step(self, self._redactor_().clean(self.additional_attributes))

    def __repr__(self) -> str:
        state = "error" if self.failed else ("ended" if self._ended else "open")
        return f"<TraceRecord {self.call_type.value} {self.name!r} {self.step_id[:8]} {state}>"


Step = TraceRecord


class ResponseTrace:
    """A trace: the steps of one piece of work, in completion order.

    Example::

        trace = ResponseTrace("risk-assessment-" + transaction_id)
        with TraceStep(trace, CallType.AGENT, "risk assessment") as step:
            ...
        trace.as_dict()
    """

    __slots__ = ("steps", "trace_id")

    def __init__(self, trace_id: str | None = None, steps: list[TraceRecord] | None = None) -> None:
        self.trace_id = trace_id or new_id()
        self.steps: list[TraceRecord] = list(steps or [])

    def add_step(self, step: TraceRecord) -> None:
        """Append a step (completed steps are added by :class:`TraceStep` automatically)."""
        step.trace = self
        self.steps.append(step)

    def step(self, step_id: str) -> TraceRecord | None:
        """Return the step with ``step_id``, if it is in this trace."""
        return next((s for s in self.steps if s.step_id == step_id), None)

    def children(self, step_id: str | None) -> list[TraceRecord]:
        """Return the steps whose parent is ``step_id`` (``None``: the root steps)."""
        ids = {s.step_id for s in self.steps}
        if step_id is None:
            return [s for s in self.steps if s.parent_step_id not in ids]
        return [s for s in self.steps if s.parent_step_id == step_id]

    def walk(self) -> Iterator[TraceRecord]:
        """Yield every step, including those of callee traces nested in agent invocations."""
        for s in self.steps:
            yield s
            if s.response_trace is not None:
                yield from s.response_trace.walk()

    @property
    def has_errors(self) -> bool:
        """True when any step failed."""
        return any(s.failed for s in self.steps)

    @property
    def total_cost(self) -> float:
        """The sum of the steps' own costs (seed 001); a step without a cost adds 0."""
        return sum(s.cost or 0.0 for s in self.steps)

    @property
    def total_latency(self) -> float:
        """End-to-end milliseconds, first step start to last step end (seed 001); 0 if empty.

        Not the sum of the steps' latencies: nested and concurrent steps overlap. A step not
        ended yet counts as ending when it started. Callee traces nested in agent invocations
        are not included (as for :attr:`total_cost`; :meth:`walk` reaches them).
        """
        if not self.steps:
            return 0.0
        start = min(s.start_time for s in self.steps)
        end = max(s.end_time or s.start_time for s in self.steps)
        return (end - start).total_seconds() * 1000

    def as_dict(self) -> dict[str, Any]:
        """Return ``{"trace_id", "steps"}`` with steps in the flat JSON shape."""
        return {"trace_id": self.trace_id, "steps": [s.as_dict() for s in self.steps]}

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, max_depth: int = 8, max_steps: int = 10_000
    ) -> ResponseTrace:
        """Parse a trace in either JSON shape (flat sample library or nested spec).

        Raises :class:`TraceError` naming every problem (``steps[3].cost: …``).
        """
        trace: ResponseTrace = parse_into(cls, TraceRecord, data, max_depth, max_steps)
        return trace

    def __repr__(self) -> str:
        return f"<ResponseTrace {self.trace_id} steps={len(self.steps)}>"


def parse_trace(data: Any, *, max_depth: int = 8, max_steps: int = 10_000) -> ResponseTrace:
    """Parse one trace in either JSON shape; raise :class:`TraceError` listing every problem."""
    return ResponseTrace.from_dict(data, max_depth=max_depth, max_steps=max_steps)
