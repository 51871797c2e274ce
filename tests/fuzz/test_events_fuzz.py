"""``POST /v1/events`` under generated batches that mix valid and invalid events.

Every batch holds events of every type whose figures, counts, names, ids and times sit around
the bounds of :mod:`sloguard.ingest.bounds` (and past them: NaN, infinities, huge and negative
numbers, wrong JSON types, deep nesting, U+0000, U+FFFF, long strings). The property: either
the answer is 200, ``accepted`` is the batch size and ``/metrics`` and the trace store changed
exactly as the events say; or it is a 4xx listing a problem for every bad event, naming its
field, none for a good event, and nothing changed at all (``generate_latest`` and the store
compared before and after; only the request counter moves).
"""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sloguard.conventions import UNKNOWN_VALUE
from sloguard.ingest.bounds import MAX_COST_USD, MAX_DURATION_SECONDS
from sloguard.sdk.guard import MAX_VALUE_LENGTH
from sloguard.tracestore.records import MAX_NAME
from tests.fuzz import edges
from tests.fuzz.edges import (
    COSTS,
    SECONDS,
    TOKENS,
    TRACE_IDS,
    figure_ok,
    iso_ok,
    name_ok,
    names,
    time_ok,
    tokens_ok,
    trace_id_ok,
)
from tests.fuzz.fuzzapp import AUTH, MAX_ITEMS, Caller, Fuzzed, delta, fuzzed_app, snapshot

#: Marks a field left out of the event (``None`` is sent as an explicit null).
ABSENT = object()
AGENTS = names("planner", "writer")
MODELS = names("m-fuzz", "m-other")  # not in the pricing table: tokens stay unpriced
STATUS = st.sampled_from(["success", "error", "ok", "", 1])


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Left out, an explicit null, or a value."""
    return st.one_of(st.just(ABSENT), st.none(), strategy)


def _event(type_: Any, **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"type": st.just(type_), **fields}).map(
        lambda e: {k: v for k, v in e.items() if v is not ABSENT}
    )


_TOKEN_FIELDS = {k: optional(TOKENS) for k in ("input_tokens", "output_tokens", "total_tokens")}
EVENTS = st.one_of(
    _event(
        "agent_call",
        agent=AGENTS,
        status=STATUS,
        duration_seconds=SECONDS,
        model=optional(MODELS),
        cost_usd=optional(COSTS),
        trace_id=optional(TRACE_IDS),
        **_TOKEN_FIELDS,
    ),
    _event(
        "tool_call",
        agent=optional(AGENTS),
        tool=names("search"),
        status=STATUS,
        duration_seconds=SECONDS,
        trace_id=optional(TRACE_IDS),
    ),
    _event("handoff", source_agent=AGENTS, target_agent=AGENTS),
    _event(
        "decision",
        agent=AGENTS,
        decision_type=names("routing"),
        confidence=optional(st.one_of(st.floats(0, 1), edges.figures(1.0))),
        chosen_option=optional(names("writer")),
        workflow_id=optional(names("wf-1")),
        timestamp=optional(edges.times()),
    ),
    _event("routing_outcome", agent=AGENTS, outcome=st.sampled_from(["correct", "incorrect", "x"])),
    _event(
        "usage", agent=AGENTS, model=optional(MODELS), cost_usd=optional(COSTS), **_TOKEN_FIELDS
    ),
    _event("anomaly", agent=AGENTS, anomaly=names("low_confidence")),
    st.sampled_from([{"type": "nope"}, {"type": 3}, {"agent": "planner"}, [], "agent_call", 7]),
)


@st.composite
def batches(draw: st.DrawFn) -> Any:
    """``{"events": [...]}``: mixed, or (one time in three) only the events the oracle passes."""
    events = draw(st.lists(EVENTS, max_size=MAX_ITEMS + 2))
    if draw(st.integers(0, 2)) == 0:
        now = time.time()
        events = [e for e in events if not bad_fields(e, now) and not edges.malformed(e)]
        return {"events": events[:MAX_ITEMS]}
    if events and isinstance(events[-1], dict) and draw(st.integers(0, 9)) == 0:
        # an unknown field holding a value nested past the JSON depth limit
        events[-1] = {**events[-1], "extra": edges.nested(edges.TOO_DEEP)}
    return {"events": events}


# --- the oracle -------------------------------------------------------------------------------
def label(value: str | None) -> str:
    """A name as a label value (the guard's documented truncation; empty is ``unknown``)."""
    return value[:MAX_VALUE_LENGTH] if value else UNKNOWN_VALUE


def bad_fields(event: Any, now: float) -> set[str]:
    """The fields the ingest must name for ``event`` (``""``: the event as a whole)."""
    if not isinstance(event, dict):
        return {""}
    kind = event.get("type")
    if kind not in _CHECKS:
        return {"type"}
    checks = _CHECKS[kind]
    bad = {k for k in event if k not in checks and k != "type"}  # unknown fields
    for name, (required, ok) in checks.items():
        value = event.get(name)  # left out, or an explicit null
        if (value is None and required) or (value is not None and not ok(value)):
            bad.add(name)
    if bad:
        return bad
    if "input_tokens" in checks:
        bad |= _token_split(event)
    if kind == "decision":
        bad |= _decision_rules(event, now)
    return bad


def _token_split(e: dict[str, Any]) -> set[str]:
    i, o, t = e.get("input_tokens"), e.get("output_tokens"), e.get("total_tokens")
    if t is None:
        return set()
    known = (i or 0) + (o or 0)
    return {"total_tokens"} if known > t else set()


_RECORD_ONLY = ("workflow_id", "timestamp")


def _decision_rules(e: dict[str, Any], now: float) -> set[str]:
    bad = set()
    if e.get("chosen_option") is None:
        if any(e.get(f) is not None for f in _RECORD_ONLY):
            bad.add("chosen_option")
    elif e.get("confidence") is None:
        bad.add("confidence")
    if e.get("timestamp") is not None and not time_ok(e["timestamp"], now):
        bad.add("timestamp")
    return bad


def _ok_status(v: Any) -> bool:
    return v in ("success", "error")


def _name(v: Any) -> bool:
    return name_ok(v)


def _record_name(v: Any) -> bool:
    return name_ok(v, MAX_NAME)


def _seconds(v: Any) -> bool:
    return figure_ok(v, MAX_DURATION_SECONDS)


def _usd(v: Any) -> bool:
    return figure_ok(v, MAX_COST_USD)


def _confidence(v: Any) -> bool:
    return figure_ok(v, 1.0)


_TOKENS = {k: (False, tokens_ok) for k in ("input_tokens", "output_tokens", "total_tokens")}
_CHECKS: dict[str, dict[str, tuple[bool, Any]]] = {
    "agent_call": {
        "agent": (True, _name),
        "status": (True, _ok_status),
        "duration_seconds": (True, _seconds),
        "model": (False, _name),
        "cost_usd": (False, _usd),
        "trace_id": (False, trace_id_ok),
        **_TOKENS,
    },
    "tool_call": {
        "agent": (False, _name),
        "tool": (True, _name),
        "status": (True, _ok_status),
        "duration_seconds": (True, _seconds),
        "trace_id": (False, trace_id_ok),
    },
    "handoff": {"source_agent": (True, _name), "target_agent": (True, _name)},
    "decision": {
        "agent": (True, _record_name),
        "decision_type": (True, _record_name),
        "confidence": (False, _confidence),
        "chosen_option": (False, _record_name),
        "workflow_id": (False, _record_name),
        "timestamp": (False, iso_ok),
    },
    "routing_outcome": {
        "agent": (True, _name),
        "outcome": (True, lambda v: v in ("correct", "incorrect")),
    },
    "usage": {
        "agent": (True, _name),
        "model": (False, _name),
        "cost_usd": (False, _usd),
        **_TOKENS,
    },
    "anomaly": {"agent": (True, _name), "anomaly": (True, _name)},
}

#: Families whose every change is predicted, label by label.
EXACT = {
    "agent_calls_total",
    "agent_tool_calls_total",
    "agent_handoffs_total",
    "agent_decisions_total",
    "agent_routing_outcomes_total",
    "agent_latency_seconds_count",
    "agent_tool_call_seconds_count",
    "agent_decision_confidence_count",
    "sloguard_ingest_items_total",
}
#: Families whose total change is predicted (labels by model and direction aside).
SUMMED = {
    "agent_token_usage_total",
    "agent_cost_usd_total",
    "agent_latency_seconds_sum",
    "agent_tool_call_seconds_sum",
    "agent_decision_confidence_sum",
    "sloguard_unpriced_tokens_total",
}
#: Families that move with the above without a prediction of their own.
LOOSE = {
    "agent_latency_seconds_bucket",
    "agent_tool_call_seconds_bucket",
    "agent_decision_confidence_bucket",
    "agent_anomalies_total",
}


def _tokens(e: dict[str, Any]) -> int:
    i, o, t = e.get("input_tokens"), e.get("output_tokens"), e.get("total_tokens")
    if i is not None and o is not None:
        return int(i + o)
    if t is not None:
        return int(t)
    return int(i or o or 0)


def expected(events: list[dict[str, Any]]) -> tuple[dict[Any, float], dict[str, float]]:
    """Changes by (name, labels) of the EXACT families, and by family of the SUMMED ones."""
    exact: defaultdict[Any, float] = defaultdict(float)
    summed: defaultdict[str, float] = defaultdict(float)

    def inc(name: str, n: float = 1, **labels: str) -> None:
        exact[(name, tuple(sorted(labels.items())))] += n

    for e in events:
        kind, agent = e["type"], label(e.get("agent"))
        if kind in ("agent_call", "usage"):
            tokens = _tokens(e)
            summed["agent_token_usage_total"] += tokens
            if e.get("cost_usd") is not None:
                summed["agent_cost_usd_total"] += e["cost_usd"]
            elif tokens:
                summed["sloguard_unpriced_tokens_total"] += tokens
        if kind == "agent_call":
            inc("agent_calls_total", agent_name=agent, status=e["status"])
            inc("agent_latency_seconds_count", agent_name=agent)
            summed["agent_latency_seconds_sum"] += e["duration_seconds"]
        elif kind == "tool_call":
            tool = label(e["tool"])
            inc("agent_tool_calls_total", agent_name=agent, tool_name=tool, status=e["status"])
            inc("agent_tool_call_seconds_count", agent_name=agent, tool_name=tool)
            summed["agent_tool_call_seconds_sum"] += e["duration_seconds"]
        elif kind == "handoff":
            inc(
                "agent_handoffs_total",
                source_agent=label(e["source_agent"]),
                target_agent=label(e["target_agent"]),
            )
        elif kind == "decision":
            kind_label = label(e["decision_type"])
            inc("agent_decisions_total", agent_name=agent, decision_type=kind_label)
            if e.get("confidence") is not None:
                inc("agent_decision_confidence_count", agent_name=agent, decision_type=kind_label)
                summed["agent_decision_confidence_sum"] += e["confidence"]
        elif kind == "routing_outcome":
            inc("agent_routing_outcomes_total", agent_name=agent, outcome=e["outcome"])
    if events:
        inc("sloguard_ingest_items_total", len(events), endpoint="events")
    return dict(exact), summed


# --- the property -----------------------------------------------------------------------------
def test_an_event_batch_is_recorded_exactly_or_refused_whole(tmp_path: Path) -> None:
    fuzzed = fuzzed_app(tmp_path)
    outcomes: Counter[int] = Counter()
    with Caller(fuzzed.app) as call:

        @given(body=batches())
        @settings(
            max_examples=150,
            derandomize=True,
            deadline=None,
            database=None,
            # large_base_example / data_too_large: batches of up to 22 events with long strings
            # are the point; too_slow: every example is a request plus two /metrics snapshots.
            suppress_health_check=[
                HealthCheck.too_slow,
                HealthCheck.data_too_large,
                HealthCheck.large_base_example,
            ],
        )
        def check(body: Any) -> None:
            _check_one(fuzzed, call, body, outcomes)

        check()
    # the generated batches reach every answer: accepted, refused, malformed
    assert min(outcomes[200], outcomes[422], outcomes[400]) >= 5, outcomes


def _check_one(fuzzed: Fuzzed, call: Caller, body: Any, outcomes: Counter[int]) -> None:
    before_metrics, before_store = snapshot(fuzzed)
    stats = fuzzed.store.stats()
    now = time.time()
    r = call(
        "POST",
        "/v1/events",
        content=edges.encode(body),
        headers={**AUTH, "Content-Type": "application/json"},
    )
    events = body["events"]
    bad = {i: bad_fields(e, now) for i, e in enumerate(events)}
    bad = {i: f for i, f in bad.items() if f}
    assert r.status_code < 500, r.text
    event(f"{r.status_code} ({'bad' if bad else 'good'} events)")
    outcomes[r.status_code] += 1
    if edges.malformed(body):
        assert r.status_code == 400, r.text
    elif len(events) > MAX_ITEMS:
        assert r.status_code == 422, r.text
        assert "events" in {p["field"] for p in r.json()["problems"]}, r.text
    elif bad:
        assert r.status_code == 422, (bad, r.text)
        problems = r.json()["problems"]
        assert {p["item"] for p in problems} == set(bad), (bad, r.text)
        for i, fields in bad.items():
            named = {p["field"] for p in problems if p["item"] == i}
            for field in fields:
                where = f"events[{i}].{field}" if field else f"events[{i}]"
                assert any(n == where or n.startswith(where + ".") for n in named), (
                    where,
                    named,
                    events[i],
                )
    else:
        assert r.status_code == 200, (events, r.text)
        assert r.json() == {"accepted": len(events)}
        _recorded_exactly(fuzzed, events, before_metrics, stats)
        return
    assert snapshot(fuzzed) == (before_metrics, before_store), "a refused batch changed state"


def _recorded_exactly(
    fuzzed: Fuzzed, events: list[dict[str, Any]], before: Any, stats: Any
) -> None:
    after, _ = snapshot(fuzzed)
    changed = delta(before, after)
    exact, summed = expected(events)
    got_exact = {k: v for k, v in changed.items() if k[0] in EXACT}
    assert got_exact == dict(exact), (got_exact, dict(exact))
    for name in SUMMED:
        got = sum(v for k, v in changed.items() if k[0] == name)
        assert math.isclose(got, summed[name], rel_tol=1e-9, abs_tol=1e-6), (name, got, summed)
    others = {k for k in changed if k[0] not in EXACT | SUMMED | LOOSE}
    assert not others, others
    reported = sum(1 for e in events if e["type"] == "anomaly")
    counted = sum(v for k, v in changed.items() if k[0] == "agent_anomalies_total")
    now = fuzzed.store.stats()
    # every event is stored, and so is every anomaly detected in a decision chain
    assert now.events - stats.events == len(events) + (counted - reported)
    records = sum(1 for e in events if e["type"] == "decision" and e.get("chosen_option"))
    assert 0 <= now.decisions - stats.decisions <= records
