"""``TraceStep``: one step's lifecycle as a ``with`` / ``async with`` block (seed 001).

On entry the step opens under the current step of this context (contextvars: concurrent asyncio
tasks each keep their own parent), ``active_agents`` rises for agent steps, and listeners (the
OTel bridge) open their spans. On exit the step ends — with the body's exception type and message
if it raised, which is then re-raised — is added to its trace, and feeds the recorder.

Example::

    trace = ResponseTrace()
    with TraceStep(trace, CallType.AGENT, "customer service") as main:
        with TraceStep(trace, CallType.TOOL, "knowledge search") as kb:
            hits = search(query)
            kb.end_step(additional_attributes={"results": len(hits)})
        main.end_step(cost=0.10, total_tokens=1000)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextvars import Token
from types import TracebackType
from typing import Any

from sloguard.conventions import CallType
from sloguard.errors import SloguardError, TraceError
from sloguard.sdk.context import current_step_var, current_trace
from sloguard.sdk.feed import feed_run, feed_step
from sloguard.sdk.telemetry import Telemetry, current_telemetry
from sloguard.sdk.trace import ResponseTrace, TraceRecord

_log = logging.getLogger(__name__)


def _notify(callback: Callable[[Any], None], arg: Any) -> None:
    """Call a listener; a failing listener is logged and never breaks the agent."""
    try:
        callback(arg)
    except Exception:
        _log.exception("sloguard: step listener %r failed", callback)


class TraceStep:
    """Context manager (sync and async) that opens, ends, records and re-raises."""

    __slots__ = (
        "_agent_type",
        "_args",
        "_telemetry",
        "_token",
        "record",
        "response_trace",
    )

    def __init__(
        self,
        response_trace: ResponseTrace | None = None,
        call_type: CallType | str = CallType.AGENT,
        name: str = "",
        *,
        parameters: Mapping[str, Any] | None = None,
        requests: Any = None,
        step_type: str | None = None,
        parent_step_id: str | None = None,
        agent_type: str | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.response_trace = response_trace
        self._args = (call_type, name, parameters, requests, step_type, parent_step_id)
        self._agent_type = agent_type
        self._telemetry = telemetry
        self._token: Token[TraceRecord | None] | None = None
        self.record: TraceRecord | None = None

    # --- lifecycle, usable without a context (async generators drive it by hand) ------------
    def open(self, *, activate: bool = True) -> TraceRecord:
        """Open the step; with ``activate`` it becomes the current step of this context."""
        if self.record is not None:
            raise SloguardError("a TraceStep can be entered only once")
        telemetry = self._telemetry or current_telemetry()
        self._telemetry = telemetry
        trace = self.response_trace or current_trace() or ResponseTrace()
        self.response_trace = trace
        call_type, name, parameters, requests, step_type, parent_step_id = self._args
        record = TraceRecord(
            call_type,
            name,
            parameters=parameters,
            requests=requests,
            step_type=step_type,
            parent_step_id=parent_step_id,
            trace=trace,
            redactor=telemetry.redactor,
        )
        record._managed = True
        self.record = record
        if activate:
            self._token = current_step_var.set(record)
        if record.call_type is CallType.AGENT:
            telemetry.recorder.agent_started(self._agent_type or record.name)
        for listener in telemetry.listeners:
            _notify(listener.step_started, record)
        return record

    def close(self, exc: BaseException | None) -> None:
        """End, record and publish the step (the body's exception, if any, is recorded)."""
        record, telemetry = self.record, self._telemetry
        assert record is not None and telemetry is not None, "close() before open()"
        if self._token is not None:
            try:  # noqa: SIM105 - try/except is cheaper than contextlib.suppress on a hot path
                current_step_var.reset(self._token)
            except ValueError:  # exited in another context (a generator moved between tasks)
                pass
            self._token = None
        if not record.ended:
            record.end_step(error=exc)
        elif exc is not None and record.error is None:
            record.set_error(exc)
        record.stop_clock()
        trace = self.response_trace
        assert trace is not None
        trace.add_step(record)
        if record.call_type is CallType.AGENT:
            telemetry.recorder.agent_finished(self._agent_type or record.name)
        try:
            feed_step(telemetry.recorder, record, exemplars=telemetry.exemplars)
            if record.parent_step_id is None:  # the trace's root: one end-to-end run
                feed_run(telemetry.recorder, trace, exemplars=telemetry.exemplars)
        except SloguardError as err:  # never let metrics break the agent
            _log.warning("sloguard: step %r not recorded: %s", record.name, err)
        if telemetry.listeners:
            self._publish(telemetry, record, trace, exc)

    @staticmethod
    def _publish(
        telemetry: Telemetry, record: TraceRecord, trace: ResponseTrace, exc: BaseException | None
    ) -> None:
        if exc is not None:
            record.ext["exception"] = exc  # lent to listeners (the OTel bridge records it)
        try:
            for listener in telemetry.listeners:
                _notify(listener.step_ended, record)
        finally:
            record.ext.pop("exception", None)  # do not keep the frames alive with the trace
        if record.parent_step_id is None:
            for listener in telemetry.listeners:
                _notify(listener.trace_ended, trace)

    # --- context-manager protocols --------------------------------------------------------------
    def __enter__(self) -> TraceRecord:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(exc)

    async def __aenter__(self) -> TraceRecord:
        return self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(exc)


def workflow(
    name: str = "workflow",
    workflow_id: str | None = None,
    *,
    parameters: Mapping[str, Any] | None = None,
    telemetry: Telemetry | None = None,
) -> TraceStep:
    """Open a workflow: a new trace (id ``workflow_id``) whose root is a HOST step.

    Seed 000's ``TracedWorkflow``: agents called inside become its children, and with the OTel
    bridge on, the root span of the workflow. Use as ``with`` or ``async with``.
    """
    return TraceStep(
        ResponseTrace(workflow_id),
        CallType.HOST,
        name,
        parameters=parameters,
        step_type="workflow",
        telemetry=telemetry,
    )


def add_usage(
    *,
    model: str | None = None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    total_tokens: int | None = None,
    cost: float | None = None,
) -> TraceRecord:
    """Add one LLM call's usage to the current step (e.g. inside a decorated agent)."""
    step = current_step_var.get()
    if step is None:
        raise TraceError("add_usage() needs an open step (call it inside a traced agent or tool)")
    step.add_usage(
        model=model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=total_tokens,
        cost=cost,
    )
    return step
