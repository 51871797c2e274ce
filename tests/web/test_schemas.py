"""The JSON Schemas of the files are served at ``/schemas/...``, open like the probes, and shipped.

In-process (httpx over ASGI). What the schemas say is tested in ``tests/slo/test_schema.py`` and
``tests/notify/test_routing_schema.py``; here: they are served as written, as
``application/schema+json``, without credentials, and the package data includes them.
"""

from __future__ import annotations

import fnmatch
import json
import tomllib
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from jsonschema import Draft202012Validator
from prometheus_client import CollectorRegistry

from sloguard.web.auth import ReadAuth
from sloguard.web.schemas import MEDIA_TYPE, SCHEMAS, schema_bytes
from sloguard.web.server import create_app

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = ROOT / "sloguard" / "schemas"


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sloguard")


@pytest.mark.parametrize("name", sorted(SCHEMAS))
async def test_each_schema_is_served_as_written_with_its_media_type(name: str) -> None:
    async with _client(create_app(CollectorRegistry())) as client:
        r = await client.get(f"/schemas/{name}")
        head = await client.head(f"/schemas/{name}")
    assert r.status_code == 200
    assert r.headers["content-type"] == MEDIA_TYPE
    assert r.content == (SCHEMA_DIR / SCHEMAS[name]).read_bytes()
    doc = r.json()
    Draft202012Validator.check_schema(doc)
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert head.status_code == 200 and head.headers["content-type"] == MEDIA_TYPE


async def test_an_unknown_schema_is_404_naming_the_known_ones() -> None:
    async with _client(create_app(CollectorRegistry())) as client:
        r = await client.get("/schemas/slo-v2.json")
    assert r.status_code == 404
    assert r.json() == {"detail": "no schema 'slo-v2.json' (known: slo-v1.json, routing-v1.json)"}


async def test_the_schemas_are_open_when_reads_need_credentials() -> None:
    app = create_app(CollectorRegistry(), auth=ReadAuth(token="read-token-0123456789abcdef"))
    async with _client(app) as client:
        schemas = [await client.get(f"/schemas/{name}") for name in SCHEMAS]
        closed = await client.get("/openapi.json")
        unknown = await client.get("/schemas/other.json")
    assert [r.status_code for r in schemas] == [200, 200]
    assert closed.status_code == 401  # the rest still needs credentials
    assert unknown.status_code == 401  # only the schemas' own paths are open


async def test_the_schemas_are_not_api_operations() -> None:
    async with _client(create_app(CollectorRegistry())) as client:
        doc = (await client.get("/openapi.json")).json()
    assert not [path for path in doc["paths"] if path.startswith("/schemas")]


def test_every_schema_file_is_package_data_and_served() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]["sloguard"]
    files = sorted(p.name for p in SCHEMA_DIR.iterdir() if p.is_file())
    assert files == sorted(SCHEMAS.values())
    for name in files:
        assert any(fnmatch.fnmatch(f"schemas/{name}", g) for g in globs), name
    for served, name in SCHEMAS.items():
        assert json.loads(schema_bytes(served)) == json.loads((SCHEMA_DIR / name).read_bytes())
