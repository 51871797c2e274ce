"""Shared fixtures: a fresh registry and telemetry per test (never the global registry)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from sloguard import AgentMetrics, CardinalityGuard, Recorder, Telemetry, use_telemetry


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
