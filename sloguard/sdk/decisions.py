"""``DecisionTracker``: seed 000's decision tracking, in process, with its anomalies counted.

Each decision is counted in ``agent_decisions_total`` (its confidence observed in
``agent_decision_confidence``) and kept in its workflow's chain in memory; the anomalies of the
chain that the new decision adds (low confidence, handoff loop, runaway tool calls; see
:mod:`sloguard.analysis.decisions` and :mod:`sloguard.analysis.delta`) are counted in
``agent_anomalies_total``, so each is counted once. Memory is bounded: the newest
``max_chain`` decisions of the newest ``max_workflows`` workflows are kept (a loop longer than
what is kept goes unnoticed).

Unlike the seed's tracker the methods are synchronous (memory only, nothing to await); send the
records to a sloguard sidecar (``POST /v1/events``, type ``decision``) to keep them for the
debugging API.

Example::

    tracker = DecisionTracker()
    tracker.track_decision("supervisor", "routing", "billing-agent", 0.82,
                           options_considered=["billing-agent", "shipping-agent"],
                           reasoning="refund requested", workflow_id="wf-001")
    tracker.get_decision_chain("wf-001")
    tracker.find_anomalies("wf-001")
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Iterable
from datetime import UTC, datetime

from sloguard.analysis.anomalies import MAX_TOOL_CALLS, Anomaly
from sloguard.analysis.decisionrecord import DecisionRecord, Option
from sloguard.analysis.decisions import LOW_CONFIDENCE, find_anomalies
from sloguard.analysis.delta import new_chain_anomalies
from sloguard.sdk.context import current_trace
from sloguard.sdk.recorder import Recorder
from sloguard.sdk.telemetry import current_telemetry


class DecisionTracker:
    """Record agents' decisions per workflow and count each anomaly of a chain once.

    ``recorder``: where metrics go (default: the current telemetry's, looked up per call).
    Decisions without a workflow id take the current trace's id (inside a ``TraceStep`` or
    ``workflow``); with neither they form no chain and only low confidence is checked.

    Example::

        tracker = DecisionTracker(low_confidence=0.4)
        found = tracker.record(DecisionRecord("billing-agent", now, "handoff", "supervisor",
                                              0.6, workflow_id="wf-001"))
    """

    def __init__(
        self,
        recorder: Recorder | None = None,
        *,
        low_confidence: float = LOW_CONFIDENCE,
        max_tool_calls: int = MAX_TOOL_CALLS,
        max_workflows: int = 1000,
        max_chain: int = 1000,
    ) -> None:
        if not 0 <= low_confidence <= 1:
            raise ValueError(f"low_confidence must be in [0, 1], got {low_confidence}")
        if max_tool_calls < 0:
            raise ValueError(f"max_tool_calls must be >= 0, got {max_tool_calls}")
        if max_workflows < 1 or max_chain < 1:
            raise ValueError("max_workflows and max_chain must be >= 1")
        self._recorder = recorder
        self.low_confidence = low_confidence
        self.max_tool_calls = max_tool_calls
        self.max_workflows = max_workflows
        self.max_chain = max_chain
        self._chains: OrderedDict[str, deque[DecisionRecord]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def recorder(self) -> Recorder:
        """The recorder decisions and anomalies are counted in."""
        return self._recorder if self._recorder is not None else current_telemetry().recorder

    def record(self, decision: DecisionRecord) -> tuple[Anomaly, ...]:
        """Count ``decision``, add it to its chain; count and return the anomalies it adds."""
        recorder = self.recorder
        recorder.decision(decision.agent_id, decision.decision_type, decision.confidence)
        with self._lock:
            chain = self._chain(decision.workflow_id)
            before = tuple(chain) if chain is not None else ()
            found = tuple(
                new_chain_anomalies(
                    before,
                    [decision],
                    low_confidence=self.low_confidence,
                    max_tool_calls=self.max_tool_calls,
                )
            )
            if chain is not None:
                chain.append(decision)
        for a in found:
            recorder.anomaly(a.agent, a.kind.value)
        return found

    def track_decision(
        self,
        agent_id: str,
        decision_type: str,
        chosen_option: str,
        confidence: float,
        *,
        options_considered: Iterable[str | Option] = (),
        reasoning: str = "",
        workflow_id: str | None = None,
        input_summary: str = "",
        timestamp: datetime | None = None,
    ) -> DecisionRecord:
        """Build a :class:`DecisionRecord` (now, in the current trace's workflow) and record it.

        Raises :class:`~sloguard.errors.InvalidRecord` naming every bad field (nothing recorded).
        """
        if workflow_id is None:
            trace = current_trace()
            workflow_id = trace.trace_id if trace is not None else None
        record = DecisionRecord(
            agent_id=agent_id,
            timestamp=timestamp if timestamp is not None else datetime.now(UTC),
            decision_type=decision_type,
            chosen_option=chosen_option,
            confidence=confidence,
            options_considered=tuple(
                Option(o) if isinstance(o, str) else o for o in options_considered
            ),
            reasoning=reasoning,
            workflow_id=workflow_id,
            input_summary=input_summary,
        )
        self.record(record)
        return record

    def get_decision_chain(self, workflow_id: str) -> tuple[DecisionRecord, ...]:
        """Return the kept decisions of ``workflow_id`` by time (empty when unknown)."""
        with self._lock:
            chain = tuple(self._chains.get(workflow_id, ()))
        return tuple(sorted(chain, key=lambda r: r.timestamp))

    def find_anomalies(self, workflow_id: str) -> tuple[Anomaly, ...]:
        """Return every anomaly of the kept chain of ``workflow_id`` (counts nothing)."""
        return find_anomalies(
            self.get_decision_chain(workflow_id),
            low_confidence=self.low_confidence,
            max_tool_calls=self.max_tool_calls,
        )

    def _chain(self, workflow_id: str | None) -> deque[DecisionRecord] | None:
        if workflow_id is None:
            return None
        chain = self._chains.get(workflow_id)
        if chain is None:
            chain = self._chains[workflow_id] = deque(maxlen=self.max_chain)
            while len(self._chains) > self.max_workflows:
                self._chains.popitem(last=False)
        else:
            self._chains.move_to_end(workflow_id)
        return chain
