"""The JSON Schemas of sloguard's files, served for editors: ``GET /schemas/slo-v1.json`` (SLO
files, ``apiVersion: sloguard/v1``) and ``GET /schemas/routing-v1.json`` (routing files).

The schemas are package data (``sloguard/schemas/*.schema.json``, JSON Schema draft 2020-12),
answered as ``application/schema+json``. Like the probes they are open: with read
authentication on, an editor fetches them without credentials (:data:`SCHEMA_PATHS`). They
describe a file's shape for completion and hover help; ``sloguard validate`` remains the full
check (bucket bounds, policy and receiver names, PromQL).

Example::

    app.include_router(schemas_router())
    # in an SLO file, for the YAML language server:
    # yaml-language-server: $schema=http://localhost:9464/schemas/slo-v1.json
"""

from __future__ import annotations

from importlib.resources import files
from typing import Final

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

__all__ = ["MEDIA_TYPE", "SCHEMAS", "SCHEMA_PATHS", "schema_bytes", "schemas_router"]

#: The URL path of each schema under ``/schemas/``, and its file in ``sloguard/schemas/``.
SCHEMAS: Final = {
    "slo-v1.json": "slo-v1.schema.json",
    "routing-v1.json": "routing-v1.schema.json",
}
#: The paths served; open like the probes.
SCHEMA_PATHS: Final = frozenset(f"/schemas/{name}" for name in SCHEMAS)
MEDIA_TYPE: Final = "application/schema+json"


def schema_bytes(name: str) -> bytes:
    """The schema served as ``/schemas/{name}`` (e.g. ``slo-v1.json``), read from the package.

    Raises ``KeyError`` for a name not in :data:`SCHEMAS`.
    """
    return (files("sloguard") / "schemas" / SCHEMAS[name]).read_bytes()


def schemas_router() -> APIRouter:
    """Routes answering ``GET`` and ``HEAD /schemas/{name}`` with the schemas, read once."""
    router = APIRouter(include_in_schema=False)
    bodies = {name: schema_bytes(name) for name in SCHEMAS}

    @router.api_route("/schemas/{name}", methods=["GET", "HEAD"])
    def schema(name: str) -> Response:
        body = bodies.get(name)
        if body is None:
            raise HTTPException(404, f"no schema {name!r} (known: {', '.join(SCHEMAS)})")
        return Response(body, media_type=MEDIA_TYPE, headers={"Cache-Control": "no-cache"})

    return router
