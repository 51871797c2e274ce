"""Live: VictoriaMetrics (Debian ``victoria-metrics``) in Prometheus's place.

sloguard's Prometheus source speaks the Prometheus HTTP API, which VictoriaMetrics serves too;
these tests run the same live checks as ``test_live_prometheus.py`` with VictoriaMetrics scraping
sloguard and answering its queries (the counting contract on fixed data is in
``tests/contract/test_source_contract.py``):

- the demo daemon evaluated through VictoriaMetrics fires the critical tier when the incident
  starts;
- the embedded source and VictoriaMetrics agree on the same live workload (VictoriaMetrics'
  ``increase`` does not extrapolate, Prometheus's does: both stay within the same 5 % here);
- VictoriaMetrics' own ``rate`` differs from Prometheus's on sparse data, which sloguard does not
  use for counting (shown, so a change that starts using it fails here).
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry, start_http_server

from sloguard import AgentMetrics, Recorder
from sloguard.slo.budget import burn_rate
from sloguard.sources.embedded import EmbeddedSource
from sloguard.sources.prometheus import PrometheusSource
from tests.support.processes import Spawn, _wait_healthy, free_port, wait_for_billing
from tests.support.promserver import Family, Series, scrape_config
from tests.support.slos import make_slo
from tests.support.vmserver import import_families, start_victoria


def test_demo_evaluated_through_victoriametrics_fires_critical(
    spawn: Spawn, tmp_path: Path
) -> None:
    port = free_port()
    with start_victoria(tmp_path, scrape_config=scrape_config(f"127.0.0.1:{port}")) as vm:
        proc = spawn(
            "demo",
            "--port",
            str(port),
            "--incident-after",
            "6",
            "--interval",
            "1",
            "--rate",
            "25",
            "--data-dir",
            str(tmp_path / "demo"),
            env={"SLOGUARD_PROMETHEUS__URL": vm, "SLOGUARD_PROMETHEUS__SCRAPE_INTERVAL": "1"},
        )
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(proc, base, tmp_path)
        billing, _items = wait_for_billing(
            base, lambda b: b.get("severity") == "critical", tmp_path
        )
        tiers = billing["tiers"]
        assert isinstance(tiers, list)
        assert any(t["firing"] and t["severity"] == "critical" for t in tiers)
        found = httpx.get(f"{vm}/api/v1/query", params={"query": "agent_calls_total"}, timeout=5)
        assert found.json()["data"]["result"], "VictoriaMetrics scraped nothing"
        assert proc.poll() is None


async def test_embedded_and_victoriametrics_sources_agree(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    recorder = Recorder(AgentMetrics(registry=registry))
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    slo = make_slo(group_by=("agent_name",))
    embedded = EmbeddedSource(registry, [slo], interval=1)
    rng = random.Random(5)
    try:
        config = scrape_config(f"127.0.0.1:{port}")
        with start_victoria(tmp_path, scrape_config=config) as vm:
            source = PrometheusSource(vm, timeout=5)
            start = time.time()
            while time.time() - start < 25:  # ~200 calls/s: "a" fails ~5 %, "b" ~20 %
                for _ in range(20):
                    agent = rng.choice("ab")
                    failed = rng.random() < (0.05 if agent == "a" else 0.2)
                    recorder.agent_call(agent, "error" if failed else "success", 0.1)
                embedded.sample(time.time())
                await asyncio.sleep(0.1)
            await asyncio.sleep(2.5)  # the last scrape
            embedded.sample(time.time())
            at = time.time() - 1.0
            v = await source.window_counts(slo, 20.0, at)
            e = await embedded.window_counts(slo, 20.0, at)
            await source.aclose()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        await embedded.aclose()
    assert set(v) == set(e) == {(("agent_name", "a"),), (("agent_name", "b"),)}
    for key in v:
        vb = burn_rate(v[key].error_ratio, slo.objective)
        eb = burn_rate(e[key].error_ratio, slo.objective)
        assert vb is not None and eb is not None
        assert abs(vb - eb) / eb <= 0.05, (key, v[key], e[key])


def test_victoriametrics_rate_is_not_prometheus_rate(tmp_path: Path) -> None:
    # Two samples 60 s apart, 0 then 10: Prometheus's rate over 5m is the (extrapolated)
    # increase over the window, 10/300; VictoriaMetrics divides by the 60 s between samples.
    at = float((int(time.time()) // 3600 - 1) * 3600)
    series = Series("calls_total", {"agent_name": "a"}, [(at - 60, 0.0), (at, 10.0)])
    with start_victoria(tmp_path) as vm:
        import_families(vm, [Family("calls", "counter", [series])])

        def ask(query: str) -> float:
            answer = httpx.get(
                f"{vm}/api/v1/query", params={"query": query, "time": at}, timeout=5
            ).json()
            return float(answer["data"]["result"][0]["value"][1])

        assert ask("increase(calls_total[5m])") == 10.0  # what sloguard counts with: exact
        assert ask("rate(calls_total[5m])") == 10.0 / 60.0  # not 10/300 as in Prometheus
