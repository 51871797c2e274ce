"""Real Prometheus for tests: find the binaries, backfill history, run a server on loopback;
plus a stub HTTP server for the failures a real Prometheus cannot be made to show.

Not a test module: tests import these helpers and wrap them in fixtures.

What Prometheus 2.42 / promtool 2.42 (Debian) need, found by trying:

- ``promtool tsdb create-blocks-from openmetrics FILE DIR`` reads OpenMetrics text that must end
  with ``# EOF`` and give every sample a timestamp **in seconds** (a millisecond timestamp is
  taken as seconds, i.e. far in the future). ``# TYPE`` lines are optional and do not have to
  match the sample names. It cuts blocks on 2-hour boundaries (a sample exactly on a boundary
  opens a new block).
- It **silently drops** a sample whose timestamp is not after the previous sample of its series
  (out of order or duplicate) and still exits 0. :func:`openmetrics_text` refuses such input and
  :func:`backfill_openmetrics` checks promtool's sample count against the input.
- Retention (default 15d) is measured from the newest block's end, not from the wall clock, and
  an empty head (no scrape targets) adds nothing: backfilled history of any age stays queryable.
  Tests still place history just before "now" so a scraping server would keep it too.
- Range selectors are closed intervals ``[t - w, t]`` in 2.x (left-open from 3.0). With samples
  exactly on ``t - k * step`` the first and last samples sit on the window edges, so ``increase``
  extrapolates nothing and is exact; a window reaching before a counter's first sample is exact
  too when that sample is 0 (extrapolation stops at the counter's zero point).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

#: A configuration with no scrape targets: the server only serves what is in its storage.
EMPTY_CONFIG = "global:\n  scrape_interval: 15s\n"
LOG_TAIL = 4000


def scrape_config(target: str, interval: str = "1s") -> str:
    """A configuration scraping one ``host:port`` target (job ``sloguard``) every ``interval``."""
    return (
        f"global:\n  scrape_interval: {interval}\n  evaluation_interval: {interval}\n"
        "scrape_configs:\n"
        f"  - job_name: sloguard\n    static_configs:\n      - targets: ['{target}']\n"
    )


def binary(name: str, package: str = "prometheus") -> str:
    """Path of a Debian-packaged tool; fail under CI (never skip silently there), else skip."""
    path = shutil.which(name)
    if path is None:
        why = f"{name} not found: apt-get install -y --no-install-recommends {package}"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return path


def prometheus_binary() -> str:
    """Path of ``prometheus`` (see :func:`binary`)."""
    return binary("prometheus")


def promtool_binary() -> str:
    """Path of ``promtool`` (see :func:`binary`)."""
    return binary("promtool")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class Series:
    """One series: sample name, labels and ``(unix seconds, value)`` samples in time order."""

    name: str
    labels: Mapping[str, str]
    samples: Sequence[tuple[float, float]]


@dataclass(frozen=True, slots=True)
class Family:
    """A metric family (``# TYPE name type``) and its series."""

    name: str
    type: str
    series: Sequence[Series] = field(default_factory=tuple)


def _number(v: float) -> str:
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v)) if not float(v).is_integer() else str(int(v))


def openmetrics_text(families: Iterable[Family]) -> str:
    """Render families as OpenMetrics text for promtool; refuse what promtool would drop."""
    lines = []
    for fam in families:
        lines.append(f"# TYPE {fam.name} {fam.type}")
        for s in fam.series:
            inner = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            head = f"{s.name}{{{inner}}}" if inner else s.name
            last = -math.inf
            for ts, value in s.samples:
                if ts <= last:
                    raise ValueError(f"{head}: timestamp {ts} is not after {last}")
                last = ts
                lines.append(f"{head} {_number(value)} {_number(ts)}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def backfill_openmetrics(text: str, data_dir: Path) -> int:
    """Write ``text`` as TSDB blocks into ``data_dir`` with promtool; return the sample count."""
    data_dir.mkdir(parents=True, exist_ok=True)
    expected = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "history.om"
        source.write_text(text, encoding="utf-8")
        cmd = [promtool_binary(), "tsdb", "create-blocks-from", "openmetrics"]
        done = subprocess.run(
            [*cmd, str(source), str(data_dir)], capture_output=True, text=True, check=False
        )
    if done.returncode != 0:
        pytest.fail(f"promtool backfill failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    # Table: BLOCK ULID, MIN TIME, MAX TIME, DURATION, NUM SAMPLES, NUM CHUNKS, NUM SERIES, SIZE
    written = sum(int(row.split()[4]) for row in done.stdout.splitlines()[1:] if row.strip())
    if written != expected:
        pytest.fail(f"promtool wrote {written} of {expected} samples:\n{done.stdout}")
    return written


def _tail(log: Path) -> str:
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return text[-LOG_TAIL:]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(proc: subprocess.Popen[bytes], base_url: str, deadline: float) -> bool:
    """True once ``/-/ready`` answers 200; False if the process exits first."""
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            try:
                if client.get(f"{base_url}/-/ready").status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    return False


@contextmanager
def start_prometheus(
    tmp_path: Path,
    *,
    config_yaml: str = EMPTY_CONFIG,
    storage: Path | None = None,
    extra_args: Sequence[str] = (),
    lifecycle: bool = False,
    ready_timeout: float = 30.0,
) -> Iterator[str]:
    """Run Prometheus on 127.0.0.1 (a free port) until the block exits; yield its base URL.

    ``storage`` defaults to an empty directory; pass a backfilled one to serve history. The
    process is terminated and waited for on exit; its log goes to stderr when startup or the
    block fails (pytest shows it with the failure).
    """
    exe = prometheus_binary()
    run_dir = Path(tempfile.mkdtemp(prefix="prometheus-", dir=tmp_path))
    config = run_dir / "prometheus.yml"
    config.write_text(config_yaml, encoding="utf-8")
    data = storage if storage is not None else run_dir / "data"
    log = run_dir / "prometheus.log"

    def args(base_url: str) -> list[str]:
        return [
            exe,
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address={base_url.removeprefix('http://')}",
            *(["--web.enable-lifecycle"] if lifecycle else []),
            *extra_args,
        ]

    with run_server("Prometheus", args, log, run_dir, ready_timeout) as base_url:
        yield base_url


@contextmanager
def run_server(
    what: str,
    args: Callable[[str], list[str]],
    log: Path,
    cwd: Path,
    ready_timeout: float,
) -> Iterator[str]:
    """Start ``args(base_url)`` on a free loopback port, wait until ready, yield the URL.

    A port taken between choosing and binding it is retried; the process is stopped on exit and
    its log tail goes to stderr when startup or the block fails.
    """
    for _attempt in range(3):  # a "free" port can be taken by someone else before we bind it
        base_url = f"http://127.0.0.1:{free_port()}"
        with log.open("wb") as out:
            proc = subprocess.Popen(args(base_url), stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
        try:
            ready = _wait_ready(proc, base_url, time.monotonic() + ready_timeout)
        except BaseException:
            _stop(proc)
            raise
        if ready:
            break
        _stop(proc)
        if "address already in use" not in _tail(log):
            pytest.fail(f"{what} did not become ready; its log:\n{_tail(log)}")
    else:
        pytest.fail(f"{what} found no free port; its log:\n{_tail(log)}")
    try:
        yield base_url
    except BaseException:
        sys.stderr.write(f"--- {what} log ({log}) ---\n{_tail(log)}\n")
        raise
    finally:
        _stop(proc)


# --- a stub HTTP server -------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What a :class:`StubPrometheus` answers, after ``delay`` seconds."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    delay: float = 0.0


@dataclass(frozen=True)
class Received:
    """One request a :class:`StubPrometheus` got."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.body.decode()))


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins the handler threads
    stub: StubPrometheus

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout) makes the answer fail to send; that is expected."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 5.0  # an idle keep-alive connection cannot hold up server_close() for long

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        stub = self.server.stub
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with stub.lock:
            stub.received.append(Received(self.command, self.path, dict(self.headers), body))
            stub.in_flight += 1
            stub.max_in_flight = max(stub.max_in_flight, stub.in_flight)
        try:
            stub.stopping.wait(stub.answer.delay)
        finally:
            with stub.lock:
                stub.in_flight -= 1
        self.send_response(stub.answer.status)
        self.send_header("Content-Type", stub.answer.content_type)
        self.send_header("Content-Length", str(len(stub.answer.body)))
        self.end_headers()
        self.wfile.write(stub.answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class StubPrometheus:
    """An HTTP(S) server on 127.0.0.1 answering every request with one canned answer.

    For failure paths a real Prometheus cannot be made to take (slow, 503, odd bodies); it
    records each request (headers, body) and the most requests it had in flight at once.
    """

    def __init__(self, answer: Answer, tls: ssl.SSLContext | None = None) -> None:
        self.answer = answer
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.in_flight = self.max_in_flight = 0
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.stub = self
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        host, port = self._server.server_address[:2]
        self.url = f"{'https' if tls else 'http'}://{host!s}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,))

    def __enter__(self) -> StubPrometheus:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def vector(*samples: tuple[Mapping[str, str], str], result_type: str = "vector") -> bytes:
    """A ``/api/v1/query`` success body with ``(labels, value)`` samples."""
    result = [{"metric": dict(m), "value": [1_700_000_000, v]} for m, v in samples]
    return json.dumps(
        {"status": "success", "data": {"resultType": result_type, "result": result}}
    ).encode()
