"""How ``sloguard status`` shows the SLO instances of ``GET /api/v1/slos``.

On a terminal (:func:`status_table`), the table fits the width it is given. No SLO name or
instance is ever cut short: they wrap instead. Below :data:`WIDE` columns (an 80-column
terminal) the SLO and its instance share one column (the instance on its own line) and the
burn rates are one compact column of each alert tier's long window (``1h 14.2 · 6h 3.1``, two
per line); from :data:`WIDE` columns on, the instance has its own column and the table adds the
period, the events counted and when the budget runs out at the current burn, and shows the burn
rate of every window. Burn rates above a firing tier's factor are red; nothing from the API is
read as Rich markup.

In a pipe (:func:`status_lines`): a header line, then one tab-separated line per instance with
the API's values (fractions, not percentages; burn rates as ``window=rate`` pairs).

Example::

    console.print(status_table(items, console.width, title="SLOs at http://127.0.0.1:9464"))
    sys.stdout.write(status_lines(items))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sloguard.analysis.views.characters import printable
from sloguard.commands.terminal import GAP, MIN_NAME, cell_width, share_widths, tsv

if TYPE_CHECKING:
    from rich.table import Table
    from rich.text import Text

__all__ = ["HEADER", "WIDE", "burn_pairs", "instance_text", "status_lines", "status_table"]

#: From this width on, the table shows more columns.
WIDE = 120
#: The tab-separated header line's fields.
HEADER = (
    "slo",
    "instance",
    "state",
    "severity",
    "objective",
    "sli",
    "error_budget_remaining",
    "burn_rates",
    "events",
    "time_to_exhaustion_seconds",
    "muted",
)
_COLORS = {
    "ok": "green",
    "burning": "bold red",
    "error": "red",
    "no_data": "yellow",
    "insufficient_events": "yellow",
}
_SEP = " · "
#: The narrow burn column's width at 80 columns: two pairs such as ``1h 14.2 · 6h 13.1``.
_NARROW_BURN = 17


def instance_text(instance: Mapping[str, object] | None) -> str:
    """``agent_name=writer, tool_name=search`` (empty when the SLO has no ``group_by``)."""
    return ", ".join(f"{k}={v}" for k, v in (instance or {}).items())


def _rate(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if abs(value) < 100 else f"{value:.0f}"


def _pct(value: float | None, digits: int) -> str:
    """A percentage; ``digits`` decimals below 100 % (in size), none from it on."""
    if value is None:
        return "-"
    return f"{value * 100:.{digits if abs(value) < 1 else 0}f}%"


def _count(value: float | None) -> str:
    """Events, short: ``950``, ``12.3k``, ``2.59M``."""
    if value is None:
        return "-"
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{unit}"
    return f"{value:g}"


def _objective(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 100:.4f}".rstrip("0").rstrip(".") + "%"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds <= 0:
        return "now"
    from sloguard.durations import format_duration

    return format_duration(seconds) if seconds < 366 * 86400 else "> 1y"


def _period(item: Mapping[str, Any]) -> str:
    """``30d`` (rolling), or a calendar period and the time until its budget resets:
    ``month (3d left)``."""
    calendar = item.get("calendar")
    if not isinstance(calendar, Mapping):
        return str(item.get("period") or "-")
    return f"{calendar.get('unit', '?')} ({_duration(item.get('period_left_seconds'))} left)"


def burn_pairs(item: Mapping[str, Any], *, wide: bool) -> list[tuple[str, bool]]:
    """The burn rates to show, as (``window rate``, hot) pairs: narrow, each tier's long window
    (once per window); wide, every window the API gives. Hot: above a firing tier's factor."""
    tiers = item.get("tiers") or []
    rates: Mapping[str, float | None] = item.get("burn_rates") or {}
    hot: dict[str, float] = {}
    for t in tiers:
        if t.get("firing"):
            for w in str(t.get("name", "")).split("/"):
                hot[w] = min(hot.get(w, float("inf")), float(t.get("factor") or 0))
    if wide or not tiers:
        windows = list(rates)
    else:
        windows = list(dict.fromkeys(str(t.get("name", "")).split("/")[0] for t in tiers))
    out = []
    for w in windows:
        rate = rates.get(w)
        out.append((f"{w} {_rate(rate)}", rate is not None and w in hot and rate > hot[w]))
    return out


def _packed(pairs: list[tuple[str, bool]], width: int) -> Text:
    """The pairs joined by `` · ``, a new line where the next would pass ``width``."""
    from rich.text import Text

    if not pairs:
        return Text("-")
    text = Text()
    line = 0
    for i, (pair, hot) in enumerate(pairs):
        if i and line + len(_SEP) + len(pair) > width:
            text.append("\n")
            line = 0
        elif i:
            text.append(_SEP)
            line += len(_SEP)
        text.append(pair, style="bold red" if hot else "")
        line += len(pair)
    return text


def _one_line(pairs: list[tuple[str, bool]]) -> int:
    return len(_SEP.join(p for p, _ in pairs)) if pairs else 1


def _state_text(item: Mapping[str, Any]) -> Text:
    from rich.text import Text

    state = str(item.get("state") or "-")
    words = printable(state).split("_") if state == "insufficient_events" else [printable(state)]
    if item.get("severity"):
        words.append(printable(str(item["severity"])))
    words += [flag for flag in ("silenced", "acknowledged") if item.get(flag)]
    return Text("\n".join(words), style=_COLORS.get(state, ""))


#: The widest a name column of the wide table asks for (longer names wrap).
_MAX_NAME = 40


def status_table(items: Sequence[Mapping[str, Any]], width: int, *, title: str = "") -> Table:
    """A Rich table of ``items`` that fits ``width`` columns (names wrap, never cut)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    wide = width >= WIDE
    heads = ["target", "SLI", "budget"]
    if wide:
        heads = ["target", "period", "SLI", "events", "budget", "exhausts in"]
    rows = []
    for it in items:
        numbers: dict[str, str] = {
            "target": _objective(it.get("objective")),
            "period": printable(_period(it)),
            "SLI": _pct(it.get("sli"), 2),
            "events": _count(it.get("events")),
            "budget": _pct(it.get("error_budget_remaining"), 1),
            "exhausts in": _duration(it.get("time_to_exhaustion_seconds")),
        }
        labels = [f"{k}={v}" for k, v in (it.get("instance") or {}).items()]
        rows.append(
            (
                Text(printable(str(it.get("slo", "-"))), style="bold"),
                [printable(label) for label in labels],
                [numbers[h] for h in heads],
                burn_pairs(it, wide=wide),
                _state_text(it),
            )
        )
    fixed = [max([len(h), *(cell_width(r[2][i]) for r in rows)]) for i, h in enumerate(heads)]
    state_w = max([5, *(cell_width(r[4]) for r in rows)])
    burn_head = "burn rates" if wide else "burn"
    names = 2 if wide else 1
    columns = len(fixed) + names + 2
    room = width - sum(fixed) - state_w - GAP * (columns - 1)
    if wide:
        slo_need = min(_MAX_NAME, max([3, *(cell_width(r[0]) for r in rows)]))
        inst_need = min(_MAX_NAME, max([8, *(cell_width(x) for r in rows for x in r[1])]))
        one_line = max([len(burn_head), *(_one_line(r[3]) for r in rows)])
        burn_w = min(one_line, max(16, room // 3, room - slo_need - inst_need))
        name_widths = share_widths(room - burn_w, slo_need, inst_need)
    else:  # two pairs a line when they fit _NARROW_BURN (more on wider terminals)
        pair_w = max([len(burn_head), *(len(p) for r in rows for p, _ in r[3])])
        cap = max(pair_w, _NARROW_BURN + max(0, width - 80) // 4)
        burn_w = min(max([1, *(_one_line(r[3]) for r in rows)]), cap)
        burn_w = max(burn_w, pair_w)
        name_widths = [max(MIN_NAME, room - burn_w)]
    table = Table(
        title=Text(printable(title)) if title else None,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 1, 0, 0),
        pad_edge=False,
        expand=False,
    )
    table.add_column("SLO" if wide else "SLO / instance", width=name_widths[0], overflow="fold")
    if wide:
        table.add_column("instance", width=name_widths[1], overflow="fold")
    for head, w in zip(heads, fixed, strict=True):
        table.add_column(head, width=w, overflow="fold", justify="right")
    table.add_column(burn_head, width=burn_w, overflow="fold")
    table.add_column("state", width=state_w, overflow="fold")
    for name, labels, values, pairs, state in rows:
        if wide:
            first: list[Text | str] = [name, "\n".join(labels) or "-"]
        else:
            first = [Text.assemble(name, *(("\n  " + label) for label in labels))]
        table.add_row(*first, *values, _packed(pairs, burn_w), state)
    return table


def status_lines(items: Sequence[Mapping[str, Any]]) -> str:
    """A header line and one tab-separated line per instance (the API's raw values)."""
    rows = []
    for it in items:
        rates = it.get("burn_rates") or {}
        rows.append(
            [
                it.get("slo"),
                instance_text(it.get("instance")),
                it.get("state"),
                it.get("severity"),
                it.get("objective"),
                it.get("sli"),
                it.get("error_budget_remaining"),
                " ".join(f"{w}={'-' if r is None else r}" for w, r in rates.items()),
                it.get("events"),
                it.get("time_to_exhaustion_seconds"),
                ",".join(f for f in ("silenced", "acknowledged") if it.get(f)) or None,
            ]
        )
    return tsv(HEADER, rows)
