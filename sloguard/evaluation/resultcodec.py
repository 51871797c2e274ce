"""One tick's evaluation results as bytes and back, so that followers can serve what the leader
evaluated (:mod:`sloguard.alerting.sharedresults`). Pure.

A result refers to its SLO by name and to a tier by its place in the SLO's policy; decoding
takes the follower's own SLOs. Results of an SLO the follower does not know, or knows with a
different SLI, objective, period or policy (a configuration the replicas do not share), are left out
and named, so the follower evaluates those itself rather than show numbers of another SLO.

Example::

    payload = encode_results(results)
    decoded = decode_results(payload, {slo.name: slo for slo in slos})
    decoded.results, decoded.unknown     # InstanceResults; names of SLOs left out
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from sloguard.evaluation.evaluator import InstanceResult
from sloguard.slo.budget import Evaluation, State, TierResult
from sloguard.slo.spec import SLO, SLOInstance

__all__ = ["Decoded", "decode_results", "encode_results", "slo_digest"]

#: Format of the payload; a payload of another version is not read (a follower evaluates).
VERSION = 1


@dataclass(frozen=True, slots=True)
class Decoded:
    """What a payload gave: the results of the SLOs known alike, and the names of the others."""

    results: tuple[InstanceResult, ...]
    unknown: frozenset[str]


def slo_digest(slo: SLO) -> str:
    """What an evaluation depends on: the SLI, selector, grouping, objective, period,
    calendar, budgeting, minimum events and policy (two replicas agreeing on it evaluate an
    SLO alike)."""
    parts = (slo.sli, sorted(slo.selector.items()), slo.group_by, slo.objective, slo.period)
    text = repr((*parts, slo.calendar, slo.budgeting, slo.min_events, slo.alerting.policy))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode_results(results: Iterable[InstanceResult]) -> bytes:
    """The results as one JSON document (orjson)."""
    slos: dict[str, dict[str, Any]] = {}
    for r in results:
        entry = slos.get(r.slo.name)
        if entry is None:
            entry = slos[r.slo.name] = {"digest": slo_digest(r.slo), "instances": []}
        e = r.evaluation
        entry["instances"].append(
            [
                list(r.instance.labels),
                r.at,
                e.state.value,
                e.sli,
                e.events,
                e.budget_remaining,
                list(e.burn_rates.items()),
                [[t.long_burn, t.short_burn, t.firing, t.insufficient] for t in e.tiers],
                e.time_to_exhaustion,
                e.error,
                e.period_start,
                e.period_end,
            ]
        )
    return orjson.dumps({"version": VERSION, "slos": slos})


def decode_results(payload: bytes, slos: Mapping[str, SLO]) -> Decoded:
    """The results in ``payload`` for ``slos``; raises ``ValueError`` on a malformed payload."""
    try:
        doc = orjson.loads(payload)
        if doc["version"] != VERSION:
            raise ValueError(f"results payload version {doc['version']!r}, not {VERSION}")
        out: list[InstanceResult] = []
        unknown: set[str] = set()
        for name, entry in doc["slos"].items():
            slo = slos.get(name)
            if slo is None or entry["digest"] != slo_digest(slo):
                unknown.add(name)
                continue
            out.extend(_instance(slo, row) for row in entry["instances"])
    except (KeyError, TypeError, IndexError, orjson.JSONDecodeError) as exc:
        raise ValueError(f"malformed results payload: {type(exc).__name__}: {exc}") from exc
    return Decoded(tuple(out), frozenset(unknown))


def _instance(slo: SLO, row: Sequence[Any]) -> InstanceResult:
    labels, at, state, sli, events, budget, burns, tiers, tte, error, start, end = row
    policy = slo.alerting.policy.tiers
    if tiers and len(tiers) != len(policy):  # an error has none
        raise ValueError(f"SLO {slo.name!r}: {len(tiers)} tier results for {len(policy)} tiers")
    evaluation = Evaluation(
        state=State(state),
        sli=sli,
        events=events,
        budget_remaining=budget,
        burn_rates={float(w): rate for w, rate in burns},
        tiers=tuple(
            TierResult(tier=tier, long_burn=t[0], short_burn=t[1], firing=t[2], insufficient=t[3])
            for tier, t in zip(policy, tiers, strict=False)
        ),
        time_to_exhaustion=tte,
        error=error,
        period_start=start,
        period_end=end,
    )
    instance = SLOInstance(slo.name, tuple((str(k), str(v)) for k, v in labels))
    return InstanceResult(slo, instance, evaluation, float(at))
