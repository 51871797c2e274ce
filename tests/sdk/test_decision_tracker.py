"""``DecisionTracker``: seed 000's tracker in process, each anomaly counted once, memory bounded."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry

from sloguard import CallType, Telemetry, TraceStep
from sloguard.analysis.decisionrecord import DecisionRecord, Option
from sloguard.errors import InvalidRecord
from sloguard.sdk import DecisionTracker
from sloguard.sdk.recorder import Recorder
from sloguard.sdk.step import workflow
from tests.support.blocker import BLOCKER, PKG

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def anomalies(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    return {
        (s.labels["agent_name"], s.labels["anomaly"]): s.value
        for m in registry.collect()
        for s in m.samples
        if s.name == "agent_anomalies_total"
    }


def test_seed_routing_decision_is_counted_and_kept(
    recorder: Recorder, registry: CollectorRegistry
) -> None:
    tracker = DecisionTracker(recorder)
    record = tracker.track_decision(
        "supervisor",
        "routing",
        "billing-agent",
        0.82,
        options_considered=["billing-agent", Option("shipping-agent", 0.1)],
        reasoning="사용자가 환불을 요청했으므로 결제 전문 에이전트로 라우팅",
        workflow_id="wf-001",
        timestamp=T0,
    )
    assert record.options_considered == (Option("billing-agent"), Option("shipping-agent", 0.1))
    assert tracker.get_decision_chain("wf-001") == (record,)
    assert tracker.find_anomalies("wf-001") == ()
    labels = {"agent_name": "supervisor", "decision_type": "routing"}
    assert registry.get_sample_value("agent_decisions_total", labels) == 1
    assert registry.get_sample_value("agent_decision_confidence_sum", labels) == 0.82
    assert anomalies(registry) == {}
    assert tracker.get_decision_chain("nope") == ()


def test_each_anomaly_is_counted_once_when_its_last_decision_arrives(
    recorder: Recorder, registry: CollectorRegistry
) -> None:
    tracker = DecisionTracker(recorder)
    track = tracker.track_decision
    assert tracker.record(DecisionRecord("A", at(0), "handoff", "B", 0.9, workflow_id="w")) == ()
    found = tracker.record(DecisionRecord("B", at(1), "handoff", "A", 0.2, workflow_id="w"))
    assert [a.kind.value for a in found] == ["low_confidence", "handoff_loop"]
    assert found[1].path == ("A", "B", "A")
    assert anomalies(registry) == {("B", "handoff_loop"): 1, ("B", "low_confidence"): 1}
    track("A", "response", "done", 0.9, workflow_id="w", timestamp=at(2))
    assert anomalies(registry) == {("B", "handoff_loop"): 1, ("B", "low_confidence"): 1}
    # asking counts nothing
    assert [a.kind.value for a in tracker.find_anomalies("w")] == [
        "low_confidence",
        "handoff_loop",
    ]
    assert anomalies(registry) == {("B", "handoff_loop"): 1, ("B", "low_confidence"): 1}


def test_supervisor_researcher_writer_with_runaway_tool_choices(
    recorder: Recorder, registry: CollectorRegistry
) -> None:
    tracker = DecisionTracker(recorder, max_tool_calls=3)
    tracker.track_decision("supervisor", "handoff", "researcher", 0.9, workflow_id="wf")
    for _ in range(5):
        tracker.track_decision("researcher", "tool_selection", "web_search", 0.8, workflow_id="wf")
    tracker.track_decision("researcher", "handoff", "writer", 0.9, workflow_id="wf")
    assert anomalies(registry) == {("researcher", "runaway_tool_calls"): 1}
    assert len(tracker.get_decision_chain("wf")) == 7


def test_the_workflow_defaults_to_the_current_trace(telemetry: Telemetry) -> None:
    tracker = DecisionTracker()
    wf = workflow("support", "wf-trace")
    with wf, TraceStep(None, CallType.AGENT, "supervisor"):
        record = tracker.track_decision("supervisor", "routing", "billing-agent", 0.8)
    assert record.workflow_id == "wf-trace"
    assert tracker.get_decision_chain("wf-trace") == (record,)
    # outside a trace a decision has no chain: only its own confidence is checked
    found = tracker.track_decision("router", "routing", "faq", 0.1)
    assert found.workflow_id is None
    registry = telemetry.recorder.metrics.registry
    assert registry is not None
    assert anomalies(registry) == {("router", "low_confidence"): 1}


def test_memory_is_bounded(recorder: Recorder) -> None:
    tracker = DecisionTracker(recorder, max_workflows=2, max_chain=3)
    for wf in ("a", "b"):
        tracker.track_decision("x", "routing", "y", 0.9, workflow_id=wf)
    tracker.track_decision("x", "routing", "y", 0.9, workflow_id="a")  # a is the newest now
    tracker.track_decision("x", "routing", "y", 0.9, workflow_id="c")  # b goes
    assert tracker.get_decision_chain("b") == ()
    assert len(tracker.get_decision_chain("a")) == 2
    for i in range(5):
        tracker.track_decision("x", "routing", f"o{i}", 0.9, workflow_id="c", timestamp=at(i))
    assert [r.chosen_option for r in tracker.get_decision_chain("c")] == ["o2", "o3", "o4"]


def test_bad_input_is_refused_and_records_nothing(
    recorder: Recorder, registry: CollectorRegistry
) -> None:
    tracker = DecisionTracker(recorder)
    with pytest.raises(InvalidRecord, match=r"confidence: must be a number in \[0, 1\]"):
        tracker.track_decision("a", "routing", "x", 1.5, workflow_id="w")
    assert (
        registry.get_sample_value(
            "agent_decisions_total", {"agent_name": "a", "decision_type": "routing"}
        )
        is None
    )
    assert tracker.get_decision_chain("w") == ()
    with pytest.raises(ValueError, match="low_confidence must be in"):
        DecisionTracker(recorder, low_confidence=-0.1)
    with pytest.raises(ValueError, match="max_tool_calls must be >= 0"):
        DecisionTracker(recorder, max_tool_calls=-1)
    with pytest.raises(ValueError, match="max_workflows and max_chain must be >= 1"):
        DecisionTracker(recorder, max_chain=0)


def test_the_tracker_works_with_prometheus_client_alone() -> None:
    code = BLOCKER + (
        "from sloguard.sdk import DecisionTracker\n"
        "t = DecisionTracker()\n"
        "t.track_decision('a', 'handoff', 'b', 0.9, workflow_id='w')\n"
        "t.track_decision('b', 'handoff', 'a', 0.9, workflow_id='w')\n"
        "print(len(t.find_anomalies('w')))\n"
        "print('LOADED', sorted(m for m in sys.modules if m.split('.')[0] in BLOCKED))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(PKG.parent)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["1", "LOADED []"]


def test_the_tracker_is_importable_from_sloguard_on_first_use() -> None:
    code = (
        "import sys, sloguard\n"
        "print('sloguard.sdk.decisions' in sys.modules)\n"
        "from sloguard import DecisionTracker\n"
        "from sloguard.sdk.decisions import DecisionTracker as Defined\n"
        "print(DecisionTracker is Defined)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(PKG.parent)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["False", "True"]
