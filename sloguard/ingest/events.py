"""``POST /v1/events``: plain JSON events for agents that are neither Python nor OpenTelemetry.

Body: ``{"events": [<event>, ...]}`` (at most ``max_items`` events, 1000 by default). Each event
is an object whose ``type`` selects its fields; unknown fields are refused. Every event maps to
one call of the recorder, the same calls the Python SDK makes:

=================  ===========================================================================
type               fields (``?`` optional)
=================  ===========================================================================
agent_call         agent, status (success|error), duration_seconds, model?, input_tokens?,
                   output_tokens?, total_tokens?, cost_usd?, trace_id?
tool_call          agent?, tool, status (success|error), duration_seconds, trace_id?
handoff            source_agent, target_agent
decision           agent, decision_type, confidence? (0..1)
routing_outcome    agent, outcome (correct|incorrect)
usage              agent, model?, input_tokens?, output_tokens?, total_tokens?, cost_usd?
anomaly            agent, anomaly (e.g. low_confidence, handoff_loop)
=================  ===========================================================================

Types are strict (``"1.5"`` is not a number, ``true`` is not a count); durations are seconds,
costs US dollars, token counts integers >= 0. ``cost_usd`` is the provider's figure; without
it, the cost of tokens is computed from the pricing table (tokens that cannot be priced are
counted in ``sloguard_unpriced_tokens_total``). ``trace_id`` becomes the exemplar of the
latency observation. The batch is atomic: one bad event rejects all of them (422, every problem
listed as ``events[3].duration_seconds``), and nothing is recorded.

Example::

    curl -X POST localhost:9464/v1/events -H 'Content-Type: application/json' -d '{"events": [
      {"type": "agent_call", "agent": "planner", "status": "success", "duration_seconds": 1.2,
       "model": "gpt-4o", "input_tokens": 900, "output_tokens": 150},
      {"type": "tool_call", "agent": "planner", "tool": "search", "status": "error",
       "duration_seconds": 0.4},
      {"type": "handoff", "source_agent": "planner", "target_agent": "writer"}]}'
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from sloguard.ingest.batch import Batch
from sloguard.ingest.intake import IngestResult
from sloguard.ingest.problems import Rejected, problem
from sloguard.sdk.recorder import Recorder
from sloguard.yamldoc import error_message

Name = Annotated[str, Field(min_length=1)]
Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False, description="Seconds.")]
Tokens = Annotated[int, Field(ge=0)]
Usd = Annotated[float, Field(ge=0, allow_inf_nan=False, description="US dollars.")]
TraceId = Annotated[str, Field(min_length=1, max_length=120)]
CallStatus = Literal["success", "error"]

#: Recorder argument → event field (to locate problems the recorder finds).
_FIELDS = {
    "agent_name": "agent",
    "duration": "duration_seconds",
    "cost": "cost_usd",
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "total_tokens": "total_tokens",
    "model": "model",
    "tool_name": "tool",
    "source_agent": "source_agent",
    "target_agent": "target_agent",
    "decision_type": "decision_type",
    "confidence": "confidence",
    "anomaly": "anomaly",
}


class _Event(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", strict=True, use_attribute_docstrings=True
    )

    def record(self, recorder: Recorder) -> None:  # pragma: no cover - every event overrides
        raise NotImplementedError


class AgentCallEvent(_Event):
    """One finished agent invocation: counted, timed, and its tokens and cost added."""

    type: Literal["agent_call"]
    agent: Name
    status: CallStatus
    duration_seconds: Seconds
    model: Name | None = None
    input_tokens: Tokens | None = None
    output_tokens: Tokens | None = None
    total_tokens: Tokens | None = None
    """Only needed without the input/output split."""
    cost_usd: Usd | None = None
    """The provider's cost; computed from the pricing table when absent."""
    trace_id: TraceId | None = None
    """Kept as the exemplar of the latency observation."""

    def record(self, recorder: Recorder) -> None:
        recorder.agent_call(
            self.agent,
            self.status,
            self.duration_seconds,
            model=self.model,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            total_tokens=self.total_tokens,
            cost=self.cost_usd,
            trace_id=self.trace_id,
        )


class ToolCallEvent(_Event):
    """One finished tool call, attributed to the calling agent (``unknown`` without one)."""

    type: Literal["tool_call"]
    agent: Name | None = None
    tool: Name
    status: CallStatus
    duration_seconds: Seconds
    trace_id: TraceId | None = None

    def record(self, recorder: Recorder) -> None:
        recorder.tool_call(
            self.agent or "", self.tool, self.status, self.duration_seconds, trace_id=self.trace_id
        )


class HandoffEvent(_Event):
    """Work handed from one agent to another."""

    type: Literal["handoff"]
    source_agent: Name
    target_agent: Name

    def record(self, recorder: Recorder) -> None:
        recorder.handoff(self.source_agent, self.target_agent)


class DecisionEvent(_Event):
    """One decision of an agent, with its confidence when known."""

    type: Literal["decision"]
    agent: Name
    decision_type: Name
    confidence: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None = None

    def record(self, recorder: Recorder) -> None:
        recorder.decision(self.agent, self.decision_type, self.confidence)


class RoutingOutcomeEvent(_Event):
    """Whether a routing decision of an agent turned out right (routing-accuracy SLOs)."""

    type: Literal["routing_outcome"]
    agent: Name
    outcome: Literal["correct", "incorrect"]

    def record(self, recorder: Recorder) -> None:
        recorder.routing_outcome(self.agent, self.outcome)


class UsageEvent(_Event):
    """Tokens and cost of an agent on a model, without counting a call."""

    type: Literal["usage"]
    agent: Name
    model: Name | None = None
    input_tokens: Tokens | None = None
    output_tokens: Tokens | None = None
    total_tokens: Tokens | None = None
    cost_usd: Usd | None = None

    def record(self, recorder: Recorder) -> None:
        recorder.usage(
            self.agent,
            self.model,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            total_tokens=self.total_tokens,
            cost=self.cost_usd,
        )


class AnomalyEvent(_Event):
    """An anomaly an agent detected in its own decisions (low_confidence, handoff_loop …)."""

    type: Literal["anomaly"]
    agent: Name
    anomaly: Name

    def record(self, recorder: Recorder) -> None:
        recorder.anomaly(self.agent, self.anomaly)


Event = Annotated[
    AgentCallEvent
    | ToolCallEvent
    | HandoffEvent
    | DecisionEvent
    | RoutingOutcomeEvent
    | UsageEvent
    | AnomalyEvent,
    Field(discriminator="type"),
]
EVENT_TYPES: dict[str, type[_Event]] = {
    t.model_fields["type"].annotation.__args__[0]: t  # type: ignore[union-attr]
    for t in (
        AgentCallEvent,
        ToolCallEvent,
        HandoffEvent,
        DecisionEvent,
        RoutingOutcomeEvent,
        UsageEvent,
        AnomalyEvent,
    )
}
_EVENT: TypeAdapter[Event] = TypeAdapter(Event)


class EventBatch(BaseModel):
    """A batch of events, recorded all together or not at all."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    events: list[Event]
    """The events, in any order."""


class EventResult(IngestResult):
    """The answer to an accepted batch of events (``accepted``: events recorded)."""


def plan_events(data: Any, batch: Batch, *, max_items: int) -> EventResult:
    """Validate every event of ``data`` and plan its recorder call into ``batch``."""
    if not isinstance(data, dict):
        raise Rejected.invalid(
            [problem(None, "", f'body must be {{"events": [...]}}, got {type(data).__name__}')]
        )
    top = [problem(None, str(k), "unknown key (allowed: events)") for k in data if k != "events"]
    events = data.get("events")
    if not isinstance(events, list):
        top.append(problem(None, "events", "required: a list of events"))
    elif len(events) > max_items:
        top.append(problem(None, "events", f"{len(events)} events; at most {max_items}"))
    if top:
        raise Rejected.invalid(top)
    assert isinstance(events, list)
    for i, raw in enumerate(events):
        _plan_one(i, raw, batch)
    return EventResult(accepted=len(events))


def _plan_one(i: int, raw: Any, batch: Batch) -> None:
    base = f"events[{i}]"
    try:
        event = _EVENT.validate_python(raw)
    except ValidationError as exc:
        kind = raw.get("type") if isinstance(raw, dict) else None
        model = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
        for err in exc.errors(include_url=False):
            loc = err["loc"][1:] if model is not None and err["loc"][:1] == (kind,) else err["loc"]
            if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
                loc = ("type",)
            located = cast(ErrorDetails, {**err, "loc": loc})
            msg = error_message(located, model=model) if model is not None else _plain(err)
            batch.problem(i, ".".join([base, *map(str, loc)]), msg)
        return
    if isinstance(event, AgentCallEvent | UsageEvent) and event.cost_usd is None:
        usd = batch.cost(event.model, event.input_tokens, event.output_tokens, event.total_tokens)
        if usd is not None:
            event = event.model_copy(update={"cost_usd": usd})
    batch.add(i, base, event.record, _FIELDS)


def _plain(err: Any) -> str:
    if err["type"] == "model_attributes_type":
        return f"must be an event object, got {type(err['input']).__name__}"
    if err["type"] == "union_tag_invalid":
        return (
            f"unknown event type {err['input'].get('type')!r} (allowed: {', '.join(EVENT_TYPES)})"
        )
    if err["type"] == "union_tag_not_found":
        return f"required: the event type, one of {', '.join(EVENT_TYPES)}"
    return str(err["msg"])
