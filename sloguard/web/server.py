"""The HTTP app: ``/metrics``, ``/healthz``, ``/readyz``, plus whatever routers the daemon adds.

``/metrics`` uses prometheus_client's own exposition, negotiated on ``Accept``: Prometheus text
by default, OpenMetrics (with exemplars such as ``trace_id``) when the scraper asks for
``application/openmetrics-text``. Later features (``/api/v1/slos``, the ingest endpoints) come
in as routers, so this module stays the one place the app is assembled.

With ``auth`` enabled every read (``/metrics`` and ``/openapi.json`` included) needs credentials,
except the probes, the ingest (:mod:`sloguard.web.auth`) and the JSON Schemas of the
files (:mod:`sloguard.web.schemas`). FastAPI's Swagger and ReDoc pages
(which load scripts from a CDN) are never served; ``docs=True`` serves the daemon's own
script-free page at ``/docs`` (:func:`sloguard.web.ui.docs_router`).

Example::

    app = create_app(registry, ready=lambda: True, degraded=[engine.health.degraded],
                     routers=[slo_router])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder

from sloguard.web.auth import OPEN_PATHS, ReadAuth, ReadAuthMiddleware
from sloguard.web.schemas import SCHEMA_PATHS, schemas_router
from sloguard.web.ui import docs_router

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_app(
    registry: CollectorRegistry = REGISTRY,
    *,
    ready: Callable[[], bool] | None = None,
    degraded: Sequence[Callable[[], str | None]] = (),
    routers: Sequence[APIRouter] = (),
    lifespan: Lifespan | None = None,
    details: Callable[[], Mapping[str, object]] | None = None,
    auth: ReadAuth | None = None,
    docs: bool = False,
    open_metrics: bool = False,
) -> FastAPI:
    """Return the app serving ``registry`` on ``/metrics`` and the probes, plus ``routers``.

    ``ready`` answers ``/readyz`` (always ready without it); each of ``degraded`` says why the
    daemon cannot do its job right now (or None), which also makes ``/readyz`` answer 503;
    ``lifespan`` runs around serving (the daemon starts and stops its background work there);
    ``details`` adds fields to ``/readyz``'s answer (leadership among replicas);
    ``auth`` (default: none) guards reads (``/metrics`` too unless ``open_metrics``); ``docs``
    serves the API documentation at ``/docs``.
    """
    app = FastAPI(title="sloguard", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    if auth is not None and auth.enabled:
        opened = OPEN_PATHS | SCHEMA_PATHS | ({"/metrics"} if open_metrics else set())
        # Added last, so outermost: a refused request costs nothing else.
        app.add_middleware(ReadAuthMiddleware, auth=auth, open_paths=opened)
    app.include_router(probes_router(registry, ready, degraded, details))
    app.include_router(schemas_router())  # /schemas/*.json, open like the probes
    for router in routers:
        app.include_router(router)
    if docs:
        app.include_router(docs_router(app.openapi))
    return app


def probes_router(
    registry: CollectorRegistry,
    ready: Callable[[], bool] | None = None,
    degraded: Sequence[Callable[[], str | None]] = (),
    details: Callable[[], Mapping[str, object]] | None = None,
) -> APIRouter:
    """Return the router with ``/metrics``, ``/healthz`` and ``/readyz`` (``details``: more
    fields of its answer, e.g. ``{"leadership": {"role": "follower", ...}}``)."""
    router = APIRouter()

    # Plain ``def``: FastAPI runs it in a worker thread, so a large scrape never blocks the loop.
    @router.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(registry), headers={"Content-Type": content_type})

    @router.get("/healthz")
    def healthz() -> dict[str, str]:
        """Liveness: the process serves HTTP."""
        return {"status": "ok"}

    @router.get("/readyz")
    def readyz() -> JSONResponse:
        """Readiness: 200 once started; 503 before, while shutting down and while degraded."""
        extra = dict(details()) if details is not None else {}
        if ready is not None and not ready():
            return JSONResponse({"status": "not ready", **extra}, status_code=503)
        reasons = [reason for reason in (check() for check in degraded) if reason]
        if reasons:
            return JSONResponse(
                {"status": "degraded", "reason": "; ".join(reasons), **extra}, status_code=503
            )
        return JSONResponse({"status": "ready", **extra})

    return router
