"""``POST /v1/events``: plain JSON events for agents that are neither Python nor OpenTelemetry.

Body: ``{"events": [<event>, ...]}`` (at most ``max_items`` events, 1000 by default). Each event
is an object whose ``type`` selects its fields (one model per type: :mod:`.eventmodel`); unknown
fields are refused. Every event maps to one call of the recorder, the same calls the Python SDK
makes:

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

Types are strict (``"1.5"`` is not a number, ``true`` is not a count); durations are seconds
(at most 7 days), costs US dollars (at most 1 000 000 per event), token counts integers from 0
to 10¹², a decision's timestamp from 2000 to one day after the server's time, and a trace id
must be one ``/api/v1/traces/{id}`` can open (see :mod:`.bounds`). ``cost_usd`` is the
provider's figure; without it, the cost of tokens is computed from the pricing table (tokens
that cannot be priced are counted in ``sloguard_unpriced_tokens_total``). ``trace_id`` becomes
the exemplar of the latency observation. The batch is atomic: one bad event rejects all of them
(422, every problem listed as ``events[3].duration_seconds``), and nothing is recorded.

A decision with a ``chosen_option`` (then ``confidence`` is required) is also a *decision
record* (:class:`~sloguard.analysis.decisions.DecisionRecord`) of the workflow ``workflow_id``
(``trace_id`` when there is no workflow id): with a trace store, the committed batch's events and
decision records are stored, and the anomalies of the workflow's decision chain are counted in
``agent_anomalies_total`` (see :mod:`sloguard.ingest.anomalywatch`). The record-only fields
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

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from sloguard.analysis.decisionrecord import DecisionRecord
from sloguard.errors import InvalidRecord
from sloguard.ingest.batch import Batch
from sloguard.ingest.bounds import time_problem
from sloguard.ingest.eventmodel import (
    EVENT_TYPES,
    AgentCallEvent,
    DecisionEvent,
    Event,
    UsageEvent,
)
from sloguard.ingest.intake import IngestResult
from sloguard.ingest.problems import Rejected, problem
from sloguard.yamldoc import error_message

__all__ = ["EventResult", "KeptEvents", "plan_events"]

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
_EVENT: TypeAdapter[Event] = TypeAdapter(Event)


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
    data: Any,
    batch: Batch,
    *,
    max_items: int,
    keep: KeptEvents | None = None,
    now: float | None = None,
) -> EventResult:
    """Validate every event of ``data`` and plan its recorder call into ``batch``.

    With ``keep``, the validated events and decision records are added to it (store them only
    once the batch is committed). ``now`` (unix seconds; default: ``keep.received``, else the
    clock) bounds decision timestamps.
    """
    if now is None:
        now = keep.received.timestamp() if keep is not None else time.time()
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
        _plan_one(i, raw, batch, keep, now)
    return EventResult(accepted=len(events))


def _plan_one(i: int, raw: Any, batch: Batch, keep: KeptEvents | None, now: float) -> None:
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
        if event.timestamp is not None:
            late = time_problem(event.timestamp.timestamp(), now)
            if late is not None:
                batch.problem(i, f"{base}.timestamp", late)
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
