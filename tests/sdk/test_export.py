"""``TraceExporter``: SDK traces shipped to a real ``sloguard run`` sidecar and to local HTTP
servers that answer what a test scripts (503, 429 with Retry-After, 401, 422, a slow answer)."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from sloguard import (
    AgentMetrics,
    CallType,
    Recorder,
    ResponseTrace,
    Telemetry,
    TraceExporter,
    TraceStep,
    add_usage,
    enable_export,
    trace_agent_call,
    trace_tool_call,
    use_telemetry,
    workflow,
)
from sloguard.conventions import A2A_METRICS_RECORDED_ATTR
from sloguard.sdk.export.exporter import DEFAULT_PATH
from sloguard.sdk.export.wire import encode_trace, retry_after
from tests.support import processes
from tests.support.blocker import BLOCKER

TOKEN = "export-test-token"
WAIT = 30.0  # generous bound for "eventually" (never an assertion on elapsed time)


# --- a real sidecar --------------------------------------------------------------------------
def start_sidecar(spawn: processes.Spawn, where: Path, port: int) -> str:
    proc = spawn(
        "run",
        "--mode",
        "exporter",
        "--port",
        str(port),
        "--data-dir",
        str(where / f"data-{port}"),
        env={"SLOGUARD_INGEST__TOKEN": TOKEN},
    )
    base = f"http://127.0.0.1:{port}"
    processes._wait_healthy(proc, base, where)
    return base


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    where = tmp_path_factory.mktemp("sidecar")
    for spawn in processes.spawning(where):
        yield start_sidecar(spawn, where, processes.free_port())


def sidecar_samples(base: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    text = httpx.get(f"{base}/metrics", timeout=5).text
    return {
        tuple(sorted(s.labels.items())): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if s.name == name
    }


def stored(base: str, trace_id: str) -> httpx.Response:
    return httpx.get(f"{base}/api/v1/traces/{trace_id}", timeout=5)


# --- a local HTTP server whose answers the test scripts ------------------------------------------
@dataclass
class Received:
    path: str
    headers: dict[str, str]
    raw: bytes
    body: Any

    @property
    def trace_ids(self) -> list[str]:
        return [t["trace_id"] for t in self.body["traces"]]


Answer = Callable[[Received, int], tuple[int, dict[str, str]]]


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, answer: Answer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer = answer
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.gate = threading.Event()  # a request is answered once this is set
        self.gate.set()
        self.arrived = threading.Event()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up on a held answer is no error here."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def trace_ids(self) -> list[str]:
        with self.lock:
            return [i for r in self.received for i in r.trace_ids]


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw
        headers = {k.lower(): v for k, v in self.headers.items()}
        got = Received(self.path, headers, raw, json.loads(body))
        with self.server.lock:
            self.server.received.append(got)
            index = len(self.server.received) - 1
        self.server.arrived.set()
        self.server.gate.wait(WAIT)
        status, headers = self.server.answer(got, index)
        payload = b'{"problems": []}'
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:  # GET /arrived: has a POST arrived? (for other processes)
        payload = b"yes" if self.server.arrived.is_set() else b"no"
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def always(status: int, **headers: str) -> Answer:
    return lambda got, i: (status, headers)


def script(*answers: int | tuple[int, dict[str, str]]) -> Answer:
    """Answer request i with answers[i], then 200."""

    def answer(got: Received, i: int) -> tuple[int, dict[str, str]]:
        a = answers[i] if i < len(answers) else 200
        return a if isinstance(a, tuple) else (a, {})

    return answer


@pytest.fixture
def receivers() -> Iterator[Callable[[Answer], Receiver]]:
    made: list[Receiver] = []

    def make(answer: Answer) -> Receiver:
        server = Receiver(answer)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        made.append(server)
        return server

    yield make
    for server in made:
        server.gate.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def exporters(registry: CollectorRegistry) -> Iterator[Callable[..., TraceExporter]]:
    """Exporters on the test's registry with quick retries; all closed after the test."""
    made: list[TraceExporter] = []

    def make(url: str, **options: Any) -> TraceExporter:
        defaults: dict[str, Any] = {
            "registry": registry,
            "backoff_initial": 0.01,
            "backoff_max": 0.05,
            "max_delay": 0.05,
        }
        exporter = TraceExporter(url, **{**defaults, **options})
        made.append(exporter)
        return exporter

    yield make
    for exporter in made:
        exporter.close(timeout=5)


def count(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(f"sloguard_sdk_export_{name}_total", labels) or 0.0


def eventually(check: Callable[[], bool]) -> None:
    end = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < end, "condition never became true"
        time.sleep(0.02)


# --- agents ------------------------------------------------------------------------------------
def research_flow(prefix: str) -> Callable[[str], None]:
    """A supervisor → researcher (→ search tool) workflow whose agents are named ``prefix-…``."""

    @trace_tool_call(name=f"{prefix}-search")
    async def web_search(query: str) -> list[str]:
        return [f"{query}: result"]

    @trace_agent_call(name=f"{prefix}-researcher")
    async def researcher(topic: str) -> str:
        hits = await web_search(topic)
        add_usage(model="gpt-4o", input_tokens=120, output_tokens=40, cost=0.0021)
        return hits[0]

    @trace_agent_call(name=f"{prefix}-supervisor")
    async def supervisor(task: str) -> str:
        return await researcher(task)

    async def main(workflow_id: str) -> None:
        async with workflow("research", workflow_id):
            await supervisor("agent observability")

    return lambda workflow_id: asyncio.run(main(workflow_id))


def small_trace(trace_id: str, telemetry: Telemetry, **parameters: Any) -> ResponseTrace:
    trace = ResponseTrace(trace_id)
    with (
        use_telemetry(telemetry),
        TraceStep(trace, CallType.AGENT, "planner", parameters=parameters) as planner,
    ):
        with TraceStep(trace, CallType.TOOL, "lookup"):
            pass
        planner.end_step(cost=0.01, total_tokens=10)
    return trace


# --- with the real sidecar ---------------------------------------------------------------------
def test_a_workflow_run_with_the_sdk_is_stored_by_the_sidecar(
    sidecar: str, registry: CollectorRegistry, exporters: Callable[..., TraceExporter]
) -> None:
    telemetry = Telemetry(Recorder(AgentMetrics(registry=registry)))
    exporter = exporters(sidecar, token=TOKEN, max_delay=60)
    with use_telemetry(enable_export(exporter, telemetry)):
        research_flow("stored")("wf-stored-001")
    assert exporter.flush(WAIT)

    listed = httpx.get(f"{sidecar}/api/v1/traces", params={"agent": "stored-supervisor"}).json()
    assert [t["trace_id"] for t in listed["traces"]] == ["wf-stored-001"]
    got = stored(sidecar, "wf-stored-001")
    assert got.status_code == 200, got.text
    detail = got.json()
    assert detail["summary"]["status"] == "ok"
    assert detail["summary"]["steps"] == 4
    steps = {s["name"]: s for s in detail["trace"]["steps"]}
    assert set(steps) == {"research", "stored-supervisor", "stored-researcher", "stored-search"}
    assert steps["stored-search"]["parent_step_id"] == steps["stored-researcher"]["step_id"]
    assert steps["stored-researcher"]["parent_step_id"] == steps["stored-supervisor"]["step_id"]
    assert steps["stored-supervisor"]["parent_step_id"] == steps["research"]["step_id"]
    assert steps["stored-researcher"]["cost"] == pytest.approx(0.0021)
    root_attrs = steps["research"]["additional_attributes"]
    assert root_attrs[A2A_METRICS_RECORDED_ATTR] is True
    assert A2A_METRICS_RECORDED_ATTR not in steps["stored-supervisor"]["additional_attributes"]
    # the SDK counted the run in the agent's own registry; the exporter counted one delivery
    calls = {"agent_name": "stored-supervisor", "status": "success"}
    assert registry.get_sample_value("agent_calls_total", calls) == 1
    assert count(registry, "sent_traces") == 1
    assert count(registry, "sent_batches") == 1
    assert count(registry, "dropped", reason="queue_full") == 0


def test_the_sidecar_does_not_count_again_what_the_sdk_counted(
    sidecar: str, registry: CollectorRegistry, exporters: Callable[..., TraceExporter]
) -> None:
    telemetry = Telemetry(Recorder(AgentMetrics(registry=registry)))
    exporter = exporters(sidecar, token=TOKEN)
    with use_telemetry(enable_export(exporter, telemetry)):
        research_flow("marked")("wf-marked-001")
    assert exporter.flush(WAIT)
    assert stored(sidecar, "wf-marked-001").status_code == 200
    calls = sidecar_samples(sidecar, "agent_calls_total")
    assert (("agent_name", "marked-supervisor"), ("status", "success")) not in calls


def test_unmarked_traces_are_counted_by_the_sidecar(
    sidecar: str, registry: CollectorRegistry, exporters: Callable[..., TraceExporter]
) -> None:
    telemetry = Telemetry(Recorder(AgentMetrics(registry=registry)))
    exporter = exporters(sidecar, token=TOKEN, metrics_recorded=False)
    with use_telemetry(enable_export(exporter, telemetry)):
        research_flow("counted")("wf-counted-001")
    assert exporter.flush(WAIT)
    calls = sidecar_samples(sidecar, "agent_calls_total")
    assert calls[(("agent_name", "counted-supervisor"), ("status", "success"))] == 1
    handoffs = sidecar_samples(sidecar, "agent_handoffs_total")
    key = (("source_agent", "counted-supervisor"), ("target_agent", "counted-researcher"))
    assert handoffs[key] == 1
    steps = stored(sidecar, "wf-counted-001").json()["trace"]["steps"]
    assert all(A2A_METRICS_RECORDED_ATTR not in s["additional_attributes"] for s in steps)


@pytest.mark.parametrize("token", [None, "not-the-token"])
def test_a_missing_or_wrong_token_is_dropped_as_unauthorized(
    sidecar: str,
    registry: CollectorRegistry,
    telemetry: Telemetry,
    exporters: Callable[..., TraceExporter],
    token: str | None,
) -> None:
    exporter = exporters(sidecar, token=token)
    trace_id = f"unauthorized-{token}"
    assert exporter.export(small_trace(trace_id, telemetry))
    assert exporter.flush(WAIT)
    assert count(registry, "dropped", reason="unauthorized") == 1
    assert count(registry, "failures", reason="client_error") == 1
    assert count(registry, "failures", reason="connection") == 0
    assert count(registry, "sent_traces") == 0
    assert stored(sidecar, trace_id).status_code == 404


def test_a_sidecar_that_is_down_gets_the_trace_once_it_is_up(
    spawn: processes.Spawn,
    tmp_path: Path,
    registry: CollectorRegistry,
    telemetry: Telemetry,
    exporters: Callable[..., TraceExporter],
) -> None:
    port = processes.free_port()
    exporter = exporters(f"http://127.0.0.1:{port}", token=TOKEN, backoff_max=0.2)
    assert exporter.export(small_trace("late-delivery", telemetry))
    eventually(lambda: count(registry, "failures", reason="connection") >= 2)
    assert count(registry, "sent_traces") == 0

    base = start_sidecar(spawn, tmp_path, port)
    assert exporter.flush(WAIT)
    assert count(registry, "sent_traces") == 1
    assert count(registry, "dropped", reason="retries_exhausted") == 0
    assert stored(base, "late-delivery").json()["summary"]["steps"] == 2


# --- with scripted local servers ---------------------------------------------------------------
def test_requests_carry_the_token_and_json_and_large_ones_are_gzipped(
    receivers: Callable[[Answer], Receiver],
    telemetry: Telemetry,
    exporters: Callable[..., TraceExporter],
) -> None:
    server = receivers(always(200))
    exporter = exporters(server.url, token="s3cret", gzip_min_bytes=2000)
    exporter.export(small_trace("small", telemetry))
    assert exporter.flush(WAIT)
    exporter.export(small_trace("large", telemetry, note="x" * 300, notes=["y" * 300] * 9))
    assert exporter.flush(WAIT)

    small, large = server.received
    assert small.headers["authorization"] == "Bearer s3cret"
    assert small.headers["content-type"] == "application/json"
    assert "content-encoding" not in small.headers
    assert large.headers["content-encoding"] == "gzip"
    assert len(large.raw) < 2000  # compressed on the wire
    assert large.body["traces"][0]["steps"][1]["parameters"]["note"] == "x" * 300
    assert server.trace_ids == ["small", "large"]


def test_a_url_without_a_path_posts_to_the_a2a_ingest(
    receivers: Callable[[Answer], Receiver], exporters: Callable[..., TraceExporter]
) -> None:
    server = receivers(always(200))
    for url in (server.url, server.url + "/", server.url + "/custom/path?x=1"):
        exporter = exporters(url)
        exporter.export(ResponseTrace("t"))
        assert exporter.flush(WAIT)
    assert [r.path for r in server.received] == [DEFAULT_PATH, DEFAULT_PATH, "/custom/path?x=1"]


def test_5xx_are_retried_with_backoff(
    receivers: Callable[[Answer], Receiver],
    registry: CollectorRegistry,
    telemetry: Telemetry,
    exporters: Callable[..., TraceExporter],
) -> None:
    server = receivers(script(503, 500, 502))
    exporter = exporters(server.url)
    exporter.export(small_trace("retried", telemetry))
    assert exporter.flush(WAIT)
    assert server.trace_ids == ["retried"] * 4  # the same batch again until it got through
    assert len({r.raw for r in server.received}) == 1
    assert count(registry, "failures", reason="server_error") == 3
    assert count(registry, "sent_traces") == 1
    assert count(registry, "sent_batches") == 1


def test_retry_after_is_honoured(
    receivers: Callable[[Answer], Receiver],
    registry: CollectorRegistry,
    telemetry: Telemetry,
    exporters: Callable[..., TraceExporter],
) -> None:
    # backoff alone would wait an hour: only Retry-After: 0 lets flush() finish
    server = receivers(script((429, {"Retry-After": "0"}), (503, {"Retry-After": "0"})))
    exporter = exporters(server.url, backoff_initial=3600, backoff_max=3600, retry_for=7200)
    exporter.export(small_trace("throttled", telemetry))
    assert exporter.flush(WAIT)
    assert server.trace_ids == ["throttled"] * 3
    assert count(registry, "failures", reason="throttled") == 1
    assert count(registry, "failures", reason="server_error") == 1
    assert count(registry, "sent_traces") == 1


def test_a_retry_after_beyond_the_retry_budget_gives_up(
    receivers: Callable[[Answer], Receiver],
    registry: CollectorRegistry,
    telemetry: Telemetry,
    exporters: Callable[..., TraceExporter],
) -> None:
    server = receivers(always(429, **{"Retry-After": "3600"}))
    exporter = exporters(server.url, retry_for=60)
    exporter.export(small_trace("given-up", telemetry))
    assert exporter.flush(WAIT)
    assert len(server.received) == 1
    assert count(registry, "dropped", reason="retries_exhausted") == 1


@pytest.mark.parametrize(
    ("status", "reason"),
    [(400, "invalid"), (403, "unauthorized"), (404, "rejected"), (413, "too_large")],
)
def test_other_4xx_are_not_retried(
    receivers: Callable[[Answer], Receiver],
    registry: CollectorRegistry,
    telemetry: Telemetry,
    exporters: Callable[..., TraceExporter],
    status: int,
    reason: str,
) -> None:
    server = receivers(always(status))
    exporter = exporters(server.url)
    exporter.export(small_trace("refused", telemetry))
    assert exporter.flush(WAIT)
    assert exporter.close(WAIT)
    assert len(server.received) == 1
    assert count(registry, "dropped", reason=reason) == 1
    assert count(registry, "failures", reason="client_error") == 1
    assert count(registry, "sent_traces") == 0


def test_a_refused_batch_is_split_so_only_the_bad_trace_is_lost(
    receivers: Callable[[Answer], Receiver],
    registry: CollectorRegistry,
    telemetry: Telemetry,
    exporters: Callable[..., TraceExporter],
) -> None:
    server = receivers(lambda got, i: (422 if "bad" in got.trace_ids else 200, {}))
    exporter = exporters(server.url, max_delay=3600)
    for trace_id in ("a", "b", "bad", "c"):
        exporter.export(small_trace(trace_id, telemetry))
    assert exporter.flush(WAIT)
    assert [r.trace_ids for r in server.received] == [
        ["a", "b", "bad", "c"],
        ["a", "b"],
        ["bad", "c"],
        ["bad"],
        ["c"],
    ]
    assert count(registry, "sent_traces") == 3
    assert count(registry, "dropped", reason="invalid") == 1


def test_batches_are_bounded_by_count_and_bytes(
    receivers: Callable[[Answer], Receiver],
    telemetry: Telemetry,
    exporters: Callable[..., TraceExporter],
) -> None:
    server = receivers(always(200))
    exporter = exporters(server.url, max_batch=2, max_delay=3600)
    for i in range(5):
        exporter.export(small_trace(f"n{i}", telemetry))
    assert exporter.flush(WAIT)
    assert [r.trace_ids for r in server.received] == [["n0", "n1"], ["n2", "n3"], ["n4"]]

    sample = small_trace("bx", telemetry)
    one = len(encode_trace(sample, len(sample.steps), mark_recorded=True))
    by_bytes = exporters(server.url, max_batch_bytes=int(one * 2.5), max_delay=3600)
    for i in range(5):
        by_bytes.export(small_trace(f"b{i}", telemetry))
    assert by_bytes.flush(WAIT)
    assert [r.trace_ids for r in server.received[3:]] == [["b0", "b1"], ["b2", "b3"], ["b4"]]


def test_a_full_queue_drops_the_oldest_and_counts_them(
    receivers: Callable[[Answer], Receiver],
    registry: CollectorRegistry,
    telemetry: Telemetry,
    exporters: Callable[..., TraceExporter],
) -> None:
    server = receivers(always(200))
    server.gate.clear()  # the sidecar is slow: the first batch hangs in flight
    exporter = exporters(server.url, max_queue=2, max_batch=1, max_delay=0)
    assert exporter.export(small_trace("first", telemetry))
    assert server.arrived.wait(WAIT)
    for trace_id in ("q1", "q2", "q3", "q4"):
        assert exporter.export(small_trace(trace_id, telemetry))  # never blocks
    assert count(registry, "dropped", reason="queue_full") == 2
    server.gate.set()
    assert exporter.flush(WAIT)
    assert server.trace_ids == ["first", "q3", "q4"]


def test_close_delivers_what_is_queued_and_later_exports_are_dropped(
    receivers: Callable[[Answer], Receiver],
    registry: CollectorRegistry,
    telemetry: Telemetry,
) -> None:
    server = receivers(always(200))
    with TraceExporter(server.url, registry=registry, max_delay=3600) as exporter:
        for trace_id in ("c1", "c2", "c3"):
            exporter.export(small_trace(trace_id, telemetry))
    assert server.trace_ids == ["c1", "c2", "c3"]
    assert not exporter.export(small_trace("too-late", telemetry))
    assert count(registry, "dropped", reason="closed") == 1
    assert exporter.close()  # again: nothing happens


def test_close_gives_up_at_its_timeout_when_the_sidecar_is_down(
    registry: CollectorRegistry, telemetry: Telemetry
) -> None:
    url = f"http://127.0.0.1:{processes.free_port()}"
    exporter = TraceExporter(
        url, registry=registry, backoff_initial=3600, backoff_max=3600, retry_for=7200
    )
    exporter.export(small_trace("undeliverable", telemetry))
    assert exporter.close(timeout=0.2)
    assert count(registry, "dropped", reason="shutdown") == 1
    assert count(registry, "sent_traces") == 0


def test_a_trace_with_two_roots_is_shipped_once_with_both(
    receivers: Callable[[Answer], Receiver],
    registry: CollectorRegistry,
    exporters: Callable[..., TraceExporter],
) -> None:
    server = receivers(always(200))
    exporter = exporters(server.url, max_delay=3600)
    telemetry = enable_export(exporter, Telemetry(Recorder(AgentMetrics(registry=registry))))
    trace = ResponseTrace("two-roots")
    with use_telemetry(telemetry):
        with TraceStep(trace, CallType.AGENT, "first"):
            pass
        with TraceStep(trace, CallType.AGENT, "second"):
            pass
    assert exporter.flush(WAIT)
    (got,) = server.received
    steps = got.body["traces"][0]["steps"]
    assert [s["name"] for s in steps] == ["first", "second"]
    assert all(s["additional_attributes"][A2A_METRICS_RECORDED_ATTR] is True for s in steps)


def test_enable_export_keeps_the_other_listeners_and_adds_the_exporter_once(
    receivers: Callable[[Answer], Receiver],
    telemetry: Telemetry,
    exporters: Callable[..., TraceExporter],
) -> None:
    exporter = exporters(receivers(always(200)).url)
    other = exporters(receivers(always(200)).url)
    once = enable_export(exporter, enable_export(exporter, enable_export(other, telemetry)))
    assert once.listeners == (other, exporter)
    assert once.recorder is telemetry.recorder


def test_what_cannot_be_sent_is_counted_and_never_raised(
    receivers: Callable[[Answer], Receiver],
    registry: CollectorRegistry,
    telemetry: Telemetry,
    exporters: Callable[..., TraceExporter],
) -> None:
    server = receivers(always(200))
    exporter = exporters(server.url, max_delay=3600)
    assert not exporter.export(object())  # type: ignore[arg-type]
    exporter.export(small_trace("nan", telemetry, score=float("nan")))
    exporter.export(small_trace("fine", telemetry))
    assert exporter.flush(WAIT)
    assert server.trace_ids == ["fine"]
    assert count(registry, "dropped", reason="unserializable") == 2


def test_exporters_on_one_registry_share_its_counters(
    receivers: Callable[[Answer], Receiver],
    registry: CollectorRegistry,
    telemetry: Telemetry,
    exporters: Callable[..., TraceExporter],
) -> None:
    url = receivers(always(200)).url
    first, second = exporters(url), exporters(url)
    first.export(small_trace("one", telemetry))
    second.export(small_trace("two", telemetry))
    assert first.flush(WAIT) and second.flush(WAIT)
    assert count(registry, "sent_traces") == 2


@pytest.mark.parametrize(
    "url", ["ftp://host/x", "127.0.0.1:9464", "http://", "http://host:99999", "http://h:x/"]
)
def test_a_bad_url_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(ValueError, match=r"http\(s\)://host") as err:
        TraceExporter(url, registry=None)
    assert url not in str(err.value)


@pytest.mark.parametrize("token", ["", "  ", "a\r\nX-Injected: 1", "tökén"])
def test_a_token_that_cannot_be_a_header_is_refused(token: str) -> None:
    with pytest.raises(ValueError, match="printable ASCII") as err:
        TraceExporter("http://127.0.0.1:9", token=token, registry=None)
    assert token.strip() == "" or token not in str(err.value)


def test_retry_after_values() -> None:
    assert retry_after("7", now=0) == 7
    assert retry_after(" 1.5 ", now=0) == 1.5
    assert retry_after("Thu, 01 Jan 1970 00:01:40 GMT", now=40) == 60
    assert retry_after("Thu, 01 Jan 1970 00:01:40 GMT", now=500) == 0
    assert retry_after("Thu, 01 Jan 1970 00:01:40 -0000", now=40) == 60
    for bad in (None, "", "soon", "-1", "nan"):
        assert retry_after(bad, now=0) is None


# --- in a fresh interpreter ----------------------------------------------------------------------
def run_python(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(processes.REPO)}
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,  # a hang guard, not a timing assertion
    )


AGENT = """
from sloguard import TraceStep, Telemetry, Recorder, AgentMetrics, set_default_telemetry
from sloguard import TraceExporter, enable_export
from prometheus_client import CollectorRegistry
exporter = TraceExporter({url!r}, registry=None, max_delay=3600, shutdown_timeout={wait},
                         timeout=3600, backoff_initial=3600, backoff_max=3600, retry_for=7200)
telemetry = Telemetry(Recorder(AgentMetrics(CollectorRegistry())))
set_default_telemetry(enable_export(exporter, telemetry))
with TraceStep(name="from-a-script"):
    pass
"""


def test_at_exit_the_queue_is_delivered_with_the_stdlib_alone(
    receivers: Callable[[Answer], Receiver],
) -> None:
    server = receivers(always(200))
    code = (
        BLOCKER
        + AGENT.format(url=server.url, wait=WAIT)
        + (
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] in BLOCKED)\n"
            "print('LOADED', loaded)\n"
        )
    )
    out = run_python(code)  # no close(): the atexit hook delivers the trace
    assert out.returncode == 0, out.stderr
    assert "LOADED []" in out.stdout
    (got,) = server.received
    assert [s["name"] for s in got.body["traces"][0]["steps"]] == ["from-a-script"]


STUCK = """
import time, urllib.request
exporter.flush(timeout=0)  # send now
while urllib.request.urlopen({url!r} + "/arrived").read() != b"yes":
    time.sleep(0.01)
"""


def test_the_exporter_thread_does_not_keep_the_interpreter_alive(
    receivers: Callable[[Answer], Receiver],
) -> None:
    server = receivers(always(200))
    server.gate.clear()  # never answered: the thread stays stuck reading the answer
    code = AGENT.format(url=server.url, wait=0.2) + STUCK.format(url=server.url)
    out = run_python(code)  # a non-daemon thread would hang the exit (until the hang guard)
    assert out.returncode == 0, out.stderr
    assert server.arrived.is_set()
