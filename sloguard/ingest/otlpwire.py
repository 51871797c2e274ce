"""The OTLP/HTTP wire format: decode an ``ExportTraceServiceRequest``, encode the answer.

- :func:`parse_otlp` decodes ``application/x-protobuf`` or ``application/json`` (the OTLP JSON
  encoding: hex ids, lowerCamelCase keys, 64-bit integers as strings; protobuf's own JSON
  mapping with snake_case keys and base64 ids is accepted too) into
  :class:`~sloguard.ingest.semconv.SpanRecord` values, naming every span with bad ids or times;
- :func:`export_response` is the ``ExportTraceServiceResponse`` of an accepted request, in the
  request's encoding.

``parse_otlp(..., keys=READ_KEYS)`` decodes only the attributes the mapping reads: spans of
OpenLLMetry and OpenInference carry dozens of attributes (prompts included) that no metric uses.

Example::

    spans = parse_otlp(body, request.headers["content-type"], keys=READ_KEYS)
    content, media_type = export_response(request.headers["content-type"])
"""

from __future__ import annotations

import base64
import time
from collections.abc import Container, Iterable
from typing import Any, Final

import orjson
from google.protobuf import json_format  # type: ignore[import-untyped,unused-ignore]
from google.protobuf.message import DecodeError  # type: ignore[import-untyped,unused-ignore]
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from sloguard.errors import InvalidRecord
from sloguard.ingest import bounds
from sloguard.ingest.semconv import AttributeValue, SpanRecord

__all__ = [
    "JSON",
    "MAX_PROBLEMS",
    "PROTOBUF",
    "InvalidOtlp",
    "export_response",
    "media_type",
    "parse_otlp",
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
_NO_TRACE: Final = bytes(16)
_NO_SPAN: Final = bytes(8)
_NS: Final = 1e9


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


def media_type(content_type: str | None) -> str | None:
    """Return :data:`PROTOBUF` or :data:`JSON` for a ``Content-Type`` header, else ``None``."""
    value = (content_type or "").split(";", 1)[0].strip().lower()
    return value if value in (PROTOBUF, JSON) else None


# --- JSON --------------------------------------------------------------------------------------
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
    try:  # orjson: fast, and its nesting limit (1024) turns a deep body into a plain error
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
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
    except (json_format.ParseError, RecursionError) as exc:  # nesting under orjson's limit
        problem = f"body is not an OTLP ExportTraceServiceRequest: {exc}"
        raise InvalidOtlp([problem], malformed=True) from exc
    return request


# --- protobuf ----------------------------------------------------------------------------------
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
    if field == "string_value":  # by far the most common
        text: str = value.string_value
        return text
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


def _span_problems(where: str, span: Any, now: float) -> list[str]:
    bad = [
        f"{where}: {field} must be {size} bytes (not all zero), got {raw.hex()!r}"
        for field, raw, size in (("traceId", span.trace_id, 16), ("spanId", span.span_id, 8))
        if len(raw) != size or not any(raw)
    ]
    if span.parent_span_id and len(span.parent_span_id) != 8:
        bad.append(f"{where}: parentSpanId must be 8 bytes or empty")
    if span.start_time_unix_nano == 0 or span.end_time_unix_nano == 0:
        bad.append(f"{where}: startTimeUnixNano and endTimeUnixNano are required")
    elif span.end_time_unix_nano < span.start_time_unix_nano:
        bad.append(f"{where}: endTimeUnixNano is before startTimeUnixNano")
    else:
        for field, ns in (
            ("startTimeUnixNano", span.start_time_unix_nano),
            ("endTimeUnixNano", span.end_time_unix_nano),
        ):
            why = bounds.time_problem(ns / _NS, now)
            if why is not None:
                bad.append(f"{where}: {field} {why}")
        took = bounds.duration_problem((span.end_time_unix_nano - span.start_time_unix_nano) / _NS)
        if took is not None:
            bad.append(f"{where}: endTimeUnixNano - startTimeUnixNano (the duration) {took}")
    return bad


def _records(
    request: ExportTraceServiceRequest, keys: Container[str] | None, now: float
) -> list[SpanRecord]:
    # the same float comparisons as :mod:`.bounds` (so a span refused here has a problem there)
    earliest, latest = bounds.EARLIEST_TIME, now + bounds.MAX_AHEAD_SECONDS
    longest = bounds.MAX_DURATION_SECONDS
    records: list[SpanRecord] = []
    problems: list[str] = []
    append = records.append
    for i, resource in enumerate(request.resource_spans):
        for j, scope in enumerate(resource.scope_spans):
            scope_name = scope.scope.name
            for k, span in enumerate(scope.spans):
                trace_id, span_id = span.trace_id, span.span_id
                parent = span.parent_span_id
                start, end = span.start_time_unix_nano, span.end_time_unix_nano
                if (
                    len(trace_id) != 16
                    or len(span_id) != 8
                    or trace_id == _NO_TRACE
                    or span_id == _NO_SPAN
                    or (parent and len(parent) != 8)
                    or start / _NS < earliest
                    or end < start
                    or end / _NS > latest
                    or (end - start) / _NS > longest
                ):
                    where = f"resourceSpans[{i}].scopeSpans[{j}].spans[{k}] {span.name!r}"
                    problems.extend(_span_problems(where, span, now))
                    continue
                if keys is None:
                    attributes = {kv.key: _value(kv.value) for kv in span.attributes}
                else:
                    attributes = {
                        kv.key: _value(kv.value) for kv in span.attributes if kv.key in keys
                    }
                status = span.status
                append(
                    SpanRecord(
                        trace_id.hex(),
                        span_id.hex(),
                        parent.hex() if parent else None,
                        span.name,
                        _pick(_KINDS, span.kind),
                        start,
                        end,
                        _pick(_STATUSES, status.code),
                        attributes,
                        status.message,
                        scope_name,
                    )
                )
    if problems:
        raise InvalidOtlp(problems)
    return records


def parse_otlp(
    body: bytes,
    content_type: str,
    *,
    keys: Container[str] | None = None,
    now: float | None = None,
) -> list[SpanRecord]:
    """Decode an OTLP/HTTP ``ExportTraceServiceRequest`` (protobuf or JSON) into spans.

    ``keys``: decode only these attributes (default: all). ``now`` (unix seconds, default: the
    clock): span times must lie from 2000 to a day after it, and last at most 7 days
    (:mod:`.bounds`). Raises :class:`InvalidOtlp` naming every problem (unsupported content
    type, undecodable body, bad ids or times).
    """
    kind = media_type(content_type)
    if kind is None:
        raise InvalidOtlp(
            [f"unsupported content type {content_type!r}: send {PROTOBUF} or {JSON}"],
            malformed=True,
        )
    request = _decode_json(body) if kind == JSON else _decode_protobuf(body)
    return _records(request, keys, time.time() if now is None else now)


def export_response(
    content_type: str | None, *, rejected_spans: int = 0, error_message: str = ""
) -> tuple[bytes, str]:
    """Return the body and media type of a successful OTLP/HTTP answer.

    An ``ExportTraceServiceResponse`` in the request's encoding (protobuf unless the request
    was JSON); ``partial_success`` is set when spans were rejected or there is a message.
    """
    if not rejected_spans and not error_message:  # the usual answer: the empty message
        return (b"{}", JSON) if media_type(content_type) == JSON else (b"", PROTOBUF)
    response = ExportTraceServiceResponse()
    response.partial_success.rejected_spans = rejected_spans
    response.partial_success.error_message = error_message
    if media_type(content_type) == JSON:
        text: str = json_format.MessageToJson(response, indent=None)
        return text.encode("utf-8"), JSON
    return response.SerializeToString(), PROTOBUF
