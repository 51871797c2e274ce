"""JSON-friendly views of evaluation results (for the API, the CLI and simulate). Pure.

Each tier's factor F (it fires when both windows burn faster) is ``factor``;
``burn_rate_threshold``, its name before 0.2.0, is still written as an alias and is removed in
0.3.0 (``docs/json-aliases.md``).
"""

from __future__ import annotations

from typing import Any

from sloguard.durations import format_duration
from sloguard.evaluation.evaluator import InstanceResult


def _num(v: float | None) -> float | None:
    return None if v is None else round(v, 9)


def result_dict(r: InstanceResult) -> dict[str, Any]:
    """One instance's status as a dict."""
    ev, slo = r.evaluation, r.slo
    return {
        "slo": slo.name,
        "description": slo.description,
        "instance": r.labels,
        "objective": slo.objective,
        "period": format_duration(slo.period),
        "sli_kind": slo.sli.kind.value,
        "state": ev.state.value,
        "severity": ev.severity.value if ev.severity else None,
        "sli": _num(ev.sli),
        "events": ev.events,
        "error_budget_remaining": _num(ev.budget_remaining),
        "time_to_exhaustion_seconds": _num(ev.time_to_exhaustion),
        "burn_rates": {format_duration(w): _num(b) for w, b in sorted(ev.burn_rates.items())},
        "tiers": [
            {
                "severity": t.tier.severity.value,
                "name": t.tier.name,
                "factor": t.tier.factor,
                "burn_rate_threshold": t.tier.factor,  # alias of factor until 0.3.0
                "long_burn": _num(t.long_burn),
                "short_burn": _num(t.short_burn),
                "firing": t.firing,
                "insufficient_events": t.insufficient,
            }
            for t in ev.tiers
        ],
        "error": ev.error,
        "evaluated_at": r.at,
    }
