"""Anomalies of a trace's structure: handoff loops and runaway tool calls.

Pure: takes a trace, returns :class:`Anomaly` values. The anomalies of a decision chain are in
:mod:`sloguard.analysis.decisions`; both use the same :class:`AnomalyKind`, whose values are the
``anomaly`` label of ``agent_anomalies_total``.

- **handoff_loop** — an agent reached again through a chain of handoffs nested in it:
  ``A → B → A`` and longer cycles ``A → B → C → A`` (the shortest cycle is reported). An agent
  invoking a step of the same name (a callee trace's root repeating its invoker) is not a
  handoff and is ignored. A loop is reported where it first closes; going round it again
  deeper down (``A → B → A → B → A``) is the same loop, but a different cycle inside it is new.
  At most ``max_loops`` (:data:`MAX_LOOPS`) are reported per trace, the first in depth-first
  order: each new loop is checked against those reported, so the cap keeps a deep chain of
  ever-new loops (``A → B1 → A → B2 → A …``) linear.
- **runaway_tool_calls** — one agent invocation made more than ``max_tool_calls`` tool calls
  (its own: calls made inside a nested agent count for that agent).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sloguard.analysis.calltree import DebugTrace, call_tree
from sloguard.conventions import CallType

if TYPE_CHECKING:
    from sloguard.analysis.decisionrecord import DecisionRecord

#: Default threshold of :func:`runaway_tools` (more calls than this in one invocation).
MAX_TOOL_CALLS = 20
#: Default cap of :func:`handoff_loops` (loops reported per trace).
MAX_LOOPS = 100


class AnomalyKind(StrEnum):
    """Kinds of anomaly; the values are the ``anomaly`` label of ``agent_anomalies_total``."""

    LOW_CONFIDENCE = "low_confidence"
    HANDOFF_LOOP = "handoff_loop"
    RUNAWAY_TOOL_CALLS = "runaway_tool_calls"


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One detected anomaly.

    ``agent`` is the agent it is counted for (the one that decided or made the calls; for a
    loop, the agent whose handoff closed it). ``path`` is the agents of a loop, first agent
    repeated at the end. ``decisions`` / ``steps`` are what it was found in.

    Example::

        for a in handoff_loops(trace):
            print(a.kind, a.agent, " → ".join(a.path))
    """

    kind: AnomalyKind
    agent: str
    message: str
    decisions: tuple[DecisionRecord, ...] = ()
    steps: tuple[str, ...] = ()
    path: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict (decisions by agent, type, choice and time)."""
        return {
            "kind": self.kind.value,
            "agent": self.agent,
            "message": self.message,
            "decisions": [d.as_dict() for d in self.decisions],
            "steps": list(self.steps),
            "path": list(self.path),
        }


def handoff_loops(trace: DebugTrace, max_loops: int = MAX_LOOPS) -> tuple[Anomaly, ...]:
    """Return the first ``max_loops`` handoff loops among the nested AGENT steps of ``trace``,
    in depth-first order."""
    if max_loops < 0:
        raise ValueError(f"max_loops must be >= 0, got {max_loops}")
    tree = call_tree(trace)
    found: list[Anomaly] = []
    # Depth-first walk keeping the chain of distinct agents above the current node.
    chain: list[tuple[str, str]] = []  # (agent name, step id)
    where: dict[str, list[int]] = {}  # agent name -> its positions in chain
    reported: list[frozenset[str]] = []  # agents of the loops closed above the current node
    stack: list[tuple[int, bool, bool, bool]] = [(i, False, False, False) for i in tree.roots]
    stack.reverse()
    while stack and len(found) < max_loops:
        index, leaving, pushed, closed = stack.pop()
        node = tree.nodes[index]
        step = node.step
        if leaving:
            if pushed:
                where[chain.pop()[0]].pop()
            if closed:
                reported.pop()
            continue
        pushed = closed = False
        if step.call_type == CallType.AGENT and (not chain or chain[-1][0] != step.name):
            seen_at = where.get(step.name)
            if seen_at:
                cycle = [*chain[seen_at[-1] :], (step.name, step.step_id)]
                names = tuple(n for n, _ in cycle)
                if not any(set(names) <= r for r in reported):
                    found.append(
                        Anomaly(
                            AnomalyKind.HANDOFF_LOOP,
                            agent=chain[-1][0],
                            message=f"handoff loop: {' → '.join(names)}",
                            steps=tuple(s for _, s in cycle),
                            path=names,
                        )
                    )
                    reported.append(frozenset(names))
                    closed = True
            chain.append((step.name, step.step_id))
            where.setdefault(step.name, []).append(len(chain) - 1)
            pushed = True
        stack.append((index, True, pushed, closed))
        stack.extend((c, False, False, False) for c in reversed(node.children))
    return tuple(found)


def runaway_tools(trace: DebugTrace, max_tool_calls: int = MAX_TOOL_CALLS) -> tuple[Anomaly, ...]:
    """Return agent invocations of ``trace`` with more than ``max_tool_calls`` tool calls."""
    if max_tool_calls < 0:
        raise ValueError(f"max_tool_calls must be >= 0, got {max_tool_calls}")
    tree = call_tree(trace)
    tools: dict[int, list[int]] = {}
    for node in tree.nodes:
        owner = tree.owner(node)
        if (
            node.step.call_type == CallType.TOOL
            and owner is not None
            and owner.step.call_type == CallType.AGENT
        ):
            tools.setdefault(owner.index, []).append(node.index)
    found: list[Anomaly] = []
    for agent_index, calls in tools.items():
        if len(calls) <= max_tool_calls:
            continue
        agent = tree.nodes[agent_index].step
        counts = Counter(tree.nodes[i].step.name for i in calls)
        top = ", ".join(f"{name} ×{n}" for name, n in counts.most_common(3))
        found.append(
            Anomaly(
                AnomalyKind.RUNAWAY_TOOL_CALLS,
                agent=agent.name,
                message=(
                    f"{agent.name} made {len(calls)} tool calls in one invocation "
                    f"(limit {max_tool_calls}): {top}"
                ),
                steps=(agent.step_id, *(tree.nodes[i].step.step_id for i in calls)),
            )
        )
    return tuple(found)


def trace_anomalies(
    trace: DebugTrace, *, max_tool_calls: int = MAX_TOOL_CALLS
) -> tuple[Anomaly, ...]:
    """Return :func:`handoff_loops` then :func:`runaway_tools` of ``trace``."""
    return handoff_loops(trace) + runaway_tools(trace, max_tool_calls)
