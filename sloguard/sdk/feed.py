"""Map a completed trace step onto the recorder (used by the SDK and, later, the ingest API).

- AGENT step  → agent call (count, latency, tokens, cost); nested in another agent → handoff;
- TOOL step   → tool call under the enclosing agent (else the enclosing host, else ``unknown``);
- HOST step   → only its own tokens/cost, attributed to the host name;
- trace root  → one end-to-end run of the workflow named after the root step
  (:func:`feed_run`): failed when the root or any agent step failed (a tool error the agent
  handled is not a failed run), its duration the root's, its cost and tokens the sum of every
  step's own (nested callee traces included); a run without any usage observes neither.
"""

from __future__ import annotations

from collections.abc import Iterable

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
    """Record every step of a completed trace, nested callee traces included, and its run
    (:func:`feed_run`); return the number of steps."""
    n = 0
    for step in trace.walk():
        feed_step(recorder, step, exemplars=exemplars)
        n += 1
    feed_run(recorder, trace, exemplars=exemplars)
    return n


def run_figures(steps: Iterable[TraceRecord]) -> tuple[bool, float | None, int | None]:
    """(an agent step failed, summed cost, summed tokens) of a run's steps; None: none given."""
    agent_failed = False
    cost: float | None = None
    tokens: int | None = None
    for step in steps:
        agent_failed = agent_failed or (step.call_type is CallType.AGENT and step.failed)
        if step.cost is not None:
            cost = (cost or 0.0) + step.cost
        i, o, t = step.input_tokens, step.output_tokens, step.total_tokens
        n = (i or 0) + (o or 0) if i is not None or o is not None else t
        if n is not None:
            tokens = (tokens or 0) + n
    return agent_failed, cost, tokens


def feed_run(recorder: Recorder, trace: ResponseTrace, *, exemplars: bool = True) -> None:
    """Record the end-to-end run of a completed ``trace`` (see above); none without steps.

    A trace with several root steps is one run named after the first, from the earliest start
    to the latest end of its roots.
    """
    roots = trace.children(None)
    if not roots:
        return
    agent_failed, cost, tokens = run_figures(trace.walk())
    failed = agent_failed or any(r.failed for r in roots)
    if len(roots) == 1:
        duration = roots[0].duration or 0.0
    else:
        ends = [r.end_time for r in roots if r.end_time is not None]
        start = min(r.start_time for r in roots)
        duration = max((max(ends) - start).total_seconds(), 0.0) if ends else 0.0
    recorder.workflow_run(
        roots[0].name,
        Status.ERROR if failed else Status.SUCCESS,
        duration,
        cost=cost,
        tokens=tokens,
        trace_id=trace.trace_id if exemplars else None,
    )
