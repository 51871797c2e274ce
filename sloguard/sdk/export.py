"""Ship finished traces to a sloguard sidecar (``POST /v1/a2a/traces``): opt-in, stdlib only.

:class:`TraceExporter` queues finished :class:`~sloguard.sdk.trace.ResponseTrace` values and one
background daemon thread posts them in batches, so the sidecar's trace store (``sloguard trace``,
``/api/v1/traces``) holds the runs of in-process agents too. The agent's code path only puts a
reference in a bounded queue; serialising, gzip and the network happen on the thread.

- Queue full: the **oldest** queued trace is dropped (the newest are what an incident is about).
- Batches: up to ``max_batch`` traces or ``max_batch_bytes`` of JSON, sent when full, when the
  oldest queued trace has waited ``max_delay`` seconds, or on :meth:`~TraceExporter.flush`.
  Bodies above ``gzip_min_bytes`` are gzipped. Delivery is at least once.
- Connection errors, timeouts, 5xx, 408, 425 and 429: retried with jittered exponential backoff
  (a ``Retry-After`` is honoured) for up to ``retry_for`` seconds, then dropped. Other answers are
  permanent: 401/403 ``unauthorized``, 413 ``too_large``, 400/422 ``invalid``, any other
  ``rejected``; a multi-trace batch refused as too large or invalid is split in halves and each
  half resent, so one bad trace does not take its neighbours with it.
- Nothing raises into the agent; failures are logged (once per outage) and counted on
  ``registry``: ``sloguard_sdk_export_{sent_traces,sent_batches}_total``,
  ``sloguard_sdk_export_failures_total{reason}`` (failed attempts) and
  ``sloguard_sdk_export_dropped_total{reason}`` (traces given up, reasons in :data:`DROP_REASONS`).

Double counting: the SDK already recorded every step's metrics in the agent's registry, so by
default (``metrics_recorded=True``) the root steps of a shipped trace carry the attribute
``sloguard.metrics_recorded: true`` (:data:`~sloguard.conventions.A2A_METRICS_RECORDED_ATTR`),
telling the sidecar to store the trace without counting its steps again. Pass ``False`` when the
agent's own metrics are not scraped and the sidecar should count them.

Example::

    exporter = TraceExporter("http://127.0.0.1:9464", token=os.environ["SLOGUARD_INGEST_TOKEN"])
    sloguard.set_default_telemetry(enable_export(exporter))   # every finished root trace
    ...
    exporter.close()   # or let atexit do it: what is queued is delivered
"""

from __future__ import annotations

import atexit
import email.utils
import gzip
import http.client
import json
import logging
import math
import random
import ssl
import threading
import time
import urllib.parse
import weakref
from collections import deque
from datetime import UTC
from types import TracebackType
from typing import Final

from prometheus_client import REGISTRY, CollectorRegistry, Counter

from sloguard.conventions import A2A_METRICS_RECORDED_ATTR
from sloguard.sdk.telemetry import Telemetry, current_telemetry
from sloguard.sdk.trace import ResponseTrace, TraceRecord

__all__ = ["DEFAULT_PATH", "DROP_REASONS", "TraceExporter", "enable_export"]

_log = logging.getLogger("sloguard.sdk.export")

#: Path posted to when the URL has none (the sidecar's A2A trace ingest).
DEFAULT_PATH: Final = "/v1/a2a/traces"
#: ``reason`` values of ``sloguard_sdk_export_dropped_total``.
DROP_REASONS: Final = (
    "queue_full",  # the oldest queued trace made room for a new one
    "closed",  # export() after close()
    "unserializable",  # not a trace, or not JSON (e.g. a NaN in parameters)
    "unauthorized",  # 401/403: token missing or wrong
    "too_large",  # 413 for a single trace
    "invalid",  # 400/422 for a single trace
    "rejected",  # any other non-retryable answer (3xx, 404, 415, …)
    "retries_exhausted",  # still failing after retry_for seconds
    "shutdown",  # close() timed out before delivery
)
#: ``reason`` values of ``sloguard_sdk_export_failures_total`` (one per failed attempt).
FAILURE_REASONS: Final = ("connection", "throttled", "server_error", "client_error")
_RETRY_STATUSES: Final = frozenset({408, 425, 429})
_PERMANENT: Final = {
    401: "unauthorized",
    403: "unauthorized",
    413: "too_large",
    400: "invalid",
    422: "invalid",
}
_MAX_ANSWER: Final = 64 * 1024  # bytes of an answer body read (to log a 422's problems)


class _ExportMetrics:
    """The exporter's self metrics (shared by every exporter on one registry)."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        r = registry
        p = "sloguard_sdk_export_"
        self.sent_traces = Counter(
            f"{p}sent_traces", "Traces delivered to the sidecar.", registry=r
        )
        self.sent_batches = Counter(f"{p}sent_batches", "Batches delivered.", registry=r)
        self.failures = Counter(f"{p}failures", "Failed send attempts.", ["reason"], registry=r)
        self.dropped = Counter(f"{p}dropped", "Traces given up.", ["reason"], registry=r)
        for reason in FAILURE_REASONS:
            self.failures.labels(reason)
        for reason in DROP_REASONS:
            self.dropped.labels(reason)


_shared: weakref.WeakKeyDictionary[CollectorRegistry, _ExportMetrics] = weakref.WeakKeyDictionary()
_shared_lock = threading.Lock()


def _metrics_on(registry: CollectorRegistry | None) -> _ExportMetrics:
    if registry is None:
        return _ExportMetrics(None)
    with _shared_lock:
        found = _shared.get(registry)
        if found is None:
            found = _shared[registry] = _ExportMetrics(registry)
        return found


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay-seconds or an HTTP date), or None."""
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # "-0000": UTC, not local time
            when = when.replace(tzinfo=UTC)
        return max(0.0, when.timestamp() - now)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def encode_trace(trace: ResponseTrace, steps: int, *, mark_recorded: bool) -> bytes:
    """Return the first ``steps`` steps of ``trace`` as compact flat-shape JSON.

    With ``mark_recorded`` every root step (no parent in the trace) carries
    ``sloguard.metrics_recorded: true``. Raises ValueError when the trace is not valid JSON.
    """
    dicts = [s.as_dict() for s in trace.steps[:steps]]
    if mark_recorded:
        ids = {d["step_id"] for d in dicts}
        for d in dicts:
            if d["parent_step_id"] not in ids:  # as_dict() made a fresh attribute dict
                d["additional_attributes"][A2A_METRICS_RECORDED_ATTR] = True
    data = {"trace_id": trace.trace_id, "steps": dicts}
    return json.dumps(data, separators=(",", ":"), default=str, allow_nan=False).encode()


class _Item:
    __slots__ = ("queued_at", "seq", "steps", "trace")

    def __init__(self, trace: ResponseTrace, steps: int, seq: int, queued_at: float) -> None:
        self.trace, self.steps, self.seq, self.queued_at = trace, steps, seq, queued_at


class _Answer:
    """One attempt's outcome: ok, retry (after ``after`` s when the server said) or permanent."""

    __slots__ = ("after", "detail", "reason", "retry")

    def __init__(
        self, retry: bool, reason: str | None, detail: str = "", after: float | None = None
    ) -> None:
        self.retry, self.reason, self.detail, self.after = retry, reason, detail, after


_OK = _Answer(False, None)


class TraceExporter:
    """Queue finished traces and post them to a sidecar from one background daemon thread.

    ``url``: the sidecar (``http://127.0.0.1:9464``; a URL without a path posts to
    :data:`DEFAULT_PATH`). ``token``: the sidecar's ingest token (sent as a bearer token).
    ``registry``: where the self metrics go (None: nowhere). It is a :class:`StepListener`, so
    :func:`enable_export` makes every finished root trace of the SDK go out automatically.

    Example::

        with TraceExporter("http://127.0.0.1:9464") as exporter:
            with use_telemetry(enable_export(exporter)):
                run_agents()
        # leaving the block delivered everything queued (up to shutdown_timeout seconds)
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        registry: CollectorRegistry | None = REGISTRY,
        metrics_recorded: bool = True,
        max_queue: int = 2048,
        max_batch: int = 100,
        max_batch_bytes: int = 1 << 20,
        max_delay: float = 1.0,
        gzip_min_bytes: int = 4096,
        timeout: float = 10.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        retry_for: float = 120.0,
        shutdown_timeout: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
        rng: random.Random | None = None,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
            raise ValueError("export URL must be http(s)://host[:port][/path]")  # no URL: secrets
        bare = token.strip() if token is not None else None
        if bare is not None and not (bare and bare.isascii() and bare.isprintable()):
            raise ValueError("the export token must be printable ASCII (None: no token)")
        if min(max_queue, max_batch, max_batch_bytes) < 1:
            raise ValueError("max_queue, max_batch and max_batch_bytes must be >= 1")
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, port
        path = parts.path if parts.path not in ("", "/") else DEFAULT_PATH
        self._path = f"{path}?{parts.query}" if parts.query else path
        self._origin = f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port else "")
        from sloguard import __version__

        self._headers = {
            "Content-Type": "application/json",
            "User-Agent": f"sloguard/{__version__}",
        }
        if bare is not None:
            self._headers["Authorization"] = f"Bearer {bare}"
        self._mark = metrics_recorded
        self._max_queue, self._max_batch, self._max_bytes = max_queue, max_batch, max_batch_bytes
        self._max_delay, self._gzip_min, self._timeout = max_delay, gzip_min_bytes, timeout
        self._backoff = (backoff_initial, backoff_max)
        self._retry_for, self._shutdown_timeout = retry_for, shutdown_timeout
        self._ssl = ssl_context
        self._rng = rng or random.Random()
        self.metrics = _metrics_on(registry)
        lock = threading.Lock()
        self._work = threading.Condition(lock)  # the worker waits on it
        self._done = threading.Condition(lock)  # flush() waits on it
        self._queue: deque[_Item] = deque()
        self._queued: dict[int, _Item] = {}  # id(trace) -> its queued item (one per trace)
        self._seq = 0
        self._flush_to = 0
        self._inflight: int | None = None  # seq of the first trace of the batch being sent
        self._closing = False
        self._deadline: float | None = None  # monotonic time by which close() gives up
        self._failing = False
        self._warned_full = False
        self._thread = threading.Thread(target=self._run, name="sloguard-trace-export", daemon=True)
        self._thread.start()
        atexit.register(self._at_exit)

    # --- the agent side: cheap and never raising ----------------------------------------------
    def export(self, trace: ResponseTrace) -> bool:
        """Queue a finished trace; return False when it was not queued (closed, not a trace).

        Exporting the same trace object again before it was sent updates the queued one.
        """
        try:
            steps = len(trace.steps)
            with self._work:
                if self._closing:
                    self.metrics.dropped.labels("closed").inc()
                    return False
                item = self._queued.get(id(trace))
                if item is not None and item.trace is trace:
                    item.steps = steps
                    return True
                if len(self._queue) >= self._max_queue:
                    old = self._queue.popleft()
                    self._queued.pop(id(old.trace), None)
                    self.metrics.dropped.labels("queue_full").inc()
                    self._warn_full()
                self._seq += 1
                item = _Item(trace, steps, self._seq, time.monotonic())
                self._queue.append(item)
                self._queued[id(trace)] = item
                if len(self._queue) == 1 or len(self._queue) >= self._max_batch:
                    self._work.notify()
            return True
        except Exception:  # never break the agent
            _log.warning("sloguard: trace not queued for export", exc_info=True)
            self.metrics.dropped.labels("unserializable").inc()
            return False

    def _warn_full(self) -> None:
        if not self._warned_full:
            self._warned_full = True
            _log.warning(
                "sloguard: trace export queue full (%d): dropping the oldest", self._max_queue
            )

    # StepListener: only finished root traces matter.
    def step_started(self, step: TraceRecord) -> None:
        """Nothing to do when a step opens."""

    def step_ended(self, step: TraceRecord) -> None:
        """Nothing to do when a step ends."""

    def trace_ended(self, trace: ResponseTrace) -> None:
        """Queue the trace whose root step just completed."""
        self.export(trace)

    # --- flush and close ------------------------------------------------------------------------
    def flush(self, timeout: float | None = 5.0) -> bool:
        """Send everything queued now; True when it was all delivered or given up in time.

        Given-up traces are counted in ``sloguard_sdk_export_dropped_total``.
        """
        with self._done:
            target = self._seq
            self._flush_to = max(self._flush_to, target)
            self._work.notify()
            return self._done.wait_for(lambda: self._settled(target), timeout)

    def _settled(self, target: int) -> bool:
        head = self._queue[0].seq if self._queue else math.inf
        return head > target and (self._inflight is None or self._inflight > target)

    def close(self, timeout: float | None = None) -> bool:
        """Deliver what is queued (for up to ``timeout``, default ``shutdown_timeout`` seconds)
        and stop; True when the thread finished in time. Later exports are dropped (``closed``).
        """
        wait = self._shutdown_timeout if timeout is None else max(0.0, timeout)
        with self._work:
            if not self._closing:
                self._closing = True
                self._deadline = time.monotonic() + wait
                self._work.notify_all()
            deadline = self._deadline
        atexit.unregister(self._at_exit)
        assert deadline is not None
        self._thread.join(max(0.0, deadline - time.monotonic()) + 0.5)
        return not self._thread.is_alive()

    def _at_exit(self) -> None:
        self.close()

    def __enter__(self) -> TraceExporter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<TraceExporter {self._origin}{self._path.split('?')[0]} queued={len(self._queue)}>"

    # --- the worker thread ----------------------------------------------------------------------
    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            try:
                self._ship(batch)
            except Exception:  # one bad batch never stops the thread
                _log.exception("sloguard: trace export failed")
            finally:
                with self._done:
                    self._inflight = None
                    self._done.notify_all()

    def _next_batch(self) -> list[_Item] | None:
        with self._work:
            while True:
                if self._queue:
                    first = self._queue[0]
                    wait = first.queued_at + self._max_delay - time.monotonic()
                    if (
                        wait <= 0
                        or self._closing
                        or first.seq <= self._flush_to
                        or len(self._queue) >= self._max_batch
                    ):
                        n = min(self._max_batch, len(self._queue))
                        batch = [self._queue.popleft() for _ in range(n)]
                        for item in batch:
                            self._queued.pop(id(item.trace), None)
                        self._inflight = first.seq
                        return batch
                    self._work.wait(wait)
                elif self._closing:
                    return None
                else:
                    self._work.wait()

    def _ship(self, batch: list[_Item]) -> None:
        parts: list[bytes] = []
        for item in batch:
            try:
                parts.append(encode_trace(item.trace, item.steps, mark_recorded=self._mark))
            except Exception as exc:  # a NaN, a dict changed while read: lose one trace only
                _log.warning("sloguard: trace %s not exported: %s", item.trace.trace_id, exc)
                self.metrics.dropped.labels("unserializable").inc()
        chunk: list[bytes] = []
        size = 0
        for part in parts:
            if chunk and size + len(part) > self._max_bytes:
                self._deliver(chunk)
                chunk, size = [], 0
            chunk.append(part)
            size += len(part) + 1
        if chunk:
            self._deliver(chunk)

    def _deliver(self, parts: list[bytes]) -> None:
        """Send ``parts`` as one batch; split it when refused as too large or invalid."""
        reason = self._send(b'{"traces":[' + b",".join(parts) + b"]}", len(parts))
        if reason is None:
            return
        if reason in ("too_large", "invalid") and len(parts) > 1:
            half = len(parts) // 2
            self._deliver(parts[:half])
            self._deliver(parts[half:])
            return
        self.metrics.dropped.labels(reason).inc(len(parts))

    def _send(self, body: bytes, n: int) -> str | None:
        """Post ``body`` with retries; None when delivered, else the drop reason."""
        headers = dict(self._headers)
        if len(body) >= self._gzip_min:
            body = gzip.compress(body, compresslevel=5, mtime=0)
            headers["Content-Encoding"] = "gzip"
        give_up = time.monotonic() + self._retry_for
        attempt = 0
        while True:
            timeout = self._attempt_timeout()
            if timeout is None:
                return "shutdown"
            answer = self._attempt(body, headers, timeout)
            if answer.reason is None:
                self.metrics.sent_traces.inc(n)
                self.metrics.sent_batches.inc()
                if self._failing:
                    self._failing = False
                    _log.info("sloguard: trace export to %s works again", self._origin)
                return None
            if not answer.retry:
                _log.warning(
                    "sloguard: %d trace(s) refused by %s (%s): %s",
                    n,
                    self._origin,
                    answer.reason,
                    answer.detail,
                )
                return answer.reason
            attempt += 1
            delay = answer.after if answer.after is not None else self._delay(attempt)
            if time.monotonic() + delay > give_up:
                _log.warning("sloguard: %d trace(s) not exported: %s", n, answer.detail)
                return "retries_exhausted"
            self._log_failure(answer, delay)
            if not self._pause(delay):
                return "shutdown"

    def _delay(self, attempt: int) -> float:
        initial, most = self._backoff
        return min(most, initial * 2.0 ** (attempt - 1)) * self._rng.uniform(0.5, 1.5)

    def _log_failure(self, answer: _Answer, delay: float) -> None:
        level = logging.DEBUG if self._failing else logging.WARNING
        self._failing = True
        _log.log(
            level,
            "sloguard: trace export to %s failed (%s); retrying in %.1fs",
            self._origin,
            answer.detail,
            delay,
        )

    def _attempt_timeout(self) -> float | None:
        """The socket timeout of the next attempt; None when close()'s deadline has passed."""
        with self._work:
            deadline = self._deadline
        if deadline is None:
            return self._timeout
        left = deadline - time.monotonic()
        return min(self._timeout, left) if left > 0 else None

    def _pause(self, delay: float) -> bool:
        """Wait ``delay`` seconds; False as soon as close()'s deadline would pass first."""
        end = time.monotonic() + delay
        with self._work:
            while True:
                if self._deadline is not None and end > self._deadline:
                    return False
                left = end - time.monotonic()
                if left <= 0:
                    return True
                self._work.wait(left)

    def _attempt(self, body: bytes, headers: dict[str, str], timeout: float) -> _Answer:
        conn: http.client.HTTPConnection
        if self._https:
            conn = http.client.HTTPSConnection(
                self._host, self._port, timeout=timeout, context=self._ssl
            )
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        try:
            conn.request("POST", self._path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read(_MAX_ANSWER).decode("utf-8", "replace")
            status, after = response.status, response.getheader("Retry-After")
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, timeout, TLS
            self.metrics.failures.labels("connection").inc()
            return _Answer(True, "connection", f"{type(exc).__name__}: {exc}")
        finally:
            conn.close()
        return self._classify(status, after, text)

    def _classify(self, status: int, after: str | None, text: str) -> _Answer:
        if 200 <= status < 300:
            return _OK
        detail = f"HTTP {status}: {' '.join(text.split())[:500]}"
        if status in _RETRY_STATUSES or 500 <= status < 600:
            self.metrics.failures.labels("server_error" if status >= 500 else "throttled").inc()
            return _Answer(True, "retry", detail, retry_after(after, time.time()))
        self.metrics.failures.labels("client_error").inc()
        return _Answer(False, _PERMANENT.get(status, "rejected"), detail)


def enable_export(exporter: TraceExporter, telemetry: Telemetry | None = None) -> Telemetry:
    """Return ``telemetry`` (default: the current one) with ``exporter`` listening.

    Every trace whose root step completes under the result is exported. Like
    :func:`~sloguard.enable_otel` the result is a new :class:`Telemetry`: make it current with
    ``sloguard.set_default_telemetry(t)`` or ``with sloguard.use_telemetry(t):``. Adding the same
    exporter twice does not ship traces twice.

    Example::

        exporter = TraceExporter("http://127.0.0.1:9464", token=token)
        sloguard.set_default_telemetry(enable_export(exporter))
    """
    base = telemetry if telemetry is not None else current_telemetry()
    listeners = [listener for listener in base.listeners if listener is not exporter]
    return Telemetry(
        base.recorder,
        redactor=base.redactor,
        listeners=[*listeners, exporter],
        exemplars=base.exemplars,
    )
