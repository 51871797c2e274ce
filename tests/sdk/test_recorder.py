from __future__ import annotations

import math
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from sloguard import AgentMetrics, Buckets, InvalidRecord, MetricsCollector, Recorder
from sloguard.sdk.recorder import split_tokens


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for m in registry.collect()
        for s in m.samples
        if not s.name.endswith("_created")
    }


def test_agent_call_updates_count_latency_tokens_and_cost(
    registry: CollectorRegistry, recorder: Recorder
) -> None:
    recorder.agent_call(
        "billing", "success", 1.5, model="gpt-4o", input_tokens=120, output_tokens=80, cost=0.0
    )
    recorder.agent_call("billing", "error", 7.0)
    get = registry.get_sample_value
    assert get("agent_calls_total", {"agent_name": "billing", "status": "success"}) == 1
    assert get("agent_calls_total", {"agent_name": "billing", "status": "error"}) == 1
    assert get("agent_latency_seconds_count", {"agent_name": "billing"}) == 2
    assert get("agent_latency_seconds_sum", {"agent_name": "billing"}) == 8.5
    assert get("agent_latency_seconds_bucket", {"agent_name": "billing", "le": "2.0"}) == 1
    assert get("agent_latency_seconds_bucket", {"agent_name": "billing", "le": "10.0"}) == 2
    tok = {"agent_name": "billing", "model": "gpt-4o"}
    assert get("agent_token_usage_total", {**tok, "direction": "input"}) == 120
    assert get("agent_token_usage_total", {**tok, "direction": "output"}) == 80
    # a zero cost is kept: the series exists with value 0
    assert get("agent_cost_usd_total", tok) == 0.0


def test_seed_metrics_collector_signature_works_on_class_and_instance(
    registry: CollectorRegistry, recorder: Recorder, telemetry: object
) -> None:
    MetricsCollector.record_agent_call("supervisor", "success", 0.7, 10, 5, "m")
    MetricsCollector(recorder).record_agent_call("supervisor", "error", 0.3, 1, 2, "m")
    MetricsCollector.record_routing_outcome("supervisor", True)
    MetricsCollector.record_routing_outcome("supervisor", "incorrect")
    MetricsCollector.record_handoff("supervisor", "billing")
    MetricsCollector.record_tool_call("billing", "refund", "success", 0.2)
    MetricsCollector.record_decision("supervisor", "routing", 0.25)
    get = registry.get_sample_value
    assert get("agent_calls_total", {"agent_name": "supervisor", "status": "success"}) == 1
    assert get("agent_calls_total", {"agent_name": "supervisor", "status": "error"}) == 1
    tok = {"agent_name": "supervisor", "model": "m", "direction": "output"}
    assert get("agent_token_usage_total", tok) == 7
    out = {"agent_name": "supervisor"}
    assert get("agent_routing_outcomes_total", {**out, "outcome": "correct"}) == 1
    assert get("agent_routing_outcomes_total", {**out, "outcome": "incorrect"}) == 1
    assert (
        get("agent_handoffs_total", {"source_agent": "supervisor", "target_agent": "billing"}) == 1
    )
    tool = {"agent_name": "billing", "tool_name": "refund", "status": "success"}
    assert get("agent_tool_calls_total", tool) == 1
    dec = {"agent_name": "supervisor", "decision_type": "routing"}
    assert get("agent_decisions_total", dec) == 1
    assert get("agent_decision_confidence_bucket", {**dec, "le": "0.3"}) == 1
    assert get("agent_decision_confidence_bucket", {**dec, "le": "0.2"}) == 0


def test_active_agents_rises_and_falls(registry: CollectorRegistry, recorder: Recorder) -> None:
    recorder.agent_started("worker")
    recorder.agent_started("worker")
    assert registry.get_sample_value("active_agents", {"agent_name": "worker"}) == 2
    recorder.agent_finished("worker")
    assert registry.get_sample_value("active_agents", {"agent_name": "worker"}) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"status": "ok"}, "status must be one of \\['error', 'success'\\], got 'ok'"),
        ({"duration": -1.0}, "duration must be a finite number >= 0, got -1.0"),
        ({"duration": math.nan}, "duration must be a finite number >= 0, got nan"),
        ({"duration": "fast"}, "duration must be a number, got str 'fast'"),
        ({"input_tokens": -5}, "input_tokens must be >= 0, got -5"),
        ({"output_tokens": 1.5}, "output_tokens must be an integer, got float 1.5"),
        ({"cost": -0.01}, "cost must be a finite number >= 0, got -0.01"),
        ({"agent": ""}, "agent_name must be a non-empty string, got ''"),
        (
            {"input_tokens": 5, "output_tokens": 5, "total_tokens": 3},
            "total_tokens \\(3\\) is less",
        ),
    ],
)
def test_invalid_agent_call_raises_and_records_nothing(
    registry: CollectorRegistry, recorder: Recorder, kwargs: dict[str, Any], message: str
) -> None:
    before = samples(registry)
    args: dict[str, Any] = {"agent": "a", "status": "success", "duration": 1.0}
    args.update(kwargs)
    with pytest.raises(InvalidRecord, match=message):
        recorder.agent_call(args.pop("agent"), args.pop("status"), args.pop("duration"), **args)
    assert samples(registry) == before


def test_a_misspelt_usage_keyword_is_refused_and_records_nothing(
    registry: CollectorRegistry, recorder: Recorder
) -> None:
    before = samples(registry)
    usage: dict[str, Any] = {"input_token": 10, "cost": 0.1}
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['input_token'\]"):
        recorder.agent_call("a", "success", 1.0, **usage)
    with pytest.raises(TypeError, match="input_token"):
        recorder.usage("a", "gpt-4o", **usage)
    assert samples(registry) == before


def test_invalid_decision_and_routing_record_nothing(
    registry: CollectorRegistry, recorder: Recorder
) -> None:
    before = samples(registry)
    with pytest.raises(InvalidRecord, match=r"confidence must be within 0\.\.1, got 1\.5"):
        recorder.decision("a", "routing", 1.5)
    with pytest.raises(InvalidRecord, match="outcome must be one of"):
        recorder.routing_outcome("a", "maybe")
    assert samples(registry) == before


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ((10, 5, None), (10, 5, None)),
        ((10, 5, 15), (10, 5, None)),
        ((10, None, 15), (10, 5, None)),
        ((None, 5, 15), (10, 5, None)),
        ((None, None, 15), (None, None, 15)),
        ((0, 0, None), (0, 0, None)),
        ((None, None, None), (None, None, None)),
    ],
)
def test_split_tokens(
    given: tuple[int | None, int | None, int | None],
    expected: tuple[int | None, int | None, int | None],
) -> None:
    assert split_tokens(*given) == expected


def test_unsplit_tokens_are_recorded_as_total(
    registry: CollectorRegistry, recorder: Recorder
) -> None:
    recorder.agent_call("a", "success", 1.0, total_tokens=42)
    labels = {"agent_name": "a", "model": "unknown", "direction": "total"}
    assert registry.get_sample_value("agent_token_usage_total", labels) == 42


def test_buckets_default_contain_seed_buckets_and_are_configurable(
    registry: CollectorRegistry,
) -> None:
    b = Buckets()
    assert {0.5, 1, 2, 5, 10, 30, 60} <= set(b.agent_latency)
    assert {0.1, 0.5, 1, 2, 5, 10} <= set(b.tool_duration)
    rec = Recorder(AgentMetrics(registry=registry, buckets=Buckets(agent_latency=(0.3, 3.0))))
    rec.agent_call("a", "success", 1.0)
    assert (
        registry.get_sample_value("agent_latency_seconds_bucket", {"agent_name": "a", "le": "3.0"})
        == 1
    )


@pytest.mark.parametrize(
    ("bounds", "message"),
    [
        ((), "buckets.agent_latency must not be empty"),
        ((1.0, 0.5), "buckets.agent_latency must be strictly increasing"),
        ((-1.0, 1.0), "buckets.agent_latency must be positive"),
    ],
)
def test_bad_buckets_are_refused(bounds: tuple[float, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Buckets(agent_latency=bounds)


def test_exemplar_carries_trace_id(registry: CollectorRegistry, recorder: Recorder) -> None:
    from prometheus_client.openmetrics.exposition import generate_latest

    recorder.agent_call("a", "success", 0.3, trace_id="abc123")
    text = generate_latest(registry).decode()  # type: ignore[no-untyped-call]
    line = next(ln for ln in text.splitlines() if 'le="0.5"' in ln and "agent_latency" in ln)
    assert '# {trace_id="abc123"} 0.3' in line
