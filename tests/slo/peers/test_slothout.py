"""sloguard → Sloth → sloguard gives SLOs that evaluate the same: same objective, period, tiers,
labels, and the same bad and total events for every window (shown on the PromQL, and by
promtool evaluating both on the same series); what Sloth cannot say is refused, at its line."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from sloguard.errors import ConfigError
from sloguard.slo.loader import check_slo_text, parse_slo_text
from sloguard.slo.peers.slothout import DEFAULT_SERVICE, sloth_service, sloth_slo_name, to_sloth
from sloguard.slo.promql import bad_and_total
from sloguard.slo.spec import SLO
from tests.support.promserver import promtool_binary

SLOS = """apiVersion: sloguard/v1
slos:
  - name: checkout-availability
    description: Checkout answers.
    objective: 99.5
    sli: {kind: success_rate}
    selector: {agent_name: checkout}
    alerting:
      labels: {team: payments}
      annotations: {summary: Checkout burns its budget}
      runbook: https://runbooks.example.com/checkout
      dashboard: https://grafana.example.com/d/checkout
  - name: checkout-latency
    objective: 99
    sli: {kind: latency, threshold: 5}
    alerting:
      policy:
        - {severity: critical, long_window: 1h, short_window: 5m, burn_rate: 14.4}
        - {severity: critical, long_window: 6h, short_window: 30m, burn_rate: 6}
  - name: checkout-tools
    objective: 99.9
    sli: {kind: tool_success_rate}
    selector: {tool_name: search}
    alerting:
      policy:
        - {severity: warning, long_window: 1d, short_window: 2h, burn_rate: 3}
        - {severity: warning, long_window: 3d, short_window: 6h, burn_rate: 1}
  - name: checkout-routing
    objective: 90
    sli: {kind: routing_accuracy}
  - name: checkout-workflow-cost
    objective: 95
    sli: {kind: workflow_cost, max_cost_usd: 1}
  - name: checkout-http
    objective: 99.9
    sli:
      kind: ratio
      good: 'sum(rate(http_requests_total{code!~"5.."}[$window]))'
      total: http_requests_total
  - name: checkout-errors
    objective: 99
    sli: {kind: ratio, bad: 'http_requests_total{code=~"5.."}', total: http_requests_total}
"""


def load(text: str) -> tuple[SLO, ...]:
    return parse_slo_text(text, "slos.yaml").slos


def round_trip(slos: tuple[SLO, ...]) -> tuple[dict[str, Any], tuple[SLO, ...]]:
    spec = to_sloth(slos)
    check = check_slo_text(yaml.safe_dump(spec, sort_keys=False), "sloth.yaml")
    assert check.problems == ()
    assert check.format == "Sloth"
    assert check.slo_file is not None
    return spec, check.slo_file.slos


def test_the_spec_is_one_service_with_sloguards_promql() -> None:
    spec, _ = round_trip(load(SLOS))
    assert spec["version"] == "prometheus/v1"
    assert spec["service"] == "checkout"
    first = spec["slos"][0]
    assert first == {
        "name": "availability",
        "objective": 99.5,
        "description": "Checkout answers.",
        "sli": {
            "events": {
                "error_query": 'sum (increase(agent_calls_total{agent_name="checkout",'
                'status="error"}[{{.window}}]))',
                "total_query": 'sum (increase(agent_calls_total{agent_name="checkout"}'
                "[{{.window}}]))",
            }
        },
        "alerting": {
            "name": "SLOBurn",
            "labels": {"team": "payments"},
            "annotations": {
                "summary": "Checkout burns its budget",
                "runbook": "https://runbooks.example.com/checkout",
                "dashboard": "https://grafana.example.com/d/checkout",
            },
            "page_alert": {"labels": {"severity": "critical"}},
            "ticket_alert": {"labels": {"severity": "warning"}},
        },
    }
    alerts = [(s["alerting"]["page_alert"], s["alerting"]["ticket_alert"]) for s in spec["slos"]]
    assert alerts[1][1] == {"disable": True}
    assert alerts[2][0] == {"disable": True}


def test_the_round_trip_evaluates_the_same() -> None:
    original = load(SLOS)
    _, back = round_trip(original)
    assert [s.name for s in back] == [s.name for s in original]
    for a, b in zip(original, back, strict=True):
        assert (b.objective, b.period, b.description) == (a.objective, a.period, a.description)
        assert b.alerting.policy.tiers == a.alerting.policy.tiers
        assert dict(b.alerting.labels) == dict(a.alerting.labels)
        assert dict(b.alerting.annotations) == dict(a.alerting.annotations)
        assert (b.alerting.runbook, b.alerting.dashboard) == (
            a.alerting.runbook,
            a.alerting.dashboard,
        )
        assert (b.group_by, b.min_events) == (a.group_by, a.min_events)
        for window in sorted(a.windows()):
            # the Sloth query is sloguard's own, summed once more: a sum of one series
            bad, total = bad_and_total(a, window)
            assert bad_and_total(b, window) == (f"sum ({bad})", f"sum ({total})")


def test_service_names() -> None:
    slos = load(SLOS)
    assert sloth_service(slos) == "checkout"
    assert sloth_slo_name("checkout-availability", "checkout") == "availability"
    assert sloth_slo_name("checkoutx-availability", "checkout") == "checkoutx-availability"
    mixed = load(SLOS.replace("name: checkout-tools", "name: tools"))
    assert sloth_service(mixed) == DEFAULT_SERVICE
    spec = to_sloth(mixed)
    assert [s["name"] for s in spec["slos"]][2] == "tools"
    named = to_sloth(slos, service="shop")
    assert named["service"] == "shop"
    assert named["slos"][0]["name"] == "checkout-availability"


def test_what_sloth_cannot_say_is_refused_at_its_line() -> None:
    text = """slos:
  - name: a-weekly
    objective: 99
    period: 7d
    sli: {kind: success_rate}
  - name: a-grouped
    objective: 99
    sli: {kind: success_rate}
    group_by: [agent_name]
    min_events: 10
  - name: a-custom
    objective: 99
    sli: {kind: success_rate}
    alerting:
      policy: [{severity: critical, long_window: 2h, short_window: 10m, burn_rate: 10}]
"""
    with pytest.raises(ConfigError) as caught:
        to_sloth(load(text))
    assert [str(p) for p in caught.value.problems] == [
        "slos.yaml:2: slos[0].period: a-weekly: period 7d cannot be written to Sloth: a Sloth "
        "spec has no period (every SLO uses sloth's --default-slo-period, 30d by default); use 30d",
        "slos.yaml:6: slos[1].group_by: a-grouped: group_by cannot be written to Sloth: Sloth's "
        "queries return one series per SLO; write one SLO per label value, or drop group_by",
        "slos.yaml:6: slos[1].min_events: a-grouped: min_events cannot be written to Sloth (it "
        "has no such guard)",
        "slos.yaml:11: slos[2].alerting.policy: a-custom: policy 'inline' cannot be written to "
        "Sloth: Sloth's alerts are sloguard's default policy at 30d (page = its critical tiers, "
        "ticket = its warning tiers); use the default policy",
    ]


@pytest.mark.e2e
def test_promtool_evaluates_both_the_same(tmp_path: Path) -> None:
    original = load(SLOS)
    _, back = round_trip(original)
    series = [
        ('agent_calls_total{agent_name="checkout",status="error"}', "0+1x180"),
        ('agent_calls_total{agent_name="checkout",status="success"}', "0+50x180"),
        ('agent_latency_seconds_count{agent_name="checkout"}', "0+40x180"),
        ('agent_latency_seconds_bucket{agent_name="checkout",le="5.0"}', "0+37x180"),
        ('agent_tool_calls_total{tool_name="search",status="error"}', "0+2x180"),
        ('agent_tool_calls_total{tool_name="search",status="success"}', "0+30x180"),
        ('agent_routing_outcomes_total{outcome="incorrect"}', "0+3x180"),
        ('agent_routing_outcomes_total{outcome="correct"}', "0+20x180"),
        ("agent_workflow_cost_usd_count", "0+10x180"),
        ('agent_workflow_cost_usd_bucket{le="1.0"}', "0+9x180"),
        ('http_requests_total{code="500"}', "0+4x180"),
        ('http_requests_total{code="200"}', "0+90x180"),
    ]
    tests = []
    for a, b in zip(original, back, strict=True):
        for mine, theirs in zip(bad_and_total(a, 3600), bad_and_total(b, 3600), strict=True):
            tests.append(
                {
                    "expr": f"({mine}) - ({theirs})",
                    "eval_time": "2h",
                    "exp_samples": [{"labels": "{}", "value": 0}],
                }
            )
            tests.append(
                {
                    "expr": f"({mine}) > bool 0",
                    "eval_time": "2h",
                    "exp_samples": [{"labels": "{}", "value": 1}],
                }
            )
    doc = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series],
                "promql_expr_test": tests,
            }
        ],
    }
    path = tmp_path / "roundtrip.test.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    done = subprocess.run(
        [promtool_binary(), "test", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
