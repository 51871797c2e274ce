"""Traces built from tables for the tests, as stored traces are: JSON parsed by ``parse_trace``.

Not a test module: ``row``/``build`` make a trace of rows, ``seed_workflow``/``routed`` and the
SDK-recorded seeds are the concrete traces the analysis, store and web tests share,
``nested_agents``/``tool_rows`` are rows for anomalies, ``NASTY`` names that break naive
renderers and ``random_rows`` a hypothesis strategy of any shape of trace.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from sloguard import CallType, ResponseTrace, Telemetry, TraceStep
from sloguard.sdk.trace import parse_trace

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)

#: (step_id, parent_step_id, call_type, name, start ms after T0, latency ms, extra JSON fields)
Row = tuple[str, str | None, str, str, int, int | None, dict[str, Any]]


def row(
    step_id: str,
    parent: str | None,
    call_type: str,
    name: str,
    start: int,
    latency: int | None,
    **extra: Any,
) -> Row:
    """One step of a table-built trace."""
    return (step_id, parent, call_type, name, start, latency, extra)


def step_json(r: Row) -> dict[str, Any]:
    step_id, parent, call_type, name, start, latency, extra = r
    d: dict[str, Any] = {
        "step_id": step_id,
        "parent_step_id": parent,
        "call_type": call_type,
        "name": name,
        "start_time": (T0 + timedelta(milliseconds=start)).isoformat(),
        **extra,
    }
    if latency is not None:
        d["latency"] = latency
    return d


def build(trace_id: str, rows: Sequence[Row]) -> ResponseTrace:
    """Parse a flat-shape trace made of ``rows``."""
    return parse_trace({"trace_id": trace_id, "steps": [step_json(r) for r in rows]})


def attrs(**kv: Any) -> dict[str, Any]:
    return {"additional_attributes": kv}


# --- seed 000: workflow.execute → supervisor, researcher, writer (the Jaeger picture) ----------
# LLM inference has no A2A call type of its own; it is modelled as HOST work inside the agent.
SEED_WORKFLOW_ROWS: list[Row] = [
    row("root", None, "HOST", "workflow.execute", 0, 1250),
    row("sup", "root", "AGENT", "supervisor", 0, 350, cost=0.0021, **attrs(intent="research")),
    row("sup-llm", "sup", "HOST", "llm.inference", 0, 280),
    row("sup-cls", "sup", "TOOL", "classify_intent", 290, 45),
    row("res", "root", "AGENT", "researcher", 350, 520, **attrs(sources=3)),
    row("res-llm1", "res", "HOST", "llm.inference", 350, 150),
    row("res-web", "res", "TOOL", "web_search", 500, 250, **attrs(results=10)),
    row("res-llm2", "res", "HOST", "llm.inference", 760, 100),
    row("wri", "root", "AGENT", "writer", 870, 380, cost=0.0, **attrs(draft="done")),
    row("wri-llm", "wri", "HOST", "llm.inference", 870, 340),
    row("wri-fmt", "wri", "TOOL", "format_output", 1215, 25),
]


def seed_workflow(trace_id: str = "wf-001") -> ResponseTrace:
    """Seed 000's traced workflow with its timings (sum of the three steps: 1250 ms)."""
    return build(trace_id, SEED_WORKFLOW_ROWS)


# --- a customer-service router: supervisor hands off to a specialist ----------------------------
def routed(
    trace_id: str,
    specialist: str = "billing-agent",
    tools: Sequence[tuple[str, str | None]] = (("lookup_invoice", None), ("issue_refund", None)),
    *,
    fails: bool = False,
) -> ResponseTrace:
    """host → supervisor → ``specialist`` calling ``tools`` ((name, error) in order)."""
    rows = [
        row("root", None, "HOST", "support", 0, 1000),
        row(
            "sup", "root", "AGENT", "supervisor", 0, 1000, **({"error": "gave up"} if fails else {})
        ),
        row("spec", "sup", "AGENT", specialist, 100, 800, **({"error": "failed"} if fails else {})),
    ]
    for i, (tool, error) in enumerate(tools):
        extra: dict[str, Any] = {"error": error} if error else attrs(**{f"{tool}_ok": True})
        rows.append(row(f"t{i}", "spec", "TOOL", tool, 200 + 100 * i, 50, **extra))
    return build(trace_id, rows)


# --- the seeds of test_step.py, recorded with the SDK (fixed latencies) --------------------------
def customer_service(telemetry: Telemetry) -> ResponseTrace:
    """Seed 001's customer-service flow: an agent with two sub-agents and a knowledge tool.

    Latencies are fixed for exact text; starts come from the clock, so the fixed intervals of
    the three children overlap (their order in a timeline is by end time).
    """
    trace = ResponseTrace("cs-1")
    with TraceStep(trace, CallType.AGENT, "고객 서비스 처리") as main_step:
        with TraceStep(
            trace, CallType.AGENT, "의도 인식", parent_step_id=main_step.step_id
        ) as intent_step:
            intent_step.end_step(cost=0.02, total_tokens=200, latency=120)
        with TraceStep(
            trace, CallType.TOOL, "지식 검색", parent_step_id=main_step.step_id
        ) as kb_step:
            kb_step.end_step(latency=150, additional_attributes={"results": 3})
        with TraceStep(
            trace, CallType.AGENT, "응답 생성", parent_step_id=main_step.step_id
        ) as gen_step:
            gen_step.end_step(cost=0.08, total_tokens=800, latency=130)
        main_step.end_step(cost=0.10, total_tokens=1000, latency=400)
    return trace


def financial_risk(telemetry: Telemetry) -> ResponseTrace:
    """Seed 001's financial-risk flow (steps nest from context; latencies are measured)."""
    trace = ResponseTrace("위험 평가-tx-42")
    with TraceStep(trace, CallType.AGENT, "위험 평가") as risk_step:
        with TraceStep(trace, CallType.AGENT, "사용자 프로파일링") as profile_step:
            profile_step.end_step(cost=0.05, additional_attributes={"risk_score": 0.2})
        with TraceStep(trace, CallType.AGENT, "거래 분석") as pattern_step:
            pattern_step.end_step(cost=0.03, additional_attributes={"anomaly_score": 0.9})
        risk_step.end_step(cost=0.08, additional_attributes={"decision": "hold", "confidence": 0.7})
    return trace


# --- rows for structural anomalies: nested handoffs, many tool calls ----------------------------
def nested_agents(*names: str) -> list[Row]:
    """host → names[0] → names[1] → … each nested in the previous one."""
    rows = [row("h", None, "HOST", "host", 0, 1000)]
    parent = "h"
    for i, name in enumerate(names):
        rows.append(row(f"s{i}", parent, "AGENT", name, 10 * i, 900 - 10 * i))
        parent = f"s{i}"
    return rows


def tool_rows(agent: str, n: int, parent: str = "ag") -> list[Row]:
    """``n`` one-millisecond calls of two tools under step ``parent``."""
    return [row(f"{parent}-t{i}", parent, "TOOL", f"tool{i % 2}", 10 + i, 1) for i in range(n)]


# --- names and shapes that break naive renderers -------------------------------------------------
NASTY = [
    "고객 서비스 처리",
    "billing agent; DROP TABLE",
    "a: b",
    "x-->>y",
    "A->>+B: hi",
    "#35; not an entity",
    '100% <b>bold</b> & "quoted"',
    "%%{init: {'theme': 'dark'}}%%",
    "end",
    "participant",
    "Note over x",
    "emoji 🤖 agent",
]


@st.composite
def random_rows(draw: st.DrawFn) -> list[Row]:
    """One to twelve rows: any parent before them, any kind, clashing names, errors, no ends."""
    n = draw(st.integers(1, 12))
    rows: list[Row] = []
    for i in range(n):
        parent = draw(st.sampled_from([None, *(f"s{j}" for j in range(i))]))
        kind = draw(st.sampled_from(["AGENT", "TOOL", "HOST"]))
        name = draw(st.sampled_from(["A", "B", "t", "고객", "a;b"]))
        start = draw(st.integers(0, 100))
        latency = draw(st.none() | st.integers(0, 100))
        extra = {"error": "boom"} if draw(st.booleans()) else {}
        rows.append(row(f"s{i}", parent, kind, name, start, latency, **extra))
    return rows
