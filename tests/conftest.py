"""Shared fixtures: a fresh registry and telemetry per test (never the global registry)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from sloguard import AgentMetrics, CardinalityGuard, Recorder, Telemetry, use_telemetry
from tests.support import processes


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
