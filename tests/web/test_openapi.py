"""The ingest endpoints are documented in /openapi.json, and the app keeps what it documents.

Schemathesis generates requests from the schema (valid and invalid ones) against the app
in-process: no answer may be a 5xx, and every answer must have a documented status, content type,
headers and body schema. Deterministic (derandomized) and bounded in examples.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from prometheus_client import CollectorRegistry
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from sloguard.ingest.router import ingest_router
from sloguard.sdk.metrics import AgentMetrics
from sloguard.sdk.recorder import Recorder
from sloguard.web.server import create_app

TOKEN = "openapi-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
_registry = CollectorRegistry()
app = create_app(
    _registry,
    routers=[ingest_router(Recorder(AgentMetrics(registry=_registry)), token=TOKEN, max_items=50)],
)
@schemathesis.serializer("application/x-protobuf")
def _protobuf(ctx: schemathesis.SerializationContext, value: Any) -> bytes:
    """OTLP protobuf bodies: whatever bytes hypothesis made (the endpoint must not 5xx)."""
    return value if isinstance(value, bytes) else str(value).encode()


schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(path_regex="^/v1/")

CHECKS: list[Any] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


async def _openapi() -> dict[str, Any]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sloguard"
    ) as client:
        r = await client.get("/openapi.json")
    assert r.status_code == 200
    doc: dict[str, Any] = r.json()
    return doc


async def test_both_endpoints_are_documented_with_body_answers_and_auth() -> None:
    doc = await _openapi()
    for path in ("/v1/a2a/traces", "/v1/events"):
        op = doc["paths"][path]["post"]
        body = op["requestBody"]["content"]["application/json"]["schema"]
        assert body, path
        assert set(op["responses"]) >= {"200", "400", "401", "413", "415", "422"}, path
        assert op["responses"]["422"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorBody"
        }
        assert op["security"] == [{"HTTPBearer": []}]
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


async def test_the_event_schema_lists_every_type_with_its_fields() -> None:
    doc = await _openapi()
    schema_ = doc["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    events = schema_["schema"]["properties"]["events"]
    assert events["maxItems"] == 50
    variants = {v["properties"]["type"]["const"]: v for v in events["items"]["oneOf"]}
    assert set(variants) == {
        "agent_call",
        "tool_call",
        "handoff",
        "decision",
        "routing_outcome",
        "usage",
        "anomaly",
    }
    call = variants["agent_call"]
    assert call["additionalProperties"] is False
    assert set(call["required"]) == {"type", "agent", "status", "duration_seconds"}
    assert call["properties"]["duration_seconds"]["minimum"] == 0
    assert "$ref" not in str(schema_)


async def test_the_trace_schema_offers_every_accepted_shape() -> None:
    doc = await _openapi()
    body = doc["paths"]["/v1/a2a/traces"]["post"]["requestBody"]["content"]["application/json"]
    shapes = body["schema"]["anyOf"]
    assert [s.get("type") for s in shapes] == ["object", "object", "array", "object"]
    assert shapes[0]["required"] == ["steps"]
    assert "step_action" in shapes[0]["properties"]["steps"]["items"]["properties"]
    assert shapes[3]["required"] == ["traces"]


# e2e: each of these two is a generated sweep of about 2,000 requests through the whole HTTP
# stack (routing, auth, body limits, validation, answers) checked against the published contract,
# 5-10 s apiece; the schema tests above stay in the fast loop.
@pytest.mark.e2e
@schema.parametrize()
@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_app_keeps_its_schema(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate(headers=AUTH, checks=CHECKS)


@pytest.mark.e2e
@schema.parametrize()
@settings(max_examples=10, derandomize=True, deadline=None, database=None)
def test_without_the_token_every_request_is_refused_as_documented(
    case: schemathesis.Case[Any],
) -> None:
    response = case.call_and_validate(checks=CHECKS)
    # Schemathesis also tries undocumented methods (405) on the path.
    assert response.status_code == (401 if case.method.upper() == "POST" else 405)
