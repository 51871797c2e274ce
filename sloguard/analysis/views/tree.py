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

The text stays linear in the number of steps, however deep the trace (a 10,000-step parent
chain once gave 200 MB of indentation): past ``max_depth`` levels the indentation stops
growing and each line starts with its depth as a number (``[57] ``); after ``max_lines`` lines
the tree stops with one line saying how many steps were left out. A line is at most about
``4 * max_depth + 300 + max_error`` characters.
"""

from __future__ import annotations

from sloguard.analysis.calltree import DebugTrace, Node, call_tree
from sloguard.analysis.views.characters import printable
from sloguard.conventions import CallType

_BRANCH, _LAST, _PIPE, _GAP = "├── ", "└── ", "│   ", "    "
#: Levels of indentation drawn; deeper steps show their depth as a number.
MAX_DEPTH = 32
#: Lines (steps) shown; the rest are counted in a last line.
MAX_LINES = 2000


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


def text_tree(
    trace: DebugTrace,
    *,
    max_error: int = 80,
    max_depth: int = MAX_DEPTH,
    max_lines: int = MAX_LINES,
) -> str:
    """Return the text tree of ``trace``: one line per step, no trailing newline.

    Indentation stops at ``max_depth`` levels (deeper lines show their depth as ``[n]``); at
    most ``max_lines`` steps are shown, then a line counting the steps left out.
    """
    if max_depth < 1 or max_lines < 1:
        raise ValueError(f"max_depth and max_lines must be >= 1, got {max_depth}, {max_lines}")
    tree = call_tree(trace)
    lines: list[str] = []
    # (node index, prefix for its children, prefix for its own line)
    stack: list[tuple[int, str, str]] = [(i, "", "") for i in reversed(tree.roots)]
    while stack and len(lines) < max_lines:
        index, inner, own = stack.pop()
        node = tree.nodes[index]
        deep = f"[{node.depth}] " if node.depth > max_depth else ""
        lines.append(own + deep + describe(node, max_error=max_error))
        kids = node.children
        for pos in range(len(kids) - 1, -1, -1):
            last = pos == len(kids) - 1
            # past max_depth, children are drawn at their parent's indentation
            below = inner if node.depth >= max_depth else inner + (_GAP if last else _PIPE)
            stack.append((kids[pos], below, inner + (_LAST if last else _BRANCH)))
    left = len(tree.nodes) - len(lines)
    if left:
        noun = "step" if left == 1 else "steps"
        lines.append(f"… {left} more {noun} not shown (at most {max_lines} lines)")
    return "\n".join(lines)
