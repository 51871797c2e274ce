"""Decision records, decision chains and their anomalies (seed 000's DecisionTracker, fixed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sloguard.analysis.anomalies import AnomalyKind
from sloguard.analysis.decisionrecord import DecisionRecord, Option, decision_chain
from sloguard.analysis.decisions import find_anomalies
from sloguard.errors import InvalidRecord

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def d(
    agent: str,
    kind: str,
    choice: str,
    confidence: float = 0.9,
    *,
    at: int | None = None,
    wf: str = "wf-1",
) -> DecisionRecord:
    """A decision; ``at`` is seconds after T0 (default: set by ``chain``)."""
    return DecisionRecord(
        agent, T0 + timedelta(seconds=at or 0), kind, choice, confidence, workflow_id=wf
    )


def chain(*records: DecisionRecord) -> list[DecisionRecord]:
    """Give records one-second-apart timestamps in the order written."""
    return [
        DecisionRecord(
            r.agent_id,
            T0 + timedelta(seconds=i),
            r.decision_type,
            r.chosen_option,
            r.confidence,
            workflow_id=r.workflow_id,
        )
        for i, r in enumerate(records)
    ]


def summary(records: list[DecisionRecord], **kw: Any) -> list[tuple[str, str, str]]:
    """(kind, agent, path or chosen options) of each anomaly."""
    out = []
    for a in find_anomalies(records, **kw):
        detail = " → ".join(a.path) if a.path else ",".join(x.chosen_option for x in a.decisions)
        out.append((a.kind.value, a.agent, detail))
    return out


H = "handoff"
TOOL = "tool_selection"

CASES: list[tuple[str, list[DecisionRecord], dict[str, Any], list[tuple[str, str, str]]]] = [
    (
        "seed routing decision, confident",
        chain(d("supervisor", "routing", "billing-agent", 0.85)),
        {},
        [],
    ),
    (
        "low confidence below 0.3",
        chain(d("supervisor", "routing", "billing-agent", 0.25)),
        {},
        [("low_confidence", "supervisor", "billing-agent")],
    ),
    (
        "exactly 0.3 is not low",
        chain(d("supervisor", "routing", "billing-agent", 0.3)),
        {},
        [],
    ),
    (
        "threshold is configurable",
        chain(d("supervisor", "routing", "a", 0.45), d("supervisor", "routing", "b", 0.55)),
        {"low_confidence": 0.5},
        [("low_confidence", "supervisor", "a")],
    ),
    (
        "A → B → A",
        chain(d("A", H, "B"), d("B", H, "A")),
        {},
        [("handoff_loop", "B", "A → B → A")],
    ),
    (
        "A → B → C → A (longer cycle)",
        chain(d("A", H, "B"), d("B", H, "C"), d("C", H, "A")),
        {},
        [("handoff_loop", "C", "A → B → C → A")],
    ),
    (
        "A → B → C is a chain, not a loop (the seed flagged it)",
        chain(d("A", H, "B"), d("B", "routing", "x"), d("B", H, "C")),
        {},
        [],
    ),
    (
        "decisions between handoffs do not hide a loop",
        chain(d("A", H, "B"), d("B", TOOL, "search"), d("B", "response", "r"), d("B", H, "A")),
        {},
        [("handoff_loop", "B", "A → B → A")],
    ),
    (
        "a supervisor delegating again after a worker returned is no loop",
        chain(d("sup", H, "billing"), d("billing", TOOL, "refund"), d("sup", H, "billing")),
        {},
        [],
    ),
    (
        "each lap of a ping-pong is reported",
        chain(d("A", H, "B"), d("B", H, "A"), d("A", H, "B"), d("B", H, "A")),
        {},
        [("handoff_loop", "B", "A → B → A"), ("handoff_loop", "B", "A → B → A")],
    ),
    (
        "the walk continues from the repeated agent: S → A → B → A, then A → S",
        chain(d("S", H, "A"), d("A", H, "B"), d("B", H, "A"), d("A", H, "S")),
        {},
        [("handoff_loop", "B", "A → B → A"), ("handoff_loop", "A", "S → A → S")],
    ),
    (
        "handing off to oneself",
        chain(d("A", H, "A")),
        {},
        [("handoff_loop", "A", "A → A")],
    ),
    (
        "workflows are walked apart",
        chain(d("A", H, "B", wf="wf-1"), d("B", H, "A", wf="wf-2")),
        {},
        [],
    ),
    (
        "a low-confidence handoff closing a loop: both, low confidence first",
        chain(d("A", H, "B"), d("B", H, "A", 0.1)),
        {},
        [("low_confidence", "B", "A"), ("handoff_loop", "B", "A → B → A")],
    ),
    (
        "21 tool selections in one turn",
        chain(*[d("researcher", TOOL, "web_search") for _ in range(21)]),
        {},
        [("runaway_tool_calls", "researcher", ",".join(["web_search"] * 21))],
    ),
    (
        "20 tool selections is the limit, not over it",
        chain(*[d("researcher", TOOL, "web_search") for _ in range(20)]),
        {},
        [],
    ),
    (
        "another agent's decision ends a turn",
        chain(
            *[d("researcher", TOOL, "s") for _ in range(3)],
            d("sup", "routing", "researcher"),
            *[d("researcher", TOOL, "s") for _ in range(3)],
        ),
        {"max_tool_calls": 3},
        [],
    ),
    (
        "max_tool_calls is configurable",
        chain(*[d("researcher", TOOL, "s") for _ in range(4)]),
        {"max_tool_calls": 3},
        [("runaway_tool_calls", "researcher", "s,s,s,s")],
    ),
]


@pytest.mark.parametrize(
    ("records", "options", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_find_anomalies(
    records: list[DecisionRecord], options: dict[str, Any], expected: list[tuple[str, str, str]]
) -> None:
    assert summary(records, **options) == expected


def test_loop_anomaly_carries_the_decisions_of_the_lap_and_a_message() -> None:
    records = chain(d("A", H, "B"), d("B", "routing", "x"), d("B", H, "C"), d("C", H, "A"))
    (loop,) = find_anomalies(records)
    assert loop.kind is AnomalyKind.HANDOFF_LOOP
    assert loop.decisions == (records[0], records[2], records[3])
    assert loop.message == "handoff loop: A → B → C → A"
    assert loop.as_dict()["decisions"][0]["chosen_option"] == "B"


def test_low_confidence_message() -> None:
    (a,) = find_anomalies(chain(d("supervisor", "routing", "billing-agent", 0.25)))
    assert a.message == "supervisor's routing decision (billing-agent) has confidence 0.25 < 0.3"
    assert a.decisions[0].confidence == 0.25


def test_chain_order_does_not_matter() -> None:
    records = chain(d("A", H, "B"), d("B", H, "A"))
    assert summary(list(reversed(records))) == summary(records)


def test_decision_chain_filters_one_workflow_and_sorts_by_time() -> None:
    a = d("sup", "routing", "x", at=3, wf="wf-1")
    b = d("sup", "routing", "y", at=1, wf="wf-2")
    c = d("billing", H, "z", at=2, wf="wf-1")
    same_time = d("billing", "response", "w", at=2, wf="wf-1")
    assert decision_chain([a, b, c, same_time], "wf-1") == (c, same_time, a)
    assert decision_chain([a, b], "wf-9") == ()


def test_anomaly_kinds_are_the_metric_label_values() -> None:
    assert [k.value for k in AnomalyKind] == [
        "low_confidence",
        "handoff_loop",
        "runaway_tool_calls",
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"low_confidence": 1.5}, "low_confidence must be in"),
        ({"max_tool_calls": -1}, "max_tool_calls must be >= 0"),
    ],
)
def test_bad_thresholds_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        find_anomalies([], **options)


# --- records ---------------------------------------------------------------------------------
def test_record_is_frozen_and_keeps_options() -> None:
    r = DecisionRecord(
        "supervisor",
        T0,
        "routing",
        "billing-agent",
        0.82,
        options_considered=(Option("billing-agent", 0.82), Option("shipping-agent")),
        reasoning="사용자가 환불을 요청했으므로 결제 전문 에이전트로 라우팅",
        workflow_id="wf-001",
    )
    with pytest.raises(AttributeError):
        r.confidence = 0.1  # type: ignore[misc]
    assert r.as_dict()["options_considered"] == [
        {"name": "billing-agent", "score": 0.82},
        {"name": "shipping-agent", "score": None},
    ]
    assert DecisionRecord.from_dict(r.as_dict()) == r


def test_every_problem_of_a_record_is_named() -> None:
    with pytest.raises(InvalidRecord) as exc:
        DecisionRecord("", datetime(2025, 1, 1), "routing", "x", 1.5)
    msg = str(exc.value)
    assert "agent_id: must be a non-empty string" in msg
    assert "timestamp: must be a timezone-aware datetime" in msg
    assert "confidence: must be a number in [0, 1], got 1.5" in msg


@pytest.mark.parametrize("options", [("billing",), None, (Option("a"), {"name": "b"})])
def test_options_must_be_option_values(options: Any) -> None:
    with pytest.raises(InvalidRecord, match="options_considered: must be Option values"):
        DecisionRecord("a", T0, "routing", "x", 0.5, options_considered=options)


@pytest.mark.parametrize("confidence", [float("nan"), -0.1, True, "0.5"])
def test_bad_confidence(confidence: Any) -> None:
    with pytest.raises(InvalidRecord, match="confidence"):
        DecisionRecord("a", T0, "routing", "x", confidence)


def test_from_dict_reads_the_seed_shape() -> None:
    r = DecisionRecord.from_dict(
        {
            "agent_id": "supervisor",
            "timestamp": "2025-03-01T09:00:00+00:00",
            "input_summary": "환불 요청",
            "decision_type": "routing",
            "options_considered": [
                {"option": "billing-agent", "confidence": 0.8},
                "shipping-agent",
            ],
            "chosen_option": "billing-agent",
            "confidence": 0.8,
            "reasoning": "refund",
            "workflow_id": "wf-001",
        }
    )
    assert r.timestamp == T0
    assert r.options_considered == (Option("billing-agent", 0.8), Option("shipping-agent"))


def test_from_dict_names_every_problem() -> None:
    with pytest.raises(InvalidRecord) as exc:
        DecisionRecord.from_dict(
            {
                "agent_id": "a",
                "timestamp": "yesterday",
                "decision_type": "routing",
                "confidnce": 0.5,
                "options_considered": [{"score": 1}, {"name": "b", "score": "high"}],
            }
        )
    msg = str(exc.value)
    assert "missing chosen_option, confidence" in msg
    assert "unknown keys confidnce" in msg
    assert "timestamp: not ISO 8601: 'yesterday'" in msg
    assert "options_considered[0]: must be a name or an object with a name" in msg
    assert "options_considered[1]: score: must be a number, got 'high'" in msg
