"""Schemathesis over the whole OpenAPI document: ingest, traces, decisions, anomalies, SLOs.

The in-process app of :mod:`tests.fuzz.fuzzapp` (ingest token, SQLite trace store in
``tmp_path``, one stored trace and decision to read). Every generated request (valid and
invalid, by the schema) must get an answer that is not a 5xx, whose status, content type,
headers and body keep the published schema, and every 4xx carries the error body of its API:
``{"error", "problems": [{"item", "field", "message"}]}`` on the ingest, FastAPI's
``{"detail": ...}`` on the read API. Derandomized, no example database: CI runs the same cases.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from sloguard.ingest.problems import ErrorBody
from tests.fuzz.fuzzapp import AUTH, Fuzzed, fuzzed_app

#: Generated requests per operation and mode.
EXAMPLES = 25


@schemathesis.serializer("application/x-protobuf")
def _protobuf(ctx: schemathesis.SerializationContext, value: Any) -> bytes:
    """OTLP protobuf bodies: whatever bytes hypothesis made (the endpoint must not 5xx)."""
    return value if isinstance(value, bytes) else str(value).encode()


def documented_error_body(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case[Any]
) -> bool | None:
    """Every 4xx has the error body of its API (405, FastAPI's routing answer, aside)."""
    if not 400 <= response.status_code < 500:
        return None
    body = response.json()
    if case.path.startswith("/v1/") and response.status_code != 405:
        ErrorBody.model_validate(body)  # raises, naming what is missing
        assert body["problems"], "a refusal lists at least one problem"
    else:
        assert isinstance(body, dict) and set(body) == {"detail"}, body
        detail = body["detail"]
        assert isinstance(detail, str) or (
            response.status_code == 422 and isinstance(detail, list)
        ), body
    return None


# status_code_conformance is added for the ingest only: the read API answers 400 (bad query
# value) and 404 (unknown id) without documenting them, the strict xfail at the end.
CHECKS: list[Any] = [
    not_a_server_error,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    documented_error_body,
]

TRACE = {
    "trace_id": "seeded",
    "steps": [{"step_id": "s1", "name": "planner", "call_type": "AGENT", "latency": 120}],
}
DECISION = {
    "type": "decision",
    "agent": "planner",
    "decision_type": "routing",
    "chosen_option": "writer",
    "confidence": 0.2,
    "workflow_id": "seeded",
}


@pytest.fixture
def fuzzed(tmp_path: Path) -> Fuzzed:
    return fuzzed_app(tmp_path)


@pytest.fixture
async def seeded(fuzzed: Fuzzed) -> Fuzzed:
    transport = httpx.ASGITransport(app=fuzzed.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sloguard") as client:
        assert (await client.post("/v1/a2a/traces", json=TRACE, headers=AUTH)).status_code == 200
        r = await client.post("/v1/events", json={"events": [DECISION]}, headers=AUTH)
        assert r.status_code == 200, r.text
    return fuzzed


@pytest.fixture
def api(seeded: Fuzzed) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", seeded.app)


#: Every operation of the document (the first test keeps this list complete).
OPERATIONS = [
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("POST", "/v1/a2a/traces"),
    ("POST", "/v1/events"),
    ("POST", "/v1/traces"),
    ("POST", "/v1/traces/store"),
    ("GET", "/api/v1/traces"),
    ("GET", "/api/v1/traces/compare"),
    ("GET", "/api/v1/traces/{trace_id}"),
    ("GET", "/api/v1/traces/{trace_id}/mermaid"),
    ("GET", "/api/v1/traces/{trace_id}/svg"),
    ("GET", "/api/v1/decisions"),
    ("GET", "/api/v1/anomalies"),
    ("GET", "/api/v1/slos"),
    ("GET", "/api/v1/alerts"),
]
#: Operations with a constraint to break (a body schema, a required or a typed parameter); a
#: negative draft of the others (no parameters, or one free path string) is impossible.
BREAKABLE = [
    ("POST", "/v1/a2a/traces"),
    ("POST", "/v1/events"),
    ("POST", "/v1/traces"),
    ("POST", "/v1/traces/store"),
    ("GET", "/api/v1/traces"),
    ("GET", "/api/v1/traces/compare"),
    ("GET", "/api/v1/decisions"),
    ("GET", "/api/v1/anomalies"),
    ("GET", "/api/v1/slos"),
]
SWEEPS = [
    *[pytest.param(m, p, GenerationMode.POSITIVE, id=f"{m} {p} positive") for m, p in OPERATIONS],
    *[pytest.param(m, p, GenerationMode.NEGATIVE, id=f"{m} {p} negative") for m, p in BREAKABLE],
]


def test_the_sweep_covers_every_documented_operation(api: schemathesis.BaseSchema) -> None:
    documented = {
        (method.upper(), path) for path, item in api.raw_schema["paths"].items() for method in item
    }
    assert documented == set(OPERATIONS)


# Not schemathesis.pytest.from_fixture (its lazy loader fails on this pytest: "'Function'
# object has no attribute '_nodeid'"): each operation's strategy is drawn by hypothesis here.
@pytest.mark.parametrize(("method", "path", "mode"), SWEEPS)
def test_every_operation_keeps_its_schema(
    api: schemathesis.BaseSchema, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        # too_slow / filter_too_much: the strict event union makes many drafts invalid and
        # each call runs the whole ASGI stack; neither is a flaw of the test or the app.
        suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
    )
    def sweep(case: schemathesis.Case[Any]) -> None:
        # the ingest documents every status it answers; the read API not yet (xfail below)
        checks = [*CHECKS, status_code_conformance] if path.startswith("/v1/") else CHECKS
        case.call_and_validate(headers=AUTH, checks=checks)

    sweep()


async def test_the_read_api_documents_its_400_and_404(api: schemathesis.BaseSchema) -> None:
    doc = api.raw_schema["paths"]
    assert "404" in doc["/api/v1/traces/{trace_id}"]["get"]["responses"]
    assert "400" in doc["/api/v1/traces"]["get"]["responses"]
