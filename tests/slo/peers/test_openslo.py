"""OpenSLO ``openslo/v1`` and ``openslo/v1alpha`` files read as sloguard SLOs: every object kind,
inline and referenced, several documents per file; every mistake at the peer file's line and
field; the SLOs compile to rules promtool accepts."""

from __future__ import annotations

import copy
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from sloguard.cli import main
from sloguard.rules.compiler import compile_groups, render, rule_file
from sloguard.slo.budget import Severity, Tier
from sloguard.slo.loader import check_slo_file, check_slo_text
from sloguard.slo.spec import SLI, SLO, SLIKind
from tests.support.promserver import promtool_binary

DATA = Path(__file__).resolve().parents[2] / "data" / "peers" / "openslo"
HOUR, DAY = 3600.0, 86400.0


def _slos(name: str) -> tuple[SLO, ...]:
    check = check_slo_file(DATA / name)
    assert check.problems == ()
    assert check.format == "OpenSLO"
    assert check.slo_file is not None
    return check.slo_file.slos


def _tiers(slo: SLO) -> list[tuple[Severity, float, float, float]]:
    return [
        (t.severity, t.long_window, t.short_window, t.factor) for t in slo.alerting.policy.tiers
    ]


def test_v1_objects_inline_and_referenced_make_one_slo() -> None:
    check = check_slo_file(DATA / "v1-checkout.yaml")
    assert check.problems == ()
    assert check.slo_file is not None
    (slo,) = check.slo_file.slos
    assert slo.name == "checkout-availability"
    assert slo.objective == 0.995  # targetPercent: 99.5
    assert slo.period == 28 * DAY  # 4w, rolling
    assert slo.description == "Checkout requests succeed"
    # the SLI object (indicatorRef) with its DataSource (metricSourceRef); rates read as counts
    assert slo.sli == SLI(
        SLIKind.RATIO,
        bad='sum(increase(http_requests_total{job="checkout",code=~"5.."}[{{.window}}]))',
        total='sum(increase(http_requests_total{job="checkout"}[{{.window}}]))',
    )
    # alertPolicyRef → conditionRef (page, 1h/5m, 14.4), and an inline policy (ticket, 3d/6h, 1)
    assert _tiers(slo) == [
        (Severity.CRITICAL, HOUR, 300.0, 14.4),
        (Severity.WARNING, 3 * DAY, 6 * HOUR, 1.0),
    ]
    assert dict(slo.alerting.labels) == {
        "team": "payments",
        "criticality": "tier-1",
        "service": "checkout",
    }
    assert dict(slo.alerting.annotations) == {"openslo_com_owner": "payments"}
    assert slo.alerting.runbook == "https://runbooks.example/checkout"
    assert slo.source_line == 100  # its objective
    notices = {(n.line, n.field): n.message for n in check.notices}
    assert "connectionDetails are not used" in notices[(14, "document 2: spec")]
    assert notices[
        (117, "document 7: spec.alertPolicies[1].spec.conditions[0].spec.condition.op")
    ] == ("op gte is read as gt (a tier fires above its burn rate)")
    assert "routing file" in notices[(77, "document 6: spec.notificationTargets[0]")]
    assert notices[(83, "document 7: metadata.displayName")].startswith("displayName is not used")


def test_v1_objectives_composite_threshold_and_default_policy() -> None:
    web, promise, search, login, latency = _slos("v1-web.yaml")
    assert [s.name for s in (web, promise, search, login, latency)] == [
        "web-internal-goal",
        "web-customer-promise",
        "web-search",
        "web-login",
        "web-latency",
    ]
    # an inline indicator of its own; $window is sloguard's placeholder too
    assert login.sli == SLI(
        SLIKind.RATIO,
        good='sum(increase(login_total{result="ok"}[$window]))',
        total="sum(increase(login_total[$window]))",
    )
    assert login.objective == 0.95
    assert (web.objective, promise.objective, search.objective) == (0.999, 0.99, 0.99)
    assert web.period == promise.period == search.period == 30 * DAY  # 1M read as 30d
    # sum(counter) becomes sum(increase(counter[window])); promql: is read like query:
    assert (
        web.sli
        == promise.sli
        == SLI(
            SLIKind.RATIO,
            good='sum(increase(http_requests_total{job="web",code!~"5.."}[{{.window}}]))',
            total='sum by (job) (increase(http_requests_total{job="web"}[{{.window}}]))',
        )
    )
    # the composite objective's own SLI; bare counter selectors stay selectors
    assert search.sli == SLI(
        SLIKind.RATIO, bad='search_requests_total{outcome="error"}', total="search_requests_total"
    )
    assert web.alerting.policy.name == "default"  # alertPolicies: (empty)
    # thresholdMetric on a histogram: the share of observations under 0.5 s
    assert latency.sli == SLI(
        SLIKind.RATIO,
        good='http_request_duration_seconds_bucket{job="web",le="0.5"}',
        total='http_request_duration_seconds_count{job="web"}',
    )
    assert latency.objective == 0.95
    assert latency.period == 7 * DAY
    assert _tiers(latency) == [(Severity.CRITICAL, HOUR, 300.0, 10.0)]  # no alertAfter: L/12


def test_v1alpha_ratio_metrics_and_threshold() -> None:
    check = check_slo_file(DATA / "v1alpha.yaml")
    assert check.problems == ()
    assert check.slo_file is not None
    strict, loose, latency = check.slo_file.slos
    assert (strict.name, loose.name, latency.name) == (
        "payments-availability-strict",
        "payments-availability-loose",
        "payments-latency",
    )
    assert strict.period == loose.period == 28 * DAY
    assert strict.sli == SLI(
        SLIKind.RATIO,
        good='sum(increase(payments_total{code!~"5.."}[{{.window}}]))',
        total="sum(increase(payments_total[{{.window}}]))",
    )
    assert loose.sli == SLI(
        SLIKind.RATIO, bad='payments_total{code=~"5.."}', total="payments_total"
    )
    assert (strict.objective, loose.objective) == (0.999, 0.99)
    # op: gt — the good observations are over 1 s, so the bucket le="1" counts the bad ones
    assert latency.sli == SLI(
        SLIKind.RATIO,
        bad='payments_duration_seconds_bucket{route="/pay",le="1"}',
        total='payments_duration_seconds_count{route="/pay"}',
    )
    assert latency.period == 7 * DAY
    assert dict(latency.alerting.labels) == {"service": "payments"}
    fields = {n.field for n in check.notices}
    assert "document 2: spec.objectives[1].ratioMetric.bad.metadata" in fields
    assert "document 2: spec.objectives[1].timeSliceTarget" in fields


SLO_V1 = """\
apiVersion: openslo/v1
kind: SLO
metadata:
  name: api
spec:
  service: api
  indicator:
    metadata: {name: api}
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource:
            type: Prometheus
            spec: {query: 'api_requests_total{code!~"5.."}'}
        total:
          metricSource:
            type: Prometheus
            spec: {query: api_requests_total}
  timeWindow:
    - duration: 28d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - target: 0.99
"""


def _problems(text: str) -> list[tuple[int | None, str, str]]:
    check = check_slo_text(text, "slo.yaml")
    assert check.slo_file is None
    return [(p.line, p.field, p.message) for p in check.problems]


def test_the_base_document_of_the_mistakes_is_valid() -> None:
    check = check_slo_text(SLO_V1, "slo.yaml")
    assert check.problems == ()
    assert check.slo_file is not None
    assert check.slo_file.slos[0].name == "api"


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "message"),
    [
        (  # a calendar-aligned window of 28 days: not a week, month or quarter
            "      isRolling: true\n",
            "      isRolling: false\n"
            "      calendar: {startTime: 2024-01-01 00:00:00, timeZone: UTC}\n",
            21,
            "spec.timeWindow[0].duration",
            "a calendar-aligned window must be one week, month or quarter (1w, 1M or 1Q): "
            "sloguard resets the budget at the start of each (got 28d)",
        ),
        (  # time slices without their window
            "budgetingMethod: Occurrences\n  objectives:\n    - target: 0.99",
            "budgetingMethod: Timeslices\n  objectives:\n    - target: 0.99\n"
            "      timeSliceTarget: 0.95",
            25,
            "spec.objectives[0].timeSliceWindow",
            "required field is missing",
        ),
        (  # a data source that is not Prometheus
            "            type: Prometheus\n            spec: {query: api_requests_total}",
            "            type: Datadog\n            spec: {query: 'sum:requests{*}'}",
            18,
            "spec.indicator.spec.ratioMetric.total.metricSource.type",
            "cannot be represented: data source 'Datadog' is not Prometheus; sloguard evaluates "
            "SLIs with Prometheus (type: Prometheus)",
        ),
        (  # wrong type
            "    - target: 0.99",
            "    - target: high",
            25,
            "spec.objectives[0].target",
            "must be a number (got 'high') (sloguard field slos[0].target)",
        ),
        (  # percent written as a target
            "    - target: 0.99",
            "    - target: 99",
            25,
            "spec.objectives[0].target",
            "must be a ratio between 0 and 1 (got 99); for percent write objective: 99 "
            "(sloguard field slos[0].target)",
        ),
        (  # unknown key
            "  budgetingMethod: Occurrences",
            "  budgetingMethod: Occurrences\n  budgetMethod: Occurrences",
            24,
            "spec.budgetMethod",
            "unknown key 'budgetMethod', did you mean 'budgetingMethod'?",
        ),
        (  # a query sloguard cannot count over its windows
            "spec: {query: api_requests_total}",
            "spec: {query: 'rate(api_requests_total[5m]) * 60'}",
            19,
            "spec.indicator.spec.ratioMetric.total.metricSource.spec.query",
            "cannot be represented: sloguard counts events over each alerting window and this "
            "query has no {{.window}} (or $window) to put it in; write the query with the window "
            "placeholder, e.g. sum(increase(x[{{.window}}]))",
        ),
        (  # raw ratio
            "        counter: true\n",
            "        counter: true\n        rawType: success\n",
            12,
            "spec.indicator.spec.ratioMetric.rawType",
            "cannot be represented: a precomputed ratio (raw) has no event counts, which "
            "sloguard's budget and low-traffic guard need; write good (or bad) and total queries "
            "instead",
        ),
        (  # a latency threshold on something that is not a histogram
            "      ratioMetric:\n",
            "      thresholdMetric:\n        metricSource:\n          type: Prometheus\n"
            "          spec: {query: 'avg(latency_seconds)'}\n      ratioMetric:\n",
            9,
            "spec.indicator.spec",
            "give one of ratioMetric or thresholdMetric",
        ),
    ],
)
def test_mistakes_are_shown_at_the_peer_line_and_field(
    old: str, new: str, line: int, field: str, message: str
) -> None:
    assert old in SLO_V1
    assert (line, field, message) in _problems(SLO_V1.replace(old, new, 1))


def test_missing_references_are_problems_at_the_reference() -> None:
    text = """\
apiVersion: openslo/v1
kind: SLO
metadata: {name: api}
spec:
  service: api
  indicatorRef: api-sli
  budgetingMethod: Occurrences
  objectives: [{target: 0.99}]
  alertPolicies:
    - alertPolicyRef: paging
---
apiVersion: openslo/v1
kind: SLI
metadata: {name: api-slo}
spec:
  ratioMetric:
    counter: true
    good: {metricSource: {metricSourceRef: prom, spec: {query: x_total}}}
    total: {metricSource: {metricSourceRef: prom, spec: {query: y_total}}}
"""
    assert _problems(text) == [
        (
            6,
            "document 1: spec.indicatorRef",
            "no SLI named 'api-sli' in this file, did you mean 'api-slo'?",
        ),
        (
            10,
            "document 1: spec.alertPolicies[0].alertPolicyRef",
            "no AlertPolicy named 'paging' in this file (this file has no AlertPolicy object)",
        ),
    ]


def test_threshold_and_alert_mistakes() -> None:
    text = """\
apiVersion: openslo/v1
kind: SLO
metadata: {name: lat}
spec:
  service: api
  indicator:
    metadata: {name: lat}
    spec:
      thresholdMetric:
        metricSource:
          type: Prometheus
          spec: {query: 'avg(request_latency_seconds)'}
  budgetingMethod: Occurrences
  objectives: [{op: lt, value: 0.3, target: 0.99}]
  alertPolicies:
    - kind: AlertPolicy
      metadata: {name: p}
      spec:
        conditions:
          - kind: AlertCondition
            metadata: {name: c}
            spec:
              severity: sev9
              condition: {kind: burnrate, op: lte, threshold: 2, lookbackWindow: 1 hour}
        notificationTargets: [{targetRef: nobody}]
---
apiVersion: openslo/v2
kind: SLO
"""
    problems = _problems(text)
    assert problems == [(27, "document 2", "not a OpenSLO document like the first")]
    text = text.split("---", maxsplit=1)[0]
    problems = _problems(text)
    assert (
        12,
        "spec.indicator.spec.thresholdMetric.metricSource.spec.query",
        "cannot be represented: a thresholdMetric compares a value with the objective at each "
        "data point, and sloguard counts events; use a Prometheus histogram (a *_bucket series, "
        "read as the share of observations at or under value) or write a ratioMetric with good "
        "and total queries",
    ) in problems
    by_field = {field: message for _, field, message in problems}
    prefix = "spec.alertPolicies[0].spec"
    assert by_field[f"{prefix}.conditions[0].spec.severity"] == (
        "unknown severity 'sev9': sloguard alerts are critical (page) or warning (ticket); "
        "write severity: critical or severity: warning"
    )
    assert by_field[f"{prefix}.conditions[0].spec.condition.op"].startswith(
        "cannot be represented: op lte alerts while the burn rate is below the threshold"
    )
    assert by_field[f"{prefix}.conditions[0].spec.condition.lookbackWindow"].startswith(
        "must be a duration shorthand"
    )
    assert by_field[f"{prefix}.notificationTargets[0].targetRef"] == (
        "no AlertNotificationTarget named 'nobody' in this file (this file has no "
        "AlertNotificationTarget object)"
    )


def test_sloguard_checks_of_the_translation_are_reported_at_the_peer_field() -> None:
    # a burn-rate tier that can never fire at 90 %: found by sloguard's own reader
    text = SLO_V1.replace("    - target: 0.99", "    - target: 0.9") + (
        "  alertPolicies:\n"
        "    - kind: AlertPolicy\n"
        "      metadata: {name: p}\n"
        "      spec:\n"
        "        conditions:\n"
        "          - kind: AlertCondition\n"
        "            metadata: {name: c}\n"
        "            spec:\n"
        "              severity: page\n"
        "              condition: {op: gt, threshold: 20, lookbackWindow: 1h, alertAfter: 5m}\n"
    )
    ((line, field, message),) = _problems(text)
    assert line == 35
    assert field == "spec.alertPolicies[0].spec.conditions[0].spec.condition.lookbackWindow"
    assert "(sloguard field slos[0].alerting.policy[0])" in message


def test_several_slos_with_the_same_name_are_one_problem() -> None:
    text = SLO_V1 + "---\n" + SLO_V1
    assert _problems(text)[0] == (
        30,
        "document 2: metadata.name",
        "another SLO is named 'api' in this file",
    )


def test_the_cli_validates_an_openslo_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(DATA / "v1-web.yaml")]) == 0
    out, err = capsys.readouterr()
    assert "0 problem(s)" in err
    assert f"notice: {DATA / 'v1-web.yaml'}:30: document 1: spec.timeWindow[0].duration: 1M" in out


def test_the_translated_slos_compile_and_promtool_accepts_them(tmp_path: Path) -> None:
    slos = [s for name in ("v1-checkout.yaml", "v1-web.yaml", "v1alpha.yaml") for s in _slos(name)]
    groups = compile_groups(slos)
    assert [g["name"] for g in groups if "name" in g]
    path = tmp_path / "openslo.rules.yaml"
    path.write_text(render(rule_file(groups)), encoding="utf-8")
    done = subprocess.run(
        [promtool_binary(), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_tier_of_the_file_is_a_tier_of_the_model() -> None:
    (slo,) = _slos("v1-checkout.yaml")
    assert slo.alerting.policy.tiers == (
        Tier(Severity.CRITICAL, HOUR, 300.0, 14.4),
        Tier(Severity.WARNING, 3 * DAY, 6 * HOUR, 1.0),
    )


V1ALPHA = """\
apiVersion: openslo/v1alpha
kind: SLO
metadata: {name: pay}
spec:
  service: pay
  budgetingMethod: Occurrences
  timeWindows:
    - {unit: Day, count: 7, isRolling: true}
  objectives:
    - target: 0.99
      ratioMetrics:
        good: {source: prometheus, queryType: promql, query: 'pay_total{code="2xx"}'}
        total: {source: prometheus, queryType: promql, query: pay_total}
"""


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "message"),
    [
        (
            "good: {source: prometheus,",
            "good: {source: datadog,",
            12,
            "spec.objectives[0].ratioMetrics.good.source",
            "cannot be represented: source 'datadog' is not Prometheus; sloguard evaluates SLIs "
            "with Prometheus (source: prometheus)",
        ),
        (
            "{unit: Day, count: 7, isRolling: true}",
            "{unit: Month, count: 2, isRolling: false, calendar: {startTime: "
            "2024-01-01 00:00:00, timeZone: UTC}}",
            8,
            "spec.timeWindows[0].unit",
            "a calendar-aligned window must be one week, month or quarter (count: 1 with unit "
            "Week, Month or Quarter): sloguard resets the budget at the start of each (got 2 "
            "Month)",
        ),
        (
            "{unit: Day, count: 7, isRolling: true}",
            "{unit: Fortnight, count: 1, isRolling: true}",
            8,
            "spec.timeWindows[0].unit",
            "unknown unit 'Fortnight' (allowed: Day, Hour, Minute, Month, Quarter, Second, "
            "Week, Year)",
        ),
        (
            "queryType: promql, query: pay_total}",
            "queryType: sql, query: pay_total}",
            13,
            "spec.objectives[0].ratioMetrics.total.queryType",
            "unknown queryType 'sql'; write queryType: promql",
        ),
        (
            "  objectives:\n",
            "  objectives: many\n  objectivez:\n",
            9,
            "spec.objectives",
            "must be a list (got 'many')",
        ),
        (
            "kind: SLO",
            "kind: Slo",
            2,
            "kind",
            "unknown kind 'Slo', did you mean 'SLO'?",
        ),
    ],
)
def test_v1alpha_mistakes_are_shown_at_the_peer_line_and_field(
    old: str, new: str, line: int, field: str, message: str
) -> None:
    assert check_slo_text(V1ALPHA, "slo.yaml").problems == ()
    assert old in V1ALPHA
    assert (line, field, message) in _problems(V1ALPHA.replace(old, new, 1))


def test_a_data_source_reference_gives_the_type() -> None:
    text = SLO_V1.replace(
        "            type: Prometheus\n            spec: {query: api_requests_total}",
        "            metricSourceRef: dd\n            spec: {query: api_requests_total}",
    ) + (
        "---\napiVersion: openslo/v1\nkind: DataSource\nmetadata: {name: dd}\n"
        "spec: {type: Datadog, connectionDetails: {site: eu}}\n"
    )
    assert (
        18,
        "document 1: spec.indicator.spec.ratioMetric.total.metricSource.metricSourceRef",
        "cannot be represented: data source 'Datadog' is not Prometheus; sloguard evaluates "
        "SLIs with Prometheus (type: Prometheus)",
    ) in _problems(text)


def test_an_object_several_slos_share_is_reported_once() -> None:
    shared_sli = """\
apiVersion: openslo/v1
kind: SLI
metadata: {name: shared}
spec:
  ratioMetric:
    counter: true
    good: {metricSource: {type: Graphite, spec: {query: a}}}
    total: {metricSource: {type: Prometheus, spec: {query: b_total}}}
"""
    slo = "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: NAME}\nspec:\n  service: s\n"
    slo += "  indicatorRef: shared\n  budgetingMethod: Occurrences\n  objectives: [{target: 0.9}]\n"
    text = "---\n".join([shared_sli, slo.replace("NAME", "one"), slo.replace("NAME", "two")])
    assert _problems(text) == [
        (
            7,
            "document 1: spec.ratioMetric.good.metricSource.type",
            "cannot be represented: data source 'Graphite' is not Prometheus; sloguard evaluates "
            "SLIs with Prometheus (type: Prometheus)",
        )
    ]


_ODD = [None, 1, -3.5, True, "x", [], {}, ["a", 1], {"a": None}, "{{.window}}", "1M", "sum(x)"]


def _paths(node: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    out = [path]
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, value in items:
        out += _paths(value, (*path, key))
    return out


@pytest.mark.parametrize("folder", ["openslo", "slogenerator"])
def test_any_value_anywhere_is_a_problem_never_a_crash(folder: str) -> None:
    rng = random.Random(folder)
    for path in sorted((DATA.parent / folder).glob("*.yaml")):
        docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        for _ in range(15):
            mutated = copy.deepcopy(docs)
            doc = rng.randrange(len(mutated))
            where = rng.choice(_paths(mutated[doc])[1:])
            node: Any = mutated[doc]
            for key in where[:-1]:
                node = node[key]
            node[where[-1]] = rng.choice(_ODD)
            check = check_slo_text(yaml.safe_dump_all(mutated), "mutated.yaml")
            assert check.slo_file is not None or check.problems
