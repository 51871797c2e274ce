"""``POST /v1/traces`` (OTLP/HTTP JSON, and protobuf bytes) under generated span batches.

Agent spans (``invoke_agent``) whose ids, start and end times, ``sloguard.cost_usd`` and
``gen_ai.usage.input_tokens`` sit around the bounds of :mod:`sloguard.ingest.bounds` and past
them (2⁶⁴−1 nanoseconds, all-zero ids, NaN as protobuf JSON writes it, unparseable numbers).
Property: either 200, every span became one agent call, the cost moved by exactly the spans'
costs and every trace is stored; or 400 naming what is wrong (the OTLP answer lists messages,
each naming its field or attribute) and ``/metrics`` and the store did not change. Random bytes
as protobuf never get a 5xx and never change anything unless accepted.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import math
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format  # type: ignore[import-untyped,unused-ignore]
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)

from sloguard.ingest.bounds import (
    EARLIEST_TIME,
    MAX_AHEAD_SECONDS,
    MAX_COST_USD,
    MAX_DURATION_SECONDS,
    MAX_TOKENS,
)
from tests.fuzz import edges
from tests.fuzz.fuzzapp import AUTH, RUN_SERIES, Caller, Fuzzed, delta, fuzzed_app, snapshot

NS = 10**9
COST = "sloguard.cost_usd"
INPUT = "gen_ai.usage.input_tokens"
U64 = 2**64 - 1
NOW = time.time()
GOOD_TRACE = "5b8efff798038103d269b633813fc60c"
IDS = st.sampled_from([GOOD_TRACE, "0" * 32, "zz" * 16, "ab", ""])
#: ``GOOD_SPAN`` becomes a span id unique in its batch (see :func:`batches`).
GOOD_SPAN = "good"
SPAN_IDS = st.sampled_from([GOOD_SPAN, GOOD_SPAN, "0" * 16, "e" * 15, ""])
#: Nanosecond times as OTLP JSON writes them (strings), around both ends of the window.
TIMES = st.sampled_from(
    [
        int(EARLIEST_TIME * NS),
        int(EARLIEST_TIME * NS) - 1000,
        int((NOW - 3600) * NS),
        int((NOW + MAX_AHEAD_SECONDS - 600) * NS),
        int((NOW + MAX_AHEAD_SECONDS + 600) * NS),
        U64,
        0,
    ]
)
DURATIONS = st.sampled_from(
    [0, NS, int(MAX_DURATION_SECONDS * NS), int(MAX_DURATION_SECONDS * NS) + NS]
)


def _attr(key: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"key": key, "value": value}


COSTS: st.SearchStrategy[dict[str, Any]] = st.one_of(
    edges.COSTS.filter(lambda v: type(v) in (int, float)).map(lambda v: {"doubleValue": v}),
    st.sampled_from([{"doubleValue": "NaN"}, {"doubleValue": "Infinity"}, {"stringValue": "1"}]),
)
TOKENS: st.SearchStrategy[dict[str, Any]] = st.one_of(
    st.sampled_from([0, 1, MAX_TOKENS, MAX_TOKENS + 1, -1, 2**63 - 1]).map(
        lambda n: {"intValue": str(n)}
    ),
    st.sampled_from([{"intValue": "x"}, {"intValue": str(2**64)}, {"doubleValue": 5.0}]),
)


@st.composite
def spans(draw: st.DrawFn) -> dict[str, Any]:
    start = draw(TIMES)
    end = draw(st.one_of(TIMES, DURATIONS.map(lambda d: start + d)))
    attributes = [
        _attr("gen_ai.operation.name", {"stringValue": "invoke_agent"}),
        _attr(
            "gen_ai.agent.name",
            {"stringValue": draw(st.one_of(st.just("planner"), edges.ODD_TEXT))},
        ),
    ]
    if draw(st.booleans()):
        attributes.append(_attr(COST, draw(COSTS)))
    if draw(st.booleans()):
        attributes.append(_attr(INPUT, draw(TOKENS)))
    return {
        "traceId": draw(IDS),
        "spanId": draw(SPAN_IDS),
        "name": "invoke_agent planner",
        "kind": 1,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(end),
        "attributes": attributes,
    }


@st.composite
def batches(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Up to 5 spans: mixed, or (one time in two) only the spans the oracle passes."""
    batch = draw(st.lists(spans(), max_size=5))
    for k, span in enumerate(batch):
        if span["spanId"] == GOOD_SPAN:
            span["spanId"] = f"{k + 1:016x}"
    if draw(st.booleans()):
        batch = [
            s
            for s in batch
            if not (undecodable(s) or span_problems(s) or figure_problems(s) or bad_json(s))
        ]
    return batch


def bad_json(span: dict[str, Any]) -> bool:
    return edges.malformed(span)


def body_of(spans_: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceSpans": [{"scopeSpans": [{"spans": spans_}]}]}


# --- the oracle -------------------------------------------------------------------------------
def _attrs(span: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["key"]: a["value"] for a in span["attributes"]}


def undecodable(span: dict[str, Any]) -> bool:
    """A value the OTLP JSON mapping cannot hold (the request is malformed as a whole)."""
    tokens = _attrs(span).get(INPUT, {}).get("intValue")
    if tokens is not None and not (tokens.lstrip("-").isdigit() and int(tokens) < 2**63):
        return True
    return int(span["endTimeUnixNano"]) > U64


def span_problems(span: dict[str, Any]) -> set[str]:
    """Names the answer must mention: ids and times first (their spans are not mapped)."""
    named = set()
    start, end = int(span["startTimeUnixNano"]), int(span["endTimeUnixNano"])
    if span["traceId"] != GOOD_TRACE:
        named.add("traceId")
    if len(span["spanId"]) != 16 or span["spanId"] == "0" * 16:
        named.add("spanId")
    if start == 0 or end == 0:
        named.add("startTimeUnixNano and endTimeUnixNano are required")
    elif end < start:
        named.add("endTimeUnixNano is before startTimeUnixNano")
    else:
        latest = time.time() + MAX_AHEAD_SECONDS
        if start / NS < EARLIEST_TIME:
            named.add("startTimeUnixNano")
        if end / NS > latest:
            named.add("endTimeUnixNano")
        if (end - start) / NS > MAX_DURATION_SECONDS:
            named.add("(the duration)")
    return named


def figure_problems(span: dict[str, Any]) -> set[str]:
    attrs, named = _attrs(span), set()
    cost = attrs.get(COST)
    if cost is not None:
        v = float(cost["doubleValue"]) if "doubleValue" in cost else math.nan  # a string: no
        if not (math.isfinite(v) and 0 <= v <= MAX_COST_USD):
            named.add(COST)
    tokens = attrs.get(INPUT, {}).get("intValue")
    if tokens is not None and not (tokens.isdigit() and int(tokens) <= MAX_TOKENS):
        named.add(INPUT)
    return named


def _cost(span: dict[str, Any]) -> float:
    cost = _attrs(span).get(COST, {})
    return float(cost["doubleValue"]) if "doubleValue" in cost else 0.0


MOVED = {
    "agent_calls_total",
    "agent_latency_seconds_count",
    "agent_latency_seconds_sum",
    "agent_latency_seconds_bucket",
    "agent_token_usage_total",
    "agent_cost_usd_total",
    "sloguard_unpriced_tokens_total",
    "sloguard_ingest_items_total",
    "agent_anomalies_total",
    "sloguard_otlp_traces_total",
    "sloguard_otlp_duplicate_spans_total",
} | RUN_SERIES  # every accepted trace is one end-to-end run


# --- the properties ---------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["json", "protobuf"])
def test_an_otlp_batch_is_recorded_exactly_or_refused_whole(tmp_path: Path, encoding: str) -> None:
    fuzzed = fuzzed_app(tmp_path)
    outcomes: Counter[int] = Counter()
    seen: set[str] = set()  # span ids accepted so far: sent again, they are an exporter's retry
    with Caller(fuzzed.app) as call:

        @given(batch=batches())
        @settings(
            max_examples=80,
            derandomize=True,
            deadline=None,
            database=None,
            # too_slow: every example is a request plus two /metrics snapshots, by design
            suppress_health_check=[HealthCheck.too_slow],
        )
        def check(batch: list[dict[str, Any]]) -> None:
            outcomes[_check_one(fuzzed, call, batch, encoding, seen)] += 1

        check()
    assert min(outcomes[200], outcomes[400]) >= 10, outcomes


def protobuf(body: dict[str, Any]) -> bytes | None:
    """The request as protobuf bytes, or None when the JSON mapping cannot hold it."""
    try:
        request = json_format.Parse(edges.encode(_base64_ids(body)), ExportTraceServiceRequest())
    except json_format.ParseError:
        return None
    data: bytes = request.SerializeToString()
    return data


def _base64_ids(body: dict[str, Any]) -> dict[str, Any]:
    """OTLP JSON's hex ids as protobuf's JSON mapping writes bytes (odd ones left as sent)."""
    body = copy.deepcopy(body)
    for span in body["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        for key in ("traceId", "spanId"):
            with contextlib.suppress(ValueError):
                span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
    return body


def _check_one(
    fuzzed: Fuzzed, call: Caller, batch: list[dict[str, Any]], encoding: str, seen: set[str]
) -> int:
    before = snapshot(fuzzed)
    content, kind = edges.encode(body_of(batch)), "application/json"
    if encoding == "protobuf" and (raw := protobuf(body_of(batch))) is not None:
        content, kind = raw, "application/x-protobuf"
    r = call("POST", "/v1/traces", content=content, headers={**AUTH, "Content-Type": kind})
    assert r.status_code < 500, r.text
    first = set().union(*(span_problems(s) for s in batch))
    named = first or set().union(*(figure_problems(s) for s in batch))
    if any(undecodable(s) or bad_json(s) for s in batch):
        assert r.status_code == 400, r.text
    elif named:
        assert r.status_code == 400, (named, r.text)
        messages = "\n".join(p["message"] for p in r.json()["problems"])
        for name in named:
            assert name in messages, (name, messages)
    else:
        assert r.status_code == 200, (batch, r.text)
        changed = delta(before[0], snapshot(fuzzed)[0])

        def total(name: str) -> float:
            return sum(v for k, v in changed.items() if k[0] == name)

        fresh = {s["spanId"]: s for s in batch if s["spanId"] not in seen}  # the first of each
        seen.update(fresh)
        new = list(fresh.values())
        assert total("agent_calls_total") == len(new)
        assert total("sloguard_ingest_items_total") == len(new)
        assert total("sloguard_otlp_duplicate_spans_total") == len(batch) - len(new)
        assert total("agent_workflow_runs_total") == (1 if new else 0)
        cost = sum(_cost(s) for s in new)
        assert math.isclose(total("agent_cost_usd_total"), cost, rel_tol=1e-9, abs_tol=1e-6)
        assert not {k for k in changed if k[0] not in MOVED}, changed
        if batch:
            assert fuzzed.store.get(GOOD_TRACE) is not None
        return 200
    assert snapshot(fuzzed) == before, "a refused batch changed state"
    return int(r.status_code)


def test_protobuf_bytes_never_5xx_and_change_nothing_unless_accepted(tmp_path: Path) -> None:
    fuzzed = fuzzed_app(tmp_path)
    with Caller(fuzzed.app) as call:

        @given(raw=st.binary(max_size=300))
        @settings(max_examples=100, derandomize=True, deadline=None, database=None)
        def check(raw: bytes) -> None:
            before = snapshot(fuzzed)
            r = call(
                "POST",
                "/v1/traces",
                content=raw,
                headers={**AUTH, "Content-Type": "application/x-protobuf"},
            )
            assert r.status_code in (200, 400), r.text
            if r.status_code == 400:
                assert r.json()["problems"], r.text
                assert snapshot(fuzzed) == before

        check()


# --- what the fuzz found, fixed: a span sent twice is recorded and counted once -------------
def test_a_span_sent_twice_in_one_request_is_counted_once(tmp_path: Path) -> None:
    """The first copy counts (calls and items alike); the second is a duplicate, counted in
    sloguard_otlp_duplicate_spans_total, as an exporter's retry of the same span would be."""
    fuzzed = fuzzed_app(tmp_path)
    start = int((time.time() - 3600) * NS)
    span = {
        "traceId": GOOD_TRACE,
        "spanId": "eee19b7ec3c1b174",
        "name": "invoke_agent planner",
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + NS),
        "attributes": [
            _attr("gen_ai.operation.name", {"stringValue": "invoke_agent"}),
            _attr("gen_ai.agent.name", {"stringValue": "planner"}),
        ],
    }
    before = snapshot(fuzzed)[0]
    with Caller(fuzzed.app) as call:
        r = call("POST", "/v1/traces", json=body_of([span, span]), headers=AUTH)
    assert r.status_code == 200, r.text
    changed = delta(before, snapshot(fuzzed)[0])
    calls = sum(v for k, v in changed.items() if k[0] == "agent_calls_total")
    items = sum(v for k, v in changed.items() if k[0] == "sloguard_ingest_items_total")
    duplicates = sum(v for k, v in changed.items() if k[0] == "sloguard_otlp_duplicate_spans_total")
    assert (calls, items, duplicates) == (1, 1, 1)
