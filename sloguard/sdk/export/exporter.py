"""Ship finished traces to a sloguard sidecar (``POST /v1/a2a/traces``): opt-in, stdlib only.

:class:`TraceExporter` queues finished :class:`~sloguard.sdk.trace.ResponseTrace` values and one
background daemon thread posts them in batches, so the sidecar's trace store (``sloguard trace``,
``/api/v1/traces``) holds the runs of in-process agents too. The agent's code path only puts a
reference in a bounded queue; serialising, gzip and the network happen on the thread. This module
is the queue, the thread and the public API; :mod:`~sloguard.sdk.export.sender` delivers a batch
(retries, splitting, self metrics) and :mod:`~sloguard.sdk.export.wire` makes the request and
reads the answer.

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

    exporter = TraceExporter("http://127.0.0.1:9464", token=os.environ["SLOGUARD_INGEST__TOKEN"])
    sloguard.set_default_telemetry(enable_export(exporter))   # every finished root trace
    ...
    exporter.close()   # or let atexit do it: what is queued is delivered
"""

from __future__ import annotations

import atexit
import logging
import math
import random
import ssl
import threading
import time
from collections import deque
from types import TracebackType

from prometheus_client import REGISTRY, CollectorRegistry

from sloguard.sdk.export.sender import DROP_REASONS, Sender, metrics_on
from sloguard.sdk.export.wire import DEFAULT_PATH, Endpoint
from sloguard.sdk.telemetry import Telemetry, current_telemetry
from sloguard.sdk.trace import ResponseTrace, TraceRecord

__all__ = ["DEFAULT_PATH", "DROP_REASONS", "TraceExporter", "enable_export"]

_log = logging.getLogger(__name__)


class _Item:
    __slots__ = ("queued_at", "seq", "steps", "trace")

    def __init__(self, trace: ResponseTrace, steps: int, seq: int, queued_at: float) -> None:
        self.trace, self.steps, self.seq, self.queued_at = trace, steps, seq, queued_at


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
        endpoint = Endpoint(
            url, token=token, gzip_min_bytes=gzip_min_bytes, ssl_context=ssl_context
        )
        if min(max_queue, max_batch, max_batch_bytes) < 1:
            raise ValueError("max_queue, max_batch and max_batch_bytes must be >= 1")
        self._endpoint = endpoint
        self._max_queue, self._max_batch, self._max_delay = max_queue, max_batch, max_delay
        self._shutdown_timeout = shutdown_timeout
        self.metrics = metrics_on(registry)
        self._sender = Sender(
            endpoint,
            self.metrics,
            mark_recorded=metrics_recorded,
            max_batch_bytes=max_batch_bytes,
            timeout=timeout,
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
            retry_for=retry_for,
            rng=rng,
        )
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
                self._sender.give_up_at(self._deadline)  # no retry runs past it
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
        where = f"{self._endpoint.origin}{self._endpoint.path.split('?')[0]}"
        return f"<TraceExporter {where} queued={len(self._queue)}>"

    # --- the worker thread ----------------------------------------------------------------------
    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            try:
                self._sender.ship([(item.trace, item.steps) for item in batch])
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
