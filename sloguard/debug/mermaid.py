"""Render a trace as a Mermaid ``sequenceDiagram`` (seed 000's ``WorkflowVisualizer``, fixed).

Pure: takes a trace, returns text. Differences from the seed, which broke on real names and
left activations open:

- Participants get generated ids (``h1`` hosts, ``a1`` agents, ``t1`` tools, in order of
  appearance) and their names as aliases, so names may hold spaces, Korean, ``:``, ``-->>`` or
  anything else. In every text, whitespace is collapsed and the few characters Mermaid treats
  specially (``#`` comments, ``;`` statement ends, ``%`` directives, and ``< > & "`` that
  would be read as HTML) are written as Mermaid entity codes (``#59;``), which Mermaid shows
  as the character. Long texts are cut with ``…``.
- Every step that starts is activated (``->>+`` from its caller, or ``activate`` at the top)
  and deactivated when it ends: ``-->>-`` back to the caller, or ``--x-`` after a
  ``Note over X: failed: …`` when it failed. Steps still running when the trace was captured
  are noted and deactivated at the end, so activations always balance.
- An agent invoked by another agent is a ``handoff``; by a host (a workflow root) ``invoke``;
  tools are ``call``-ed. Events are in time order (concurrent workers interleave).
- At most ``max_steps`` agent and tool steps are drawn (Mermaid refuses to render more than
  50,000 characters by default); steps starting after that are left out with their children,
  and a final note says how many.
"""

from __future__ import annotations

from sloguard.conventions import CallType
from sloguard.debug.calltree import CallTree, DebugTrace, Node, call_tree, moves

#: Characters written as Mermaid entity codes in labels and messages.
SPECIAL = frozenset('#;%<>&"')
_PREFIX = {CallType.HOST: "h", CallType.AGENT: "a", CallType.TOOL: "t"}


def mermaid_text(text: str, limit: int = 60) -> str:
    """Return ``text`` safe for a Mermaid label or message: one line, cut, specials encoded."""
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    flat = " ".join(text.split()) or "?"
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return "".join(f"#{ord(ch)};" if ch in SPECIAL else ch for ch in flat)


class _Participants:
    def __init__(self, max_label: int) -> None:
        self.ids: dict[tuple[CallType, str], str] = {}
        self.counts: dict[CallType, int] = {}
        self.declarations: list[str] = []
        self.max_label = max_label

    def id(self, node: Node) -> str:
        kind = CallType(node.step.call_type)
        key = (kind, node.step.name)
        if key not in self.ids:
            n = self.counts[kind] = self.counts.get(kind, 0) + 1
            pid = self.ids[key] = f"{_PREFIX[kind]}{n}"
            self.declarations.append(
                f"    participant {pid} as {mermaid_text(node.step.name, self.max_label)}"
            )
        return self.ids[key]


def sequence_diagram(
    trace: DebugTrace, *, max_label: int = 40, max_note: int = 60, max_steps: int = 300
) -> str:
    """Return the Mermaid ``sequenceDiagram`` of ``trace`` (see the module docstring).

    Example::

        print(sequence_diagram(trace))   # paste into any Mermaid renderer
    """
    if max_steps < 1:
        raise ValueError(f"max_steps must be >= 1, got {max_steps}")
    tree = call_tree(trace)
    people = _Participants(max_label)
    body = _body(tree, people, max_note, max_steps)
    return "\n".join(["sequenceDiagram", *people.declarations, *body])


def _body(tree: CallTree, people: _Participants, max_note: int, max_steps: int) -> list[str]:
    lines: list[str] = []
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
                lines.append(f"    activate {me}")
            else:
                verb = (
                    "call"
                    if step.call_type == CallType.TOOL
                    else "handoff"
                    if tree.is_handoff(node)
                    else "invoke"
                )
                lines.append(f"    {src}->>+{me}: {verb}")
            active[node.index] = me
            continue
        took = f" ({step.latency} ms)" if step.latency is not None else ""
        if step.error is not None:
            note = mermaid_text(f"failed: {step.error}", max_note)
            lines.append(f"    Note over {me}: {note}")
        if src is None:
            lines.append(f"    deactivate {me}")
        elif step.error is not None:
            lines.append(f"    {me}--x-{src}: failed{took}")
        else:
            word = "result" if step.call_type == CallType.TOOL else "done"
            lines.append(f"    {me}-->>-{src}: {word}{took}")
        del active[node.index]
    for me in reversed(active.values()):
        lines.append(f"    Note over {me}: no end recorded")
        lines.append(f"    deactivate {me}")
    if left_out and people.ids:
        first = next(iter(people.ids.values()))
        lines.append(f"    Note over {first}: {len(left_out)} more steps not shown")
    return lines
