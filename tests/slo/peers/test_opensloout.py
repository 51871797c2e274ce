"""sloguard → OpenSLO v1 → sloguard gives SLOs that evaluate the same: objective, period, tiers,
and the PromQL of every window."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sloguard.slo.loader import check_slo_text, load_slo_file, parse_slo_text
from sloguard.slo.peers.opensloout import NOTIFICATION_TARGET, shorthand, to_openslo
from sloguard.slo.promql import bad_and_total, window_query
from sloguard.slo.spec import SLO, SLIKind

REPO = Path(__file__).resolve().parents[3]

SLOS = """\
apiVersion: sloguard/v1
policies:
  pager:
    - {severity: critical, long_window: 1h, short_window: 5m, burn_rate: 14.4}
    - {severity: warning, long_window: 6h, budget_fraction: 0.05}
slos:
  - name: Checkout Availability
    description: checkout calls succeed
    objective: 99.5
    period: 28d
    sli: {kind: success_rate}
    selector: {agent_name: checkout}
    group_by: [agent_name]
    min_events: 50
    alerting:
      policy: pager
      labels: {team: payments, service: shop}
      annotations: {summary: checkout is failing}
      runbook: https://runbooks.example/checkout
      dashboard: https://grafana.example/d/checkout
  - name: search-latency
    objective: 99
    period: 7d
    sli: {kind: latency, threshold: 5}
  - name: raw-errors
    target: 0.999
    sli:
      kind: ratio
      bad: sum(increase(http_requests_total{code=~"5.."}[{{.window}}]))
      total: http_requests_total
"""


def _round_trip(slos: tuple[SLO, ...]) -> tuple[SLO, ...]:
    text = yaml.safe_dump_all(to_openslo(slos), sort_keys=False, allow_unicode=True)
    check = check_slo_text(text, "converted.yaml")
    assert check.problems == ()
    assert check.format == "OpenSLO"
    assert check.slo_file is not None
    return check.slo_file.slos


def _assert_same_evaluation(before: tuple[SLO, ...], after: tuple[SLO, ...]) -> None:
    assert [s.name for s in after] == [s.name for s in before]
    for a, b in zip(before, after, strict=True):
        assert (b.objective, b.period, b.group_by, b.min_events) == (
            a.objective,
            a.period,
            a.group_by,
            a.min_events,
        )
        assert b.alerting.policy.tiers == a.alerting.policy.tiers
        # a built-in kind's selectors are read back as that kind (the embedded source runs it)
        assert (b.sli, dict(b.selector)) == (a.sli, dict(a.selector))
        assert b.windows() == a.windows()
        for window in a.windows():
            assert bad_and_total(b, window) == bad_and_total(a, window)
            assert window_query(b, window) == window_query(a, window)


def test_the_example_slos_round_trip() -> None:
    slos = load_slo_file(REPO / "config" / "slos.yaml").slos
    _assert_same_evaluation(slos, _round_trip(slos))


def test_every_sloguard_field_round_trips() -> None:
    slos = parse_slo_text(SLOS).slos
    back = _round_trip(slos)
    _assert_same_evaluation(slos, back)
    checkout = back[0]
    assert dict(checkout.alerting.labels) == {"team": "payments", "service": "shop"}
    assert dict(checkout.alerting.annotations) == {"summary": "checkout is failing"}
    assert checkout.alerting.runbook == "https://runbooks.example/checkout"
    assert checkout.alerting.dashboard == "https://grafana.example/d/checkout"
    assert checkout.description == "checkout calls succeed"
    # without a service label, the SLO's OpenSLO name is its service (OpenSLO requires one)
    assert dict(back[1].alerting.labels) == {"service": "search-latency"}


def test_the_documents_follow_openslo_v1() -> None:
    docs = to_openslo(parse_slo_text(SLOS).slos)
    assert [(d["apiVersion"], d["kind"]) for d in docs] == [
        ("openslo/v1", "SLO"),
        ("openslo/v1", "SLO"),
        ("openslo/v1", "SLO"),
        ("openslo/v1", "AlertNotificationTarget"),
    ]
    checkout = docs[0]
    assert checkout["metadata"]["name"] == "checkout-availability"  # an RFC 1123 label
    assert checkout["metadata"]["displayName"] == "Checkout Availability"
    assert checkout["metadata"]["annotations"]["sloguard.dev/name"] == "Checkout Availability"
    assert checkout["metadata"]["annotations"]["sloguard.dev/group-by"] == "agent_name"
    assert checkout["metadata"]["annotations"]["sloguard.dev/min-events"] == "50"
    spec = checkout["spec"]
    assert spec["service"] == "shop"
    assert spec["budgetingMethod"] == "Occurrences"
    assert spec["timeWindow"] == [{"duration": "28d", "isRolling": True}]
    assert spec["objectives"] == [{"target": 0.995}]
    assert spec["indicator"]["spec"]["ratioMetric"] == {
        "counter": True,
        "bad": {
            "metricSource": {
                "type": "Prometheus",
                "spec": {"query": 'agent_calls_total{agent_name="checkout",status="error"}'},
            }
        },
        "total": {
            "metricSource": {
                "type": "Prometheus",
                "spec": {"query": 'agent_calls_total{agent_name="checkout"}'},
            }
        },
    }
    first, second = spec["alertPolicies"]
    assert first["kind"] == "AlertPolicy"
    assert first["spec"]["notificationTargets"] == [{"targetRef": NOTIFICATION_TARGET}]
    (condition,) = first["spec"]["conditions"]
    assert condition["spec"] == {
        "severity": "critical",
        "condition": {
            "kind": "burnrate",
            "op": "gt",
            "threshold": 14.4,
            "lookbackWindow": "1h",
            "alertAfter": "5m",
        },
    }
    # budget_fraction 0.05 at 28d over 6h: F = 0.05 · 28d / 6h = 5.6
    assert second["spec"]["conditions"][0]["spec"]["condition"]["threshold"] == 5.6
    assert second["spec"]["conditions"][0]["spec"]["condition"]["alertAfter"] == "30m"
    latency = docs[1]["spec"]["indicator"]["spec"]["ratioMetric"]
    assert latency["good"]["metricSource"]["spec"]["query"] == (
        'agent_latency_seconds_bucket{le="5.0"}'
    )
    assert latency["total"]["metricSource"]["spec"]["query"] == "agent_latency_seconds_count"


def test_the_round_trip_of_built_in_kinds_runs_on_the_embedded_source() -> None:
    slos = tuple(s for s in parse_slo_text(SLOS).slos if s.sli.kind is not SLIKind.RATIO)
    text = yaml.safe_dump_all(to_openslo(slos), sort_keys=False, allow_unicode=True)
    check = check_slo_text(text, "converted.yaml", embedded=True)
    assert check.problems == ()
    assert check.slo_file is not None
    assert [s.sli.kind for s in check.slo_file.slos] == [SLIKind.SUCCESS_RATE, SLIKind.LATENCY]
    assert any("read as kind: success_rate" in n.message for n in check.notices)


def test_queries_that_only_look_like_a_built_in_kind_stay_ratio() -> None:
    # a label the kind's metric does not have, and a regex matcher: not the built-in kind
    for bad in ('agent_calls_total{status="error",pod="a"}', 'agent_calls_total{status=~"error"}'):
        slo = parse_slo_text(SLOS).slos[2]
        docs = to_openslo((slo,))
        ratio = docs[0]["spec"]["indicator"]["spec"]["ratioMetric"]
        ratio["bad"]["metricSource"]["spec"]["query"] = bad
        ratio["total"]["metricSource"]["spec"]["query"] = "agent_calls_total"
        check = check_slo_text(yaml.safe_dump_all(docs), "converted.yaml")
        assert check.slo_file is not None
        assert check.slo_file.slos[0].sli.kind is SLIKind.RATIO


def test_names_that_collide_as_dns_labels_stay_apart() -> None:
    text = SLOS.replace("name: search-latency", "name: Checkout  availability")
    slos = parse_slo_text(text).slos
    names = [d["metadata"]["name"] for d in to_openslo(slos) if d["kind"] == "SLO"]
    assert names == ["checkout-availability", "checkout-availability-2", "raw-errors"]
    _assert_same_evaluation(slos, _round_trip(slos))


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(300.0, "5m"), (3600.0, "1h"), (5400.0, "90m"), (86400.0 * 28, "28d"), (10.0, "10s")],
)
def test_windows_are_written_as_openslo_shorthand(seconds: float, text: str) -> None:
    assert shorthand(seconds) == text
