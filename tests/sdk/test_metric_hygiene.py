"""Metric hygiene: no ``_created`` series unless asked, no token series that stay 0,
``active_agents`` by ``agent_name``, and the optional OpenTelemetry GenAI client families."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client import metrics as client_metrics

from sloguard import AgentMetrics, CardinalityGuard, Recorder
from sloguard import conventions as c
from sloguard.assembly import recording
from sloguard.sdk.metrics import Buckets, series_per_combination
from sloguard.settings.model import Settings
from sloguard.settings.sections import MetricsSettings


@pytest.fixture
def created_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """prometheus_client's process-wide switch on (a daemon in this process may have cleared it)."""
    monkeypatch.setattr(client_metrics, "_use_created", True)


def names(registry: CollectorRegistry) -> set[str]:
    return {s.name for m in registry.collect() for s in m.samples}


def exposition(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


def test_no_created_series_by_default_and_the_users_own_metrics_keep_theirs(
    created_on: None,
) -> None:
    registry = CollectorRegistry()
    mine = Counter("my_app_requests", "the embedding application's own counter", registry=registry)
    mine.inc()
    rec = Recorder(AgentMetrics(registry=registry))
    rec.agent_call("planner", "success", 1.0, model="m", input_tokens=1, output_tokens=2)
    rec.tool_call("planner", "search", "error", 0.1)
    created = {n for n in names(registry) if n.endswith("_created")}
    assert created == {"my_app_requests_created"}
    assert "agent_calls_created" not in exposition(registry)


def test_created_series_when_asked(created_on: None) -> None:
    registry = CollectorRegistry()
    rec = Recorder(AgentMetrics(registry=registry, created_series=True))
    rec.agent_call("planner", "success", 1.0)
    assert {"agent_calls_created", "agent_latency_seconds_created"} <= names(registry)
    per = series_per_combination(Buckets(), created=True)
    assert per[c.AGENT_CALLS] == 4  # success and error, _total and _created each
    assert per[c.AGENT_LATENCY] == len(c.AGENT_LATENCY_BUCKETS) + 4


def test_the_series_budget_charges_what_the_exposition_shows() -> None:
    registry = CollectorRegistry()
    guard = CardinalityGuard()
    rec = Recorder(AgentMetrics(registry=registry), guard)
    rec.tool_call("planner", "search", "success", 0.1)
    lines = [ln for ln in exposition(registry).splitlines() if ln.startswith("agent_tool_call")]
    assert guard.series(c.TOOL_DURATION) + guard.series(c.TOOL_CALLS) == len(lines) == 14


def test_a_split_records_no_total_direction_and_a_total_only_call_no_split() -> None:
    registry = CollectorRegistry()
    rec = Recorder(AgentMetrics(registry=registry))
    rec.agent_call("a", "success", 1.0, model="m", input_tokens=10, output_tokens=5)
    rec.usage("b", "m", total_tokens=42)
    directions = {
        (s.labels["agent_name"], s.labels["direction"])
        for m in registry.collect()
        if m.name == "agent_token_usage"
        for s in m.samples
    }
    assert directions == {("a", "input"), ("a", "output"), ("b", "total")}
    assert 'direction="total"} 0.0' not in exposition(registry)


def test_active_agents_is_labelled_by_agent_name() -> None:
    registry = CollectorRegistry()
    rec = Recorder(AgentMetrics(registry=registry))
    rec.agent_started("planner")
    assert registry.get_sample_value(c.ACTIVE_AGENTS, {c.L_AGENT: "planner"}) == 1
    [family] = [m for m in registry.collect() if m.name == c.ACTIVE_AGENTS]
    assert {tuple(s.labels) for s in family.samples} == {(c.L_AGENT,)}


def test_gen_ai_families_follow_the_otel_names_labels_and_buckets() -> None:
    registry = CollectorRegistry()
    rec = Recorder(AgentMetrics(registry=registry, gen_ai=True))
    rec.agent_call("planner", "success", 0.3, model="gpt-4o", input_tokens=100, output_tokens=20)
    rec.agent_call("planner", "error", 50.0)
    get = registry.get_sample_value
    op = {c.L_GEN_AI_OPERATION: "invoke_agent", c.L_GEN_AI_AGENT: "planner"}
    tokens = {**op, c.L_GEN_AI_MODEL: "gpt-4o"}
    assert get("gen_ai_client_token_usage_sum", {**tokens, "gen_ai_token_type": "input"}) == 100
    assert get("gen_ai_client_token_usage_sum", {**tokens, "gen_ai_token_type": "output"}) == 20
    assert (
        get(
            "gen_ai_client_token_usage_bucket",
            {**tokens, "gen_ai_token_type": "output", "le": "16.0"},
        )
        == 0
    )
    assert (
        get(
            "gen_ai_client_token_usage_bucket",
            {**tokens, "gen_ai_token_type": "output", "le": "64.0"},
        )
        == 1
    )
    ok = {**op, c.L_ERROR_TYPE: ""}
    failed = {**op, c.L_ERROR_TYPE: "_OTHER"}
    assert get("gen_ai_client_operation_duration_seconds_count", ok) == 1
    assert get("gen_ai_client_operation_duration_seconds_count", failed) == 1
    assert get("gen_ai_client_operation_duration_seconds_bucket", {**failed, "le": "81.92"}) == 1
    assert get("gen_ai_client_operation_duration_seconds_bucket", {**failed, "le": "40.96"}) == 0
    # beside, not instead of, the agent_* families
    assert get("agent_calls_total", {"agent_name": "planner", "status": "error"}) == 1


def test_without_gen_ai_there_are_no_gen_ai_families() -> None:
    registry = CollectorRegistry()
    Recorder(AgentMetrics(registry=registry)).agent_call("a", "success", 1.0, input_tokens=1)
    assert not [n for n in names(registry) if n.startswith("gen_ai_")]
    assert "gen_ai_" not in exposition(registry)


def test_gen_ai_families_fold_into_other_beyond_their_series_budget() -> None:
    registry = CollectorRegistry()
    per = series_per_combination(Buckets())[c.GEN_AI_OPERATION_DURATION]
    guard = CardinalityGuard(family_series_budgets={c.GEN_AI_OPERATION_DURATION: 2 * per})
    rec = Recorder(AgentMetrics(registry=registry, gen_ai=True), guard)
    for agent in ("a", "b", "c", "d"):
        rec.agent_call(agent, "success", 1.0)
    agents = {
        s.labels[c.L_GEN_AI_AGENT]
        for m in registry.collect()
        if m.name == c.GEN_AI_OPERATION_DURATION
        for s in m.samples
    }
    assert agents == {"a", "b", "_other"}
    overflow = {"metric": c.GEN_AI_OPERATION_DURATION}
    assert registry.get_sample_value("sloguard_series_overflow_total", overflow) == 2
    # the agent_* families have their own budgets: every agent is there
    assert registry.get_sample_value("agent_calls_total", {"agent_name": "d", "status": "success"})


def test_settings_name_the_gen_ai_families_in_budgets_and_reject_a_typo() -> None:
    s = MetricsSettings(family_series_budgets={c.GEN_AI_TOKEN_USAGE: 100})
    assert s.family_series_budgets == {c.GEN_AI_TOKEN_USAGE: 100}
    with pytest.raises(ValueError, match="unknown metric family 'gen_ai_client_token_usag'"):
        MetricsSettings(family_series_budgets={"gen_ai_client_token_usag": 100})


def test_the_daemon_settings_switch_gen_ai_and_created_series(created_on: None) -> None:
    settings = Settings.model_validate(
        {"metrics": {"gen_ai_metrics": True, "created_series": True}}
    )
    registry = CollectorRegistry()
    rec = recording(settings, registry)
    assert rec.metrics.gen_ai is not None and rec.metrics.created_series
    rec.recorder.agent_call("a", "success", 1.0)
    assert {"agent_calls_created", "gen_ai_client_operation_duration_seconds_created"} <= names(
        registry
    )
    default = recording(Settings(), CollectorRegistry())
    assert default.metrics.gen_ai is None and not default.metrics.created_series
    assert client_metrics._use_created is False  # the daemon's own self metrics drop them too
