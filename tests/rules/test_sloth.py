"""``sloguard rules`` output read as Sloth's: the rule names, labels and expression shapes that
``sloth generate`` writes for the same SLO (Sloth's examples/_gen/getting-started.yml, read in
its repository: written down here as facts, not copied)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sloguard.cli import main
from sloguard.rules.compiler import compile_group, render, rule_file
from sloguard.rules.sloth import RuleOptions
from sloguard.slo.loader import check_slo_text, parse_slo_text
from sloguard.slo.spec import SLO
from tests.support.promserver import promtool_binary

#: Sloth's getting-started SLO, written as a sloguard/v1 document.
SPEC = """\
apiVersion: sloguard/v1
slos:
  - name: requests-availability
    objective: 99.9
    period: 30d
    labels: {owner: myteam, repo: myorg/myservice, env: prod}
    sli:
      kind: ratio
      bad: >-
        sum(rate(http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}[{{.window}}]))
      total: sum(rate(http_request_duration_seconds_count{job="myservice"}[{{.window}}]))
    alerting:
      name: MyServiceAvailabilitySLO
      labels: {category: availability}
      annotations: {summary: "High error rate on 'myservice' requests responses"}
"""
SERVICE = "myservice"
IDENT = {
    "sloth_id": "myservice-requests-availability",
    "sloth_service": "myservice",
    "sloth_slo": "requests-availability",
}
SPEC_LABELS = {"owner": "myteam", "repo": "myorg/myservice", "env": "prod"}
#: What Sloth writes for a 30-day SLO: its windows, and (severity, [(short, long, factor)]).
SLOTH_WINDOWS = ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"]
SLOTH_ALERTS = [
    ("page", [("5m", "1h", 14.4), ("30m", "6h", 6.0)]),
    ("ticket", [("2h", "1d", 3.0), ("6h", "3d", 1.0)]),
]
SLOTH_META = [
    "slo:objective:ratio",
    "slo:error_budget:ratio",
    "slo:time_period:days",
    "slo:current_burn_rate:ratio",
    "slo:period_burn_rate:ratio",
    "slo:period_error_budget_remaining:ratio",
    "sloth_slo_info",
]


def the_slo() -> SLO:
    (slo,) = parse_slo_text(SPEC, "slos.yaml").slos
    return slo


def rules(options: RuleOptions | None = None) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = compile_group(the_slo(), options or RuleOptions(SERVICE))["rules"]
    return rules


def records() -> dict[str, dict[str, Any]]:
    return {r["record"]: r for r in rules() if "record" in r}


def test_window_records_have_sloths_names_and_labels() -> None:
    found = records()
    for w in SLOTH_WINDOWS:
        rule = found[f"slo:sli_error:ratio_rate{w}"]
        # Sloth's labels, and ours (sloguard_slo, window) beside them
        assert rule["labels"] == {
            **SPEC_LABELS,
            **IDENT,
            "sloth_window": w,
            "sloguard_slo": "requests-availability",
            "window": w,
        }


def test_meta_records_are_sloths() -> None:
    found = records()
    for name in SLOTH_META:
        labels = found[name]["labels"]
        assert {k: labels[k] for k in (*SPEC_LABELS, *IDENT)} == {**SPEC_LABELS, **IDENT}
    assert found["slo:time_period:days"]["expr"] == "vector(30)"
    # Sloth's current burn rate is the 5-minute error ratio over the budget
    current = found["slo:current_burn_rate:ratio"]["expr"]
    assert re.search(r"slo:sli_error:ratio_rate5m\{[^}]*\}\) / 0\.001", current)
    assert "ratio_rate30d" in found["slo:period_burn_rate:ratio"]["expr"]
    assert found["slo:period_error_budget_remaining:ratio"]["expr"].startswith(
        "1 - slo:period_burn_rate:ratio{"
    )
    info = found["sloth_slo_info"]
    assert info["expr"] == "vector(1)"
    assert {"sloth_mode", "sloth_spec", "sloth_version"} <= set(info["labels"])


def _tiers(expr: str) -> list[tuple[str, str, float]]:
    """(short, long, factor) of each tier of an alert expression."""
    found = []
    for block in expr.split("\nor\n"):
        windows = re.findall(r"ratio_rate(\w+)\{[^}]*\} > \(([\d.]+) \*", block)
        (long_w, factor), (short_w, _) = windows
        found.append((short_w, long_w, float(factor)))
    return found


def test_alerts_are_named_from_the_spec_with_sloths_tiers_and_labels() -> None:
    alerts = [r for r in rules() if "alert" in r]
    assert [a["alert"] for a in alerts] == ["MyServiceAvailabilitySLO"] * 2
    for alert, (sloth_severity, tiers) in zip(alerts, SLOTH_ALERTS, strict=True):
        assert _tiers(alert["expr"]) == tiers
        assert alert["labels"]["sloth_severity"] == sloth_severity
        assert {k: alert["labels"][k] for k in (*SPEC_LABELS, *IDENT, "category")} == {
            **SPEC_LABELS,
            **IDENT,
            "category": "availability",
        }
        assert alert["labels"]["sloguard_source"] == "rules"
    assert [a["labels"]["severity"] for a in alerts] == ["critical", "warning"]


def test_severity_can_be_written_as_sloths() -> None:
    alerts = [r for r in rules(RuleOptions(SERVICE, sloth_severity=True)) if "alert" in r]
    assert [a["labels"]["severity"] for a in alerts] == ["page", "ticket"]


def test_rate_shaped_sli_is_recorded_as_event_counts() -> None:
    """Sloth's SLI is a rate over {{.window}}; the rules count events, so the low-traffic
    guard compares events with events (not requests per second)."""
    found = records()
    total = found["slo:sli_total:increase1h"]["expr"]
    assert "increase(http_request_duration_seconds_count{" in total
    assert "rate(" not in total.replace("increase(", "")


def test_spec_labels_and_alert_name_are_checked() -> None:
    text = SPEC.replace("name: MyServiceAvailabilitySLO", "name: my alert").replace(
        "env: prod", "sloguard_source: x"
    )
    check = check_slo_text(text, "slos.yaml")
    assert [(p.line, p.field) for p in check.problems] == [
        (6, "slos[0].labels.sloguard_source"),
        (13, "slos[0].alerting.name"),
    ]
    assert "reserved" in check.problems[0].message
    assert "'my alert' is not a valid alert name" in check.problems[1].message


@pytest.mark.e2e  # promtool
def test_promtool_accepts_the_sloth_compatible_rules(tmp_path: Path) -> None:
    spec = tmp_path / "sloth.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    assert main(["rules", str(spec), "-o", str(tmp_path), "--service", SERVICE]) == 0
    out = subprocess.run(
        [promtool_binary(), "check", "rules", str(tmp_path / "sloth.rules.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: 23 rules found" in out.stdout


def test_render_is_stable() -> None:
    text = render(rule_file([compile_group(the_slo(), RuleOptions(SERVICE))]))
    assert text == render(rule_file([compile_group(the_slo(), RuleOptions(SERVICE))]))
