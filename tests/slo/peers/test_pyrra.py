"""Pyrra ServiceLevelObjectives (written for these tests from Pyrra's documented fields) load as
sloguard SLOs with Pyrra's own burn-rate tiers; every mistake is reported at the Pyrra file's
line and field; the SLOs compile to rules ``promtool check rules`` accepts; ``sloguard validate``
reads them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sloguard.cli import main
from sloguard.durations import DAY, HOUR, MINUTE
from sloguard.rules.compiler import compile_groups, render, rule_file
from sloguard.slo.budget import Severity, Tier
from sloguard.slo.loader import check_slo_file, check_slo_text
from sloguard.slo.peers.pyrrawindows import pyrra_tiers
from sloguard.slo.spec import SLO, SLIKind
from tests.support.promserver import promtool_binary

PATH = str(Path(__file__).resolve().parents[2] / "data" / "peers" / "pyrra" / "slos.yaml")
C, W = Severity.CRITICAL, Severity.WARNING
#: Pyrra's tiers for a 28-day window, as its slo/rules.go Windows() comments give them.
TIERS_28D = (
    Tier(C, 1 * HOUR, 5 * MINUTE, 14.0),
    Tier(C, 6 * HOUR, 30 * MINUTE, 7.0),
    Tier(W, 1 * DAY, 2 * HOUR, 2.0),
    Tier(W, 4 * DAY, 6 * HOUR, 1.0),
)


def slos() -> dict[str, SLO]:
    check = check_slo_file(PATH)
    assert check.problems == ()
    assert check.format == "Pyrra"
    assert check.slo_file is not None
    return {s.name: s for s in check.slo_file.slos}


def test_pyrra_windows_follow_the_slo_window() -> None:
    tiers = pyrra_tiers(28 * DAY)
    assert [(t.long, t.short, t.factor) for t in tiers] == [
        (t.long_window, t.short_window, t.factor) for t in TIERS_28D
    ]
    assert [t.wait for t in tiers] == [2 * MINUTE, 15 * MINUTE, 1 * HOUR, 3 * HOUR]
    # 30 days: W/672 = 64.3 minutes, rounded to the minute as Go's Duration.Round does
    assert pyrra_tiers(30 * DAY)[0].long == 64 * MINUTE


def test_every_indicator_loads() -> None:
    found = slos()
    assert list(found) == ["api-errors", "api-latency", "api-latency-native", "probe-success"]

    errors = found["api-errors"]
    assert (errors.objective, errors.period) == (0.995, 28 * DAY)
    assert errors.description == "The API answers without a server error."
    assert errors.sli.kind is SLIKind.RATIO
    assert errors.sli.bad == 'http_requests_total{job="api",code=~"5.."}'
    assert errors.sli.total == 'http_requests_total{job="api"}'
    assert errors.group_by == ("route",)
    assert errors.alerting.policy.tiers == TIERS_28D
    # only pyrra.dev/ labels and annotations propagate, without the prefix
    assert dict(errors.alerting.labels) == {"team": "platform"}
    assert dict(errors.alerting.annotations) == {"summary": "API requests fail"}

    latency = found["api-latency"]
    assert (latency.objective, latency.period) == (0.95, 14 * DAY)
    assert latency.sli.good == 'http_request_duration_seconds_bucket{job="api",le="0.5"}'
    assert latency.sli.total == 'http_request_duration_seconds_count{job="api"}'
    # 14 days: the 28-day windows halved and rounded to the minute (2.5m → 3m, as Go rounds)
    assert latency.alerting.policy.tiers == (
        Tier(C, 30 * MINUTE, 3 * MINUTE, 14.0),
        Tier(C, 3 * HOUR, 15 * MINUTE, 7.0),
        Tier(W, 12 * HOUR, 1 * HOUR, 2.0),
        Tier(W, 2 * DAY, 3 * HOUR, 1.0),
    )

    native = found["api-latency-native"]
    hist = 'sum by (route) (increase(http_request_duration_seconds{job="api"}[{{.window}}]))'
    assert native.sli.good == f"histogram_fraction(0, 0.25, {hist}) * histogram_count({hist})"
    assert native.sli.total == f"histogram_count({hist})"
    assert native.group_by == ("route",)

    gauge = found["probe-success"]
    assert gauge.sli.good == 'sum (sum_over_time(probe_success{job="blackbox"}[{{.window}}]))'
    assert gauge.sli.total == 'sum (count_over_time(probe_success{job="blackbox"}[{{.window}}]))'
    assert gauge.alerting.policy.tiers[0].long_window == 64 * MINUTE


def test_what_is_translated_differently_is_a_notice() -> None:
    notices = [str(n) for n in check_slo_file(PATH).notices]
    assert (
        f"{PATH}:15: document 1: spec.window: Pyrra's burn-rate tiers for a 28d window "
        "(14x over 1h/5m, 7x over 6h/30m, 2x over 1d/2h, 1x over 4d/6h) are kept as this "
        "SLO's inline policy; sloguard's default would be 14.4x over 56m/4m40s, 6x over "
        "5h36m/28m, 3x over 22h24m/1h52m, 1x over 2d19h12m/5h36m. Pyrra's for: durations "
        "(2m, 15m, 1h, 3h) are not kept: sloguard's tiers fire when both windows burn" in notices
    )
    assert (
        f"{PATH}:24: document 1: spec.alerting.name: sloguard names its burn alerts SLOBurn; "
        "'ApiErrorBudgetBurn' is not used" in notices
    )
    assert (
        f"{PATH}:41: document 2: spec.alerting: Pyrra's absent alert (SLOMetricAbsent) has "
        "no sloguard equivalent: an SLO whose metrics are missing shows state no_data instead; "
        "absentName and severities.absent are not used" in notices
    )
    assert (
        f"{PATH}:63: document 3: spec.partial_response_strategy: partial_response_strategy "
        "shapes how Pyrra writes its rule files; sloguard's rules do not use it" in notices
    )
    # absent: false in document 1: no absent notice there
    assert not any(n.startswith(f"{PATH}:26:") for n in notices)


def test_a_tier_that_can_never_fire_is_left_out_with_a_notice() -> None:
    check = check_slo_text(pyrra(target='"90"'), "p.yaml")
    assert check.slo_file is not None
    (slo,) = check.slo_file.slos
    assert slo.alerting.policy.tiers == TIERS_28D[1:]
    assert (
        "p.yaml:6: spec.target: Pyrra's fastBurn tier (14x) could never fire at target 90 % "
        "and is left out" in [str(n) for n in check.notices]
    )


BASE = """apiVersion: pyrra.dev/v1alpha1
kind: ServiceLevelObjective
metadata:
  name: api
spec:
  target: {target}
  window: {window}
  indicator:
{indicator}
{extra}"""
RATIO = """    ratio:
      errors:
        metric: http_requests_total{code=~"5.."}
      total:
        metric: http_requests_total"""


def pyrra(
    target: str = '"99.5"', window: str = "28d", indicator: str = RATIO, extra: str = ""
) -> str:
    text = BASE.replace("{target}", target).replace("{window}", window)
    return text.replace("{indicator}", indicator).replace("{extra}", extra)


MISTAKES = {
    "target as a number": (
        pyrra(target="99.5"),
        ['p.yaml:6: spec.target: must be a quoted string such as "99.5" (got 99.5)'],
    ),
    "target not a number": (
        pyrra(target='"high"'),
        ["p.yaml:6: spec.target: must be a percent such as \"99.5\" (got 'high')"],
    ),
    "target as a ratio": (
        pyrra(target='"0.995"'),
        [
            "p.yaml:6: spec.target: is a percent: 0.995 means 0.995 %; for 99.5 % write "
            "objective: 99.5 or target: 0.995 (sloguard field slos[0].objective)"
        ],
    ),
    "window not a duration": (
        pyrra(window="28 days"),
        [
            "p.yaml:7: spec.window: not a duration: '28 days' (use e.g. 30d, 6h, 5m, 1h30m) "
            "(sloguard field slos[0].period)"
        ],
    ),
    "window too short": (
        pyrra(window="1h"),
        [
            "p.yaml:7: spec.window: a 1h window is too short for Pyrra's burn-rate tiers: the "
            "shortest, window/8064, rounds to 0 minutes (Pyrra rounds to the minute); use a "
            "window of 3d or more"
        ],
    ),
    "missing total": (
        pyrra(indicator="    ratio:\n      errors:\n        metric: http_requests_total"),
        [
            "p.yaml:9: spec.indicator.ratio.total.metric: required field is missing: a PromQL "
            "selector"
        ],
    ),
    "not a selector": (
        pyrra(
            indicator="    ratio:\n      errors:\n        metric: sum(rate(x_total[5m]))\n"
            "      total:\n        metric: x_total"
        ),
        [
            "p.yaml:11: spec.indicator.ratio.errors.metric: an expression must use the window: "
            "write $window (or {{.window}}) as the range of its rate/increase, or give a plain "
            "counter selector (sloguard wraps it in increase(...[window])) (sloguard field "
            "slos[0].sli.bad)"
        ],
    ),
    "two indicators": (
        pyrra(indicator=RATIO + "\n    bool_gauge:\n      metric: up"),
        [
            "p.yaml:8: spec.indicator: give exactly one of ratio, latency, latencyNative or "
            "bool_gauge"
        ],
    ),
    "latency not a duration": (
        pyrra(indicator="    latencyNative:\n      latency: fast\n      total:\n        metric: x"),
        [
            "p.yaml:10: spec.indicator.latencyNative.latency: must be a duration such as 100ms "
            "or 1s (got 'fast')"
        ],
    ),
    "bool gauge of the wrong type": (
        pyrra(indicator="    bool_gauge:\n      metric: 3"),
        ["p.yaml:10: spec.indicator.bool_gauge.metric: must be a PromQL selector (got 3)"],
    ),
    "misspelt key": (
        pyrra(
            indicator="    ratio:\n      errors:\n        metrik: x_total\n"
            "      total:\n        metric: x_total"
        ),
        [
            "p.yaml:10: spec.indicator.ratio.errors.metric: required field is missing: a PromQL "
            "selector",
            "p.yaml:11: spec.indicator.ratio.errors.metrik: unknown key 'metrik' for Pyrra, did "
            "you mean 'metric'?",
        ],
    ),
    "alerts disabled": (
        pyrra(extra="  alerting:\n    disabled: true"),
        [
            "p.yaml:15: spec.alerting.disabled: disabling alerts cannot be represented: a "
            "sloguard SLO always alerts on burn rates; remove it, or route this SLO's alerts to "
            "no receiver in sloguard's routing file"
        ],
    ),
    "burn-rate alerts off": (
        pyrra(extra="  alerting:\n    burnrates: false"),
        [
            "p.yaml:15: spec.alerting.burnrates: burnrates: false cannot be represented: a "
            "sloguard SLO always alerts on burn rates; remove it, or route this SLO's alerts to "
            "no receiver in sloguard's routing file"
        ],
    ),
    "severity sloguard lacks": (
        pyrra(extra="  alerting:\n    severities:\n      fastBurn: page"),
        [
            "p.yaml:16: spec.alerting.severities.fastBurn: severity 'page' cannot be "
            "represented: sloguard's tiers are critical or warning"
        ],
    ),
    "absent not a boolean": (
        pyrra(extra="  alerting:\n    absent: maybe"),
        ["p.yaml:15: spec.alerting.absent: must be true or false (got 'maybe')"],
    ),
    "wrong kind, no name, no spec": (
        "apiVersion: pyrra.dev/v1alpha1\nkind: SLO\nspec: {}\n",
        [
            "p.yaml:1: metadata.name: required field is missing: the SLO's name",
            "p.yaml:2: kind: a Pyrra SLO has kind: ServiceLevelObjective (got 'SLO')",
            "p.yaml:3: spec: required field is missing: target, window and indicator",
        ],
    ),
}


@pytest.mark.parametrize("case", MISTAKES)
def test_every_mistake_is_reported_at_the_pyrra_line_and_field(case: str) -> None:
    text, expected = MISTAKES[case]
    check = check_slo_text(text, "p.yaml")
    assert [str(p) for p in check.problems] == expected
    assert check.slo_file is None


def test_a_mistake_in_a_later_document_names_it() -> None:
    text = pyrra() + "\n---\n" + pyrra(target="99").replace("name: api", "name: web")
    (problem,) = check_slo_text(text, "p.yaml").problems
    assert str(problem) == (
        'p.yaml:21: document 2: spec.target: must be a quoted string such as "99.5" (got 99)'
    )


def test_the_translated_slos_compile() -> None:
    groups = compile_groups(slos().values())
    assert {g["name"] for g in groups} >= {"sloguard-api-errors", "sloguard-probe-success"}
    text = render(rule_file(groups))
    assert 'sum by (route) (increase(http_requests_total{job="api"}[1h]))' in text


@pytest.mark.e2e
def test_promtool_accepts_the_compiled_rules(tmp_path: Path) -> None:
    path = tmp_path / "pyrra.rules.yaml"
    path.write_text(render(rule_file(compile_groups(slos().values()))), encoding="utf-8")
    done = subprocess.run(
        [promtool_binary(), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_sloguard_validate_reads_pyrra_objectives(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["validate", PATH])
    out, err = capsys.readouterr()
    assert status == 0
    assert not any(line.startswith(PATH) for line in out.splitlines())  # no problems
    assert err.startswith("1 file(s) checked: 0 problem(s), ")
