"""Forward every trace a sidecar stores to the central daemon (``ingest.forward_traces_to``).

A sidecar without a shared database (no ``storage.url``) keeps its own metrics and trace store
as before, and :class:`TraceForwarder` also ships each trace it stores (A2A, OTLP merged with
its earlier spans, SDK exports) to the central daemon's store-only endpoint
``POST /v1/traces/store`` (:mod:`sloguard.ingest.forwardintake`), so the failing-trace links
of alerts and the web page work for traces ingested anywhere. The central daemon stores them
without counting any metric or anomaly again: Prometheus scrapes the sidecar, which counted them.

Each trace is encoded when stored, in the flat A2A shape the SDK exporter writes, its root
steps marked ``sloguard.metrics_recorded: true`` (so an older central daemon's ``/v1/a2a/traces``
would store it without counting its steps either). One background thread sends batches
(:mod:`sloguard.ingest.forwardqueue`: bounded, one entry per trace id, time- and size-bound
batches, exponential backoff with jitter, ``Retry-After`` honoured) over the SDK exporter's
HTTP core (:class:`~sloguard.sdk.export.wire.Endpoint`: gzip, bearer token, answers
classified). Connection errors, timeouts, 5xx, 408, 425 and 429 are retried until the trace
is pushed out of the full queue; other answers (401, 403, 413, 422 …) drop the batch.

Self metrics: ``sloguard_forwarded_traces_total{outcome}`` (``delivered``; ``failed``: in a
batch whose attempt will be retried; ``rejected``), ``sloguard_forward_dropped_total{reason}``
(:data:`DROP_REASONS`) and ``sloguard_forward_queue_depth``. One log line per change of state
(up, down, refused). :meth:`TraceForwarder.close` sends what waits until its deadline.

Example::

    forwarder = TraceForwarder("http://central:9464", token=token, registry=registry)
    forwarder.start()
    forwarder.forward([trace])      # from the ingest, after storing
    forwarder.close(timeout=10.0)   # at shutdown: drained or counted as dropped
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.parse
from collections.abc import Sequence
from typing import Any, Final

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge

from sloguard.conventions import A2A_METRICS_RECORDED_ATTR
from sloguard.ingest.forwardqueue import ForwardPolicy, ForwardQueue
from sloguard.sdk.export.wire import Answer, Endpoint
from sloguard.sdk.trace import ResponseTrace

__all__ = [
    "DROP_REASONS",
    "OUTCOMES",
    "STORE_PATH",
    "ForwardMetrics",
    "TraceForwarder",
    "encode",
    "store_url",
]

log = structlog.get_logger(__name__)

#: The central daemon's store-only endpoint (posted to when the URL has no path).
STORE_PATH: Final = "/v1/traces/store"
#: ``outcome`` values of ``sloguard_forwarded_traces_total``.
OUTCOMES: Final = ("delivered", "failed", "rejected")
#: ``reason`` values of ``sloguard_forward_dropped_total``.
DROP_REASONS: Final = ("queue_full", "rejected", "unserializable", "shutdown")


class ForwardMetrics:
    """The forwarder's self metrics on ``registry``."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        r = registry
        self.forwarded = Counter(
            "sloguard_forwarded_traces",
            "Traces sent to the central daemon, by outcome of the attempt.",
            ["outcome"],
            registry=r,
        )
        self.dropped = Counter(
            "sloguard_forward_dropped",
            "Traces given up without reaching the central daemon, by reason.",
            ["reason"],
            registry=r,
        )
        self.depth = Gauge(
            "sloguard_forward_queue_depth",
            "Traces waiting to be forwarded (the batch in flight included).",
            registry=r,
        )
        for outcome in OUTCOMES:
            self.forwarded.labels(outcome)
        for reason in DROP_REASONS:
            self.dropped.labels(reason)


def store_url(url: str) -> str:
    """``url`` with :data:`STORE_PATH` when it names no path (the central daemon's base URL)."""
    parts = urllib.parse.urlsplit(url)
    if parts.path in ("", "/"):
        return urllib.parse.urlunsplit(parts._replace(path=STORE_PATH))
    return url


def encode(trace: ResponseTrace) -> bytes:
    """``trace`` as compact flat-shape JSON, root steps marked recorded, unknown starts left out.

    A step stored without a start time starts at the epoch; it is sent without one, as it came
    (the central daemon refuses an explicit start before 2000). Raises ValueError on a value that
    is not JSON (a NaN).
    """
    steps = [s.as_dict() for s in trace.steps]
    ids = {d["step_id"] for d in steps}
    for d in steps:
        if d["parent_step_id"] not in ids:  # as_dict() made a fresh attribute dict
            d["additional_attributes"][A2A_METRICS_RECORDED_ATTR] = True
    data = {"trace_id": trace.trace_id, "steps": steps}
    _unknown_starts(data)
    return json.dumps(data, separators=(",", ":"), default=str, allow_nan=False).encode()


def _unknown_starts(node: Any) -> None:
    """Drop every epoch ``start_time`` below ``node`` (nested callee traces too)."""
    if isinstance(node, dict):
        start = node.get("start_time")
        if isinstance(start, str) and start.startswith(_EPOCH):
            del node["start_time"]
        for value in node.values():
            _unknown_starts(value)
    elif isinstance(node, list):
        for value in node:
            _unknown_starts(value)


_EPOCH: Final = "1970-01-01T00:00:00+"


class TraceForwarder:
    """Queue stored traces and post them to the central daemon from one background thread."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None,
        registry: CollectorRegistry | None,
        policy: ForwardPolicy | None = None,
        timeout: float = 10.0,
        rng: random.Random | None = None,
    ) -> None:
        self._endpoint = Endpoint(store_url(url), token=token)
        self.origin = self._endpoint.origin
        self.metrics = ForwardMetrics(registry)
        self._queue: ForwardQueue[bytes] = ForwardQueue(policy, size=len)
        self._timeout = timeout
        self._rng = rng or random.Random()
        self._cond = threading.Condition()
        self._closing = False
        self._deadline = 0.0
        self._state = "up"
        self._thread = threading.Thread(target=self._run, name="sloguard-forward", daemon=True)

    def start(self) -> None:
        """Start the sending thread."""
        self._thread.start()

    def forward(self, traces: Sequence[ResponseTrace]) -> None:
        """Queue ``traces`` (just stored); never raises into the ingest."""
        items: list[tuple[str, bytes]] = []
        for trace in traces:
            try:
                items.append((trace.trace_id, encode(trace)))
            except Exception as exc:  # a NaN in parameters: lose this trace only
                log.warning("trace not forwarded", trace_id=trace.trace_id, error=str(exc))
                self.metrics.dropped.labels("unserializable").inc()
        if not items:
            return
        with self._cond:
            if self._closing:
                self.metrics.dropped.labels("shutdown").inc(len(items))
                return
            dropped = self._queue.add(items, time.monotonic())
            self._after_change(dropped)
            self._cond.notify()

    def close(self, timeout: float) -> bool:
        """Send what waits for up to ``timeout`` seconds, then stop; True when all was sent.

        What is still waiting then is counted as dropped (``shutdown``).
        """
        with self._cond:
            self._closing = True
            self._deadline = time.monotonic() + max(0.0, timeout)
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(max(0.0, timeout) + self._timeout + 1.0)
        with self._cond:
            left = self._queue.drain()
            self.metrics.dropped.labels("shutdown").inc(left)
            self.metrics.depth.set(0)
        if left:
            log.warning("traces not forwarded at shutdown", traces=left, to=self.origin)
        return left == 0

    def _after_change(self, dropped: int) -> None:
        if dropped:
            self.metrics.dropped.labels("queue_full").inc(dropped)
        self.metrics.depth.set(self._queue.depth)

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            try:
                self._send(batch)
            except Exception:  # one bad batch never stops the thread
                log.exception("forwarding traces failed")
                with self._cond:
                    self._queue.failed(time.monotonic(), jitter=self._rng.uniform(0.5, 1.5))

    def _next_batch(self) -> list[bytes] | None:
        with self._cond:
            while True:
                now = time.monotonic()
                if self._closing and (self._queue.depth == 0 or now >= self._deadline):
                    return None
                batch = self._queue.take(now, flush=self._closing)
                if batch is not None:
                    return batch
                due = self._queue.due_at(now, flush=self._closing)
                wait = None if due is None else due - now
                if self._closing:
                    wait = min(wait if wait is not None else self._deadline, self._deadline - now)
                self._cond.wait(wait)

    def _send(self, batch: list[bytes]) -> None:
        body, headers = self._endpoint.prepare(b'{"traces":[' + b",".join(batch) + b"]}")
        timeout = self._timeout
        with self._cond:
            if self._closing:
                timeout = max(0.1, min(timeout, self._deadline - time.monotonic()))
        answer = self._endpoint.post(body, headers, timeout)
        with self._cond:
            now = time.monotonic()
            if answer.reason is None:
                self.metrics.forwarded.labels("delivered").inc(self._queue.delivered())
                self._become("up", answer)
            elif answer.retry:
                jitter = self._rng.uniform(0.5, 1.5)
                delay = self._queue.failed(now, after=answer.after, jitter=jitter)
                self.metrics.forwarded.labels("failed").inc(len(batch))
                self._become("down", answer, retry_in=round(delay, 1))
            else:
                n = self._queue.rejected()
                self.metrics.forwarded.labels("rejected").inc(n)
                self.metrics.dropped.labels("rejected").inc(n)
                self._become("refused", answer, traces=n)
            self.metrics.depth.set(self._queue.depth)

    def _become(self, state: str, answer: Answer, **details: object) -> None:
        """Log one line when the state changes (up, down, refused)."""
        if state == self._state:
            return
        self._state = state
        if state == "up":
            log.info("forwarding traces works again", to=self.origin)
        elif state == "down":
            log.warning(
                "forwarding traces failed; retrying", to=self.origin, error=answer.detail, **details
            )
        else:
            log.warning(
                "forwarded traces refused; dropped", to=self.origin, error=answer.detail, **details
            )

    def __repr__(self) -> str:
        return f"<TraceForwarder {self.origin} queued={self._queue.depth}>"
