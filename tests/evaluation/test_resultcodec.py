"""Evaluation results as bytes and back (what a leader publishes for its followers): every kind
of result the evaluator makes comes back equal; an SLO defined differently is left out."""

from __future__ import annotations

from dataclasses import replace

import orjson
import pytest

from sloguard.evaluation.evaluator import Evaluator, InstanceResult
from sloguard.evaluation.resultcodec import decode_results, encode_results, slo_digest
from sloguard.slo.budget import Counts, State
from sloguard.slo.calendar import Calendar, CalendarUnit
from sloguard.slo.spec import SLO
from sloguard.sources.base import QueryError, WindowCounts
from sloguard.sources.fake import FakeSource
from tests.support.slos import make_slo

AT = 1_772_323_200.0 + 2.5 * 86_400  # March 2026, two and a half days in
GROUPED = make_slo("calls", group_by=("agent_name",), min_events=10)
MONTHLY = replace(make_slo("monthly", objective=0.99), calendar=Calendar(CalendarUnit.MONTH))
QUIET = make_slo("quiet", selector={"service": "idle"})
BROKEN = make_slo("broken")
SLOS = (GROUPED, MONTHLY, QUIET, BROKEN)


def answer(slo: SLO, window: float, at: float) -> WindowCounts:
    if slo is BROKEN:
        raise QueryError("Prometheus at http://prom:9090: no answer within 10s")
    if slo is QUIET:
        return {}
    if slo is MONTHLY:
        return {(): Counts(bad=3, total=1_000)}
    burning = Counts(bad=window / 60, total=window / 6)  # 10 % errors everywhere
    return {(("agent_name", "billing"),): burning, (("agent_name", "search"),): Counts(0, 500)}


async def results() -> tuple[InstanceResult, ...]:
    return await Evaluator(SLOS, FakeSource(answer=answer)).evaluate(AT)


async def test_every_kind_of_result_comes_back_equal() -> None:
    original = await results()
    states = {r.evaluation.state for r in original}
    assert states == {State.BURNING, State.OK, State.NO_DATA, State.ERROR}
    assert any(r.evaluation.period_start is not None for r in original)  # the calendar SLO
    decoded = decode_results(encode_results(original), {s.name: s for s in SLOS})
    assert decoded.results == original and decoded.unknown == frozenset()


async def test_an_slo_defined_differently_or_unknown_is_left_out_and_named() -> None:
    payload = encode_results(await results())
    changed = replace(GROUPED, objective=0.99)
    assert slo_digest(changed) != slo_digest(GROUPED)
    assert slo_digest(replace(GROUPED, description="words only")) == slo_digest(GROUPED)
    follower = {s.name: s for s in (changed, MONTHLY, QUIET)}  # BROKEN unknown here
    decoded = decode_results(payload, follower)
    assert decoded.unknown == {"calls", "broken"}
    assert {r.slo.name for r in decoded.results} == {"monthly", "quiet"}


def test_a_malformed_or_newer_payload_is_a_value_error() -> None:
    slos = {s.name: s for s in SLOS}
    with pytest.raises(ValueError, match="malformed results payload"):
        decode_results(b"{not json", slos)
    with pytest.raises(ValueError, match="malformed results payload"):
        quiet = {"quiet": {"digest": slo_digest(QUIET)}}  # no instances
        decode_results(orjson.dumps({"version": 1, "slos": quiet}), slos)
    with pytest.raises(ValueError, match="version 2, not 1"):
        decode_results(orjson.dumps({"version": 2, "slos": {}}), slos)
    tiers = len(GROUPED.alerting.policy.tiers)
    row = [[], AT, "ok", 1.0, 1.0, 1.0, [], [[None, None, False, False]] * (tiers - 1)]
    bad = {"digest": slo_digest(GROUPED), "instances": [[*row, None, None, None, None]]}
    with pytest.raises(ValueError, match="tier results for"):
        decode_results(orjson.dumps({"version": 1, "slos": {"calls": bad}}), slos)
