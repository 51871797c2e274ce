"""Compare two runs, and find the successful run most like a failed one (seed 000).

Pure: traces in, values out. Runs are compared on their timelines reduced to *signatures*
(event type, agent, tool or handoff target; no times, ids or messages). The seed compared the
timelines index by index, so one extra tool call early on made every later event a
"difference". Here the signatures are aligned with :class:`difflib.SequenceMatcher` (longest
matching blocks, no junk heuristic): matching blocks are the same behaviour, and each
non-matching block is reported. Inside a block, events are aligned again on their kind alone
(handoff, agent start or end, tool start or end), so a run routed to another agent pairs event
for event with the original, and the pairs are classified:

- ``event_type`` — different kinds of event (a handoff where the other run called a tool);
- ``agent_choice`` — a different agent handed to, invoked, or calling a tool;
- ``tool_choice`` — the same agent calling a different tool;
- ``outcome`` — the same agent or tool call completing in one run and failing in the other;
- ``only_in_a`` / ``only_in_b`` — events with no counterpart (a retry, a skipped step).

The similarity of two runs is the matcher's ratio (1.0: the same behaviour).

The work is bounded, whatever the runs (difflib's matcher is cubic on repetitive timelines: two
2,500-step chains took 20 s). The common beginning and end of two long timelines are matched in
linear time (but for a margin of ``MAX_ALIGNED // 10`` events next to the difference, which the
matcher sees); only the part between them is aligned by the matcher, at most
:data:`MAX_ALIGNED` events of each run. Past that the comparison is ``truncated``: the events
left are neither aligned nor reported, and count as unmatched in the similarity (a lower
bound). :func:`most_similar_successful` looks at the first ``max_baselines`` candidates
(:data:`MAX_BASELINES`) and skips one whose lengths alone show it cannot be more similar than
the best so far.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from enum import StrEnum
from itertools import islice
from typing import Any

from sloguard.analysis.calltree import DebugTrace, any_failed
from sloguard.analysis.timeline import Event, EventType, timeline

#: Events of each run aligned by the matcher between the common beginning and end.
MAX_ALIGNED = 500
#: Candidates :func:`most_similar_successful` considers.
MAX_BASELINES = 20

_Signature = tuple[str, str, str]
_Opcode = tuple[str, int, int, int, int]


class DivergenceKind(StrEnum):
    """How two aligned runs differ at one place."""

    EVENT_TYPE = "event_type"
    AGENT_CHOICE = "agent_choice"
    TOOL_CHOICE = "tool_choice"
    OUTCOME = "outcome"
    ONLY_IN_A = "only_in_a"
    ONLY_IN_B = "only_in_b"


_FAMILY = {
    EventType.HANDOFF: "handoff",
    EventType.AGENT_INVOKED: "agent_start",
    EventType.AGENT_COMPLETED: "agent_end",
    EventType.AGENT_FAILED: "agent_end",
    EventType.TOOL_CALLED: "tool_start",
    EventType.TOOL_RETURNED: "tool_end",
    EventType.TOOL_FAILED: "tool_end",
}


@dataclass(frozen=True, slots=True)
class Difference:
    """One difference: positions in each timeline (insertion point when absent) and events."""

    kind: DivergenceKind
    index_a: int
    index_b: int
    event_a: Event | None
    event_b: Event | None

    def as_dict(self) -> dict[str, Any]:
        """Return the seed's difference entry (``run_a``, ``run_b``, ``divergence``)."""
        return {
            "divergence": self.kind.value,
            "index_a": self.index_a,
            "index_b": self.index_b,
            "run_a": None if self.event_a is None else self.event_a.as_dict(),
            "run_b": None if self.event_b is None else self.event_b.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class RunComparison:
    """Result of :func:`compare`."""

    workflow_a: str
    workflow_b: str
    similarity: float
    differences: tuple[Difference, ...]
    truncated: bool = False
    """True when more than :data:`MAX_ALIGNED` events of a run differed: the rest is not
    reported (see the module docstring)."""

    @property
    def first_divergence(self) -> Difference | None:
        """The earliest difference, if the runs differ."""
        return self.differences[0] if self.differences else None

    @property
    def divergence_count(self) -> int:
        """Number of differences."""
        return len(self.differences)

    def as_dict(self) -> dict[str, Any]:
        """Return the seed's result shape plus the run ids and the similarity."""
        first = self.first_divergence
        return {
            "workflow_a": self.workflow_a,
            "workflow_b": self.workflow_b,
            "similarity": self.similarity,
            "divergence_count": self.divergence_count,
            "first_divergence": None if first is None else first.as_dict(),
            "all_differences": [d.as_dict() for d in self.differences],
            "truncated": self.truncated,
        }


def _classify(a: Event, b: Event) -> DivergenceKind:
    family = _FAMILY[a.type]
    if family != _FAMILY[b.type]:
        return DivergenceKind.EVENT_TYPE
    if a.agent != b.agent or family == "handoff":
        return DivergenceKind.AGENT_CHOICE
    if a.target != b.target:
        return DivergenceKind.TOOL_CHOICE
    return DivergenceKind.OUTCOME


@dataclass(frozen=True, slots=True)
class Alignment:
    """How two sequences of signatures line up: the non-equal opcodes, the number of matched
    items, whether the middle was cut at ``limit`` items per side, and the items aligned."""

    opcodes: tuple[_Opcode, ...]
    matches: int
    truncated: bool
    aligned: int
    """Items handed to the matcher, both sides (the bounded work)."""

    def ratio(self, total: int) -> float:
        """Return the similarity for sequences of ``total`` items in all (1.0 when empty)."""
        return 2.0 * self.matches / total if total else 1.0


def align(a: Sequence[_Signature], b: Sequence[_Signature], limit: int = MAX_ALIGNED) -> Alignment:
    """Align ``a`` and ``b``: common beginning and end in linear time, at most ``limit`` items of
    each side between them with :class:`difflib.SequenceMatcher`."""
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    n = min(len(a), len(b))
    head = tail = 0
    if max(len(a), len(b)) > limit:  # else the matcher sees it all, as it always did
        while head < n and a[head] == b[head]:
            head += 1
        while tail < n - head and a[-1 - tail] == b[-1 - tail]:
            tail += 1
        # leave the matcher a few common events on each side, so that it still prefers the
        # longest match there (a retry is the extra call, not the first one)
        margin = limit // 10
        head, tail = max(0, head - margin), max(0, tail - margin)
    end_a, end_b = len(a) - tail, len(b) - tail
    cut_a, cut_b = min(end_a, head + limit), min(end_b, head + limit)
    m = SequenceMatcher(None, a[head:cut_a], b[head:cut_b], autojunk=False)
    ops = tuple(
        (op, i1 + head, i2 + head, j1 + head, j2 + head)
        for op, i1, i2, j1, j2 in m.get_opcodes()
        if op != "equal"
    )
    matched = sum(size for _, _, size in m.get_matching_blocks())
    return Alignment(
        ops, head + tail + matched, cut_a < end_a or cut_b < end_b, cut_a + cut_b - 2 * head
    )


def _signatures(events: tuple[Event, ...]) -> list[_Signature]:
    return [e.signature for e in events]


def compare(a: DebugTrace, b: DebugTrace) -> RunComparison:
    """Align the timelines of two runs and return every difference, earliest first.

    Example::

        diff = compare(good_run, failed_run)
        diff.first_divergence.kind   # DivergenceKind.AGENT_CHOICE: routed elsewhere
    """
    ea, eb = timeline(a), timeline(b)
    return _compared(a.trace_id, b.trace_id, ea, eb, align(_signatures(ea), _signatures(eb)))


def _compared(
    id_a: str, id_b: str, ea: tuple[Event, ...], eb: tuple[Event, ...], found: Alignment
) -> RunComparison:
    out: list[Difference] = []
    for _, i1, i2, j1, j2 in found.opcodes:
        out.extend(_block(ea, eb, i1, i2, j1, j2))
    return RunComparison(
        id_a, id_b, found.ratio(len(ea) + len(eb)), tuple(out), truncated=found.truncated
    )


def _block(
    ea: tuple[Event, ...], eb: tuple[Event, ...], i1: int, i2: int, j1: int, j2: int
) -> list[Difference]:
    """Differences of one non-matching block, realigned on the kind of event alone."""
    fa = [_FAMILY[e.type] for e in ea[i1:i2]]
    fb = [_FAMILY[e.type] for e in eb[j1:j2]]
    out: list[Difference] = []
    for op, x1, x2, y1, y2 in SequenceMatcher(None, fa, fb, autojunk=False).get_opcodes():
        paired = min(x2 - x1, y2 - y1) if op in ("equal", "replace") else 0
        for k in range(paired):
            i, j = i1 + x1 + k, j1 + y1 + k
            out.append(Difference(_classify(ea[i], eb[j]), i, j, ea[i], eb[j]))
        for x in range(x1 + paired, x2):
            out.append(
                Difference(DivergenceKind.ONLY_IN_A, i1 + x, j1 + y1 + paired, ea[i1 + x], None)
            )
        for y in range(y1 + paired, y2):
            out.append(
                Difference(DivergenceKind.ONLY_IN_B, i1 + x1 + paired, j1 + y, None, eb[j1 + y])
            )
    return out


def similarity(a: DebugTrace, b: DebugTrace) -> float:
    """Return how alike two runs behaved, from 0.0 to 1.0 (see the module docstring)."""
    sa, sb = _signatures(timeline(a)), _signatures(timeline(b))
    return align(sa, sb).ratio(len(sa) + len(sb))


@dataclass(frozen=True, slots=True)
class Baseline:
    """The successful run chosen to compare a failed run with, and that comparison."""

    trace: DebugTrace
    similarity: float
    comparison: RunComparison
    """``compare(baseline, failed)``: run A is the good one."""


def succeeded(trace: DebugTrace) -> bool:
    """Default success test: no step failed, callee traces included."""
    return not any_failed(trace)


def most_similar_successful(
    failed: DebugTrace,
    candidates: Iterable[DebugTrace],
    *,
    is_success: Callable[[DebugTrace], bool] = succeeded,
    max_baselines: int = MAX_BASELINES,
) -> Baseline | None:
    """Return the successful candidate most similar to ``failed``, compared with it.

    Only the first ``max_baselines`` candidates are considered. Candidates that are ``failed``
    itself (same object or trace id) or not successful are skipped; among equally similar ones
    the first wins. ``None`` when no candidate qualifies.
    """
    if max_baselines < 1:
        raise ValueError(f"max_baselines must be >= 1, got {max_baselines}")
    target = timeline(failed)
    tb = _signatures(target)
    best: tuple[float, DebugTrace, tuple[Event, ...], Alignment] | None = None
    for c in islice(candidates, max_baselines):
        if c is failed or c.trace_id == failed.trace_id or not is_success(c):
            continue
        events = timeline(c)
        total = len(events) + len(tb)
        if best is not None and total and 2.0 * min(len(events), len(tb)) / total <= best[0]:
            continue  # even matching every event of the shorter run would not beat the best
        found = align(_signatures(events), tb)
        score = found.ratio(total)
        if best is None or score > best[0]:
            best = (score, c, events, found)
    if best is None:
        return None
    score, base, events, found = best
    return Baseline(base, score, _compared(base.trace_id, failed.trace_id, events, target, found))
