"""``POST /v1/a2a/traces``: A2A traceability ResponseTrace JSON → the recorder (DESIGN §5).

The body is one of:

- a trace in either shape :func:`~sloguard.sdk.traceparse.parse_trace` reads (the sample
  library's flat steps, or the spec's nested ``step_action`` with callee traces inside;
  snake_case or camelCase keys): ``{"trace_id": "…", "steps": [...]}``;
- the metadata wrapper found in A2A Message/Artifact/status ``metadata``:
  ``{"github.com/a2aproject/a2a-samples/extensions/traceability/v1/traceability": <trace>}``
  (other metadata keys are ignored);
- a list of those, or ``{"traces": [...]}``.

Every step goes through :func:`~sloguard.sdk.feed.feed_step`, the one mapping from steps to
metrics the SDK uses too: agent steps count calls, latency, tokens and cost (and a handoff when
nested under another agent), tool steps count tool calls under their enclosing agent. A step
reported without ``cost`` is priced from the pricing table.

Every step, those of nested callee traces included, is checked against the bounds of
:mod:`.bounds` (cost, tokens, latency, start and end times within a window of ``now``), and so
is the id of each trace: a value out of bounds is a problem named by its field, as
``steps[2].latency``.

Step ``parameters`` and ``requests`` (which may hold credentials) are dropped as soon as a trace
is parsed: the ingest keeps metrics only, so nothing of them can be stored, logged or exported.
(Redacting them instead cost 40% of the ingest time, for data thrown away right after.) Step
``additional_attributes``, which the trace store keeps, are redacted as soon as a trace is
parsed, with the SDK's sensitive keys (``gen_ai.*`` model and token attributes are not).

Example::

    batch = Batch(dry_run_recorder(), load_pricing())
    result = plan_traces(orjson.loads(body), batch, limits=TraceLimits())
    batch.raise_problems()
    batch.commit(recorder, metrics)
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from sloguard.conventions import A2A_METRICS_RECORDED_ATTR
from sloguard.conventions import A2A_TRACEABILITY_METADATA_KEY as METADATA_KEY
from sloguard.errors import TraceError
from sloguard.ingest import bounds
from sloguard.ingest.batch import Batch
from sloguard.ingest.intake import IngestResult
from sloguard.ingest.problems import Rejected, problem
from sloguard.sdk.feed import feed_run, feed_step
from sloguard.sdk.recorder import Recorder
from sloguard.sdk.redact import Redactor
from sloguard.sdk.trace import ResponseTrace, TraceRecord, parse_trace

#: Longest trace id kept as an exemplar (prometheus_client allows 128 characters in all).
MAX_EXEMPLAR_ID = 120
_NESTED = "step_action.agent_invocation.response_trace."
#: Recorder argument → where that value sits in a step (to locate recorder-level problems).
_STEP_FIELDS = {
    "duration": "latency",
    "cost": "cost",
    "total_tokens": "total_tokens",
    "input_tokens": "additional_attributes.gen_ai.usage.input_tokens",
    "output_tokens": "additional_attributes.gen_ai.usage.output_tokens",
    "model": "additional_attributes.gen_ai.request.model",
    "agent_name": "name",
    "tool_name": "name",
}
#: Redacts step attributes as a trace comes in (the same sensitive keys as the SDK).
_REDACTOR = Redactor()
_PROBLEM_START = re.compile(r"; (?=[A-Za-z_][\w.\[\]]*: )")
_PATH = re.compile(r"[\w.\[\]]+")


@dataclass(frozen=True, slots=True)
class TraceLimits:
    """Bounds of one request: traces, nesting of callee traces, steps per trace."""

    max_items: int = 1000
    max_depth: int = 8
    max_steps: int = 10_000


class TraceResult(IngestResult):
    """The answer to an accepted batch of traces (``accepted``: traces recorded)."""

    steps: int
    """Steps recorded, those of nested callee traces included."""


def trace_items(data: Any) -> list[tuple[str, Any]]:
    """Return ``(path prefix, raw trace)`` for every trace in a request body."""
    if isinstance(data, list):
        return [_unwrap(f"[{i}].", x) for i, x in enumerate(data)]
    if isinstance(data, dict):
        if set(data) == {"traces"}:
            traces = data["traces"]
            if not isinstance(traces, list):
                raise Rejected.invalid([problem(None, "traces", "must be a list of traces")])
            return [_unwrap(f"traces[{i}].", x) for i, x in enumerate(traces)]
        return [_unwrap("", data)]
    raise Rejected.invalid(
        [
            problem(
                None,
                "",
                'body must be a trace object, a list of traces or {"traces": [...]}, '
                f"got {type(data).__name__}",
            )
        ]
    )


def _unwrap(prefix: str, item: Any) -> tuple[str, Any]:
    if isinstance(item, dict) and METADATA_KEY in item:
        return f"{prefix}{METADATA_KEY}.", item[METADATA_KEY]
    return prefix, item


def plan_traces(
    data: Any,
    batch: Batch,
    *,
    limits: TraceLimits,
    keep: list[ResponseTrace] | None = None,
    now: float | None = None,
) -> TraceResult:
    """Parse every trace of ``data`` and plan its steps into ``batch`` (problems noted there).

    ``now`` (unix seconds, default: the clock) bounds the steps' times (see :mod:`.bounds`).
    """
    if now is None:
        now = time.time()
    items = trace_items(data)
    if len(items) > limits.max_items:
        raise Rejected.invalid(
            [problem(None, "", f"{len(items)} traces in one request; at most {limits.max_items}")]
        )
    steps = 0
    for i, (prefix, raw) in enumerate(items):
        trace = _parse(i, prefix, raw, batch, limits, now)
        if trace is not None:
            _redact_attributes(trace)
            _check_bounds(i, prefix, trace, batch, now, raw)
        if trace is not None and keep is not None:
            keep.append(trace)
        # A trace whose agent already recorded its metrics (the SDK's exporter marks its root
        # steps) is stored but not counted again.
        if trace is not None and not _recorded_elsewhere(trace):
            steps += _plan_steps(i, prefix, trace, batch)
    return TraceResult(accepted=len(items), steps=steps)


def _parse(
    item: int, prefix: str, raw: Any, batch: Batch, limits: TraceLimits, now: float
) -> ResponseTrace | None:
    if isinstance(raw, Mapping) and "steps" not in raw:
        batch.problem(
            item, f"{prefix}steps", 'required: a trace is {"trace_id": …, "steps": [...]}'
        )
        return None
    try:
        return parse_trace(raw, max_depth=limits.max_depth, max_steps=limits.max_steps)
    except TraceError as exc:
        problems = split_problems(exc)
        for path, message in problems:
            batch.problem(item, _join(prefix, path), message)
        _bounds_beside(item, prefix, raw, [path for path, _ in problems], batch, limits, now)
    except (ArithmeticError, ValueError, TypeError) as exc:  # values the parser cannot hold
        batch.problem(item, prefix.rstrip("."), f"cannot be parsed: {type(exc).__name__}: {exc}")
    return None


_TOP_STEP = re.compile(r"steps\[(\d+)\]")


def _bounds_beside(
    item: int,
    prefix: str,
    raw: Any,
    unread: list[str],
    batch: Batch,
    limits: TraceLimits,
    now: float,
) -> None:
    """List the problems of the steps that could be read, beside those that could not: the
    trace is read again with each unreadable top-level step blanked (indices kept)."""
    found = [_TOP_STEP.match(p) for p in unread]
    if not found or not all(found) or not isinstance(raw, Mapping):
        return  # a problem outside the steps (the trace id, the shape): nothing more to read
    blank = {int(m.group(1)) for m in found if m}
    steps = raw.get("steps")
    if not isinstance(steps, list):
        return
    patched = {
        **raw,
        "steps": [{"call_type": "HOST"} if j in blank else s for j, s in enumerate(steps)],
    }
    try:
        trace = parse_trace(patched, max_depth=limits.max_depth, max_steps=limits.max_steps)
    except (TraceError, ArithmeticError, ValueError, TypeError):
        return
    _check_bounds(item, prefix, trace, batch, now, patched)
    # and what the recorder would refuse (the batch is refused already: nothing is recorded)
    _plan_steps(item, prefix, trace, batch)


def split_problems(exc: TraceError) -> list[tuple[str, str]]:
    """Return ``(path, message)`` for every problem :func:`parse_trace` listed in ``exc``."""
    out = []
    for part in _PROBLEM_START.split(str(exc).removeprefix("invalid trace: ")):
        path, sep, message = part.partition(": ")
        out.append((path, message) if sep and _PATH.fullmatch(path) else ("", part))
    return out


def _join(prefix: str, path: str) -> str:
    return f"{prefix}{path}" if path else prefix.rstrip(".")


def _recorded_elsewhere(trace: ResponseTrace) -> bool:
    """True when the callee's own sloguard already recorded this trace's metrics."""
    return any(
        s.parent_step_id is None and s.additional_attributes.get(A2A_METRICS_RECORDED_ATTR)
        for s in trace.steps
    )


def _walk(trace: ResponseTrace, prefix: str) -> Iterator[tuple[str, TraceRecord, bool]]:
    """Yield ``(path, step, handoff_only)`` in walk order, nested callee traces too.

    A step whose callee trace was recorded by the callee's sloguard contributes only its handoff,
    and that callee trace is not walked (the same rule as ``wrap_client``).
    """
    for j, step in enumerate(trace.steps):
        path = f"{prefix}steps[{j}]"
        nested = step.response_trace
        elsewhere = nested is not None and _recorded_elsewhere(nested)
        yield path, step, elsewhere
        if nested is not None and not elsewhere:
            yield from _walk(nested, f"{path}.{_NESTED}")


def _all_steps(trace: ResponseTrace, prefix: str) -> Iterator[tuple[str, TraceRecord]]:
    """Yield ``(path, step)`` for every step, those of every nested callee trace included."""
    for j, step in enumerate(trace.steps):
        path = f"{prefix}steps[{j}]"
        yield path, step
        if step.response_trace is not None:
            yield from _all_steps(step.response_trace, f"{path}.{_NESTED}")


def _redact_attributes(trace: ResponseTrace) -> None:
    """Redact every step's attributes, callee traces' too: nothing unredacted is kept."""
    for _, step in _all_steps(trace, ""):
        if step.additional_attributes:
            step.additional_attributes = _REDACTOR.clean(step.additional_attributes)


def _check_bounds(
    item: int, prefix: str, trace: ResponseTrace, batch: Batch, now: float, raw: Any
) -> None:
    """Note every value of ``trace`` out of the bounds of :mod:`.bounds`, and a bad trace id."""
    bad_id = bounds.trace_id_problem(trace.trace_id)
    if bad_id is not None:
        batch.problem(item, f"{prefix}trace_id", bad_id)
    for path, step in _all_steps(trace, ""):
        given = _start_given(raw, path)
        for field, why in _step_problems(step, now, given):
            batch.problem(item, f"{prefix}{path}.{field}", why)


def _start_given(raw: Any, path: str) -> bool:
    """Whether the request gave the step at ``path`` (``steps[0].….steps[1]``) a start time:
    the parser reads a missing one as the epoch, which is then "unknown", not out of bounds."""
    node = raw
    for part in path.split("."):
        name, _, index = part.partition("[")
        node = node.get(name) if isinstance(node, Mapping) else None
        if index:
            j = int(index.rstrip("]"))
            node = node[j] if isinstance(node, list) and j < len(node) else None
    return isinstance(node, Mapping) and node.get("start_time") not in (None, "")


def _step_problems(step: TraceRecord, now: float, start_given: bool) -> Iterator[tuple[str, str]]:
    if step.cost is not None and step.cost > bounds.MAX_COST_USD:
        yield "cost", f"must be at most {bounds.MAX_COST_USD:.0f} USD, got {step.cost:g}"
    for field, tokens in (
        ("total_tokens", step.total_tokens),
        (_STEP_FIELDS["input_tokens"], step.input_tokens),
        (_STEP_FIELDS["output_tokens"], step.output_tokens),
    ):
        if tokens is not None and tokens > bounds.MAX_TOKENS:
            yield field, f"must be at most 10^12 tokens, got {tokens:g}"
    if step.duration is not None and (late := bounds.duration_problem(step.duration)):
        yield "latency", late
    # A step without a start time starts at the epoch (unknown): only its end is bounded.
    start = step.start_time.timestamp()
    if (start != 0 or start_given) and (why := bounds.time_problem(start, now)):
        yield "start_time", why
    if step.end_time is not None:
        end = step.end_time.timestamp()
        if start == 0:
            why = bounds.time_problem(max(end, bounds.EARLIEST_TIME), now)
        else:
            why = bounds.time_problem(end, now) or bounds.duration_problem(end - start)
        if why is not None:
            yield "end_time", why


def _handoff_only(recorder: Recorder, *, step: TraceRecord) -> None:
    if step.scope_agent is not None and step.scope_agent != step.name:
        recorder.handoff(step.scope_agent, step.name)


def _plan_steps(item: int, prefix: str, trace: ResponseTrace, batch: Batch) -> int:
    n = 0
    for path, step, handoff_only in _walk(trace, prefix):
        if handoff_only:
            batch.add(item, path, partial(_handoff_only, step=step), _STEP_FIELDS)
            n += 1
            continue
        step.parameters = {}
        step.requests = None
        if step.cost is None:
            step.cost = batch.cost(
                step.model, step.input_tokens, step.output_tokens, step.total_tokens
            )
        exemplars = len(step.trace_id) <= MAX_EXEMPLAR_ID
        batch.add(item, path, partial(feed_step, step=step, exemplars=exemplars), _STEP_FIELDS)
        n += 1
    exemplars = len(trace.trace_id) <= MAX_EXEMPLAR_ID
    batch.add(item, f"{prefix}steps", partial(feed_run, trace=trace, exemplars=exemplars))
    return n
