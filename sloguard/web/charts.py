"""Draw an SLO instance's history as a standalone SVG (the page's chart; no script needed). Pure.

Two panels share the time axis: the error budget remaining over the period (a line, with the
0 line where the budget is spent) and the burn rate of every alert window (one line per window,
each tier's factor a dashed threshold in its severity's colour). Alerts that fired are red
(critical) or amber (warning) markers, resolved ones green, each a vertical rule across both
panels. Missing points (no data then) leave gaps.

The document names itself for assistive technology (``role="img"``, ``<title>``, ``<desc>``
with :func:`summary`, the same text the page shows beside it) and every marker carries a
``<title>`` tooltip. Series are ``<path class="budget">`` / ``<path class="burn"
data-window="3600">``, thresholds ``<line class="threshold" data-factor="14.4">``, markers
``<g class="alert fired critical" data-at="…">``: a test (or a script) can read the drawing back.
Every text is escaped.

Example::

    svg = history_svg(history, slo.alerting.policy.tiers, moments, title="availability")
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

from sloguard.alerting.history import FIRED, AlertMoment
from sloguard.durations import format_duration
from sloguard.evaluation.history import InstanceHistory
from sloguard.slo.budget import Severity, Tier

__all__ = ["BUDGET_COLOUR", "SEVERITY_COLOUR", "history_svg", "summary"]

WIDTH = 760
PANEL = 170
LEFT, RIGHT, TOP, GAP = 56, 150, 34, 44
BUDGET_COLOUR = "#1565c0"
RESOLVED_COLOUR = "#2e7d32"
SEVERITY_COLOUR = {Severity.CRITICAL.value: "#c62828", Severity.WARNING.value: "#f9a825"}
_WINDOW_COLOURS = ("#6a1b9a", "#00838f", "#6d4c41", "#ad1457", "#455a64", "#827717", "#283593")
_STYLE = """
text { font: 11px system-ui, sans-serif; fill: #37474f; }
.heading { font-weight: 600; font-size: 12px; fill: #212121; }
.frame { fill: #fff; stroke: #cfd8dc; }
.zero { stroke: #212121; stroke-width: 1; }
.grid { stroke: #eceff1; }
.budget { fill: none; stroke: #1565c0; stroke-width: 2.5; }
.burn { fill: none; stroke-width: 1.5; }
.threshold { stroke-width: 1.2; stroke-dasharray: 6 4; }
.alert line { stroke-width: 1.5; stroke-dasharray: 2 2; }
"""


def _pct(v: float | None) -> str:
    return "no data" if v is None else f"{v * 100:.1f} %"


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def summary(h: InstanceHistory, moments: Sequence[AlertMoment]) -> str:
    """One paragraph saying what the chart shows (its ``<desc>`` and the page's text)."""
    known = [b for b in h.budget if b is not None]
    span = format_duration(h.times[-1] - h.times[0]) if len(h.times) > 1 else "one point"
    if known:
        budget = (
            f"Error budget remaining went from {_pct(known[0])} to {_pct(known[-1])}"
            f" (lowest {_pct(min(known))}) over {span}."
        )
    else:
        budget = f"No data over {span}."
    latest = []
    for w, series in sorted(h.burn.items()):
        last = next((b for b in reversed(series) if b is not None), None)
        if last is not None:
            latest.append(f"{format_duration(w)} {last:.2f}x")
    burn = f" Latest burn rates: {', '.join(latest)}." if latest else ""
    fired = sum(m.kind == FIRED for m in moments)
    return f"{budget}{burn} Alerts: {fired} fired, {len(moments) - fired} resolved."


#: A panel's value range and its top and bottom on the canvas.
_Axis = tuple[float, float, float, float]


def _y(v: float, axis: _Axis) -> float:
    lo, hi, top, bottom = axis
    return bottom - (min(max(v, lo), hi) - lo) / (hi - lo) * (bottom - top)


def _path(xs: Sequence[float], values: Sequence[float | None], axis: _Axis) -> str:
    """An SVG path through the known values; a gap wherever a value is missing."""
    parts: list[str] = []
    pen_down = False
    for x, v in zip(xs, values, strict=True):
        if v is None or not math.isfinite(v):
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{x:.1f},{_y(v, axis):.1f}")
        pen_down = True
    return " ".join(parts)


def _text(x: float, y: float, text: str, anchor: str = "start", cls: str = "") -> str:
    klass = f" class={quoteattr(cls)}" if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{klass}>{escape(text)}</text>'


def _frame(axis: _Axis, heading: str, ticks: Sequence[tuple[float, str]]) -> list[str]:
    _, _, top, bottom = axis
    out = [
        f'<rect class="frame" x="{LEFT}" y="{top}" width="{WIDTH - LEFT - RIGHT}"'
        f' height="{bottom - top}"/>',
        _text(LEFT, top - 8, heading, cls="heading"),
    ]
    for value, label in ticks:
        y = _y(value, axis)
        out.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        out.append(_text(LEFT - 6, y + 4, label, "end"))
    return out


def _budget_panel(h: InstanceHistory, xs: Sequence[float], top: float) -> list[str]:
    known = [b for b in h.budget if b is not None and math.isfinite(b)]
    lo = min(0.0, *known) if known else 0.0
    hi = max(1.0, *known) if known else 1.0
    axis = (lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo), top, top + PANEL)
    ticks = [(v, f"{v * 100:.0f}%") for v in (lo, 0.5 * (lo + hi), hi) if v != 0.0]
    out = _frame(axis, "Error budget remaining", [(0.0, "0%"), *ticks])
    y0 = _y(0.0, axis)
    out.append(f'<line class="zero" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y0:.1f}" y2="{y0:.1f}"/>')
    out.append(f'<path class="budget" d="{_path(xs, h.budget, axis)}"/>')
    out.append(_text(WIDTH - RIGHT + 8, y0 + 4, "budget spent"))
    return out


def _burn_panel(
    h: InstanceHistory, tiers: Sequence[Tier], xs: Sequence[float], top: float
) -> list[str]:
    observed = [b for s in h.burn.values() for b in s if b is not None and math.isfinite(b)]
    hi = max([1.0, *(t.factor for t in tiers), *observed]) * 1.1
    axis = (0.0, hi, top, top + PANEL)
    out = _frame(axis, "Burn rate per alert window", [(v, f"{v:.3g}x") for v in (0.0, hi / 2, hi)])
    for tier in sorted(tiers, key=lambda t: -t.factor):
        y = _y(tier.factor, axis)
        colour = SEVERITY_COLOUR[tier.severity.value]
        out.append(
            f'<line class="threshold {tier.severity.value}" data-factor="{tier.factor:g}"'
            f' x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{colour}">'
            f"<title>{escape(f'{tier.severity.value} {tier.name} fires above {tier.factor:g}x')}"
            "</title></line>"
        )
        out.append(
            _text(WIDTH - RIGHT - 4, y - 3, f"{tier.severity.value} {tier.factor:g}x", "end")
        )
    legend_y = top + 10
    for i, (window, series) in enumerate(sorted(h.burn.items())):
        colour = _WINDOW_COLOURS[i % len(_WINDOW_COLOURS)]
        out.append(
            f'<path class="burn" data-window="{window:g}" stroke="{colour}"'
            f' d="{_path(xs, series, axis)}"/>'
        )
        y = legend_y + 14 * i
        out.append(
            f'<line x1="{WIDTH - RIGHT + 8}" x2="{WIDTH - RIGHT + 26}" y1="{y:.1f}" y2="{y:.1f}"'
            f' stroke="{colour}" stroke-width="2"/>'
        )
        out.append(_text(WIDTH - RIGHT + 30, y + 4, f"{format_duration(window)} window"))
    return out


def _markers(
    moments: Sequence[AlertMoment], x_of: Callable[[float], float], top: float, bottom: float
) -> list[str]:
    out = []
    for m in moments:
        x = x_of(m.at)
        colour = SEVERITY_COLOUR.get(m.severity, "#c62828") if m.kind == FIRED else RESOLVED_COLOUR
        tip = y = top - 4
        shape = (
            f"{x - 6:.1f},{y - 9:.1f} {x + 6:.1f},{y - 9:.1f} {x:.1f},{tip:.1f}"
            if m.kind == FIRED
            else f"{x - 6:.1f},{y:.1f} {x + 6:.1f},{y:.1f} {x:.1f},{y - 9:.1f}"
        )
        note = f" ({m.suppressed})" if m.suppressed else ""
        label = f"{m.alertname} {m.severity} {m.kind} at {_when(m.at)}{note}"
        out.append(
            f'<g class={quoteattr(f"alert {m.kind} {m.severity}")} data-at="{m.at:.3f}">'
            f"<title>{escape(label)}</title>"
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top:.1f}" y2="{bottom:.1f}" stroke="{colour}"/>'
            f'<polygon points="{shape}" fill="{colour}"/></g>'
        )
    return out


def history_svg(
    h: InstanceHistory, tiers: Sequence[Tier], moments: Sequence[AlertMoment], *, title: str
) -> str:
    """The chart of one instance's history as an SVG document."""
    t0, t1 = h.times[0], h.times[-1]
    plot = WIDTH - LEFT - RIGHT

    def x_of(t: float) -> float:
        return LEFT + (plot if t1 == t0 else (t - t0) / (t1 - t0) * plot)

    xs = [x_of(t) for t in h.times]
    second = TOP + PANEL + GAP
    height = second + PANEL + 34
    shown = [m for m in moments if t0 <= m.at <= t1]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}"'
        f' viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="chart-title chart-desc">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<desc id="chart-desc">{escape(summary(h, shown))}</desc>',
        f"<style>{_STYLE}</style>",
        f'<rect width="{WIDTH}" height="{height}" fill="#fafafa"/>',
        *_budget_panel(h, xs, TOP),
        *_burn_panel(h, tiers, xs, second),
        *_markers(shown, x_of, TOP, second + PANEL),
    ]
    for t, anchor in ((t0, "start"), ((t0 + t1) / 2, "middle"), (t1, "end")):
        parts.append(_text(x_of(t), height - 10, _when(t), anchor))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
