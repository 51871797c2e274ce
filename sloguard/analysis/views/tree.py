"""Render a trace as a text tree with box-drawing characters (seed 000's Jaeger-like view).

Pure: takes a trace, returns text. One line per step, nested as in
:mod:`sloguard.analysis.calltree` (callee traces included)::

    workflow.execute (host, ok, 1250 ms)
    ├── supervisor (agent, ok, 350 ms, $0.0021)
    │   └── classify_intent (tool, ok, 45 ms)
    └── writer (agent, failed, 380 ms): TimeoutError: model timed out

Cost is shown when the step reported one (zero included); a step without a latency shows
``? ms``; the error of a failed step follows a colon, on one line and cut to ``max_error``.
Control characters (which would restyle a terminal) are replaced (:mod:`.characters`).
"""

from __future__ import annotations

from sloguard.analysis.calltree import DebugTrace, Node, call_tree
from sloguard.analysis.views.characters import printable
from sloguard.conventions import CallType

_BRANCH, _LAST, _PIPE, _GAP = "├── ", "└── ", "│   ", "    "


def _one_line(text: str, limit: int) -> str:
    flat = printable(" ".join(text.split()))
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def money(cost: float) -> str:
    """Format a cost in dollars: four decimals, or two significant digits below $0.0001."""
    if 0 < cost < 0.0001:
        return f"${cost:.2g}"
    return f"${cost:.4f}"


def describe(node: Node, *, max_error: int = 80) -> str:
    """Return one step's line without the tree prefix."""
    s = node.step
    parts = [CallType(s.call_type).value.lower(), "failed" if node.failed else "ok"]
    parts.append(f"{s.latency} ms" if s.latency is not None else "? ms")
    if s.cost is not None:
        parts.append(money(s.cost))
    line = f"{_one_line(s.name, 200) or '?'} ({', '.join(parts)})"
    if s.error is not None:
        line += f": {_one_line(s.error, max_error)}"
    return line


def text_tree(trace: DebugTrace, *, max_error: int = 80) -> str:
    """Return the text tree of ``trace``: one line per step, no trailing newline."""
    tree = call_tree(trace)
    lines: list[str] = []
    # (node index, prefix for its children, prefix for its own line)
    stack: list[tuple[int, str, str]] = [(i, "", "") for i in reversed(tree.roots)]
    while stack:
        index, inner, own = stack.pop()
        node = tree.nodes[index]
        lines.append(own + describe(node, max_error=max_error))
        kids = node.children
        for pos in range(len(kids) - 1, -1, -1):
            last = pos == len(kids) - 1
            stack.append(
                (kids[pos], inner + (_GAP if last else _PIPE), inner + (_LAST if last else _BRANCH))
            )
    return "\n".join(lines)
