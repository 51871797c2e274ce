"""``/api/v1/traces`` over ASGI and the ``sloguard trace`` command's handler."""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from sloguard.cli import main
from sloguard.commands.trace import TRACE
from sloguard.tracestore.store import TraceStore
from sloguard.web.server import create_app
from sloguard.web.tracesapi import traces_router
from tests.support.traces import routed, seed_workflow

NOW = 1_750_000_000.0
MISROUTED = routed("bad", "shipping-agent", (("track_package", "NotFound: no parcel"),), fails=True)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "traces.sqlite"
    store = TraceStore(path)
    store.put(routed("good"), NOW)
    store.put(MISROUTED, NOW)
    store.put(seed_workflow("seed"), NOW)
    store.close()
    return path


@pytest.fixture
async def client(store_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(CollectorRegistry(), routers=[traces_router(TraceStore(store_path))])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sloguard") as c:
        yield c


async def test_list_with_filters(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/traces")
    assert r.status_code == 200
    assert sorted(t["trace_id"] for t in r.json()["traces"]) == ["bad", "good", "seed"]
    r = await client.get("/api/v1/traces", params={"status": "error", "agent": "supervisor"})
    [only] = r.json()["traces"]
    assert (only["trace_id"], only["status"], only["agent"]) == ("bad", "error", "supervisor")
    r = await client.get("/api/v1/traces", params={"limit": "1", "since": "0", "until": "2e9"})
    assert len(r.json()["traces"]) == 1


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"status": "failed"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"since": "yesterday"}, "since"),
        ({"until": "nan"}, "until"),
    ],
)
async def test_bad_query_values_are_400_naming_the_parameter(
    client: httpx.AsyncClient, params: dict[str, str], name: str
) -> None:
    r = await client.get("/api/v1/traces", params=params)
    assert r.status_code == 400
    assert f"query parameter {name} " in r.json()["detail"]


async def test_show_has_tree_and_anomalies(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/traces/seed")
    assert r.status_code == 200
    body = r.json()
    assert body["summary"]["steps"] == 11
    assert body["tree"].splitlines()[0] == "workflow.execute (host, ok, 1250 ms)"
    assert body["anomalies"] == []
    assert body["trace"]["trace_id"] == "seed"


async def test_unknown_ids_are_404_with_a_message(client: httpx.AsyncClient) -> None:
    for url in ("/api/v1/traces/nope", "/api/v1/traces/nope/mermaid"):
        r = await client.get(url)
        assert (r.status_code, r.json()["detail"]) == (404, "no stored trace with id 'nope'")
    r = await client.get("/api/v1/traces/compare", params={"a": "good", "b": "nope"})
    assert (r.status_code, r.json()["detail"]) == (404, "no stored trace with id 'nope'")


async def test_mermaid_is_plain_text(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/traces/good/mermaid")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text.startswith("sequenceDiagram")


async def test_compare_explicit_and_automatic(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/traces/compare", params={"a": "good", "b": "bad"})
    body = r.json()
    assert (body["automatic"], body["workflow_a"], body["workflow_b"]) == (False, "good", "bad")
    assert body["first_divergence"]["divergence"] == "agent_choice"
    r = await client.get("/api/v1/traces/compare", params={"a": "bad"})
    body = r.json()
    assert (body["automatic"], body["baseline"], body["workflow_b"]) == (True, "good", "bad")


async def test_compare_without_a_successful_run_is_404(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "t.sqlite")
    store.put(MISROUTED, NOW)
    app = create_app(CollectorRegistry(), routers=[traces_router(store)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sloguard"
    ) as c:
        r = await c.get("/api/v1/traces/compare", params={"a": "bad"})
    assert r.status_code == 404
    assert r.json()["detail"] == "no successful stored trace to compare 'bad' with"


# --- the command -----------------------------------------------------------------------------
def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="sloguard trace")
    TRACE.add_arguments(parser)
    return TRACE.handler(parser.parse_args(argv))


def test_cli_list_json(store_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["list", "--store", str(store_path), "--status", "error", "--json"]) == 0
    assert [t["trace_id"] for t in json.loads(capsys.readouterr().out)] == ["bad"]


def test_cli_list_piped_from_data_dir(store_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["list", "--data-dir", str(store_path.parent)]) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    assert header.split("\t") == ["trace_id", "started_at", "agent", "status", "steps", "cost"]
    rows = {line.split("\t")[0]: line.split("\t") for line in lines}
    assert sorted(rows) == ["bad", "good", "seed"]
    assert rows["bad"][2:5] == ["supervisor", "error", "4"]


def test_cli_show(store_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["show", "seed", "--store", str(store_path)]) == 0
    assert capsys.readouterr().out.startswith("workflow.execute (host, ok, 1250 ms)\n")
    assert run(["show", "seed", "--store", str(store_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["anomalies"] == []


def test_cli_diff_with_and_without_b(store_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["diff", "good", "bad", "--store", str(store_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["first_divergence"]["divergence"] == "agent_choice"
    assert run(["diff", "bad", "--store", str(store_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("A: good  <- baseline: chosen, the most similar successful run\nB: bad\n")
    assert "agent_choice" in out
    assert run(["diff", "good", "bad", "--store", str(store_path)]) == 0
    assert capsys.readouterr().out.startswith("A: good\nB: bad  <- baseline: given\n")


def test_cli_mermaid(store_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["mermaid", "good", "--store", str(store_path)]) == 0
    assert capsys.readouterr().out.startswith("sequenceDiagram")
    assert run(["mermaid", "good", "--store", str(store_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["trace_id"] == "good"


def test_cli_replay_stop_before(store_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["replay", "seed", "--store", str(store_path), "--stop-before", "writer", "--json"]
    assert run(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["stopped_before"]["agent"] == "writer"
    assert set(result["final_state"]) == {"intent", "sources", "results"}
    assert run(["replay", "seed", "--store", str(store_path), "--stop-before", "writer"]) == 0
    assert "stopped before agent_invoked writer" in capsys.readouterr().out


def test_cli_problems_exit_1(
    store_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["trace", "show", "nope", "--store", str(store_path)]) == 1
    assert capsys.readouterr().err == "sloguard: no stored trace with id 'nope'\n"
    missing = tmp_path / "missing.sqlite"
    assert main(["trace", "list", "--store", str(missing)]) == 1
    assert f"sloguard: no trace store at {missing}" in capsys.readouterr().err
    assert not missing.exists()
