"""OpenAPI documentation of the ingest request bodies and answers.

The endpoints read their bodies themselves (bounded size and nesting before any parsing), so
FastAPI cannot derive the request schema from a parameter: it is given here, as ``openapi_extra``.
The events schema is generated from the pydantic event models (refs inlined, since a route
cannot add component schemas); the A2A trace schema describes what
:func:`~sloguard.sdk.traceparse.parse_trace` accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sloguard.conventions import (
    A2A_TRACEABILITY_METADATA_KEY,
    GEN_AI_INPUT_TOKENS,
    GEN_AI_OUTPUT_TOKENS,
    GEN_AI_REQUEST_MODEL,
)
from sloguard.ingest.bounds import MAX_TOKENS
from sloguard.ingest.eventmodel import EventBatch
from sloguard.ingest.problems import ErrorBody

JsonSchema = dict[str, Any]


def inline_refs(schema: Mapping[str, Any]) -> JsonSchema:
    """Return ``schema`` with every ``#/$defs/…`` reference replaced by its definition.

    Discriminator mappings (which point at the definitions) are dropped: each variant keeps its
    ``const`` tag, so ``oneOf`` alone still selects exactly one. Cyclic definitions raise.
    """
    defs: Mapping[str, Any] = schema.get("$defs", {})

    def resolve(node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [resolve(x, seen) for x in node]
        if not isinstance(node, Mapping):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            if name in seen:
                raise ValueError(f"cannot inline the cyclic schema {name!r}")
            target = resolve(defs[name], (*seen, name))
            return {**target, **{k: resolve(v, seen) for k, v in node.items() if k != "$ref"}}
        return {
            k: resolve(v, seen)
            for k, v in node.items()
            if k != "$defs" and not (k == "discriminator" and "oneOf" in node)
        }

    out: JsonSchema = resolve(schema, ())
    return out


def json_body(schema: JsonSchema, description: str) -> JsonSchema:
    """Return an ``openapi_extra`` documenting a required JSON request body."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    }


def events_schema(max_items: int) -> JsonSchema:
    """Return the schema of the ``/v1/events`` body."""
    schema = inline_refs(EventBatch.model_json_schema())
    schema["required"] = ["events"]
    schema["properties"]["events"]["maxItems"] = max_items
    return schema


_TEXT = {"type": ["string", "null"]}
_NUMBER = {
    "anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}, {"type": "null"}],
    "description": "A number >= 0 (protobuf JSON may render it as a string).",
}
_TIME = {
    "anyOf": [{"type": "string", "format": "date-time"}, {"type": "number"}, {"type": "null"}],
    "description": (
        "ISO 8601 (UTC when no offset is given) or Unix seconds; from 2000 to one day after "
        "the server's time."
    ),
}
_PARAMETERS = {
    "type": ["object", "null"],
    "description": "Read for shape only: dropped once parsed, never stored or logged.",
}
_STEP: JsonSchema = {
    "type": "object",
    "description": (
        "One step, in the flat shape of the sample library or the nested shape of the spec "
        "(step_action); camelCase keys (stepId, callType, …) are accepted too. Unknown keys "
        "are ignored."
    ),
    "properties": {
        "step_id": _TEXT,
        "trace_id": _TEXT,
        "parent_step_id": _TEXT,
        "call_type": {
            "anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}],
            "description": "AGENT (default), TOOL or HOST, any case; protobuf numbers 1-3.",
        },
        "name": _TEXT,
        "parameters": _PARAMETERS,
        "requests": {"description": "Dropped once parsed, never stored or logged."},
        "step_type": _TEXT,
        "cost": {**_NUMBER, "description": "US dollars, the provider's figure; at most 1e6."},
        "total_tokens": {**_NUMBER, "description": "At most 1e12."},
        "additional_attributes": {
            "type": ["object", "null"],
            "properties": {
                GEN_AI_REQUEST_MODEL: {"type": "string"},
                GEN_AI_INPUT_TOKENS: {"type": "integer", "minimum": 0, "maximum": MAX_TOKENS},
                GEN_AI_OUTPUT_TOKENS: {"type": "integer", "minimum": 0, "maximum": MAX_TOKENS},
            },
        },
        "latency": {**_NUMBER, "description": "Milliseconds; at most 7 days."},
        "start_time": _TIME,
        "end_time": _TIME,
        "error": {"description": "Present and non-empty when the step failed."},
        "step_action": {
            "type": ["object", "null"],
            "description": "Spec shape: exactly one of tool_invocation, agent_invocation.",
            "properties": {
                "tool_invocation": {
                    "type": "object",
                    "properties": {"tool_name": _TEXT, "parameters": _PARAMETERS},
                },
                "agent_invocation": {
                    "type": "object",
                    "properties": {
                        "agent_url": _TEXT,
                        "agent_name": _TEXT,
                        "requests": {},
                        "response_trace": {
                            "type": ["object", "null"],
                            "description": (
                                "The callee's whole trace (the same schema as a trace of "
                                "this body); nesting is bounded."
                            ),
                        },
                    },
                },
            },
        },
    },
}
TRACE_SCHEMA: JsonSchema = {
    "type": "object",
    "description": "An A2A traceability ResponseTrace.",
    "required": ["steps"],
    "properties": {"trace_id": _TEXT, "steps": {"type": "array", "items": _STEP}},
}
_WRAPPED: JsonSchema = {
    "type": "object",
    "description": "A2A Message/Artifact metadata carrying a trace (other keys are ignored).",
    "required": [A2A_TRACEABILITY_METADATA_KEY],
    "properties": {A2A_TRACEABILITY_METADATA_KEY: TRACE_SCHEMA},
}


def traces_schema(max_items: int) -> JsonSchema:
    """Return the schema of the ``/v1/a2a/traces`` body."""
    one = {"anyOf": [TRACE_SCHEMA, _WRAPPED]}
    many = {"type": "array", "items": one, "maxItems": max_items}
    return {
        "anyOf": [
            TRACE_SCHEMA,
            _WRAPPED,
            many,
            {
                "type": "object",
                "required": ["traces"],
                "properties": {"traces": many},
                "additionalProperties": False,
            },
        ]
    }


def responses(result: type[Any], *, auth: bool) -> dict[int | str, dict[str, Any]]:
    """Return the documented answers of an ingest endpoint."""
    out: dict[int | str, dict[str, Any]] = {
        200: {"model": result, "description": "Recorded, all of it."},
        400: {"model": ErrorBody, "description": "Not JSON, nested too deep, or bad gzip."},
        413: {"model": ErrorBody, "description": "Body larger than the configured limit."},
        415: {"model": ErrorBody, "description": "Not application/json, or not gzip/identity."},
        422: {
            "model": ErrorBody,
            "description": "Invalid batch: every problem listed, nothing recorded.",
        },
    }
    if auth:
        out[401] = {
            "model": ErrorBody,
            "description": "Missing or wrong bearer token.",
            "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
        }
    return out
