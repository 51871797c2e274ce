"""Pyrra's multiwindow burn-rate tiers for an SLO window, as sloguard tiers. Pure.

Pyrra (``slo/rules.go``, ``Windows``) derives four tiers from the SLO window W, defined for 28
days and rounded to the minute: critical W/672 (1h) over W/8064 (5m) at 14×, critical W/112 (6h)
over W/1344 (30m) at 7×, warning W/28 (1d) over W/336 (2h) at 2×, warning W/7 (4d) over W/112
(6h) at 1×, each with a ``for:`` of half its short window. sloguard's default policy is the SRE
Workbook's 14.4×, 6×, 3×, 1× over windows defined for 30 days (:mod:`sloguard.slo.budget`): the
factors and the fourth window differ, so a Pyrra SLO keeps Pyrra's tiers as an inline policy
(:func:`pyrra_tiers`) and says so in a notice (:func:`compare_note`).

Example::

    [t.factor for t in pyrra_tiers(28 * DAY)]      # [14, 7, 2, 1]
    pyrra_tiers(28 * DAY)[0].long                  # 3600.0
"""

from __future__ import annotations

from dataclasses import dataclass

from sloguard.durations import MINUTE, format_duration
from sloguard.slo.budget import default_policy

__all__ = ["PYRRA_TIER_NAMES", "PyrraTier", "compare_note", "pyrra_tiers"]

#: Pyrra's names for its four tiers, in order (``alerting.severities`` keys).
PYRRA_TIER_NAMES = ("fastBurn", "mediumBurn", "slowBurn", "longTermBurn")
#: (severity, long divisor, short divisor, for divisor, factor) for a window W.
_ROWS = (
    ("critical", 28 * 24, 28 * 24 * 12, 28 * 24 * 30, 14.0),
    ("critical", 28 * 4, 28 * 24 * 2, 28 * 24 * 4, 7.0),
    ("warning", 28, 28 * 12, 28 * 24, 2.0),
    ("warning", 7, 28 * 4, 28 * 8, 1.0),
)


@dataclass(frozen=True, slots=True)
class PyrraTier:
    """One Pyrra tier: its windows and ``for:`` in seconds, rounded to the minute as Pyrra does."""

    severity: str
    long: float
    short: float
    wait: float  # Pyrra's ``for:``
    factor: float


def _minutes(seconds: float) -> float:
    # Go's Duration.Round(time.Minute): halves away from zero
    return float(int(seconds / MINUTE + 0.5) * MINUTE)


def pyrra_tiers(window: float) -> tuple[PyrraTier, ...]:
    """Pyrra's tiers for an SLO window of ``window`` seconds."""
    return tuple(
        PyrraTier(sev, _minutes(window / lg), _minutes(window / sh), _minutes(window / wt), f)
        for sev, lg, sh, wt, f in _ROWS
    )


def _show(tiers: list[tuple[float, float, float]]) -> str:
    return ", ".join(
        f"{f:g}x over {format_duration(lg)}/{format_duration(sh)}" for lg, sh, f in tiers
    )


def compare_note(window: float) -> str:
    """How Pyrra's tiers for ``window`` differ from sloguard's default policy at that period."""
    pyrra = pyrra_tiers(window)
    theirs = [(t.long_window, t.short_window, t.factor) for t in default_policy(window).tiers]
    waits = ", ".join(format_duration(t.wait) for t in pyrra)
    return (
        f"Pyrra's burn-rate tiers for a {format_duration(window)} window "
        f"({_show([(t.long, t.short, t.factor) for t in pyrra])}) are kept as this SLO's inline "
        f"policy; sloguard's default would be {_show(theirs)}. "
        f"Pyrra's for: durations ({waits}) are not kept: sloguard's tiers fire when both "
        "windows burn"
    )
