"""``POST /v1/a2a/traces`` under generated batches of traces mixing valid and invalid steps.

Steps (of top-level and nested callee traces) carry costs, token counts, latencies and start
times around the bounds of :mod:`sloguard.ingest.bounds` and past them, odd names and trace ids.
The A2A parser is lenient where the spec's producers are (numbers may come as strings, a time
as unix seconds or without offset, meaning UTC); the oracle below follows that documented
reading. Property: either 200, ``accepted`` counts the traces, agent and tool calls, latency and
cost moved by exactly the steps' figures and every trace is stored; or 422 naming every bad
field of every bad trace (and no good trace), and ``/metrics`` and the store did not change.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sloguard.ingest.bounds import (
    EARLIEST_TIME,
    MAX_AHEAD_SECONDS,
    MAX_COST_USD,
    MAX_DURATION_SECONDS,
    MAX_TOKENS,
)
from tests.fuzz import edges
from tests.fuzz.edges import COSTS, TOKENS, TRACE_IDS, trace_id_ok
from tests.fuzz.fuzzapp import (
    AUTH,
    MAX_ITEMS,
    RUN_SERIES,
    Caller,
    Fuzzed,
    delta,
    fuzzed_app,
    snapshot,
)

INPUT = "gen_ai.usage.input_tokens"
NESTED = "step_action.agent_invocation.response_trace."
LATENCY_MS = edges.figures(MAX_DURATION_SECONDS * 1000)
#: The last instant a datetime holds, unix seconds.
LAST_TIME = datetime.max.replace(tzinfo=UTC).timestamp()
FIRST_TIME = datetime.min.replace(tzinfo=UTC).timestamp()
START = st.one_of(edges.times(), st.sampled_from([0, EARLIEST_TIME, EARLIEST_TIME - 1, 1e12]))


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _opt(s: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), s)


STEP = st.fixed_dictionaries(
    {
        "step_id": st.sampled_from(["s1", "s2", "s3"]),
        "name": st.one_of(st.sampled_from(["planner", "search"]), edges.ODD_TEXT),
        "call_type": st.sampled_from(["AGENT", "TOOL", "HOST", "tool", "bogus"]),
        "latency": _opt(LATENCY_MS),
        "cost": _opt(st.one_of(COSTS, st.sampled_from(["1.5", "nan", "1e400", "x"]))),
        "total_tokens": _opt(TOKENS),
        "start_time": _opt(START),
        "additional_attributes": _opt(st.fixed_dictionaries({INPUT: TOKENS})),
    }
).map(_drop_none)


@st.composite
def steps(draw: st.DrawFn, nest: bool = True) -> dict[str, Any]:
    step = draw(STEP)
    if nest and draw(st.integers(0, 5)) == 0:
        callee = {"trace_id": "callee", "steps": [draw(steps(nest=False))]}
        step["call_type"] = "AGENT"
        step["step_action"] = {"agent_invocation": {"agent_name": "b", "response_trace": callee}}
    return step


TRACE = st.fixed_dictionaries(
    {"trace_id": TRACE_IDS, "steps": st.lists(steps(), min_size=1, max_size=4)}
)


@st.composite
def batches(draw: st.DrawFn) -> list[Any]:
    """A list of traces: mixed, or (one time in three) only the traces the oracle passes."""
    traces = draw(st.lists(TRACE, max_size=6))
    if draw(st.integers(0, 2)) == 0:
        now = time.time()
        return [t for t in traces if not bad_fields(t, now) and not edges.malformed(t)]
    return traces


# --- the oracle -------------------------------------------------------------------------------
def number(value: Any) -> float | None:
    """The figure a step field holds (a numeric string counts), or None when it is not one."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if type(value) not in (int, float) or not math.isfinite(value) or value < 0:
        return None
    return float(value)


def start_of(value: Any) -> float | None:
    """The unix time a step's start holds (absent: 0, the parser's unknown), or None."""
    if value is None:
        return 0.0
    if type(value) in (int, float):
        # the parser reads a number as unix seconds, within what a datetime holds
        return float(value) if FIRST_TIME <= value <= LAST_TIME else None
    if isinstance(value, str):
        try:
            t = datetime.fromisoformat(value)
        except ValueError:
            return None
        return (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()
    return None


def _count(value: Any) -> bool:
    """An integer >= 0 (a whole float counts) in a step's attributes."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, float) and not value.is_integer():
        return False
    return value >= 0


def step_bad(step: dict[str, Any], now: float) -> tuple[set[str], set[str]]:
    """The fields of one step (its callee's steps aside) the ingest must name: those it cannot
    read (a wrong type, a negative number, not a time), and those out of bounds."""
    unread, out = set(), set()
    if str(step.get("call_type", "AGENT")).upper() not in ("AGENT", "TOOL", "HOST"):
        unread.add("call_type")
    if not isinstance(step.get("name", ""), str):
        unread.add("name")
    for field, bound in (("cost", MAX_COST_USD), ("latency", MAX_DURATION_SECONDS * 1000)):
        if field in step:
            n = number(step[field])
            if n is None:
                unread.add(field)
            elif n > bound:
                out.add(field)
    if "total_tokens" in step:
        n = number(step["total_tokens"])
        if n is None:
            unread.add("total_tokens")
        elif int(n) > MAX_TOKENS:
            out.add("total_tokens")
    attrs = step.get("additional_attributes", {})
    if INPUT in attrs:
        v = attrs[INPUT]
        if not _count(v):
            unread.add(f"additional_attributes.{INPUT}")
        elif v > MAX_TOKENS:
            out.add(f"additional_attributes.{INPUT}")
    total, given = number(step.get("total_tokens")), attrs.get(INPUT)
    if total is not None and _count(given) and int(total) < given <= MAX_TOKENS:
        out.add("total_tokens")  # less than the split given (the recorder's rule)
    t = start_of(step.get("start_time"))
    if "start_time" in step:
        if t is None:
            unread.add("start_time")
        # a start given as the epoch is out of bounds too (only a missing one is "unknown")
        elif step.get("start_time") is not None and not (
            EARLIEST_TIME <= t <= now + MAX_AHEAD_SECONDS
        ):
            out.add("start_time")
    ms = number(step.get("latency"))
    if ms is not None and ms / 1000 > LAST_TIME - (t or 0.0):  # unread: from the epoch
        unread.add("latency")  # the end time would overflow a datetime: refused, named
    return unread, out


def bad_fields(trace: dict[str, Any], now: float) -> set[str]:
    """Paths inside ``trace`` the ingest must name.

    A trace the parser cannot read is refused with what it could not read, and the values out
    of bounds (and a bad trace id) of its other top-level steps.
    """
    tid = trace["trace_id"]
    unread: set[str] = set() if isinstance(tid, str) else {"trace_id"}
    # no length bound here (unlike an event's trace_id: longer ids are not kept as exemplars)
    # ("" is no id: the parser makes one up, as for a trace sent without)
    ok = not isinstance(tid, str) or tid == "" or trace_id_ok(tid, 10**9)
    out = set() if ok else {"trace_id"}
    for j, step in enumerate(trace["steps"]):
        u, o = step_bad(step, now)
        unread |= {f"steps[{j}].{f}" for f in u}
        out |= {f"steps[{j}].{f}" for f in o}
        callee = step.get("step_action", {}).get("agent_invocation", {}).get("response_trace")
        for k, inner in enumerate(callee["steps"] if callee else []):
            u, o = step_bad(inner, now)
            unread |= {f"steps[{j}].{NESTED}steps[{k}].{f}" for f in u}
            out |= {f"steps[{j}].{NESTED}steps[{k}].{f}" for f in o}
    if any(p.endswith(".") for p in unread):
        return {""}  # the trace as a whole ("cannot be parsed")
    if not unread or "trace_id" in unread:
        return unread or out
    blanked = {p.split(".")[0] for p in unread}  # the unreadable top-level steps
    return unread | {o for o in out if o.split(".")[0] not in blanked}


def walk(traces: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every step, nested ones included (with the call type the parser gives them)."""
    out = []
    for t in traces:
        for s in t["steps"]:
            out.append(s)
            callee = s.get("step_action", {}).get("agent_invocation", {}).get("response_trace")
            out += callee["steps"] if callee else []
    return out


def kind(step: dict[str, Any]) -> str:
    return str(step.get("call_type", "AGENT")).upper()


#: Families of agent steps and tool steps, and what else a committed batch may move.
MOVED = {
    "agent_calls_total",
    "agent_latency_seconds_count",
    "agent_latency_seconds_sum",
    "agent_latency_seconds_bucket",
    "agent_tool_calls_total",
    "agent_tool_call_seconds_count",
    "agent_tool_call_seconds_sum",
    "agent_tool_call_seconds_bucket",
    "agent_handoffs_total",
    "agent_token_usage_total",
    "agent_cost_usd_total",
    "sloguard_unpriced_tokens_total",
    "sloguard_ingest_items_total",
    "agent_anomalies_total",
} | RUN_SERIES  # every accepted trace is one end-to-end run


# --- the property -----------------------------------------------------------------------------
def test_a_trace_batch_is_recorded_exactly_or_refused_whole(tmp_path: Path) -> None:
    fuzzed = fuzzed_app(tmp_path)
    outcomes: Counter[int] = Counter()
    with Caller(fuzzed.app) as call:

        @given(body=batches())
        @settings(
            max_examples=120,
            derandomize=True,
            deadline=None,
            database=None,
            # too_slow / data_too_large: every example is a request with up to 6 traces of long
            # strings plus two /metrics snapshots, by design.
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        def check(body: list[Any]) -> None:
            outcomes[_check_one(fuzzed, call, body)] += 1

        check()
    assert min(outcomes[200], outcomes[422], outcomes[400]) >= 5, outcomes


def _check_one(fuzzed: Fuzzed, call: Caller, body: list[Any]) -> int:
    before = snapshot(fuzzed)
    now = time.time()
    r = call(
        "POST",
        "/v1/a2a/traces",
        content=edges.encode(body),
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert r.status_code < 500, r.text
    bad = {i: f for i, t in enumerate(body) if (f := bad_fields(t, now))}
    if edges.malformed(body):
        assert r.status_code == 400, r.text
    elif bad:
        assert r.status_code == 422, ([(i, body[i]) for i in bad], bad, r.text)
        problems = r.json()["problems"]
        items = {p["item"] for p in problems}
        assert items == set(bad), [(i, body[i], bad.get(i)) for i in items ^ set(bad)]
        for i, paths in bad.items():
            named = {p["field"] for p in problems if p["item"] == i}
            for path in paths:
                assert (f"[{i}].{path}" if path else f"[{i}]") in named, (path, named, body[i])
    else:
        assert r.status_code == 200, (body, r.text)
        _recorded_exactly(fuzzed, body, before[0], r.json())
        assert len(body) <= MAX_ITEMS
        return r.status_code
    assert snapshot(fuzzed) == before, "a refused batch changed state"
    return r.status_code


def _recorded_exactly(fuzzed: Fuzzed, traces: list[Any], before: Any, answer: Any) -> None:
    steps = walk(traces)
    assert answer == {"accepted": len(traces), "steps": len(steps)}
    changed = delta(before, snapshot(fuzzed)[0])

    def total(name: str) -> float:
        return sum(v for k, v in changed.items() if k[0] == name)

    agents = [s for s in steps if kind(s) == "AGENT"]
    tools = [s for s in steps if kind(s) == "TOOL"]
    assert total("agent_calls_total") == len(agents)
    assert total("agent_tool_calls_total") == len(tools)
    latency = sum(number(s["latency"]) or 0 for s in agents if "latency" in s) / 1000
    assert math.isclose(total("agent_latency_seconds_sum"), latency, rel_tol=1e-9, abs_tol=1e-6)
    cost = sum(number(s["cost"]) or 0 for s in steps if "cost" in s)
    assert math.isclose(total("agent_cost_usd_total"), cost, rel_tol=1e-9, abs_tol=1e-6)
    assert total("sloguard_ingest_items_total") == len(traces)
    assert not {k for k in changed if k[0] not in MOVED}, changed
    for t in traces:
        if t["trace_id"]:  # (else an id made up by the parser)
            assert fuzzed.store.get(t["trace_id"]) is not None, t["trace_id"]


# --- what the fuzz found (strict xfails: they pass, and must be turned into plain tests, once
# the ingest is fixed) ----------------------------------------------------------------------
def _problems(tmp_path: Path, body: Any) -> tuple[int, list[str]]:
    fuzzed = fuzzed_app(tmp_path)
    with Caller(fuzzed.app) as call:
        r = call("POST", "/v1/a2a/traces", json=body, headers=AUTH)
    return r.status_code, [p["field"] for p in r.json().get("problems", [])]


def test_a_huge_latency_is_named_as_the_latency(tmp_path: Path) -> None:
    body = [{"trace_id": "t", "steps": [{"latency": 1e308}]}]
    assert _problems(tmp_path, body) == (422, ["[0].steps[0].latency"])


def test_every_problem_of_a_trace_is_listed(tmp_path: Path) -> None:
    """Found by the fuzz: values out of bounds were not listed when another step of the same
    trace could not be read (only that one was)."""
    body = [{"trace_id": "t", "steps": [{"cost": 1e308}, {"start_time": "soon"}]}]
    status, fields = _problems(tmp_path, body)
    assert status == 422
    assert sorted(fields) == ["[0].steps[0].cost", "[0].steps[1].start_time"]


def test_a_start_at_the_epoch_is_out_of_bounds(tmp_path: Path) -> None:
    """Found by the fuzz: a start time given as the epoch was read as "unknown" (a missing
    start time still is) and accepted, though times start at 2000-01-01."""
    body = [{"trace_id": "t", "steps": [{"start_time": "1970-01-01T00:00:00Z"}]}]
    assert _problems(tmp_path, body) == (422, ["[0].steps[0].start_time"])
