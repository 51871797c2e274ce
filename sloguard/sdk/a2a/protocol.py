"""The A2A traceability protocol: URIs, headers, metadata keys, and reading a trace back.

What both ends of an A2A call agree on (DESIGN §5): the extension :data:`URI`, the activation
headers, the metadata key a :class:`~sloguard.sdk.trace.ResponseTrace` rides under, the
root-step attributes, and :func:`trace_from` / :func:`requested_extensions` to read them.
:class:`Traceability` holds the settings both wrappers need (telemetry, description,
``max_steps``); :mod:`sloguard.sdk.a2a.server`, :mod:`~sloguard.sdk.a2a.client` and
:mod:`~sloguard.sdk.a2a.call` build on this module, and :mod:`~sloguard.sdk.a2a.extension` on them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from sloguard import conventions as c
from sloguard.conventions import A2A_METRICS_RECORDED_ATTR
from sloguard.errors import MissingExtra, TraceError
from sloguard.sdk.telemetry import Telemetry
from sloguard.sdk.trace import ResponseTrace

try:
    from a2a.types.a2a_pb2 import (
        AgentCard,
        AgentExtension,
        Artifact,
        Message,
        SendMessageResponse,
        StreamResponse,
        Task,
        TaskArtifactUpdateEvent,
        TaskState,
        TaskStatusUpdateEvent,
    )
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtra("A2A traceability", "a2a", "a2a-sdk") from exc

__all__ = [
    "CONTEXT_ID_ATTR",
    "DESCRIPTION",
    "FAILED_STATE",
    "HEADER",
    "LEGACY_HEADER",
    "METADATA_KEY",
    "RECORDED_ATTR",
    "TASK_FAILED",
    "TASK_ID_ATTR",
    "URI",
    "Traceability",
    "requested_extensions",
    "trace_from",
]

URI: Final = c.A2A_TRACEABILITY_URI
METADATA_KEY: Final = c.A2A_TRACEABILITY_METADATA_KEY
#: The activation header of a2a-sdk ≥ 1.0, and the one of a2a-sdk 0.3.
HEADER: Final = "A2A-Extensions"
LEGACY_HEADER: Final = "X-A2A-Extensions"
_HEADER_NAMES: Final = frozenset({HEADER.lower(), LEGACY_HEADER.lower()})
#: Root-step attribute of traces whose steps the callee's sloguard already counted in metrics.
RECORDED_ATTR: Final = A2A_METRICS_RECORDED_ATTR
#: Root-step attributes naming the A2A task and context of the exchange.
TASK_ID_ATTR: Final = "a2a.task_id"
CONTEXT_ID_ATTR: Final = "a2a.context_id"
DESCRIPTION: Final = (
    "Traceability: the agent returns the steps of its work (agents, tools, latency, tokens, "
    "cost) as a ResponseTrace in the response metadata."
)

FAILED_STATE: Final = TaskState.TASK_STATE_FAILED
#: ``error_type`` of a step whose A2A task ended in the failed state.
TASK_FAILED: Final = "a2a_task_failed"


# --- activation --------------------------------------------------------------------------------
def _split(values: Iterable[str]) -> set[str]:
    return {u for v in values for part in v.split(",") if (u := part.strip())}


def _header_values(headers: Any) -> list[str]:
    """Values of both activation headers in a mapping or a sequence of pairs (any case)."""
    pairs: Iterable[Any] = headers.items() if isinstance(headers, Mapping) else headers
    out: list[str] = []
    for pair in pairs:
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            continue
        name, value = pair
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        if not isinstance(name, str) or name.lower() not in _HEADER_NAMES:
            continue
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, Iterable):
            out.extend(v for v in value if isinstance(v, str))
    return out


def requested_extensions(source: Any) -> frozenset[str]:
    """Return the extension URIs a request asks for.

    ``source`` is an a2a-sdk ``RequestContext`` or ``ServerCallContext`` (its
    ``requested_extensions``, filled from ``A2A-Extensions``, plus the ``X-A2A-Extensions``
    header kept in ``call_context.state["headers"]``), a header mapping (``dict``, Starlette or
    httpx ``Headers``; names matched case-insensitively) or a sequence of ``(name, value)``
    pairs (gRPC metadata). Values are comma-separated lists.
    """
    if source is None:
        return frozenset()
    found: set[str] = set()
    call_context = getattr(source, "call_context", source)
    requested = getattr(call_context, "requested_extensions", None)
    if requested is not None or hasattr(call_context, "state"):
        found |= {u for u in (requested or ()) if isinstance(u, str)}
        state = getattr(call_context, "state", None)
        headers = state.get("headers") if isinstance(state, Mapping) else None
        if headers is not None:
            found |= _split(_header_values(headers))
        return frozenset(found)
    if isinstance(source, str | bytes):
        raise TypeError("pass headers or a request context, not a string")
    return frozenset(_split(_header_values(source)))


# --- reading and writing the trace in A2A objects ----------------------------------------------
def _plain(value: Any, depth: int = 0) -> Any:
    """Turn protobuf Struct/ListValue contents into plain Python values."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if depth > 64:
        raise TraceError("trace metadata nested too deeply")
    if isinstance(value, Mapping) or hasattr(value, "keys"):  # a dict or a protobuf Struct
        return {str(k): _plain(value[k], depth + 1) for k in value.keys()}  # noqa: SIM118
    if isinstance(value, Iterable):
        return [_plain(v, depth + 1) for v in value]
    return str(value)


def _metadata_trace(metadata: Any, *, max_steps: int) -> ResponseTrace | None:
    if metadata is None or METADATA_KEY not in metadata:
        return None
    raw = _plain(metadata[METADATA_KEY])
    if not isinstance(raw, Mapping):
        raise TraceError(f"metadata {METADATA_KEY!r} must be an object")
    return ResponseTrace.from_dict(raw, max_steps=max_steps)


def _candidates(obj: Any) -> list[Any]:
    """The metadata Structs of an A2A object that may carry a trace (latest-written last)."""
    if isinstance(obj, StreamResponse | SendMessageResponse):
        for field in ("message", "status_update", "artifact_update", "task"):
            if obj.HasField(field):
                return _candidates(getattr(obj, field))
        return []
    if isinstance(obj, Message):
        return [obj.metadata]
    if isinstance(obj, Artifact):
        return [obj.metadata]
    if isinstance(obj, TaskArtifactUpdateEvent):
        return [obj.metadata, obj.artifact.metadata]
    if isinstance(obj, TaskStatusUpdateEvent):
        out = [obj.metadata]
        if obj.status.HasField("message"):
            out.append(obj.status.message.metadata)
        return out
    if isinstance(obj, Task):
        out = [a.metadata for a in obj.artifacts]
        if obj.status.HasField("message"):
            out.append(obj.status.message.metadata)
        out.append(obj.metadata)
        return out
    if isinstance(obj, Mapping):
        return [obj]
    raise TypeError(f"no A2A metadata in {type(obj).__name__}")


def trace_from(obj: Any, *, max_steps: int = 10_000) -> ResponseTrace | None:
    """Return the ResponseTrace an A2A object carries under :data:`METADATA_KEY`, if any.

    ``obj`` is a ``Message``, ``Task``, ``Artifact``, status or artifact update event, a client
    ``StreamResponse`` / ``SendMessageResponse`` or a plain metadata mapping. When several
    places carry one (a task's artifact and its metadata), the one with the most steps wins.
    Raises :class:`~sloguard.errors.TraceError` for a malformed trace.
    """
    best: ResponseTrace | None = None
    for metadata in _candidates(obj):
        found = _metadata_trace(metadata, max_steps=max_steps)
        if found is not None and (best is None or len(found.steps) >= len(best.steps)):
            best = found
    return best


# --- the extension ---------------------------------------------------------------------------
class Traceability:
    """The A2A traceability extension without its wrappers: agent-card entry, activation check.

    The server and client wrappers take this;
    :class:`~sloguard.sdk.a2a.extension.TraceabilityExtension` adds the methods that build them.

    """

    uri: Final = URI
    metadata_key: Final = METADATA_KEY

    def __init__(
        self,
        *,
        telemetry: Telemetry | None = None,
        description: str = DESCRIPTION,
        max_steps: int = 10_000,
    ) -> None:
        self.telemetry = telemetry
        self.description = description
        self.max_steps = max_steps

    def agent_extension(self) -> AgentExtension:
        """Return the ``AgentExtension`` to list in ``AgentCard.capabilities.extensions``."""
        return AgentExtension(uri=URI, description=self.description, required=False)

    def advertise(self, card: AgentCard) -> AgentCard:
        """Add the extension to ``card``'s capabilities (once) and return the card."""
        if not any(e.uri == URI for e in card.capabilities.extensions):
            card.capabilities.extensions.append(self.agent_extension())
        return card

    def is_requested(self, headers_or_context: Any) -> bool:
        """Tell whether a request asks for traceability (see :func:`requested_extensions`)."""
        return URI in requested_extensions(headers_or_context)

    def trace_from(self, obj: Any) -> ResponseTrace | None:
        """Return the trace carried by an A2A object (see :func:`trace_from`)."""
        return trace_from(obj, max_steps=self.max_steps)
