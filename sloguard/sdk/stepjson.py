"""A step in the sample library's flat JSON shape (DESIGN §5): what ``TraceRecord.as_dict`` returns.

Pure: a step's fields in, a JSON-ready dict out. The step's model, token split and error type
are written as OpenTelemetry GenAI attributes beside the (already redacted) attributes given.

Example::

    flat_step(step, redactor.clean(step.additional_attributes))
    # {"step_id": …, "call_type": "TOOL", "additional_attributes": {"gen_ai.request.model": …}, …}
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sloguard import conventions as c
from sloguard.conventions import CallType


class _Nested(Protocol):
    """A callee trace nested in an agent invocation."""

    def as_dict(self) -> dict[str, Any]: ...


class FlatStep(Protocol):
    """The fields of a step the flat shape reads (``sloguard.sdk.trace.TraceRecord`` has them)."""

    @property
    def step_id(self) -> str: ...
    @property
    def trace_id(self) -> str: ...
    @property
    def parent_step_id(self) -> str | None: ...
    @property
    def call_type(self) -> CallType: ...
    @property
    def name(self) -> str: ...
    @property
    def parameters(self) -> dict[str, Any]: ...
    @property
    def requests(self) -> Any: ...
    @property
    def step_type(self) -> str | None: ...
    @property
    def cost(self) -> float | None: ...
    @property
    def total_tokens(self) -> int | None: ...
    @property
    def input_tokens(self) -> int | None: ...
    @property
    def output_tokens(self) -> int | None: ...
    @property
    def model(self) -> str | None: ...
    @property
    def latency(self) -> int | None: ...
    @property
    def start_time(self) -> datetime: ...
    @property
    def end_time(self) -> datetime | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def error_type(self) -> str | None: ...
    @property
    def agent_url(self) -> str | None: ...
    @property
    def response_trace(self) -> _Nested | None: ...


def flat_step(step: FlatStep, attrs: dict[str, Any]) -> dict[str, Any]:
    """Return ``step`` in the flat JSON shape; ``attrs`` (its redacted attributes) is updated
    with the step's model, token split and error type."""
    if step.model is not None:
        attrs[c.GEN_AI_REQUEST_MODEL] = step.model
    if step.input_tokens is not None:
        attrs[c.GEN_AI_INPUT_TOKENS] = step.input_tokens
    if step.output_tokens is not None:
        attrs[c.GEN_AI_OUTPUT_TOKENS] = step.output_tokens
    if step.error_type is not None and step.error is not None:
        attrs.setdefault(c.ERROR_TYPE, step.error_type)
    out: dict[str, Any] = {
        "step_id": step.step_id,
        "trace_id": step.trace_id,
        "parent_step_id": step.parent_step_id,
        "call_type": step.call_type.value,
        "name": step.name,
        "parameters": step.parameters,
        "requests": step.requests,
        "step_type": step.step_type,
        "cost": step.cost,
        "total_tokens": step.total_tokens,
        "additional_attributes": attrs,
        "latency": step.latency,
        "start_time": step.start_time.isoformat(),
        "end_time": step.end_time.isoformat() if step.end_time is not None else None,
        "error": step.error,
    }
    if step.agent_url is not None:
        out["agent_url"] = step.agent_url
    if step.response_trace is not None:
        out["response_trace"] = step.response_trace.as_dict()
    return out
