"""Table tests for the pure budget / burn-rate math, with the SRE Workbook's figures."""

from __future__ import annotations

import math

import pytest

from sloguard.durations import DAY, HOUR, MINUTE, format_duration, parse_duration
from sloguard.slo.budget import (
    Counts,
    Severity,
    State,
    Tier,
    budget_remaining,
    burn_rate,
    default_policy,
    evaluate,
    min_events_to_judge,
    tier_problems,
    time_to_exhaustion,
)

P30 = 30 * DAY


def test_default_policy_for_30_days_is_the_workbook_table() -> None:
    tiers = default_policy(P30).tiers
    assert [(t.severity, t.name, t.factor) for t in tiers] == [
        (Severity.CRITICAL, "1h/5m", 14.4),
        (Severity.CRITICAL, "6h/30m", 6.0),
        (Severity.WARNING, "1d/2h", 3.0),
        (Severity.WARNING, "3d/6h", 1.0),
    ]
    assert [round(t.budget_fraction(P30), 4) for t in tiers] == [0.02, 0.05, 0.1, 0.1]


def test_other_periods_scale_windows_and_keep_factors() -> None:
    tiers = default_policy(1 * DAY).tiers
    assert [t.long_window for t in tiers] == [120.0, 720.0, 2880.0, 8640.0]
    assert [t.factor for t in tiers] == [14.4, 6.0, 3.0, 1.0]
    floored = default_policy(1 * HOUR, floor=60.0).tiers
    assert floored[0].short_window == 60.0  # 5m * 1/720 = 0.4s, raised to the floor


@pytest.mark.parametrize(
    ("ratio", "objective", "expected"),
    [(0.001, 0.999, 1.0), (0.0144, 0.999, 14.4), (0.0, 0.99, 0.0), (None, 0.99, None)],
)
def test_burn_rate(ratio: float | None, objective: float, expected: float | None) -> None:
    got = burn_rate(ratio, objective)
    assert got == expected if expected is None else got == pytest.approx(expected)


def test_budget_remaining_is_not_the_seed_formula() -> None:
    # 99.5% objective, SLI 99.0% over the period: twice the budget spent -> -100% remaining.
    # The seed computes (0.99 - 0.005) / 0.995 = 99% "remaining", which is wrong.
    assert budget_remaining(0.01, 0.995) == pytest.approx(-1.0)
    assert budget_remaining(0.0025, 0.995) == pytest.approx(0.5)
    assert budget_remaining(None, 0.995) is None


@pytest.mark.parametrize(
    ("remaining", "burn", "expected"),
    [(0.5, 1.0, 15 * DAY), (0.5, 14.4, 0.5 * P30 / 14.4), (0.0, 2.0, 0.0), (0.5, 0.0, None)],
)
def test_time_to_exhaustion(remaining: float, burn: float, expected: float | None) -> None:
    assert time_to_exhaustion(remaining, burn, P30) == expected


def test_tier_problems() -> None:
    assert tier_problems(Tier(Severity.WARNING, HOUR, 5 * MINUTE, 0.5), 0.999) == [
        "tier 1h/5m fires at burn rate 0.5 < 1: it pages while the SLO is still being met"
    ]
    msgs = tier_problems(Tier(Severity.CRITICAL, HOUR, 5 * MINUTE, 14.4), 0.9)
    assert msgs == [
        "tier 1h/5m needs an error ratio of 1.44 (burn rate 14.4 x budget 0.1) > 1: "
        "it can never fire"
    ]
    assert tier_problems(Tier(Severity.CRITICAL, HOUR, 5 * MINUTE, 14.4), 0.999) == []


def windows_for(ratio_by_window: dict[float, float], total: float) -> dict[float, Counts | None]:
    return {w: Counts(bad=r * total, total=total) for w, r in ratio_by_window.items()}


def test_both_windows_must_burn_for_a_tier_to_fire() -> None:
    policy = default_policy(P30)
    base = {w: 0.0 for w in policy.windows() | {P30}}
    # long window over 14.4x, short window recovered -> the 1h/5m tier does not fire
    ev = evaluate(
        objective=0.999,
        period=P30,
        policy=policy,
        windows=windows_for({**base, HOUR: 0.02, 5 * MINUTE: 0.0}, 10_000),
    )
    assert ev.state is State.OK
    assert not ev.tiers[0].firing
    ev = evaluate(
        objective=0.999,
        period=P30,
        policy=policy,
        windows=windows_for({**base, HOUR: 0.02, 5 * MINUTE: 0.02}, 10_000),
    )
    assert ev.state is State.BURNING
    assert [t.firing for t in ev.tiers] == [True, False, False, False]
    assert ev.severity is Severity.CRITICAL
    assert ev.tiers[0].long_burn == pytest.approx(20.0)


def test_no_data_error_and_insufficient_states() -> None:
    policy = default_policy(P30)
    empty = {w: Counts(0, 0) for w in policy.windows() | {P30}}
    assert evaluate(objective=0.999, period=P30, policy=policy, windows=empty).state is (
        State.NO_DATA
    )
    err = evaluate(objective=0.999, period=P30, policy=policy, windows={}, error="timeout")
    assert (err.state, err.error) == (State.ERROR, "timeout")
    # 20 events, 1 failure: e = 5% is a huge burn, but one failure must not page
    few = {w: Counts(1, 20) for w in policy.windows() | {P30}}
    ev = evaluate(objective=0.999, period=P30, policy=policy, windows=few)
    assert ev.state is State.INSUFFICIENT_EVENTS
    assert not any(t.firing for t in ev.tiers)


def test_a_tier_whose_short_window_saw_no_event_keeps_its_last_judgment() -> None:
    """Found under load: a restarted daemon's first short window (the gap) had no events, the
    critical tier stopped firing, its alert resolved and fired again a tick later. With no
    event in the short window there is no evidence either way: the tier is insufficient."""
    policy = default_policy(P30)
    first = policy.tiers[0]
    windows: dict[float, Counts | None] = {
        w: Counts(bad=500, total=10_000) for w in policy.windows() | {P30}
    }
    assert evaluate(objective=0.999, period=P30, policy=policy, windows=windows).tiers[0].firing
    windows[first.short_window] = Counts(0, 0)
    tier = evaluate(objective=0.999, period=P30, policy=policy, windows=windows).tiers[0]
    assert (tier.firing, tier.insufficient) == (False, True)  # the alert state holds it


def test_min_events_to_judge() -> None:
    tier = Tier(Severity.CRITICAL, HOUR, 5 * MINUTE, 14.4)
    # one failure fires while 1/total > 0.0144, i.e. up to 69 events
    assert min_events_to_judge(tier, 0.999, 0) == 69
    assert min_events_to_judge(tier, 0.999, 500) == 500


def test_sli_budget_and_exhaustion_in_an_evaluation() -> None:
    policy = default_policy(P30)
    windows = {w: Counts(bad=5, total=10_000) for w in policy.windows() | {P30}}
    ev = evaluate(objective=0.999, period=P30, policy=policy, windows=windows)
    assert ev.sli == pytest.approx(0.9995)
    assert ev.budget_remaining == pytest.approx(0.5)
    assert ev.burn_rates[HOUR] == pytest.approx(0.5)
    assert ev.time_to_exhaustion == pytest.approx(0.5 * P30 / 0.5)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30d", P30),
        ("1h30m", 5400.0),
        ("5m", 300.0),
        ("1.5h", 5400.0),
        ("250ms", 0.25),
        ("2w", 14 * DAY),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "5", "5x", "m5", "1h 30m", "-5m", "five minutes"])
def test_parse_duration_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(bad)


@pytest.mark.parametrize(
    ("seconds", "text"), [(3600.0, "1h"), (5400.0, "1h30m"), (P30, "30d"), (90.0, "1m30s")]
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_workbook_detection_times_follow_from_the_thresholds() -> None:
    # A 100% outage at 99.9%/30d: e(L) crosses F*b after F*b*L seconds of the long window.
    b = 0.001
    tiers = default_policy(P30).tiers
    assert math.isclose(tiers[0].factor * b * tiers[0].long_window, 51.84)
    assert math.isclose(tiers[1].factor * b * tiers[1].long_window, 129.6)
