"""Showing a listing on a terminal, in a pipe, or again and again (``--watch``).

A listing command (``status``, ``trace list``) describes its output once as a :class:`View`:
how to fetch the data, how to draw it for a terminal of a given width (a Rich renderable), its
plain tab-separated lines for a pipe (a header line, then one line per row: no box drawing, no
colour, no wrapping), and its JSON. :func:`show` picks one: JSON with ``--json``, the drawing
when stdout is a terminal (Rich's detection: ``TTY_COMPATIBLE=1`` or ``FORCE_COLOR`` force it,
``COLUMNS`` sets the width), the lines otherwise. With ``--watch SECONDS`` it refreshes in place
on a terminal (Rich ``Live``), prints the lines (or one JSON document per line) again at each
refresh in a pipe, and stops cleanly on Ctrl-C; ``count`` bounds the refreshes.

Example::

    view = View(fetch, draw=lambda data, width: table, lines=tsv_of, as_json=lambda data: data)
    show(view, console=Console(), as_json=False, watch=2.0, count=None)
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sloguard.analysis.views.characters import printable
from sloguard.commands import CommandFailed

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.text import Text

__all__ = [
    "GAP",
    "MIN_NAME",
    "View",
    "add_watch_arguments",
    "cell_width",
    "share_widths",
    "show",
    "tsv",
    "tsv_cell",
]

T = TypeVar("T")

_BLANKS = re.compile(r"[\t\r\n]+")


def tsv_cell(value: object) -> str:
    """One field of a tab-separated line: printable, tabs and line breaks folded into spaces;
    None is ``-``."""
    return "-" if value is None else _BLANKS.sub(" ", printable(str(value)))


def tsv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A header line and one tab-separated line per row (each ending with a newline).

    Example::

        tsv(["slo", "state"], [["checkout", "ok"]])   # 'slo\\tstate\\ncheckout\\tok\\n'
    """
    return "".join("\t".join(tsv_cell(v) for v in row) + "\n" for row in [header, *rows])


#: Room a listing's table gives each column besides its content: right padding and a divider.
GAP = 2
#: The narrowest a name column gets (names wrap within it, never cut).
MIN_NAME = 12


def cell_width(text: Text | str) -> int:
    """Terminal cells of the widest line of ``text`` (wide characters count twice)."""
    from rich.cells import cell_len

    plain = text if isinstance(text, str) else text.plain
    return max((cell_len(line) for line in plain.splitlines()), default=0)


def share_widths(room: int, first: int, second: int) -> list[int]:
    """Widths of two name columns needing ``first`` and ``second`` cells in ``room``: each its
    need when both fit, else the narrower its need (up to half) and the other the rest.

    Example::

        share_widths(40, 14, 50)   # [14, 26]
    """
    if first + second <= room:
        return [first, second]
    half = room // 2
    if first <= second:
        a = max(MIN_NAME, min(first, half))
        return [a, max(MIN_NAME, room - a)]
    b = max(MIN_NAME, min(second, half))
    return [max(MIN_NAME, room - b), b]


@dataclass(frozen=True, slots=True)
class View(Generic[T]):
    """A listing: ``fetch`` its data, then ``draw`` it for a terminal ``width`` wide, or give
    its tab-separated ``lines`` or its JSON (``as_json``)."""

    fetch: Callable[[], T]
    draw: Callable[[T, int], RenderableType]
    lines: Callable[[T], str]
    as_json: Callable[[T], Any]


def add_watch_arguments(parser: Any) -> None:
    """``--watch [SECONDS]`` (default 2) and ``--count N``."""
    parser.add_argument(
        "--watch",
        nargs="?",
        type=float,
        const=2.0,
        default=None,
        metavar="SECONDS",
        help="refresh every SECONDS (default 2) until Ctrl-C; in place on a terminal, "
        "the whole listing again per refresh in a pipe",
    )
    parser.add_argument(
        "--count", type=int, default=None, metavar="N", help="with --watch: stop after N refreshes"
    )


def show(
    view: View[T],
    *,
    console: Console,
    as_json: bool,
    watch: float | None = None,
    count: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Print ``view`` once, or every ``watch`` seconds (at most ``count`` times); return 0.

    A failed fetch ends a single listing (:class:`CommandFailed`); while watching it is shown
    in place of the listing and the next refresh tries again.
    """
    if watch is not None and not watch > 0:
        raise CommandFailed(f"--watch must be a positive number of seconds, got {watch}")
    if count is not None and count < 1:
        raise CommandFailed(f"--count must be at least 1, got {count}")
    if watch is None:
        _print_once(view, view.fetch(), console, as_json=as_json)
        return 0
    try:
        if console.is_terminal and not as_json:
            _watch_live(view, console, watch, count, sleep)
        else:
            _watch_lines(view, console, as_json, watch, count, sleep)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a watch ends
    return 0


def _print_once(view: View[T], data: T, console: Console, *, as_json: bool) -> None:
    if as_json:
        console.file.write(json.dumps(view.as_json(data), indent=2, ensure_ascii=False) + "\n")
    elif console.is_terminal:
        console.print(view.draw(data, console.width))
    else:
        console.file.write(view.lines(data))
    console.file.flush()


def _frame(view: View[T], width: int, every: float) -> RenderableType:
    from rich.text import Text

    try:
        return view.draw(view.fetch(), width)
    except CommandFailed as exc:
        return Text(f"sloguard: {exc}\n(trying again every {every:g}s, Ctrl-C to stop)", "red")


def _watch_live(
    view: View[T], console: Console, every: float, count: int | None, sleep: Callable[[float], None]
) -> None:
    from rich.live import Live

    with Live(console=console, auto_refresh=False, redirect_stdout=False) as live:
        shown = 0
        while True:
            live.update(_frame(view, console.width, every), refresh=True)
            shown += 1
            if count is not None and shown >= count:
                return
            sleep(every)


def _watch_lines(
    view: View[T],
    console: Console,
    as_json: bool,
    every: float,
    count: int | None,
    sleep: Callable[[float], None],
) -> None:
    shown = 0
    while True:
        try:
            data = view.fetch()
        except CommandFailed as exc:
            if as_json:
                console.file.write(json.dumps({"error": str(exc), "problems": []}) + "\n")
            else:
                print(f"sloguard: {exc}", file=sys.stderr)
        else:
            out = json.dumps(view.as_json(data), ensure_ascii=False)  # one document per line
            console.file.write(out + "\n" if as_json else view.lines(data))
        console.file.flush()
        shown += 1
        if count is not None and shown >= count:
            return
        sleep(every)
