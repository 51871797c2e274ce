"""One call to a remote A2A agent as a step of the caller's trace, and what it records.

:class:`RemoteCall` is the caller's AGENT step for one ``send_message`` of a traced client
(:mod:`sloguard.sdk.a2a.client`): opened in the caller's current trace (named by the agent card,
``agent_url`` set), fed every response (the callee's trace, task ids, a failed task), and closed
with the callee's trace nested as its ``response_trace``; the step listeners hear it open and end.

Metrics follow the counting rule of :mod:`sloguard.sdk.a2a.extension` (:func:`record_remote_call`):
when
the callee's trace says its sloguard recorded it
(:data:`~sloguard.sdk.a2a.extension.RECORDED_ATTR`), the
caller records only the handoff; otherwise it records the remote agent's call (latency as seen by
the caller, error on a raised exception or a failed task), the remote agent's own usage and the
callee's inner steps. The ``active_agents`` gauge is left to the process that runs the agent.

Example::

    call = RemoteCall(extension, "Weather Agent", "https://weather.example")
    try:
        async for response in stream:
            call.observe(response)
    finally:
        call.close(None)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sloguard.conventions import UNKNOWN_VALUE, CallType
from sloguard.errors import SloguardError, TraceError
from sloguard.sdk.a2a.protocol import (
    CONTEXT_ID_ATTR,
    FAILED_STATE,
    RECORDED_ATTR,
    TASK_FAILED,
    TASK_ID_ATTR,
    Traceability,
    trace_from,
)
from sloguard.sdk.context import current_trace
from sloguard.sdk.feed import feed_step
from sloguard.sdk.telemetry import Telemetry, current_telemetry
from sloguard.sdk.trace import ResponseTrace, TraceRecord
from sloguard.sdk.traceparse import resolve_scopes

if TYPE_CHECKING:
    from a2a.types.a2a_pb2 import StreamResponse, Task

__all__ = ["RemoteCall", "record_remote_call"]

_log = logging.getLogger(__name__)


def _notify(callback: Callable[[Any], None], arg: Any) -> None:
    try:
        callback(arg)
    except Exception:  # a listener never breaks the caller
        _log.exception("sloguard: step listener %r failed", callback)


def record_remote_call(telemetry: Telemetry, step: TraceRecord) -> None:
    """Record a completed remote agent call (``step.response_trace`` = the callee's trace).

    A callee trace marked :data:`~sloguard.sdk.a2a.extension.RECORDED_ATTR` was counted by the
    callee:
    only the handoff is recorded here. Otherwise the call itself, the callee's root usage and
    its inner steps are recorded (the callee's root AGENT steps *are* this call: never twice).
    """
    recorder, exemplars = telemetry.recorder, telemetry.exemplars
    remote = step.response_trace
    roots = remote.children(None) if remote is not None else []
    if any(s.additional_attributes.get(RECORDED_ATTR) for s in roots):
        if step.scope_agent is not None and step.scope_agent != step.name:
            recorder.handoff(step.scope_agent, step.name)
        return
    feed_step(recorder, step, exemplars=exemplars)
    if remote is None:
        return
    same_call = {s.step_id for s in roots if s.call_type is CallType.AGENT}
    for s in remote.walk():
        if s.step_id not in same_call or s.trace is not remote:
            feed_step(recorder, s, exemplars=exemplars)
        elif s.cost is not None or s.total_tokens is not None:
            recorder.usage(
                s.name,
                s.model,
                input_tokens=s.input_tokens,
                output_tokens=s.output_tokens,
                total_tokens=s.total_tokens,
                cost=s.cost,
            )


class RemoteCall:
    """The caller's AGENT step for one remote call."""

    __slots__ = ("extension", "failed", "named", "record", "remote", "telemetry", "trace")

    def __init__(self, extension: Traceability, name: str | None, url: str | None) -> None:
        self.extension = extension
        self.telemetry = extension.telemetry or current_telemetry()
        self.trace = current_trace() or ResponseTrace()
        self.named = name is not None
        record = TraceRecord(
            CallType.AGENT,
            name or UNKNOWN_VALUE,
            trace=self.trace,
            redactor=self.telemetry.redactor,
        )
        record._managed = True  # this class ends it: end_step() must not record metrics itself
        record.agent_url = url
        self.record = record
        self.remote: ResponseTrace | None = None
        self.failed = False
        for listener in self.telemetry.listeners:
            _notify(listener.step_started, record)

    def observe(self, response: StreamResponse) -> None:
        """Take the callee's trace, task ids and task state from one response."""
        try:
            found = trace_from(response, max_steps=self.extension.max_steps)
        except TraceError as err:  # a bad trace from a remote agent never breaks the caller
            _log.warning("sloguard: ignored the trace of %r: %s", self.record.name, err)
            found = None
        if found is not None and (
            self.remote is None or len(found.steps) >= len(self.remote.steps)
        ):
            self.remote = found
        task: Task | None = response.task if response.HasField("task") else None
        state = None
        if task is not None:
            state, task_id, context_id = task.status.state, task.id, task.context_id
        elif response.HasField("status_update"):
            update = response.status_update
            state, task_id, context_id = update.status.state, update.task_id, update.context_id
        elif response.HasField("message"):
            task_id, context_id = response.message.task_id, response.message.context_id
        else:
            task_id, context_id = "", ""
        if state == FAILED_STATE:
            self.failed = True
        attrs = self.record.additional_attributes
        if task_id:
            attrs[TASK_ID_ATTR] = task_id
        if context_id:
            attrs[CONTEXT_ID_ATTR] = context_id

    def close(self, exc: BaseException | None) -> None:
        """End the step, nest the callee's trace, record metrics, tell the listeners."""
        record, telemetry = self.record, self.telemetry
        record.end_step(error=exc)
        record.stop_clock()
        if self.failed and not record.failed:
            record.error_type = TASK_FAILED
            record.set_error("A2A task failed")
        remote = self.remote
        if remote is not None:
            agents = [s for s in remote.children(None) if s.call_type is CallType.AGENT]
            if not self.named and agents:
                record.name = agents[-1].name
            resolve_scopes(remote, record.name, record.scope_host)
            record.response_trace = remote
        self.trace.add_step(record)
        try:
            record_remote_call(telemetry, record)
        except SloguardError as err:  # never let metrics break the caller
            _log.warning("sloguard: remote call %r not recorded: %s", record.name, err)
        if not telemetry.listeners:
            return
        if exc is not None:
            record.ext["exception"] = exc
        try:
            for listener in telemetry.listeners:
                _notify(listener.step_ended, record)
        finally:
            record.ext.pop("exception", None)
        if record.parent_step_id is None:
            for listener in telemetry.listeners:
                _notify(listener.trace_ended, self.trace)
