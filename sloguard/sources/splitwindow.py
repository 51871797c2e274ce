"""Long windows read from the recorded rates in hour-aligned pieces, so that most of a 30-day
window is read from Prometheus once an hour instead of once per evaluation.

A recorded window ``(at - W, at]`` is the sum of the records in it (each record holds the events
of its 5 minutes), so it splits into adjacent pieces whose counts add up exactly, each read
with :func:`~sloguard.slo.promql.recorded_window_query` evaluated at the piece's end:

- **head** ``(at - W, h1]``: ``h1`` is the first whole hour more than
  :data:`~sloguard.slo.promql.COVERAGE_SLACK` after the window's start (so the head also carries
  the check that the records reach back to the start); at most 70 minutes of records;
- **middle** ``(h1, h2]``: whole hours only, the same for a whole hour of evaluations, so its
  answer is kept; the next hour's is derived from it, minus the hour it lost and plus the hour
  it gained (two one-hour reads, the gained one shared by all the SLO's windows), and read
  whole again only every 12 to 35 hours: the bulk of a 30-day window is read once a day or so,
  and no cycle reads the 30 days of every SLO at once;
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
import zlib
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from sloguard.durations import HOUR
from sloguard.slo.budget import Counts
from sloguard.slo.promql import COVERAGE_SLACK
from sloguard.slo.spec import SLO, InstanceLabels
from sloguard.sources.base import WindowCounts

__all__ = ["SETTLED", "Piece", "PieceReads", "add_counts", "phase", "pieces"]

HOUR_MS = 3_600_000
#: The shortest tail: a kept middle ends at least this long before the evaluation time.
SETTLED = HOUR - COVERAGE_SLACK
#: A middle is derived from the one before at most about this many times in a row (12 to 35,
#: by SLO and window, so that the whole reads of many SLOs do not fall in one cycle), then
#: read whole again: float error and instances gone from it stay bounded.
REREAD_AFTER = 12
#: Relative size of a negative count left by a subtraction still taken for float noise.
NOISE = 1e-9
_SLACK_MS = round(COVERAGE_SLACK * 1000)
_SETTLED_MS = round(SETTLED * 1000)


@dataclass(frozen=True, slots=True)
class Piece:
    """Records in ``(start, end]`` (milliseconds): a window's head, middle or tail, or the
    hours a middle gained or lost since the last one (``edge``)."""

    start: int
    end: int
    kind: Literal["head", "middle", "tail", "edge"]

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


def phase(name: str) -> int:
    """Where an SLO's hours start (ms past the clock's hour, whole minutes, from its name):
    SLOs move their middles on at different minutes, not all in one cycle."""
    return zlib.crc32(name.encode()) % 60 * 60_000


def _floor(t: int, offset: int) -> int:
    return (t - offset) // HOUR_MS * HOUR_MS + offset


def pieces(window: float, at: float, offset: int = 0) -> tuple[Piece, ...]:
    """``(at - window, at]`` as head[, middle], tail (see the module docstring), or whole;
    the hours start ``offset`` ms past the clock's (:func:`phase`)."""
    end = round(at * 1000)
    start = end - round(window * 1000)
    h1 = -_floor(-(start + _SLACK_MS + 1), -offset)  # ceiling: a head longer than the slack
    h2 = _floor(end - _SETTLED_MS, offset)
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
        self._depth: dict[tuple[str, Piece], int] = {}  # middles: derivations in a row
        self._now: int | None = None

    def __len__(self) -> int:
        return len(self._reads)

    async def window(
        self, slo: SLO, window: float, at: float, read: ReadPiece
    ) -> tuple[WindowCounts, bool]:
        """The window's counts, and whether its records reach back to its start."""
        parts = pieces(window, at, phase(slo.name))
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
            derived = self._derive(slo, piece, read) if piece.kind == "middle" else None
            found = asyncio.ensure_future(derived if derived is not None else read(slo, piece))
            self._reads[key] = found
            found.add_done_callback(lambda done: self._forget_failed(key, done))
        return await asyncio.shield(found)

    def _derive(
        self, slo: SLO, piece: Piece, read: ReadPiece
    ) -> Coroutine[Any, Any, tuple[WindowCounts, bool]] | None:
        """Computing a middle from a kept one of the same SLO it overlaps (the previous hour's):
        minus the hours it lost, plus those it gained; None when there is none to start from."""
        for (name, old), kept in self._reads.items():
            if (
                name != slo.name
                or old.kind != "middle"
                or not kept.done()
                or kept.cancelled()
                or kept.exception() is not None
                or not old.start <= piece.start < old.end <= piece.end
                or piece.start - old.start > 2 * HOUR_MS
                or piece.end - old.end > 2 * HOUR_MS
            ):
                continue
            depth = self._depth.get((name, old), 0) + 1
            spread = zlib.crc32(f"{name}/{piece.length}".encode()) % 24
            if depth > REREAD_AFTER + spread:
                return None
            return self._derived(slo, piece, (old, kept.result()[0]), depth, read)
        return None

    async def _derived(
        self,
        slo: SLO,
        piece: Piece,
        old: tuple[Piece, WindowCounts],
        depth: int,
        read: ReadPiece,
    ) -> tuple[WindowCounts, bool]:
        before, counts = old
        lost = Piece(before.start, piece.start, "edge") if piece.start > before.start else None
        gained = Piece(before.end, piece.end, "edge") if piece.end > before.end else None
        out = dict(counts)
        for edge, sign in ((lost, -1.0), (gained, 1.0)):
            if edge is None:
                continue
            for key, c in (await self._read(slo, edge, read))[0].items():
                seen = out.get(key, Counts(0.0, 0.0))
                out[key] = Counts(seen.bad + sign * c.bad, seen.total + sign * c.total)
        for key, c in list(out.items()):
            tolerance = NOISE * max(1.0, counts[key].total if key in counts else c.total)
            if c.bad < -tolerance or c.total < -tolerance or c.bad > c.total + tolerance:
                return await read(slo, piece)  # the records changed under the kept middle
            if c.total <= tolerance:
                del out[key]  # no events left in the middle (as a whole read leaves it out)
            elif c.bad < 0 or c.bad > c.total:
                out[key] = Counts(min(max(c.bad, 0.0), c.total), c.total)
        self._depth[(slo.name, piece)] = depth
        return out, True

    def _forget_failed(
        self, key: tuple[str, Piece], done: asyncio.Future[tuple[WindowCounts, bool]]
    ) -> None:
        if (done.cancelled() or done.exception() is not None) and self._reads.get(key) is done:
            del self._reads[key]

    def _sweep(self, now: int) -> None:
        """A new evaluation time: keep the middles that end the hour before it (and the one
        before, to derive the next from), and the reads still under way; heads, tails and edges
        served their evaluation time."""
        self._now = now
        for key, read in list(self._reads.items()):
            piece = key[1]
            settled = _floor(now - _SETTLED_MS, phase(key[0]))
            if read.done() and (piece.kind != "middle" or piece.end < settled - HOUR_MS):
                del self._reads[key]
                self._depth.pop(key, None)
