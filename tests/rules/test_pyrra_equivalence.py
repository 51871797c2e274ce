"""Issue 14 acceptance: sloguard's rules for a Pyrra SLO fire when the rules Pyrra generates for
it do, apart from Pyrra's ``for:``, which is measured.

Pyrra is a Go program we do not run here, so :func:`pyrra_rule_file` writes, from Pyrra's
generator (``slo/rules.go``: ``IncreaseRules``, ``Burnrates``, ``Windows``; ``slo/slo.go``;
the expected rules of ``slo/rules_test.go``, read in its repository), what ``pyrra generate``
writes for :data:`PYRRA_SPEC`, our own ``ServiceLevelObjective`` (target 99.5, window 4w): the
``<name>-increase`` group (``agent_calls:increase4w``, ``sum by (status)`` of the total's
``increase`` over the window, and the ``SLOMetricAbsent`` alert) and the ``<name>`` group (the
``agent_calls:burnrate<W>`` records, ``sum(rate(errors[W])) / sum(rate(total[W]))``, and one
``ErrorBudgetBurn`` alert per window pair: labels ``short``, ``long``, ``severity``,
``exhaustion``, ``for:`` half the short window).

The same document is loaded through sloguard (:func:`sloguard.slo.loader.check_slo_text`): Pyrra's
windows become an inline policy, 14x over 1h/5m and 7x over 6h/30m (critical), 2x over 1d/2h
and 1x over 4d/6h (warning). The expected times come from ``sloguard simulate``
(:func:`sloguard.rules.simulate.simulate`, per tier), and the same input series run in promtool
(every 5 minutes, the series interval, from the incident until every tier has reset):

- **Pyrra without ``for:``** (its alert expressions, nothing else changed) fires and resolves
  every one of its four alerts at exactly the evaluations where simulate's tier fires, and
  sloguard's alert of each severity fires exactly while one of its tiers does: the same
  windows, factors, objective (``1-0.995`` is 0.0050000000000000044 in both files) and
  equivalent expressions (``rate`` is ``increase`` over the range, so each ratio is the same).
- **Pyrra verbatim:** sloguard drops Pyrra's ``for:`` (with a notice), so each Pyrra alert fires
  ``for`` later, rounded up to the evaluation interval (2m, 15m, 1h, 3h become 5m, 15m, 1h,
  3h at 5-minute evaluations), provided its condition holds that long; both resolve together
  (``for:`` never delays a resolution). In numbers (:func:`test_the_for_shift_in_numbers`),
  a 30-minute full outage at 10 calls/s pages at 5 min with sloguard and 10 min with Pyrra,
  both resolved at 1 h; sloguard warns from 15 min to 6 h 30 min, Pyrra from 1 h 15 min to
  2 h 30 min (its 1d/2h alert) and again from 3 h 30 min to 6 h 30 min (its 4d/6h alert burns
  from 30 min on but waits its 3 h ``for:``); a 4-hour outage at 10 % pages at 45 and 50 min
  (both resolved at 4 h 20 min) and warns at 2 h 25 min and 3 h 25 min (both resolved at
  5 h 50 min).
- **Counting:** Pyrra's ``agent_calls:increase4w`` (what its UI and generic rules read for the
  availability and error budget) counts the very events of sloguard's 28-day ratio: 18,000
  errors of 3,474,000 calls after the 30-minute outage (4 days of baseline), 0.518 % both.
  sloguard also wants enough events in a tier's long window (e.g. 14 in the hour at 14x);
  at 10 calls/s that is always met here.

Pyrra's records and alerts share one group, so unlike Sloth's there is no group-order lag.
Pyrra's groups say ``interval: 30s`` (``2m30s`` for the increases); here every group runs every
5 minutes, the series interval. At Pyrra's 30 s its ``for:`` costs 2 min (plus up to one
30-second evaluation) where it costs one 5-minute evaluation here. Pyrra raises one alert per
window pair (two when both critical pairs burn), sloguard one per severity.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import math
import subprocess
from collections.abc import Callable, Mapping, Sequence
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

NAME = "checkout-availability"
ALERT = "ErrorBudgetBurn"
SLOGUARD_ALERT = "SLOBurn"
ERRORS = 'agent_calls_total{agent_name="checkout",status="error"}'
TOTAL = 'agent_calls_total{agent_name="checkout"}'
#: Our own Pyrra SLO (not one of Pyrra's examples): the SDK's call counter, errors over total.
PYRRA_SPEC = f"""\
apiVersion: pyrra.dev/v1alpha1
kind: ServiceLevelObjective
metadata:
  name: {NAME}
  namespace: agents
  labels:
    pyrra.dev/team: checkout
    app.kubernetes.io/part-of: agents
  annotations:
    pyrra.dev/summary: Checkout agent calls are failing
spec:
  target: "99.5"
  window: 4w
  description: Checkout agent calls succeed.
  indicator:
    ratio:
      errors:
        metric: {ERRORS}
      total:
        metric: {TOTAL}
"""
PERIOD = 28 * DAY
#: Labels on every Pyrra rule: ``slo``, the ``pyrra.dev/`` labels, the total's ``=`` matchers.
RULE_LABELS = {"agent_name": "checkout", "slo": NAME, "team": "checkout"}
ANNOTATIONS = {"summary": "Checkout agent calls are failing"}
C, W = Severity.CRITICAL, Severity.WARNING


@dataclasses.dataclass(frozen=True)
class Window:
    """One of Pyrra's ``Windows()``; seconds."""

    severity: Severity
    wait: float  # for:
    long: float
    short: float
    factor: float


#: Pyrra's windows for 28 days, as its Test_windows states them.
WINDOWS = (
    Window(C, 2 * MINUTE, HOUR, 5 * MINUTE, 14),
    Window(C, 15 * MINUTE, 6 * HOUR, 30 * MINUTE, 7),
    Window(W, HOUR, DAY, 2 * HOUR, 2),
    Window(W, 3 * HOUR, 4 * DAY, 6 * HOUR, 1),
)
STEP = 5 * MINUTE  # the series interval and the rule evaluation interval of the comparison
LEAD = 4 * DAY  # baseline traffic for the longest window before the incident
SCENARIOS = ("outage:ratio=1,duration=30m", "outage:ratio=0.1,duration=4h")
Doc = dict[str, Any]


# --- Pyrra's rule file, written from its generator ------------------------------------------------
def model_duration(seconds: float) -> str:
    """Prometheus ``model.Duration.String()``: ``4w``, ``2w``, ``4d``, ``1h``, ``2m30s``
    (years and weeks only when exact)."""
    rest, out = int(seconds), ""
    for unit, size, exact in (
        ("y", 365 * DAY, True),
        ("w", 7 * DAY, True),
        ("d", DAY, False),
        ("h", HOUR, False),
        ("m", MINUTE, False),
        ("s", 1, False),
    ):
        if (exact and rest % size) or rest < size:
            continue
        out += f"{rest // int(size)}{unit}"
        rest %= int(size)
    return out or "0s"


def go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String()`` for whole minutes: ``2m0s``, ``1h0m0s``."""
    hours, minutes = divmod(int(seconds) // 60, 60)
    return f"{hours}h{minutes}m0s" if hours else f"{minutes}m0s"


def burnrate(window: float) -> str:
    return f"agent_calls:burnrate{model_duration(window)}"


def _pyrra_alert_rule(w: Window, hold: bool) -> Doc:
    select = ",".join(f'{k}="{v}"' for k, v in sorted(RULE_LABELS.items()) if k != "team")
    above = f"> ({w.factor:.0f} * (1-0.995))"  # Go's %.f of the factor, FormatFloat of the target
    rule: Doc = {
        "alert": ALERT,
        "expr": f"{burnrate(w.short)}{{{select}}} {above} and {burnrate(w.long)}{{{select}}} "
        f"{above}",
    }
    if hold:
        rule["for"] = go_duration(w.wait)
    rule["labels"] = {**RULE_LABELS, **tier_labels(w)}
    rule["annotations"] = dict(ANNOTATIONS)
    return rule


def tier_labels(w: Window) -> dict[str, str]:
    return {
        "exhaustion": model_duration(PERIOD / w.factor),
        "long": model_duration(w.long),
        "severity": w.severity.value,
        "short": model_duration(w.short),
    }


def pyrra_rule_file(*, hold: bool = True) -> Doc:
    """What ``pyrra generate`` writes for :data:`PYRRA_SPEC`; ``hold=False`` drops ``for:``."""
    absent_for = round((int(14 * (1 - 0.995) * HOUR) + 2 * MINUTE) / MINUTE) * MINUTE
    increase = [
        {
            "record": "agent_calls:increase4w",
            "expr": f"sum by (status) (increase({TOTAL}[4w]))",
            "labels": dict(RULE_LABELS),
        },
        {
            "alert": "SLOMetricAbsent",
            "expr": f"absent({TOTAL}) == 1",
            "for": model_duration(absent_for),
            "labels": {**RULE_LABELS, "severity": "critical"},
            "annotations": dict(ANNOTATIONS),
        },
    ]
    windows = sorted({x for w in WINDOWS for x in (w.short, w.long)})
    rules: list[Doc] = [
        {
            "record": burnrate(x),
            "expr": f"sum(rate({ERRORS}[{model_duration(x)}])) / "
            f"sum(rate({TOTAL}[{model_duration(x)}]))",
            "labels": dict(RULE_LABELS),
        }
        for x in windows
    ]
    rules += [_pyrra_alert_rule(w, hold) for w in WINDOWS]
    return {
        "groups": [
            {"name": f"{NAME}-increase", "interval": "2m30s", "rules": increase},
            {"name": NAME, "interval": "30s", "rules": rules},
        ]
    }


def pyrra_alert(w: Window) -> Doc:
    labels = {**RULE_LABELS, **tier_labels(w)}
    return {"exp_labels": dict(sorted(labels.items())), "exp_annotations": dict(ANNOTATIONS)}


# --- sloguard's side and the expected times -------------------------------------------------------
def loaded() -> SLO:
    check = check_slo_text(PYRRA_SPEC, "checkout.pyrra.yaml", resolution=60.0)
    assert not check.problems, [str(p) for p in check.problems]
    (slo,) = check.raise_for_problems().slos
    return slo


def twin(slo: SLO) -> SLO:
    """``slo`` with the built-in SLI its selectors spell, for ``simulate``."""
    return dataclasses.replace(
        slo, sli=SLI(kind=SLIKind.SUCCESS_RATE), selector={"agent_name": "checkout"}
    )


def sloguard_alert(slo: SLO, severity: Severity) -> Doc:
    return {
        "exp_labels": alert_labels(slo, severity),
        "exp_annotations": alert_annotations(slo, template_safe=False),
    }


@functools.cache
def run_of(text: str) -> Run:
    """simulate's run of a scenario (cached: runs are immutable)."""
    slo = twin(loaded())
    scenario = parse_scenario(text, error_budget=slo.error_budget)
    result = asyncio.run(simulate(slo, scenario, interval=STEP, uniform=True))
    watch = 1.5 * max(t.short_window for t in slo.alerting.policy.tiers)
    return Run(slo, result, scenario.duration, scenario.duration + watch)


def evaluations(run: Run) -> list[float]:
    return [k * STEP for k in range(math.floor(run.horizon / STEP + 1e-9) + 1)]


def tier(run: Run, i: int, x: float) -> bool:
    """simulate's tier ``i`` at ``x``; before the incident (no errors) nothing fires."""
    if x < 0:
        return False
    state = run.tier_firing(i, x)
    assert state is not None, f"simulate cannot tell tier {i} at {x}"
    return state


def pyrra_fires(run: Run, i: int, x: float, *, hold: bool) -> bool:
    """Pyrra's alert of window ``i``: its condition true at this evaluation and, with ``for:``,
    at every evaluation back to ``for`` rounded up to the evaluation interval."""
    back = math.ceil(WINDOWS[i].wait / STEP - 1e-9) if hold else 0
    return all(tier(run, i, x - k * STEP) for k in range(back + 1))


def pyrra_severity_fires(run: Run, severity: Severity, x: float, *, hold: bool) -> bool:
    """Any of Pyrra's alerts of ``severity``."""
    return any(
        pyrra_fires(run, i, x, hold=hold) for i, w in enumerate(WINDOWS) if w.severity is severity
    )


def sloguard_fires(run: Run, severity: Severity, x: float) -> bool:
    state = run.firing(severity, x)
    assert state is not None
    return state


def pyrra_cases(run: Run, *, hold: bool) -> list[tuple[float, list[Doc]]]:
    return [
        (x, [pyrra_alert(w) for i, w in enumerate(WINDOWS) if pyrra_fires(run, i, x, hold=hold)])
        for x in evaluations(run)
    ]


def sloguard_cases(run: Run, slo: SLO) -> list[tuple[float, list[Doc]]]:
    return [
        (x, [sloguard_alert(slo, s) for s in Severity if sloguard_fires(run, s, x)])
        for x in evaluations(run)
    ]


def counts(scenario: Scenario, steps: int) -> list[tuple[int, int]]:
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


def alert_tests(name: str, cases: Sequence[tuple[float, list[Doc]]]) -> list[Doc]:
    grid = Grid(LEAD, STEP)
    out = []
    for x, alerts in cases:
        case: Doc = {"eval_time": grid.text(x), "alertname": name}
        if alerts:
            case["exp_alerts"] = sorted(alerts, key=lambda a: sorted(a["exp_labels"].items()))
        out.append(case)
    return out


def promtool_doc(
    run: Run,
    text: str,
    rule_files: Sequence[str],
    alerts: Mapping[str, Sequence[tuple[float, list[Doc]]]],
    exprs: Sequence[Doc] = (),
) -> Doc:
    """A promtool test of ``rule_files`` on the scenario's series: ``alerts`` by alert name."""
    scenario = parse_scenario(text, error_budget=run.slo.error_budget)
    steps = round((LEAD + evaluations(run)[-1]) / STEP) + 1
    so_far = counts(scenario, steps)
    inputs = [
        {"series": s.selector(), "values": expanding([g * s.good + b * s.bad for g, b in so_far])}
        for s in input_series(run.slo)
    ]
    test: Doc = {
        "name": text,
        "interval": format_duration(STEP),
        "input_series": inputs,
        "alert_rule_test": [c for name, cases in alerts.items() for c in alert_tests(name, cases)],
    }
    if exprs:
        test["promql_expr_test"] = list(exprs)
    return {
        "rule_files": list(rule_files),
        "evaluation_interval": format_duration(STEP),
        "tests": [test],
    }


def counting_tests(run: Run, text: str) -> list[Doc]:
    """Pyrra's 4w increases and sloguard's 28-day ratio at the incident's end: the same events."""
    scenario = parse_scenario(text, error_budget=run.slo.error_budget)
    step = round((LEAD + run.duration) / STEP)
    good, bad = counts(scenario, step)[step]
    at = Grid(LEAD, STEP).text(run.duration)
    labels = ",".join(f'{k}="{v}"' for k, v in sorted(RULE_LABELS.items()))
    return [
        {
            "expr": "agent_calls:increase4w",
            "eval_time": at,
            "exp_samples": [
                {"labels": f'agent_calls:increase4w{{{labels},status="{status}"}}', "value": n}
                for status, n in (("error", bad), ("success", good))
            ],
        },
        {
            "expr": f'sum(agent_calls:increase4w{{slo="{NAME}",status="error"}}) / '
            f'sum(agent_calls:increase4w{{slo="{NAME}"}})',
            "eval_time": at,
            "exp_samples": [{"labels": "{}", "value": bad / (good + bad)}],
        },
        {
            "expr": f'sum(slo:sli_error:ratio_rate28d{{sloguard_slo="{NAME}"}})',
            "eval_time": at,
            "exp_samples": [{"labels": "{}", "value": bad / (good + bad)}],
        },
    ]


def _promtool(tmp_path: Path, name: str, doc: Doc) -> subprocess.CompletedProcess[str]:
    (tmp_path / f"{name}.test.yaml").write_text(render(doc), encoding="utf-8")
    return subprocess.run(
        [promtool_binary(), "test", "rules", f"{name}.test.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _write_rules(tmp_path: Path, slo: SLO) -> None:
    (tmp_path / "sloguard.rules.yaml").write_text(
        render(rule_file(compile_groups([slo]))), encoding="utf-8"
    )
    (tmp_path / "pyrra.rules.yaml").write_text(render(pyrra_rule_file()), encoding="utf-8")
    (tmp_path / "pyrra-nofor.rules.yaml").write_text(
        render(pyrra_rule_file(hold=False)), encoding="utf-8"
    )


def spans(run: Run, fires: Callable[[float], bool]) -> list[tuple[float, float]]:
    """The stretches (first evaluation firing, first evaluation resolved) of ``fires(x)``."""
    out: list[tuple[float, float]] = []
    start = None
    for x in evaluations(run):
        if fires(x) and start is None:
            start = x
        elif not fires(x) and start is not None:
            out.append((start, x))
            start = None
    assert start is None, "still firing at the horizon"
    return out


# --- the tests ------------------------------------------------------------------------------------
def test_the_go_durations_print_as_pyrra_writes_them() -> None:
    assert [model_duration(PERIOD / w.factor) for w in WINDOWS] == ["2d", "4d", "2w", "4w"]
    assert [go_duration(w.wait) for w in WINDOWS] == ["2m0s", "15m0s", "1h0m0s", "3h0m0s"]
    assert model_duration(150) == "2m30s"
    assert model_duration(4 * DAY) == "4d"


def test_sloguard_reads_the_pyrra_slo_with_pyrras_windows_and_says_it_drops_for() -> None:
    check = check_slo_text(PYRRA_SPEC, "checkout.pyrra.yaml", resolution=60.0)
    slo = loaded()
    assert (slo.name, slo.objective, slo.period) == (NAME, 0.995, PERIOD)
    assert slo.error_budget == 1 - 0.995
    tiers = [
        (t.severity, t.long_window, t.short_window, t.factor) for t in slo.alerting.policy.tiers
    ]
    assert tiers == [(w.severity, w.long, w.short, w.factor) for w in WINDOWS]
    assert dict(slo.alerting.labels) == {"team": "checkout"}
    assert dict(slo.alerting.annotations) == ANNOTATIONS
    notes = " ".join(str(n) for n in check.notices)
    assert "for: durations (2m, 15m, 1h, 3h) are not kept" in notes


def test_every_alert_of_both_fires_and_resolves_in_the_scenarios() -> None:
    """The input must exercise both severities firing and resolving, for sloguard and for Pyrra
    with and without ``for:``, or the comparison is empty."""
    for text in SCENARIOS:
        run = run_of(text)
        end = evaluations(run)[-1]
        for hold in (False, True):
            cases = pyrra_cases(run, hold=hold)
            assert cases[0][1] == [] and cases[-1][1] == [], (text, hold)
            for severity in Severity:
                fired = [
                    x for x in evaluations(run) if pyrra_severity_fires(run, severity, x, hold=hold)
                ]
                assert fired and fired[-1] < end, (text, hold, severity)
        for severity in Severity:
            assert not sloguard_fires(run, severity, 0.0)
            assert not sloguard_fires(run, severity, end)
            assert any(sloguard_fires(run, severity, x) for x in evaluations(run))


def test_without_for_pyrras_severities_fire_exactly_when_sloguards_do() -> None:
    for text in SCENARIOS:
        run = run_of(text)
        for x in evaluations(run):
            pyrra = {s for s in Severity if pyrra_severity_fires(run, s, x, hold=False)}
            assert pyrra == {s for s in Severity if sloguard_fires(run, s, x)}, (text, x)


def test_the_for_shift_in_numbers() -> None:
    """Per severity, sloguard's and Pyrra's (verbatim) firing stretches, in minutes after the
    incident start. Pyrra's warning after the 30-minute outage resolves at 2 h 30 min (its
    1d/2h alert) and fires again at 3 h 30 min: its 4d/6h alert burns from 30 min on but waits
    its 3 h ``for:``; sloguard's warning fires throughout."""
    found = {}
    for text in SCENARIOS:
        run = run_of(text)
        for severity in Severity:
            ours = spans(run, functools.partial(sloguard_fires, run, severity))
            theirs = spans(run, functools.partial(pyrra_severity_fires, run, severity, hold=True))
            found[text, severity.value] = [
                [(a / MINUTE, b / MINUTE) for a, b in side] for side in (ours, theirs)
            ]
    assert found == {
        (SCENARIOS[0], "critical"): [[(5, 60)], [(10, 60)]],
        (SCENARIOS[0], "warning"): [[(15, 390)], [(75, 150), (210, 390)]],
        (SCENARIOS[1], "critical"): [[(45, 260)], [(50, 260)]],
        (SCENARIOS[1], "warning"): [[(145, 350)], [(205, 350)]],
    }


@pytest.mark.e2e  # promtool
@pytest.mark.parametrize("text", SCENARIOS)
def test_pyrra_and_sloguard_rules_fire_at_the_same_evaluations(tmp_path: Path, text: str) -> None:
    """Pyrra without ``for:`` fires each tier where simulate does; verbatim, ``for`` later;
    sloguard's alerts (loaded next to Pyrra's verbatim rules) where simulate's severities do;
    Pyrra's 4w increases count sloguard's events."""
    slo = loaded()
    run = run_of(text)
    _write_rules(tmp_path, slo)
    bare = promtool_doc(
        run, text, ["pyrra-nofor.rules.yaml"], {ALERT: pyrra_cases(run, hold=False)}
    )
    out = _promtool(tmp_path, "nofor", bare)
    assert out.returncode == 0, f"Pyrra without for:\n{out.stdout}{out.stderr}"
    both = promtool_doc(
        run,
        text,
        ["pyrra.rules.yaml", "sloguard.rules.yaml"],
        {ALERT: pyrra_cases(run, hold=True), SLOGUARD_ALERT: sloguard_cases(run, slo)},
        counting_tests(run, text),
    )
    out = _promtool(tmp_path, "both", both)
    assert out.returncode == 0, f"Pyrra verbatim and sloguard:\n{out.stdout}{out.stderr}"
    assert "SUCCESS" in out.stdout


@pytest.mark.e2e  # promtool
def test_the_comparison_can_fail(tmp_path: Path) -> None:
    """Pyrra's verbatim rules do not fire at the times without ``for:``, and Pyrra's rules
    without ``for:`` do not fire one evaluation before simulate's tiers."""
    run = run_of(SCENARIOS[0])
    _write_rules(tmp_path, loaded())
    early = [(x - STEP, a) for x, a in pyrra_cases(run, hold=False)[1:]]
    for name, files, cases in (
        ("unheld", ["pyrra.rules.yaml"], pyrra_cases(run, hold=False)),
        ("early", ["pyrra-nofor.rules.yaml"], early),
    ):
        out = _promtool(tmp_path, name, promtool_doc(run, SCENARIOS[0], files, {ALERT: cases}))
        assert out.returncode != 0, name
        assert ALERT in out.stdout + out.stderr


def test_the_counting_numbers() -> None:
    """After the 30-minute outage: 18,000 errors of 3,474,000 calls (0.518 %) in both."""
    run = run_of(SCENARIOS[0])
    exprs = counting_tests(run, SCENARIOS[0])
    values = [s["value"] for e in exprs for s in e["exp_samples"]]
    assert values[:2] == [18_000, 3_456_000]
    assert values[2] == values[3] == pytest.approx(18_000 / 3_474_000)
    assert round(values[2] * 100, 3) == 0.518
