"""Live: a real Prometheus scrapes real sloguard processes; SLOs are evaluated through it.

- the demo daemon, its evaluator pointed at a Prometheus that scrapes it, fires the critical tier
  when the SDK-driven incident starts;
- the embedded source and the Prometheus source agree on the same live workload;
- with Prometheus down, SLOs are in state ``error``, the failures are counted, the daemon lives.
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
from tests.support.processes import Spawn, _stderr, _wait_healthy, free_port, wait_for_billing
from tests.support.promserver import scrape_config, start_prometheus
from tests.support.slos import make_slo

DEADLINE = 120.0


def test_demo_evaluated_through_prometheus_fires_critical(spawn: Spawn, tmp_path: Path) -> None:
    port = free_port()
    with start_prometheus(tmp_path, config_yaml=scrape_config(f"127.0.0.1:{port}")) as prom:
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
            env={"SLOGUARD_PROMETHEUS__URL": prom, "SLOGUARD_PROMETHEUS__SCRAPE_INTERVAL": "1"},
        )
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(proc, base, tmp_path)
        billing, _items = wait_for_billing(
            base, lambda b: b.get("severity") == "critical", tmp_path
        )
        tiers = billing["tiers"]
        assert isinstance(tiers, list)
        assert any(t["firing"] and t["severity"] == "critical" for t in tiers)
        # the source really was Prometheus: it has the demo's series
        up = httpx.get(f"{prom}/api/v1/query", params={"query": "agent_calls_total"}, timeout=5)
        assert up.json()["data"]["result"], "Prometheus scraped nothing"
        # the incident's slower, dearer customer requests burn the end-to-end SLOs too
        wanted = {"demo-workflow-latency", "demo-workflow-cost"}
        end = time.monotonic() + DEADLINE
        states: dict[str, object] = {}
        while time.monotonic() < end and any(states.get(n) != "burning" for n in wanted):
            slos = httpx.get(f"{base}/api/v1/slos", timeout=5).json()["slos"]
            states = {i["slo"]: i["state"] for i in slos if i["slo"] in wanted}
            time.sleep(0.5)
        assert states == dict.fromkeys(wanted, "burning"), states
        assert proc.poll() is None


async def test_embedded_and_prometheus_sources_agree(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    recorder = Recorder(AgentMetrics(registry=registry))
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    slo = make_slo(group_by=("agent_name",))
    embedded = EmbeddedSource(registry, [slo], interval=1)
    rng = random.Random(3)
    try:
        with start_prometheus(tmp_path, config_yaml=scrape_config(f"127.0.0.1:{port}")) as prom:
            prometheus = PrometheusSource(prom, timeout=5)
            # 25 s of traffic at ~200 calls/s: "a" fails ~5 %, "b" ~20 % of the time
            start = time.time()
            while time.time() - start < 25:
                for _ in range(20):
                    agent = rng.choice("ab")
                    failed = rng.random() < (0.05 if agent == "a" else 0.2)
                    recorder.agent_call(agent, "error" if failed else "success", 0.1)
                embedded.sample(time.time())
                await asyncio.sleep(0.1)
            await asyncio.sleep(2.5)  # let Prometheus scrape the last increments
            embedded.sample(time.time())
            at = time.time() - 1.0
            window = 20.0
            p = await prometheus.window_counts(slo, window, at)
            e = await embedded.window_counts(slo, window, at)
            await prometheus.aclose()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        await embedded.aclose()
    assert set(p) == set(e) == {(("agent_name", "a"),), (("agent_name", "b"),)}
    for key in p:
        pb = burn_rate(p[key].error_ratio, slo.objective)
        eb = burn_rate(e[key].error_ratio, slo.objective)
        assert pb is not None and eb is not None
        assert abs(pb - eb) / eb <= 0.05, (key, p[key], e[key])


def test_prometheus_down_means_error_state_counted_and_alive(spawn: Spawn, tmp_path: Path) -> None:
    port, dead = free_port(), free_port()
    slos = tmp_path / "slos.yaml"
    slos.write_text(
        "slos:\n  - name: availability\n    objective: 99.9\n    period: 30d\n"
        "    sli: {kind: success_rate}\n    group_by: [agent_name]\n",
        encoding="utf-8",
    )
    config = tmp_path / "sloguard.yaml"
    config.write_text(
        f"slo_files: [{slos}]\nevaluation_interval: 1\n"
        f"prometheus:\n  url: http://127.0.0.1:{dead}\n  timeout: 1\n",
        encoding="utf-8",
    )
    proc = spawn(
        "run", "--config", str(config), "--port", str(port), "--data-dir", str(tmp_path / "state")
    )
    base = f"http://127.0.0.1:{port}"
    _wait_healthy(proc, base, tmp_path)
    deadline = time.monotonic() + 30
    errors = 0.0
    while time.monotonic() < deadline:
        text = httpx.get(f"{base}/metrics", timeout=5).text
        line = next(
            (
                ln
                for ln in text.splitlines()
                if ln.startswith('sloguard_slo_evaluation_errors_total{slo="availability"}')
            ),
            None,
        )
        errors = float(line.split()[-1]) if line else 0.0
        if errors >= 3:
            break
        time.sleep(0.3)
    assert errors >= 3, _stderr(tmp_path)
    items = httpx.get(f"{base}/api/v1/slos", timeout=5).json()["slos"]
    assert [i["state"] for i in items] == ["error"]
    assert f"127.0.0.1:{dead}" in items[0]["error"]
    assert 'sloguard_slo_state{slo="availability",state="error"} 1.0' in text
    assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
    assert proc.poll() is None
