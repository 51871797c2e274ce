"""The plain events of ``POST /v1/events``: one frozen, strict pydantic model per ``type``.

Each model refuses unknown fields and takes types strictly (``"1.5"`` is not a number, ``true``
is not a count): durations are seconds, costs US dollars, token counts integers >= 0, each
within the bounds of :mod:`.bounds` (as are trace ids).
:meth:`record` makes the event's one call of the recorder, the same call the Python SDK makes.
:data:`Event` is their union, told apart by ``type`` (:data:`EVENT_TYPES`); :class:`EventBatch`
is the request body, whose JSON schema the OpenAPI document shows.

A :class:`DecisionEvent` with a ``chosen_option`` (then ``confidence`` is required) is also a
*decision record* (:class:`~sloguard.analysis.decisions.DecisionRecord`) of the workflow
``workflow_id`` (``trace_id`` when there is no workflow id); the record-only fields
(options_considered, reasoning, input_summary, workflow_id, timestamp) need a ``chosen_option``.
The endpoint, its table of types and fields, and how a batch is planned: :mod:`.events`.

Example::

    event = AgentCallEvent(type="agent_call", agent="planner", status="success",
                           duration_seconds=1.2)
    event.record(recorder)
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from sloguard.analysis.decisionrecord import DecisionRecord, Option
from sloguard.ingest.bounds import MAX_COST_USD, MAX_DURATION_SECONDS, MAX_TOKENS, trace_id_problem
from sloguard.sdk.recorder import Recorder
from sloguard.tracestore.records import MAX_NAME, MAX_OPTIONS, MAX_TEXT

__all__ = [
    "EVENT_TYPES",
    "AgentCallEvent",
    "AnomalyEvent",
    "CallStatus",
    "Confidence",
    "DecisionEvent",
    "DecisionOption",
    "Event",
    "EventBatch",
    "HandoffEvent",
    "Name",
    "OptionItem",
    "RecordName",
    "RecordText",
    "RoutingOutcomeEvent",
    "Seconds",
    "Timestamp",
    "Tokens",
    "ToolCallEvent",
    "TraceId",
    "UsageEvent",
    "Usd",
]

Name = Annotated[str, Field(min_length=1)]
Seconds = Annotated[
    float, Field(ge=0, le=MAX_DURATION_SECONDS, allow_inf_nan=False, description="Seconds.")
]
Tokens = Annotated[int, Field(ge=0, le=MAX_TOKENS)]
Usd = Annotated[float, Field(ge=0, le=MAX_COST_USD, allow_inf_nan=False, description="US dollars.")]


def _openable(value: str) -> str:
    problem = trace_id_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


TraceId = Annotated[str, Field(min_length=1, max_length=120), AfterValidator(_openable)]
CallStatus = Literal["success", "error"]
Confidence = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
#: Names of a decision record: what the trace store keeps of them (a record reads back equal).
RecordName = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
RecordText = Annotated[str, Field(max_length=MAX_TEXT)]


def _iso_time(value: Any) -> Any:
    """Read an ISO 8601 string with a UTC offset (``Z`` or ``+09:00``) as an aware datetime."""
    if not isinstance(value, str):
        raise ValueError(f"must be an ISO 8601 string, got {type(value).__name__} {value!r}")
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"must be ISO 8601 (2025-03-01T09:00:00Z), got {value!r}") from None
    if t.tzinfo is None:
        raise ValueError(f"must have a UTC offset (Z or +09:00), got {value!r}")
    return t


Timestamp = Annotated[
    datetime,
    BeforeValidator(_iso_time),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


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


class DecisionOption(BaseModel):
    """One option an agent considered, with its score when the agent gave one."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", strict=True, use_attribute_docstrings=True
    )

    name: RecordName
    score: Annotated[float, Field(allow_inf_nan=False)] | None = None


def _named(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


OptionItem = Annotated[
    DecisionOption, BeforeValidator(_named, json_schema_input_type=RecordName | DecisionOption)
]
#: Fields that only a decision record keeps (they need ``chosen_option``).
_RECORD_ONLY = ("options_considered", "reasoning", "input_summary", "workflow_id", "timestamp")


class DecisionEvent(_Event):
    """One decision of an agent; with ``chosen_option``, a record of its workflow's chain."""

    type: Literal["decision"]
    agent: RecordName
    decision_type: RecordName
    """routing, tool_selection, handoff, response, or your own."""
    confidence: Confidence | None = None
    """0..1; required with ``chosen_option``."""
    chosen_option: RecordName | None = None
    """The option chosen (for a handoff: the agent handed to)."""
    options_considered: Annotated[list[OptionItem], Field(max_length=MAX_OPTIONS)] | None = None
    """Names, or ``{"name": …, "score": …}`` objects."""
    reasoning: RecordText | None = None
    input_summary: RecordText | None = None
    workflow_id: RecordName | None = None
    """The workflow whose decision chain this decision belongs to (default: ``trace_id``)."""
    trace_id: TraceId | None = None
    timestamp: Timestamp | None = None
    """When the agent decided, ISO 8601 with a UTC offset (default: when received)."""

    def record(self, recorder: Recorder) -> None:
        recorder.decision(self.agent, self.decision_type, self.confidence)

    def problems(self) -> list[tuple[str, str]]:
        """Return ``(field, message)`` for the fields a decision record needs together."""
        if self.chosen_option is None:
            given = [f for f in _RECORD_ONLY if getattr(self, f) is not None]
            if given:
                return [("chosen_option", f"required with {', '.join(given)}")]
        elif self.confidence is None:
            return [("confidence", "required with chosen_option (a decision record needs it)")]
        return []

    def decision_record(self, received: datetime) -> DecisionRecord | None:
        """Return the decision record (None without ``chosen_option``)."""
        if self.chosen_option is None or self.confidence is None:
            return None
        return DecisionRecord(
            agent_id=self.agent,
            timestamp=self.timestamp or received,
            decision_type=self.decision_type,
            chosen_option=self.chosen_option,
            confidence=self.confidence,
            options_considered=tuple(
                Option(o.name, o.score) for o in self.options_considered or ()
            ),
            reasoning=self.reasoning or "",
            workflow_id=self.workflow_id or self.trace_id,
            input_summary=self.input_summary or "",
        )


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


class EventBatch(BaseModel):
    """A batch of events, recorded all together or not at all."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    events: list[Event]
    """The events, in any order."""
