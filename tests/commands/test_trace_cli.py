"""``sloguard trace`` through the CLI: ``list`` at 80 and 160 columns, piped and with
``--since``; every action against a running daemon's API (``--url``, real uvicorn, read token);
the baseline label of ``diff``; JSON error objects."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from rich.cells import cell_len
from rich.text import Text

from sloguard.cli import main
from sloguard.tracestore.store import TraceStore
from sloguard.web.auth import ReadAuth
from sloguard.web.server import create_app
from sloguard.web.tracesapi import traces_router
from tests.support.processes import free_port
from tests.support.traces import routed, seed_workflow
from tests.support.uvicornserver import serving

STORED_AT = 1_750_000_000.0
#: OpenTelemetry trace ids: 32 hex digits, longer than an 80-column table gives a column.
GOOD = "4bf92f3577b34da6a3ce929d0e0e4736"
BAD = "0af7651916cd43dd8448eb211c80319c"
TOKEN = "read-token-0123456789abcdef"


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "traces.sqlite"
    store = TraceStore(path)
    store.put(routed(GOOD), STORED_AT)
    store.put(
        routed(BAD, "shipping-agent", (("track_package", "NotFound"),), fails=True), STORED_AT
    )
    store.put(seed_workflow("seed"), STORED_AT)
    store.close()
    return path


@pytest.fixture
def daemon(store_path: Path) -> Iterator[str]:
    """The daemon's API over the store, behind a read token, served by a real uvicorn."""
    app = create_app(
        CollectorRegistry(),
        routers=[traces_router(TraceStore(store_path))],
        auth=ReadAuth(token=TOKEN),
    )
    with serving(app, free_port()) as url:
        yield url


@pytest.fixture(autouse=True)
def plain_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TTY_COMPATIBLE", "FORCE_COLOR", "COLUMNS", "SLOGUARD_WEB__READ_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")


@pytest.mark.parametrize("columns", [80, 160])
def test_list_on_a_terminal_fits_and_shows_whole_trace_ids(
    store_path: Path,
    columns: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", str(columns))
    assert main(["trace", "list", "--store", str(store_path)]) == 0
    out = Text.from_ansi(capsys.readouterr().out).plain
    lines = out.splitlines()
    assert max(cell_len(line) for line in lines) <= columns
    assert "…" not in out
    assert "3 traces" in out
    for trace_id in (GOOD, BAD):
        row = next(line for line in lines if trace_id in line)  # whole, on one line
        assert "2025-03-01 09:00:00" in row
    if columns >= 120:
        header = next(line for line in lines if "started" in line)
        assert header.split()[:3] == ["trace", "agent", "started"] and "ago" in header
        assert "supervisor" in next(line for line in lines if BAD in line)
    else:  # the agent on its own line under the id
        assert lines[lines.index(next(ln for ln in lines if BAD in ln)) + 1].strip() == "supervisor"


def test_list_piped_is_tab_separated(store_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "list", "--store", str(store_path), "--status", "error"]) == 0
    assert capsys.readouterr().out == (
        "trace_id\tstarted_at\tagent\tstatus\tsteps\tcost\n"
        f"{BAD}\t1740819600.0\tsupervisor\terror\t4\t-\n"
    )


@pytest.mark.parametrize(
    ("since", "found"),
    [
        ("2025-03-01", 3),
        ("2025-03-01T09:00:01Z", 0),
        ("2025-03-01T10:00:00+02:00", 3),
        ("1740819600", 3),
        ("1h", 0),  # the traces are from 2025: none started in the last hour
        ("10000d", 3),
    ],
)
def test_since_takes_durations_and_dates(
    store_path: Path, since: str, found: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["trace", "list", "--store", str(store_path), "--since", since, "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == found


def test_a_bad_since_is_named_in_text_and_in_json(
    store_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["trace", "list", "--store", str(store_path), "--since", "yesterday"]
    assert main(argv) == 1
    assert capsys.readouterr().err == (
        "sloguard: trace list: --since/--until: expected a duration ago (1h, 30m, 7d), an ISO "
        "8601 date or date and time (2026-12-06, 2026-12-06T10:00:00Z) or unix seconds, got "
        "'yesterday'\n"
    )
    assert main([*argv, "--json"]) == 1
    error = json.loads(capsys.readouterr().out)
    assert error["error"].startswith("trace list: --since/--until: expected a duration ago")
    assert error["problems"] == []


def test_diff_labels_the_baseline(store_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "diff", BAD, "--store", str(store_path)]) == 0
    first, second = capsys.readouterr().out.splitlines()[:2]
    assert first == f"A: {GOOD}  <- baseline: chosen, the most similar successful run"
    assert second == f"B: {BAD}"
    assert main(["trace", "diff", BAD, GOOD, "--store", str(store_path)]) == 0
    first, second = capsys.readouterr().out.splitlines()[:2]
    assert (first, second) == (f"A: {BAD}", f"B: {GOOD}  <- baseline: given")


def test_every_action_reads_a_running_daemon_with_its_read_token(
    daemon: str,
    store_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def both(*argv: str) -> tuple[str, str]:
        """The output from the store file and from the daemon."""
        assert main(["trace", *argv, "--store", str(store_path)]) == 0
        local = capsys.readouterr().out
        assert main(["trace", *argv, "--url", daemon, "--token", TOKEN]) == 0
        return local, capsys.readouterr().out

    for argv in (
        ("list", "--json"),
        ("list", "--status", "error", "--since", "2025-01-01"),
        ("show", "seed"),
        ("show", "seed", "--json"),
        ("diff", BAD),
        ("diff", BAD, GOOD, "--json"),
        ("mermaid", GOOD),
        ("replay", "seed", "--stop-before", "writer", "--json"),
    ):
        local, remote = both(*argv)
        if argv[-1] == "--json" and argv[0] == "show":  # the API adds the summary
            assert json.loads(remote).items() >= json.loads(local).items()
        else:
            assert remote == local, argv
    monkeypatch.setenv("SLOGUARD_WEB__READ_TOKEN", TOKEN)
    assert main(["trace", "show", "nope", "--url", daemon]) == 1
    assert capsys.readouterr().err == (
        f"sloguard: {daemon}/api/v1/traces/nope: 404 no stored trace with id 'nope'\n"
    )


def test_the_daemon_asks_for_credentials(daemon: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "list", "--url", daemon]) == 1
    assert capsys.readouterr().err == (
        f"sloguard: {daemon}/api/v1/traces: 401 authentication required "
        "(give --token or set $SLOGUARD_WEB__READ_TOKEN)\n"
    )
    assert main(["trace", "list", "--url", daemon, "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["error"].endswith(
        "401 authentication required (give --token or set $SLOGUARD_WEB__READ_TOKEN)"
    )


def test_url_and_store_are_one_or_the_other(
    store_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["trace", "list", "--store", str(store_path), "--url", "http://127.0.0.1:9"]
    assert main(argv) == 1
    assert capsys.readouterr().err == (
        "sloguard: give --url (a daemon) or --store (a file), not both\n"
    )
    argv = ["trace", "decisions", "wf", "--url", "http://127.0.0.1:9", "--low-confidence", "0.5"]
    assert main(argv) == 1
    assert "with --url the daemon's thresholds apply" in capsys.readouterr().err


def test_a_missing_store_is_a_json_error_with_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.sqlite"
    assert main(["trace", "show", "x", "--store", str(missing), "--json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {
        "error": f"no trace store at {missing} (or read a daemon with --url)",
        "problems": [],
    }
    assert captured.err == ""


def test_list_watch_in_a_pipe_prints_the_list_at_each_refresh(
    store_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["trace", "list", "--store", str(store_path), "--watch", "0.01", "--count", "2"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [i for i, line in enumerate(lines) if line.startswith("trace_id\t")] == [0, 4]
    assert len(lines) == 8
