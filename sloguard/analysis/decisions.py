"""Decision records of agents and the anomalies of a workflow's decision chain (seed 000).

Pure: records in, records and :class:`~sloguard.analysis.anomalies.Anomaly` values out; storing and
querying records is the caller's job. Unlike the seed's ``find_anomalies``, which compared
``chain[i-2]`` of the whole chain (so any decision in between, or a supervisor's normal second
delegation, changed the answer), loops are found on the *walk* of handoff decisions:

- **low_confidence** — a decision whose confidence is below the threshold (0.3 by default).
- **handoff_loop** — following handoffs (each decided by the agent the previous one handed to)
  reaches an agent already on the walk: ``A → B → A`` or ``A → B → C → A``. A handoff decided
  by an agent that was not handed to (a supervisor delegating again after a worker returned)
  starts a new walk. After a loop closes the walk continues from the repeated agent, so going
  round again is reported again (each lap is a separate wasted round).
- **runaway_tool_calls** — more than ``max_tool_calls`` ``tool_selection`` decisions in one
  *turn* of an agent: a run of consecutive decisions by that agent. Concurrent agents whose
  decisions interleave split turns, so this undercounts rather than overcounts; the trace check
  :func:`~sloguard.analysis.anomalies.runaway_tools` is exact.

Chains of several workflows are split by ``workflow_id`` before walking.
"""

from __future__ import annotations

from collections.abc import Iterable

from sloguard.analysis.anomalies import MAX_TOOL_CALLS, Anomaly, AnomalyKind
from sloguard.analysis.decisionrecord import DecisionRecord, DecisionType, when

#: Default threshold of :func:`find_anomalies` (the seed's 0.3).
LOW_CONFIDENCE = 0.3


def find_anomalies(
    chain: Iterable[DecisionRecord],
    *,
    low_confidence: float = LOW_CONFIDENCE,
    max_tool_calls: int = MAX_TOOL_CALLS,
) -> tuple[Anomaly, ...]:
    """Return the anomalies of a decision chain (see the module docstring), by time."""
    if not 0 <= low_confidence <= 1:
        raise ValueError(f"low_confidence must be in [0, 1], got {low_confidence}")
    if max_tool_calls < 0:
        raise ValueError(f"max_tool_calls must be >= 0, got {max_tool_calls}")
    ordered = sorted(chain, key=when)
    found: list[tuple[int, Anomaly]] = []
    position = {id(r): i for i, r in enumerate(ordered)}
    for r in ordered:
        if r.confidence < low_confidence:
            found.append(
                (
                    position[id(r)],
                    Anomaly(
                        AnomalyKind.LOW_CONFIDENCE,
                        agent=r.agent_id,
                        message=(
                            f"{r.agent_id}'s {r.decision_type} decision ({r.chosen_option}) "
                            f"has confidence {r.confidence:.2f} < {low_confidence:g}"
                        ),
                        decisions=(r,),
                    ),
                )
            )
    by_workflow: dict[str | None, list[DecisionRecord]] = {}
    for r in ordered:
        by_workflow.setdefault(r.workflow_id, []).append(r)
    for records in by_workflow.values():
        for a in _loops(records) + _runaway(records, max_tool_calls):
            found.append((position[id(a.decisions[-1])], a))
    found.sort(key=lambda pa: pa[0])  # stable: at one decision, low confidence comes first
    return tuple(a for _, a in found)


def _loops(records: list[DecisionRecord]) -> list[Anomaly]:
    found: list[Anomaly] = []
    walk: list[tuple[str, DecisionRecord | None]] = []  # agents visited, with the handoff to it
    for r in records:
        if r.decision_type != DecisionType.HANDOFF:
            continue
        if not walk or walk[-1][0] != r.agent_id:
            walk = [(r.agent_id, None)]
        names = [a for a, _ in walk]
        if r.chosen_option in names:
            at = len(names) - 1 - names[::-1].index(r.chosen_option)
            lap = walk[at:]
            decisions = (*(d for _, d in lap[1:] if d is not None), r)
            path = (*(a for a, _ in lap), r.chosen_option)
            found.append(
                Anomaly(
                    AnomalyKind.HANDOFF_LOOP,
                    agent=r.agent_id,
                    message=f"handoff loop: {' → '.join(path)}",
                    decisions=decisions,
                    path=path,
                )
            )
            walk = walk[: at + 1]
        else:
            walk.append((r.chosen_option, r))
    return found


def _runaway(records: list[DecisionRecord], limit: int) -> list[Anomaly]:
    found: list[Anomaly] = []
    turn: list[DecisionRecord] = []

    def close() -> None:
        tools = [d for d in turn if d.decision_type == DecisionType.TOOL_SELECTION]
        if len(tools) > limit:
            agent = tools[0].agent_id
            found.append(
                Anomaly(
                    AnomalyKind.RUNAWAY_TOOL_CALLS,
                    agent=agent,
                    message=f"{agent} chose {len(tools)} tool calls in one turn (limit {limit})",
                    decisions=tuple(tools),
                )
            )

    for r in records:
        if turn and turn[-1].agent_id != r.agent_id:
            close()
            turn = []
        turn.append(r)
    close()
    return found
