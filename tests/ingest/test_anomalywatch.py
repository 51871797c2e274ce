"""Anomalies of ingested A2A traces counted once; the decisions and anomalies API and command.

The HTTP tests build the real app (ingest router + traces API) over a real SQLite trace store in
``tmp_path``; the pure helpers of :mod:`sloguard.ingest.anomalywatch` are checked as tables.
"""

from __future__ import annotations

import argparse
import json
import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from sloguard import Telemetry
from sloguard.analysis.decisionrecord import DecisionRecord, Option
from sloguard.analysis.delta import new_chain_anomalies, new_trace_anomalies, unseen
from sloguard.commands.trace import TRACE
from sloguard.ingest.anomalywatch import AnomalyWatch, anomaly_event
from sloguard.ingest.router import ingest_router
from sloguard.sdk.recorder import Recorder
from sloguard.tracestore.store import TraceStore
from sloguard.web.server import create_app
from sloguard.web.tracesapi import traces_router
from tests.support.events import anomalies, decision, post
from tests.support.processes import STOP_DEADLINE, Spawn, _wait_healthy
from tests.support.traces import (
    Row,
    build,
    customer_service,
    financial_risk,
    nested_agents,
    routed,
    row,
    seed_workflow,
    tool_rows,
)

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
NOW = 1_750_000_000.0


@pytest.fixture
def store(tmp_path: Path) -> TraceStore:
    return TraceStore(tmp_path / "traces.sqlite")


@pytest.fixture
async def client(
    registry: CollectorRegistry, recorder: Recorder, store: TraceStore
) -> AsyncIterator[httpx.AsyncClient]:
    routers = [
        ingest_router(recorder, token=None, traces=store, max_tool_calls=3),
        traces_router(store, max_tool_calls=3),
    ]
    app = create_app(registry, routers=routers)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sloguard"
    ) as c:
        yield c


async def post_traces(client: httpx.AsyncClient, *traces: dict[str, Any]) -> None:
    r = await client.post("/v1/a2a/traces", json={"traces": list(traces)})
    assert r.status_code == 200, r.text


def looping(trace_id: str) -> dict[str, Any]:
    """host → A → B → A: B hands the work back to the agent that handed it to B."""
    return build(trace_id, nested_agents("A", "B", "A")).as_dict()


def researcher(calls: int) -> list[Row]:
    return [
        row("h", None, "HOST", "host", 0, 1000),
        row("ag", "h", "AGENT", "researcher", 0, 900),
        *tool_rows("researcher", calls),
    ]


# --- traces -----------------------------------------------------------------------------------


async def test_seed_traces_count_no_anomalies(
    client: httpx.AsyncClient, registry: CollectorRegistry, telemetry: Telemetry
) -> None:
    """The seeds' flows: supervisor → researcher → writer, customer service, financial risk."""
    await post_traces(
        client,
        seed_workflow("wf-001").as_dict(),
        routed("cs-billing").as_dict(),
        customer_service(telemetry).as_dict(),
        financial_risk(telemetry).as_dict(),
    )
    assert anomalies(registry) == {}
    assert (await client.get("/api/v1/anomalies")).json() == {"anomalies": []}


async def test_a_handoff_loop_is_counted_once_even_when_posted_again(
    client: httpx.AsyncClient, registry: CollectorRegistry
) -> None:
    await post_traces(client, looping("loop-1"))
    assert anomalies(registry) == {("B", "handoff_loop"): 1}
    await post_traces(client, looping("loop-1"))
    r = await client.post("/v1/a2a/traces", json=looping("loop-1"))
    assert r.status_code == 200
    assert anomalies(registry) == {("B", "handoff_loop"): 1}
    # another run with the same loop is another anomaly
    await post_traces(client, looping("loop-2"))
    assert anomalies(registry) == {("B", "handoff_loop"): 2}

    r = await client.get("/api/v1/anomalies", params={"trace_id": "loop-1"})
    [listed] = r.json()["anomalies"]
    assert listed["anomaly"] == "handoff_loop" and listed["agent"] == "B"
    assert listed["path"] == ["A", "B", "A"] and listed["steps"] == ["s0", "s1", "s2"]
    assert listed["detected"] is True and isinstance(listed["received_at"], float)


async def test_a_trace_posted_again_with_more_steps_counts_only_what_they_add(
    client: httpx.AsyncClient, registry: CollectorRegistry
) -> None:
    """The limit here is 3 tool calls per invocation."""
    await post_traces(client, build("grow", researcher(3)).as_dict())
    assert anomalies(registry) == {}
    await post_traces(client, build("grow", researcher(4)).as_dict())
    assert anomalies(registry) == {("researcher", "runaway_tool_calls"): 1}
    # more calls in the same invocation: the same anomaly
    await post_traces(client, build("grow", researcher(9)).as_dict())
    assert anomalies(registry) == {("researcher", "runaway_tool_calls"): 1}
    # a loop appears in the same trace: counted
    loop = [
        row("la", "h", "AGENT", "A", 0, 500),
        row("lb", "la", "AGENT", "B", 10, 400),
        row("la2", "lb", "AGENT", "A", 20, 300),
    ]
    await post_traces(client, build("grow", [*researcher(9), *loop]).as_dict())
    assert anomalies(registry) == {
        ("researcher", "runaway_tool_calls"): 1,
        ("B", "handoff_loop"): 1,
    }
    r = await client.get("/api/v1/traces/grow")
    assert [a["kind"] for a in r.json()["anomalies"]] == ["handoff_loop", "runaway_tool_calls"]


async def test_a_rejected_trace_batch_counts_and_stores_nothing(
    client: httpx.AsyncClient, registry: CollectorRegistry, store: TraceStore
) -> None:
    bad = {"trace_id": "bad", "steps": [{"step_id": "x", "call_type": "ROBOT", "name": "n"}]}
    r = await client.post("/v1/a2a/traces", json={"traces": [looping("loop-1"), bad]})
    assert r.status_code == 422
    assert anomalies(registry) == {}
    assert store.get("loop-1") is None
    assert store.events() == []


# --- the decisions and anomalies API ----------------------------------------------------------


async def test_decisions_api_filters_and_lists(client: httpx.AsyncClient) -> None:
    await post(
        client,
        decision("supervisor", "handoff", "billing-agent", at=0),
        decision("billing-agent", "tool_selection", "lookup_invoice", at=1),
        decision("billing-agent", "handoff", "supervisor", 0.2, at=2),
        decision("planner", "routing", "writer", at=3, wf="wf-002"),
    )
    r = await client.get("/api/v1/decisions")
    assert [d["chosen_option"] for d in r.json()["decisions"]] == [
        "billing-agent",
        "lookup_invoice",
        "supervisor",
        "writer",
    ]
    assert "anomalies" not in r.json()
    r = await client.get("/api/v1/decisions", params={"agent": "planner"})
    assert [d["workflow_id"] for d in r.json()["decisions"]] == ["wf-002"]

    since = str((T0 + timedelta(seconds=1)).timestamp())
    r = await client.get("/api/v1/decisions", params={"workflow_id": "wf-001", "since": since})
    body = r.json()
    assert [d["chosen_option"] for d in body["decisions"]] == ["lookup_invoice", "supervisor"]
    # the loop is found on the whole chain; it involves a listed decision
    assert sorted(a["kind"] for a in body["anomalies"]) == ["handoff_loop", "low_confidence"]
    r = await client.get(
        "/api/v1/decisions", params={"workflow_id": "wf-001", "agent": "supervisor"}
    )
    body = r.json()
    assert [d["chosen_option"] for d in body["decisions"]] == ["billing-agent"]
    assert [a["kind"] for a in body["anomalies"]] == ["handoff_loop"]
    r = await client.get("/api/v1/decisions", params={"workflow_id": "wf-001", "limit": "1"})
    assert len(r.json()["decisions"]) == 1

    r = await client.get("/api/v1/anomalies", params={"limit": "1"})
    assert len(r.json()["anomalies"]) == 1
    r = await client.get("/api/v1/anomalies", params={"agent": "billing-agent"})
    assert sorted(a["anomaly"] for a in r.json()["anomalies"]) == [
        "handoff_loop",
        "low_confidence",
    ]


@pytest.mark.parametrize(
    ("path", "params", "name"),
    [
        ("/api/v1/decisions", {"limit": "0"}, "limit"),
        ("/api/v1/decisions", {"limit": "1001"}, "limit"),
        ("/api/v1/decisions", {"workflow_id": "wf-001", "limit": "many"}, "limit"),
        ("/api/v1/decisions", {"since": "yesterday"}, "since"),
        ("/api/v1/decisions", {"workflow_id": "wf-001", "until": "inf"}, "until"),
        ("/api/v1/anomalies", {"limit": "x"}, "limit"),
        ("/api/v1/anomalies", {"since": "nan"}, "since"),
        ("/api/v1/anomalies", {"until": "soon"}, "until"),
    ],
)
async def test_bad_query_values_are_400_naming_the_parameter(
    client: httpx.AsyncClient, path: str, params: dict[str, str], name: str
) -> None:
    await post(client, decision("a", "routing", "x", at=0))
    r = await client.get(path, params=params)
    assert r.status_code == 400
    assert r.json()["detail"].startswith(f"query parameter {name} must be ")


async def test_an_unknown_workflow_is_404_with_a_message(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/decisions", params={"workflow_id": "nope"})
    assert (r.status_code, r.json()) == (404, {"detail": "no stored decisions for workflow 'nope'"})


# --- the daemon: thresholds from the settings file ------------------------------------------


def test_the_daemon_counts_with_the_configured_thresholds(
    spawn: Spawn, free_port: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "sloguard.yaml"
    config.write_text("ingest:\n  low_confidence: 0.5\n  max_tool_calls: 2\n", encoding="utf-8")
    data_dir = tmp_path / "state"
    proc = spawn(
        "run", "--mode", "exporter", "--port", str(free_port), "--config", str(config),
        env={"SLOGUARD_DATA_DIR": str(data_dir)},
    )  # fmt: skip
    base = f"http://127.0.0.1:{free_port}"
    _wait_healthy(proc, base, tmp_path)
    events = [
        decision("planner", "routing", "search", 0.45, at=0),
        *[decision("planner", "tool_selection", "search", at=1 + i) for i in range(3)],
    ]
    r = httpx.post(f"{base}/v1/events", json={"events": events})
    assert (r.status_code, r.json()) == (200, {"accepted": 4})
    r = httpx.post(f"{base}/v1/events", json={"events": events})  # sent again
    assert r.status_code == 200
    families = text_string_to_metric_families(httpx.get(f"{base}/metrics").text)
    counted = {
        (s.labels["agent_name"], s.labels["anomaly"]): s.value
        for f in families
        for s in f.samples
        if s.name == "agent_anomalies_total"
    }
    assert counted == {("planner", "low_confidence"): 1, ("planner", "runaway_tool_calls"): 1}
    body = httpx.get(f"{base}/api/v1/decisions", params={"workflow_id": "wf-001"}).json()
    assert len(body["decisions"]) == 4
    assert [a["kind"] for a in body["anomalies"]] == ["low_confidence", "runaway_tool_calls"]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=STOP_DEADLINE) == 0

    # the command reads the daemon's store (with the default thresholds unless told)
    assert run(["decisions", "wf-001", "--data-dir", str(data_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["anomalies"] == []
    argv = ["decisions", "wf-001", "--data-dir", str(data_dir), "--json", "--low-confidence", "0.5"]
    assert run(argv) == 0
    assert [a["kind"] for a in json.loads(capsys.readouterr().out)["anomalies"]] == [
        "low_confidence"
    ]


# --- the command ------------------------------------------------------------------------------


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="sloguard trace")
    TRACE.add_arguments(parser)
    return TRACE.handler(parser.parse_args(argv))


def test_cli_decisions_table_json_and_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "160")  # the table's width, as a wide terminal has it
    path = tmp_path / "traces.sqlite"
    store = TraceStore(path)
    store.put_decisions(
        [
            DecisionRecord(
                "supervisor", T0, "handoff", "billing-agent", 0.85,
                options_considered=(Option("billing-agent", 0.85), Option("shipping-agent")),
                reasoning="refund", workflow_id="wf-001",
            ),
            DecisionRecord(
                "billing-agent", T0 + timedelta(seconds=1), "handoff", "supervisor", 0.25,
                workflow_id="wf-001",
            ),
        ],
        NOW,
    )  # fmt: skip
    store.close()
    assert run(["decisions", "wf-001", "--store", str(path)]) == 0
    out = capsys.readouterr().out
    assert "workflow wf-001: 2 decisions, 2025-03-01 UTC" in out
    assert "billing-agent (0.85), shipping-agent" in out
    assert "│ 09:00:01 │ billing-agent │ handoff │ supervisor" in out
    assert "anomaly handoff_loop (billing-agent): handoff loop: supervisor → billing-agent" in out
    assert "anomaly low_confidence (billing-agent)" in out

    assert run(["decisions", "wf-001", "--data-dir", str(tmp_path), "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert [a["kind"] for a in body["anomalies"]] == ["low_confidence", "handoff_loop"]
    argv = ["decisions", "wf-001", "--store", str(path), "--json", "--low-confidence", "0.2"]
    assert run(argv) == 0
    assert [a["kind"] for a in json.loads(capsys.readouterr().out)["anomalies"]] == ["handoff_loop"]

    assert run(["decisions", "nope", "--store", str(path)]) == 1
    assert "no stored decisions for workflow 'nope'" in capsys.readouterr().err
    assert run(["decisions", "wf-001", "--store", str(path), "--low-confidence", "2"]) == 1
    assert "--low-confidence must be in 0..1" in capsys.readouterr().err


# --- the pure helpers and the watch -----------------------------------------------------------


def d(agent: str, kind: str, choice: str, confidence: float = 0.9, at: int = 0) -> DecisionRecord:
    return DecisionRecord(
        agent, T0 + timedelta(seconds=at), kind, choice, confidence, workflow_id="wf"
    )


AB = d("A", "handoff", "B")
BA = d("B", "handoff", "A", at=1)
AB2 = d("A", "handoff", "B", at=2)
BA2 = d("B", "handoff", "A", at=3)
LOW = d("A", "routing", "x", 0.1, at=4)
TOOLS = [d("A", "tool_selection", "search", at=10 + i) for i in range(23)]

CHAIN_CASES: list[tuple[str, list[DecisionRecord], list[DecisionRecord], list[str]]] = [
    ("nothing stored, nothing new", [], [], []),
    ("the loop closes with the new record", [AB], [BA], ["handoff_loop"]),
    ("the loop is all new", [], [AB, BA], ["handoff_loop"]),
    ("an old loop is not new", [AB, BA], [LOW], ["low_confidence"]),
    ("a second lap is new", [AB, BA], [AB2, BA2], ["handoff_loop"]),
    ("an old low confidence is not new", [LOW], [AB], []),
    (
        "the 21st tool choice of a turn is a runaway",
        TOOLS[:20],
        TOOLS[20:21],
        ["runaway_tool_calls"],
    ),
    ("the 22nd adds nothing", TOOLS[:21], TOOLS[21:22], []),
    ("tool choices all new", [], TOOLS, ["runaway_tool_calls"]),
]


@pytest.mark.parametrize(
    ("stored", "new", "kinds"), [c[1:] for c in CHAIN_CASES], ids=[c[0] for c in CHAIN_CASES]
)
def test_new_chain_anomalies(
    stored: list[DecisionRecord], new: list[DecisionRecord], kinds: list[str]
) -> None:
    assert [a.kind.value for a in new_chain_anomalies(stored, new)] == kinds


def test_unseen_leaves_out_records_sent_again_but_keeps_equal_ones_of_a_batch() -> None:
    assert unseen([AB, BA], [AB, AB2, LOW, LOW]) == [AB2, LOW, LOW]
    assert unseen([], [AB, AB]) == [AB, AB]


def test_new_trace_anomalies_are_the_difference() -> None:
    three, four = build("t", researcher(3)), build("t", researcher(4))
    assert new_trace_anomalies(three, None, max_tool_calls=3) == []
    [runaway] = new_trace_anomalies(four, three, max_tool_calls=3)
    assert runaway.agent == "researcher"
    assert new_trace_anomalies(four, four, max_tool_calls=3) == []
    assert new_trace_anomalies(build("t", researcher(8)), four, max_tool_calls=3) == []


def test_anomaly_event_carries_what_was_found() -> None:
    [loop] = new_chain_anomalies([AB], [BA])
    event = anomaly_event(loop, workflow_id="wf")
    assert event == {
        "type": "anomaly",
        "agent": "B",
        "anomaly": "handoff_loop",
        "detected": True,
        "message": "handoff loop: A → B → A",
        "workflow_id": "wf",
        "path": ["A", "B", "A"],
        "decisions": [
            {"agent_id": "A", "timestamp": T0.isoformat(), "decision_type": "handoff",
             "chosen_option": "B", "confidence": 0.9},
            {"agent_id": "B", "timestamp": (T0 + timedelta(seconds=1)).isoformat(),
             "decision_type": "handoff", "chosen_option": "A", "confidence": 0.9},
        ],
    }  # fmt: skip


def test_the_watch_refuses_bad_thresholds(store: TraceStore, recorder: Recorder) -> None:
    with pytest.raises(ValueError, match="low_confidence must be in"):
        AnomalyWatch(store, recorder, low_confidence=1.5)
    with pytest.raises(ValueError, match="max_tool_calls must be >= 0"):
        AnomalyWatch(store, recorder, max_tool_calls=-1)


def test_a_store_failure_counts_nothing_and_raises_nothing(
    tmp_path: Path, recorder: Recorder, registry: CollectorRegistry
) -> None:
    store = TraceStore(tmp_path / "closed.sqlite")
    store.close()  # every call now fails inside sqlite3
    failed: list[str] = []
    watch = AnomalyWatch(store, recorder, on_failure=failed.append)
    assert watch.store_traces([build("loop", nested_agents("A", "B", "A"))], NOW) == []
    assert watch.store_events([{"type": "decision"}], [AB, BA], NOW) == []
    assert anomalies(registry) == {}
    assert failed == ["traces", "events"]  # the ingest counts these
