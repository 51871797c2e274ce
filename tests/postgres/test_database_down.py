"""The PostgreSQL trace store when its database goes away: writes and reads are
StorageFailures (writes counted and reported to readiness), an alert's evidence is empty instead
of holding its notification back, and ``check`` tells when writing works again."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from sloguard.alerting.runtime import failing_evidence
from sloguard.tracestore.pgstore import open_pg_trace_store
from sloguard.tracestore.storehealth import StorageFailure
from tests.support.pgserver import start_postgres
from tests.support.traces import routed

pytestmark = pytest.mark.e2e

NOW = 1_750_000_000.0


def test_a_database_down_is_a_storage_failure(tmp_path: Path) -> None:
    failures: list[tuple[str, str]] = []
    with start_postgres(tmp_path) as url:
        store = open_pg_trace_store(
            url, timeout=2, on_failure=lambda store, op: failures.append((store, op))
        )
        store.put(routed("r", fails=True), NOW)
        scope = SimpleNamespace(
            labels={"agent_name": "billing-agent"}, slo=SimpleNamespace(selector={})
        )
        assert failing_evidence(store, scope) == ["r"]  # type: ignore[arg-type]
        assert store.check(NOW) is True
    try:  # the server is gone
        with pytest.raises(StorageFailure, match="trace store: cannot write"):
            store.put(routed("s"), NOW + 1)
        assert failures == [("traces", "write")]
        reason = store.health.degraded()
        assert reason is not None and "write" in reason
        with pytest.raises(StorageFailure, match="trace store: cannot read"):
            store.list()
        assert failing_evidence(store, scope) == []  # type: ignore[arg-type]
        assert store.check(NOW + 2) is False
        with pytest.raises(StorageFailure, match="trace store: cannot prune"):
            store.prune(NOW + 3)
    finally:
        store.close()
