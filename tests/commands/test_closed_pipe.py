"""A reader that closes stdout early (``sloguard status --json | head``) ends a command quietly."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import pytest

from sloguard.commands import EXIT_CLOSED_PIPE
from sloguard.tracestore.store import TraceStore
from tests.support.processes import REPO, _env

SLOS = {"slos": [{"slo": f"slo-{i}", "instance": {}, "state": "ok"} for i in range(50)]}


class _SLOAPI(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(SLOS).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def api() -> Iterator[str]:
    """A loopback stand-in for a daemon's ``/api/v1/slos``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SLOAPI)
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _status(api: str, tmp_path: Path) -> list[str]:
    return ["status", "--url", api, "--json"]


def _rules(api: str, tmp_path: Path) -> list[str]:
    return ["rules", str(REPO / "config" / "slos.yaml"), "-o", str(tmp_path / "rules"), "--json"]


def _trace_list(api: str, tmp_path: Path) -> list[str]:
    store = tmp_path / "traces.sqlite"
    TraceStore(store).close()
    return ["trace", "list", "--store", str(store), "--json"]


def _validate(api: str, tmp_path: Path) -> list[str]:
    return ["validate", str(REPO / "config" / "slos.yaml")]


@pytest.mark.parametrize("argv", [_status, _rules, _trace_list, _validate])
def test_a_closed_stdout_ends_the_command_without_a_traceback(
    argv: Callable[[str, Path], list[str]], api: str, tmp_path: Path
) -> None:
    log = tmp_path / "stderr.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sloguard", *argv(api, tmp_path)],
            cwd=tmp_path,
            env=_env({}),
            stdout=subprocess.PIPE,
            stderr=err,
        )
    # Close the only read end before the command writes: its first write (or its flush at
    # exit) fails with EPIPE every time, whatever the size of the output.
    assert proc.stdout is not None
    proc.stdout.close()
    status = proc.wait(timeout=60)
    stderr = log.read_text(encoding="utf-8")
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert status == EXIT_CLOSED_PIPE, stderr
