"""JSON-friendly views of evaluation results (for the API, the CLI and simulate). Pure.

Each tier's factor F (it fires when both windows burn faster) is ``factor``;
``burn_rate_threshold``, its name before 0.2.0, is still written as an alias and is removed in
0.3.0 (``docs/json-aliases.md``).

A calendar SLO (``calendar``: its unit and time zone) also has ``period_start`` and
``period_end`` (unix seconds) and ``period_left_seconds``, the time until its budget resets;
``period`` is then its nominal length. ``budgeting`` says whether the SLI counts events
(``occurrences``) or time slices (``slice``, ``slice_objective``).
"""

from __future__ import annotations

from typing import Any

from sloguard.durations import format_duration
from sloguard.evaluation.evaluator import InstanceResult
from sloguard.slo.spec import SLO


def _num(v: float | None) -> float | None:
    return None if v is None else round(v, 9)


def budget_dict(slo: SLO) -> dict[str, Any]:
    """An SLO's calendar (None when rolling) and budgeting method, for JSON.

    Example::

        budget_dict(slo)   # {"calendar": {"unit": "month", "time_zone": "UTC"},
                           #  "budgeting": {"method": "occurrences"}}
    """
    b = slo.budgeting
    budgeting: dict[str, Any] = {"method": b.method.value}
    if b.sliced:
        budgeting["slice"] = format_duration(b.slice)
        budgeting["slice_objective"] = b.slice_objective
    cal = slo.calendar
    calendar = None if cal is None else {"unit": cal.unit.value, "time_zone": cal.time_zone}
    return {"calendar": calendar, "budgeting": budgeting}


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
        **budget_dict(slo),
        "period_start": ev.period_start,
        "period_end": ev.period_end,
        "period_left_seconds": None if ev.period_end is None else max(0.0, ev.period_end - r.at),
    }
