"""Store what a committed ingest batch carried, and count each anomaly in it once.

After a batch is committed to the recorder, :class:`AnomalyWatch` stores its A2A traces, or its
events and decision records, in the :class:`~sloguard.tracestore.store.TraceStore`, runs the pure
detection of :mod:`sloguard.analysis` and counts what is *new* in ``agent_anomalies_total``
(:meth:`~sloguard.sdk.recorder.Recorder.anomaly`). Each anomaly counted is stored too, as an
``anomaly`` event with ``"detected": true``, so ``GET /api/v1/anomalies`` lists what was counted.

What is counted is what a batch *adds* (:mod:`sloguard.analysis.delta`), so that posting again or
re-evaluating a chain never counts twice:

- **traces** — the anomalies of a trace minus those of the trace stored before under the same
  id: a trace posted again counts nothing, one posted again with more steps counts what the new
  steps added. A trace already dropped by retention counts again.
- **decisions** — the stored chain (its newest :data:`CHAIN_LIMIT` records) of every workflow a
  batch adds to is loaded. Records equal to a stored one are that decision sent again: neither
  stored again nor new (send ``timestamp`` to make re-sending idempotent; without it, the time
  received differs). The anomalies the new records add to the chain are counted: an anomaly of
  older records was counted when its last record arrived, and a 22nd tool choice in a turn
  already over the limit adds nothing. Records without a workflow are a chain of their own
  batch. A record arriving late (older than stored ones) may reshape how a chain walks; an
  anomaly it reshapes can count again.

One lock serializes storing and detecting, so two requests completing the same loop at once
cannot both count it. A store failure is logged and counts nothing: the batch's metrics are
already recorded, and failing the request would only make the client send them again.
:func:`anomaly_event` (pure) is the stored form of a counted anomaly.

Example::

    watch = AnomalyWatch(TraceStore("data/traces.sqlite"), recorder, low_confidence=0.3)
    watch.store_traces(traces, now=time.time())            # after the batch was committed
    watch.store_events(kept.events, kept.decisions, now=time.time())
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import structlog

from sloguard.analysis.anomalies import MAX_TOOL_CALLS, Anomaly
from sloguard.analysis.decisionrecord import DecisionRecord
from sloguard.analysis.decisions import LOW_CONFIDENCE
from sloguard.analysis.delta import new_chain_anomalies, new_trace_anomalies, unseen
from sloguard.conventions import UNKNOWN_VALUE
from sloguard.sdk.recorder import Recorder
from sloguard.sdk.trace import ResponseTrace
from sloguard.tracestore.base import TraceStore

log = structlog.get_logger(__name__)

#: The most decisions of one workflow (the newest) loaded to evaluate its chain.
CHAIN_LIMIT = 1000


# --- pure ---------------------------------------------------------------------------------------
def anomaly_event(
    a: Anomaly, *, trace_id: str | None = None, workflow_id: str | None = None
) -> dict[str, Any]:
    """Return the stored ``anomaly`` event of a detected anomaly (JSON values)."""
    event: dict[str, Any] = {
        "type": "anomaly",
        "agent": a.agent or UNKNOWN_VALUE,
        "anomaly": a.kind.value,
        "detected": True,
        "message": a.message,
    }
    if trace_id is not None:
        event["trace_id"] = trace_id
    if workflow_id is not None:
        event["workflow_id"] = workflow_id
    if a.path:
        event["path"] = list(a.path)
    if a.steps:
        event["steps"] = list(a.steps)
    if a.decisions:
        event["decisions"] = [
            {
                "agent_id": d.agent_id,
                "timestamp": d.timestamp.isoformat(),
                "decision_type": d.decision_type,
                "chosen_option": d.chosen_option,
                "confidence": d.confidence,
            }
            for d in a.decisions
        ]
    return event


# --- the watch ---------------------------------------------------------------------------------
class AnomalyWatch:
    """Store committed traces, events and decisions in ``store``; count new anomalies.

    Example::

        watch = AnomalyWatch(store, recorder, low_confidence=0.3, max_tool_calls=20)
        counted = watch.store_traces([trace], now=time.time())
    """

    def __init__(
        self,
        store: TraceStore,
        recorder: Recorder,
        *,
        low_confidence: float = LOW_CONFIDENCE,
        max_tool_calls: int = MAX_TOOL_CALLS,
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        """``on_failure(what)`` is called when storing fails (the ingest counts it)."""
        if not 0 <= low_confidence <= 1:
            raise ValueError(f"low_confidence must be in [0, 1], got {low_confidence}")
        if max_tool_calls < 0:
            raise ValueError(f"max_tool_calls must be >= 0, got {max_tool_calls}")
        self.store = store
        self.recorder = recorder
        self.low_confidence = low_confidence
        self.max_tool_calls = max_tool_calls
        self._on_failure = on_failure
        self._lock = threading.Lock()

    def store_traces(
        self,
        traces: Sequence[ResponseTrace],
        now: float,
        stored: Mapping[str, ResponseTrace | None] | None = None,
    ) -> list[Anomaly]:
        """Store ``traces`` (replacing those with the same ids); count and return new anomalies.

        ``stored``: what the caller already read from the store under these ids (the OTLP
        writer merges with it), so it is not read again.
        """
        counted: list[Anomaly] = []
        events: list[dict[str, Any]] = []
        with self._lock:
            before: dict[str, ResponseTrace | None] = dict(stored or {})
            try:
                for trace in traces:
                    if trace.trace_id not in before:
                        before[trace.trace_id] = self.store.get(trace.trace_id)
                self.store.put_traces(traces, now)
            except Exception as exc:  # the batch is recorded; keep going
                self._failed("traces", exc)
                return []
            for trace in traces:  # a later trace of the batch replaces an earlier one
                found = new_trace_anomalies(
                    trace, before[trace.trace_id], max_tool_calls=self.max_tool_calls
                )
                before[trace.trace_id] = trace
                counted += found
                events += [anomaly_event(a, trace_id=trace.trace_id) for a in found]
            self._count(counted, events, now)
        return counted

    def store_events(
        self,
        events: Sequence[Mapping[str, Any]],
        decisions: Sequence[DecisionRecord],
        now: float,
    ) -> list[Anomaly]:
        """Store ``events`` and the ``decisions`` not stored before; count and return the new
        anomalies of their chains."""
        with self._lock:
            try:
                if events:
                    self.store.put_events(events, now)
                chains = self._chains(decisions)
                fresh = [r for _, _, new in chains for r in new]
                if fresh:
                    self.store.put_decisions(fresh, now)
            except Exception as exc:  # the batch is recorded; keep going
                self._failed("events", exc)
                return []
            found: list[Anomaly] = []
            stored: list[dict[str, Any]] = []
            for workflow_id, chain, new in chains:
                for a in new_chain_anomalies(
                    chain,
                    new,
                    low_confidence=self.low_confidence,
                    max_tool_calls=self.max_tool_calls,
                ):
                    found.append(a)
                    stored.append(anomaly_event(a, workflow_id=workflow_id))
            self._count(found, stored, now)
        return found

    def _chains(
        self, decisions: Sequence[DecisionRecord]
    ) -> list[tuple[str | None, Sequence[DecisionRecord], list[DecisionRecord]]]:
        """Return ``(workflow, stored chain, new records)`` per workflow of ``decisions``."""
        by_workflow: dict[str | None, list[DecisionRecord]] = {}
        for r in decisions:
            by_workflow.setdefault(r.workflow_id, []).append(r)
        chains: list[tuple[str | None, Sequence[DecisionRecord], list[DecisionRecord]]] = []
        for workflow_id, batch in by_workflow.items():
            if workflow_id is None:  # no chain to join: the batch's own records
                chains.append((None, (), batch))
                continue
            chain = self.store.decisions(workflow_id=workflow_id, limit=CHAIN_LIMIT)
            chains.append((workflow_id, chain, unseen(chain, batch)))
        return chains

    def _count(
        self, found: Sequence[Anomaly], events: Sequence[dict[str, Any]], now: float
    ) -> None:
        for a in found:
            self.recorder.anomaly(a.agent or UNKNOWN_VALUE, a.kind.value)
        if events:
            try:
                self.store.put_events(events, now)
            except Exception as exc:  # counted already; the listing misses them
                self._failed("anomaly events", exc)

    def _failed(self, what: str, exc: Exception) -> None:
        log.warning("storing ingested data failed", what=what, error=f"{type(exc).__name__}: {exc}")
        if self._on_failure is not None:
            self._on_failure(what)
