"""AgentLogger, the structlog trace-context processor, and the stdlib log filter/handler."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import structlog
from prometheus_client import CollectorRegistry

import sloguard
from sloguard import (
    AgentLogger,
    CallType,
    InvalidRecord,
    Recorder,
    Telemetry,
    TraceContextFilter,
    TraceStep,
    TracingLogHandler,
    trace_tool_call,
)
from sloguard.conventions import REDACTED
from sloguard.sdk.logging import LogLimits, add_trace_context, configure_logging


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()


@pytest.fixture
def stream() -> io.StringIO:
    return io.StringIO()


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


# --- AgentLogger with configure_logging ------------------------------------------------------
def test_events_carry_ids_inside_a_step_and_not_outside(
    stream: io.StringIO, recorder: Recorder, telemetry: Telemetry
) -> None:
    configure_logging(stream=stream)
    agent_log = AgentLogger("supervisor", "wf-001", recorder=recorder)
    agent_log.error("timeout", "model did not answer", recoverable=True)
    with sloguard.workflow("support", "wf-001") as root:
        with TraceStep(None, CallType.AGENT, "supervisor") as step:
            agent_log.decision("routing", "billing-agent", ["billing-agent", "shipping-agent"],
                         "refund requested", confidence=0.9)
        agent_log.handoff("billing-agent", "refund", "order 42")

    outside, decision, handoff = lines(stream)
    assert "trace_id" not in outside
    assert "step_id" not in outside
    assert outside["event"] == "agent.error"
    assert outside["level"] == "error"
    assert outside["recoverable"] is True

    assert decision["event"] == "agent.decision"
    assert decision["trace_id"] == "wf-001" == step.trace_id
    assert decision["step_id"] == step.step_id
    assert decision["agent"] == "supervisor"
    assert decision["workflow_id"] == "wf-001"
    assert decision["level"] == "info"
    assert decision["choice"] == "billing-agent"
    assert decision["alternatives"] == ["billing-agent", "shipping-agent"]
    assert decision["confidence"] == 0.9
    assert decision["timestamp"].endswith("Z")
    assert datetime.fromisoformat(decision["timestamp"]).utcoffset() == timedelta(0)

    assert handoff["step_id"] == root.step_id  # back in the workflow step
    assert handoff["target"] == "billing-agent"


def test_processor_adds_ids_to_any_structlog_event(stream: io.StringIO,
                                                   telemetry: Telemetry) -> None:
    configure_logging(stream=stream)
    with TraceStep(None, CallType.TOOL, "search") as step:
        structlog.get_logger().info("plain event")
        structlog.get_logger().info("explicit", trace_id="given")
    plain, explicit = lines(stream)
    assert (plain["trace_id"], plain["step_id"]) == (step.trace_id, step.step_id)
    assert explicit["trace_id"] == "given"  # never overwritten


def test_tool_call_args_are_redacted_and_text_truncated(stream: io.StringIO,
                                                        recorder: Recorder) -> None:
    configure_logging(stream=stream)
    agent_log = AgentLogger("researcher", "wf-001", recorder=recorder)
    agent_log.tool_call(
        "web_search",
        {"query": "q" * 250, "api_key": "sk-123", "opts": {"password": "p", "top_k": 5}},
        "r" * 400,
        120,
    )
    agent_log.decision("plan", "search", [], "x" * 600)
    tool, decision = lines(stream)
    assert tool["tool"] == "web_search"
    assert tool["args"]["api_key"] == REDACTED
    assert tool["args"]["opts"] == {"password": REDACTED, "top_k": 5}
    assert tool["args"]["query"] == "q" * 200 + "…[+50 chars]"
    assert tool["result_summary"] == "r" * 300 + "…[+100 chars]"
    assert tool["duration_ms"] == 120
    assert decision["reasoning"] == "x" * 500 + "…[+100 chars]"
    assert "sk-123" not in json.dumps(tool)


def test_limits_and_extra_sensitive_keys(stream: io.StringIO, recorder: Recorder) -> None:
    configure_logging(stream=stream)
    agent_log = AgentLogger(
        "a", recorder=recorder, redactor=sloguard.Redactor().with_keys(["customer_email"]),
        limits=LogLimits(arg_value=3),
    )
    agent_log.tool_call("crm", {"customer_email": "kim@example.com", "name": "Kimberly"}, "", 1)
    (event,) = lines(stream)
    assert event["args"] == {"customer_email": REDACTED, "name": "Kim…[+5 chars]"}
    assert "workflow_id" not in event


# --- metrics -----------------------------------------------------------------------------------
def test_decision_feeds_decision_metrics(stream: io.StringIO, registry: CollectorRegistry,
                                         recorder: Recorder) -> None:
    configure_logging(stream=stream)
    agent_log = AgentLogger("supervisor", "wf-001", recorder=recorder)
    agent_log.decision("routing", "billing", ["billing"], "r", confidence=0.9)
    agent_log.decision("routing", "billing", ["billing"], "r")
    labels = {"agent_name": "supervisor", "decision_type": "routing"}
    assert registry.get_sample_value("agent_decisions_total", labels) == 2
    assert registry.get_sample_value("agent_decision_confidence_count", labels) == 1
    assert registry.get_sample_value("agent_decision_confidence_sum", labels) == 0.9
    assert registry.get_sample_value(
        "agent_decision_confidence_bucket", {**labels, "le": "0.8"}
    ) == 0


def test_default_recorder_is_the_current_telemetrys(
    stream: io.StringIO, registry: CollectorRegistry, telemetry: Telemetry
) -> None:
    configure_logging(stream=stream)
    agent_log = AgentLogger("supervisor", "wf-001")
    assert agent_log.recorder is telemetry.recorder
    agent_log.handoff("billing", "refund", "order 42")
    agent_log.handoff("billing", "again, nested step counts it", "", count=False)
    assert registry.get_sample_value(
        "agent_handoffs_total", {"source_agent": "supervisor", "target_agent": "billing"}
    ) == 1
    assert len(lines(stream)) == 2


def test_invalid_confidence_raises_and_logs_and_counts_nothing(
    stream: io.StringIO, registry: CollectorRegistry, recorder: Recorder
) -> None:
    configure_logging(stream=stream)
    agent_log = AgentLogger("supervisor", "wf-001", recorder=recorder)
    with pytest.raises(InvalidRecord, match="confidence"):
        agent_log.decision("routing", "billing", [], "r", confidence=95)
    assert stream.getvalue() == ""
    assert registry.get_sample_value(
        "agent_decisions_total", {"agent_name": "supervisor", "decision_type": "routing"}
    ) is None


# --- other structlog setups ------------------------------------------------------------------
def test_works_with_a_users_own_logger_without_our_processor(
    stream: io.StringIO, recorder: Recorder, telemetry: Telemetry
) -> None:
    own = structlog.wrap_logger(
        structlog.PrintLogger(stream),
        processors=[structlog.processors.JSONRenderer(sort_keys=True)],
    ).bind(service="shop")
    agent_log = AgentLogger("supervisor", "wf-001", logger=own, recorder=recorder)
    with TraceStep(None, CallType.AGENT, "supervisor") as step:
        agent_log.tool_call("search", {"q": "x"}, "ok", 3)
    (event,) = lines(stream)
    assert event["service"] == "shop"
    assert (event["trace_id"], event["step_id"]) == (step.trace_id, step.step_id)


def test_works_with_a_users_own_global_config(
    stream: io.StringIO, recorder: Recorder, telemetry: Telemetry
) -> None:
    structlog.configure(
        processors=[structlog.processors.JSONRenderer()],
        logger_factory=structlog.PrintLoggerFactory(stream),
    )
    agent_log = AgentLogger("supervisor", "wf-001", recorder=recorder)

    @trace_tool_call
    def search() -> None:
        agent_log.tool_call("search", None, "nothing", 0)

    search()
    (event,) = lines(stream)
    assert event["args"] == {}
    assert "step_id" in event and "trace_id" in event


def test_console_output_level_filter_and_bad_level(
    stream: io.StringIO, recorder: Recorder, telemetry: Telemetry
) -> None:
    configure_logging(json=False, level="warning", stream=stream)
    agent_log = AgentLogger("supervisor", "wf-001", recorder=recorder)
    with TraceStep(None, CallType.AGENT, "supervisor") as step:
        agent_log.tool_call("search", {}, "ok", 1)  # INFO: filtered out
        agent_log.error("timeout", "no answer", recoverable=False)
    out = stream.getvalue()
    assert "agent.tool_call" not in out
    assert "agent.error" in out and step.step_id in out
    with pytest.raises(ValueError, match="level must be one of"):
        configure_logging(level="loud")


def test_add_trace_context_outside_any_step_adds_nothing() -> None:
    assert add_trace_context(None, "info", {"event": "x"}) == {"event": "x"}


# --- stdlib logging: TraceContextFilter / TracingLogHandler ----------------------------------
@pytest.fixture
def std_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("tests.sloguard.logfilter")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


def test_tracing_log_handler_prefixes_ids(std_logger: logging.Logger, stream: io.StringIO,
                                          telemetry: Telemetry) -> None:
    std_logger.addHandler(TracingLogHandler(stream))
    std_logger.info("before")
    with TraceStep(None, CallType.AGENT, "planner") as step:
        std_logger.info("inside")
    before, inside = stream.getvalue().splitlines()
    assert "[trace:- step:-] tests.sloguard.logfilter: before" in before
    assert f"[trace:{step.trace_id} step:{step.step_id}]" in inside
    assert inside.endswith("inside")


def test_trace_context_filter_sets_attributes_and_keeps_given_ones(
    std_logger: logging.Logger, stream: io.StringIO, telemetry: Telemetry
) -> None:
    handler = logging.StreamHandler(stream)
    handler.addFilter(TraceContextFilter())
    handler.setFormatter(logging.Formatter("%(trace_id)s|%(step_id)s|%(message)s"))
    std_logger.addHandler(handler)
    with TraceStep(None, CallType.TOOL, "search") as step:
        std_logger.info("auto")
        std_logger.info("given", extra={"trace_id": "upstream"})
    auto, given = stream.getvalue().splitlines()
    assert auto == f"{step.trace_id}|{step.step_id}|auto"
    assert given == f"upstream|{step.step_id}|given"
