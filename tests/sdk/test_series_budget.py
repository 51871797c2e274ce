"""The series budget: label combinations beyond a family's (or the overall) budget go to _other."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from sloguard import AgentMetrics, CardinalityGuard, Recorder
from sloguard import conventions as c
from sloguard.sdk.guard import DEFAULT_FAMILY_SHARES, DEFAULT_SERIES_BUDGET

#: One agent × tool pair: a 9-bucket histogram (12 series: no _created) and 2 counters (2).
TOOL = 12 + 2
HIST = 12


def series_lines(registry: CollectorRegistry, prefix: str = "") -> list[str]:
    """Sample lines of the exposition (what a scrape ingests), optionally of one name prefix."""
    text = generate_latest(registry).decode()
    return [
        ln for ln in text.splitlines() if ln and not ln.startswith("#") and ln.startswith(prefix)
    ]


def tool_names(registry: CollectorRegistry) -> set[tuple[str, str]]:
    return {
        (s.labels["agent_name"], s.labels["tool_name"])
        for m in registry.collect()
        if m.name == "agent_tool_calls"
        for s in m.samples
    }


def overflow(registry: CollectorRegistry, family: str) -> float | None:
    return registry.get_sample_value("sloguard_series_overflow_total", {"metric": family})


def test_a_family_budget_folds_new_combinations_into_other_and_counts_them(
    registry: CollectorRegistry,
) -> None:
    guard = CardinalityGuard(family_series_budgets={c.TOOL_DURATION: 3 * HIST})
    rec = Recorder(AgentMetrics(registry=registry), guard)
    for t in range(10):
        rec.tool_call("planner", f"tool-{t}", "success", 0.2)
    assert tool_names(registry) == {
        ("planner", "tool-0"),
        ("planner", "tool-1"),
        ("planner", "tool-2"),
        ("_other", "_other"),
    }
    assert guard.series(c.TOOL_DURATION) == 3 * HIST
    assert guard.series(c.TOOL_CALLS) == 3 * 2
    # every folded observation is counted, once per family it was recorded in
    assert overflow(registry, c.TOOL_DURATION) == 7
    assert overflow(registry, c.TOOL_CALLS) == 7
    # other families keep their own budget
    rec.agent_call("planner", "success", 1.0)
    assert registry.get_sample_value(c.AGENT_CALLS, {"agent_name": "planner", "status": "success"})


def test_the_overall_budget_caps_the_sum_of_families(registry: CollectorRegistry) -> None:
    roomy = {f: 10_000 for f in c.AGENT_FAMILIES}
    guard = CardinalityGuard(series_budget=5 * TOOL + 4, family_series_budgets=roomy)
    rec = Recorder(AgentMetrics(registry=registry), guard)
    for t in range(5):
        rec.tool_call("planner", f"tool-{t}", "success", 0.2)
    rec.usage("planner", "gpt-4o", input_tokens=1)  # 4 series: fits exactly
    rec.usage("planner", "claude", input_tokens=2)  # does not
    rec.tool_call("planner", "tool-5", "error", 0.2)  # does not
    assert guard.series() == guard.series_budget() == 5 * TOOL + 4
    assert overflow(registry, c.AGENT_TOKENS) == 1
    assert overflow(registry, c.TOOL_CALLS) == 1
    other = {"agent_name": "_other", "model": "_other", "direction": "input"}
    assert registry.get_sample_value(c.AGENT_TOKENS, other) == 2


def test_admitted_combinations_stay_and_new_ones_never_evict_them(
    registry: CollectorRegistry,
) -> None:
    # The rule: first come, first admitted. A busy newcomer does not push out an idle series
    # (evicting a counter would lose or double-count its total in rate() and sum()).
    guard = CardinalityGuard(family_series_budgets={c.TOOL_DURATION: 2 * HIST})
    rec = Recorder(AgentMetrics(registry=registry), guard)
    rec.tool_call("a", "early", "success", 0.1)
    rec.tool_call("a", "idle", "success", 0.1)
    for _ in range(100):
        rec.tool_call("a", "busy", "success", 0.1)
    rec.tool_call("a", "early", "success", 0.1)
    get = registry.get_sample_value
    ok = {"status": "success"}
    assert get(c.TOOL_CALLS, {"agent_name": "a", "tool_name": "early", **ok}) == 2
    assert get(c.TOOL_CALLS, {"agent_name": "a", "tool_name": "idle", **ok}) == 1
    assert get(c.TOOL_CALLS, {"agent_name": "a", "tool_name": "busy", **ok}) is None
    assert get(c.TOOL_CALLS, {"agent_name": "_other", "tool_name": "_other", **ok}) == 100


def test_a_full_budget_still_records_totals_into_the_overflow_child(
    registry: CollectorRegistry,
) -> None:
    rec = Recorder(AgentMetrics(registry=registry), CardinalityGuard(series_budget=40))
    calls = [(f"agent-{i % 7}", f"tool-{i}", "error" if i % 3 else "success") for i in range(60)]
    for agent, tool, status in calls:
        rec.tool_call(agent, tool, status, 0.5)
        rec.usage(agent, f"model-{tool}", input_tokens=10, output_tokens=3, cost=0.25)
        rec.agent_call(agent, status, 2.0)
        rec.handoff(agent, tool)
        rec.decision(agent, tool, 0.5)
        rec.anomaly(agent, tool)
        rec.routing_outcome(agent, status == "success")
    samples = [s for m in registry.collect() for s in m.samples]

    def total(name: str, **labels: str) -> float:
        return sum(
            s.value
            for s in samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )

    assert total("agent_tool_calls_total") == 60
    assert total("agent_tool_calls_total", status="success") == 20
    assert total("agent_tool_call_seconds_sum") == pytest.approx(30.0)
    assert total("agent_calls_total") == 60
    assert total("agent_latency_seconds_count") == 60
    assert total("agent_token_usage_total", direction="input") == 600
    assert total("agent_token_usage_total", direction="output") == 180
    assert total("agent_cost_usd_total") == pytest.approx(15.0)
    assert total("agent_handoffs_total") == 60
    assert total("agent_decisions_total") == 60
    assert total("agent_decision_confidence_count") == 60
    assert total("agent_anomalies_total") == 60
    assert total("agent_routing_outcomes_total") == 60
    assert total("sloguard_series_overflow_total") > 0
    # each folded family has exactly one overflow child, all client labels _other
    assert ("_other", "_other") in tool_names(registry)


def test_active_agents_fold_consistently_so_started_and_finished_pair_up(
    registry: CollectorRegistry,
) -> None:
    guard = CardinalityGuard(family_series_budgets={c.ACTIVE_AGENTS: 2})
    rec = Recorder(AgentMetrics(registry=registry), guard)
    for kind in ("a", "b", "c", "d"):
        rec.agent_started(kind)
    for kind in ("a", "b", "c", "d"):
        rec.agent_finished(kind)
    rec.agent_started("d")
    get = registry.get_sample_value
    assert get(c.ACTIVE_AGENTS, {"agent_name": "a"}) == 0
    assert get(c.ACTIVE_AGENTS, {"agent_name": "c"}) is None
    assert get(c.ACTIVE_AGENTS, {"agent_name": "_other"}) == 1
    assert overflow(registry, c.ACTIVE_AGENTS) == 5


def test_the_adversarial_label_load_stays_under_the_budget(registry: CollectorRegistry) -> None:
    # Defect 1 of the hardening issue at a fifth of its scale: agents × tools and agents × models.
    budget = 2_000
    guard = CardinalityGuard(limits={"agent_name": 40, "tool_name": 60}, series_budget=budget)
    rec = Recorder(AgentMetrics(registry=registry), guard)
    for a in range(40):
        for t in range(60):
            rec.tool_call(f"agent-{a}", f"tool-{t}", "success", 0.1)
        for m in range(100):
            rec.usage(f"agent-{a}", f"model-{m}", input_tokens=5, output_tokens=5, cost=0.001)
    lines = series_lines(registry, "agent_")
    # the budget, plus one overflow child per family fed (tools: 14 series, models: 4)
    assert guard.series() <= budget
    assert len(lines) <= budget + TOOL + 4
    calls = sum(float(ln.rsplit(" ", 1)[1]) for ln in lines if ln.startswith(c.TOOL_CALLS))
    assert calls == 40 * 60
    overflowed = overflow(registry, c.TOOL_CALLS)
    assert overflowed is not None and overflowed > 40 * 60 / 2


def test_default_budget_keeps_metrics_small_without_starving_agents(
    registry: CollectorRegistry,
) -> None:
    # A flood of tool and model combinations first, then the per-agent series: every agent the
    # per-label limit admits (200, as in config/sloguard.yaml) still gets its own agent_calls.
    guard = CardinalityGuard(limits={"agent_name": 200, "tool_name": 300})
    rec = Recorder(AgentMetrics(registry=registry), guard)
    for a in range(200):
        for t in range(25):
            rec.tool_call(f"agent-{a}", f"tool-{t}", "success", 0.1)
            rec.usage(f"agent-{a}", f"model-{t}", input_tokens=1, output_tokens=1)
    for a in range(200):
        rec.agent_call(f"agent-{a}", "success", 1.0)
    assert overflow(registry, c.AGENT_CALLS) is None
    assert len(series_lines(registry)) < 10_000
    assert guard.series() <= DEFAULT_SERIES_BUDGET


def test_default_shares_cover_every_family_and_add_up_to_the_whole() -> None:
    assert set(DEFAULT_FAMILY_SHARES) == c.AGENT_FAMILIES
    assert sum(DEFAULT_FAMILY_SHARES.values()) == 1000
    guard = CardinalityGuard()
    assert sum(guard.series_budget(f) for f in c.AGENT_FAMILIES) <= guard.series_budget()
    assert guard.series_budget(c.AGENT_LATENCY) // 15 == 200  # 200 agents' latency histograms


def test_settings_reach_the_guard_and_unknown_families_are_refused() -> None:
    from pydantic import ValidationError

    from sloguard.settings.sections import MetricsSettings

    assert MetricsSettings().series_budget == DEFAULT_SERIES_BUDGET
    s = MetricsSettings(series_budget=500, family_series_budgets={c.TOOL_CALLS: 40})
    guard = CardinalityGuard(
        series_budget=s.series_budget, family_series_budgets=s.family_series_budgets
    )
    assert (guard.series_budget(), guard.series_budget(c.TOOL_CALLS)) == (500, 40)
    with pytest.raises(ValidationError, match="did you mean 'agent_tool_calls_total'"):
        MetricsSettings(family_series_budgets={"agent_tool_calls": 1})
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        MetricsSettings(series_budget=0)
