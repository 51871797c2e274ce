"""A client that writes the whole body before it reads (Python's urllib, which the SDK exporter
uses) still gets the 413 of an oversized body, not a connection reset: the server drains a
bounded amount of what it refuses before it answers. Over a real socket (uvicorn on 127.0.0.1).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import orjson
import pytest
from prometheus_client import CollectorRegistry

from sloguard.ingest.body import DRAIN_BYTES
from sloguard.ingest.router import ingest_router
from sloguard.sdk.recorder import Recorder
from sloguard.web.server import create_app
from tests.support.uvicornserver import serving

TOKEN = "s3cr3t-ingest-token-0123456789"
MB = 1024 * 1024


@pytest.fixture
def served(registry: CollectorRegistry, recorder: Recorder, free_port: int) -> Iterator[str]:
    app = create_app(registry, routers=[ingest_router(recorder, token=TOKEN, max_body_bytes=MB)])
    with serving(app, free_port) as url:
        yield url


def post(url: str, body: bytes) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        url + "/v1/events",
        data=body,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, orjson.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, orjson.loads(exc.read())


@pytest.mark.e2e
@pytest.mark.parametrize("size", [MB + 1, 3 * MB, DRAIN_BYTES])
def test_urllib_gets_the_413_of_an_oversized_body(served: str, size: int) -> None:
    status, answer = post(served, b" " * size)
    assert status == 413
    assert answer["error"] == f"request body larger than {MB} bytes"


@pytest.mark.e2e
def test_the_server_keeps_serving_after_draining(served: str) -> None:
    assert post(served, b" " * (2 * MB))[0] == 413
    ok = {"events": [{"type": "agent_call", "agent": "a", "status": "success",
                      "duration_seconds": 1}]}  # fmt: skip
    assert post(served, orjson.dumps(ok))[0] == 200


def test_drain_is_bounded() -> None:
    assert 4 * MB <= DRAIN_BYTES <= 64 * MB
