"""Long recorded windows in hour pieces (sloguard.sources.splitwindow): the split itself, and the
shared reads. The pieces' queries against a real Prometheus are in test_recorded_windows.py."""

from __future__ import annotations

import asyncio
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sloguard.durations import DAY, HOUR
from sloguard.slo.budget import Counts
from sloguard.slo.promql import COVERAGE_SLACK
from sloguard.slo.spec import SLO
from sloguard.sources.base import WindowCounts
from sloguard.sources.splitwindow import (
    SETTLED,
    Piece,
    PieceReads,
    add_counts,
    phase,
    pieces,
)
from tests.support.slos import make_slo

H = 3_600_000
A = (("agent_name", "a"),)
B = (("agent_name", "b"),)
SLO_A = make_slo("a", group_by=("agent_name",))
#: An hour of SLO_A's (its hours start at its phase past the clock's).
START = 1_700_000_000 // 3600 * 3600 + phase("a") / 1000


@given(
    window=st.floats(min_value=COVERAGE_SLACK + 0.01, max_value=40 * DAY),
    at=st.floats(min_value=1e9, max_value=2e9),
    minutes=st.integers(min_value=0, max_value=59),
)
def test_the_pieces_cover_the_window_exactly_and_the_middle_is_whole_settled_hours(
    window: float, at: float, minutes: int
) -> None:
    offset = minutes * 60_000
    parts = pieces(window, at, offset)
    end = round(at * 1000)
    assert parts[0].start == end - round(window * 1000) and parts[-1].end == end
    assert all(a.end == b.start for a, b in pairwise(parts))
    assert parts[0].kind == "head" and parts[0].length > COVERAGE_SLACK
    if len(parts) == 1:  # no whole hour fits between the head's slack and the settled tail
        assert window < COVERAGE_SLACK + SETTLED + 2 * HOUR
        return
    head, middle, tail = parts
    assert (middle.kind, tail.kind) == ("middle", "tail")
    assert (middle.start - offset) % H == 0 and (middle.end - offset) % H == 0
    assert middle.end > middle.start
    assert head.length <= COVERAGE_SLACK + HOUR
    assert SETTLED <= tail.length < SETTLED + HOUR
    assert middle.end == (end - round(SETTLED * 1000) - offset) // H * H + offset


def test_a_day_at_half_past_is_half_an_hour_22_hours_and_an_hour_and_a_half() -> None:
    at = START + 1800.0
    head, middle, tail = pieces(DAY, at, phase("a"))
    assert (head.length, middle.length, tail.length) == (HOUR / 2, 22 * HOUR, 1.5 * HOUR)
    assert tail.at == at and middle.at == at - 1.5 * HOUR
    head, middle, tail = pieces(DAY, at - 1800, phase("a"))  # on the hour
    assert (head.length, middle.length, tail.length) == (HOUR, 22 * HOUR, HOUR)
    head, middle, tail = pieces(DAY, at + 1200, phase("a"))  # 50 past: the middle moves on
    assert (head.length, middle.length, tail.length) == (HOUR + 600, 22 * HOUR, HOUR - 600)


def test_counts_of_the_pieces_add_up_per_instance() -> None:
    got = add_counts(
        [{A: Counts(bad=1, total=10)}, {A: Counts(bad=2, total=5), B: Counts(bad=0, total=3)}, {}]
    )
    assert got == {A: Counts(bad=3, total=15), B: Counts(bad=0, total=3)}


def events(start: int, end: int) -> float:
    """Events of the 5-minute records in ``(start, end]`` (ms): a different number each."""
    first, last = start // 300_000 + 1, end // 300_000
    return float(sum(k % 7 + 1 for k in range(first, last + 1)))


class Reader:
    """A stand-in for Prometheus (these tests are about sharing and sums, not PromQL): each
    piece's counts are those of :func:`events`, one in ten bad; ``fail`` pieces raise once."""

    def __init__(self, covered: bool = True) -> None:
        self.asked: list[Piece] = []
        self.covered = covered
        self.fail: set[str] = set()

    async def __call__(self, slo: SLO, piece: Piece) -> tuple[WindowCounts, bool]:
        self.asked.append(piece)
        await asyncio.sleep(0)
        if piece.kind in self.fail:
            self.fail.discard(piece.kind)
            raise RuntimeError(f"{piece.kind} failed")
        total = events(piece.start, piece.end)
        return {A: Counts(bad=total / 10, total=total)}, self.covered or not piece.head


async def test_windows_at_one_time_share_the_tail_and_a_middle_is_read_once_an_hour() -> None:
    reads, read = PieceReads(), Reader()
    at = START + 1800.0
    got = await asyncio.gather(*(reads.window(SLO_A, w, at, read) for w in (DAY, 3 * DAY)))
    end = round(at * 1000)
    assert [g[0][A].total for g in got] == [events(end - 24 * H, end), events(end - 72 * H, end)]
    assert all(g[1] for g in got)
    assert [p.kind for p in read.asked].count("tail") == 1 and len(read.asked) == 5
    for step in (150, 300, 1199):  # later, before 50 past: heads and the tail again
        read.asked.clear()
        (counts, _), _ = await asyncio.gather(
            reads.window(SLO_A, DAY, at + step, read), reads.window(SLO_A, 3 * DAY, at + step, read)
        )
        end = round((at + step) * 1000)
        assert counts[A].total == pytest.approx(events(end - 86_400_000, end), rel=1e-12)
        assert sorted(p.kind for p in read.asked) == ["head", "head", "tail"]
    read.asked.clear()
    got = await asyncio.gather(*(reads.window(SLO_A, w, at + 1200, read) for w in (DAY, 3 * DAY)))
    # the new middles are derived: each loses its first hour, both gain the same last hour
    kinds = sorted(p.kind for p in read.asked)
    assert kinds == ["edge", "edge", "edge", "head", "head", "tail"]
    end = round((at + 1200) * 1000)
    for (counts, _), days in zip(got, (1, 3), strict=True):
        assert counts[A].total == pytest.approx(events(end - days * 24 * H, end), rel=1e-12)
        assert counts[A].bad == pytest.approx(counts[A].total / 10, rel=1e-12)


async def test_a_failed_piece_is_not_kept_and_uncovered_records_give_nothing() -> None:
    reads, read = PieceReads(), Reader()
    at = 1_700_000_000.0
    read.fail.add("middle")
    with pytest.raises(RuntimeError, match="middle failed"):
        await reads.window(SLO_A, DAY, at, read)
    counts, covered = await reads.window(SLO_A, DAY, at, read)  # asked again: now it answers
    end = round(at * 1000)
    assert covered and counts[A].total == pytest.approx(events(end - 24 * H, end))
    assert [p.kind for p in read.asked].count("middle") == 2
    empty = PieceReads()
    assert await empty.window(SLO_A, DAY, at, Reader(covered=False)) == ({}, False)


async def test_a_middle_is_derived_hour_after_hour_then_read_whole_again() -> None:
    reads, read = PieceReads(), Reader()
    at = START + 1800.0
    whole = []
    for hour in range(40):
        read.asked.clear()
        t = at + hour * 3600
        (counts, covered) = await reads.window(SLO_A, 30 * DAY, t, read)
        end = round(t * 1000)
        assert covered and counts[A].total == pytest.approx(events(end - 720 * H, end), rel=1e-9)
        if any(p.kind == "middle" for p in read.asked):
            whole.append(hour)
        else:
            assert sorted(p.kind for p in read.asked) == ["edge", "edge", "head", "tail"]
    assert whole[0] == 0 and len(whole) == 2  # read whole again after 12 to 35 derivations
    assert 13 <= whole[1] <= 36


async def test_a_middle_whose_records_changed_is_read_whole() -> None:
    """A derived middle that would count fewer events than its last hour (records deleted or
    rewritten under the kept answer) is not believed: the middle is read whole."""
    reads, read = PieceReads(), Reader()
    at = START + 1800.0
    await reads.window(SLO_A, DAY, at, read)

    async def shrunk(slo: SLO, piece: Piece) -> tuple[WindowCounts, bool]:
        counts, covered = await read(slo, piece)
        grow = 1e6 if piece.kind == "edge" and piece.end < round(at * 1000) - 2 * H else 1.0
        return {k: Counts(c.bad * grow, c.total * grow) for k, c in counts.items()}, covered

    read.asked.clear()
    counts, _ = await reads.window(SLO_A, DAY, at + 3600, shrunk)
    assert "middle" in [p.kind for p in read.asked]
    end = round((at + 3600) * 1000)
    assert counts[A].total == pytest.approx(events(end - 24 * H, end), rel=1e-12)
