"""Map a completed trace step onto the recorder (used by the SDK and, later, the ingest API).

- AGENT step  → agent call (count, latency, tokens, cost); nested in another agent → handoff;
- TOOL step   → tool call under the enclosing agent (else the enclosing host, else ``unknown``);
- HOST step   → only its own tokens/cost, attributed to the host name.
"""

from __future__ import annotations

from sloguard.conventions import UNKNOWN_VALUE, CallType, Status
from sloguard.sdk.recorder import Recorder
from sloguard.sdk.trace import ResponseTrace, TraceRecord


def feed_step(recorder: Recorder, step: TraceRecord, *, exemplars: bool = True) -> None:
    """Record one completed step."""
    status = Status.ERROR if step.failed else Status.SUCCESS
    duration = step.duration or 0.0
    trace_id = step.trace_id if exemplars else None
    if step.call_type is CallType.AGENT:
        recorder.agent_call(
            step.name,
            status,
            duration,
            model=step.model,
            input_tokens=step.input_tokens,
            output_tokens=step.output_tokens,
            total_tokens=step.total_tokens,
            cost=step.cost,
            trace_id=trace_id,
        )
        if step.scope_agent is not None and step.scope_agent != step.name:
            recorder.handoff(step.scope_agent, step.name)
        return
    owner = step.scope_agent or step.scope_host or UNKNOWN_VALUE
    if step.call_type is CallType.TOOL:
        recorder.tool_call(owner, step.name, status, duration, trace_id=trace_id)
    else:
        owner = step.name
    if step.cost is not None or step.total_tokens is not None:
        recorder.usage(
            owner,
            step.model,
            input_tokens=step.input_tokens,
            output_tokens=step.output_tokens,
            total_tokens=step.total_tokens,
            cost=step.cost,
        )


def feed_trace(recorder: Recorder, trace: ResponseTrace, *, exemplars: bool = True) -> int:
    """Record every step of a completed trace, nested callee traces included; return the count."""
    n = 0
    for step in trace.walk():
        feed_step(recorder, step, exemplars=exemplars)
        n += 1
    return n
