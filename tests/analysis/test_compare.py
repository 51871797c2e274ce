"""Comparing runs (aligned, every difference) and choosing the baseline of a failed run."""

from __future__ import annotations

import pytest

from sloguard.analysis.compare import (
    DivergenceKind,
    RunComparison,
    compare,
    most_similar_successful,
    similarity,
    succeeded,
)
from sloguard.analysis.timeline import Event
from tests.support.traces import build, routed, row, seed_workflow

GOOD = routed("wf-a")  # supervisor → billing-agent: lookup_invoice, issue_refund
RETRIED = routed(
    "wf-c",
    tools=(
        ("lookup_invoice", "TimeoutError: slow"),
        ("lookup_invoice", None),
        ("issue_refund", None),
    ),
)
MISROUTED = routed(
    "wf-b", "shipping-agent", (("track_package", "NotFound: no parcel"),), fails=True
)


def table(c: RunComparison) -> list[tuple[str, int, int, str, str]]:
    """(kind, index a, index b, a's signature, b's signature) of each difference."""

    def sig(e: Event | None) -> str:
        return "-" if e is None else "/".join(x for x in e.signature if x)

    return [
        (d.kind.value, d.index_a, d.index_b, sig(d.event_a), sig(d.event_b)) for d in c.differences
    ]


def test_identical_runs_do_not_differ() -> None:
    c = compare(GOOD, routed("wf-a2"))
    assert (c.divergence_count, c.first_divergence, c.similarity) == (0, None, 1.0)


def test_a_retry_is_two_differences_not_everything_after_it() -> None:
    c = compare(GOOD, RETRIED)
    # The seed compared index by index: every event after the retry would differ.
    assert table(c) == [
        ("only_in_b", 3, 3, "-", "tool_called/billing-agent/lookup_invoice"),
        ("only_in_b", 3, 4, "-", "tool_failed/billing-agent/lookup_invoice"),
    ]
    assert c.similarity == pytest.approx(18 / 20)


def test_misrouted_run_first_divergence_is_the_agent_choice_and_all_differences() -> None:
    c = compare(GOOD, MISROUTED)
    first = c.first_divergence
    assert first is not None and first.kind is DivergenceKind.AGENT_CHOICE
    assert first.event_a is not None and first.event_a.target == "billing-agent"
    assert first.event_b is not None and first.event_b.target == "shipping-agent"
    assert table(c) == [
        (
            "agent_choice", 1, 1,
            "handoff/supervisor/billing-agent", "handoff/supervisor/shipping-agent",
        ),
        ("agent_choice", 2, 2, "agent_invoked/billing-agent", "agent_invoked/shipping-agent"),
        (
            "agent_choice", 3, 3,
            "tool_called/billing-agent/lookup_invoice", "tool_called/shipping-agent/track_package",
        ),
        (
            "agent_choice", 4, 4,
            "tool_returned/billing-agent/lookup_invoice",
            "tool_failed/shipping-agent/track_package",
        ),
        ("only_in_a", 5, 5, "tool_called/billing-agent/issue_refund", "-"),
        ("only_in_a", 6, 5, "tool_returned/billing-agent/issue_refund", "-"),
        ("agent_choice", 7, 5, "agent_completed/billing-agent", "agent_failed/shipping-agent"),
        ("outcome", 8, 6, "agent_completed/supervisor", "agent_failed/supervisor"),
    ]  # fmt: skip
    d = c.as_dict()
    assert d["divergence_count"] == 8
    assert d["first_divergence"]["divergence"] == "agent_choice"
    assert d["first_divergence"]["run_b"]["target"] == "shipping-agent"
    assert d["all_differences"][-1]["divergence"] == "outcome"


def test_tool_choice_and_event_type() -> None:
    other_tool = routed("wf-d", tools=(("search_orders", None), ("issue_refund", None)))
    assert table(compare(GOOD, other_tool)) == [
        (
            "tool_choice", 3, 3,
            "tool_called/billing-agent/lookup_invoice", "tool_called/billing-agent/search_orders",
        ),
        (
            "tool_choice", 4, 4,
            "tool_returned/billing-agent/lookup_invoice",
            "tool_returned/billing-agent/search_orders",
        ),
    ]  # fmt: skip
    # the supervisor answers with a tool itself instead of handing off
    direct = build(
        "wf-e",
        [
            row("root", None, "HOST", "support", 0, 1000),
            row("sup", "root", "AGENT", "supervisor", 0, 1000),
            row("t", "sup", "TOOL", "faq_lookup", 100, 50),
        ],
    )
    handed = routed("wf-f", "faq-agent", tools=())
    assert table(compare(direct, handed)) == [
        ("event_type", 1, 1, "tool_called/supervisor/faq_lookup", "handoff/supervisor/faq-agent"),
        ("event_type", 2, 2, "tool_returned/supervisor/faq_lookup", "agent_invoked/faq-agent"),
        ("only_in_b", 3, 3, "-", "agent_completed/faq-agent"),
    ]  # fmt: skip


def test_seed_workflow_against_a_run_whose_search_failed() -> None:
    failed = build(
        "wf-002",
        [
            row("root", None, "HOST", "workflow.execute", 0, 900, error="aborted"),
            row("sup", "root", "AGENT", "supervisor", 0, 350),
            row("sup-cls", "sup", "TOOL", "classify_intent", 290, 45),
            row("res", "root", "AGENT", "researcher", 350, 550, error="no sources"),
            row("res-web", "res", "TOOL", "web_search", 500, 300, error="TimeoutError: 30s"),
        ],
    )
    c = compare(seed_workflow(), failed)
    assert table(c) == [
        (
            "outcome", 6, 6,
            "tool_returned/researcher/web_search", "tool_failed/researcher/web_search",
        ),
        ("outcome", 7, 7, "agent_completed/researcher", "agent_failed/researcher"),
        ("only_in_a", 8, 8, "agent_invoked/writer", "-"),
        ("only_in_a", 9, 8, "tool_called/writer/format_output", "-"),
        ("only_in_a", 10, 8, "tool_returned/writer/format_output", "-"),
        ("only_in_a", 11, 8, "agent_completed/writer", "-"),
    ]  # fmt: skip


def test_baseline_is_the_most_similar_successful_run() -> None:
    shipped = routed("wf-ok-shipping", "shipping-agent", (("track_package", None),))
    also_failed = routed("wf-x", "shipping-agent", (("track_package", "boom"),), fails=True)
    candidates = [GOOD, also_failed, MISROUTED, shipped, RETRIED]
    base = most_similar_successful(MISROUTED, candidates)
    assert base is not None
    assert base.trace is shipped  # same route; the failed ones and itself are skipped
    assert base.similarity == pytest.approx(similarity(shipped, MISROUTED))
    assert base.similarity > similarity(GOOD, MISROUTED)
    assert base.comparison.workflow_a == "wf-ok-shipping"
    assert [d.kind.value for d in base.comparison.differences] == ["outcome"] * 3


def test_no_baseline_without_a_successful_candidate() -> None:
    assert most_similar_successful(MISROUTED, [MISROUTED, RETRIED]) is None
    assert not succeeded(RETRIED)  # a retried tool failure counts as a failure by default
    lenient = most_similar_successful(
        MISROUTED, [RETRIED], is_success=lambda t: t.steps[1].error is None
    )
    assert lenient is not None and lenient.trace is RETRIED


def test_ties_go_to_the_first_candidate() -> None:
    a, b = routed("wf-1"), routed("wf-2")
    base = most_similar_successful(MISROUTED, [a, b])
    assert base is not None and base.trace is a
