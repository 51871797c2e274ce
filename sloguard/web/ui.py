"""The daemon's web page: SLOs with budget bars and alert state, recent traces, one trace's tree
and diagram (DESIGN §3).

- ``GET /`` redirects to ``/ui/``;
- ``GET /ui/`` serves the page; ``/ui/#/traces/{id}`` shows one trace, so a notification can
  link straight to it (the page uses relative URLs only, so it also works under a path prefix
  behind a reverse proxy);
- ``GET /ui/static/app.js``, ``style.css`` and ``icon.svg`` (and the scripts beside
  ``app.js``: ``silences.js`` lists firing alerts with "Acknowledge" and "Silence…" buttons,
  the silences with "Expire", and a form for a silence or maintenance window; its writes are
  JSON ``POST``/``DELETE`` requests to the silence API; ``history.js`` shows
  ``/ui/#/slos/{name}?{label}={value}``: an SLO instance's chart, an ``<img>`` of
  ``/api/v1/slos/{name}/history/svg``, with its numbers as text).

Every route answers ``HEAD`` too. :func:`docs_router` serves ``/docs``, the API documentation
rendered here from the OpenAPI document (no scripts, nothing from elsewhere; off unless the
``web.docs`` setting turns it on).

The page is static: its script reads the JSON API (``/api/v1/slos``, ``/api/v1/alerts``,
``/api/v1/traces…``) and shows the diagram as ``<img src="/api/v1/traces/{id}/svg">``. It has no
build step and loads nothing from elsewhere, so it works offline and in an air-gapped cluster.
A strict Content-Security-Policy (scripts and styles from the daemon only, no inline script)
backs the script's rule of writing data with ``textContent`` only.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from importlib.resources import files
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import RedirectResponse, Response

_UI = files("sloguard") / "data" / "ui"
_STATIC = {
    "app.js": "text/javascript",
    "history.js": "text/javascript",  # one SLO instance's history (charts)
    "silences.js": "text/javascript",  # firing alerts, silences: acknowledge, silence, expire
    "style.css": "text/css",
    "icon.svg": "image/svg+xml",
}
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self';"
        " connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def ui_router() -> APIRouter:
    """Routes serving the page and its two static files."""
    router = APIRouter(include_in_schema=False)
    page = (_UI / "index.html").read_bytes()
    static = {name: (_UI / name).read_bytes() for name in _STATIC}

    @router.api_route("/", methods=["GET", "HEAD"])
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/")

    @router.api_route("/ui", methods=["GET", "HEAD"])
    def ui_bare() -> RedirectResponse:
        return RedirectResponse("/ui/")

    @router.api_route("/ui/", methods=["GET", "HEAD"])
    def ui() -> Response:
        return Response(page, media_type="text/html; charset=utf-8", headers=_HEADERS)

    @router.api_route("/ui/static/{name}", methods=["GET", "HEAD"])
    def ui_static(name: str) -> Response:
        if name not in static:
            raise HTTPException(404, f"no static file {name!r}")
        return Response(static[name], media_type=_STATIC[name], headers=_HEADERS)

    return router


_DOCS_HEADERS = {**_HEADERS, "Content-Security-Policy": "default-src 'none'; style-src 'self'"}
_METHODS = ("get", "head", "post", "put", "patch", "delete")


def docs_router(openapi: Callable[[], dict[str, Any]]) -> APIRouter:
    """The route serving ``/docs``: every operation of ``openapi()``, as plain HTML."""
    router = APIRouter(include_in_schema=False)

    @router.api_route("/docs", methods=["GET", "HEAD"])
    def docs() -> Response:
        page = docs_page(openapi())
        return Response(page, media_type="text/html; charset=utf-8", headers=_DOCS_HEADERS)

    return router


def docs_page(schema: dict[str, Any]) -> str:
    """Return the HTML page documenting ``schema``'s operations (all text escaped)."""
    e = html.escape
    info = schema.get("info", {})
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{e(str(info.get('title', 'API')))} API</title>",
        '<link rel=stylesheet href="ui/static/style.css"></head><body><main>',
        f"<h1>{e(str(info.get('title', 'API')))} {e(str(info.get('version', '')))}</h1>",
        '<p>The OpenAPI document: <a href="openapi.json">openapi.json</a>.</p>',
    ]
    for path, item in sorted(schema.get("paths", {}).items()):
        for method in _METHODS:
            op = item.get(method)
            if op is None:
                continue
            parts.append(f"<section><h2><code>{e(method.upper())} {e(path)}</code></h2>")
            if op.get("summary"):
                parts.append(f"<p><strong>{e(str(op['summary']))}</strong></p>")
            if op.get("description"):
                parts.append(f"<pre>{e(str(op['description']))}</pre>")
            params = op.get("parameters", [])
            if params:
                parts.append("<ul>")
                for p in params:
                    where, name = e(str(p.get("in", ""))), e(str(p.get("name", "")))
                    text = e(str(p.get("description", "")))
                    parts.append(f"<li><code>{name}</code> ({where}) {text}</li>")
                parts.append("</ul>")
            codes = ", ".join(e(str(code)) for code in op.get("responses", {}))
            parts.append(f"<p>Answers: {codes}</p></section>")
    parts.append("</main></body></html>")
    return "".join(parts)
