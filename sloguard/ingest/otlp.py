"""OTLP/HTTP trace ingest: decode a request, map its spans to metric updates, record them.

The router calls :func:`handle_otlp` with the request body and ``Content-Type`` and answers
with :func:`export_response` on success (HTTP 200, same content type as the request), or with
a 4xx naming every problem. A batch with a problem records nothing.

The steps are separate so each can be tested alone:

- :func:`parse_otlp` decodes ``application/x-protobuf`` or ``application/json`` (the OTLP JSON
  encoding: hex ids, lowerCamelCase keys, 64-bit integers as strings) into
  :class:`~sloguard.ingest.semconv.SpanRecord` values;
- :func:`map_spans` (pure) builds each trace's span tree and turns it into updates:

  =============  ===========================================================================
  span           updates
  =============  ===========================================================================
  agent          agent call (count, latency with the trace id as exemplar, its own usage);
                 a handoff when its nearest agent ancestor is another agent
  tool           tool call of the owner; its own usage, to the owner
  inference      usage to the owner with the model, unless the owner agent's span reports
                 tokens itself (GenAI agent spans carry the agent's total: no double count)
  workflow       only its own usage, to the workflow name
  any            explicit handoff attributes; a missing side is the span's agent
  =============  ===========================================================================

  The owner is the nearest agent ancestor, else an agent named on the span, else the nearest
  workflow ancestor, else ``unknown`` (as :mod:`sloguard.sdk.feed` does for SDK steps). Per
  trace and agent pair, the handoffs counted are the larger of the tree-derived and the
  explicit ones: both describe the same handoffs when an instrumentation emits both.
- :func:`apply` validates every update, then records them all.

Only spans in the same batch form a tree: a parent exported in a later batch is not seen.

Example::

    accepted, problems = handle_otlp(recorder, body, request.headers["content-type"])
    if problems:
        return JSONResponse({"problems": list(problems)}, status_code=400)
    content, media_type = export_response(request.headers["content-type"])
    return Response(content, media_type=media_type)
"""

from __future__ import annotations

import base64
import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from google.protobuf import json_format  # type: ignore[import-untyped,unused-ignore]
from google.protobuf.message import DecodeError  # type: ignore[import-untyped,unused-ignore]
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from sloguard import conventions as c
from sloguard.errors import InvalidRecord
from sloguard.ingest.semconv import AttributeValue, Meaning, Role, SpanRecord, interpret
from sloguard.sdk.recorder import Recorder, split_tokens

__all__ = [
    "JSON",
    "PROTOBUF",
    "AgentCall",
    "Handoff",
    "InvalidOtlp",
    "OtlpResult",
    "PriceFn",
    "ToolCall",
    "Update",
    "Usage",
    "apply",
    "export_response",
    "handle_otlp",
    "map_spans",
    "media_type",
    "parse_otlp",
    "record_update",
]

PROTOBUF: Final = "application/x-protobuf"
JSON: Final = "application/json"
#: At most this many problems are reported; the rest are summed up in one line.
MAX_PROBLEMS: Final = 100

_KINDS: Final = ("unspecified", "internal", "server", "client", "producer", "consumer")
_STATUSES: Final = ("unset", "ok", "error")
_ID_BYTES: Final = {"traceId": 16, "spanId": 8, "parentSpanId": 8}
_ID_KEYS: Final = {
    "traceId": "traceId",
    "trace_id": "traceId",
    "spanId": "spanId",
    "span_id": "spanId",
    "parentSpanId": "parentSpanId",
    "parent_span_id": "parentSpanId",
}

#: ``price(model, input_tokens, output_tokens)`` → USD, or ``None`` when the model is unknown.
PriceFn = Callable[[str, int | None, int | None], float | None]


class InvalidOtlp(InvalidRecord):
    """An OTLP request that cannot be recorded; ``problems`` names every problem.

    ``malformed`` is true when the body could not be decoded at all (answer 400), false when
    it decoded but its spans have problems (ids, times, attribute types: answer 400 or 422).
    """

    def __init__(self, problems: Iterable[str], *, malformed: bool = False) -> None:
        listed = list(problems)
        if len(listed) > MAX_PROBLEMS:
            more = len(listed) - MAX_PROBLEMS
            listed = [*listed[:MAX_PROBLEMS], f"… and {more} more problems"]
        self.problems: tuple[str, ...] = tuple(listed)
        self.malformed = malformed
        super().__init__("OTLP traces rejected:\n" + "\n".join(f"- {p}" for p in self.problems))


# --- updates ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AgentCall:
    """One finished agent invocation (see :meth:`Recorder.agent_call`)."""

    agent: str
    status: c.Status
    duration: float
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cost: float | None = None
    trace_id: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One finished tool call of ``agent`` (see :meth:`Recorder.tool_call`)."""

    agent: str
    tool: str
    status: c.Status
    duration: float
    trace_id: str | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens and cost of ``agent`` on ``model`` (see :meth:`Recorder.usage`)."""

    agent: str
    model: str | None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cost: float | None = None


@dataclass(frozen=True, slots=True)
class Handoff:
    """One handoff from ``source`` to ``target`` (see :meth:`Recorder.handoff`)."""

    source: str
    target: str


Update = AgentCall | ToolCall | Usage | Handoff


class OtlpResult(NamedTuple):
    """What :func:`handle_otlp` did: spans accepted, or the problems (then nothing recorded)."""

    accepted_spans: int
    problems: tuple[str, ...]


# --- decoding ----------------------------------------------------------------------------------
def media_type(content_type: str | None) -> str | None:
    """Return :data:`PROTOBUF` or :data:`JSON` for a ``Content-Type`` header, else ``None``."""
    value = (content_type or "").split(";", 1)[0].strip().lower()
    return value if value in (PROTOBUF, JSON) else None


def _hex_to_base64(value: object, size: int) -> object:
    """Turn an OTLP/JSON hex id into the base64 protobuf's JSON mapping expects."""
    if not isinstance(value, str) or len(value) != 2 * size:
        return value  # empty, or base64 already (protobuf's own JSON mapping): left as sent
    try:
        return base64.b64encode(bytes.fromhex(value)).decode("ascii")
    except ValueError:
        return value


def _fix_ids(span: object) -> None:
    if not isinstance(span, dict):
        return
    for key, canonical in _ID_KEYS.items():
        if key in span:
            span[key] = _hex_to_base64(span[key], _ID_BYTES[canonical])
    for link in span.get("links") or ():
        if isinstance(link, dict):
            _fix_ids(link)


def _items(parent: object, *keys: str) -> list[Any]:
    if not isinstance(parent, dict):
        return []
    for key in keys:
        value = parent.get(key)
        if isinstance(value, list):
            return value
    return []


def _decode_json(body: bytes) -> ExportTraceServiceRequest:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidOtlp([f"body is not valid JSON: {exc}"], malformed=True) from exc
    if not isinstance(document, dict):
        raise InvalidOtlp(
            [f"body must be a JSON object, got {type(document).__name__}"], malformed=True
        )
    for resource in _items(document, "resourceSpans", "resource_spans"):
        for scope in _items(resource, "scopeSpans", "scope_spans"):
            for span in _items(scope, "spans"):
                _fix_ids(span)
    request = ExportTraceServiceRequest()
    try:
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        problem = f"body is not an OTLP ExportTraceServiceRequest: {exc}"
        raise InvalidOtlp([problem], malformed=True) from exc
    return request


def _decode_protobuf(body: bytes) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except (DecodeError, ValueError) as exc:
        problem = f"body is not an OTLP ExportTraceServiceRequest: {exc}"
        raise InvalidOtlp([problem], malformed=True) from exc
    return request


def _value(value: AnyValue) -> AttributeValue:
    field = value.WhichOneof("value")
    if field == "array_value":
        return tuple(_value(v) for v in value.array_value.values)
    if field == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    if field is None:
        return None
    scalar: AttributeValue = getattr(value, field)
    return scalar


def _pick(names: tuple[str, ...], index: int) -> str:
    """Name an enum value; values from a newer proto than ours count as the first name."""
    return names[index] if 0 <= index < len(names) else names[0]


def _records(request: ExportTraceServiceRequest) -> list[SpanRecord]:
    records: list[SpanRecord] = []
    problems: list[str] = []
    for i, resource in enumerate(request.resource_spans):
        for j, scope in enumerate(resource.scope_spans):
            for k, span in enumerate(scope.spans):
                where = f"resourceSpans[{i}].scopeSpans[{j}].spans[{k}] {span.name!r}"
                bad = [
                    f"{where}: {field} must be {size} bytes (not all zero), got {raw.hex()!r}"
                    for field, raw, size in (
                        ("traceId", span.trace_id, 16),
                        ("spanId", span.span_id, 8),
                    )
                    if len(raw) != size or not any(raw)
                ]
                if span.parent_span_id and len(span.parent_span_id) != 8:
                    bad.append(f"{where}: parentSpanId must be 8 bytes or empty")
                if span.start_time_unix_nano == 0 or span.end_time_unix_nano == 0:
                    bad.append(f"{where}: startTimeUnixNano and endTimeUnixNano are required")
                elif span.end_time_unix_nano < span.start_time_unix_nano:
                    bad.append(f"{where}: endTimeUnixNano is before startTimeUnixNano")
                if bad:
                    problems.extend(bad)
                    continue
                records.append(
                    SpanRecord(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex() or None,
                        name=span.name,
                        kind=_pick(_KINDS, span.kind),
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        status=_pick(_STATUSES, span.status.code),
                        attributes={kv.key: _value(kv.value) for kv in span.attributes},
                    )
                )
    if problems:
        raise InvalidOtlp(problems)
    return records


def parse_otlp(body: bytes, content_type: str) -> list[SpanRecord]:
    """Decode an OTLP/HTTP ``ExportTraceServiceRequest`` (protobuf or JSON) into spans.

    Raises :class:`InvalidOtlp` naming every problem (unsupported content type, undecodable
    body, bad ids or times).
    """
    kind = media_type(content_type)
    if kind is None:
        raise InvalidOtlp(
            [f"unsupported content type {content_type!r}: send {PROTOBUF} or {JSON}"],
            malformed=True,
        )
    request = _decode_json(body) if kind == JSON else _decode_protobuf(body)
    return _records(request)


# --- mapping (pure) ----------------------------------------------------------------------------
_Key = tuple[str, str]  # (trace id, span id)


@dataclass(frozen=True, slots=True)
class _Scope:
    """The nearest agent and workflow span at or above a span."""

    agent: _Key | None = None
    workflow: _Key | None = None


_NO_SCOPE: Final = _Scope()


def _scopes(parents: dict[_Key, _Key | None], meanings: dict[_Key, Meaning]) -> dict[_Key, _Scope]:
    """Return every span's scope, walking each parent chain once (cycles end the walk)."""
    memo: dict[_Key, _Scope] = {}
    for start in parents:
        chain: list[_Key] = []
        seen: set[_Key] = set()
        key: _Key | None = start
        while key is not None and key not in memo and key not in seen:
            seen.add(key)
            chain.append(key)
            key = parents[key]
        scope = memo.get(key, _NO_SCOPE) if key is not None else _NO_SCOPE
        for k in reversed(chain):
            role = meanings[k].role
            if role is Role.AGENT:
                scope = _Scope(k, scope.workflow)
            elif role is Role.WORKFLOW:
                scope = _Scope(scope.agent, k)
            memo[k] = scope
    return memo


class _Mapper:
    """Turn one batch of spans into updates (see the module table)."""

    def __init__(self, spans: Sequence[SpanRecord], price: PriceFn | None) -> None:
        self.price = price
        self.spans = {(s.trace_id, s.span_id): s for s in spans}
        problems: list[str] = []
        self.meanings: dict[_Key, Meaning] = {}
        for key, span in self.spans.items():
            self.meanings[key], span_problems = interpret(span)
            problems.extend(span_problems)
        if problems:
            raise InvalidOtlp(problems)
        parents: dict[_Key, _Key | None] = {}
        for key, span in self.spans.items():
            parent = (span.trace_id, span.parent_span_id) if span.parent_span_id else None
            parents[key] = parent if parent in self.spans else None
        self.parents = parents
        self.scopes = _scopes(parents, self.meanings)
        self._by_role: dict[Role, Callable[[_Key], list[Update]]] = {
            Role.AGENT: self._agent,
            Role.TOOL: self._tool,
            Role.INFERENCE: self._inference,
            Role.WORKFLOW: self._workflow,
        }  # other spans: no update of their own

    def _name(self, key: _Key | None) -> str | None:
        return self.meanings[key].name if key is not None else None

    def _above(self, key: _Key) -> _Scope:
        parent = self.parents[key]
        return self.scopes[parent] if parent is not None else _NO_SCOPE

    def _owner(self, key: _Key) -> str:
        above = self._above(key)
        return (
            self._name(above.agent)
            or self.meanings[key].owner_hint
            or self._name(above.workflow)
            or c.UNKNOWN_VALUE
        )

    def _cost(self, m: Meaning) -> float | None:
        if m.cost is not None or self.price is None or m.model is None or not m.has_tokens:
            return m.cost
        return self.price(m.model, m.input_tokens, m.output_tokens)

    def _usage(self, owner: str, m: Meaning) -> list[Update]:
        cost = self._cost(m)
        if not m.has_tokens and cost is None:
            return []
        i, o, t = m.input_tokens, m.output_tokens, m.total_tokens
        return [Usage(owner, m.model, i, o, t if i is None or o is None else None, cost)]

    @staticmethod
    def _status(m: Meaning) -> c.Status:
        return c.Status.ERROR if m.failed else c.Status.SUCCESS

    def _agent(self, key: _Key) -> list[Update]:
        span, m = self.spans[key], self.meanings[key]
        i, o, t = m.input_tokens, m.output_tokens, m.total_tokens
        call = AgentCall(
            m.name or c.UNKNOWN_VALUE,
            self._status(m),
            span.duration,
            model=m.model,
            input_tokens=i,
            output_tokens=o,
            total_tokens=t if i is None or o is None else None,
            cost=self._cost(m),
            trace_id=span.trace_id,
        )
        return [call]

    def _tool(self, key: _Key) -> list[Update]:
        span, m = self.spans[key], self.meanings[key]
        owner, tool = self._owner(key), m.name or c.UNKNOWN_VALUE
        call = ToolCall(owner, tool, self._status(m), span.duration, trace_id=span.trace_id)
        return [call, *self._usage(owner, m)]

    def _inference(self, key: _Key) -> list[Update]:
        agent = self._above(key).agent
        if agent is not None and self.meanings[agent].has_tokens:
            return []  # the agent span's own figures already count these tokens
        return self._usage(self._owner(key), self.meanings[key])

    def _workflow(self, key: _Key) -> list[Update]:
        m = self.meanings[key]
        return self._usage(m.name or c.UNKNOWN_VALUE, m)

    def _span_updates(self, key: _Key) -> list[Update]:
        handler = self._by_role.get(self.meanings[key].role)
        return handler(key) if handler is not None else []

    def _handoffs(self) -> list[Update]:
        tree: Counter[tuple[str, str, str]] = Counter()
        explicit: Counter[tuple[str, str, str]] = Counter()
        for key, m in self.meanings.items():
            trace = key[0]
            mine = self._name(self.scopes[key].agent)
            if m.role is Role.AGENT:
                above = self._name(self._above(key).agent)
                if above is not None and above != m.name and m.name is not None:
                    tree[trace, above, m.name] += 1
            if m.handoff is not None:
                source, target = m.handoff[0] or mine, m.handoff[1] or mine
                if source and target and source != target:
                    explicit[trace, source, target] += 1
        pairs = tree | explicit  # the larger count of each (trace, source, target)
        return [Handoff(s, t) for (_, s, t), n in pairs.items() for _ in range(n)]

    def updates(self) -> list[Update]:
        out: list[Update] = []
        for key in self.spans:
            out.extend(self._span_updates(key))
        out.extend(self._handoffs())
        return out


def map_spans(spans: Sequence[SpanRecord], *, price: PriceFn | None = None) -> list[Update]:
    """Return the metric updates of a batch of spans (see the module table).

    ``price`` fills in the cost of spans that report tokens and a model but no cost. Raises
    :class:`InvalidOtlp` naming every attribute of the wrong type.
    """
    return _Mapper(spans, price).updates()


# --- recording ---------------------------------------------------------------------------------
def _check_name(problems: list[str], where: str, field: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        problems.append(f"{where}: {field} must be a non-empty string, got {value!r}")


def _check_number(problems: list[str], where: str, field: str, value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        ok = False
    else:
        ok = math.isfinite(value) and value >= 0
    if not ok:
        problems.append(f"{where}: {field} must be a finite number >= 0, got {value!r}")


def _check_tokens(problems: list[str], where: str, update: AgentCall | Usage) -> None:
    try:
        split_tokens(update.input_tokens, update.output_tokens, update.total_tokens)
    except InvalidRecord as exc:
        problems.append(f"{where}: {exc}")


def _problems(index: int, update: Update) -> list[str]:
    """Check ``update`` the way :class:`Recorder` does, without touching a metric."""
    where = f"update {index} ({type(update).__name__})"
    problems: list[str] = []
    if isinstance(update, Handoff):
        _check_name(problems, where, "source", update.source)
        _check_name(problems, where, "target", update.target)
        return problems
    _check_name(problems, where, "agent", update.agent)
    if isinstance(update, ToolCall):
        _check_name(problems, where, "tool", update.tool)
    if isinstance(update, AgentCall | ToolCall):
        if update.status not in tuple(c.Status):
            problems.append(f"{where}: status must be success or error, got {update.status!r}")
        _check_number(problems, where, "duration", update.duration)
    if isinstance(update, AgentCall | Usage):
        _check_tokens(problems, where, update)
        _check_number(problems, where, "cost", update.cost)
        if update.model is not None:
            _check_name(problems, where, "model", update.model)
    return problems


def record_update(recorder: Recorder, update: Update) -> None:
    """Make the one recorder call of ``update`` (an :class:`~sloguard.ingest.batch` operation)."""
    if isinstance(update, AgentCall):
        recorder.agent_call(
            update.agent,
            update.status,
            update.duration,
            model=update.model,
            input_tokens=update.input_tokens,
            output_tokens=update.output_tokens,
            total_tokens=update.total_tokens,
            cost=update.cost,
            trace_id=update.trace_id,
        )
    elif isinstance(update, ToolCall):
        recorder.tool_call(
            update.agent, update.tool, update.status, update.duration, trace_id=update.trace_id
        )
    elif isinstance(update, Usage):
        recorder.usage(
            update.agent,
            update.model,
            input_tokens=update.input_tokens,
            output_tokens=update.output_tokens,
            total_tokens=update.total_tokens,
            cost=update.cost,
        )
    else:
        recorder.handoff(update.source, update.target)


def apply(recorder: Recorder, updates: Sequence[Update]) -> None:
    """Record ``updates`` after checking all of them; raise :class:`InvalidOtlp` if any is bad.

    A batch with a problem records nothing.
    """
    problems = [p for i, u in enumerate(updates) for p in _problems(i, u)]
    if problems:
        raise InvalidOtlp(problems)
    for update in updates:
        record_update(recorder, update)


def handle_otlp(
    recorder: Recorder, body: bytes, content_type: str, *, price: PriceFn | None = None
) -> OtlpResult:
    """Decode, map and record one OTLP/HTTP traces request; never raises for bad input.

    Returns ``(accepted_spans, ())`` when the batch was recorded, ``(0, problems)`` when it
    was rejected (nothing recorded). An unsupported content type is one of the problems; check
    :func:`media_type` first to answer it with 415.
    """
    try:
        spans = parse_otlp(body, content_type)
        apply(recorder, map_spans(spans, price=price))
    except InvalidOtlp as exc:
        return OtlpResult(0, exc.problems)
    return OtlpResult(len(spans), ())


def export_response(
    content_type: str | None, *, rejected_spans: int = 0, error_message: str = ""
) -> tuple[bytes, str]:
    """Return the body and media type of a successful OTLP/HTTP answer.

    An ``ExportTraceServiceResponse`` in the request's encoding (protobuf unless the request
    was JSON); ``partial_success`` is set when spans were rejected or there is a message.
    """
    response = ExportTraceServiceResponse()
    if rejected_spans or error_message:
        response.partial_success.rejected_spans = rejected_spans
        response.partial_success.error_message = error_message
    if media_type(content_type) == JSON:
        text: str = json_format.MessageToJson(response, indent=None)
        return text.encode("utf-8"), JSON
    return response.SerializeToString(), PROTOBUF
