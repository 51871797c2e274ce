"""Error budgets and multiwindow, multi-burn-rate decisions (SRE Workbook ch. 5). Pure.

Definitions, for an SLO with objective ``o`` over a rolling period ``P``:

- error ratio ``e`` over a window: bad / total events in it;
- error budget ``b = 1 - o``; burn rate ``= e / b`` (1 = spending exactly the budget);
- budget consumed by a window ``w`` burning at ``r``: ``r * w / P``;
- budget remaining over the period: ``1 - e(P) / b`` (negative when overspent);
- a tier (long window ``L``, short window ``S = L/12``, factor ``F``) fires when both
  ``e(L)`` and ``e(S)`` exceed ``F * b``, i.e. when both observed burn rates exceed ``F``.
  ``F = f * P / L`` for a budget fraction ``f``.

Names: a tier's multiplier is its ``factor`` (written ``burn_rate`` in SLO files); "burn rate"
is only ever an observed ``e / b`` (``burn_rates``, ``long_burn``, ``short_burn``).

The default tiers are defined for a 30-day period; other periods scale the windows by ``P/30d``
and keep ``F``. Windows shorter than what the source can resolve are raised to that floor.

All durations are seconds (float). Nothing here reads a clock or does I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from sloguard.durations import DAY, HOUR, MINUTE, format_duration

DEFAULT_PERIOD = 30 * DAY


class Severity(StrEnum):
    """Alert severity of a tier."""

    CRITICAL = "critical"
    WARNING = "warning"


class State(StrEnum):
    """Evaluation state of one SLO instance."""

    OK = "ok"
    BURNING = "burning"
    NO_DATA = "no_data"
    INSUFFICIENT_EVENTS = "insufficient_events"
    ERROR = "error"


#: States that may neither page nor resolve a firing alert.
UNJUDGED = frozenset({State.NO_DATA, State.INSUFFICIENT_EVENTS, State.ERROR})


@dataclass(frozen=True, slots=True)
class Counts:
    """Bad and total events observed in one window."""

    bad: float
    total: float

    @property
    def error_ratio(self) -> float | None:
        """bad / total, or None without events."""
        if self.total <= 0:
            return None
        return min(1.0, max(0.0, self.bad / self.total))


@dataclass(frozen=True, slots=True)
class Tier:
    """One alerting tier: fires when both windows burn faster than ``factor`` (F)."""

    severity: Severity
    long_window: float
    short_window: float
    factor: float

    @property
    def name(self) -> str:
        """``1h/5m``-style name."""
        return f"{format_duration(self.long_window)}/{format_duration(self.short_window)}"

    def budget_fraction(self, period: float) -> float:
        """Fraction of the period's budget spent by the time this tier fires at its factor."""
        return self.factor * self.long_window / period


@dataclass(frozen=True, slots=True)
class Policy:
    """A named list of tiers."""

    name: str
    tiers: tuple[Tier, ...]

    def windows(self) -> frozenset[float]:
        """Every window the policy needs."""
        return frozenset(w for t in self.tiers for w in (t.long_window, t.short_window))


@dataclass(frozen=True, slots=True)
class TierRow:
    """A policy row defined for the 30-day reference period."""

    severity: Severity
    budget_fraction: float
    long_window: float
    short_window: float

    @property
    def factor(self) -> float:
        """``F = f * P / L`` at the 30-day reference period."""
        return self.budget_fraction * DEFAULT_PERIOD / self.long_window


#: DESIGN §6 default tiers (30d): critical 1h/5m (2%), 6h/30m (5%); warning 1d/2h, 3d/6h (10%).
DEFAULT_ROWS: tuple[TierRow, ...] = (
    TierRow(Severity.CRITICAL, 0.02, 1 * HOUR, 5 * MINUTE),
    TierRow(Severity.CRITICAL, 0.05, 6 * HOUR, 30 * MINUTE),
    TierRow(Severity.WARNING, 0.10, 1 * DAY, 2 * HOUR),
    TierRow(Severity.WARNING, 0.10, 3 * DAY, 6 * HOUR),
)


def scaled_policy(
    rows: tuple[TierRow, ...], period: float, *, floor: float = 0.0, name: str = "default"
) -> Policy:
    """Scale rows defined for 30 days to ``period``; windows below ``floor`` are raised to it."""
    k = period / DEFAULT_PERIOD
    tiers = tuple(
        Tier(
            r.severity,
            max(floor, r.long_window * k),
            max(floor, r.short_window * k),
            round(r.factor, 6),
        )
        for r in rows
    )
    return Policy(name, tiers)


def default_policy(period: float, *, floor: float = 0.0) -> Policy:
    """The default policy for ``period``."""
    return scaled_policy(DEFAULT_ROWS, period, floor=floor)


def tier_problems(tier: Tier, objective: float) -> list[str]:
    """Why ``tier`` is useless for ``objective``: it can never fire, or fires below burn 1."""
    budget = 1.0 - objective
    problems = []
    if tier.factor < 1.0:
        problems.append(
            f"tier {tier.name} fires at burn rate {tier.factor:g} < 1: "
            "it pages while the SLO is still being met"
        )
    if tier.factor * budget >= 1.0:
        problems.append(
            f"tier {tier.name} needs an error ratio of {tier.factor * budget:.3g} "
            f"(burn rate {tier.factor:g} x budget {budget:.3g}) > 1: it can never fire"
        )
    if tier.short_window > tier.long_window:
        problems.append(f"tier {tier.name}: short window is longer than the long window")
    return problems


@dataclass(frozen=True, slots=True)
class TierResult:
    """The decision of one tier for one instance: the observed burn rates of its two windows.

    The one fired-tier type from evaluation to the renderers: a notification carries the
    ``TierResult`` of each tier that fired.
    """

    tier: Tier
    long_burn: float | None
    short_burn: float | None
    firing: bool
    insufficient: bool


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Everything known about one SLO instance at one evaluation."""

    state: State
    sli: float | None
    events: float
    budget_remaining: float | None
    burn_rates: Mapping[float, float | None]
    tiers: tuple[TierResult, ...]
    time_to_exhaustion: float | None
    error: str | None = None
    #: A calendar SLO's current period ``[start, end)`` (unix seconds); None when rolling.
    period_start: float | None = None
    period_end: float | None = None

    @property
    def firing(self) -> tuple[TierResult, ...]:
        """Tiers that fire."""
        return tuple(t for t in self.tiers if t.firing)

    @property
    def severity(self) -> Severity | None:
        """The highest severity firing, if any."""
        sev = {t.tier.severity for t in self.firing}
        if Severity.CRITICAL in sev:
            return Severity.CRITICAL
        return Severity.WARNING if sev else None


def burn_rate(error_ratio: float | None, objective: float) -> float | None:
    """e / (1 - objective)."""
    if error_ratio is None:
        return None
    return error_ratio / (1.0 - objective)


def budget_remaining(period_error_ratio: float | None, objective: float) -> float | None:
    """1 - e(P) / b: 1 = untouched, 0 = spent, negative = overspent."""
    if period_error_ratio is None:
        return None
    return 1.0 - period_error_ratio / (1.0 - objective)


def time_to_exhaustion(remaining: float | None, burn: float | None, period: float) -> float | None:
    """Seconds until the budget is spent at burn rate ``burn``; None when not burning."""
    if remaining is None or burn is None or burn <= 0:
        return None
    if remaining <= 0:
        return 0.0
    return remaining * period / burn


def min_events_to_judge(tier: Tier, objective: float, min_events: float) -> float:
    """Events the long window needs before one failure alone can no longer fire the tier."""
    ratio = tier.factor * (1.0 - objective)  # the error ratio the tier fires above
    one_failure_pages = math.floor(1.0 / ratio) if ratio > 0 else math.inf
    return max(min_events, one_failure_pages)


def evaluate(
    *,
    objective: float,
    period: float,
    policy: Policy,
    windows: Mapping[float, Counts | None],
    min_events: float = 0.0,
    error: str | None = None,
    period_window: float | None = None,
    period_left: float | None = None,
) -> Evaluation:
    """Decide the state of one instance from the counts of each window.

    ``windows`` maps a window length to its counts (None: the source had nothing). It needs
    the period's window (``period_window``, default ``period``) and every window of ``policy``.
    ``error`` marks a source failure. A calendar SLO passes the time since its period started
    as ``period_window`` and the seconds until it ends as ``period_left``: a budget that would
    last longer than that is not exhausted (``time_to_exhaustion`` None), it resets first.
    """
    if error is not None:
        return Evaluation(State.ERROR, None, 0.0, None, {}, (), None, error)
    rates = {
        w: burn_rate(c.error_ratio if c is not None else None, objective)
        for w, c in windows.items()
    }
    period_counts = windows.get(period if period_window is None else period_window)
    events = period_counts.total if period_counts is not None else 0.0
    ratio = period_counts.error_ratio if period_counts is not None else None
    sli = None if ratio is None else 1.0 - ratio
    remaining = budget_remaining(ratio, objective)
    results = []
    for tier in policy.tiers:
        lc = windows.get(tier.long_window)
        lb, sb = rates.get(tier.long_window), rates.get(tier.short_window)
        long_total = lc.total if lc is not None else 0.0
        # No events in the short window (a restart's gap, a lull) is no evidence either way:
        # like too few events in the long one, the tier keeps its last judgment.
        insufficient = long_total < min_events_to_judge(tier, objective, min_events) or (
            sb is None and lb is not None
        )
        firing = (
            not insufficient
            and lb is not None
            and sb is not None
            and lb > tier.factor
            and sb > tier.factor
        )
        results.append(TierResult(tier, lb, sb, firing, insufficient))
    shortest = min(policy.tiers, key=lambda t: t.long_window, default=None)
    current_burn = rates.get(shortest.long_window) if shortest is not None else None
    tte = time_to_exhaustion(remaining, current_burn, period)
    if tte is not None and period_left is not None and tte > period_left:
        tte = None
    if events <= 0 and all((c is None or c.total <= 0) for c in windows.values()):
        state = State.NO_DATA
    elif any(r.firing for r in results):
        state = State.BURNING
    elif results and all(r.insufficient for r in results):
        state = State.INSUFFICIENT_EVENTS
    else:
        state = State.OK
    return Evaluation(state, sli, events, remaining, rates, tuple(results), tte)
