"""Issue 14 acceptance: sloguard's rules for a Sloth SLO fire at the same times as the rules
``sloth generate`` writes for it.

Sloth is a Go program we do not run here, so :func:`sloth_rule_file` writes, from Sloth's
documented generator (its ``internal/prometheus`` recording and alert templates and its
``examples/_gen`` output, read in its repository), the rule file Sloth generates for
:data:`SLOTH_SPEC`: the ``slo:sli_error:ratio_rate<W>`` records (``error_query / total_query`` at
5m … 3d; 30d as the average of the 5m ratios), the metadata records, and the page (1h & 5m at
14.4, 6h & 30m at 6) and ticket (1d & 2h at 3, 3d & 6h at 1) alerts in Sloth's shape
``max(… > (14.4 * 0.005)) without (sloth_window)``.

The same document is loaded through sloguard (:func:`sloguard.slo.loader.check_slo_text`, a Sloth
``prometheus/v1`` doc) and compiled by :mod:`sloguard.rules.compiler`. The expected alert times
come from sloguard's ``rules --tests`` machinery: :func:`sloguard.rules.simulate.simulate` runs the
scenario through the real embedded source and evaluator, and the test series are those of
:mod:`sloguard.rules.promtool`. Then the **same input series and eval times** run in promtool
against both rule files, each expecting its own alert labels: the page and ticket alerts fire
and resolve at exactly the same evaluations (checked at every rule evaluation from the incident
until every tier has reset).

Sloth's alerts are a rule group of their own reading the records of another; promtool runs the
groups in random order unless told (``group_eval_order``), so the comparison runs Sloth's records
first, the best case. In Prometheus each group runs on its own schedule, and Sloth's alerts may
read the previous evaluation's records: then they fire and resolve one rule evaluation later
than sloguard's, whose records and alerts share one group
(:func:`test_sloths_alerts_lag_one_evaluation_when_their_group_runs_first`).

What else differs, and why the alerts do not care:

- sloguard reads Sloth's ``rate(x[{{.window}}])`` as ``increase(x[W])`` (counts, for its
  low-traffic guard): ``increase`` is ``rate`` times the range, so every ratio is the same;
- sloguard also requires the events a tier needs in its long window (``slo:sli_total:increase*``,
  e.g. 200 in 3 days at 99.5 %); at 10 calls/s that guard is always met here;
- the error budget is written ``1 - 0.995`` = 0.0050000000000000044 by sloguard and
  ``(100 - 99.5) / 100`` = 0.005 by Sloth: thresholds differ by 4e-18, below any ratio of whole
  events here;
- the 30-day ratio (read by the period burn rate and the remaining budget, never by an alert) is
  Sloth's mean of the 5-minute ratios and sloguard's bad / total over 30 days: equal under
  steady traffic, different when traffic varies
  (:func:`test_the_period_ratio_differs_only_when_traffic_varies`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from sloguard.durations import DAY, HOUR, MINUTE, format_duration
from sloguard.rules.compiler import alert_annotations, compile_groups, render, rule_file
from sloguard.rules.expectations import Grid, Run
from sloguard.rules.promtool import expanding, input_series
from sloguard.rules.scenarios import Scenario, parse_scenario
from sloguard.rules.simulate import simulate
from sloguard.rules.sloth import alert_labels
from sloguard.slo.budget import Severity
from sloguard.slo.loader import check_slo_text
from sloguard.slo.spec import SLI, SLO, SLIKind
from tests.support.promserver import promtool_binary

SERVICE = "agents"
NAME = "checkout-availability"
ALERT = "CheckoutAvailabilityBurn"
ERROR_QUERY = 'sum(rate(agent_calls_total{agent_name="checkout",status="error"}[{{.window}}]))'
TOTAL_QUERY = 'sum(rate(agent_calls_total{agent_name="checkout"}[{{.window}}]))'
#: Our own Sloth ``prometheus/v1`` spec (not Sloth's example): the SDK's call counter.
SLOTH_SPEC = f"""\
version: prometheus/v1
service: {SERVICE}
labels:
  owner: ai-platform
  tier: "2"
slos:
  - name: {NAME}
    objective: 99.5
    description: Checkout agent calls succeed.
    sli:
      events:
        error_query: '{ERROR_QUERY}'
        total_query: '{TOTAL_QUERY}'
    alerting:
      name: {ALERT}
      labels:
        team: checkout
      annotations:
        summary: Checkout agent calls are failing
      page_alert:
        labels:
          severity: pageteam
      ticket_alert:
        labels:
          severity: slack
"""
OBJECTIVE = 99.5
SPEC_LABELS = {"owner": "ai-platform", "tier": "2"}
ALERT_LABELS = {"team": "checkout"}
ALERT_ANNOTATIONS = {"summary": "Checkout agent calls are failing"}
IDENT = {"sloth_id": f"{SERVICE}-{NAME}", "sloth_service": SERVICE, "sloth_slo": NAME}
#: Sloth's windows (a 30-day SLO) and its two alerts: (sloth severity, severity label, tiers).
WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
SLOTH_ALERTS = (
    ("page", "pageteam", (("5m", "1h", 14.4), ("30m", "6h", 6.0))),
    ("ticket", "slack", (("2h", "1d", 3.0), ("6h", "3d", 1.0))),
)
SLOTH_SEVERITY = {Severity.CRITICAL: "page", Severity.WARNING: "ticket"}
STEP = 5 * MINUTE  # the series interval and Prometheus's rule interval (as for any 30-day SLO)
LEAD = 3 * DAY  # baseline traffic for the longest window before the incident
SCENARIOS = ("outage:ratio=1,duration=30m", "outage:ratio=0.1,duration=4h")
Doc = dict[str, Any]


# --- Sloth's rule file, written from its generator's structure -----------------------------------
def _filter() -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(IDENT.items())) + "}"


def _sloth_float(value: float) -> str:
    """Go's ``%v`` / ``%g`` of a float64 (shortest round-trip), as Sloth's templates print it."""
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def sloth_groups() -> list[str]:
    """Sloth's three rule groups of the SLO: SLI records, metadata records, alerts."""
    ident = f"{SERVICE}-{NAME}"
    return [f"sloth-slo-{part}-{ident}" for part in ("sli-recordings", "meta-recordings", "alerts")]


def sloth_rule_file() -> Doc:
    """What ``sloth generate`` writes for :data:`SLOTH_SPEC` (three groups, Sloth's names)."""
    labels = {**SPEC_LABELS, **IDENT}
    records: list[Doc] = []
    for w in WINDOWS:
        expr = f"({ERROR_QUERY})\n/\n({TOTAL_QUERY})\n".replace("{{.window}}", w)
        records.append(
            {
                "record": f"slo:sli_error:ratio_rate{w}",
                "expr": expr,
                "labels": {**labels, "sloth_window": w},
            }
        )
    five = f"slo:sli_error:ratio_rate5m{_filter()}"
    records.append(
        {
            "record": "slo:sli_error:ratio_rate30d",
            "expr": f"sum_over_time({five}[30d])\n/ ignoring (sloth_window)\n"
            f"count_over_time({five}[30d])\n",
            "labels": {"sloth_window": "30d"},
        }
    )
    objective = OBJECTIVE / 100
    on = "/ on(sloth_id, sloth_slo, sloth_service) group_left"
    budget_of = f"{on}\nslo:error_budget:ratio{_filter()}\n"
    meta: list[Doc] = [
        {"record": "slo:objective:ratio", "expr": f"vector({_sloth_float(objective)})"},
        {"record": "slo:error_budget:ratio", "expr": f"vector(1-{_sloth_float(objective)})"},
        {"record": "slo:time_period:days", "expr": "vector(30)"},
        {"record": "slo:current_burn_rate:ratio", "expr": f"{five}\n{budget_of}"},
        {
            "record": "slo:period_burn_rate:ratio",
            "expr": f"slo:sli_error:ratio_rate30d{_filter()}\n{budget_of}",
        },
        {
            "record": "slo:period_error_budget_remaining:ratio",
            "expr": f"1 - slo:period_burn_rate:ratio{_filter()}",
        },
    ]
    for rule in meta:
        rule["labels"] = dict(labels)
    info = {"sloth_mode": "cli-gen-prom", "sloth_spec": "prometheus/v1", "sloth_version": "test"}
    meta.append({"record": "sloth_slo_info", "expr": "vector(1)", "labels": {**labels, **info}})
    alerts = [_sloth_alert(a) for a in SLOTH_ALERTS]
    names = sloth_groups()
    return {
        "groups": [
            {"name": name, "rules": rules}
            for name, rules in zip(names, (records, meta, alerts), strict=True)
        ]
    }


def _sloth_alert(alert: tuple[str, str, tuple[tuple[str, str, float], ...]]) -> Doc:
    sloth_severity, severity, tiers = alert
    budget = _sloth_float((100 - OBJECTIVE) / 100)

    def above(window: str, factor: float) -> str:
        ratio = f"slo:sli_error:ratio_rate{window}{_filter()}"
        return f"max({ratio} > ({_sloth_float(factor)} * {budget})) without (sloth_window)"

    pairs = [f"(\n    {above(s, f)}\n    and\n    {above(lw, f)}\n)" for s, lw, f in tiers]
    title = (
        f"({sloth_severity}) {{{{$labels.sloth_service}}}} {{{{$labels.sloth_slo}}}} SLO error "
        "budget burn rate is too fast."
    )
    return {
        "alert": ALERT,
        "expr": "\nor\n".join(pairs) + "\n",
        "labels": {**ALERT_LABELS, "severity": severity, "sloth_severity": sloth_severity},
        "annotations": {"title": title, **ALERT_ANNOTATIONS},
    }


def sloth_alert(severity: Severity) -> Doc:
    """The labels and (expanded) annotations of Sloth's firing alert of ``severity``."""
    sloth_severity = SLOTH_SEVERITY[severity]
    label = next(sev for name, sev, _ in SLOTH_ALERTS if name == sloth_severity)
    labels = {
        **SPEC_LABELS,
        **IDENT,
        **ALERT_LABELS,
        "severity": label,
        "sloth_severity": sloth_severity,
    }
    title = f"({sloth_severity}) {SERVICE} {NAME} SLO error budget burn rate is too fast."
    return {
        "exp_labels": dict(sorted(labels.items())),
        "exp_annotations": {"title": title, **ALERT_ANNOTATIONS},
    }


# --- sloguard's side -----------------------------------------------------------------------------
def loaded() -> SLO:
    """:data:`SLOTH_SPEC` as sloguard reads it."""
    check = check_slo_text(SLOTH_SPEC, "checkout.sloth.yaml", resolution=60.0)
    assert not check.problems, [str(p) for p in check.problems]
    (slo,) = check.raise_for_problems().slos
    return slo


def twin(slo: SLO) -> SLO:
    """``slo`` with the built-in SLI its queries spell (``simulate`` feeds only sloguard's own
    metrics): ``success_rate`` of the checkout agent, everything else equal."""
    return dataclasses.replace(
        slo, sli=SLI(kind=SLIKind.SUCCESS_RATE), selector={"agent_name": "checkout"}
    )


def sloguard_alert(slo: SLO, severity: Severity) -> Doc:
    return {
        "exp_labels": alert_labels(slo, severity),
        "exp_annotations": alert_annotations(slo, template_safe=False),
    }


def _counts(scenario: Scenario, steps: int) -> list[tuple[int, int]]:
    """(good, bad) so far at every step: whole events, ``rate * STEP`` per step."""
    good = bad = 0
    out = [(0, 0)]
    for k in range(1, steps + 1):
        rate, ratio = scenario.at((k - 1) * STEP - LEAD)
        events = round(rate * STEP)
        failed = round(events * ratio)
        good, bad = good + events - failed, bad + failed
        out.append((good, bad))
    return out


async def _run(slo: SLO, scenario: Scenario) -> Run:
    result = await simulate(slo, scenario, interval=STEP, uniform=True)
    watch = 1.5 * max(t.short_window for t in slo.alerting.policy.tiers)
    return Run(slo, result, scenario.duration, scenario.duration + watch)


def firing_times(run: Run, grid: Grid) -> list[tuple[float, tuple[Severity, ...]]]:
    """Every rule evaluation from the incident's start until every tier has reset, with the
    severities simulate says fire there."""
    out = []
    x = 0.0
    while x <= run.horizon + 1e-9:
        states = {s: run.firing(s, x) for s in Severity}
        assert None not in states.values(), f"simulate cannot tell at {x}"
        out.append((x, tuple(s for s in Severity if states[s])))
        x += grid.every
    return out


def promtool_doc(
    slo: SLO,
    scenario: Scenario,
    times: Sequence[tuple[float, tuple[Severity, ...]]],
    expect: Mapping[Severity, Doc],
    rule_files: Sequence[str],
    order: Sequence[str] = (),
) -> Doc:
    """A promtool test of ``rule_files``: the scenario's series, ``expect``-ed alerts at
    ``times``; ``order`` is the order its rule groups evaluate in at one timestamp (promtool's
    ``group_eval_order``; without it, groups run in random order)."""
    grid = Grid(LEAD, STEP)
    steps = round((LEAD + times[-1][0]) / STEP) + 1
    counts = _counts(scenario, steps)
    inputs = [
        {"series": s.selector(), "values": expanding([g * s.good + b * s.bad for g, b in counts])}
        for s in input_series(slo)
    ]
    cases = []
    for x, severities in times:
        case: Doc = {"eval_time": grid.text(x), "alertname": ALERT}
        if severities:
            alerts = [expect[s] for s in severities]
            case["exp_alerts"] = sorted(alerts, key=lambda a: sorted(a["exp_labels"].items()))
        cases.append(case)
    return {
        "rule_files": list(rule_files),
        "evaluation_interval": format_duration(STEP),
        "tests": [
            {
                "name": scenario.label(),
                "interval": format_duration(STEP),
                "input_series": inputs,
                "alert_rule_test": cases,
            }
        ],
        **({"group_eval_order": list(order)} if order else {}),
    }


def _promtool(tmp_path: Path, test_file: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool_binary(), "test", "rules", test_file],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


# --- the tests -----------------------------------------------------------------------------------
def test_sloguard_reads_the_sloth_spec_with_sloths_tiers_and_alert_name() -> None:
    slo = loaded()
    assert slo.name == f"{SERVICE}-{NAME}"
    assert slo.alerting.name == ALERT
    assert slo.sli.kind is SLIKind.RATIO
    tiers = {
        (t.severity, format_duration(t.short_window), format_duration(t.long_window), t.factor)
        for t in slo.alerting.policy.tiers
    }
    sloth = {
        (s, short, long, factor)
        for (_, _, pairs), s in zip(SLOTH_ALERTS, Severity, strict=True)
        for short, long, factor in pairs
    }
    assert tiers == sloth


def test_the_scenarios_page_and_ticket_and_both_resolve() -> None:
    """The input must exercise both alerts firing and resolving, or the comparison is empty."""
    slo = twin(loaded())
    for text in SCENARIOS:
        scenario = parse_scenario(text, error_budget=slo.error_budget)
        times = firing_times(asyncio.run(_run(slo, scenario)), Grid(LEAD, STEP))
        for severity in Severity:
            fired = [x for x, sev in times if severity in sev]
            assert fired, (text, severity)
            assert fired[-1] < times[-1][0], (text, severity, "never resolves")
        assert times[0][1] == ()


@pytest.mark.e2e  # promtool
@pytest.mark.parametrize("text", SCENARIOS)
def test_sloth_and_sloguard_rules_fire_at_the_same_evaluations(tmp_path: Path, text: str) -> None:
    slo = loaded()
    sim = twin(slo)
    scenario = parse_scenario(text, error_budget=slo.error_budget)
    times = firing_times(asyncio.run(_run(sim, scenario)), Grid(LEAD, STEP))
    (tmp_path / "sloguard.rules.yaml").write_text(
        render(rule_file(compile_groups([slo]))), encoding="utf-8"
    )
    (tmp_path / "sloth.rules.yaml").write_text(render(sloth_rule_file()), encoding="utf-8")
    ours = {s: sloguard_alert(slo, s) for s in Severity}
    theirs = {s: sloth_alert(s) for s in Severity}
    # Sloth's alerts read records of other groups: records first (see test_sloths_alerts_lag…)
    for name, expect, order in (("sloguard", ours, []), ("sloth", theirs, sloth_groups())):
        doc = promtool_doc(sim, scenario, times, expect, [f"{name}.rules.yaml"], order)
        (tmp_path / f"{name}.test.yaml").write_text(render(doc), encoding="utf-8")
        out = _promtool(tmp_path, f"{name}.test.yaml")
        assert out.returncode == 0, f"{name}: {out.stdout}{out.stderr}"
        assert "SUCCESS" in out.stdout


@pytest.mark.e2e  # promtool
def test_a_shifted_expectation_fails_against_sloths_rules(tmp_path: Path) -> None:
    """The comparison can fail: Sloth's rules do not page one evaluation before simulate does."""
    slo = loaded()
    sim = twin(slo)
    scenario = parse_scenario(SCENARIOS[0], error_budget=slo.error_budget)
    times = firing_times(asyncio.run(_run(sim, scenario)), Grid(LEAD, STEP))
    shifted = [(x - STEP, sev) for x, sev in times[1:]]
    (tmp_path / "sloth.rules.yaml").write_text(render(sloth_rule_file()), encoding="utf-8")
    theirs = {s: sloth_alert(s) for s in Severity}
    doc = promtool_doc(sim, scenario, shifted, theirs, ["sloth.rules.yaml"], sloth_groups())
    (tmp_path / "shifted.test.yaml").write_text(render(doc), encoding="utf-8")
    out = _promtool(tmp_path, "shifted.test.yaml")
    assert out.returncode != 0
    assert ALERT in out.stdout + out.stderr


@pytest.mark.e2e  # promtool
def test_sloths_alerts_lag_one_evaluation_when_their_group_runs_first(tmp_path: Path) -> None:
    """Sloth writes its alerts in a group of their own, reading the records of another group;
    Prometheus runs groups on their own schedules, so the alerts may read the records of the
    previous evaluation: they then fire and resolve one rule evaluation (5 minutes here) after
    sloguard's, whose records and alerts share one group (evaluated in order at one timestamp).
    Shown with the alert group first: every expected state moves one evaluation later."""
    slo = loaded()
    sim = twin(slo)
    scenario = parse_scenario(SCENARIOS[0], error_budget=slo.error_budget)
    times = firing_times(asyncio.run(_run(sim, scenario)), Grid(LEAD, STEP))
    late = [(0.0, ())] + [(x + STEP, sev) for x, sev in times]
    (tmp_path / "sloth.rules.yaml").write_text(render(sloth_rule_file()), encoding="utf-8")
    theirs = {s: sloth_alert(s) for s in Severity}
    alerts_first = sloth_groups()[::-1]
    doc = promtool_doc(sim, scenario, late, theirs, ["sloth.rules.yaml"], alerts_first)
    (tmp_path / "late.test.yaml").write_text(render(doc), encoding="utf-8")
    out = _promtool(tmp_path, "late.test.yaml")
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_period_ratio_differs_only_when_traffic_varies() -> None:
    """Sloth's 30-day ratio is the mean of the 5-minute ratios, sloguard's is bad / total.

    Steady traffic: a day at 10 calls/s with a 1 % error hour gives 1/24 % either way.
    Varying traffic: a night hour at 1 call/s, every call failing (3600 bad), while the other
    23 hours run at 10 calls/s without errors: bad / total = 3600 / 831600 = 0.433 % (the budget
    burnt by the errors users saw), the mean of 288 five-minute ratios = 12 × 1 / 288 = 4.17 %
    (every 5-minute ratio weighs the same, however few calls it had): Sloth's period burn rate is
    9.6 times sloguard's there. Alerts never read the 30-day ratio.
    """

    def both(buckets: Sequence[tuple[float, float]]) -> tuple[float, float]:
        bad = sum(b for b, _ in buckets)
        total = sum(t for _, t in buckets)
        return bad / total, sum(b / t for b, t in buckets) / len(buckets)

    per5m = 10 * 300.0
    steady = [(0.01 * per5m, per5m)] * 12 + [(0.0, per5m)] * 276
    pooled, mean = both(steady)
    assert pooled == pytest.approx(mean) == pytest.approx(0.01 / 24)
    night = [(300.0, 300.0)] * 12 + [(0.0, per5m)] * 276
    pooled, mean = both(night)
    assert pooled == pytest.approx(3600 / 831600)
    assert mean == pytest.approx(12 / 288)
    assert mean / pooled == pytest.approx(9.625)
    assert DAY == 288 * 300 and HOUR == 12 * 300
