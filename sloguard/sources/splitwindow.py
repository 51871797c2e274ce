"""Long windows read from the recorded rates in hour-aligned pieces, so that most of a 30-day
window is read from Prometheus once an hour instead of once per evaluation.

A recorded window ``(at - W, at]`` is the sum of the records in it (each record holds the events
of its 5 minutes), so it splits into adjacent pieces whose counts add up exactly, each read
with :func:`~sloguard.slo.promql.recorded_window_query` evaluated at the piece's end:

- **head** ``(at - W, h1]``: ``h1`` is the first whole hour more than
  :data:`~sloguard.slo.promql.COVERAGE_SLACK` after the window's start (so the head also carries
  the check that the records reach back to the start); at most 70 minutes of records;
- **middle** ``(h1, h2]``: whole hours only, the same for a whole hour of evaluations, so its
  answer is kept (the bulk of the window, read once an hour);
- **tail** ``(h2, at]``: ``h2`` is the last whole hour at least :data:`SETTLED` (50 minutes)
  before ``at``, so the tail holds 50 to 110 minutes of records: a window of whole hours then
  changes its middle once an hour, when its head gives up a whole hour (at minute 50, the head
  keeping more than the 10-minute slack), rather than twice; and records younger than that,
  which may still be on their way (e.g. through remote write), never go into a kept middle.
  The tail is the same piece for every window of the SLO at ``at``.

Windows too short to hold a middle are read in one piece, as before. Times are whole
milliseconds (the precision of a sample's timestamp). :class:`PieceReads` shares the reads:
concurrent windows of one SLO await one query for their common tail; a failed read is not kept.

Example::

    pieces(86_400.0, at=1_700_003_000.0)   # head, middle, tail
    reads = PieceReads()
    counts, covered = await reads.window(slo, 86_400.0, at, read_piece)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from sloguard.durations import HOUR
from sloguard.slo.budget import Counts
from sloguard.slo.promql import COVERAGE_SLACK
from sloguard.slo.spec import SLO, InstanceLabels
from sloguard.sources.base import WindowCounts

__all__ = ["SETTLED", "Piece", "PieceReads", "add_counts", "pieces"]

HOUR_MS = 3_600_000
#: The shortest tail: a kept middle ends at least this long before the evaluation time.
SETTLED = HOUR - COVERAGE_SLACK
_SLACK_MS = round(COVERAGE_SLACK * 1000)
_SETTLED_MS = round(SETTLED * 1000)


@dataclass(frozen=True, slots=True)
class Piece:
    """Records in ``(start, end]`` (milliseconds), the window's head, middle or tail."""

    start: int
    end: int
    kind: Literal["head", "middle", "tail"]

    @property
    def head(self) -> bool:
        """Read with the coverage check."""
        return self.kind == "head"

    @property
    def length(self) -> float:
        """Seconds."""
        return (self.end - self.start) / 1000

    @property
    def at(self) -> float:
        """The evaluation time of its query, seconds."""
        return self.end / 1000


def pieces(window: float, at: float) -> tuple[Piece, ...]:
    """``(at - window, at]`` as head[, middle], tail (see the module docstring), or whole."""
    end = round(at * 1000)
    start = end - round(window * 1000)
    h1 = -(-(start + _SLACK_MS + 1) // HOUR_MS) * HOUR_MS  # ceiling: head longer than the slack
    h2 = (end - _SETTLED_MS) // HOUR_MS * HOUR_MS
    if h2 <= h1:
        return (Piece(start, end, "head"),)
    return Piece(start, h1, "head"), Piece(h1, h2, "middle"), Piece(h2, end, "tail")


def add_counts(parts: Iterable[WindowCounts]) -> dict[InstanceLabels, Counts]:
    """Per instance, the sum of the pieces' counts (an instance absent from a piece had none)."""
    out: dict[InstanceLabels, Counts] = {}
    for part in parts:
        for key, counts in part.items():
            seen = out.get(key)
            out[key] = (
                counts
                if seen is None
                else Counts(bad=seen.bad + counts.bad, total=seen.total + counts.total)
            )
    return out


ReadPiece = Callable[[SLO, Piece], Awaitable[tuple[WindowCounts, bool]]]


class PieceReads:
    """The pieces read lately, shared between windows and kept while asked for again."""

    def __init__(self) -> None:
        self._reads: dict[tuple[str, Piece], asyncio.Future[tuple[WindowCounts, bool]]] = {}
        self._now: int | None = None

    def __len__(self) -> int:
        return len(self._reads)

    async def window(
        self, slo: SLO, window: float, at: float, read: ReadPiece
    ) -> tuple[WindowCounts, bool]:
        """The window's counts, and whether its records reach back to its start."""
        parts = pieces(window, at)
        now = round(at * 1000)
        if now != self._now:
            self._sweep(now)
        answers = await asyncio.gather(*(self._read(slo, p, read) for p in parts))
        if not answers[0][1]:
            return {}, False
        if len(answers) == 1:
            return answers[0]
        return add_counts(a[0] for a in answers), True

    async def _read(self, slo: SLO, piece: Piece, read: ReadPiece) -> tuple[WindowCounts, bool]:
        key = (slo.name, piece)
        found = self._reads.get(key)
        if found is None:
            found = asyncio.ensure_future(read(slo, piece))
            self._reads[key] = found
            found.add_done_callback(lambda done: self._forget_failed(key, done))
        return await asyncio.shield(found)

    def _forget_failed(
        self, key: tuple[str, Piece], done: asyncio.Future[tuple[WindowCounts, bool]]
    ) -> None:
        if (done.cancelled() or done.exception() is not None) and self._reads.get(key) is done:
            del self._reads[key]

    def _sweep(self, now: int) -> None:
        """A new evaluation time: keep the middles that still end the hour before it, and the
        reads still under way; heads and tails served their evaluation time."""
        self._now = now
        for key, read in list(self._reads.items()):
            piece = key[1]
            settled = (now - _SETTLED_MS) // HOUR_MS * HOUR_MS
            if read.done() and (piece.kind != "middle" or piece.end != settled):
                del self._reads[key]
