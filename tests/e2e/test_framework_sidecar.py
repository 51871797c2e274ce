"""The conformance captures over real OTLP/HTTP into a running sidecar.

Each framework capture's requests are posted to ``sloguard run --mode exporter`` in the order
the framework's exporter sent them (children before parents, traces split over requests); the
sidecar's ``/metrics`` must then equal what the runs did (``expected.json``), as the in-process
mapping test asserts. The same capture posted as one request gives the same series.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.support.frameworks import captures, expected, exports, observed, wanted
from tests.support.processes import Spawn, _wait_healthy, free_port

PROTOBUF = {"Content-Type": "application/x-protobuf"}


def start_sidecar(spawn: Spawn, tmp_path: Path, name: str) -> str:
    port = free_port()
    proc = spawn(
        "run", "--mode", "exporter", "--port", str(port), "--data-dir", str(tmp_path / name)
    )
    base = f"http://127.0.0.1:{port}"
    _wait_healthy(proc, base, tmp_path)
    return base


def scrape(base: str) -> list[Sample]:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def post_all(base: str, bodies: list[bytes]) -> None:
    with httpx.Client(base_url=base, timeout=10) as client:
        for body in bodies:
            r = client.post("/v1/traces", content=body, headers=PROTOBUF)
            assert r.status_code == 200, r.text


@pytest.mark.parametrize("capture", captures())
def test_a_sidecar_reads_each_framework_as_its_runs_went(
    spawn: Spawn, tmp_path: Path, capture: str
) -> None:
    base = start_sidecar(spawn, tmp_path, capture)
    post_all(base, exports(capture))
    got, want = observed(scrape(base)), wanted(capture)
    for part in ("agents", "tools", "handoffs", "workflows"):
        assert got[part] == want[part], f"{capture}: {part}\n{expected(capture)['why']}"


def test_one_request_or_many_give_the_same_series(spawn: Spawn, tmp_path: Path) -> None:
    capture = "langgraph-openllmetry"  # the most split of the captures (45 requests)
    split = start_sidecar(spawn, tmp_path, "split")
    whole = start_sidecar(spawn, tmp_path, "whole")
    post_all(split, exports(capture))
    # Serialized ExportTraceServiceRequests concatenate into one (repeated fields merge).
    post_all(whole, [b"".join(exports(capture))])
    assert observed(scrape(split)) == observed(scrape(whole)) == wanted(capture)


def test_a_trace_whose_root_never_arrives_is_read_when_its_window_closes(
    spawn: Spawn, tmp_path: Path
) -> None:
    port = free_port()
    proc = spawn(
        "run", "--mode", "exporter", "--port", str(port), "--data-dir", str(tmp_path / "d"),
        env={"SLOGUARD_INGEST__OTLP_WINDOW": "2s"},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    _wait_healthy(proc, base, tmp_path)
    first = exports("openai-agents-openinference")[0]  # model calls and tools: no root yet
    post_all(base, [first])

    def series(name: str, **labels: str) -> float:
        return sum(
            s.value for s in scrape(base) if s.name == name and labels.items() <= s.labels.items()
        )

    assert series("sloguard_otlp_waiting_spans") > 0
    assert series("sloguard_otlp_traces_total") == 0
    deadline = time.monotonic() + 30  # the flusher runs every second; generous under load
    while series("sloguard_otlp_traces_total", outcome="window") == 0:
        assert time.monotonic() < deadline, "the window never closed"
        time.sleep(0.2)
    assert series("sloguard_otlp_waiting_spans") == 0
    assert series("agent_token_usage_total") > 0  # what the partial trace said was recorded
