"""Sloth specs and CRDs (written for these tests from Sloth's documented fields) load as sloguard
SLOs; every mistake is reported at the Sloth file's line and field; the SLOs compile to rules
that ``promtool check rules`` accepts; ``sloguard validate`` reads them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sloguard.cli import main
from sloguard.durations import DAY
from sloguard.rules.compiler import compile_group, compile_groups, render, rule_file
from sloguard.slo.budget import Severity, default_policy
from sloguard.slo.loader import check_slo_file, check_slo_text
from sloguard.slo.peers.slothplugins import PLUGINS, plugin_events
from sloguard.slo.spec import SLO, SLIKind
from tests.support.promserver import promtool_binary

DATA = Path(__file__).resolve().parents[2] / "data" / "peers" / "sloth"
SPEC = str(DATA / "checkout.yaml")
CRD = str(DATA / "crd.yaml")
DEFAULT = default_policy(30 * DAY).tiers


def by_name(path: str) -> dict[str, SLO]:
    check = check_slo_file(path)
    assert check.problems == ()
    assert check.format == "Sloth"
    assert check.slo_file is not None
    return {s.name: s for s in check.slo_file.slos}


def test_the_spec_loads_with_every_field() -> None:
    slos = by_name(SPEC)
    assert list(slos) == [
        "checkout-requests-availability",
        "checkout-requests-latency",
        "checkout-apiserver-availability",
    ]
    avail = slos["checkout-requests-availability"]
    assert (avail.objective, avail.period) == (0.999, 30 * DAY)
    assert avail.description == "Checkout answers without a server error."
    assert avail.alerting.name == "CheckoutHighErrorRate"  # Sloth's alerting.name, kept
    assert slos["checkout-requests-latency"].alerting.name == "SLOBurn"
    assert avail.sli.kind is SLIKind.RATIO
    # Sloth's rate(...[{{.window}}]) is read as increase: the same ratio, counts of events
    assert (
        avail.sli.bad
        == 'sum(increase(http_requests_total{job="checkout",code=~"5.."}[{{.window}}]))'
    )
    assert avail.sli.total == 'sum(increase(http_requests_total{job="checkout"}[{{.window}}]))'
    # Sloth's page and ticket alerts are sloguard's default policy at 30 days
    assert avail.alerting.policy.name == "default"
    assert avail.alerting.policy.tiers == DEFAULT
    # spec, SLO and alerting labels, and the per-alert label both alerts share
    assert dict(avail.alerting.labels) == {
        "team": "payments",
        "env": "prod",
        "category": "availability",
        "owner": "payments-oncall",
        "routing_key": "payments",
    }
    assert dict(avail.alerting.annotations) == {
        "summary": "Checkout is burning its error budget",
        "channel": "#payments",
    }
    assert avail.alerting.runbook == "https://runbooks.example.com/checkout"

    latency = slos["checkout-requests-latency"]
    assert latency.objective == 0.99
    assert 'le="0.4"' in (latency.sli.bad or "")
    # ticket_alert.disable: only the page (critical) tiers
    assert latency.alerting.policy.tiers == tuple(
        t for t in DEFAULT if t.severity is Severity.CRITICAL
    )
    assert dict(latency.alerting.labels) == {"team": "payments", "env": "prod"}

    plugin = slos["checkout-apiserver-availability"]
    assert plugin.sli.bad == (
        'sum(increase(apiserver_request_total{cluster="eu-1",code=~"(5..|429)"}[{{.window}}]))'
    )
    assert plugin.sli.total == 'sum(increase(apiserver_request_total{cluster="eu-1"}[{{.window}}]))'
    assert plugin.alerting.policy.tiers == tuple(
        t for t in DEFAULT if t.severity is Severity.WARNING
    )


def test_what_is_translated_differently_is_a_notice() -> None:
    notices = [str(n) for n in check_slo_file(SPEC).notices]
    # alerting.name is kept (sloguard's alerting.name): no notice
    assert not any("alerting.name" in n for n in notices)
    assert (
        f"{SPEC}:28: slos[0].alerting.page_alert.labels.severity: sloguard sets severity: "
        "critical on this alert itself; route on severity=critical instead of 'pageteam'" in notices
    )
    assert any(n.startswith(f"{SPEC}:64: slos[2].sli.plugin.id: plugin ") for n in notices)


def test_the_crd_loads_with_camel_case_fields_and_services_keep_names_apart() -> None:
    slos = by_name(CRD)
    assert list(slos) == ["search-availability", "ingress-availability"]
    search = slos["search-availability"]
    assert search.objective == pytest.approx(0.9995)
    assert (
        search.sli.bad
        == 'sum(increase(http_requests_total{job="search",code=~"5.."}[{{.window}}]))'
    )
    assert dict(search.alerting.labels) == {"team": "discovery", "category": "availability"}
    assert search.alerting.dashboard == "https://grafana.example.com/d/search"
    assert search.alerting.policy.tiers == DEFAULT
    ingress = slos["ingress-availability"]
    assert ingress.sli.total == (
        'sum(increase(nginx_ingress_controller_requests{ingress="search"}[{{.window}}]))'
    )
    assert dict(ingress.alerting.annotations) == {"summary": "Ingress is failing"}
    assert [t.severity for t in ingress.alerting.policy.tiers] == [Severity.CRITICAL] * 2
    notices = [str(n) for n in check_slo_file(CRD).notices]
    assert any(n.startswith(f"{CRD}:7: document 1: metadata.labels: ") for n in notices)


BASE = """version: prometheus/v1
service: shop
slos:
  - name: avail
    objective: {objective}
    sli:
{sli}
    alerting:
{alerting}
"""
EVENTS = """      events:
        error_query: sum(rate(errors_total[{{.window}}]))
        total_query: sum(rate(requests_total[{{.window}}]))"""
NAMED = "      name: SLOBurn"


def spec(objective: str = "99.9", sli: str = EVENTS, alerting: str = NAMED, extra: str = "") -> str:
    text = BASE.replace("{objective}", objective).replace("{sli}", sli)
    return text.replace("{alerting}", alerting) + extra


MISTAKES = {
    "wrong type": (
        spec(objective='"high"'),
        ["f.yaml:5: slos[0].objective: must be a number (got 'high')"],
    ),
    "objective as a ratio": (
        spec(objective="0.999"),
        [
            "f.yaml:5: slos[0].objective: is a percent: 0.999 means 0.999 %; for 99.9 % write "
            "objective: 99.9 or target: 0.999"
        ],
    ),
    "objective of 100": (
        spec(objective="100"),
        ["f.yaml:5: slos[0].objective: must be between 0 and 100 percent (got 100)"],
    ),
    "missing service and no SLOs": (
        "version: prometheus/v1\nslos: []\n",
        [
            "f.yaml:1: service: required field is missing",
            "f.yaml:2: slos: must be a non-empty list of SLOs (got [])",
        ],
    ),
    "raw error ratio": (
        spec(sli="      raw:\n        error_ratio_query: 1 - avg_over_time(up[{{.window}}])"),
        [
            "f.yaml:7: slos[0].sli.raw: sli.raw cannot be represented: an error ratio has no "
            "event counts, and sloguard's low-traffic guard (the events a tier needs before one "
            "failure cannot page) would keep it from ever paging; write sli.events with the "
            "ratio's numerator as error_query and its denominator as total_query"
        ],
    ),
    "two SLI types": (
        spec(sli=EVENTS + "\n      raw:\n        error_ratio_query: x"),
        ["f.yaml:6: slos[0].sli: give exactly one of events, raw or plugin (got events, raw)"],
    ),
    "unsupported plugin": (
        spec(
            sli="      plugin:\n        id: sloth-common/istio/v1/availability\n"
            "        options: {namespace: shop, service: api}"
        ),
        [
            "f.yaml:8: slos[0].sli.plugin.id: SLI plugin 'sloth-common/istio/v1/availability' "
            "cannot be represented: sloguard runs no Sloth plugins and reads only the plugins "
            "that count one metric's errors over its events (" + ", ".join(sorted(PLUGINS)) + "); "
            "write sli.events with the plugin's error_query and total_query instead"
        ],
    ),
    "plugin option": (
        spec(
            sli="      plugin:\n        id: sloth-common/kubernetes/apiserver/availability\n"
            '        options: {bucket: "0.5"}'
        ),
        [
            "f.yaml:9: slos[0].sli.plugin.options.bucket: option 'bucket' of plugin "
            "'sloth-common/kubernetes/apiserver/availability' cannot be represented (sloguard "
            "reads only 'filter'); write sli.events with the plugin's queries instead"
        ],
    ),
    "plugin filter": (
        spec(
            sli="      plugin:\n        id: sloth-common/kubernetes/apiserver/availability\n"
            "        options: {filter: 'job=api'}"
        ),
        [
            "f.yaml:9: slos[0].sli.plugin.options.filter: invalid Prometheus filter 'job=api': "
            'write label matchers such as job="api",env="prod"'
        ],
    ),
    "broken PromQL": (
        spec(
            sli="      events:\n"
            '        error_query: sum(rate(errors_total{code=~"5.."[{{.window}}]))'
            "\n        total_query: sum(rate(requests_total[{{.window}}]))"
        ),
        [
            "f.yaml:8: slos[0].sli.events.error_query: PromQL syntax error at character 34: "
            "unexpected character inside braces: '['; did you mean: "
            'sum(rate(errors_total{code=~"5.."}[{{.window}}])) (sloguard field slos[0].sli.bad)'
        ],
    ),
    "misspelt key": (
        spec(
            sli="      events:\n        error_querry: x\n"
            "        total_query: sum(rate(requests_total[{{.window}}]))"
        ),
        [
            "f.yaml:7: slos[0].sli.events: kind: ratio needs good or bad: the PromQL of good or "
            "bad events (sloguard field slos[0].sli)",
            "f.yaml:8: slos[0].sli.events.error_querry: unknown key 'error_querry' for Sloth, "
            "did you mean 'error_query'?",
        ],
    ),
    "wrong type of events": (
        spec(sli="      events: [1]"),
        ["f.yaml:7: slos[0].sli.events: must be a mapping (got [1])"],
    ),
    "label of one alert": (
        spec(alerting=NAMED + "\n      page_alert:\n        labels: {routing_key: team-a}"),
        [
            "f.yaml:13: slos[0].alerting.page_alert.labels.routing_key: labels of one alert "
            "cannot be represented: sloguard's alert labels are per SLO and its alerts differ by "
            "severity (critical here); move 'routing_key' to alerting.labels (both alerts) and "
            "route on severity instead"
        ],
    ),
    "both alerts disabled": (
        spec(
            alerting=NAMED
            + "\n      page_alert: {disable: true}\n      ticket_alert: {disable: true}"
        ),
        [
            "f.yaml:13: slos[0].alerting.ticket_alert.disable: disabling both alerts cannot be "
            "represented: a sloguard SLO always alerts; keep one alert, or route this SLO's "
            "alerts to no receiver in sloguard's routing file"
        ],
    ),
    "disable not a boolean": (
        spec(alerting=NAMED + '\n      ticket_alert: {disable: "yes"}'),
        ["f.yaml:12: slos[0].alerting.ticket_alert.disable: must be true or false (got 'yes')"],
    ),
    "rule-generation plugins": (
        spec(
            extra="slo_plugins:\n  chain:\n"
            "    - id: sloth.dev/contrib/denominator_corrected_rules/v1\n"
        ),
        [
            "f.yaml:13: slo_plugins.chain: SLO plugins "
            "(sloth.dev/contrib/denominator_corrected_rules/v1) cannot be represented: sloguard "
            "generates its own rules and runs no Sloth plugins; remove the chain"
        ],
    ),
    "reserved label": (
        spec(extra='labels: {slo: "1"}\n'),
        [
            "f.yaml:12: labels.slo: label 'slo' is reserved: sloguard sets it on SLO series and "
            "alerts (sloguard field slos[0].labels.slo)"
        ],
    ),
    "CRD of another kind": (
        "apiVersion: sloth.slok.dev/v1\nkind: ServiceLevel\nspec:\n  service: a\n  slos:\n"
        "  - name: b\n    objective: 99\n"
        "    sli: {events: {errorQuery: a_total, totalQuery: b_total}}\n",
        ["f.yaml:2: kind: a Sloth CRD has kind: PrometheusServiceLevel (got 'ServiceLevel')"],
    ),
    "snake_case key in a CRD": (
        "apiVersion: sloth.slok.dev/v1\nkind: PrometheusServiceLevel\nspec:\n  service: a\n"
        "  slos:\n  - name: b\n    objective: 99\n"
        "    sli: {events: {error_query: a_total, totalQuery: b_total}}\n",
        [
            "f.yaml:8: spec.slos[0].sli.events: kind: ratio needs good or bad: the PromQL of "
            "good or bad events (sloguard field slos[0].sli)",
            "f.yaml:8: spec.slos[0].sli.events.error_query: unknown key 'error_query' for Sloth, "
            "did you mean 'errorQuery'?",
        ],
    ),
}


def test_sloths_tier_label_loads_onto_records_and_alerts() -> None:
    """Sloth's getting-started spec labels its SLOs ``tier: "2"``; sloguard sets no ``tier`` on
    alerts or recorded series (only on its ``sloguard_slo_tier_firing`` gauges, which carry no
    SLO labels), so the label is kept as Sloth keeps it."""
    check = check_slo_text(spec(extra='labels: {tier: "2", owner: myteam}\n'), "f.yaml")
    assert not check.problems, [str(p) for p in check.problems]
    (slo,) = check.raise_for_problems().slos
    assert slo.alerting.labels["tier"] == "2"
    group = compile_group(slo)
    records = [r for r in group["rules"] if "record" in r]
    alerts = [r for r in group["rules"] if "alert" in r]
    assert records and alerts
    assert all(r["labels"]["tier"] == "2" for r in records)
    assert all(r["labels"]["tier"] == "2" for r in alerts)


def test_a_tier_label_is_still_refused_where_it_would_collide() -> None:
    text = (
        "apiVersion: sloguard/v1\nslos:\n  - name: a\n    objective: 99\n"
        "    sli: {kind: ratio, bad: b, total: t}\n    group_by: [tier]\n"
    )
    assert [str(p) for p in check_slo_text(text, "f.yaml").problems] == [
        "f.yaml:6: slos[0].group_by[0]: label 'tier' is reserved: sloguard sets it on SLO series "
        "and alerts"
    ]


@pytest.mark.parametrize("case", MISTAKES)
def test_every_mistake_is_reported_at_the_sloth_line_and_field(case: str) -> None:
    text, expected = MISTAKES[case]
    check = check_slo_text(text, "f.yaml")
    assert [str(p) for p in check.problems] == expected
    assert check.slo_file is None


def test_plugins_read_as_their_queries() -> None:
    events = plugin_events(
        "sloth-common/prometheus/rules/eval-availability", {"filter": '{job="prom",env="eu"}'}
    )
    assert events.error_query == (
        'sum(increase(prometheus_rule_evaluation_failures_total{job="prom",env="eu"}[{{.window}}]))'
    )
    assert events.total_query == (
        'sum(increase(prometheus_rule_evaluations_total{job="prom",env="eu"}[{{.window}}]))'
    )
    plain = plugin_events("sloth-common/haproxy/frontend/availability", {})
    assert plain.error_query == (
        'sum(increase(haproxy_frontend_http_responses_total{code="5xx"}[{{.window}}]))'
    )
    assert plain.total_query == "sum(increase(haproxy_frontend_http_responses_total[{{.window}}]))"


def test_the_translated_slos_compile() -> None:
    slos = [*by_name(SPEC).values(), *by_name(CRD).values()]
    groups = compile_groups(slos)
    names = {g["name"] for g in groups}
    assert "sloguard-checkout-requests-availability" in names
    text = render(rule_file(groups))
    assert 'increase(http_requests_total{job="checkout"}[1h])' in text


@pytest.mark.e2e
def test_promtool_accepts_the_compiled_rules(tmp_path: Path) -> None:
    slos = [*by_name(SPEC).values(), *by_name(CRD).values()]
    path = tmp_path / "sloth.rules.yaml"
    path.write_text(render(rule_file(compile_groups(slos))), encoding="utf-8")
    done = subprocess.run(
        [promtool_binary(), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_sloguard_validate_reads_a_sloth_spec(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["validate", SPEC, CRD])
    out, err = capsys.readouterr()
    assert status == 0
    assert not any(line.startswith((SPEC, CRD)) for line in out.splitlines())  # no problems
    assert err.startswith("2 file(s) checked: 0 problem(s), ")


def test_sloguard_validate_shows_a_sloth_mistake_at_its_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "slos.sloth.yaml"
    path.write_text(spec(objective="0.999"), encoding="utf-8")
    status = main(["validate", str(path)])
    out, err = capsys.readouterr()
    assert status == 1
    assert out.splitlines()[0] == (
        f"{path}:5: slos[0].objective: is a percent: 0.999 means 0.999 %; for 99.9 % write "
        "objective: 99.9 or target: 0.999"
    )
    assert err == "1 file(s) checked: 1 problem(s), 0 notice(s)\n"
