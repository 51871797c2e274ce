"""How ``sloguard trace list`` shows stored traces (summaries, as ``/api/v1/traces`` gives them).

On a terminal (:func:`trace_table`) the table fits the width it is given and no trace id or
agent is cut short (they wrap): below :data:`~sloguard.commands.statusview.WIDE` columns the
agent is on its own line under the trace id; from it on, the agent has its own column and the
table adds how long ago each trace started. In a pipe (:func:`trace_lines`): a header line and
one tab-separated line per trace, times as unix seconds. Texts from traces are shown as text,
control characters replaced (:func:`~sloguard.analysis.views.characters.printable`).

Example::

    console.print(trace_table(summaries, console.width, now=time.time()))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sloguard.analysis.views.characters import printable
from sloguard.commands.statusview import WIDE
from sloguard.commands.terminal import GAP, MIN_NAME, cell_width, share_widths, tsv
from sloguard.durations import format_duration

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["HEADER", "trace_lines", "trace_table"]

#: The tab-separated header line's fields.
HEADER = ("trace_id", "started_at", "agent", "status", "steps", "cost")


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _cost(value: float | None) -> str:
    return "-" if value is None else f"${value:.4f}"


def _ago(now: float, ts: float) -> str:
    """How long ago, to the second under a minute, the minute under a day, else the hour."""
    age = now - ts
    if age < 1:
        return "now"
    step = 1 if age < 60 else 60 if age < 86400 else 3600
    return format_duration(age - age % step)


def trace_table(summaries: Sequence[Mapping[str, Any]], width: int, *, now: float) -> Table:
    """A Rich table of trace summaries that fits ``width`` columns (ids wrap, never cut)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    wide = width >= WIDE
    heads = ["started (UTC)", *(["ago"] if wide else []), "status", "steps", "cost"]
    rows = []
    for s in summaries:
        started = float(s.get("started_at") or 0.0)
        cells: dict[str, str] = {
            "started (UTC)": _when(started),
            "ago": _ago(now, started),
            "status": str(s.get("status", "-")),
            "steps": str(s.get("steps", "-")),
            "cost": _cost(s.get("cost")),
        }
        ident = printable(str(s.get("trace_id", "-")))
        rows.append((ident, printable(str(s.get("agent") or "-")), [cells[h] for h in heads]))
    fixed = [max([len(h), *(cell_width(r[2][i]) for r in rows)]) for i, h in enumerate(heads)]
    names = 2 if wide else 1
    room = width - sum(fixed) - GAP * (len(fixed) + names - 1)
    id_need = max([5, *(cell_width(r[0]) for r in rows)])
    agent_need = max([5, *(cell_width(r[1]) for r in rows)])
    if wide:
        name_widths = share_widths(room, id_need, agent_need)
    else:
        name_widths = [max(MIN_NAME, min(room, max(id_need, agent_need + 2)))]
    table = Table(
        title=f"{len(summaries)} traces",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 1, 0, 0),
        pad_edge=False,
    )
    table.add_column("trace" if wide else "trace / agent", width=name_widths[0], overflow="fold")
    if wide:
        table.add_column("agent", width=name_widths[1], overflow="fold")
    for head, w in zip(heads, fixed, strict=True):
        right = head in ("ago", "steps", "cost")
        table.add_column(head, width=w, overflow="fold", justify="right" if right else "left")
    for ident, agent, values in rows:
        color = "green" if values[heads.index("status")] == "ok" else "red"
        styled = [
            Text(v, style=color) if h == "status" else v for h, v in zip(heads, values, strict=True)
        ]
        if wide:
            table.add_row(Text(ident), Text(agent), *styled)
        else:
            table.add_row(Text.assemble(ident, ("\n  " + agent, "dim")), *styled)
    return table


def trace_lines(summaries: Sequence[Mapping[str, Any]]) -> str:
    """A header line and one tab-separated line per trace (the API's raw values)."""
    return tsv(HEADER, ([s.get(k) for k in HEADER] for s in summaries))
