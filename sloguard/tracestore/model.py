"""What the trace store keeps of one trace: its summary, its agents and its encoded body.

Pure: traces in, values out. :class:`~sloguard.tracestore.store.TraceStore` writes them.

The body is the trace's JSON (``ResponseTrace.as_dict()``, parameters and requests redacted)
compressed with zlib. Trace JSON repeats keys, ids and timestamps on every step: on the
workload of ``bench/tracestore.py`` level 1 shrinks it 6.3× (433 → 69 bytes a step) in about
28 µs a trace; level 6 gets 7.0× but takes half as long again. Bodies written by the first
version are plain JSON text; :func:`decode_body` reads both.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, TypeVar

import orjson

from sloguard.conventions import CallType
from sloguard.sdk.redact import Redactor
from sloguard.sdk.trace import ResponseTrace, TraceRecord, parse_trace

Status = Literal["ok", "error"]
STATUSES: tuple[Status, ...] = ("ok", "error")

#: zlib level of stored trace bodies (see the module docstring).
COMPRESSION_LEVEL = 1

_K = TypeVar("_K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class TraceSummary:
    """One stored trace without its steps: what ``trace list`` shows."""

    trace_id: str
    started_at: float
    """Unix seconds of the earliest step start."""
    agent: str
    """The first agent of the trace (its root agent), ``""`` when it has no agent step."""
    status: Status
    steps: int
    """Steps in all, those of nested callee traces included."""
    cost: float | None

    def as_dict(self) -> dict[str, Any]:
        """Return the summary as JSON-friendly values."""
        return asdict(self)


def _agent_of(step: TraceRecord) -> str | None:
    return step.name if step.call_type is CallType.AGENT else step.scope_agent


def root_agent(trace: ResponseTrace) -> str:
    """Return the outermost agent of ``trace``: of the agent steps with the fewest ancestors, the
    earliest started (``""`` without agent steps; callee traces are looked into only when the
    trace itself has none). Steps are listed in the order they *ended*, so the first agent step
    listed is usually the innermost one. (The call tree would give the same answer at ten times
    the cost; this runs on every stored trace.)"""
    by_id = {s.step_id: s for s in trace.steps}
    known: dict[str, int] = {}  # depth of every step walked through: each is walked once

    def depth(step: TraceRecord) -> int:
        path, seen = [step.step_id], {step.step_id}
        while step.step_id not in known and step.parent_step_id in by_id:
            if step.parent_step_id in seen:  # a parent cycle (bad data): counted, not kept
                return len(path) - 1
            step = by_id[step.parent_step_id]
            path.append(step.step_id)
            seen.add(step.step_id)
        d = known.get(path[-1], 0)
        for k, sid in enumerate(reversed(path)):
            known.setdefault(sid, d + k)
        return known[path[0]]

    agents = [s for s in trace.steps if s.call_type is CallType.AGENT]
    if agents:
        return min(agents, key=lambda s: (depth(s), s.start_time)).name
    for s in trace.steps:
        if s.response_trace is not None and (name := root_agent(s.response_trace)):
            return name
    return ""


def summarize(trace: ResponseTrace) -> TraceSummary:
    """Return the summary of ``trace`` (callee traces nested in agent invocations included)."""
    steps = list(trace.walk())
    costs = [s.cost for s in steps if s.cost is not None]
    return TraceSummary(
        trace_id=trace.trace_id,
        started_at=min((s.start_time.timestamp() for s in steps), default=0.0),
        agent=root_agent(trace),
        status="error" if any(s.failed for s in steps) else "ok",
        steps=len(steps),
        cost=sum(costs) if costs else None,
    )


def agent_rows(trace: ResponseTrace) -> list[tuple[str, bool]]:
    """Return ``(agent, failed)`` for every agent that worked in ``trace``, in order of appearance.

    An agent's work is its own steps and the tool and host steps inside it; ``failed`` tells
    whether any of them failed.
    """
    failed: dict[str, bool] = {}
    for s in trace.walk():
        agent = _agent_of(s)
        if agent is not None:
            failed[agent] = failed.get(agent, False) or s.failed
    return list(failed.items())


def _storable_step(step: dict[str, Any], redactor: Redactor) -> dict[str, Any]:
    out = dict(step)
    out["parameters"] = redactor.clean(out.get("parameters"))
    requests = out.get("requests")
    if isinstance(requests, dict):
        out["requests"] = redactor.clean(requests)
    nested = out.pop("response_trace", None)
    if nested is not None:
        # The flat shape has no place for a callee trace: keep it as the spec's agent invocation.
        out["step_action"] = {
            "agent_invocation": {
                "agent_name": out.get("name"),
                "agent_url": out.pop("agent_url", None),
                "requests": out.get("requests"),
                "response_trace": storable(nested, redactor),
            }
        }
    return out


def storable(data: dict[str, Any], redactor: Redactor) -> dict[str, Any]:
    """Return ``ResponseTrace.as_dict()`` output with parameters and requests redacted.

    The result is what :func:`~sloguard.sdk.traceparse.parse_trace` reads back, callee traces
    included.
    """
    return {
        "trace_id": data["trace_id"],
        "steps": [_storable_step(s, redactor) for s in data.get("steps", [])],
    }


def encode_body(trace: ResponseTrace, redactor: Redactor) -> bytes:
    """Return the stored body of ``trace``: its redacted JSON, zlib-compressed."""
    data = storable(trace.as_dict(), redactor)
    text = orjson.dumps(data, default=str, option=orjson.OPT_NON_STR_KEYS)
    return zlib.compress(text, COMPRESSION_LEVEL)


def decode_body(body: bytes | str) -> ResponseTrace:
    """Return the trace of a stored body (zlib-compressed JSON, or JSON text of older files)."""
    text = body if isinstance(body, str) else zlib.decompress(body)
    return parse_trace(orjson.loads(text))


def overflow(oldest_first: Iterable[tuple[_K, int]], total: int, max_steps: int) -> list[_K]:
    """Return the keys of the oldest traces to drop so that at most ``max_steps`` steps remain.

    ``oldest_first`` yields ``(key, steps)`` per trace; ``total`` is the steps of all of them.
    """
    drop: list[_K] = []
    for key, steps in oldest_first:
        if total <= max_steps:
            break
        drop.append(key)
        total -= steps
    return drop


def checked_limit(limit: int) -> int:
    """``limit`` when it is an integer >= 1; else a ValueError (every listing's ``limit``)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be an integer >= 1, got {limit!r}")
    return limit


def checked_now(now: float) -> float:
    """``now`` as a float when it is finite unix seconds; else a ValueError."""
    if isinstance(now, bool) or not isinstance(now, int | float) or not math.isfinite(now):
        raise ValueError(f"now must be finite unix seconds, got {now!r}")
    return float(now)


def not_traces(traces: Sequence[object]) -> list[str]:
    """The problems of a batch to store: each item that is not a :class:`ResponseTrace`."""
    return [
        f"traces[{i}]: expected a ResponseTrace, got {type(t).__name__}"
        for i, t in enumerate(traces)
        if not isinstance(t, ResponseTrace)
    ]
