"""simulate drives the real embedded source and evaluator; it must reproduce the SRE Workbook."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sloguard.durations import DAY, HOUR
from sloguard.rules.scenarios import Scenario, parse_scenario
from sloguard.rules.simulate import SimulationResult, simulate
from sloguard.slo.budget import Policy, Severity, Tier
from sloguard.slo.spec import Alerting, SLIKind
from tests.support.slos import make_slo

INTERVAL = 10.0


async def run(text: str, *, interval: float = INTERVAL, **slo_args: object) -> SimulationResult:
    slo = make_slo(**slo_args)  # type: ignore[arg-type]
    return await simulate(
        slo, parse_scenario(text, error_budget=slo.error_budget), interval=interval
    )


async def test_full_outage_at_99_9_over_30d_matches_the_workbook() -> None:
    result = await run("outage")
    fast, slow = result.tiers[0], result.tiers[1]
    assert (fast.tier, slow.tier) == ("1h/5m", "6h/30m")
    # detection: 0.0144 x 1h = 51.8 s and 0.006 x 6h = 129.6 s, each within one interval
    assert fast.detected_after is not None and 51.84 <= fast.detected_after < 51.84 + INTERVAL
    assert slow.detected_after is not None and 129.6 <= slow.detected_after < 129.6 + INTERVAL
    # budget spent by then: the tiers' budget fractions 2 % and 5 %, plus at most one interval
    per_interval = INTERVAL / (0.001 * 30 * DAY)
    assert fast.budget_at_detection is not None and slow.budget_at_detection is not None
    assert 0.02 - 1e-9 <= fast.budget_at_detection < 0.02 + per_interval
    assert 0.05 - 1e-9 <= slow.budget_at_detection < 0.05 + per_interval
    # reset: about one short window after recovery
    assert fast.reset_after is not None and abs(fast.reset_after - 300) <= INTERVAL
    assert slow.reset_after is not None and abs(slow.reset_after - 1800) <= INTERVAL


async def test_two_minute_spike_at_10_percent_pages_nobody() -> None:
    result = await run("spike:ratio=0.1,duration=2m")
    assert [t.detected_after for t in result.tiers] == [None, None, None, None]
    assert result.states == {"ok": result.states["ok"]}


async def test_slow_leak_is_caught_by_the_warning_tiers_only() -> None:
    # every 30 s as the daemon evaluates by default: every 10 s, two days are 20,000 evaluations
    result = await run("leak:ratio=0.002,duration=2d", interval=30.0)
    by_tier = {t.tier: t for t in result.tiers}
    assert by_tier["1h/5m"].detected_after is None
    assert by_tier["6h/30m"].detected_after is None
    assert by_tier["1d/2h"].detected_after is None  # burn 2 < 3
    leak = by_tier["3d/6h"].detected_after  # burn 2 > 1: e(3d) crosses 0.001 after 1.5 d
    assert leak is not None and abs(leak - 1.5 * DAY) <= 60.0


async def test_low_traffic_never_pages_on_a_single_failure() -> None:
    result = await run("low_traffic:rate=0.005,duration=10m")
    # 3 events in 10 minutes: the 1h tier cannot judge (needs 69 events in its long window)
    assert result.tiers[0].detected_after is None
    assert "insufficient_events" in result.states or "ok" in result.states


async def test_no_data_is_no_data() -> None:
    result = await run("no_data")
    assert set(result.states) == {"no_data"}
    assert all(t.detected_after is None for t in result.tiers)


async def test_other_periods_and_kinds() -> None:
    result = await run("outage", period=DAY, objective=0.99, kind=SLIKind.LATENCY, threshold=5.0)
    # 1d period: the fast tier is 2m/10s; a full outage crosses 14.4 x 1% of 2m in 17.3 s
    assert result.tiers[0].tier == "2m/10s"
    assert result.tiers[0].detected_after is not None
    assert result.tiers[0].detected_after <= 17.28 + INTERVAL


def test_ratio_slos_cannot_be_simulated() -> None:
    with pytest.raises(ValueError, match="cannot be simulated"):
        import asyncio

        asyncio.run(simulate(make_slo(kind=SLIKind.RATIO), Scenario("outage", 1.0, HOUR)))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("meltdown", "unknown scenario 'meltdown'; choose one of outage, spike, leak"),
        ("spike:ratio=2", "scenario spike: ratio must be within 0..1, got 2"),
        ("spike:ratio=high", "scenario spike: ratio has a bad value 'high'"),
        ("spike:duration=soon", "scenario spike: duration has a bad value 'soon'"),
        ("spike:speed=3", "scenario spike: bad parameter 'speed=3'"),
        ("outage:rate=-1", "scenario outage: rate must be >= 0, got -1"),
    ],
)
def test_bad_scenarios(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_scenario(text, error_budget=0.001)


def test_scenario_defaults() -> None:
    assert parse_scenario("leak", error_budget=0.001) == Scenario("leak", 0.002, 2 * DAY)
    assert parse_scenario("spike:ratio=0.5,duration=90s,rate=3", error_budget=0.01) == Scenario(
        "spike", 0.5, 90.0, rate=3.0
    )


#: The policy of the Prometheus-gap report (issue 13, defect 17).
SHORT = Policy(
    "short",
    (Tier(Severity.CRITICAL, 120.0, 20.0, 14.4), Tier(Severity.WARNING, 240.0, 40.0, 6.0)),
)


async def test_a_data_gap_mid_incident_pages_once_and_resolves_once() -> None:
    slo = replace(make_slo(), alerting=Alerting(policy=SHORT))
    scenario = parse_scenario("gap", error_budget=slo.error_budget, shortest_window=120.0)
    assert scenario.label() == "gap:ratio=1,duration=17m1s,rate=2,baseline=0,gap=2m1s,gap_at=5m"
    result = await simulate(slo, scenario, interval=INTERVAL)
    assert result.states["error"] == 13  # 121 s without the source, every 10 s
    # the first evaluations after the gap cannot judge the 2m/20s tier: the critical keeps
    # firing (and inhibits the warning) until the outage ends; one page, one resolution
    during = [
        (a.alertname, a.severity.value, a.transition.value, a.at)
        for a in result.alerts
        if a.at < scenario.duration
    ]
    assert during == [("SLOBurn", "critical", "firing", INTERVAL)]
    critical = [a for a in result.alerts if a.severity is Severity.CRITICAL]
    assert [a.transition.value for a in critical] == ["firing", "resolved"]
    alerts_json = result.as_dict()["alerts"]
    assert isinstance(alerts_json, list) and alerts_json[:2] == [
        {"alertname": "SLOBurn", "severity": "critical", "transition": "firing",
         "at_seconds": INTERVAL},
        {"alertname": "SLOBurn", "severity": "critical", "transition": "resolved",
         "at_seconds": critical[1].at},
    ]  # fmt: skip


async def test_the_gap_scenario_defaults_to_just_longer_than_the_shortest_window() -> None:
    assert parse_scenario("gap", error_budget=0.001) == Scenario(
        "gap", 1.0, 5 * 60 + 3601 + 10 * 60, rate=2.0, gap=3601.0, gap_at=300.0
    )
    assert parse_scenario("outage:gap=2m", error_budget=0.001).gap == 120.0
    with pytest.raises(ValueError, match="gap_at has a bad value"):
        parse_scenario("gap:gap_at=later", error_budget=0.001)
