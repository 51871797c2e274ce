"""The request pipeline every ingest endpoint shares, from bearer token to committed batch.

Order matters and is cheapest-first: token (401) → content type and encoding (415) → body read
under the size limit (413) → nesting scan and JSON parse (400) → the endpoint's *plan*, which
validates every item into a :class:`~sloguard.ingest.batch.Batch` (422 with every problem) →
commit to the recorder → 200 with counts. Parsing, validation and commit run in a worker thread
so a large batch never stalls the event loop (and ``/metrics`` scrapes with it).

Logs name the endpoint, result and problem count only: never the token, the body, or problem
messages (they may quote values a client sent).

Example::

    intake = Intake(recorder, auth=BearerAuth(None), max_body_bytes=4 << 20,
                    max_json_depth=64, pricing=load_pricing(), metrics=IngestMetrics(registry))
    return await intake.handle(request, "events", partial(plan_events, max_items=1000))
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any, TypeVar, cast

import structlog
from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from sloguard.ingest.auth import BearerAuth
from sloguard.ingest.batch import Batch, dry_run_recorder
from sloguard.ingest.body import check_json_content_type, decode_json, read_body
from sloguard.ingest.metrics import IngestMetrics
from sloguard.ingest.otlpassembly import OtlpAssembly
from sloguard.ingest.otlpwire import (
    JSON,
    PROTOBUF,
    InvalidOtlp,
    export_response,
    media_type,
    parse_otlp,
)
from sloguard.ingest.pricing import PriceTable
from sloguard.ingest.problems import Rejected, Result, problem
from sloguard.ingest.semconv import READ_KEYS
from sloguard.ingest.spanmap import SpanMapping, interpret_all
from sloguard.sdk.recorder import Recorder

log = structlog.get_logger(__name__)
#: Bodies up to this size are processed on the event loop (well under a millisecond of work);
#: larger ones in a worker thread so they never stall ``/metrics`` or other requests.
INLINE_BYTES = 64 * 1024


class IngestResult(BaseModel):
    """The answer to an accepted request."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    accepted: int
    """Items (traces or events) recorded."""


R = TypeVar("R", bound=IngestResult)
#: Validate a decoded body into a batch; return the answer (raise Rejected for the body shape).
Plan = Callable[[Any, Batch], R]
Endpoint = Callable[[Request], Coroutine[Any, Any, Response]]


class IngestRoute(APIRoute):
    """A route documented like any FastAPI route, whose endpoint does the whole request itself.

    The ingest endpoints take the :class:`Request` and return a finished :class:`Response`:
    they read and check their bodies themselves (size, nesting, auth) and answer pre-serialized
    JSON. FastAPI's request handler would add, per request, dependency solving (for the
    documented ``HTTPBearer`` too) and endpoint introspection they do not use; this route calls
    the endpoint directly. The OpenAPI document is built from the route as usual.
    """

    def get_route_handler(self) -> Endpoint:
        """Return the endpoint itself."""
        return cast(Endpoint, self.endpoint)


def json_response(result: BaseModel) -> Response:
    """A 200 answer with ``result`` serialized by pydantic-core (no ``dict`` in between)."""
    return Response(result.__pydantic_serializer__.to_json(result), media_type=JSON)


def _json_only(content_type: str | None) -> str | None:
    check_json_content_type(content_type)
    return None


def _otlp_kind(content_type: str | None) -> str:
    kind = media_type(content_type)
    if kind is None:
        raise Rejected.unsupported(f"Content-Type must be {PROTOBUF} or {JSON} (OTLP/HTTP)")
    return kind


class Intake:
    """Authenticate, read, decode, validate and commit ingest requests for one recorder."""

    def __init__(
        self,
        recorder: Recorder,
        *,
        auth: BearerAuth,
        max_body_bytes: int,
        max_json_depth: int,
        pricing: PriceTable,
        metrics: IngestMetrics,
        assembly: OtlpAssembly | None = None,
    ) -> None:
        if max_body_bytes < 1 or max_json_depth < 1:
            raise ValueError("max_body_bytes and max_json_depth must be >= 1")
        self.recorder = recorder
        self.auth = auth
        self.max_body_bytes = max_body_bytes
        self.max_json_depth = max_json_depth
        self.pricing = pricing
        self.metrics = metrics
        self._validator = dry_run_recorder()
        #: Where accepted OTLP spans wait for the rest of their trace.
        self.assembly = assembly or OtlpAssembly(recorder, metrics, pricing)
        self._requests: dict[tuple[str, Result], Any] = {}  # label children, made once

    async def handle(self, request: Request, endpoint: str, plan: Plan[R]) -> Response:
        """Answer one request to ``endpoint`` whose decoded body ``plan`` turns into a batch."""

        def work(raw: bytes, _: str | None) -> tuple[int, Response]:
            result = self._process(raw, plan)
            return result.accepted, json_response(result)

        return await self._answer(request, endpoint, _json_only, work)

    async def handle_otlp(
        self,
        request: Request,
        endpoint: str,
        *,
        keep: list[SpanMapping] | None = None,
        now: float | None = None,
    ) -> Response:
        """Answer one OTLP/HTTP traces request (protobuf or JSON), atomically.

        ``keep``: the committed batch's mapped spans are appended (for the trace store).
        ``now`` (unix seconds, default: the clock) bounds the spans' times.
        """
        work = partial(self._otlp, keep=keep, now=now)
        return await self._answer(request, endpoint, _otlp_kind, work)

    async def _answer(
        self,
        request: Request,
        endpoint: str,
        content: Callable[[str | None], str | None],
        work: Callable[[bytes, str | None], tuple[int, Response]],
    ) -> Response:
        """The shared steps: token, content type, bounded body, ``work``, counting, rejections."""
        try:
            self.auth.check(request.headers.get("authorization"))
            kind = content(request.headers.get("content-type"))
            raw = await read_body(request, self.max_body_bytes)
            if len(raw) <= INLINE_BYTES:  # small: cheaper than a thread hop, never stalls
                accepted, response = work(raw, kind)
            else:
                accepted, response = await run_in_threadpool(work, raw, kind)
        except Rejected as rejected:
            self._count(endpoint, rejected.result)
            log.info(
                "ingest request rejected",
                endpoint=endpoint,
                status=rejected.status,
                result=rejected.result.value,
                problems=rejected.count,
            )
            return rejected.response()
        except Exception:
            self._count(endpoint, Result.ERROR)
            raise
        self._count(endpoint, Result.ACCEPTED)
        self.metrics.items.labels(endpoint).inc(accepted)
        return response

    def _otlp(
        self, raw: bytes, kind: str | None, keep: list[SpanMapping] | None, now: float | None
    ) -> tuple[int, Response]:
        """Decode and read the spans (refusing the request on any problem), then hand them to
        the assembly, which records every trace they complete (see :mod:`.otlpassembly`)."""
        assert kind is not None
        try:
            spans = parse_otlp(raw, kind, keys=READ_KEYS, now=now)
            meanings = interpret_all(spans)
        except InvalidOtlp as exc:
            noun = "problem" if len(exc.problems) == 1 else "problems"
            listed = [problem(None, "", p) for p in exc.problems]
            error = f"invalid OTLP request: {len(exc.problems)} {noun}"
            raise Rejected(400, Result.INVALID, error, listed) from None
        fresh, mapped = self.assembly.accept(spans, meanings, time.time() if now is None else now)
        if keep is not None:
            keep.extend(mapped)
        body, content_type = export_response(kind)
        return fresh, Response(body, media_type=content_type)

    def _process(self, raw: bytes, plan: Plan[R]) -> R:
        data = decode_json(raw, max_depth=self.max_json_depth)
        batch = Batch(self._validator, self.pricing)
        result = plan(data, batch)
        batch.raise_problems()
        batch.commit(self.recorder, self.metrics)
        return result

    def _count(self, endpoint: str, result: Result) -> None:
        child = self._requests.get((endpoint, result))
        if child is None:  # endpoints and results are our own few names: the cache stays small
            child = self._requests[endpoint, result] = self.metrics.requests.labels(
                endpoint, result.value
            )
        child.inc()
