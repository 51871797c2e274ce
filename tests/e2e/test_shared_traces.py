"""Two sidecars and one evaluator on one PostgreSQL database (``storage.url``): a burning SLO's
notification links traces that only a sidecar received, and the evaluator serves them.

Everything is real: PostgreSQL (``tests/support/pgserver.py``), two ``sloguard run --mode
exporter`` sidecars ingesting A2A traces, a Prometheus scraping both, a ``sloguard run --mode
evaluator`` (no ingest at all) reading the SLI from that Prometheus and routing to a webhook
receiver. Sidecar A gets failing ``billing`` traces, sidecar B healthy ``search`` traces.
"""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from tests.support.fleet import SLOS, billing_firing, trace, two_targets, wait
from tests.support.pgserver import start_postgres
from tests.support.processes import Spawn, _wait_healthy, free_port
from tests.support.promserver import start_prometheus
from tests.support.webhookreceiver import WebhookReceiver

TOKEN = "shared-traces-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_an_evaluators_alert_links_traces_only_a_sidecar_received(
    spawn: Spawn, tmp_path: Path
) -> None:
    a, b, evaluator_port = free_port(), free_port(), free_port()
    with (
        start_postgres(tmp_path) as database,
        WebhookReceiver() as hook,
        start_prometheus(tmp_path, config_yaml=two_targets(a, b)) as prom,
    ):
        shared = {"SLOGUARD_STORAGE__URL": database, "SLOGUARD_INGEST__TOKEN": TOKEN}
        sidecars = []
        for n, port in enumerate((a, b)):
            proc = spawn(
                "run", "--mode", "exporter", "--port", str(port),
                "--data-dir", str(tmp_path / f"sidecar-{n}"), env=shared,
            )  # fmt: skip
            sidecars.append(f"http://127.0.0.1:{port}")
            _wait_healthy(proc, sidecars[-1], tmp_path)
        (tmp_path / "slos.yaml").write_text(SLOS, encoding="utf-8")
        (tmp_path / "routing.yaml").write_text(
            f"receivers:\n  - name: hook\n    webhook: {{url: '{hook.url}'}}\n"
            "route:\n  receiver: hook\n",
            encoding="utf-8",
        )
        evaluator = f"http://127.0.0.1:{evaluator_port}"
        proc = spawn(
            "run", "--mode", "evaluator", "--port", str(evaluator_port),
            "--data-dir", str(tmp_path / "evaluator"),
            env={
                "SLOGUARD_STORAGE__URL": database,
                "SLOGUARD_SLO_FILES": f'["{tmp_path / "slos.yaml"}"]',
                "SLOGUARD_ROUTING_FILE": str(tmp_path / "routing.yaml"),
                "SLOGUARD_EXTERNAL_URL": evaluator,
                "SLOGUARD_EVALUATION_INTERVAL": "1",
                "SLOGUARD_PROMETHEUS__URL": prom,
                "SLOGUARD_PROMETHEUS__SCRAPE_INTERVAL": "1",
            },
        )  # fmt: skip
        _wait_healthy(proc, evaluator, tmp_path)

        stop = threading.Event()
        sent: list[str] = []

        def traffic() -> None:  # sidecar A: billing fails; sidecar B: search succeeds
            i = 0
            with httpx.Client(timeout=10, headers=AUTH) as client:
                while not stop.is_set():
                    tid = f"only-sidecar-a-{i}"
                    r = client.post(
                        f"{sidecars[0]}/v1/a2a/traces", json=trace(tid, "billing", failed=True)
                    )
                    if r.status_code == 200:
                        sent.append(tid)
                    client.post(
                        f"{sidecars[1]}/v1/a2a/traces",
                        json=trace(f"sidecar-b-{i}", "search", failed=False),
                    )
                    i += 1
                    stop.wait(0.2)

        worker = threading.Thread(target=traffic, daemon=True)
        worker.start()
        try:
            wait("the billing alert", lambda: bool(billing_firing(hook)), tmp_path, 3)
        finally:
            stop.set()
            worker.join(timeout=15)

        body = billing_firing(hook)[0]
        ids = body["sloguard"]["trace_ids"]
        assert ids, body["sloguard"]
        assert all(t in sent for t in ids), (ids, sent[-5:])
        assert body["sloguard"]["trace_urls"] == [f"{evaluator}/ui/#/traces/{t}" for t in ids]
        # the evaluator never ingests (no route), yet serves the sidecar's trace from the database
        probe = trace("x", "billing", failed=True)
        assert httpx.post(f"{evaluator}/v1/a2a/traces", json=probe, headers=AUTH).status_code == 404
        got = httpx.get(f"{evaluator}/api/v1/traces/{ids[0]}", timeout=5)
        assert got.status_code == 200, got.text
        assert ids[0] in got.text and "billing" in got.text
        failing = httpx.get(f"{evaluator}/api/v1/traces", params={"status": "error"}, timeout=5)
        assert failing.status_code == 200
        assert all(t["trace_id"].startswith("only-sidecar-a-") for t in failing.json()["traces"])
        assert proc.poll() is None
