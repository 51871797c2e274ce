"""Render a trace as a Mermaid ``sequenceDiagram`` (seed 000's ``WorkflowVisualizer``, fixed).

Pure: takes a trace, returns text, written from :func:`sloguard.analysis.views.sequence.sequence`
(the
same model :mod:`sloguard.analysis.views.svg` draws). Differences from the seed, which broke on real
names and left activations open:

- Participants get generated ids (``h1`` hosts, ``a1`` agents, ``t1`` tools, in order of
  appearance) and their names as aliases, so names may hold spaces, Korean, ``:``, ``-->>`` or
  anything else. In every text, whitespace is collapsed and the few characters Mermaid treats
  specially (``#`` comments, ``;`` statement ends, ``%`` directives, and ``< > & "`` that
  would be read as HTML) are written as Mermaid entity codes (``#59;``), which Mermaid shows
  as the character; control characters, which no renderer can show, are replaced
  (:mod:`.characters`). Long texts are cut with ``…``.
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

from sloguard.analysis.calltree import DebugTrace
from sloguard.analysis.views.characters import printable
from sloguard.analysis.views.sequence import Item, Message, Note, sequence

#: Characters written as Mermaid entity codes in labels and messages.
SPECIAL = frozenset('#;%<>&"')
_ARROW = {"call": "->>+", "return": "-->>-", "fail": "--x-"}


def mermaid_text(text: str, limit: int = 60) -> str:
    """Return ``text`` safe for a Mermaid label or message: one line, cut, specials encoded."""
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    flat = printable(" ".join(text.split())) or "?"
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return "".join(f"#{ord(ch)};" if ch in SPECIAL else ch for ch in flat)


def sequence_diagram(
    trace: DebugTrace, *, max_label: int = 40, max_note: int = 60, max_steps: int = 300
) -> str:
    """Return the Mermaid ``sequenceDiagram`` of ``trace`` (see the module docstring).

    Example::

        print(sequence_diagram(trace))   # paste into any Mermaid renderer
    """
    seq = sequence(trace, max_steps=max_steps)
    lines = ["sequenceDiagram"]
    lines += [
        f"    participant {p.id} as {mermaid_text(p.name, max_label)}" for p in seq.participants
    ]
    lines += [_line(item, max_note) for item in seq.items]
    return "\n".join(lines)


def _line(item: Item, max_note: int) -> str:
    if isinstance(item, Message):
        return f"    {item.source}{_ARROW[item.kind]}{item.target}: {item.text}"
    if isinstance(item, Note):
        return f"    Note over {item.over}: {mermaid_text(item.text, max_note)}"
    return f"    {'activate' if item.on else 'deactivate'} {item.who}"
