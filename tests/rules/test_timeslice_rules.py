"""The rules of a time-slice SLO count slices as the daemon does: ``promtool test rules`` runs
the compiled records on series whose values are fed to the embedded source too, and the record
of each window holds the embedded source's bad slices / slices."""

from __future__ import annotations

import asyncio
import math
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from sloguard import conventions as c
from sloguard.durations import DAY, HOUR, MINUTE
from sloguard.rules.budgetnotes import budget_notes, promtool_note
from sloguard.rules.compiler import compile_groups, render, rule_file
from sloguard.slo.budget import Policy, Severity, Tier
from sloguard.slo.calendar import Calendar, CalendarUnit
from sloguard.slo.spec import SLO, Budgeting, BudgetingMethod
from sloguard.sources.embedded import EmbeddedSource
from tests.support.promserver import promtool_binary
from tests.support.slos import make_slo

MINUTES = 180


def _errors(minute: int) -> int:
    """Errors in the minute ending at ``minute``: 3 a minute in minutes 61-80 (4.8 % of 63,
    bad slices), 1 every tenth minute (1.6 %, bad too), else none."""
    if 61 <= minute <= 80:
        return 3
    return 1 if minute % 10 == 0 else 0


def _values() -> tuple[list[float], list[float]]:
    good, bad, goods, bads = 0.0, 0.0, [0.0], [0.0]
    for minute in range(1, MINUTES + 1):
        good, bad = good + 60, bad + _errors(minute)
        goods.append(good)
        bads.append(bad)
    return goods, bads


def _slo(method: BudgetingMethod, period: float = 30 * DAY) -> SLO:
    objective = 0.99 if method is BudgetingMethod.TIMESLICES else None
    return replace(
        make_slo("minutes", objective=0.99, period=period),
        budgeting=Budgeting(method, MINUTE, objective),
    )


def _short(method: BudgetingMethod) -> SLO:
    """A 2-hour SLO with one 1h/5m tier: promtool's unit tests load at most 10 000 samples per
    query, far fewer than 30 days of 1-minute slices (a real Prometheus allows 50 million)."""
    slo = _slo(method, period=2 * HOUR)
    policy = Policy("short", (Tier(Severity.CRITICAL, HOUR, 5 * MINUTE, 14.4),))
    return replace(slo, alerting=replace(slo.alerting, policy=policy))


class _Counters(Collector):
    def __init__(self) -> None:
        self.good = self.bad = 0.0

    def collect(self) -> list[Metric]:
        m = Metric("agent_calls", "calls", "counter")
        m.add_sample(c.AGENT_CALLS, {"agent_name": "a", "status": "success"}, self.good)
        m.add_sample(c.AGENT_CALLS, {"agent_name": "a", "status": "error"}, self.bad)
        return [m]


async def _embedded_ratios(slo: SLO, at: float) -> dict[float, float]:
    goods, bads = _values()
    counters = _Counters()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(counters)
    src = EmbeddedSource(registry, [slo], interval=MINUTE)
    for i, (g, b) in enumerate(zip(goods, bads, strict=True)):
        counters.good, counters.bad = g, b
        src.sample(i * MINUTE)
    out = {}
    for window in (5 * MINUTE, HOUR, 2 * HOUR):
        counts = (await src.window_counts(slo, window, at))[()]
        assert counts.error_ratio is not None
        out[window] = counts.error_ratio
    await src.aclose()
    return out


def _nano(value: float) -> float:
    """PromQL's ``round(value, 1e-9)`` (Prometheus multiplies and divides by ``1 / 1e-9``)."""
    inverse = 1.0 / 1e-9
    return math.floor(value * inverse + 0.5) / inverse


def _series(values: list[float]) -> str:
    return " ".join(f"{v:g}" for v in values)


@pytest.mark.e2e
@pytest.mark.parametrize("method", [BudgetingMethod.TIMESLICES, BudgetingMethod.RATIO_TIMESLICES])
async def test_slice_records_equal_the_embedded_slices(
    tmp_path: Path, method: BudgetingMethod
) -> None:
    promtool = promtool_binary()
    slo = _short(method)
    at = 90 * MINUTE
    want = await _embedded_ratios(slo, at)
    if method is BudgetingMethod.TIMESLICES:  # minutes 31-90: 20 + 4 bad slices of 60
        assert want[HOUR] == 24 / 60
    (tmp_path / "rules.yaml").write_text(render(rule_file(compile_groups([slo]))), "utf-8")
    goods, bads = _values()
    labels, part = 'agent_name="a"', 'sloguard_slo="minutes"'
    tests = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": f'{c.AGENT_CALLS}{{{labels},status="{s}"}}', "values": _series(v)}
                    for s, v in (("success", goods), ("error", bads))
                ],
                "promql_expr_test": [
                    {
                        # to 1e-9: sums of ratios differ in the last bit by summation order
                        "expr": f"round(max(slo:sli_error:ratio_rate{w}{{{part}}}), 1e-9)",
                        "eval_time": "90m",
                        "exp_samples": [{"labels": "{}", "value": _nano(want[seconds])}],
                    }
                    for w, seconds in (("5m", 5 * MINUTE), ("1h", HOUR), ("2h", 2 * HOUR))
                ],
            }
        ],
    }
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests), "utf-8")
    done = await asyncio.to_thread(
        subprocess.run,
        [promtool, "test", "rules", "tests.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_calendar_and_slice_slos_are_noted_in_the_rules_header() -> None:
    monthly = replace(make_slo("monthly"), calendar=Calendar(CalendarUnit.MONTH, "Europe/Berlin"))
    notes = budget_notes([monthly, _slo(BudgetingMethod.TIMESLICES), make_slo("plain")])
    assert notes == [
        "SLO 'monthly': a month in Europe/Berlin cannot be a PromQL range (ranges are fixed "
        "durations): its period records cover the last 30d, rolling; the daemon's budget resets "
        "at each month's start (the alerts' windows are rolling in both)",
        "SLO 'minutes': timeslices of 1m: window records count slices with subqueries; the "
        "period record evaluates 43,200 slices at every rule evaluation",
    ]


def test_promtool_cannot_test_thirty_days_of_minute_slices() -> None:
    assert promtool_note([_short(BudgetingMethod.TIMESLICES), make_slo("plain")]) is None
    assert promtool_note([_slo(BudgetingMethod.TIMESLICES)]) == (
        "no promtool tests: promtool loads at most 10,000 samples a query and SLO 'minutes' has "
        "43,200 slices in its 30d window (at most 1,000 can be tested)"
    )
