"""The call tree of a trace: steps nested by ``parent_step_id`` and by callee traces.

Pure: takes a trace, returns values. Every debugging view (timeline, replay, Mermaid, text tree,
anomalies) reads a trace through :func:`call_tree`, so they agree on three rules:

- **Nesting.** A step's parent is the step of the same trace named by ``parent_step_id``; a step
  whose parent is missing is a root. The roots of a callee trace nested in an agent invocation
  (``response_trace``) become children of the invoking step. A parent cycle in bad input is
  broken where it is first met; a trace nested in itself is visited once.
- **Owner.** The agent a step runs for is its nearest AGENT ancestor, else its nearest HOST
  ancestor (the SDK's metric attribution). An AGENT step whose owner is another agent with a
  different name is a *handoff*, as in ``agent_handoffs_total``.
- **Order.** Siblings are ordered by start time (ties: trace order). :func:`moves` lists every
  step's start and end in time order; a child's times are clamped into its parent's interval
  for ordering, so a callee's skewed clock or an explicit ``latency=`` longer than the measured
  parent never makes a child end after its parent. Ties keep depth-first order (parent starts
  before child, child ends before parent).

Traversals use explicit stacks: a 10,000-step parent chain does not hit the recursion limit.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sloguard.analysis.performance import StepLike
from sloguard.conventions import CallType


class DebugStep(StepLike, Protocol):
    """What the debugging tools read of a step (:class:`~sloguard.sdk.trace.TraceRecord`):
    what the performance analysis reads, plus parameters, attributes and callee traces."""

    @property
    def parameters(self) -> Mapping[str, Any]: ...
    @property
    def additional_attributes(self) -> Mapping[str, Any]: ...
    @property
    def response_trace(self) -> DebugTrace | None: ...


class DebugTrace(Protocol):
    """What the debugging tools read of a trace (:class:`~sloguard.sdk.trace.ResponseTrace`)."""

    @property
    def trace_id(self) -> str: ...
    @property
    def steps(self) -> Sequence[DebugStep]: ...


@dataclass(frozen=True, slots=True)
class Node:
    """One step in the call tree; ``index`` is its depth-first (pre-order) position."""

    index: int
    step: DebugStep
    parent: int | None
    children: tuple[int, ...]
    depth: int
    owner: int | None
    """Nearest AGENT ancestor, else nearest HOST ancestor (``None`` at the top)."""
    start: datetime
    """Start time used for ordering (clamped into the parent's interval)."""
    end: datetime | None
    """End time used for ordering; ``None`` when the step has no end (still running)."""

    @property
    def failed(self) -> bool:
        """True when the step recorded an error."""
        return self.step.error is not None


@dataclass(frozen=True, slots=True)
class CallTree:
    """All steps of a trace (callee traces included) in depth-first order."""

    trace_id: str
    nodes: tuple[Node, ...]
    roots: tuple[int, ...]

    def children(self, index: int | None) -> tuple[Node, ...]:
        """Return the children of node ``index`` (``None``: the roots), in start order."""
        ids = self.roots if index is None else self.nodes[index].children
        return tuple(self.nodes[i] for i in ids)

    def owner(self, node: Node) -> Node | None:
        """Return the node ``node`` runs for (see the module docstring), if any."""
        return None if node.owner is None else self.nodes[node.owner]

    def is_handoff(self, node: Node) -> bool:
        """True for an AGENT step invoked by another, differently named agent."""
        owner = self.owner(node)
        return (
            node.step.call_type == CallType.AGENT
            and owner is not None
            and owner.step.call_type == CallType.AGENT
            and owner.step.name != node.step.name
        )


@dataclass(frozen=True, slots=True)
class Move:
    """A step starting (``end=False``) or ending (``end=True``), in time order."""

    node: Node
    end: bool


def _end_of(step: DebugStep) -> datetime | None:
    if step.end_time is not None:
        return step.end_time
    if step.latency is not None:
        return step.start_time + timedelta(milliseconds=step.latency)
    return None


def _gather(trace: DebugTrace) -> tuple[list[DebugStep], dict[int, list[DebugStep]], list[int]]:
    """Return top-level steps, children per step (by ``id``) and every step's id, in trace order."""
    top: list[DebugStep] = []
    kids: dict[int, list[DebugStep]] = {}
    order: list[int] = []
    pending: deque[tuple[DebugTrace, DebugStep | None]] = deque([(trace, None)])
    seen_traces: set[int] = set()
    while pending:
        t, invoker = pending.popleft()
        if id(t) in seen_traces:
            continue
        seen_traces.add(id(t))
        by_id = {s.step_id: s for s in t.steps}
        for s in t.steps:
            parent = by_id.get(s.parent_step_id) if s.parent_step_id else None
            if parent is None or parent is s:
                (top if invoker is None else kids.setdefault(id(invoker), [])).append(s)
            else:
                kids.setdefault(id(parent), []).append(s)
            order.append(id(s))
            if s.response_trace is not None:
                pending.append((s.response_trace, s))
    return top, kids, order


def call_tree(trace: DebugTrace) -> CallTree:
    """Build the call tree of ``trace`` (see the module docstring for the rules)."""
    top, kids, order = _gather(trace)
    rank = {sid: i for i, sid in enumerate(order)}
    by_key: dict[int, DebugStep] = {id(s): s for s in top}
    for children in kids.values():
        by_key.update((id(c), c) for c in children)

    def ordered(steps: list[DebugStep]) -> list[DebugStep]:
        return sorted(steps, key=lambda s: (s.start_time, rank[id(s)]))

    b = _Builder()
    top_keys = {id(s) for s in top}
    # Roots first, then any step a parent cycle made unreachable (in trace order).
    for first in ordered(top) + [by_key[k] for k in order if k not in top_keys]:
        stack: list[tuple[DebugStep, int | None]] = [(first, None)]
        while stack:
            step, parent = stack.pop()
            if id(step) in b.visited:
                continue
            index = b.add(step, parent)
            stack.extend((c, index) for c in reversed(ordered(kids.get(id(step), []))))
    return b.tree(trace.trace_id)


class _Builder:
    """Accumulate nodes in pre-order; children and owners are resolved as nodes arrive."""

    def __init__(self) -> None:
        self.visited: set[int] = set()
        self.nodes: list[Node] = []
        self.children: list[list[int]] = []
        self.agent: list[int | None] = []  # nearest AGENT ancestor of each node
        self.host: list[int | None] = []  # nearest HOST ancestor of each node
        self.roots: list[int] = []

    def add(self, step: DebugStep, parent: int | None) -> int:
        self.visited.add(id(step))
        index = len(self.nodes)
        start, end = step.start_time, _end_of(step)
        agent = host = None
        depth = 0
        if parent is None:
            self.roots.append(index)
            if end is not None:
                end = max(end, start)
        else:
            self.children[parent].append(index)
            p = self.nodes[parent]
            depth = p.depth + 1
            agent, host = self.agent[parent], self.host[parent]
            if p.step.call_type == CallType.AGENT:
                agent = parent
            elif p.step.call_type == CallType.HOST:
                host = parent
            start = max(start, p.start)
            if p.end is not None:
                start = min(start, p.end)
            if end is not None:
                end = max(end, start)
                if p.end is not None:
                    end = min(end, p.end)
        owner = agent if agent is not None else host
        self.nodes.append(Node(index, step, parent, (), depth, owner, start, end))
        self.children.append([])
        self.agent.append(agent)
        self.host.append(host)
        return index

    def tree(self, trace_id: str) -> CallTree:
        nodes = tuple(
            Node(n.index, n.step, n.parent, tuple(kids), n.depth, n.owner, n.start, n.end)
            for n, kids in zip(self.nodes, self.children, strict=True)
        )
        return CallTree(trace_id, nodes, tuple(self.roots))


def moves(tree: CallTree) -> tuple[Move, ...]:
    """Return every start and end of a step in time order (see the module docstring)."""
    keyed: list[tuple[datetime, int, Move]] = []
    tick = 0
    # Euler tour: a start gets its pre-order tick, an end its post-order tick.
    stack: list[tuple[int, bool]] = [(i, False) for i in reversed(tree.roots)]
    while stack:
        index, leaving = stack.pop()
        node = tree.nodes[index]
        if leaving:
            if node.end is not None:
                keyed.append((node.end, tick, Move(node, True)))
            tick += 1
            continue
        keyed.append((node.start, tick, Move(node, False)))
        tick += 1
        stack.append((index, True))
        stack.extend((c, False) for c in reversed(node.children))
    keyed.sort(key=lambda k: (k[0], k[1]))
    return tuple(m for _, _, m in keyed)


def any_failed(trace: DebugTrace) -> bool:
    """True when any step failed, callee traces included."""
    pending = [trace]
    seen: set[int] = set()
    while pending:
        t = pending.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        for s in t.steps:
            if s.error is not None:
                return True
            if s.response_trace is not None:
                pending.append(s.response_trace)
    return False
