"""The timeline of a trace: agent and tool events, derived from its steps, in time order.

Pure: takes a trace, returns :class:`Event` values. Each AGENT step gives ``agent_invoked``
(preceded by ``handoff`` when another agent invoked it) and ``agent_completed`` or
``agent_failed``; each TOOL step gives ``tool_called`` and ``tool_returned`` or
``tool_failed``. HOST steps (a workflow root, host work) give no events of their own but are the
caller of the agents and tools they hold. A step without an end (still running when the trace
was captured) has no end event. Order and attribution follow :mod:`sloguard.analysis.calltree`;
timestamps are the steps' own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sloguard.analysis.calltree import CallTree, DebugTrace, Node, call_tree, moves
from sloguard.conventions import UNKNOWN_VALUE, CallType


class EventType(StrEnum):
    """What happened (seed 000's event types, as derived from trace steps)."""

    HANDOFF = "handoff"
    AGENT_INVOKED = "agent_invoked"
    AGENT_COMPLETED = "agent_completed"
    AGENT_FAILED = "agent_failed"
    TOOL_CALLED = "tool_called"
    TOOL_RETURNED = "tool_returned"
    TOOL_FAILED = "tool_failed"


@dataclass(frozen=True, slots=True)
class Event:
    """One event of a timeline.

    ``agent`` is who acts: the agent invoked/completing/failing, the agent (or host) calling a
    tool, the agent handing off. ``target`` is the tool of tool events and the agent handed to
    of a handoff. ``caller`` is who invoked an agent (``None`` at the top). ``data_keys`` are
    the step's parameter keys on start events and its attribute keys on end events.
    """

    type: EventType
    timestamp: datetime
    agent: str
    step_id: str
    target: str | None = None
    caller: str | None = None
    error: str | None = None
    latency_ms: int | None = None
    data_keys: tuple[str, ...] = ()

    @property
    def signature(self) -> tuple[str, str, str]:
        """What two runs are aligned on: type, agent and tool/target (no times, no ids)."""
        return (self.type.value, self.agent, self.target or "")

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict (``None`` fields left out)."""
        out: dict[str, Any] = {
            "timestamp": self.timestamp.isoformat(),
            "type": self.type.value,
            "agent": self.agent,
            "step_id": self.step_id,
        }
        for key in ("target", "caller", "error", "latency_ms"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        out["data_keys"] = list(self.data_keys)
        return out


@dataclass(frozen=True, slots=True)
class StepEvent:
    """An event with the call-tree node it came from (for views that need the step)."""

    event: Event
    node: Node


def step_events(tree: CallTree) -> tuple[StepEvent, ...]:
    """Return the events of a call tree with their nodes, in time order."""
    out: list[StepEvent] = []
    for move in moves(tree):
        node = move.node
        step = node.step
        if step.call_type == CallType.HOST:
            continue
        owner = tree.owner(node)
        caller = owner.step.name if owner is not None else None
        is_tool = step.call_type == CallType.TOOL
        if move.end:
            if is_tool:
                etype = EventType.TOOL_FAILED if node.failed else EventType.TOOL_RETURNED
            else:
                etype = EventType.AGENT_FAILED if node.failed else EventType.AGENT_COMPLETED
            when = step.end_time or node.end or step.start_time
            keys = tuple(step.additional_attributes)
            latency = step.latency
        else:
            etype = EventType.TOOL_CALLED if is_tool else EventType.AGENT_INVOKED
            when, keys, latency = step.start_time, tuple(step.parameters), None
        if is_tool:
            event = Event(
                etype,
                when,
                caller or UNKNOWN_VALUE,
                step.step_id,
                target=step.name,
                error=step.error if move.end else None,
                latency_ms=latency,
                data_keys=keys,
            )
        else:
            if not move.end and owner is not None and tree.is_handoff(node):
                handoff = Event(
                    EventType.HANDOFF, when, owner.step.name, step.step_id, target=step.name
                )
                out.append(StepEvent(handoff, node))
            event = Event(
                etype,
                when,
                step.name,
                step.step_id,
                caller=caller,
                error=step.error if move.end else None,
                latency_ms=latency,
                data_keys=keys,
            )
        out.append(StepEvent(event, node))
    return tuple(out)


def timeline(trace: DebugTrace) -> tuple[Event, ...]:
    """Return the events of ``trace`` in time order (see the module docstring)."""
    return tuple(se.event for se in step_events(call_tree(trace)))
