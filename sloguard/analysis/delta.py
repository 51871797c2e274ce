"""The anomalies a change adds: what to count when a trace or a decision chain grows.

Pure: values in, :class:`~sloguard.analysis.anomalies.Anomaly` values out. Counting
``agent_anomalies_total`` on every evaluation would count an anomaly again each time its trace
is posted again or its chain gets one more decision; these functions return only the anomalies
the change added, so each one is counted once:

- :func:`new_trace_anomalies` — the anomalies of a trace minus those of the version stored
  before under its id. A handoff loop is identified by its agents and steps; runaway tool calls
  by the agent invocation (more calls in the same invocation are the same anomaly).
- :func:`new_chain_anomalies` — the anomalies of a decision chain with new records that the
  chain did not have, and that include a new record. Runaway tool calls are identified by the
  first decision of the turn (a 22nd tool choice in a turn already over the limit adds
  nothing), the others by their decisions.
- :func:`unseen` — the records of a batch that are not already stored (a decision sent again
  is not new).

Example::

    for anomaly in new_chain_anomalies(stored_chain, fresh_records):
        recorder.anomaly(anomaly.agent, anomaly.kind.value)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence

from sloguard.analysis.anomalies import MAX_TOOL_CALLS, Anomaly, AnomalyKind, trace_anomalies
from sloguard.analysis.calltree import DebugTrace
from sloguard.analysis.decisionrecord import DecisionRecord
from sloguard.analysis.decisions import LOW_CONFIDENCE, find_anomalies


def _difference(
    after: Iterable[Anomaly], before: Iterable[Anomaly], identify: Callable[[Anomaly], Hashable]
) -> list[Anomaly]:
    seen = Counter(identify(a) for a in before)
    added: list[Anomaly] = []
    for a in after:
        key = identify(a)
        if seen[key]:
            seen[key] -= 1
        else:
            added.append(a)
    return added


def _trace_key(a: Anomaly) -> Hashable:
    steps = a.steps[:1] if a.kind is AnomalyKind.RUNAWAY_TOOL_CALLS else a.steps
    return (a.kind, a.agent, steps, a.path)


def _chain_key(a: Anomaly) -> Hashable:
    # the same record objects are evaluated before and after: their ids identify them
    decisions = a.decisions[:1] if a.kind is AnomalyKind.RUNAWAY_TOOL_CALLS else a.decisions
    return (a.kind, tuple(id(d) for d in decisions))


def new_trace_anomalies(
    trace: DebugTrace, before: DebugTrace | None, *, max_tool_calls: int = MAX_TOOL_CALLS
) -> list[Anomaly]:
    """Return the anomalies of ``trace`` that ``before`` (its earlier version) did not have."""
    old = trace_anomalies(before, max_tool_calls=max_tool_calls) if before is not None else ()
    return _difference(trace_anomalies(trace, max_tool_calls=max_tool_calls), old, _trace_key)


def new_chain_anomalies(
    chain: Sequence[DecisionRecord],
    new: Sequence[DecisionRecord],
    *,
    low_confidence: float = LOW_CONFIDENCE,
    max_tool_calls: int = MAX_TOOL_CALLS,
) -> list[Anomaly]:
    """Return the anomalies ``new`` records add to ``chain`` (each includes a new record)."""
    before = (
        find_anomalies(chain, low_confidence=low_confidence, max_tool_calls=max_tool_calls)
        if chain
        else ()
    )
    after = find_anomalies(
        [*chain, *new], low_confidence=low_confidence, max_tool_calls=max_tool_calls
    )
    marked = {id(r) for r in new}
    added = _difference(after, before, _chain_key)
    return [a for a in added if any(id(d) in marked for d in a.decisions)]


def unseen(
    stored: Iterable[DecisionRecord], batch: Sequence[DecisionRecord]
) -> list[DecisionRecord]:
    """Return the records of ``batch`` not equal to a ``stored`` one.

    Records are values: one with the same agent, time, choice, confidence … as a stored one is
    that decision sent again. Equal records within ``batch`` are distinct decisions.
    """
    known = set(stored)
    return [r for r in batch if r not in known]
