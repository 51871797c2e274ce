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
decision           agent, decision_type, confidence? (0..1), chosen_option?, options_considered?
                   (names or {name, score?}), reasoning?, input_summary?, workflow_id?,
                   trace_id?, timestamp? (ISO 8601 with offset; default: when received)
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

A decision with a ``chosen_option`` (then ``confidence`` is required) is also a *decision
record* (:class:`~sloguard.debug.decisions.DecisionRecord`) of the workflow ``workflow_id``
(``trace_id`` when there is no workflow id): with a trace store, the committed batch's events and
decision records are stored, and the anomalies of the workflow's decision chain are counted in
``agent_anomalies_total`` (see :mod:`sloguard.anomalywatch`). The record-only fields
(options_considered, reasoning, input_summary, workflow_id, timestamp) need a ``chosen_option``.

Example::

    curl -X POST localhost:9464/v1/events -H 'Content-Type: application/json' -d '{"events": [
      {"type": "agent_call", "agent": "planner", "status": "success", "duration_seconds": 1.2,
       "model": "gpt-4o", "input_tokens": 900, "output_tokens": 150},
      {"type": "tool_call", "agent": "planner", "tool": "search", "status": "error",
       "duration_seconds": 0.4},
      {"type": "handoff", "source_agent": "planner", "target_agent": "writer"},
      {"type": "decision", "agent": "supervisor", "decision_type": "routing",
       "chosen_option": "billing-agent", "confidence": 0.82, "workflow_id": "wf-001",
       "options_considered": [{"name": "billing-agent", "score": 0.82}, "shipping-agent"],
       "reasoning": "refund requested", "timestamp": "2025-03-01T09:00:00Z"}]}'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal, cast

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import ErrorDetails

from sloguard.debug.decisions import DecisionRecord, Option
from sloguard.errors import InvalidRecord
from sloguard.ingest.batch import Batch
from sloguard.ingest.intake import IngestResult
from sloguard.ingest.problems import Rejected, problem
from sloguard.sdk.recorder import Recorder
from sloguard.tracestore.records import MAX_NAME, MAX_OPTIONS, MAX_TEXT
from sloguard.yamldoc import error_message

Name = Annotated[str, Field(min_length=1)]
Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False, description="Seconds.")]
Tokens = Annotated[int, Field(ge=0)]
Usd = Annotated[float, Field(ge=0, allow_inf_nan=False, description="US dollars.")]
TraceId = Annotated[str, Field(min_length=1, max_length=120)]
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
_EVENT: TypeAdapter[Event] = TypeAdapter(Event)


class EventBatch(BaseModel):
    """A batch of events, recorded all together or not at all."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    events: list[Event]
    """The events, in any order."""


class EventResult(IngestResult):
    """The answer to an accepted batch of events (``accepted``: events recorded)."""


@dataclass(slots=True)
class KeptEvents:
    """What a batch leaves for the store once committed: its events and decision records."""

    received: datetime
    """When the batch arrived: the time of decisions sent without a timestamp."""
    events: list[dict[str, Any]] = field(default_factory=list)
    """The events as validated (JSON values, absent fields left out, computed costs in)."""
    decisions: list[DecisionRecord] = field(default_factory=list)


def plan_events(
    data: Any, batch: Batch, *, max_items: int, keep: KeptEvents | None = None
) -> EventResult:
    """Validate every event of ``data`` and plan its recorder call into ``batch``.

    With ``keep``, the validated events and decision records are added to it (store them only
    once the batch is committed).
    """
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
        _plan_one(i, raw, batch, keep)
    return EventResult(accepted=len(events))


def _plan_one(i: int, raw: Any, batch: Batch, keep: KeptEvents | None) -> None:
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
    record = None
    if isinstance(event, DecisionEvent):
        for name, message in event.problems():
            batch.problem(i, f"{base}.{name}", message)
        if keep is not None:
            try:
                record = event.decision_record(keep.received)
            except InvalidRecord as exc:  # pragma: no cover - the event's own checks come first
                batch.problem(i, base, str(exc))
    batch.add(i, base, event.record, _FIELDS)
    if keep is not None:
        keep.events.append(event.model_dump(mode="json", exclude_none=True))
        if record is not None:
            keep.decisions.append(record)


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
