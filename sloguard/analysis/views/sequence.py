"""The sequence of a trace: who called whom, in time order — the model behind the diagrams.

Pure: takes a trace, returns a :class:`Sequence`. :mod:`sloguard.analysis.views.mermaid` writes it
as
Mermaid text, :mod:`sloguard.analysis.views.svg` draws it; both therefore show the same
participants,
messages and notes:

- Participants get ids in order of appearance (``h1`` hosts, ``a1`` agents, ``t1`` tools); a
  name is one participant per kind.
- Every step that starts is activated (a ``call`` message from its caller, or ``activate`` at
  the top) and deactivated when it ends: a ``return`` to the caller, or a ``Note`` with the
  error and a ``fail`` message when it failed. Steps still running when the trace was captured
  are noted and deactivated at the end, so activations always balance.
- An agent invoked by another agent is a ``handoff``; by a host (a workflow root) ``invoke``;
  tools are ``call``-ed. Events are in time order (concurrent workers interleave).
- At most ``max_steps`` agent and tool steps are shown; steps starting after that are left out
  with their children, and a final note says how many.

Texts are the trace's own (not escaped, not cut): each renderer makes them safe for its format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sloguard.analysis.calltree import CallTree, DebugTrace, Node, call_tree, moves
from sloguard.conventions import CallType

_PREFIX = {CallType.HOST: "h", CallType.AGENT: "a", CallType.TOOL: "t"}


@dataclass(frozen=True, slots=True)
class Participant:
    """One lifeline: a host, agent or tool name."""

    id: str
    kind: CallType
    name: str


@dataclass(frozen=True, slots=True)
class Message:
    """An arrow. ``call`` activates ``target``; ``return`` / ``fail`` deactivate ``source``."""

    kind: Literal["call", "return", "fail"]
    source: str
    target: str
    text: str


@dataclass(frozen=True, slots=True)
class Note:
    """A note over one participant (an error, a step with no end, steps left out)."""

    over: str
    text: str


@dataclass(frozen=True, slots=True)
class Activation:
    """A participant activated (``on``) or deactivated without a message (a top-level step)."""

    who: str
    on: bool


Item = Message | Note | Activation


@dataclass(frozen=True, slots=True)
class Sequence:
    """Participants in order of appearance and the items in time order."""

    participants: tuple[Participant, ...]
    items: tuple[Item, ...]


class _Participants:
    def __init__(self) -> None:
        self.ids: dict[tuple[CallType, str], str] = {}
        self.counts: dict[CallType, int] = {}
        self.order: list[Participant] = []

    def id(self, node: Node) -> str:
        kind = CallType(node.step.call_type)
        key = (kind, node.step.name)
        if key not in self.ids:
            n = self.counts[kind] = self.counts.get(kind, 0) + 1
            pid = self.ids[key] = f"{_PREFIX[kind]}{n}"
            self.order.append(Participant(pid, kind, node.step.name))
        return self.ids[key]


def sequence(trace: DebugTrace, *, max_steps: int = 300) -> Sequence:
    """Return the sequence of ``trace`` (see the module docstring)."""
    if max_steps < 1:
        raise ValueError(f"max_steps must be >= 1, got {max_steps}")
    tree = call_tree(trace)
    people = _Participants()
    items = _items(tree, people, max_steps)
    return Sequence(tuple(people.order), tuple(items))


def _items(tree: CallTree, people: _Participants, max_steps: int) -> list[Item]:
    items: list[Item] = []
    active: dict[int, str] = {}  # node index -> participant, in activation order
    shown = 0
    left_out: set[int] = set()
    for move in moves(tree):
        node = move.node
        step = node.step
        if step.call_type == CallType.HOST or node.index in left_out:
            continue
        if not move.end and shown >= max_steps:
            left_out.add(node.index)
            continue
        shown += not move.end
        owner = tree.owner(node)
        src = people.id(owner) if owner is not None else None
        me = people.id(node)
        if not move.end:
            if src is None:
                items.append(Activation(me, True))
            else:
                verb = (
                    "call"
                    if step.call_type == CallType.TOOL
                    else "handoff"
                    if tree.is_handoff(node)
                    else "invoke"
                )
                items.append(Message("call", src, me, verb))
            active[node.index] = me
            continue
        took = f" ({step.latency} ms)" if step.latency is not None else ""
        if step.error is not None:
            items.append(Note(me, f"failed: {step.error}"))
        if src is None:
            items.append(Activation(me, False))
        elif step.error is not None:
            items.append(Message("fail", me, src, f"failed{took}"))
        else:
            word = "result" if step.call_type == CallType.TOOL else "done"
            items.append(Message("return", me, src, f"{word}{took}"))
        del active[node.index]
    for me in reversed(active.values()):
        items.append(Note(me, "no end recorded"))
        items.append(Activation(me, False))
    if left_out and people.order:
        items.append(Note(people.order[0].id, f"{len(left_out)} more steps not shown"))
    return items
