"""The SLIs whose bound must be a histogram bucket bound: latency, workflow latency and cost.

Pure: a document node in, an :class:`~sloguard.slo.spec.SLI` (or problems) out, checked against
the bucket bounds of :class:`EntryOptions` (the process's histogram settings).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sloguard import conventions as c
from sloguard.slo.docreader import DocNode, Findings, positive
from sloguard.slo.spec import SLI, SLIKind
from sloguard.yamldoc import FieldPath

__all__ = ["EntryOptions", "histogram_bound", "latency_sli", "workflow_sli"]


@dataclass(frozen=True, slots=True)
class EntryOptions:
    """What entries are checked against: the bounds of ``agent_latency_seconds`` (latency
    thresholds must be one of them), the shortest window the SLI source can resolve (seconds),
    and whether the source is the embedded one (which cannot run ``kind: ratio``)."""

    latency_buckets: tuple[float, ...]
    resolution: float
    embedded: bool
    workflow_duration_buckets: tuple[float, ...] = c.WORKFLOW_DURATION_BUCKETS
    workflow_cost_buckets: tuple[float, ...] = c.WORKFLOW_COST_BUCKETS


def histogram_bound(
    findings: Findings,
    path: FieldPath,
    value: float | None,
    bounds: tuple[float, ...],
    what: tuple[str, str, str],
) -> float | None:
    """``value`` if it is one of the histogram's ``bounds``; else a problem naming them.

    ``what``: (the value's name with its unit, the histogram, its buckets setting).
    """
    if value is None:
        return None
    for bound in bounds:
        if math.isclose(value, bound, rel_tol=1e-9):
            return bound
    listed = ", ".join(f"{b:g}" for b in bounds)
    findings.problem(
        path,
        f"{what[0].format(value)} is not a bucket bound of {what[1]}; use one of {listed} "
        f"(or add it to metrics.buckets.{what[2]})",
    )
    return None


def latency_sli(
    findings: Findings, path: FieldPath, threshold: float | None, opts: EntryOptions
) -> SLI | None:
    what = ("latency threshold {:g} s", c.AGENT_LATENCY, "agent_latency")
    bound = histogram_bound(findings, path, threshold, opts.latency_buckets, what)
    return None if bound is None else SLI(SLIKind.LATENCY, threshold=bound)


def workflow_sli(findings: Findings, n: DocNode, kind: SLIKind, opts: EntryOptions) -> SLI:
    """``workflow_latency`` (threshold: seconds) or ``workflow_cost`` (max_cost_usd: USD)."""
    key, other = ("threshold", "max_cost_usd")
    if kind is SLIKind.WORKFLOW_COST:
        key, other = other, key
    if key not in n:
        unit = "the bound in seconds" if key == "threshold" else "the budget of one run in USD"
        findings.problem(n.at(key), f"required field is missing: {unit}")
    if other in n:
        findings.problem(n.at(other), f"{other} does not apply to kind: {kind}; use {key}")
    value = n.get(key, positive)
    if kind is SLIKind.WORKFLOW_LATENCY:
        what = ("workflow latency threshold {:g} s", c.WORKFLOW_DURATION, "workflow_duration")
        bound = histogram_bound(findings, n.at(key), value, opts.workflow_duration_buckets, what)
        return SLI(kind, threshold=bound)
    what = ("max_cost_usd {:g}", c.WORKFLOW_COST, "workflow_cost")
    return SLI(
        kind, max_cost=histogram_bound(findings, n.at(key), value, opts.workflow_cost_buckets, what)
    )
