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


# --- series budget -------------------------------------------------------------------------------

# Families the guard has no default share for: only the overall budget and overrides bind.
TOOL_COST = (("hist", 13), ("calls", 4))


def test_admit_series_charges_each_family_once_per_combination() -> None:
    guard = CardinalityGuard(series_budget=100, family_series_budgets={"calls": 8})
    assert guard.admit_series(TOOL_COST, ("a", "t1"))
    assert guard.admit_series(TOOL_COST, ("a", "t1"))  # already admitted: not charged again
    assert guard.admit_series(TOOL_COST, ("a", "t2"))
    assert not guard.admit_series(TOOL_COST, ("a", "t3"))  # "calls" is full (8 of 8)
    assert (guard.series("calls"), guard.series("hist")) == (8, 26)
    assert guard.series() == 34
    # the overflow child always passes and is never charged
    assert guard.admit_series(TOOL_COST, ("_other", "_other"))
    assert guard.series() == 34
    # a combination with one folded value is an ordinary combination
    assert not guard.admit_series(TOOL_COST, ("_other", "t1"))


def test_a_refused_combination_stays_refused_while_cheaper_ones_may_fit() -> None:
    guard = CardinalityGuard(series_budget=20)
    cheap = (("gauge", 1),)
    assert guard.admit_series(TOOL_COST, ("a", "t"))  # 17 of 20
    assert not guard.admit_series(TOOL_COST, ("a", "u"))
    assert guard.admit_series(cheap, ("worker",))
    assert not guard.admit_series(TOOL_COST, ("a", "u"))
    assert guard.series() == 18


def test_concurrent_admission_never_exceeds_the_series_budget() -> None:
    guard = CardinalityGuard(series_budget=17 * 10, family_series_budgets={})
    admitted: list[tuple[str, str]] = []

    def work(k: int) -> None:
        for i in range(100):
            if guard.admit_series(TOOL_COST, (f"a{k}", f"t{i}")):
                admitted.append((f"a{k}", f"t{i}"))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert guard.series() <= 17 * 10
    assert len(admitted) == guard.series() // 17


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"series_budget": 0}, "series_budget must be >= 1, got 0"),
        (
            {"family_series_budgets": {"agent_calls_total": 0}},
            "series budget of 'agent_calls_total' must be >= 1, got 0",
        ),
    ],
)
def test_bad_series_budgets_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CardinalityGuard(**kwargs)  # type: ignore[arg-type]
