"""Self metrics of the HTTP ingest (``sloguard_ingest_*``, ``sloguard_unpriced_tokens_total``).

Example::

    metrics = IngestMetrics(registry)
    metrics.requests.labels("events", "accepted").inc()
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Info

from sloguard import conventions as c
from sloguard.sdk.guard import CardinalityGuard


class IngestMetrics:
    """Counters of ingest requests, accepted items and tokens that could not be priced."""

    def __init__(self, registry: CollectorRegistry | None = REGISTRY) -> None:
        r = registry
        self.requests = Counter(
            "sloguard_ingest_requests",
            "Ingest requests by endpoint and result (accepted, invalid, malformed, too_large, "
            "unsupported, unauthorized, aborted).",
            ["endpoint", "result"],
            registry=r,
        )
        self.items = Counter(
            "sloguard_ingest_items",
            "Items (traces, events) accepted by the ingest.",
            ["endpoint"],
            registry=r,
        )
        self.unpriced_tokens = Counter(
            "sloguard_unpriced_tokens",
            "Tokens reported without a cost that could not be priced: the model has no price in "
            "the pricing table, or only a total was given (no input/output split).",
            [c.L_MODEL],
            registry=r,
        )
        self.pricing = Info("sloguard_pricing", "The pricing table in use.", registry=r)
        self.store_failures = Counter(
            "sloguard_ingest_store_failures",
            "Accepted batches whose traces, events or detected anomalies could not be stored "
            "in the trace store (their metrics were recorded).",
            ["what"],
            registry=r,
        )
        for what in ("traces", "events", "anomaly events"):
            self.store_failures.labels(what)
        self._assembly_families(r)

    def _assembly_families(self, r: CollectorRegistry | None) -> None:
        """What the OTLP assembly window does (see :mod:`sloguard.ingest.otlpassembly`)."""
        self.otlp_traces = Counter(
            "sloguard_otlp_traces",
            "OTLP traces mapped, by why they were handed over: complete (every span arrived), "
            "window (the assembly window closed first), memory (too many spans waited), "
            "flush (shutdown), late (spans of a trace handed over lately, read with it).",
            ["outcome"],
            registry=r,
        )
        for outcome in ("complete", "window", "memory", "flush", "late"):
            self.otlp_traces.labels(outcome)
        self.otlp_waiting = Gauge(
            "sloguard_otlp_waiting_spans",
            "OTLP spans waiting for the rest of their trace.",
            registry=r,
        )
        self.otlp_duplicates = Counter(
            "sloguard_otlp_duplicate_spans",
            "OTLP spans received again (same trace and span id) and dropped: an exporter's retry.",
            registry=r,
        )
        self.otlp_dropped = Counter(
            "sloguard_otlp_dropped_traces",
            "Assembled OTLP traces whose updates failed the recorder's checks (logged).",
            registry=r,
        )

    def declare(self, endpoint: str, results: Iterable[str]) -> None:
        """Create the series of ``endpoint`` at zero, so rates work before the first request."""
        for result in results:
            self.requests.labels(endpoint, result)
        self.items.labels(endpoint)

    def unpriced(self, guard: CardinalityGuard, model: str, tokens: int) -> None:
        """Count ``tokens`` of ``model`` as unpriced (the model label passes ``guard``)."""
        self.unpriced_tokens.labels(guard.admit(c.L_MODEL, model)).inc(tokens)
