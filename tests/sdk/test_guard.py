from __future__ import annotations

import threading

import pytest
from prometheus_client import CollectorRegistry

from sloguard import AgentMetrics, CardinalityGuard, Recorder


def test_limit_folds_overflow_into_other_and_counts_it(registry: CollectorRegistry) -> None:
    guard = CardinalityGuard(limits={"agent_name": 3})
    rec = Recorder(AgentMetrics(registry=registry), guard)
    for i in range(10):
        rec.agent_call(f"agent-{i}", "success", 0.1)
    rec.agent_call("agent-0", "success", 0.1)  # admitted values stay admitted
    get = registry.get_sample_value
    assert get("agent_calls_total", {"agent_name": "agent-0", "status": "success"}) == 2
    assert get("agent_calls_total", {"agent_name": "agent-2", "status": "success"}) == 1
    assert get("agent_calls_total", {"agent_name": "agent-3", "status": "success"}) is None
    assert get("agent_calls_total", {"agent_name": "_other", "status": "success"}) == 7
    assert get("sloguard_label_overflow_total", {"label": "agent_name"}) == 7
    assert guard.distinct("agent_name") == 3


def test_allowlist_admits_only_listed_values(registry: CollectorRegistry) -> None:
    guard = CardinalityGuard(allowlists={"model": {"gpt-4o", "claude"}})
    rec = Recorder(AgentMetrics(registry=registry), guard)
    rec.usage("a", "gpt-4o", input_tokens=1)
    rec.usage("a", "llama-local", input_tokens=5)
    get = registry.get_sample_value
    labels = {"agent_name": "a", "direction": "input"}
    assert get("agent_token_usage_total", {**labels, "model": "gpt-4o"}) == 1
    assert get("agent_token_usage_total", {**labels, "model": "_other"}) == 5
    assert get("sloguard_label_overflow_total", {"label": "model"}) == 1


def test_many_distinct_names_stay_bounded(registry: CollectorRegistry) -> None:
    rec = Recorder(AgentMetrics(registry=registry), CardinalityGuard(default_limit=50))
    for i in range(20_000):
        rec.tool_call("planner", f"tool-{i}", "success", 0.01)
    series = {
        s.labels["tool_name"]
        for m in registry.collect()
        if m.name == "agent_tool_calls"
        for s in m.samples
    }
    assert len(series) == 51  # 50 admitted + _other
    assert registry.get_sample_value("sloguard_label_overflow_total", {"label": "tool_name"}) == (
        20_000 - 50
    )


def test_empty_and_long_values_are_normalised() -> None:
    guard = CardinalityGuard()
    assert guard.admit("agent_name", "") == "unknown"
    assert guard.admit("agent_name", "x" * 1000) == "x" * 128


def test_concurrent_admission_never_exceeds_the_limit() -> None:
    guard = CardinalityGuard(limits={"agent_name": 10})
    out: list[str] = []

    def work(k: int) -> None:
        out.extend(guard.admit("agent_name", f"a{k}-{i}") for i in range(200))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert guard.distinct("agent_name") == 10
    assert len({v for v in out if v != "_other"}) == 10


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"default_limit": 0}, "default_limit must be >= 1, got 0"),
        ({"limits": {"agent_name": -1}}, "limit for label 'agent_name' must be >= 1, got -1"),
    ],
)
def test_bad_guard_settings_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CardinalityGuard(**kwargs)  # type: ignore[arg-type]
