"""The raw-counter windows of an SLO read together, and the long ones answered again for a while
(``sources/rawbatch.py``), with a recording reader in place of Prometheus (the same rules
against a real Prometheus: tests/sources/test_prometheus.py)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace

import pytest

from sloguard.durations import DAY, HOUR, MINUTE
from sloguard.slo.budget import Counts, Policy, Severity, Tier
from sloguard.slo.spec import SLO, Alerting
from sloguard.sources.base import QueryError, WindowCounts
from sloguard.sources.rawbatch import MAX_REUSE, REUSE_FRACTION, RawBatches, reuse_period
from tests.support.slos import make_slo

T0 = 1_800_000_000.0
INTERVAL = 30.0


class Reader:
    """Answers every window with its read time as the total, and records the reads."""

    def __init__(self) -> None:
        self.reads: list[tuple[str, tuple[float, ...], float]] = []
        self.fail_next = False

    async def __call__(
        self, slo: SLO, windows: Sequence[float], at: float
    ) -> Mapping[float, WindowCounts]:
        self.reads.append((slo.name, tuple(windows), at))
        if self.fail_next:
            self.fail_next = False
            raise QueryError("Prometheus is down")
        return {w: {(): Counts(bad=0.0, total=at)} for w in windows}


async def cycle(batches: RawBatches, slo: SLO, at: float) -> dict[float, float]:
    """Every window of ``slo`` asked together; the read time each answer carries."""
    windows = sorted(slo.windows())
    got = await asyncio.gather(*(batches.counts(slo, w, at) for w in windows))
    return {w: counts[()].total for w, counts in zip(windows, got, strict=True)}


def test_the_reuse_periods_of_the_default_policy() -> None:
    slo = make_slo()
    got = {w: reuse_period(slo, w) for w in sorted(slo.windows())}
    assert got == {
        5 * MINUTE: 0.0,  # the fastest tier (1h/5m): always read
        30 * MINUTE: 30 * MINUTE * REUSE_FRACTION,  # 25 s: shorter than a 30 s interval
        HOUR: 0.0,
        2 * HOUR: 100.0,
        6 * HOUR: MAX_REUSE,
        DAY: MAX_REUSE,
        3 * DAY: MAX_REUSE,
        30 * DAY: MAX_REUSE,
    }


def test_the_fastest_tier_of_any_policy_is_always_read() -> None:
    tiers = (
        Tier(Severity.WARNING, 6 * HOUR, 30 * MINUTE, 6.0),
        Tier(Severity.CRITICAL, 2 * HOUR, 10 * MINUTE, 10.0),
    )
    slo = replace(make_slo(), alerting=Alerting(policy=Policy("custom", tiers)))
    assert reuse_period(slo, 2 * HOUR) == reuse_period(slo, 10 * MINUTE) == 0.0
    assert reuse_period(slo, 6 * HOUR) == MAX_REUSE


async def test_windows_asked_together_are_one_read() -> None:
    reader = Reader()
    slo = make_slo()
    await cycle(RawBatches(reader), slo, T0)
    assert reader.reads == [(slo.name, tuple(sorted(slo.windows())), T0)]


async def test_an_hour_of_cycles_reads_each_window_as_often_as_its_period_says() -> None:
    """30 s apart for an hour: no answer older than its period, the short windows and the
    fastest tier's read every cycle, the 2h window about every 100 s, the long ones every
    5 minutes; each cycle still one read."""
    reader, slo = Reader(), make_slo()
    batches = RawBatches(reader)
    reads: Counter[float] = Counter()
    cycles = 120
    for k in range(cycles):
        at = T0 + k * INTERVAL
        for w, read_at in (await cycle(batches, slo, at)).items():
            assert 0 <= at - read_at < max(reuse_period(slo, w), 1e-9) or read_at == at, w
            reads[w] += read_at == at
    assert len(reader.reads) == cycles
    for w in (5 * MINUTE, 30 * MINUTE, HOUR):
        assert reads[w] == cycles, w
    assert 3600 / 100 <= reads[2 * HOUR] <= 3600 / 100 + 2
    for w in (6 * HOUR, DAY, 30 * DAY):
        assert 3600 / MAX_REUSE <= reads[w] <= 3600 / MAX_REUSE + 1, w


async def test_the_slos_re_read_their_long_windows_in_different_cycles() -> None:
    reader = Reader()
    batches = RawBatches(reader)
    slos = [make_slo(f"slo-{i:03d}") for i in range(100)]
    for slo in slos:
        await cycle(batches, slo, T0)  # the first cycle reads everything
    per_cycle = []
    for k in range(1, 21):
        before = len(reader.reads)
        for slo in slos:
            await cycle(batches, slo, T0 + k * INTERVAL)
        long_reads = [r for r in reader.reads[before:] if 30 * DAY in r[1]]
        per_cycle.append(len(long_reads))
    # 5 minutes over 30 s cycles: a tenth of the SLOs each cycle, never most of them at once
    assert sum(per_cycle) == pytest.approx(20 * 100 / 10, rel=0.2)
    assert max(per_cycle) <= 30


async def test_a_redefined_slo_a_failed_read_and_an_earlier_time_read_again() -> None:
    reader, slo = Reader(), make_slo()
    batches = RawBatches(reader)
    await cycle(batches, slo, T0)
    renamed_twin = replace(slo, selector={"service": "billing"})  # same name, other query
    assert (await cycle(batches, renamed_twin, T0 + 1))[30 * DAY] == T0 + 1
    assert (await cycle(batches, renamed_twin, T0 + 2))[30 * DAY] == T0 + 1  # kept
    reader.fail_next = True
    later = T0 + MAX_REUSE + 1
    with pytest.raises(QueryError):
        await cycle(batches, renamed_twin, later)
    assert (await cycle(batches, renamed_twin, later + 1))[30 * DAY] == later + 1  # not kept
    assert (await cycle(batches, renamed_twin, T0 - 60))[30 * DAY] == T0 - 60


async def test_answers_past_every_period_are_forgotten() -> None:
    """A calendar period's window grows every cycle (a new length each time): what is kept stays
    bounded by what the last 5 minutes asked."""
    reader, slo = Reader(), make_slo()
    batches = RawBatches(reader)
    for k in range(100):
        at = T0 + k * INTERVAL
        await batches.counts(slo, 7 * DAY + k * INTERVAL, at)
        await cycle(batches, slo, at)
        assert len(batches) <= MAX_REUSE / INTERVAL + 1 + len(slo.windows())


async def test_an_earlier_time_answered_last_does_not_replace_a_later_one() -> None:
    """Two evaluation times under way at once (a slow read of the earlier one): what is kept is
    the later time's answer."""
    release = asyncio.Event()
    reader, slo = Reader(), make_slo()

    async def slow_then_fast(
        slo: SLO, windows: Sequence[float], at: float
    ) -> Mapping[float, WindowCounts]:
        if at == T0:
            await release.wait()
        return await reader(slo, windows, at)

    batches = RawBatches(slow_then_fast)
    early = asyncio.ensure_future(batches.counts(slo, 30 * DAY, T0))
    await asyncio.sleep(0)
    assert (await batches.counts(slo, 30 * DAY, T0 + 1))[()].total == T0 + 1
    release.set()
    assert (await early)[()].total == T0
    assert (await batches.counts(slo, 30 * DAY, T0 + 2))[()].total == T0 + 1  # the later kept
