"""``POST /v1/traces/store``: store traces forwarded by sidecars, counting nothing again.

The receiving end of :mod:`sloguard.ingest.forward`. The body is what ``/v1/a2a/traces``
reads (``{"traces": [...]}``), checked the same way (token, size, nesting, every problem listed
in a 422, the batch atomic), but a committed batch is only **stored**: its steps are planned
against a recorder nobody scrapes, and no anomaly is counted, because the sidecar that received
the traces counted their metrics and anomalies already and Prometheus scrapes it. The endpoint
needs the ingest token (``ingest.token``) like the other ingest endpoints; an evaluator serves it
only when that token is set (it takes no writes from agents otherwise). Its requests are counted
in ``sloguard_ingest_requests_total{endpoint="store"}``.

Example::

    add_store_route(router, intake, limits, store, counters, auth=True)
"""

from __future__ import annotations

import time
from functools import partial

import structlog
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from sloguard.ingest.a2a import TraceLimits, TraceResult, plan_traces
from sloguard.ingest.batch import dry_run_recorder
from sloguard.ingest.intake import Intake
from sloguard.ingest.metrics import IngestMetrics
from sloguard.ingest.schema import json_body, responses, traces_schema
from sloguard.sdk.trace import ResponseTrace
from sloguard.tracestore.base import TraceStore

__all__ = ["STORE", "add_store_route", "store_intake"]

log = structlog.get_logger(__name__)

#: ``endpoint`` label of the store-only endpoint in the ingest self metrics.
STORE = "store"


def store_intake(intake: Intake) -> Intake:
    """An intake like ``intake`` whose committed batches reach a recorder nobody scrapes."""
    return Intake(
        dry_run_recorder(),
        auth=intake.auth,
        max_body_bytes=intake.max_body_bytes,
        max_json_depth=intake.max_json_depth,
        pricing=intake.pricing,
        metrics=intake.metrics,
        assembly=intake.assembly,
    )


def add_store_route(
    router: APIRouter,
    intake: Intake,
    limits: TraceLimits,
    store: TraceStore,
    counters: IngestMetrics,
    *,
    auth: bool,
) -> None:
    """Add ``POST /v1/traces/store`` to ``router``; ``intake`` must be a :func:`store_intake`."""

    def put(traces: list[ResponseTrace], now: float) -> None:
        try:
            store.put_traces(traces, now)
        except Exception as exc:  # answered 200 anyway: resending would not help
            log.warning("storing forwarded traces failed", error=f"{type(exc).__name__}: {exc}")
            counters.store_failures.labels("traces").inc()

    @router.post(
        "/v1/traces/store",
        summary="Store traces forwarded by a sidecar (no metrics counted)",
        response_model=None,
        responses=responses(TraceResult, auth=auth),
        openapi_extra=json_body(
            traces_schema(limits.max_items),
            'What /v1/a2a/traces reads, usually {"traces": [...]}: stored only.',
        ),
    )
    async def store_traces(request: Request) -> Response:
        """Store traces a sidecar forwards; their metrics and anomalies are not counted here.

        The batch is atomic: any problem rejects it with 422 listing every problem.
        """
        keep: list[ResponseTrace] = []
        now = time.time()
        plan = partial(plan_traces, limits=limits, keep=keep, now=now)
        response = await intake.handle(request, STORE, plan)
        if keep and response.status_code == 200:
            await run_in_threadpool(put, keep, now)
        return response
