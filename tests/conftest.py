"""Shared fixtures: a fresh registry and telemetry per test (never the global registry).

Marks every test that starts a process or a server ``e2e``; ``pytest -m "not e2e"`` is the fast
loop. A test is ``e2e`` when it is under ``tests/e2e/`` or ``tests/fuzz/`` (generated sweeps
through the whole HTTP stack: slow, not a server), uses a fixture of
:data:`STARTING_FIXTURES` (directly or through another fixture), names one of :data:`STARTERS`
in its own body, or says ``@pytest.mark.e2e`` itself (a helper of its module starts something).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from types import CodeType

import pytest
from prometheus_client import CollectorRegistry

from sloguard import AgentMetrics, CardinalityGuard, Recorder, Telemetry, use_telemetry
from tests.support import processes

E2E_DIR = Path(__file__).parent / "e2e"
#: Generated inputs swept through the whole HTTP stack (~20 s): the full run's, not the fast loop's.
FUZZ_DIR = Path(__file__).parent / "fuzz"

#: Fixtures that start a process or a server.
STARTING_FIXTURES = frozenset(
    {
        "spawn",  # sloguard processes (tests/support/processes.py)
        "sidecar",  # a sloguard sidecar: a process, or the app behind a real uvicorn
        "served",  # the ingest behind a real uvicorn
        "receiver",  # loopback HTTP servers that receive OTLP or exported traces
        "receivers",
        "prometheus",  # a real Prometheus (tests/support/promserver.py)
        "alertmanager",  # a real Alertmanager (tests/support/amserver.py)
        "slack",  # the fake Slack (tests/support/fakeslack.py)
        "hook",  # the webhook receiver (tests/support/webhookreceiver.py)
        "pki",  # openssl
        "browser",  # chromium through Playwright
        "daemon",  # the web page's sloguard processes (an evaluating one, an exporter)
        "exporter",
        "stack",  # Prometheus scraping sloguard processes (Grafana dashboards)
        "helm",  # helm and the chart's CI script
        "mermaid_parse",  # node with the real mermaid parser
    }
)

#: Names that start a process or a server when a test's own body uses them.
STARTERS = frozenset(
    {
        "subprocess",
        "spawning",
        "uvicorn",
        "start_http_server",
        "ThreadingHTTPServer",
        "sync_playwright",
        "FakeSlack",
        "WebhookReceiver",
        "StubPrometheus",
        "start_prometheus",
        "start_alertmanager",
        "run_server",
        "backfill_openmetrics",  # promtool
        "receiving",  # the OTLP receiver (tests/support/otlp.py)
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _starts_something(item):
            item.add_marker(pytest.mark.e2e)


def _starts_something(item: pytest.Item) -> bool:
    if item.get_closest_marker("e2e") is not None or item.path.is_relative_to(E2E_DIR):
        return True
    if item.path.is_relative_to(FUZZ_DIR):
        return True
    if not STARTING_FIXTURES.isdisjoint(getattr(item, "fixturenames", ())):
        return True
    function = getattr(item, "function", None)
    if function is None:
        return False
    function = getattr(getattr(function, "hypothesis", None), "inner_test", function)  # @given
    return not STARTERS.isdisjoint(_names(inspect.unwrap(function).__code__))


def _names(code: CodeType) -> set[str]:
    """Global and attribute names a function's code uses, nested functions included."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _names(const)
    return names


@pytest.fixture
def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    return processes.free_port()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[processes.Spawn]:
    """Start ``sloguard ARGS`` in the background; every process is gone after the test."""
    yield from processes.spawning(tmp_path)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def recorder(registry: CollectorRegistry) -> Recorder:
    return Recorder(AgentMetrics(registry=registry), CardinalityGuard())


@pytest.fixture
def telemetry(recorder: Recorder) -> Iterator[Telemetry]:
    t = Telemetry(recorder)
    with use_telemetry(t):
        yield t
