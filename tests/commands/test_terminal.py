"""Listings on a terminal, in a pipe and under ``--watch``: :mod:`sloguard.commands.terminal`,
with Rich consoles writing to memory and an injected ``sleep`` (no clock, no server)."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console
from rich.text import Text

from sloguard.commands import CommandFailed
from sloguard.commands.terminal import View, share_widths, show, tsv, tsv_cell
from sloguard.commands.timespec import MAX_TIME, parse_time

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class Source:
    """Numbered snapshots; ``failing`` refreshes raise like an unreachable daemon."""

    def __init__(self, failing: tuple[int, ...] = ()) -> None:
        self.calls = 0
        self.failing = failing

    def fetch(self) -> list[str]:
        self.calls += 1
        if self.calls in self.failing:
            raise CommandFailed("cannot read http://127.0.0.1:9464/api/v1/slos: refused")
        return [f"snapshot-{self.calls}"]


def view(source: Source) -> View[list[str]]:
    return View(
        fetch=source.fetch,
        draw=lambda rows, width: Text(f"frame {rows[0]} at {width}"),
        lines=lambda rows: tsv(["name"], [[r] for r in rows]),
        as_json=lambda rows: {"rows": rows},
    )


def terminal() -> Console:
    return Console(file=io.StringIO(), force_terminal=True, width=80, color_system=None)


def piped() -> Console:
    return Console(file=io.StringIO(), force_terminal=False, width=80)


def written(console: Console) -> str:
    file = console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue()


class Sleeps:
    """Records the pauses; raises KeyboardInterrupt (Ctrl-C) at pause number ``interrupt``."""

    def __init__(self, interrupt: int | None = None) -> None:
        self.pauses: list[float] = []
        self.interrupt = interrupt

    def __call__(self, seconds: float) -> None:
        self.pauses.append(seconds)
        if len(self.pauses) == self.interrupt:
            raise KeyboardInterrupt


def test_once_a_terminal_gets_the_drawing_and_a_pipe_the_lines() -> None:
    console = terminal()
    assert show(view(Source()), console=console, as_json=False) == 0
    assert written(console) == "frame snapshot-1 at 80\n"
    console = piped()
    assert show(view(Source()), console=console, as_json=False) == 0
    assert written(console) == "name\nsnapshot-1\n"
    console = terminal()
    assert show(view(Source()), console=console, as_json=True) == 0
    assert json.loads(written(console)) == {"rows": ["snapshot-1"]}


def test_once_a_failed_fetch_is_the_commands_failure() -> None:
    with pytest.raises(CommandFailed, match="cannot read"):
        show(view(Source(failing=(1,))), console=terminal(), as_json=False)


def test_watch_on_a_terminal_draws_count_frames_in_place() -> None:
    source, sleeps, console = Source(), Sleeps(), terminal()
    assert show(view(source), console=console, as_json=False, watch=2.5, count=3, sleep=sleeps) == 0
    assert source.calls == 3
    assert sleeps.pauses == [2.5, 2.5]  # none after the last frame
    out = written(console)
    assert "frame snapshot-3 at 80" in out and "\r\x1b[2K" in out  # redrawn over the last one
    assert out.endswith("\x1b[?25h")


def test_ctrl_c_ends_a_watch_cleanly_with_status_0() -> None:
    source, console = Source(), terminal()
    sleeps = Sleeps(interrupt=2)
    assert show(view(source), console=console, as_json=False, watch=1.0, sleep=sleeps) == 0
    assert source.calls == 2
    assert written(console).endswith("\x1b[?25h")  # Live stopped: the cursor is back
    console = piped()
    assert show(view(Source()), console=console, as_json=False, watch=1.0, sleep=Sleeps(1)) == 0
    assert written(console) == "name\nsnapshot-1\n"


def test_a_failed_refresh_is_shown_and_the_watch_goes_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    console = terminal()
    source = Source(failing=(2,))
    show(view(source), console=console, as_json=False, watch=1.0, count=3, sleep=Sleeps())
    out = written(console)
    assert "sloguard: cannot read http://127.0.0.1:9464/api/v1/slos: refused" in out
    assert "trying again every 1s" in out and "frame snapshot-3" in out
    console = piped()
    show(
        view(Source(failing=(1,))), console=console, as_json=False, watch=1, count=2, sleep=Sleeps()
    )
    assert written(console) == "name\nsnapshot-2\n"
    assert capsys.readouterr().err == (
        "sloguard: cannot read http://127.0.0.1:9464/api/v1/slos: refused\n"
    )
    console = piped()
    show(
        view(Source(failing=(1,))), console=console, as_json=True, watch=1, count=2, sleep=Sleeps()
    )
    first, second = (json.loads(line) for line in written(console).splitlines())
    assert first["error"].startswith("cannot read") and second == {"rows": ["snapshot-2"]}


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("plain", "plain"),
        ("a\tb", "a b"),
        ("two\nlines\r\n", "two lines "),
        ("esc\x1b[2J", "esc\ufffd[2J"),
        (None, "-"),
        (0.5, "0.5"),
    ],
)
def test_a_tab_separated_field_never_breaks_the_line(value: object, cell: str) -> None:
    assert tsv_cell(value) == cell


@pytest.mark.parametrize(
    ("room", "first", "second", "widths"),
    [
        (60, 20, 30, [20, 30]),  # both fit
        (40, 14, 50, [14, 26]),  # the narrow one keeps its need
        (40, 50, 14, [26, 14]),
        (40, 50, 60, [20, 20]),  # both long: half each
        (10, 30, 30, [12, 12]),  # never below the minimum (the table folds)
    ],
)
def test_two_name_columns_share_the_room(
    room: int, first: int, second: int, widths: list[int]
) -> None:
    assert share_widths(room, first, second) == widths


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1h", NOW - 3600),
        ("30m", NOW - 1800),
        ("1h30m", NOW - 5400),
        ("7d", NOW - 7 * 86400),
        ("1767225600", NOW),
        ("1767225600.5", NOW + 0.5),
        ("2026-01-01", NOW),
        ("2025-12-31T23:00", NOW - 3600),
        ("2025-12-31 23:00:00Z", NOW - 3600),
        ("2026-01-01T02:00:00+02:00", NOW),
        (" 2h ", NOW - 7200),
    ],
)
def test_since_takes_a_duration_ago_a_date_or_unix_seconds(text: str, seconds: float) -> None:
    assert parse_time(text, now=NOW) == seconds


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("yesterday", ""),
        ("1 hour", ""),
        ("2026-13-01", ""),
        ("nan", ""),
        ("-5", " (out of range)"),
        ("1e20", " (out of range)"),
        ("inf", " (out of range)"),
    ],
)
def test_a_bad_time_says_what_is_accepted(text: str, why: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_time(text, now=NOW)
    assert str(caught.value) == (
        "expected a duration ago (1h, 30m, 7d), an ISO 8601 date or date and time "
        f"(2026-12-06, 2026-12-06T10:00:00Z) or unix seconds, got {text!r}{why}"
    )


def test_the_latest_time_is_the_end_of_year_9999() -> None:
    assert parse_time("9999-12-31T23:59:59Z", now=NOW) == MAX_TIME
