"""Two ``sloguard run --mode all`` replicas without Prometheus on one PostgreSQL database
(``storage.url``): each samples its own counters into the shared embedded samples, and each
one's ``/api/v1/slos`` counts the events both ingested.

Everything is real: PostgreSQL (``tests/support/pgserver.py``), two daemons ingesting A2A traces
(replica A gets failing ``billing`` traces, replica B healthy ones), the SLO evaluated every
second from the samples.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.support.fleet import SLOS, trace
from tests.support.pgserver import start_postgres
from tests.support.processes import Spawn, _stderr, _wait_healthy, free_port

DEADLINE = 90.0


def billing(base: str) -> dict[str, Any] | None:
    got = httpx.get(f"{base}/api/v1/slos", timeout=10).json()["slos"]
    return next((s for s in got if s["instance"] == {"agent_name": "billing"}), None)


def test_every_replica_counts_the_events_every_replica_ingested(
    spawn: Spawn, tmp_path: Path
) -> None:
    ports = free_port(), free_port()
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    (tmp_path / "slos.yaml").write_text(SLOS, encoding="utf-8")
    with start_postgres(tmp_path) as database:
        for n, port in enumerate(ports):
            proc = spawn(
                "run", "--mode", "all", "--port", str(port),
                "--data-dir", str(tmp_path / f"replica-{n}"),
                env={
                    "SLOGUARD_STORAGE__URL": database,
                    "SLOGUARD_SLO_FILES": f'["{tmp_path / "slos.yaml"}"]',
                    "SLOGUARD_EVALUATION_INTERVAL": "1",
                },
            )  # fmt: skip
            _wait_healthy(proc, bases[n], tmp_path)
        with httpx.Client(timeout=10) as client:
            for i in range(6):
                failing = trace(f"a-{i}", "billing", failed=True)
                r = client.post(f"{bases[0]}/v1/a2a/traces", json=failing)
                assert r.status_code == 200, r.text
            for i in range(14):
                working = trace(f"b-{i}", "billing", failed=False)
                r = client.post(f"{bases[1]}/v1/a2a/traces", json=working)
                assert r.status_code == 200, r.text
        deadline = time.monotonic() + DEADLINE
        seen: list[Any] = []
        while time.monotonic() < deadline:
            seen = [billing(base) for base in bases]
            if all(s is not None and s["events"] == 20 for s in seen):
                break
            time.sleep(0.5)
        else:
            logs = "\n".join(_stderr(tmp_path, i)[-2000:] for i in range(2))
            pytest.fail(f"the replicas never counted 20 events: {seen}\n{logs}")
        for s in seen:
            assert s is not None and s["sli"] == pytest.approx(14 / 20)
        with psycopg.connect(database, autocommit=True) as conn:
            processes = conn.execute(
                b"SELECT DISTINCT process FROM sample_series ORDER BY process"
            ).fetchall()
        assert [p.rsplit(":", 1)[1] for (p,) in processes] == sorted(str(p) for p in ports)
        assert not any((tmp_path / f"replica-{n}" / "samples.sqlite").exists() for n in (0, 1))
