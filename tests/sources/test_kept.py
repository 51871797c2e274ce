"""The answers kept for a while on each SLO's grid (``sources/kept.py``), which the recorded
windows and the long raw windows share."""

from __future__ import annotations

from dataclasses import replace

from sloguard.slo.budget import Counts
from sloguard.sources.kept import KeptAnswers, offset
from tests.support.slos import make_slo

T0 = 1_800_000_000.0
DAY = 86_400.0


def answer(at: float) -> dict[tuple[tuple[str, str], ...], Counts]:
    return {(): Counts(bad=0.0, total=at)}


def test_an_answer_serves_its_period_of_the_slos_grid_only() -> None:
    slo, kept = make_slo(), KeptAnswers(longest=300.0)
    start = T0 - (T0 - offset(slo.name, 300.0)) % 300.0  # a period of the SLO's grid starts
    kept.put(slo, DAY, start, answer(start))
    assert kept.get(slo, DAY, start + 299, period=300.0) == answer(start)
    assert kept.get(slo, DAY, start + 300, period=300.0) is None
    assert kept.get(slo, DAY, start + 299, period=100.0) is None  # another period's grid


def test_a_reloaded_slo_reads_again_and_an_earlier_time_keeps_the_later_answers() -> None:
    slo, kept = make_slo(), KeptAnswers(longest=300.0)
    kept.put(slo, DAY, T0, answer(T0))
    assert kept.get(replace(slo, objective=0.99), DAY, T0, period=300.0) is None
    assert kept.get(slo, DAY, T0 - 60, period=300.0) is None  # asked before it was read
    kept.put(slo, DAY, T0 - 60, answer(T0 - 60))  # not over the later one
    assert kept.get(slo, DAY, T0, period=300.0) == answer(T0)
    assert len(kept) == 1
    kept.get(slo, DAY, T0 + 300, period=300.0)  # a later time: what is too old goes
    assert len(kept) == 0
