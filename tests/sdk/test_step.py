from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from sloguard import CallType, CallTypeEnum, ResponseTrace, Telemetry, TraceError, TraceStep
from sloguard.sdk.context import current_step, current_trace


def test_seed_customer_service_flow(registry: CollectorRegistry, telemetry: Telemetry) -> None:
    trace = ResponseTrace()
    with TraceStep(trace, CallTypeEnum.AGENT, "고객 서비스 처리") as main_step:
        with TraceStep(
            trace, CallTypeEnum.AGENT, "의도 인식", parent_step_id=main_step.step_id
        ) as intent_step:
            intent_step.end_step(cost=0.02, total_tokens=200)
        with TraceStep(
            trace, CallTypeEnum.TOOL, "지식 검색", parent_step_id=main_step.step_id
        ) as kb_step:
            kb_step.end_step(latency=150, additional_attributes={"results": 3})
        with TraceStep(
            trace, CallTypeEnum.AGENT, "응답 생성", parent_step_id=main_step.step_id
        ) as gen_step:
            gen_step.end_step(cost=0.08, total_tokens=800)
        main_step.end_step(cost=0.10, total_tokens=1000)
    assert [s.name for s in trace.steps] == [
        "의도 인식",
        "지식 검색",
        "응답 생성",
        "고객 서비스 처리",
    ]
    assert {s.parent_step_id for s in trace.steps[:3]} == {main_step.step_id}
    assert trace.steps[1].latency == 150
    get = registry.get_sample_value
    assert (
        get(
            "agent_handoffs_total",
            {"source_agent": "고객 서비스 처리", "target_agent": "응답 생성"},
        )
        == 1
    )
    assert (
        get(
            "agent_tool_calls_total",
            {"agent_name": "고객 서비스 처리", "tool_name": "지식 검색", "status": "success"},
        )
        == 1
    )
    assert (
        get(
            "agent_tool_call_seconds_sum",
            {"agent_name": "고객 서비스 처리", "tool_name": "지식 검색"},
        )
        == 0.15
    )
    assert (
        get(
            "agent_token_usage_total",
            {"agent_name": "응답 생성", "model": "unknown", "direction": "total"},
        )
        == 800
    )


def test_seed_financial_risk_flow_nests_from_context(telemetry: Telemetry) -> None:
    trace = ResponseTrace("위험 평가-tx-42")
    with TraceStep(trace, CallTypeEnum.AGENT, "위험 평가") as risk_step:
        with TraceStep(trace, CallTypeEnum.AGENT, "사용자 프로파일링") as profile_step:
            profile_step.end_step(cost=0.05, additional_attributes={"risk_score": 0.2})
        with TraceStep(trace, CallTypeEnum.AGENT, "거래 분석") as pattern_step:
            pattern_step.end_step(cost=0.03, additional_attributes={"anomaly_score": 0.9})
        risk_step.end_step(cost=0.08, additional_attributes={"decision": "hold", "confidence": 0.7})
    assert all(s.trace_id == "위험 평가-tx-42" for s in trace.steps)
    assert profile_step.parent_step_id == risk_step.step_id
    assert pattern_step.parent_step_id == risk_step.step_id
    assert risk_step.parent_step_id is None
    assert trace.as_dict()["steps"][2]["additional_attributes"]["decision"] == "hold"


def test_exception_in_body_is_recorded_and_reraised(
    registry: CollectorRegistry, telemetry: Telemetry
) -> None:
    trace = ResponseTrace()
    with (
        pytest.raises(TimeoutError, match="API timeout"),
        TraceStep(trace, CallType.AGENT, "analysis"),
    ):
        raise TimeoutError("API timeout")
    step = trace.steps[0]
    assert (step.error, step.error_type) == ("TimeoutError: API timeout", "TimeoutError")
    assert step.end_time is not None and step.latency is not None
    assert (
        registry.get_sample_value(
            "agent_calls_total", {"agent_name": "analysis", "status": "error"}
        )
        == 1
    )
    assert registry.get_sample_value("active_agents", {"agent_name": "analysis"}) == 0
    assert current_step() is None


def test_error_after_explicit_end_step_still_marks_the_step_failed(
    registry: CollectorRegistry, telemetry: Telemetry
) -> None:
    trace = ResponseTrace()
    with pytest.raises(KeyError), TraceStep(trace, CallType.AGENT, "a") as step:
        step.end_step(cost=0.1)
        raise KeyError("late")
    assert trace.steps[0].error == "KeyError: 'late'"
    assert trace.steps[0].cost == 0.1
    assert (
        registry.get_sample_value("agent_calls_total", {"agent_name": "a", "status": "error"}) == 1
    )


def test_end_step_twice_inside_block_raises(
    registry: CollectorRegistry, telemetry: Telemetry
) -> None:
    trace = ResponseTrace()
    with (
        pytest.raises(TraceError, match="already ended"),
        TraceStep(trace, CallType.AGENT, "a") as step,
    ):
        step.end_step(cost=1)
        step.end_step(cost=2)
    # the misuse surfaced as an error of the step; metrics counted it once, with the first figures
    assert trace.steps[0].cost == 1
    assert (
        registry.get_sample_value("agent_cost_usd_total", {"agent_name": "a", "model": "unknown"})
        == 1
    )


def test_bad_end_step_touches_no_metric(registry: CollectorRegistry, telemetry: Telemetry) -> None:
    trace = ResponseTrace()
    with (
        pytest.raises(TraceError, match="total_tokens must be >= 0, got -5"),
        TraceStep(trace, CallType.AGENT, "a") as step,
    ):
        step.end_step(total_tokens=-5)
    assert (
        registry.get_sample_value(
            "agent_token_usage_total", {"agent_name": "a", "model": "unknown", "direction": "total"}
        )
        is None
    )
    assert trace.steps[0].error is not None and "TraceError" in trace.steps[0].error


def test_active_agents_is_up_while_the_step_runs(
    registry: CollectorRegistry, telemetry: Telemetry
) -> None:
    with TraceStep(None, CallType.AGENT, "w"):
        assert registry.get_sample_value("active_agents", {"agent_name": "w"}) == 1
        with TraceStep(None, CallType.AGENT, "w"):
            assert registry.get_sample_value("active_agents", {"agent_name": "w"}) == 2
    assert registry.get_sample_value("active_agents", {"agent_name": "w"}) == 0


async def test_async_with_and_concurrent_tasks_keep_their_parents(telemetry: Telemetry) -> None:
    trace = ResponseTrace()

    async def worker(name: str) -> str:
        async with TraceStep(trace, CallType.AGENT, name) as w:
            await asyncio.sleep(0.001)
            async with TraceStep(trace, CallType.TOOL, f"{name}-tool"):
                await asyncio.sleep(0.001)
            return w.step_id

    async with TraceStep(trace, CallType.AGENT, "sup") as sup:
        ids = await asyncio.gather(*(worker(f"w{i}") for i in range(10)))
    by_id = {s.step_id: s for s in trace.steps}
    for i, wid in enumerate(ids):
        assert by_id[wid].parent_step_id == sup.step_id
        tool = next(s for s in trace.steps if s.name == f"w{i}-tool")
        assert tool.parent_step_id == wid
        assert tool.scope_agent == f"w{i}"
    assert current_trace() is None


def test_steps_without_trace_start_one_and_children_join_it(telemetry: Telemetry) -> None:
    with (
        TraceStep(call_type=CallType.AGENT, name="root") as root,
        TraceStep(call_type=CallType.TOOL, name="t") as child,
    ):
        pass
    assert child.trace is root.trace and root.trace is not None
    assert [s.name for s in root.trace.steps] == ["t", "root"]
    assert child.trace_id == root.trace_id


def test_entering_twice_is_refused(telemetry: Telemetry) -> None:
    ts = TraceStep(None, CallType.TOOL, "x")
    with ts:
        pass
    with pytest.raises(Exception, match="entered only once"), ts:
        pass


def test_add_usage_accumulates_and_needs_an_open_step(
    registry: CollectorRegistry, telemetry: Telemetry
) -> None:
    from sloguard import add_usage

    with pytest.raises(TraceError, match="needs an open step"):
        add_usage(input_tokens=1)
    with TraceStep(None, CallType.AGENT, "a"):
        add_usage(model="m", input_tokens=10, output_tokens=5, cost=0.5)
        add_usage(model="m", input_tokens=1, output_tokens=1, cost=0.25)
    get = registry.get_sample_value
    assert (
        get("agent_token_usage_total", {"agent_name": "a", "model": "m", "direction": "input"})
        == 11
    )
    assert get("agent_cost_usd_total", {"agent_name": "a", "model": "m"}) == 0.75


def test_manual_record_pattern_feeds_metrics(
    registry: CollectorRegistry, telemetry: Telemetry
) -> None:
    from sloguard import TraceRecord

    trace = ResponseTrace()
    step = TraceRecord(CallTypeEnum.AGENT, name="사용자 쿼리")
    step.end_step(cost=0.1, total_tokens=500)
    trace.add_step(step)
    assert (
        registry.get_sample_value(
            "agent_calls_total", {"agent_name": "사용자 쿼리", "status": "success"}
        )
        == 1
    )
