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

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sloguard.analysis.anomalies import MAX_TOOL_CALLS, Anomaly, AnomalyKind
from sloguard.errors import InvalidRecord

#: Default threshold of :func:`find_anomalies` (the seed's 0.3).
LOW_CONFIDENCE = 0.3


class DecisionType(StrEnum):
    """The seed's decision types; other strings are accepted too."""

    ROUTING = "routing"
    TOOL_SELECTION = "tool_selection"
    HANDOFF = "handoff"
    RESPONSE = "response"


@dataclass(frozen=True, slots=True)
class Option:
    """One option an agent considered, with its score when the agent gave one."""

    name: str
    score: float | None = None


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """One decision of an agent (seed 000's ``DecisionRecord``, frozen and validated).

    ``timestamp`` must be timezone-aware (chains from several hosts are ordered by it);
    ``confidence`` is in [0, 1]. Bad values raise :class:`~sloguard.errors.InvalidRecord`
    naming every problem.

    Example::

        DecisionRecord("supervisor", now, "routing", "billing-agent", 0.82,
                       options_considered=(Option("billing-agent", 0.82), Option("shipping-agent")),
                       reasoning="refund requested", workflow_id="wf-001")
    """

    agent_id: str
    timestamp: datetime
    decision_type: str
    chosen_option: str
    confidence: float
    options_considered: tuple[Option, ...] = ()
    reasoning: str = ""
    workflow_id: str | None = None
    input_summary: str = ""

    def __post_init__(self) -> None:
        problems = []
        for name in ("agent_id", "decision_type", "chosen_option"):
            v = getattr(self, name)
            if not isinstance(v, str) or not v:
                problems.append(f"{name}: must be a non-empty string, got {v!r}")
        if not isinstance(self.timestamp, datetime) or self.timestamp.tzinfo is None:
            problems.append(f"timestamp: must be a timezone-aware datetime, got {self.timestamp!r}")
        c = self.confidence
        if (
            isinstance(c, bool)
            or not isinstance(c, int | float)
            or not math.isfinite(c)
            or not 0 <= c <= 1
        ):
            problems.append(f"confidence: must be a number in [0, 1], got {c!r}")
        opts = self.options_considered
        if not isinstance(opts, tuple | list) or not all(isinstance(o, Option) for o in opts):
            problems.append("options_considered: must be Option values (see from_dict)")
        if problems:
            raise InvalidRecord("invalid decision record: " + "; ".join(problems))
        object.__setattr__(self, "options_considered", tuple(self.options_considered))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DecisionRecord:
        """Build a record from the seed's JSON shape, naming every problem at once.

        ``timestamp`` may be an ISO 8601 string; options may be names or
        ``{"name"|"option": …, "score"|"confidence": …}`` objects; unknown keys are refused.
        """
        d = dict(data)
        problems: list[str] = []
        missing = sorted(_REQUIRED - set(d))
        if missing:
            problems.append(f"missing {', '.join(missing)}")
        unknown = sorted(str(k) for k in set(d) - _FIELDS)
        if unknown:
            problems.append(f"unknown keys {', '.join(unknown)}")
        ts = d.get("timestamp")
        if isinstance(ts, str):
            try:
                d["timestamp"] = datetime.fromisoformat(ts)
            except ValueError:
                problems.append(f"timestamp: not ISO 8601: {ts!r}")
        opts: list[Option] = []
        raw_options = d.get("options_considered") or ()
        if isinstance(raw_options, str | Mapping):
            raw_options = (raw_options,) if isinstance(raw_options, str) else ()
            problems.append("options_considered: must be a list")
        for i, o in enumerate(raw_options):
            option = _option(o)
            if isinstance(option, str):
                problems.append(f"options_considered[{i}]: {option}")
            else:
                opts.append(option)
        if problems:
            raise InvalidRecord("invalid decision record: " + "; ".join(problems))
        d["options_considered"] = tuple(opts)
        return cls(**d)

    def as_dict(self) -> dict[str, Any]:
        """Return the seed's JSON shape (timestamp in ISO 8601)."""
        return {
            "agent_id": self.agent_id,
            "timestamp": self.timestamp.isoformat(),
            "decision_type": self.decision_type,
            "chosen_option": self.chosen_option,
            "confidence": self.confidence,
            "options_considered": [
                {"name": o.name, "score": o.score} for o in self.options_considered
            ],
            "reasoning": self.reasoning,
            "workflow_id": self.workflow_id,
            "input_summary": self.input_summary,
        }


def _option(o: Any) -> Option | str:
    """Return the option, or what is wrong with it."""
    if isinstance(o, str):
        return Option(o)
    name = o.get("name", o.get("option")) if isinstance(o, Mapping) else None
    if not isinstance(name, str):
        return f"must be a name or an object with a name, got {o!r}"
    score = o.get("score", o.get("confidence"))
    if score is None:
        return Option(name)
    if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
        return f"score: must be a number, got {score!r}"
    return Option(name, float(score))


_REQUIRED = frozenset({"agent_id", "timestamp", "decision_type", "chosen_option", "confidence"})
_FIELDS = _REQUIRED | {"options_considered", "reasoning", "workflow_id", "input_summary"}


def decision_chain(
    records: Iterable[DecisionRecord], workflow_id: str
) -> tuple[DecisionRecord, ...]:
    """Return the decisions of ``workflow_id`` by time (records with equal times keep order)."""
    return tuple(sorted((r for r in records if r.workflow_id == workflow_id), key=_when))


def _when(r: DecisionRecord) -> datetime:
    return r.timestamp


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
    ordered = sorted(chain, key=_when)
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
