"""Replay a trace: its timeline step by step with the workflow state after each step (seed 000).

Pure: takes a trace, returns a :class:`Replay`. A trace records what agents and tools reported,
not what they returned, so the **state** of a replayed workflow is the union of the
``additional_attributes`` of the steps completed so far (agents and tools; later keys overwrite
earlier ones, as the seed's ``state.update(result)``). Failed steps add nothing. Telemetry keys
(``gen_ai.*``, ``error.type``) are not state. ``state_after`` (the state's keys) is set on every
completion event.

``stop_before`` names an agent (or a step id): the replay ends just before that agent is first
invoked, so the handoff to it is the last event, and the state is what the agent would have
started from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from sloguard.analysis.calltree import DebugTrace, call_tree
from sloguard.analysis.timeline import Event, EventType, step_events

_COMPLETIONS = frozenset({EventType.AGENT_COMPLETED, EventType.TOOL_RETURNED})


def is_state_key(key: str) -> bool:
    """True for attribute keys that are workflow state rather than telemetry."""
    return not key.startswith("gen_ai.") and key != "error.type"


@dataclass(frozen=True, slots=True)
class ReplayEntry:
    """One event of a replay, with the state keys after it on completion events."""

    event: Event
    state_after: tuple[str, ...] | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the seed's timeline entry (plus target, caller, step id)."""
        out = self.event.as_dict()
        if self.state_after is not None:
            out["state_after"] = list(self.state_after)
        return out


@dataclass(frozen=True, slots=True)
class Replay:
    """Result of :func:`replay`; :meth:`as_dict` is the seed's result shape."""

    workflow_id: str
    timeline: tuple[ReplayEntry, ...]
    final_state: Mapping[str, Any]
    stopped_before: Event | None = None

    @property
    def total_events(self) -> int:
        """Number of events replayed."""
        return len(self.timeline)

    def as_dict(self) -> dict[str, Any]:
        """Return ``{workflow_id, total_events, final_state, timeline, stopped_before}``."""
        stop = self.stopped_before
        return {
            "workflow_id": self.workflow_id,
            "total_events": self.total_events,
            "final_state": dict(self.final_state),
            "timeline": [e.as_dict() for e in self.timeline],
            "stopped_before": None if stop is None else stop.as_dict(),
        }


def replay(trace: DebugTrace, *, stop_before: str | None = None) -> Replay:
    """Replay ``trace`` from the start, optionally stopping before an agent is invoked.

    Example::

        r = replay(trace, stop_before="writer")
        r.final_state          # what the writer would have started from
        r.timeline[-1].event   # the handoff to the writer
    """
    tree = call_tree(trace)
    state: dict[str, Any] = {}
    entries: list[ReplayEntry] = []
    for se in step_events(tree):
        event = se.event
        if (
            stop_before is not None
            and event.type is EventType.AGENT_INVOKED
            and stop_before in (event.agent, event.step_id)
        ):
            return Replay(tree.trace_id, tuple(entries), MappingProxyType(state), event)
        after = None
        if event.type in _COMPLETIONS:
            attrs = se.node.step.additional_attributes
            state.update((k, v) for k, v in attrs.items() if is_state_key(k))
            after = tuple(state)
        entries.append(ReplayEntry(event, after))
    return Replay(tree.trace_id, tuple(entries), MappingProxyType(state))
