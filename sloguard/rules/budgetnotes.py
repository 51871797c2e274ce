"""What the rules of calendar and time-slice SLOs cannot copy from the daemon, or cost. Pure.

A calendar period cannot be a PromQL range (ranges are fixed durations): its period records
cover the nominal length, rolling. A time-slice SLO's window records are subqueries evaluating
every slice; promtool's unit tests load at most 10 000 samples a query, too few for long
windows of short slices.

Example::

    header(source, *budget_notes(slos))     # one comment line per calendar or slice SLO
    promtool_note(slos)                     # None, or why no promtool tests are written
"""

from __future__ import annotations

from collections.abc import Iterable

from sloguard.durations import format_duration
from sloguard.slo.spec import SLO

__all__ = ["PROMTOOL_SLICES", "budget_notes", "promtool_note"]


def budget_notes(slos: Iterable[SLO]) -> list[str]:
    """What the rules of calendar and time-slice SLOs cannot copy from the daemon, or cost; one
    line each, for the generated file's header and the command's notes."""
    notes = []
    for slo in slos:
        cal, b = slo.calendar, slo.budgeting
        if cal is not None:
            notes.append(
                f"SLO {slo.name!r}: a {cal.unit} in {cal.time_zone} cannot be a PromQL range "
                f"(ranges are fixed durations): its period records cover the last "
                f"{format_duration(slo.period)}, rolling; the daemon's budget resets at each "
                f"{cal.unit}'s start (the alerts' windows are rolling in both)"
            )
        if b.sliced:
            slices = slo.period / b.slice
            notes.append(
                f"SLO {slo.name!r}: {b.method} of {format_duration(b.slice)}: window records "
                f"count slices with subqueries; the period record evaluates {slices:,.0f} "
                "slices at every rule evaluation"
            )
    return notes


#: The most slices a window of a time-slice SLO may hold for promtool's unit tests, which load
#: at most 10 000 samples per query (a real Prometheus: 50 million by default).
PROMTOOL_SLICES = 1000


def promtool_note(slos: Iterable[SLO]) -> str | None:
    """Why promtool cannot run unit tests of these SLOs' rules, or None when it can.

    Example::

        promtool_note([minutes])   # "... SLO 'minutes': 43,200 slices in its 30d window ..."
    """
    for slo in slos:
        b = slo.budgeting
        if b.sliced and slo.period / b.slice > PROMTOOL_SLICES:
            return (
                f"no promtool tests: promtool loads at most 10,000 samples a query and SLO "
                f"{slo.name!r} has {slo.period / b.slice:,.0f} slices in its "
                f"{format_duration(slo.period)} window (at most {PROMTOOL_SLICES:,} can be tested)"
            )
    return None
