"""The text tree of a trace (seed 000's picture), exact text."""

from __future__ import annotations

import re

import pytest

from examples.multi_agent import run_workflow
from sloguard import Telemetry
from sloguard.analysis.views.tree import money, text_tree
from sloguard.sdk.trace import parse_trace
from tests.support.traces import build, customer_service, financial_risk, row, seed_workflow


def masked(text: str) -> str:
    """Replace measured milliseconds (clock-dependent) by N."""
    return re.sub(r"\b\d+ ms\b", "N ms", text)


def test_seed_workflow_tree() -> None:
    assert text_tree(seed_workflow()) == (
        "workflow.execute (host, ok, 1250 ms)\n"
        "├── supervisor (agent, ok, 350 ms, $0.0021)\n"
        "│   ├── llm.inference (host, ok, 280 ms)\n"
        "│   └── classify_intent (tool, ok, 45 ms)\n"
        "├── researcher (agent, ok, 520 ms)\n"
        "│   ├── llm.inference (host, ok, 150 ms)\n"
        "│   ├── web_search (tool, ok, 250 ms)\n"
        "│   └── llm.inference (host, ok, 100 ms)\n"
        "└── writer (agent, ok, 380 ms, $0.0000)\n"
        "    ├── llm.inference (host, ok, 340 ms)\n"
        "    └── format_output (tool, ok, 25 ms)"
    )


def test_customer_service_seed_tree(telemetry: Telemetry) -> None:
    assert text_tree(customer_service(telemetry)) == (
        "고객 서비스 처리 (agent, ok, 400 ms, $0.1000)\n"
        "├── 의도 인식 (agent, ok, 120 ms, $0.0200)\n"
        "├── 지식 검색 (tool, ok, 150 ms)\n"
        "└── 응답 생성 (agent, ok, 130 ms, $0.0800)"
    )


def test_financial_risk_seed_tree(telemetry: Telemetry) -> None:
    assert masked(text_tree(financial_risk(telemetry))) == (
        "위험 평가 (agent, ok, N ms, $0.0800)\n"
        "├── 사용자 프로파일링 (agent, ok, N ms, $0.0500)\n"
        "└── 거래 분석 (agent, ok, N ms, $0.0300)"
    )


async def test_multi_agent_example_tree(telemetry: Telemetry) -> None:
    trace = await run_workflow("agents", "wf-1")
    assert masked(text_tree(trace)) == (
        "research (host, ok, N ms)\n"
        "└── supervisor (agent, ok, N ms)\n"
        "    ├── researcher (agent, ok, N ms, $0.0021)\n"
        "    │   └── web_search (tool, ok, N ms)\n"
        "    ├── analyst (agent, ok, N ms, $0.0000)\n"
        "    │   └── sql_query (tool, failed, N ms): DatabaseDown: connection refused\n"
        "    └── fact_checker (agent, failed, N ms): "
        "UnverifiableClaim: cannot verify: notes on agents: 1 s"
    )


def test_failures_several_roots_odd_names_and_missing_latency() -> None:
    trace = build(
        "t",
        [
            row("a", None, "AGENT", "first\nroot", 0, 10, error="line one\n\tline two " + "x" * 80),
            row("b", "a", "TOOL", "t1", 1, None, cost=0.00004),
            row("c", None, "AGENT", "second root", 20, 5),
            row("d", "c", "AGENT", "child", 21, 1),
            row("e", "d", "TOOL", "leaf", 21, 1),
            row("f", "c", "TOOL", "last", 23, 1),
        ],
    )
    assert text_tree(trace) == (
        "first root (agent, failed, 10 ms): line one line two " + "x" * 61 + "…\n"
        "└── t1 (tool, ok, ? ms, $4e-05)\n"
        "second root (agent, ok, 5 ms)\n"
        "├── child (agent, ok, 1 ms)\n"
        "│   └── leaf (tool, ok, 1 ms)\n"
        "└── last (tool, ok, 1 ms)"
    )


def test_callee_traces_nest_under_the_invoking_step() -> None:
    trace = parse_trace(
        {
            "trace_id": "host",
            "steps": [
                {
                    "step_id": "call",
                    "latency": 900,
                    "step_action": {
                        "agent_invocation": {
                            "agent_name": "remote planner",
                            "agent_url": "http://planner",
                            "response_trace": {
                                "steps": [
                                    {"step_id": "p", "call_type": "AGENT", "name": "planner",
                                     "latency": 800},
                                    {"step_id": "q", "parent_step_id": "p",
                                     "step_action": {"tool_invocation": {"tool_name": "calendar"}},
                                     "latency": 100, "cost": 0},
                                ]
                            },
                        }
                    },
                }
            ],
        }
    )  # fmt: skip
    assert text_tree(trace) == (
        "remote planner (agent, ok, 900 ms)\n"
        "└── planner (agent, ok, 800 ms)\n"
        "    └── calendar (tool, ok, 100 ms, $0.0000)"
    )


def test_empty_trace_is_empty_text() -> None:
    assert text_tree(build("t", [])) == ""


@pytest.mark.parametrize(
    ("cost", "text"),
    [(0.0, "$0.0000"), (0.0021, "$0.0021"), (1.5, "$1.5000"), (0.00004, "$4e-05")],
)
def test_money(cost: float, text: str) -> None:
    assert money(cost) == text


def test_a_deep_chain_does_not_hit_the_recursion_limit() -> None:
    rows = [row("s0", None, "AGENT", "a0", 0, 5000)]
    rows += [row(f"s{i}", f"s{i - 1}", "TOOL", f"t{i}", i, 1) for i in range(1, 3000)]
    lines = text_tree(build("deep", rows), max_lines=3000).splitlines()
    assert len(lines) == 3000
    assert lines[-1].endswith("└── [2999] t2999 (tool, ok, 1 ms)")


def test_control_characters_are_replaced_so_a_terminal_shows_them_as_text() -> None:
    trace = build("t", [row("a", None, "AGENT", "\x1b[2Jplanner\uffff", 0, 10, error="x\x07y")])
    assert text_tree(trace) == "\ufffd[2Jplanner\ufffd (agent, failed, 10 ms): x\ufffdy"
