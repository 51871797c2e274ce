"""Decision records of agents (seed 000's ``DecisionRecord``): the frozen, validated model. Pure.

A record is one decision of one agent: what it chose among which options, how confident it was,
in which workflow. :func:`decision_chain` orders a workflow's records by time. The anomalies of a
chain are found by :mod:`sloguard.analysis.decisions`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sloguard.errors import InvalidRecord


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
    return tuple(sorted((r for r in records if r.workflow_id == workflow_id), key=when))


def when(r: DecisionRecord) -> datetime:
    """The sort key of a chain: the record's time."""
    return r.timestamp
