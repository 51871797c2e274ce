"""Draw a trace's sequence as a standalone SVG (the web page's diagram; no JavaScript needed).

Pure: takes a trace, returns SVG text, drawn from
:func:`sloguard.analysis.views.sequence.sequence`, the
model the Mermaid text is written from, so both show the same participants, arrows and notes.
The daemon serves it as ``image/svg+xml``, so it renders offline, in any browser, with nothing
to download; the Mermaid text stays available for pasting elsewhere.

Layout: one column per participant (boxes on top, dashed lifelines), one row per item in time
order. Calls are solid arrows, returns dashed, failures red with a cross; an activation is a
narrow bar on the lifeline from its call to its return (nested calls stack to the right).
Every text is escaped and cut, with the whole text in a ``<title>`` tooltip; characters XML
cannot hold are replaced (:mod:`.characters`), so the document is always well-formed. Each
arrow is a ``<g class="msg call|return|fail" data-from=… data-to=…>`` and each note a
``<g class="note">``, so a test (or a script) can read the drawing back.

Example::

    open("trace.svg", "w").write(sequence_svg(trace))
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from sloguard.analysis.calltree import DebugTrace
from sloguard.analysis.views.characters import printable
from sloguard.analysis.views.sequence import Activation, Message, Note, Participant, sequence
from sloguard.conventions import CallType

COLUMN = 180
ROW = 32
TOP = 64
MARGIN = 20
BAR = 10
_BOX = {
    CallType.HOST: ("#eceff1", "#607d8b"),
    CallType.AGENT: ("#e3f2fd", "#1e88e5"),
    CallType.TOOL: ("#e8f5e9", "#43a047"),
}
_STYLE = """
text { font: 12px system-ui, sans-serif; fill: #212121; }
.head text { font-weight: 600; }
.msg line { stroke-width: 1.5; }
.call line { stroke: #37474f; }
.return line { stroke: #78909c; stroke-dasharray: 5 4; }
.fail line { stroke: #d32f2f; }
.fail text { fill: #b71c1c; }
.life { stroke: #b0bec5; stroke-dasharray: 3 4; }
.bar { fill: #fff; stroke: #546e7a; }
"""


def _cut(text: str, limit: int) -> str:
    flat = " ".join(text.split()) or "?"
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _text(x: float, y: float, text: str, limit: int, anchor: str = "middle") -> str:
    shown = escape(printable(_cut(text, limit)))
    tip = escape(printable(" ".join(text.split())))
    return f'<text x="{x:g}" y="{y:g}" text-anchor="{anchor}"><title>{tip}</title>{shown}</text>'


class _Canvas:
    def __init__(self, participants: tuple[Participant, ...]) -> None:
        self.x = {p.id: MARGIN + COLUMN / 2 + i * COLUMN for i, p in enumerate(participants)}
        self.width = max(MARGIN * 2 + COLUMN * len(participants), 200)
        self.open: dict[str, list[float]] = {p.id: [] for p in participants}
        self.bars: list[str] = []
        self.parts: list[str] = []
        self.y = float(TOP + ROW)

    def edge(self, who: str, toward: float) -> float:
        """Where an arrow meets ``who``'s lifeline (the side of its innermost bar)."""
        depth = len(self.open[who])
        x = self.x[who] + max(depth - 1, 0) * BAR / 2
        if depth == 0:
            return x
        return x + BAR / 2 if toward > x else x - BAR / 2

    def activate(self, who: str) -> None:
        self.open[who].append(self.y)

    def deactivate(self, who: str) -> None:
        if not self.open[who]:
            return
        depth = len(self.open[who]) - 1
        start = self.open[who].pop()
        x = self.x[who] - BAR / 2 + depth * BAR / 2
        height = max(self.y - start, 4)
        self.bars.append(
            f'<rect class="bar" x="{x:g}" y="{start:g}" width="{BAR}" height="{height:g}"/>'
        )

    def message(self, m: Message, max_label: int) -> None:
        xs, xt = self.x[m.source], self.x[m.target]
        if m.kind == "call":
            self.activate(m.target)
        a = self.edge(m.source, xt)
        b = self.edge(m.target, xs)
        y = self.y
        head = "x" if m.kind == "fail" else "arrow"
        ends = f"data-from={quoteattr(m.source)} data-to={quoteattr(m.target)}"
        attrs = f'class="msg {m.kind}" {ends}'
        if xs == xt:  # a step calling its own name: a loop to the right
            b = a
            line = (
                f'<line x1="{a:g}" y1="{y - 8:g}" x2="{a + 30:g}" y2="{y - 8:g}"/>'
                f'<line x1="{a + 30:g}" y1="{y - 8:g}" x2="{a + 30:g}" y2="{y:g}"/>'
                f'<line x1="{a + 30:g}" y1="{y:g}" x2="{b:g}" y2="{y:g}"'
                f' marker-end="url(#{head})"/>'
            )
            label = _text(a + 36, y - 12, m.text, max_label, "start")
        else:
            line = f'<line x1="{a:g}" y1="{y:g}" x2="{b:g}" y2="{y:g}" marker-end="url(#{head})"/>'
            label = _text((a + b) / 2, y - 6, m.text, max_label)
        self.parts.append(f"<g {attrs}>{line}{label}</g>")
        if m.kind != "call":
            self.deactivate(m.source)
        self.y += ROW

    def note(self, n: Note, max_note: int) -> None:
        # About 7 px per character; a note may spread over two columns but stays on the canvas.
        width = min(7 * len(_cut(n.text, max_note)) + 16, 2 * COLUMN - 20, self.width - MARGIN)
        chars = min(max_note, (width - 16) // 7)
        left = min(max(self.x[n.over] - width / 2, MARGIN / 2), self.width - MARGIN / 2 - width)
        failed = n.text.startswith("failed")
        fill, stroke = ("#ffebee", "#e57373") if failed else ("#fff8e1", "#ffb300")
        self.parts.append(
            f'<g class="note{" failed" if failed else ""}" data-over={quoteattr(n.over)}>'
            f'<rect x="{left:g}" y="{self.y - 18:g}" width="{width}" height="24"'
            f' rx="3" fill="{fill}" stroke="{stroke}"/>'
            f"{_text(left + width / 2, self.y - 2, n.text, chars)}</g>"
        )
        self.y += ROW


def sequence_svg(
    trace: DebugTrace, *, max_label: int = 24, max_note: int = 60, max_steps: int = 300
) -> str:
    """Return the SVG sequence diagram of ``trace`` (see the module docstring)."""
    seq = sequence(trace, max_steps=max_steps)
    canvas = _Canvas(seq.participants)
    for item in seq.items:
        if isinstance(item, Message):
            canvas.message(item, max_label)
        elif isinstance(item, Note):
            canvas.note(item, max_note)
        elif isinstance(item, Activation):
            if item.on:
                canvas.activate(item.who)
            else:
                canvas.deactivate(item.who)
    height = canvas.y + MARGIN
    width = canvas.width
    heads: list[str] = []
    for p in seq.participants:
        x = canvas.x[p.id]
        fill, stroke = _BOX[p.kind]
        heads.append(
            f'<g class="head {p.kind.value.lower()}" data-id={quoteattr(p.id)}>'
            f'<line class="life" x1="{x:g}" y1="{TOP - 20}" x2="{x:g}" y2="{height - MARGIN:g}"/>'
            f'<rect x="{x - COLUMN / 2 + 10:g}" y="{MARGIN - 6}" width="{COLUMN - 20}"'
            f' height="38" rx="6" fill="{fill}" stroke="{stroke}"/>'
            f"{_text(x, MARGIN + 10, p.name, max_label)}"
            f'<text x="{x:g}" y="{MARGIN + 25}" text-anchor="middle" fill="#607d8b"'
            f' font-size="10">{p.kind.value.lower()}</text></g>'
        )
    empty = (
        []
        if seq.participants
        else [_text(width / 2, TOP, "no agent or tool steps in this trace", 60)]
    )
    label = printable(f"sequence diagram of trace {trace.trace_id}")
    return "".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:g}" height="{height:g}"'
            f' viewBox="0 0 {width:g} {height:g}" role="img"'
            f" aria-label={quoteattr(label)}>",
            f"<style>{_STYLE}</style>",
            "<defs>",
            '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7"'
            ' markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"'
            ' fill="#455a64"/></marker>',
            '<marker id="x" viewBox="0 0 10 10" refX="5" refY="5" markerWidth="9"'
            ' markerHeight="9"><path d="M1,1 L9,9 M9,1 L1,9" stroke="#d32f2f"'
            ' stroke-width="2"/></marker>',
            "</defs>",
            '<rect width="100%" height="100%" fill="#ffffff"/>',
            *heads,
            *canvas.bars,
            *canvas.parts,
            *empty,
            "</svg>",
        ]
    )
