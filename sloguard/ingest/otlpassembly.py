"""Accepted OTLP spans → whole traces → metrics and stored traces, each span once.

:class:`OtlpAssembly` is the thread-safe edge around the pure
:class:`~sloguard.ingest.spanassembly.SpanAssembler`: the ingest hands it the spans of an
accepted request (already read, so a request with a bad attribute is refused before anything
waits); every trace the assembler hands over is mapped (:class:`SpanMapping`, with the
trace's dialect), recorded on the recorder and passed to ``on_traces`` (the trace store). A
trace whose spans all arrived in one request is recorded before the request is answered, as
before; the others when their last span arrives, or when their window closes
(:meth:`OtlpAssembly.flush`, called every second by the daemon and at every request), or at
shutdown (:meth:`OtlpAssembly.drain`).

Self metrics: ``sloguard_otlp_traces_total{outcome}`` (complete, window, memory, flush, late:
spans of a trace handed over lately, read with it),
``sloguard_otlp_waiting_spans``, ``sloguard_otlp_duplicate_spans_total``, and
``sloguard_otlp_dropped_traces_total`` (a handed-over trace whose updates failed the recorder's
checks: logged, never raised into a later request).

Example::

    assembly = OtlpAssembly(recorder, IngestMetrics(registry), pricing, window=30.0)
    fresh = assembly.accept(spans, meanings, now)     # spans new to it (duplicates dropped)
    assembly.flush(now)                               # traces whose window closed
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence

import structlog

from sloguard.ingest.batch import CostBook
from sloguard.ingest.metrics import IngestMetrics
from sloguard.ingest.otlp import apply
from sloguard.ingest.otlpwire import InvalidOtlp
from sloguard.ingest.pricing import PriceTable
from sloguard.ingest.semconv import Meaning, SpanRecord
from sloguard.ingest.spanassembly import ReadyTrace, SpanAssembler
from sloguard.ingest.spanmap import SpanKey, SpanMapping
from sloguard.sdk.recorder import Recorder

__all__ = ["DEFAULT_MAX_WAITING_SPANS", "DEFAULT_WINDOW", "OtlpAssembly"]

log = structlog.get_logger(__name__)

DEFAULT_WINDOW = 30.0
DEFAULT_MAX_WAITING_SPANS = 100_000
#: Mapped traces handed to the trace store, with the time they were handed over.
OnTraces = Callable[[Sequence[SpanMapping], float], object]


class OtlpAssembly:
    """Assemble, map and record OTLP traces (see the module docstring); thread-safe."""

    def __init__(
        self,
        recorder: Recorder,
        metrics: IngestMetrics,
        pricing: PriceTable,
        *,
        window: float = DEFAULT_WINDOW,
        max_waiting_spans: int = DEFAULT_MAX_WAITING_SPANS,
    ) -> None:
        self.recorder = recorder
        self.ingest_metrics = metrics
        self.pricing = pricing
        self.window = window
        self._assembler = SpanAssembler(window=window, max_spans=max_waiting_spans)
        self._lock = threading.Lock()
        #: Where mapped traces go after they are recorded (the trace store's writer).
        self.on_traces: OnTraces | None = None

    def accept(
        self, spans: Sequence[SpanRecord], meanings: Mapping[SpanKey, Meaning], now: float
    ) -> tuple[int, list[SpanMapping]]:
        """Take the spans of an accepted request; return how many were new, and the traces
        recorded now (those they completed, pushed out by memory, or whose window closed)."""
        with self._lock:
            before = self._assembler.duplicates
            ready = self._assembler.add(spans, now, meanings) + self._assembler.expire(now)
            duplicates = self._assembler.duplicates - before
            mapped = self._record(ready)
        if duplicates:
            self.ingest_metrics.otlp_duplicates.inc(duplicates)
        return len(spans) - duplicates, mapped

    def flush(self, now: float) -> list[SpanMapping]:
        """Record the traces whose window has closed at ``now``; store them."""
        with self._lock:
            mapped = self._record(self._assembler.expire(now))
        self._store(mapped, now)
        return mapped

    def drain(self, now: float) -> list[SpanMapping]:
        """Record and store every waiting trace (at shutdown)."""
        with self._lock:
            mapped = self._record(self._assembler.drain())
        self._store(mapped, now)
        return mapped

    def _store(self, mapped: list[SpanMapping], now: float) -> None:
        if mapped and self.on_traces is not None:
            self.on_traces(mapped, now)

    def _record(self, ready: list[ReadyTrace]) -> list[SpanMapping]:
        """Map and record handed-over traces (under the lock: recorded in hand-over order)."""
        mapped: list[SpanMapping] = []
        for trace in ready:
            self.ingest_metrics.otlp_traces.labels(trace.outcome.value).inc()
            costs = CostBook(self.pricing)
            try:
                mapping = SpanMapping(
                    trace.spans, price=costs.cost, meanings=trace.meanings, context=trace.context
                )
                apply(self.recorder, mapping.updates())
            except InvalidOtlp as exc:
                self.ingest_metrics.otlp_dropped.inc()
                log.warning(
                    "otlp trace dropped", trace_id=trace.trace_id, problems=len(exc.problems)
                )
                continue
            costs.count(self.recorder.guard, self.ingest_metrics)
            mapped.append(mapping)
        self.ingest_metrics.otlp_waiting.set(self._assembler.waiting)
        return mapped
