"""The agent's side of A2A traceability: an ``AgentExecutor`` that runs another in a step.

See :mod:`sloguard.sdk.a2a.extension` for when the trace is attached and how calls are counted. The
executor's events go through a queue proxy that, for the events ending the exchange, sends a
copy carrying a snapshot of the trace (the executor's own objects are never changed).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from sloguard.conventions import CallType
from sloguard.errors import MissingExtra
from sloguard.sdk.step import TraceStep
from sloguard.sdk.telemetry import use_telemetry
from sloguard.sdk.trace import ResponseTrace, TraceRecord

try:
    from a2a.server.agent_execution import AgentExecutor, RequestContext
    from a2a.server.events import EventQueue
    from a2a.types.a2a_pb2 import (
        Message,
        Task,
        TaskArtifactUpdateEvent,
        TaskState,
        TaskStatusUpdateEvent,
    )
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtra("A2A traceability", "a2a", "a2a-sdk") from exc

from sloguard.sdk.a2a.protocol import (
    CONTEXT_ID_ATTR,
    FAILED_STATE,
    METADATA_KEY,
    RECORDED_ATTR,
    TASK_FAILED,
    TASK_ID_ATTR,
    URI,
)

if TYPE_CHECKING:
    from a2a.server.events.event_queue import Event

    from sloguard.sdk.a2a.protocol import Traceability

__all__ = ["TracingAgentExecutor"]

_log = logging.getLogger(__name__)

_TERMINAL: Final = frozenset(
    {
        TaskState.TASK_STATE_COMPLETED,
        TaskState.TASK_STATE_FAILED,
        TaskState.TASK_STATE_CANCELED,
        TaskState.TASK_STATE_REJECTED,
    }
)
_INTERRUPTED: Final = frozenset(
    {TaskState.TASK_STATE_INPUT_REQUIRED, TaskState.TASK_STATE_AUTH_REQUIRED}
)
_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def _json_safe(data: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON round trip: protobuf Structs take only JSON values (objects become strings)."""
    out: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return out


def _state_of(event: Event) -> int | None:
    if isinstance(event, TaskStatusUpdateEvent):
        return int(event.status.state)
    if isinstance(event, Task):
        return int(event.status.state)
    return None


def _ends_exchange(event: Event) -> bool:
    """True for the events after which a client may stop listening."""
    if isinstance(event, Message):
        return True
    if isinstance(event, TaskArtifactUpdateEvent):
        return bool(event.last_chunk)
    state = _state_of(event)
    return state is not None and (state in _TERMINAL or state in _INTERRUPTED)


def _with_trace(event: Event, snapshot: dict[str, Any]) -> Event:
    """Return a copy of ``event`` carrying ``snapshot`` (the executor's object is untouched)."""
    out = type(event)()
    out.CopyFrom(event)
    if isinstance(out, Message):
        out.metadata[METADATA_KEY] = snapshot
        if URI not in out.extensions:
            out.extensions.append(URI)
    elif isinstance(out, TaskArtifactUpdateEvent):
        out.artifact.metadata[METADATA_KEY] = snapshot
        if URI not in out.artifact.extensions:
            out.artifact.extensions.append(URI)
    else:
        out.metadata[METADATA_KEY] = snapshot
    return out


class _TracingQueue(EventQueue):
    """The executor's view of the event queue: attaches the trace to the events that end it."""

    def __init__(
        self, inner: EventQueue, trace: ResponseTrace, record: TraceRecord, attach: bool
    ) -> None:
        self._inner = inner
        self._trace = trace
        self._record = record
        self._attach = attach

    async def enqueue_event(self, event: Event) -> None:
        """Pass ``event`` on, with the trace so far when it ends the exchange and was asked for."""
        if _state_of(event) == FAILED_STATE and not self._record.failed:
            self._record.error_type = TASK_FAILED
            self._record.set_error("A2A task failed")
        if self._attach and _ends_exchange(event):
            try:
                event = _with_trace(event, self.snapshot())
            except Exception:  # a trace must never cost the agent its answer
                _log.warning(
                    "sloguard: trace not attached to %s", type(event).__name__, exc_info=True
                )
        await self._inner.enqueue_event(event)

    def snapshot(self) -> dict[str, Any]:
        """The trace as it stands, the open agent step ended now."""
        root = self._record
        steps = [s.as_dict() for s in self._trace.steps]
        mine = root.as_dict()
        if root.end_time is None:
            end = datetime.now(UTC)
            mine["end_time"] = end.isoformat()
            mine["latency"] = max(0, round((end - root.start_time).total_seconds() * 1000))
        steps.append(mine)
        return _json_safe({"trace_id": self._trace.trace_id, "steps": steps})

    def __getattr__(self, name: str) -> Any:
        # Executors written against older queues (close(), tap(), …) reach the real queue.
        if name == "_inner":
            raise AttributeError(name)
        return getattr(self._inner, name)


def _trace_context(context: RequestContext) -> tuple[str | None, str | None]:
    """The caller's (trace_id, parent_step_id) sent by :func:`wrap_client`, when valid."""
    try:
        sent = context.metadata.get(METADATA_KEY)
    except Exception:  # a malformed request must not stop the agent
        return None, None
    if not isinstance(sent, Mapping):
        return None, None
    ids = [sent.get("trace_id"), sent.get("parent_step_id")]
    tid, pid = (v if isinstance(v, str) and _ID.fullmatch(v) else None for v in ids)
    return tid, pid


class TracingAgentExecutor(AgentExecutor):
    """An ``AgentExecutor`` that runs another inside a sloguard AGENT step (see module doc)."""

    def __init__(
        self,
        wrapped: AgentExecutor,
        extension: Traceability,
        name: str,
    ) -> None:
        self.wrapped = wrapped
        self.extension = extension
        self.name = name

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        """Run the wrapped executor in an AGENT step; attach the trace if it was requested."""
        telemetry = self.extension.telemetry
        if telemetry is None:
            await self._run(context, event_queue)
            return
        with use_telemetry(telemetry):
            await self._run(context, event_queue)

    async def _run(self, context: RequestContext, event_queue: EventQueue) -> None:
        requested = self.extension.is_requested(context)
        trace_id, parent_step_id = _trace_context(context)
        trace = ResponseTrace(trace_id)  # the callee's own trace, never the caller's objects
        step = TraceStep(
            trace,
            CallType.AGENT,
            self.name,
            parent_step_id=parent_step_id,
            telemetry=self.extension.telemetry,
        )
        async with step as record:
            record.additional_attributes[RECORDED_ATTR] = True
            if context.task_id:
                record.additional_attributes[TASK_ID_ATTR] = context.task_id
            if context.context_id:
                record.additional_attributes[CONTEXT_ID_ATTR] = context.context_id
            if requested:
                _mark_activated(context)
            queue = _TracingQueue(event_queue, trace, record, requested)
            await self.wrapped.execute(context, queue)

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        """Cancel through the wrapped executor (cancellation is not a traced call)."""
        await self.wrapped.cancel(context, event_queue)


def _mark_activated(context: RequestContext) -> None:
    """Tell a server that has the 0.3 API (``add_activated_extension``) the extension is on."""
    for target in (context, getattr(context, "call_context", None)):
        add = getattr(target, "add_activated_extension", None)
        if callable(add):
            add(URI)
            return
        activated = getattr(target, "activated_extensions", None)
        if isinstance(activated, set):
            activated.add(URI)
            return
