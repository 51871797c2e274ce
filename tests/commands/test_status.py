"""``sloguard status`` against a loopback stand-in of the daemon's API: at 80 and 160 columns on
a terminal, piped (tab-separated lines), as JSON, and when the daemon cannot be read.

The stand-in serves what the real API computes (:mod:`tests.commands.statusdata`); the CLI's
terminal is Rich's own detection: ``TTY_COMPATIBLE=1`` and ``COLUMNS`` (what a user's shell
sets), never a patched object.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any, ClassVar

import pytest
from rich.cells import cell_len
from rich.text import Text

from sloguard.cli import main
from sloguard.commands.statusview import HEADER, WIDE, status_table
from sloguard.commands.terminal import GAP
from tests.commands.statusdata import KOREAN, LONG_NAME, RESEARCH, WRITER, status_items

pytestmark = pytest.mark.e2e  # a loopback HTTP server

TOKEN = "read-token-0123456789abcdef"


class _API(BaseHTTPRequestHandler):
    items: ClassVar[list[dict[str, Any]]] = []
    token: ClassVar[str | None] = None

    def do_GET(self) -> None:
        if self.token is not None and self.headers.get("Authorization") != f"Bearer {self.token}":
            self._answer(401, {"detail": "authentication required"})
        elif self.path.startswith("/api/v1/slos"):
            self._answer(200, {"slos": self.items})
        else:
            self._answer(404, {"detail": "Not Found"})

    def _answer(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve(items: list[dict[str, Any]], token: str | None = None) -> Iterator[str]:
    handler = type("Handler", (_API,), {"items": items, "token": token})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def items(tmp_path: Path) -> list[dict[str, Any]]:
    return status_items(tmp_path)


@pytest.fixture
def api(items: list[dict[str, Any]]) -> Iterator[str]:
    yield from _serve(items)


@pytest.fixture
def guarded_api(items: list[dict[str, Any]]) -> Iterator[str]:
    yield from _serve(items, TOKEN)


@pytest.fixture(autouse=True)
def plain_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the machine running the tests sets: no forced terminal, no colour, no token."""
    for name in ("TTY_COMPATIBLE", "FORCE_COLOR", "COLUMNS", "SLOGUARD_WEB__READ_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")


def on_terminal(monkeypatch: pytest.MonkeyPatch, columns: int) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", str(columns))


def screen(out: str) -> str:
    """What the terminal shows: the text without its styles and cursor controls."""
    return Text.from_ansi(out).plain


def column(out: str, start: int, width: int) -> str:
    """The text of a table column (``width`` characters from ``start``), its wrapped pieces
    joined (ASCII text: characters are cells)."""
    body = out.split("─" * 10, 1)[1].splitlines()[1:]
    return "".join(line[start : start + width].strip() for line in body)


@pytest.mark.parametrize("columns", [80, 160])
def test_on_a_terminal_every_line_fits_and_no_name_or_instance_is_cut(
    api: str,
    items: list[dict[str, Any]],
    columns: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    on_terminal(monkeypatch, columns)
    assert main(["status", "--url", api]) == 0
    raw = capsys.readouterr().out
    assert "\x1b[3" not in raw  # NO_COLOR honoured (bold stays)
    out = screen(raw)
    lines = out.splitlines()
    assert max(cell_len(line) for line in lines) <= columns
    assert "…" not in out  # nothing ellipsized
    for name in ("agent-availability", KOREAN, "idle-agent-availability"):
        assert any(name in line for line in lines), name  # short names: whole on one line
    # What is too long for its column wraps: every piece is there, in order.
    widths = [c.width or 0 for c in status_table(items, columns).columns]
    names = column(out, 0, widths[0])
    instances = names if columns < WIDE else column(out, widths[0] + GAP, widths[1])
    assert LONG_NAME in names
    for label in (f"agent_name={RESEARCH}", f"agent_name={WRITER}", "tool_name=web_search"):
        assert label in instances


def test_at_80_columns_burn_rates_are_one_compact_column_of_the_tiers_long_windows(
    api: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    on_terminal(monkeypatch, 80)
    assert main(["status", "--url", api]) == 0
    out = screen(capsys.readouterr().out)
    header = next(line for line in out.splitlines() if "target" in line)
    assert header.split() == ["SLO", "/", "instance", "target", "SLI", "budget", "burn", "state"]
    assert "1h 40.0 · 6h 40.0" in out and "1d 40.0 · 3d 40.0" in out  # two tiers a line
    assert "5m 40.0" not in out  # short windows only on wider terminals
    burning = next(line for line in out.splitlines() if line.startswith("agent-availability"))
    assert burning.split()[-1] == "burning"


def test_at_160_columns_the_table_shows_more(
    api: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    on_terminal(monkeypatch, 160)
    assert main(["status", "--url", api]) == 0
    out = screen(capsys.readouterr().out)
    header = next(line for line in out.splitlines() if "target" in line)
    for column in ("instance", "period", "events", "exhausts in", "burn rates"):
        assert column in header
    assert "5m 40.0" in out and "30d 40.0" in out  # every window
    row = next(line for line in out.splitlines() if line.startswith("idle-agent-availability"))
    assert "no_data" in row


def test_piped_it_prints_a_header_and_one_tab_separated_line_per_instance(
    api: str, items: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--url", api]) == 0
    out = capsys.readouterr().out
    header, *rows = out.splitlines()
    assert tuple(header.split("\t")) == HEADER
    assert len(rows) == len(items)
    fields = [row.split("\t") for row in rows]
    assert all(len(f) == len(HEADER) for f in fields)
    assert not any(ch in out for ch in "─│┃━\x1b")
    research = next(f for f in fields if f[1] == f"agent_name={RESEARCH}")
    assert research[:4] == ["agent-availability", f"agent_name={RESEARCH}", "burning", "critical"]
    assert research[4] == "0.995" and research[5] == "0.8"
    assert "1h=40.0" in research[7].split()
    long = next(f for f in fields if f[0] == LONG_NAME)
    assert long[1] == f"agent_name={RESEARCH}, tool_name=web_search"
    idle = next(f for f in fields if f[0] == "idle-agent-availability")
    assert (idle[1], idle[2], idle[3], idle[5]) == ("", "no_data", "-", "-")


def test_json_is_the_apis_list(
    api: str, items: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--url", api, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == items


def test_watch_in_a_pipe_prints_the_lines_at_each_refresh(
    api: str, items: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--url", api, "--watch", "0.01", "--count", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 * (1 + len(items))
    assert [i for i, line in enumerate(lines) if line.startswith("slo\t")] == [
        0,
        1 + len(items),
        2 * (1 + len(items)),
    ]


def test_watch_on_a_terminal_redraws_in_place(
    api: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    on_terminal(monkeypatch, 80)
    assert main(["status", "--url", api, "--watch", "0.01", "--count", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("SLOs at ") >= 2
    assert "\x1b[2K" in out and "\x1b[1A" in out  # later frames go back over the first
    assert out.endswith("\x1b[?25h")  # the cursor is shown again


def test_the_read_token_comes_from_the_option_or_the_daemons_variable(
    guarded_api: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--url", guarded_api]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"sloguard: {guarded_api}/api/v1/slos: 401 authentication required "
        "(give --token or set $SLOGUARD_WEB__READ_TOKEN)\n"
    )
    assert main(["status", "--url", guarded_api, "--token", "wrong"]) == 1
    assert "401 authentication required (the token was refused)" in capsys.readouterr().err
    assert main(["status", "--url", guarded_api, "--token", TOKEN, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["slo"] == "agent-availability"
    monkeypatch.setenv("SLOGUARD_WEB__READ_TOKEN", TOKEN)
    assert main(["status", "--url", guarded_api]) == 0
    assert capsys.readouterr().out.startswith("slo\tinstance\t")


def test_an_unreachable_daemon_is_one_line_or_a_json_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = "http://alice:s3cret@127.0.0.1:9"  # discard port: nothing listens
    assert main(["status", "--url", url, "--timeout", "2"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("sloguard: cannot read http://127.0.0.1:9/api/v1/slos: ")
    assert "s3cret" not in captured.err  # credentials in the URL are never shown
    assert main(["status", "--url", url, "--timeout", "2", "--json"]) == 1
    captured = capsys.readouterr()
    error = json.loads(captured.out)
    assert error["problems"] == []
    assert error["error"].startswith("cannot read http://127.0.0.1:9/api/v1/slos: ")
    assert captured.err == ""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--url", "ftp://host"], "--url must be an http:// or https:// URL, got 'ftp://host'"),
        (["--timeout", "0"], "--timeout must be a positive number of seconds, got 0.0"),
        (["--watch", "0"], "--watch must be a positive number of seconds, got 0.0"),
        (["--watch", "1", "--count", "0"], "--count must be at least 1, got 0"),
    ],
)
def test_bad_options_are_named(
    api: str, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    full = ["status", "--url", api, *argv] if argv[0] != "--url" else ["status", *argv]
    assert main(full) == 1
    assert capsys.readouterr().err == f"sloguard: {message}\n"
