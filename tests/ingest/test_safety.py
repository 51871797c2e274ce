"""The ingest under hostile or careless input: auth, size, nesting, syntax, cardinality, secrets.

Every refusal answers a 4xx with a JSON body naming the problem, never a 5xx, and records nothing.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from sloguard.ingest.body import json_depth
from sloguard.ingest.router import ingest_router
from sloguard.sdk.recorder import Recorder
from sloguard.web.server import create_app
from tests.support.uvicornserver import serving

TOKEN = "s3cr3t-ingest-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MB = 1024 * 1024
CALL = {"type": "agent_call", "agent": "a", "status": "success", "duration_seconds": 1}
TRACE = {"trace_id": "t", "steps": [{"name": "planner", "latency": 100}]}

Client = Callable[..., httpx.AsyncClient]


@pytest.fixture
def make_client(registry: CollectorRegistry, recorder: Recorder) -> Client:
    def make(**options: Any) -> httpx.AsyncClient:
        options.setdefault("token", TOKEN)
        app = create_app(registry, routers=[ingest_router(recorder, **options)])
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x")

    return make


@pytest.fixture
async def client(make_client: Client) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as c:
        yield c


def samples(registry: CollectorRegistry) -> dict[tuple[str, Any], float]:
    """Every sample except the ingest's own request counters (those count the refusals)."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for m in registry.collect()
        for s in m.samples
        if not s.name.startswith("sloguard_ingest_")
    }


def result(registry: CollectorRegistry, endpoint: str, outcome: str) -> float | None:
    labels = {"endpoint": endpoint, "result": outcome}
    return registry.get_sample_value("sloguard_ingest_requests_total", labels)


def raw(body: bytes, **headers: str) -> dict[str, Any]:
    return {"content": body, "headers": {**AUTH, "Content-Type": "application/json", **headers}}


# --- auth ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "challenge"),
    [
        (None, "Bearer"),
        ("Bearer wrong-token", 'Bearer error="invalid_token"'),
        (f"Basic {TOKEN}", "Bearer"),
        (f"Bearer {TOKEN}x", 'Bearer error="invalid_token"'),
        ("Bearer ", "Bearer"),
    ],
)
async def test_missing_or_wrong_token_is_401_with_a_challenge(
    client: httpx.AsyncClient,
    registry: CollectorRegistry,
    authorization: str | None,
    challenge: str,
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    for path, body in (("/v1/events", {"events": [CALL]}), ("/v1/a2a/traces", TRACE)):
        r = await client.post(path, json=body, headers=headers)
        assert r.status_code == 401, path
        assert r.headers["WWW-Authenticate"] == challenge
        assert r.json()["problems"][0]["item"] is None
    assert (
        registry.get_sample_value("agent_calls_total", {"agent_name": "a", "status": "success"})
        is None
    )
    assert result(registry, "events", "unauthorized") == 1


async def test_the_right_token_in_any_scheme_case_is_accepted(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/events", json={"events": [CALL]}, headers={"Authorization": f"bearer {TOKEN}"}
    )
    assert r.status_code == 200


async def test_the_token_is_checked_before_the_body_is_read(client: httpx.AsyncClient) -> None:
    read = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal read
        for _ in range(100):
            read += 1
            yield b" " * 65536

    r = await client.post(
        "/v1/events", content=body(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 401
    assert read <= 1


async def test_without_a_token_configured_no_auth_is_needed(make_client: Client) -> None:
    async with make_client(token=None) as c:
        r = await c.post("/v1/events", json={"events": [CALL]})
    assert r.status_code == 200


def test_an_empty_token_is_a_configuration_error(recorder: Recorder) -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        ingest_router(recorder, token="")


async def test_nothing_sensitive_is_logged(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    secret_param = "hunter2-param-value"
    trace = {"steps": [{"name": "a", "parameters": {"password": secret_param}, "latency": 1}]}
    bad = {"steps": [{"name": "a", "parameters": {"password": secret_param}, "cost": secret_param}]}
    with caplog.at_level(logging.DEBUG), structlog.testing.capture_logs() as logs:
        assert (await client.post("/v1/a2a/traces", json=trace, headers=AUTH)).status_code == 200
        r = await client.post("/v1/a2a/traces", json=bad, headers=AUTH)
        assert r.status_code == 422  # the client may see its own value quoted back …
        assert secret_param in r.text
        wrong = {"Authorization": f"Bearer {TOKEN}-guess"}
        assert (
            await client.post("/v1/events", json={"events": []}, headers=wrong)
        ).status_code == 401
    logged = repr(logs) + caplog.text + "".join(capsys.readouterr())
    assert any(entry.get("result") == "invalid" for entry in logs)  # … the logs never do
    assert secret_param not in logged
    assert TOKEN not in logged


# --- content type, size, encoding ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("application/json", 200),
        ("application/json; charset=utf-8", 200),
        ("application/vnd.sloguard+json", 200),
        ("text/plain", 415),
        ("application/x-www-form-urlencoded", 415),
        (None, 415),
    ],
)
async def test_only_json_content_types_are_read(
    client: httpx.AsyncClient, content_type: str | None, status: int
) -> None:
    headers = {**AUTH, **({"Content-Type": content_type} if content_type else {})}
    r = await client.post("/v1/events", content=orjson.dumps({"events": [CALL]}), headers=headers)
    assert r.status_code == status


async def test_a_10_mb_body_is_413_before_parsing(
    client: httpx.AsyncClient, registry: CollectorRegistry
) -> None:
    body = b'{"events": [' + b" " * (10 * MB) + b"]}"
    r = await client.post("/v1/events", **raw(body))
    assert r.status_code == 413
    assert r.json()["error"] == f"request body larger than {4 * MB} bytes"
    assert result(registry, "events", "too_large") == 1


async def test_a_chunked_body_without_length_is_cut_off_at_the_limit(
    make_client: Client,
) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"events": ['
        for _ in range(160):  # 10 MB in 64 KiB chunks
            sent += 1
            yield b" " * 65536
        yield b"]}"

    async with make_client(max_body_bytes=MB) as c:
        headers = {**AUTH, "Content-Type": "application/json"}
        r = await c.post("/v1/a2a/traces", content=chunks(), headers=headers)
    assert r.status_code == 413
    assert sent <= 17  # stopped reading just past 1 MB


@pytest.fixture
def served(registry: CollectorRegistry, recorder: Recorder, free_port: int) -> Iterator[str]:
    """The ingest behind a real uvicorn on 127.0.0.1 (HTTP/1.1 over a socket, as in production)."""
    app = create_app(registry, routers=[ingest_router(recorder, token=TOKEN, max_body_bytes=MB)])
    with serving(app, free_port) as url:
        yield url


def test_over_a_real_socket_big_bodies_get_413_and_the_server_keeps_serving(served: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"events": ['
        for _ in range(160):  # 10 MB, chunked: no Content-Length
            yield b" " * 65536
        yield b"]}"

    headers = {**AUTH, "Content-Type": "application/json"}
    with httpx.Client(base_url=served, timeout=30) as c:
        chunked = c.post("/v1/events", content=chunks(), headers=headers)
        declared = c.post("/v1/events", content=b" " * (10 * MB), headers=headers)
        ok = c.post("/v1/events", json={"events": [CALL]}, headers=AUTH)
    assert chunked.status_code == declared.status_code == 413
    assert chunked.json()["error"] == f"request body larger than {MB} bytes"
    assert ok.status_code == 200


async def test_gzip_bodies_are_inflated_within_the_same_limit(
    make_client: Client, registry: CollectorRegistry
) -> None:
    async with make_client(max_body_bytes=MB) as c:
        ok = await c.post(
            "/v1/events",
            **raw(gzip.compress(orjson.dumps({"events": [CALL]})), **{"Content-Encoding": "gzip"}),
        )
        bomb = gzip.compress(b'{"events": [' + b" " * (50 * MB) + b"]}")
        assert len(bomb) < MB / 10
        big = await c.post("/v1/events", **raw(bomb, **{"Content-Encoding": "gzip"}))
        corrupt = await c.post(
            "/v1/events", **raw(b"\x1f\x8bnot gzip", **{"Content-Encoding": "gzip"})
        )
        cut = await c.post("/v1/events", **raw(bomb[:500], **{"Content-Encoding": "gzip"}))
        brotli = await c.post("/v1/events", **raw(b"{}", **{"Content-Encoding": "br"}))
    assert ok.status_code == 200
    assert big.status_code == 413
    assert corrupt.status_code == 400 and "gzip" in corrupt.json()["error"]
    assert cut.status_code == 400 and cut.json()["error"] == "gzip body is truncated"
    assert brotli.status_code == 415


# --- syntax and nesting --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b'{"events": [1,}', "line 1, column 15 (byte 14)"),
        (b'{\n  "events": [\n    {"type": "handoff",,}\n  ]\n}', "line 3, column 24"),
        (b'{"events": []} trailing', "unexpected content after document"),
        (b"\xff\xfe{}", "UTF-8"),
        (b"   ", "empty body"),
        (b"NaN", "line 1, column 1"),
    ],
)
async def test_malformed_json_is_400_naming_the_position(
    client: httpx.AsyncClient, body: bytes, where: str
) -> None:
    for path in ("/v1/events", "/v1/a2a/traces"):
        r = await client.post(path, **raw(body))
        assert r.status_code == 400, path
        assert where in r.json()["error"]
        assert r.json()["problems"][0]["item"] is None


@pytest.mark.parametrize("depth", [1000, 100_000])
async def test_deep_nesting_is_400_not_500(client: httpx.AsyncClient, depth: int) -> None:
    arrays = b"[" * depth + b"]" * depth
    objects = b'{"a":' * depth + b"1" + b"}" * depth
    for path in ("/v1/events", "/v1/a2a/traces"):
        for body in (arrays, objects, b'{"events": ' + arrays + b"}"):
            r = await client.post(path, **raw(body))
            assert r.status_code == 400
            assert r.json()["error"].startswith("JSON nested")


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        (b"1", 0),
        (b"[]", 1),
        (b'{"a": [1, {"b": []}]}', 4),
        (b'"[[[[{{{{"', 0),
        (b'["\\"[[[", "\\\\", [[]]]', 3),
        (b'{"a": "]]]]"}', 1),
        (b"[[[", 3),
        (b'["a", "", "[", "b"]', 1),  # empty strings and strings side by side
        (b'[["x"]"', 2),  # an unterminated string: not JSON, measured all the same
        (b'["a" "[" [["', 3),
    ],
)
def test_nesting_depth_is_measured_without_recursion(text: bytes, depth: int) -> None:
    assert json_depth(text) == depth


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


_tricky = st.text(alphabet='[]{}"\\\\/ \n\tab\u00e9\U0001f600', max_size=8)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | _tricky,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_tricky, inner, max_size=3),
    max_leaves=20,
)


@settings(max_examples=300, derandomize=True, database=None)
@given(_json)
def test_nesting_depth_matches_the_structure_of_any_document(value: Any) -> None:
    assert json_depth(orjson.dumps(value)) == _depth(value)


# --- wrong types and shapes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/events", "not an object", ""),
        ("/v1/events", {"events": [{"type": "agent_call", "agent": ["a"], "status": "success",
                                    "duration_seconds": 1}]}, "events[0].agent"),
        ("/v1/a2a/traces", 42, ""),
        ("/v1/a2a/traces", {"steps": {"a": 1}}, "steps"),
        ("/v1/a2a/traces", {"steps": [{"name": "a", "latency": "fast"}]}, "steps[0].latency"),
        ("/v1/a2a/traces", {"traces": "all of them"}, "traces"),
    ],
)  # fmt: skip
async def test_wrong_types_are_422_naming_the_field(
    client: httpx.AsyncClient, path: str, body: Any, field: str
) -> None:
    r = await client.post(path, json=body, headers=AUTH)
    assert r.status_code == 422, r.text
    assert r.json()["problems"][0]["field"] == field


async def test_too_many_items_in_one_batch(make_client: Client) -> None:
    async with make_client(max_items=10) as c:
        events = await c.post("/v1/events", json={"events": [CALL] * 11}, headers=AUTH)
        traces = await c.post("/v1/a2a/traces", json=[TRACE] * 11, headers=AUTH)
        ok = await c.post("/v1/a2a/traces", json=[TRACE] * 10, headers=AUTH)
    assert events.status_code == traces.status_code == 422
    assert traces.json()["problems"][0]["message"] == "11 traces in one request; at most 10"
    assert ok.status_code == 200


async def test_a_batch_full_of_problems_lists_the_first_hundred(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/a2a/traces", json=[{"steps": [{"cost": -1}]}] * 150, headers=AUTH)
    assert r.status_code == 422
    assert r.json()["error"] == "invalid batch: 150 problems (first 100 listed)"
    assert len(r.json()["problems"]) == 100
    assert r.json()["problems"][-1]["field"] == "[99].steps[0].cost"


async def test_values_the_parser_cannot_hold_are_422(client: httpx.AsyncClient) -> None:
    # A latency of 1e300 ms does not fit a timestamp: refused, not a 500.
    r = await client.post("/v1/a2a/traces", json={"steps": [{"latency": 1e300}]}, headers=AUTH)
    assert r.status_code == 422
    problem = r.json()["problems"][0]
    assert problem["field"].endswith("steps[0].latency")
    assert problem["message"] == "must end before the year 10000, got 1e+300"


# --- cardinality ---------------------------------------------------------------------------------


async def test_100k_distinct_agent_names_stay_within_the_guard(
    make_client: Client, registry: CollectorRegistry, recorder: Recorder
) -> None:
    n = 100_000
    events = [{**CALL, "agent": f"agent-{i}"} for i in range(n)]
    async with make_client(max_items=n, max_body_bytes=32 * MB) as c:
        r = await c.post("/v1/events", json={"events": events}, headers=AUTH)
    assert (r.status_code, r.json()) == (200, {"accepted": n})
    limit = recorder.guard.limit("agent_name")
    # The agent families' series budget holds fewer agents than the label limit (200 of 500).
    per_agent = recorder.metrics.series_per_combination["agent_latency_seconds"]
    own = min(limit, recorder.guard.series_budget("agent_latency_seconds") // per_agent)
    agents = {
        s.labels["agent_name"]
        for m in registry.collect()
        for s in m.samples
        if s.name == "agent_calls_total"
    }
    assert len(agents) == own + 1  # the first ``own`` names and _other
    assert "_other" in agents
    get = registry.get_sample_value
    assert get("sloguard_label_overflow_total", {"label": "agent_name"}) == n - limit
    assert get("sloguard_series_overflow_total", {"metric": "agent_calls_total"}) == limit - own
    assert get("agent_calls_total", {"agent_name": "_other", "status": "success"}) == n - own


# --- atomicity -------------------------------------------------------------------------------


def _rejected_requests() -> list[tuple[str, str, dict[str, Any]]]:
    fine_event = {"type": "handoff", "source_agent": "a", "target_agent": "b"}
    bad_split = {"gen_ai.usage.input_tokens": 2, "gen_ai.usage.output_tokens": 2}
    text = {**AUTH, "Content-Type": "text/plain"}
    fine_trace = {
        "steps": [
            {
                "name": "sup",
                "latency": 5,
                "cost": 0.5,
                "additional_attributes": {
                    "gen_ai.request.model": "x",
                    "gen_ai.usage.input_tokens": 1,
                },
            }
        ]
    }
    new_names = [{**CALL, "agent": f"new-{i}"} for i in range(600)]  # would overflow the guard
    return [
        ("last event bad", "/v1/events",
         {"json": {"events": [*new_names, {**CALL, "duration_seconds": -1}]}}),
        ("recorder-level rule", "/v1/events",
         {"json": {"events": [fine_event, {"type": "usage", "agent": "a", "input_tokens": 5,
                                           "output_tokens": 5, "total_tokens": 1}]}}),
        ("unpriced tokens then bad", "/v1/events",
         {"json": {"events": [{"type": "usage", "agent": "a", "model": "m", "input_tokens": 9},
                              {"type": "nope"}]}}),
        ("bad trace after good ones", "/v1/a2a/traces",
         {"json": [fine_trace, fine_trace, {"steps": [{"name": "x", "cost": -3}]}]}),
        ("recorder-level rule in a trace", "/v1/a2a/traces",
         {"json": [fine_trace, {"steps": [{"name": "x", "total_tokens": 1,
                                           "additional_attributes": bad_split}]}]}),
        ("malformed", "/v1/events", raw(b'{"events": [')),
        ("too deep", "/v1/a2a/traces", raw(b"[" * 1000 + b"]" * 1000)),
        ("too large", "/v1/events", raw(b" " * (5 * MB))),
        ("no token", "/v1/events", {"json": {"events": [fine_event]}, "headers": {}}),
        ("wrong content type", "/v1/events",
         {"content": orjson.dumps({"events": [fine_event]}), "headers": text}),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "path", "request_"),
    _rejected_requests(),
    ids=lambda x: x if isinstance(x, str) and not x.startswith("/") else "",
)
async def test_a_rejected_request_records_nothing(
    client: httpx.AsyncClient,
    registry: CollectorRegistry,
    case: str,
    path: str,
    request_: dict[str, Any],
) -> None:
    # Something recorded before, so "nothing" is measured against a non-empty registry.
    assert (
        await client.post("/v1/events", json={"events": [CALL]}, headers=AUTH)
    ).status_code == 200
    before = samples(registry)
    request_.setdefault("headers", AUTH)
    r = await client.post(path, **request_)
    assert 400 <= r.status_code < 500, case
    assert set(r.json()) == {"error", "problems"} and r.json()["problems"]
    assert samples(registry) == before, case
