"""The Prometheus SLI source: window counts from the Prometheus HTTP API, over httpx.

Example::

    source = PrometheusSource("http://prometheus:9090", bearer_token=token)
    try:
        counts = await source.window_counts(slo, 3600.0, at=now)  # {instance: Counts}
    finally:
        await source.aclose()

One instant query per SLO × window (:func:`sloguard.slo.timeslices.counts_query`: events, or a
time-slice SLO's slices) brings back bad and total of every instance at the same ``time``.
Anything that goes wrong is raised as :class:`~sloguard.sources.base.QueryError` naming the SLO,
the window and the cause; no httpx exception leaves this module.

Every request is bounded (a :class:`QueryError` past either): ``timeout`` is a deadline for the
whole request, answer included (a trickle never resets it, unlike httpx's per-read timeout), and
an answer is read up to ``max_answer_bytes`` (:data:`MAX_ANSWER_BYTES` by default).

Answers are judged strictly:

- a series without a ``total`` twin is ignored; an instance with ``total`` but no ``bad`` series
  has 0 bad events (the bad selector matched nothing, e.g. a counter never incremented);
- NaN or ±Inf is an error (counter increases are finite; a NaN means a broken expression);
- a negative count within float noise (``1e-9`` of the instance's total, at least ``1e-9``) is 0:
  ``count - bucket`` of two separately extrapolated increases can land a hair below zero;
- a negative count beyond that noise is an error: the SLI's good/bad series are not a subset of
  its total series, and silently clamping would report a broken SLO as perfectly healthy.

Long windows from recorded rates: with ``recorded_from=W0`` every window of at least ``W0``
is read from the rates ``sloguard rules`` records (:func:`sloguard.slo.promql.
recorded_window_query`; a long one in hour-aligned pieces, most of it read once an hour:
:mod:`sloguard.sources.splitwindow`). Without a ``covered`` series in the head's
answer (rules not loaded, or loaded less than the window ago) the window is read from the raw
counters with a second query, logged once per SLO × window until the records cover it, and
reported to ``on_fallback`` (a self metric). Never an empty answer in place of data.

With ``recorded_from="auto"`` (the daemon's default) the records are used where they exist;
which windows are asked of them, and the bookkeeping of those read from raw counters instead,
is :class:`~sloguard.sources.recorded.RecordedWindows`.

Secrets (bearer token, basic-auth password, URL user info) never appear in ``repr`` or messages.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

import httpx

from sloguard.durations import format_duration
from sloguard.httpanswer import read_capped
from sloguard.slo.promql import recorded_window_query
from sloguard.slo.spec import SLO
from sloguard.slo.timeslices import counts_query
from sloguard.sources.base import QueryError, Steps, WindowCounts
from sloguard.sources.promanswer import (
    _BadAnswer,
    parse_counts,
    parse_windows,
    read_answer,
    slo_names,
)
from sloguard.sources.promclient import Cert, display_url, tls_context
from sloguard.sources.promrange import matrix_as_vectors, range_form
from sloguard.sources.rawbatch import RawBatches, batch_query
from sloguard.sources.recorded import RecordedFrom, RecordedWindows, detection_query
from sloguard.sources.splitwindow import Piece, PieceReads, ReadPiece

QUERY_PATH = "/api/v1/query"
QUERY_RANGE_PATH = "/api/v1/query_range"
BUILDINFO_PATH = "/api/v1/status/buildinfo"
#: Longest answer read by default (a vector of ~100k instances); a longer one is a QueryError.
MAX_ANSWER_BYTES = 32 * 1024 * 1024

_log = logging.getLogger(__name__)
_T = TypeVar("_T")


class PrometheusSource:
    """Window counts from a Prometheus-compatible HTTP API (Prometheus, Thanos, Mimir, …).

    ``url`` is the API root (``http://prometheus:9090``, or with a path prefix such as
    ``http://mimir/prometheus``). ``verify`` is True, False or a CA bundle file/directory;
    ``cert`` a client certificate file or ``(cert_file, key_file)``. ``transport`` replaces the
    network (httpx transports such as ``MockTransport``); ``resolution`` is the shortest window
    worth asking for, about four scrape intervals. ``timeout`` is the deadline of a whole
    request; ``max_answer_bytes`` the longest answer body read (decoded). ``recorded_from``
    (seconds, or None for never) is the shortest window read from recorded rates, or
    ``"auto"`` to use them where they exist (:mod:`sloguard.sources.recorded`);
    ``on_fallback(slo_name)`` is called for every such window read from raw counters instead.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        max_concurrency: int = 8,
        bearer_token: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        verify: bool | str = True,
        cert: Cert | None = None,
        headers: Mapping[str, str] | None = None,
        resolution: float = 60.0,
        recorded_from: RecordedFrom = None,
        on_fallback: Callable[[str], None] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        base = httpx.URL(url)
        if base.scheme not in ("http", "https") or not base.host:
            raise ValueError(f"Prometheus URL must be http(s)://host[:port][/prefix], got {url!r}")
        if not timeout > 0 or max_concurrency < 1 or resolution <= 0 or max_answer_bytes < 1:
            raise ValueError(
                "timeout and resolution must be > 0, max_concurrency and max_answer_bytes >= 1"
            )
        if bearer_token is not None and basic_auth is not None:
            raise ValueError("set either bearer_token or basic_auth, not both")
        self._windows = RecordedWindows(recorded_from, on_fallback)
        self._pieces = PieceReads()
        self._raw = RawBatches(self._read_windows)
        self.recorded_from = recorded_from
        self._detecting = asyncio.Lock()
        self.url = display_url(base)
        self.timeout = timeout
        self.max_answer_bytes = max_answer_bytes
        self.resolution = resolution
        self._sent = 0
        self._limit = asyncio.Semaphore(max_concurrency)
        all_headers = {"Accept": "application/json", **(headers or {})}
        if bearer_token is not None:
            all_headers["Authorization"] = f"Bearer {bearer_token}"
        self._client = httpx.AsyncClient(
            base_url=base,
            timeout=httpx.Timeout(timeout),
            headers=all_headers,
            auth=httpx.BasicAuth(*basic_auth) if basic_auth is not None else None,
            verify=tls_context(verify, cert),
            transport=transport,
            limits=httpx.Limits(max_connections=max_concurrency),
        )

    def __repr__(self) -> str:
        return f"PrometheusSource({self.url!r}, timeout={self.timeout:g})"

    @property
    def query_count(self) -> int:
        """Queries sent so far (one per SLO × window)."""
        return self._sent

    @property
    def fallback_count(self) -> int:
        """Windows read from raw counters because their recorded rates were missing."""
        return self._windows.fallbacks

    async def window_counts(self, slo: SLO, window: float, at: float) -> WindowCounts:
        """Bad/total counts per instance of ``slo`` over ``window`` seconds ending at ``at``."""
        where = f"SLO {slo.name!r}, window {format_duration(window)}"
        windows = self._windows
        if windows.asks(slo, window):
            await self.recorded_slos(at)
        if windows.use(slo, window, at, where):
            kept = windows.kept(slo, window, at)
            if kept is not None:
                return kept
            recorded = await self._pieces.window(slo, window, at, self._read_piece(where))
            if recorded[1]:
                windows.covered(slo, window, at, recorded[0], where)
                return recorded[0]
            windows.fell_back(slo, window, at, where)
        return await self._raw.counts(slo, window, at)

    async def _read_windows(
        self, slo: SLO, windows: Sequence[float], at: float
    ) -> Mapping[float, WindowCounts]:
        """Raw-counter windows of ``slo`` asked together: one query (:mod:`.rawbatch`)."""
        names = ", ".join(format_duration(w) for w in windows)
        where = f"SLO {slo.name!r}, window{'s' if len(windows) > 1 else ''} {names}"
        if len(windows) == 1:
            return {windows[0]: (await self._query(slo, where, counts_query, windows[0], at))[0]}
        return await self._ask(
            where,
            lambda: batch_query(slo, windows),
            at,
            lambda body: parse_windows(body, slo.group_by, windows),
        )

    def _read_piece(self, where: str) -> ReadPiece:
        async def read(slo: SLO, piece: Piece) -> tuple[WindowCounts, bool]:
            build = recorded_window_query if piece.head else _uncovered
            return await self._query(slo, f"{where}, {piece.kind}", build, piece.length, piece.at)

        return read

    async def recorded_slos(self, at: float) -> frozenset[str]:
        """The SLOs with records in Prometheus (auto mode), asked again every
        :data:`~sloguard.sources.recorded.RECHECK` seconds of ``at``; one query whatever the
        number of SLOs and concurrent callers."""
        async with self._detecting:
            if self._windows.detection_due(at):
                where = "detecting recorded rates"
                form = {"query": detection_query(), "time": f"{at:.3f}"}
                self._sent += 1
                body = await self._call("POST", QUERY_PATH, where, data=form)
                try:
                    self._windows.detected(at, slo_names(body))
                except _BadAnswer as exc:
                    raise QueryError(f"{where}: Prometheus at {self.url}: {exc}") from exc
            return self._windows.names

    async def _query(
        self,
        slo: SLO,
        where: str,
        build: Callable[[SLO, float], str],
        window: float,
        at: float,
    ) -> tuple[WindowCounts, bool]:
        """Counts per instance, and whether the answer had a ``covered`` series."""
        return await self._ask(
            where, lambda: build(slo, window), at, lambda body: parse_counts(body, slo.group_by)
        )

    async def _ask(
        self, where: str, build: Callable[[], str], at: float, parse: Callable[[object], _T]
    ) -> _T:
        """One instant query at ``at``, its answer read by ``parse``; every failure (building,
        sending, reading) a :class:`QueryError` naming ``where``."""
        try:
            query = build()
        except ValueError as exc:
            raise QueryError(f"{where}: cannot build the query: {exc}") from exc
        form = {"query": query, "time": f"{at:.3f}", "timeout": f"{self.timeout:g}"}
        self._sent += 1
        body = await self._call("POST", QUERY_PATH, where, data=form)
        try:
            return parse(body)
        except _BadAnswer as exc:
            raise QueryError(f"{where}: Prometheus at {self.url}: {exc}") from exc

    async def range_counts(
        self, slo: SLO, windows: Sequence[float], steps: Steps
    ) -> Mapping[float, Sequence[WindowCounts]]:
        """Per window, the counts at each of ``steps.times()``: one ``query_range`` of the raw
        counters' :func:`~sloguard.slo.promql.window_query` per window (never recorded rates)."""

        async def one(window: float) -> list[WindowCounts]:
            where = f"SLO {slo.name!r}, window {format_duration(window)} (range)"
            try:
                form = {"query": counts_query(slo, window), "timeout": f"{self.timeout:g}"}
            except ValueError as exc:
                raise QueryError(f"{where}: cannot build the query: {exc}") from exc
            self._sent += 1
            body = await self._call("POST", QUERY_RANGE_PATH, where, {**form, **range_form(steps)})
            try:
                return [parse_counts(v, slo.group_by)[0] for v in matrix_as_vectors(body, steps)]
            except (_BadAnswer, ValueError) as exc:
                raise QueryError(f"{where}: Prometheus at {self.url}: {exc}") from exc

        return dict(zip(windows, await asyncio.gather(*map(one, windows)), strict=True))

    async def check(self) -> None:
        """Raise :class:`QueryError` unless the API answers (``/api/v1/status/buildinfo``)."""
        await self._call("GET", BUILDINFO_PATH, "readiness check")

    async def aclose(self) -> None:
        """Close the connection pool; later queries raise :class:`QueryError`."""
        await self._client.aclose()

    async def __aenter__(self) -> PrometheusSource:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _call(
        self, method: str, path: str, where: str, data: Mapping[str, str] | None = None
    ) -> object:
        """Send one request; return its decoded ``status: success`` JSON body."""
        prefix = f"{where}: Prometheus at {self.url}"
        if self._client.is_closed:  # httpx would raise RuntimeError
            raise QueryError(f"{prefix}: the source is closed")
        async with self._limit:
            try:
                async with asyncio.timeout(self.timeout):
                    status, content = await self._fetch(method, path, data)
            except (TimeoutError, httpx.TimeoutException) as exc:
                cause = f"no answer within {self.timeout:g}s ({type(exc).__name__})"
                raise QueryError(f"{prefix}: {cause}") from exc
            except httpx.ConnectError as exc:
                cause = f"cannot connect: {str(exc) or type(exc).__name__}"
                raise QueryError(f"{prefix}: {cause}") from exc
            except (httpx.HTTPError, OSError) as exc:
                # OSError: httpcore lets some TLS failures out raw (ssl.SSLError after handshake,
                # e.g. the server rejecting a missing client certificate).
                detail = f": {exc}" if str(exc) else " (connection closed)"
                raise QueryError(f"{prefix}: request failed: {type(exc).__name__}{detail}") from exc
            except _BadAnswer as exc:
                raise QueryError(f"{prefix}: {exc}") from exc
        try:
            return read_answer(status, content)
        except _BadAnswer as exc:
            raise QueryError(f"{prefix}: {exc}") from exc

    async def _fetch(
        self, method: str, path: str, data: Mapping[str, str] | None
    ) -> tuple[int, bytes]:
        """Status and body of one answer; ``_BadAnswer`` past ``max_answer_bytes`` (the rest is
        not read: the connection is dropped)."""
        limit = self.max_answer_bytes
        too_long = _BadAnswer(f"answer longer than {limit} bytes (max_answer_bytes)")
        async with self._client.stream(method, path, data=data) as response:
            body = await read_capped(response, limit)
            if body is None:
                raise too_long
            return response.status_code, body


def _uncovered(slo: SLO, window: float) -> str:
    return recorded_window_query(slo, window, covered=False)
