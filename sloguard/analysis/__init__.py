"""Debugging tools over traces (seed 000): decisions, anomalies, replay, comparison, views.

Everything here is pure: traces and decision records in, values and text out; no I/O, no
clock. Storage, HTTP API and CLI (``sloguard trace …``) build on these functions.

Example::

    from sloguard.analysis import compare, most_similar_successful, sequence_diagram, text_tree

    print(text_tree(failed))
    baseline = most_similar_successful(failed, recent_traces)
    if baseline is not None:
        print(baseline.comparison.first_divergence)
    print(sequence_diagram(failed))
"""

from __future__ import annotations

from sloguard.analysis.anomalies import (
    Anomaly,
    AnomalyKind,
    handoff_loops,
    runaway_tools,
    trace_anomalies,
)
from sloguard.analysis.calltree import CallTree, DebugStep, DebugTrace, Node, call_tree
from sloguard.analysis.compare import (
    Baseline,
    Difference,
    DivergenceKind,
    RunComparison,
    compare,
    most_similar_successful,
    similarity,
    succeeded,
)
from sloguard.analysis.decisionrecord import DecisionRecord, DecisionType, Option, decision_chain
from sloguard.analysis.decisions import find_anomalies
from sloguard.analysis.replay import Replay, ReplayEntry, replay
from sloguard.analysis.timeline import Event, EventType, timeline
from sloguard.analysis.views.mermaid import mermaid_text, sequence_diagram
from sloguard.analysis.views.sequence import Sequence, sequence
from sloguard.analysis.views.svg import sequence_svg
from sloguard.analysis.views.tree import text_tree

__all__ = [
    "Anomaly",
    "AnomalyKind",
    "Baseline",
    "CallTree",
    "DebugStep",
    "DebugTrace",
    "DecisionRecord",
    "DecisionType",
    "Difference",
    "DivergenceKind",
    "Event",
    "EventType",
    "Node",
    "Option",
    "Replay",
    "ReplayEntry",
    "RunComparison",
    "Sequence",
    "call_tree",
    "compare",
    "decision_chain",
    "find_anomalies",
    "handoff_loops",
    "mermaid_text",
    "most_similar_successful",
    "replay",
    "runaway_tools",
    "sequence",
    "sequence_diagram",
    "sequence_svg",
    "similarity",
    "succeeded",
    "text_tree",
    "timeline",
    "trace_anomalies",
]
