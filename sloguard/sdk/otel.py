"""Mirror sloguard steps as OpenTelemetry spans that follow the GenAI semantic conventions.

:class:`OTelBridge` is a :class:`~sloguard.sdk.telemetry.StepListener`: every step becomes a span
when it opens and ends with the step's real end time. Names, kinds and operation names follow
the GenAI agent-span conventions (semconv-genai, development status):

========================  =================================  ==========  ====================
step                      span name                          kind        gen_ai.operation.name
========================  =================================  ==========  ====================
AGENT                     ``invoke_agent {name}``            INTERNAL    ``invoke_agent``
AGENT with ``agent_url``  ``invoke_agent {name}``            CLIENT      ``invoke_agent``
TOOL                      ``execute_tool {name}``            INTERNAL    ``execute_tool``
HOST ``workflow()``       ``invoke_workflow {name}``         INTERNAL    ``invoke_workflow``
other HOST                ``{name}``                         INTERNAL    (none)
========================  =================================  ==========  ====================

Agent steps run in this process (the "invoke agent internal span"), so they are INTERNAL; only
a step that already knows a remote ``agent_url`` when it opens (an A2A call) is a CLIENT span.

A span's parent is the span of the parent step; a root step's parent is OpenTelemetry's current
context, so a span the application opened around the work becomes the parent. While a step is
the current step, its span is OpenTelemetry's current span too, so the application's own
instrumentation inside the step nests under it. Each asyncio task keeps its own context, so
concurrent steps never take each other's spans as parents.

Example::

    from opentelemetry.sdk.trace import TracerProvider
    import sloguard

    telemetry = sloguard.enable_otel(tracer_provider=TracerProvider())
    sloguard.set_default_telemetry(telemetry)   # whole process, or for one block:
    with sloguard.use_telemetry(telemetry):
        async with sloguard.workflow("support", "wf-001"):
            await supervisor("refund order 42")
"""

from __future__ import annotations

import logging
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from sloguard import conventions as c
from sloguard.conventions import CallType
from sloguard.errors import MissingExtra
from sloguard.sdk.context import current_step_var
from sloguard.sdk.telemetry import Telemetry, current_telemetry

try:
    from opentelemetry import context as otel_context
    from opentelemetry import trace
    from opentelemetry.trace import Span, SpanKind, Status, StatusCode, TracerProvider
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtra("the OpenTelemetry bridge", "otel", "opentelemetry-api") from exc

if TYPE_CHECKING:
    from opentelemetry.context import Context

    from sloguard.sdk.trace import ResponseTrace, TraceRecord

__all__ = ["EXCEPTION_KEY", "SPAN_KEY", "OTelBridge", "enable_otel"]

_log = logging.getLogger(__name__)

#: Key of the step's span in ``TraceRecord.ext`` (add your own attributes to it).
SPAN_KEY: Final = "otel.span"
#: Key under which ``TraceStep.close`` may lend the body's exception to listeners.
EXCEPTION_KEY: Final = "exception"
_ATTACH_KEY: Final = "otel.attach"

# Attribute keys that sloguard adds beside the GenAI ones (no convention exists for them).
A_STEP_ID: Final = "sloguard.step_id"
A_TRACE_ID: Final = "sloguard.trace_id"
A_PARENT_STEP_ID: Final = "sloguard.parent_step_id"
A_CALL_TYPE: Final = "sloguard.call_type"
A_COST: Final = "sloguard.cost_usd"
A_TOTAL_TOKENS: Final = "sloguard.usage.total_tokens"
GEN_AI_WORKFLOW_NAME: Final = "gen_ai.workflow.name"
WORKFLOW_STEP_TYPE: Final = "workflow"


@dataclass(frozen=True, slots=True)
class SpanShape:
    """How one kind of step looks as a span."""

    operation: str | None
    kind: SpanKind
    name_attribute: str | None


#: (call type, is a workflow) → span shape.
SHAPES: Final[dict[tuple[CallType, bool], SpanShape]] = {
    (CallType.AGENT, False): SpanShape("invoke_agent", SpanKind.INTERNAL, c.GEN_AI_AGENT_NAME),
    (CallType.AGENT, True): SpanShape("invoke_agent", SpanKind.INTERNAL, c.GEN_AI_AGENT_NAME),
    (CallType.TOOL, False): SpanShape("execute_tool", SpanKind.INTERNAL, c.GEN_AI_TOOL_NAME),
    (CallType.TOOL, True): SpanShape("execute_tool", SpanKind.INTERNAL, c.GEN_AI_TOOL_NAME),
    (CallType.HOST, True): SpanShape("invoke_workflow", SpanKind.INTERNAL, GEN_AI_WORKFLOW_NAME),
    (CallType.HOST, False): SpanShape(None, SpanKind.INTERNAL, None),
}

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US: Final = timedelta(microseconds=1)

# Set together with each OTel attach: resetting it first tells whether the step ends in the
# contextvars.Context it was attached in, so OTel's detach() is only called when it can work
# (OTel logs a traceback instead of raising when it cannot).
_attached_marker: ContextVar[object] = ContextVar("sloguard_otel_attached", default=None)


def _ns(moment: datetime) -> int:
    """Return ``moment`` as integer nanoseconds since the epoch (no float rounding)."""
    return (moment - _EPOCH) // _ONE_US * 1_000


def shape_of(step: TraceRecord) -> SpanShape:
    """Return the span shape of ``step`` (see the module table)."""
    shape = SHAPES[(step.call_type, step.step_type == WORKFLOW_STEP_TYPE)]
    if step.call_type is CallType.AGENT and step.agent_url:
        return SpanShape(shape.operation, SpanKind.CLIENT, shape.name_attribute)
    return shape


def span_name(step: TraceRecord, shape: SpanShape) -> str:
    """Return ``"{operation} {name}"`` (the GenAI convention), or the step name."""
    return f"{shape.operation} {step.name}" if shape.operation else step.name


def _is_attribute_value(value: Any) -> bool:
    if isinstance(value, str | bool | int | float):
        return True
    if isinstance(value, list | tuple) and value:
        kinds = {type(v) for v in value}
        return len(kinds) == 1 and next(iter(kinds)) in (str, bool, int, float)
    return False


def _error_message(step: TraceRecord) -> str:
    """Return the message part of ``step.error`` (``"Type: message"`` → ``"message"``)."""
    error, error_type = step.error or "", step.error_type or ""
    if error_type and error.startswith(f"{error_type}: "):
        return error[len(error_type) + 2 :]
    return "" if error == error_type else error


class OTelBridge:
    """A step listener that records each sloguard step as an OpenTelemetry span.

    Example::

        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        telemetry = Telemetry(listeners=[OTelBridge(provider)])

    ``tracer_provider`` defaults to OpenTelemetry's global provider (resolved lazily, so it may
    be set after the bridge is built).
    """

    __slots__ = ("_spans", "_tracer")

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        from sloguard.version import __version__

        self._tracer = trace.get_tracer("sloguard", __version__, tracer_provider=tracer_provider)
        # Spans of the open steps, by step id: how a child step finds its parent's span.
        self._spans: dict[str, Span] = {}

    # --- StepListener -------------------------------------------------------------------------
    def step_started(self, step: TraceRecord) -> None:
        """Open the step's span; make it current when the step is the current step."""
        try:
            self._start(step)
        except Exception:  # a tracing failure must never break the agent
            _log.warning("sloguard: no span for step %r", step.name, exc_info=True)

    def step_ended(self, step: TraceRecord) -> None:
        """Set the step's figures and outcome on its span and end it at the step's end time."""
        try:
            self._end(step)
        except Exception:  # a tracing failure must never break the agent
            _log.warning("sloguard: span of step %r not ended", step.name, exc_info=True)

    def trace_ended(self, trace: ResponseTrace) -> None:
        """Nothing to do: every span was ended with its step."""

    # --- implementation ----------------------------------------------------------------------
    def _start(self, step: TraceRecord) -> None:
        shape = shape_of(step)
        current = otel_context.get_current()
        parent_span = (
            self._spans.get(step.parent_step_id) if step.parent_step_id is not None else None
        )
        # Few attributes at start: the SDK's per-attribute validation dominates the span cost.
        attributes: dict[str, str] = {A_STEP_ID: step.step_id, A_TRACE_ID: step.trace_id}
        if shape.operation is not None:
            attributes[c.GEN_AI_OPERATION] = shape.operation
        else:  # nothing else tells what the span is
            attributes[A_CALL_TYPE] = step.call_type.value
        if shape.name_attribute is not None:
            attributes[shape.name_attribute] = step.name
        if parent_span is not None:
            parent = trace.set_span_in_context(parent_span, current)
        else:
            parent = current
            if step.parent_step_id is not None:  # a remote parent (A2A): keep the link by id
                attributes[A_PARENT_STEP_ID] = step.parent_step_id
        span = self._tracer.start_span(
            span_name(step, shape),
            context=parent,
            kind=shape.kind,
            attributes=attributes,
            start_time=_ns(step.start_time),
        )
        step.ext[SPAN_KEY] = span
        self._spans[step.step_id] = span
        if current_step_var.get() is step:
            token = otel_context.attach(trace.set_span_in_context(span, current))
            step.ext[_ATTACH_KEY] = (token, _attached_marker.set(step))

    def _end(self, step: TraceRecord) -> None:
        self._spans.pop(step.step_id, None)
        attached: tuple[Token[Context], Token[object]] | None = step.ext.pop(_ATTACH_KEY, None)
        if attached is not None:
            self._detach(*attached)
        span: Span | None = step.ext.get(SPAN_KEY)
        if span is None:
            return
        for key, value in step.additional_attributes.items():
            if _is_attribute_value(value):
                span.set_attribute(key, value)
        if step.model is not None:
            span.set_attribute(c.GEN_AI_REQUEST_MODEL, step.model)
        if step.input_tokens is not None:
            span.set_attribute(c.GEN_AI_INPUT_TOKENS, step.input_tokens)
        if step.output_tokens is not None:
            span.set_attribute(c.GEN_AI_OUTPUT_TOKENS, step.output_tokens)
        unsplit = step.input_tokens is None and step.output_tokens is None
        if step.total_tokens is not None and unsplit:
            span.set_attribute(A_TOTAL_TOKENS, step.total_tokens)
        if step.cost is not None:
            span.set_attribute(A_COST, step.cost)
        end = _ns(step.end_time) if step.end_time is not None else None
        if step.failed:
            self._record_error(span, step, end)
        span.end(end_time=end)

    @staticmethod
    def _record_error(span: Span, step: TraceRecord, end: int | None) -> None:
        # Per the recording-errors convention: status ERROR with a description, error.type, and
        # an exception event. Success keeps the status UNSET (instrumentation must not set OK).
        error_type = step.error_type or "_OTHER"
        span.set_status(Status(StatusCode.ERROR, step.error))
        span.set_attribute(c.ERROR_TYPE, error_type)
        exception = step.ext.get(EXCEPTION_KEY)
        if isinstance(exception, BaseException):  # with its stack trace
            span.record_exception(exception, timestamp=end)
            return
        event: dict[str, str] = {"exception.type": error_type}
        message = _error_message(step)
        if message:
            event["exception.message"] = message
        span.add_event("exception", event, timestamp=end)

    @staticmethod
    def _detach(token: Token[Context], marker: Token[object]) -> None:
        try:
            _attached_marker.reset(marker)
        except ValueError:  # the step ends in another context (another task or thread)
            return
        otel_context.detach(token)


def enable_otel(
    telemetry: Telemetry | None = None, tracer_provider: TracerProvider | None = None
) -> Telemetry:
    """Return ``telemetry`` (default: the current one) with an :class:`OTelBridge` added.

    An OTel bridge already present is replaced, so calling this twice does not double the
    spans. The result is a new :class:`Telemetry`; make it current with
    ``sloguard.set_default_telemetry(t)`` (whole process) or ``with sloguard.use_telemetry(t):``
    (one block and the tasks started inside it), or pass it as ``telemetry=`` to steps.

    Example::

        telemetry = enable_otel(tracer_provider=provider)
        sloguard.set_default_telemetry(telemetry)
    """
    base = telemetry if telemetry is not None else current_telemetry()
    listeners = [listener for listener in base.listeners if not isinstance(listener, OTelBridge)]
    return Telemetry(
        base.recorder,
        redactor=base.redactor,
        listeners=[*listeners, OTelBridge(tracer_provider)],
        exemplars=base.exemplars,
    )
