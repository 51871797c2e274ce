"""Deliver the batches of :class:`~sloguard.sdk.export.exporter.TraceExporter`, with retries, and
count it.

:class:`Sender` runs on the exporter's thread. It encodes each trace
(:func:`~sloguard.sdk.export.wire.encode_trace`), cuts a batch into bodies of at most
``max_batch_bytes`` of JSON and posts each through an :class:`~sloguard.sdk.export.wire.Endpoint`.
What may work later (connection errors, timeouts, 5xx, 408, 425, 429) is retried with jittered
exponential backoff, or after the server's ``Retry-After``, for up to ``retry_for`` seconds; a
multi-trace body refused as too large or invalid is split in halves and each half resent, so one
bad trace does not take its neighbours with it. After :meth:`Sender.give_up_at` no attempt or
pause runs past that deadline. Failures are logged once per outage.

:class:`ExportMetrics` are the self metrics of every exporter on one registry:
``sloguard_sdk_export_{sent_traces,sent_batches}_total``,
``sloguard_sdk_export_failures_total{reason}`` (failed attempts, :data:`FAILURE_REASONS`) and
``sloguard_sdk_export_dropped_total{reason}`` (traces given up, :data:`DROP_REASONS`).

Example::

    sender = Sender(Endpoint(url), metrics_on(registry), mark_recorded=True)
    sender.ship([(trace, len(trace.steps))])
"""

from __future__ import annotations

import logging
import random
import threading
import time
import weakref
from collections.abc import Iterable
from typing import Final

from prometheus_client import CollectorRegistry, Counter

from sloguard.sdk.export.wire import FAILURE_REASONS, Answer, Endpoint, encode_trace
from sloguard.sdk.trace import ResponseTrace

__all__ = ["DROP_REASONS", "FAILURE_REASONS", "ExportMetrics", "Sender", "metrics_on"]

_log = logging.getLogger(__name__)

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


class ExportMetrics:
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


_shared: weakref.WeakKeyDictionary[CollectorRegistry, ExportMetrics] = weakref.WeakKeyDictionary()
_shared_lock = threading.Lock()


def metrics_on(registry: CollectorRegistry | None) -> ExportMetrics:
    """Return the export metrics on ``registry`` (one set per registry; None: on no registry)."""
    if registry is None:
        return ExportMetrics(None)
    with _shared_lock:
        found = _shared.get(registry)
        if found is None:
            found = _shared[registry] = ExportMetrics(registry)
        return found


class Sender:
    """Post batches of traces to ``endpoint`` with retries; count what is sent and given up.

    ``timeout`` bounds each attempt; ``backoff_initial``/``backoff_max`` shape the delays between
    attempts, ``retry_for`` how long one body is retried before it is dropped.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        metrics: ExportMetrics,
        *,
        mark_recorded: bool,
        max_batch_bytes: int = 1 << 20,
        timeout: float = 10.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        retry_for: float = 120.0,
        rng: random.Random | None = None,
    ) -> None:
        self.metrics = metrics
        self._endpoint = endpoint
        self._origin = endpoint.origin
        self._mark, self._max_bytes, self._timeout = mark_recorded, max_batch_bytes, timeout
        self._backoff = (backoff_initial, backoff_max)
        self._retry_for = retry_for
        self._rng = rng or random.Random()
        self._failing = False
        self._stop = threading.Condition()  # give_up_at() wakes a pause with it
        self._deadline: float | None = None  # monotonic time by which everything is given up

    def give_up_at(self, deadline: float) -> None:
        """Attempt and wait only until ``deadline`` (``time.monotonic()``) from now on."""
        with self._stop:
            self._deadline = deadline
            self._stop.notify_all()

    def ship(self, batch: Iterable[tuple[ResponseTrace, int]]) -> None:
        """Deliver the first ``steps`` steps of each ``(trace, steps)``; count what is given up."""
        parts: list[bytes] = []
        for trace, steps in batch:
            try:
                parts.append(encode_trace(trace, steps, mark_recorded=self._mark))
            except Exception as exc:  # a NaN, a dict changed while read: lose one trace only
                _log.warning("sloguard: trace %s not exported: %s", trace.trace_id, exc)
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
        body, headers = self._endpoint.prepare(body)
        give_up = time.monotonic() + self._retry_for
        attempt = 0
        while True:
            timeout = self._attempt_timeout()
            if timeout is None:
                return "shutdown"
            answer = self._endpoint.post(body, headers, timeout)
            if answer.failure is not None:
                self.metrics.failures.labels(answer.failure).inc()
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

    def _log_failure(self, answer: Answer, delay: float) -> None:
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
        """The socket timeout of the next attempt; None when the deadline has passed."""
        with self._stop:
            deadline = self._deadline
        if deadline is None:
            return self._timeout
        left = deadline - time.monotonic()
        return min(self._timeout, left) if left > 0 else None

    def _pause(self, delay: float) -> bool:
        """Wait ``delay`` seconds; False as soon as the deadline would pass first."""
        end = time.monotonic() + delay
        with self._stop:
            while True:
                if self._deadline is not None and end > self._deadline:
                    return False
                left = end - time.monotonic()
                if left <= 0:
                    return True
                self._stop.wait(left)
