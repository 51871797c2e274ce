"""slo-generator ``sre.google.com/v2`` SLOs with the Prometheus backend read as sloguard SLOs: the
queries slo-generator would run for each window, with ``{{.window}}``; mistakes at the file's
line and field; the SLOs compile to rules promtool accepts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sloguard.cli import main
from sloguard.rules.compiler import compile_groups, render, rule_file
from sloguard.slo.budget import Severity, Tier
from sloguard.slo.loader import check_slo_doc, check_slo_docs, check_slo_file, check_slo_text
from sloguard.slo.peers.located import translated_doc
from sloguard.slo.peers.slogenerator import translate_with_policies
from sloguard.slo.promql import bad_and_total
from sloguard.slo.spec import SLI, SLO, SLIKind
from sloguard.yamldoc import load_yaml_all
from tests.support.promserver import promtool_binary

DATA = Path(__file__).resolve().parents[2] / "data" / "peers" / "slogenerator"
FILES = (
    "availability-ratio.yaml",
    "availability-bad.yaml",
    "latency-distribution-cut.yaml",
    "latency-query-sli.yaml",
)
DAY = 86400.0


def _slo(name: str) -> SLO:
    check = check_slo_file(DATA / name)
    assert check.problems == ()
    assert check.format == "slo-generator"
    assert check.slo_file is not None
    (slo,) = check.slo_file.slos
    return slo


def test_good_bad_ratio_with_filter_valid() -> None:
    slo = _slo("availability-ratio.yaml")
    assert slo.name == "shop-checkout-availability"
    assert slo.objective == 0.995
    assert slo.description == "99.5% of checkout requests return a good HTTP code"
    # slo-generator appends [W] to a selector and wraps it in increase, then sum
    assert slo.sli == SLI(
        SLIKind.RATIO,
        good='sum(increase(http_requests_total{handler="/checkout", code=~"2.."}[{{.window}}]))',
        total='sum(increase(http_requests_total{handler="/checkout"}[{{.window}}]))',
    )
    assert dict(slo.alerting.labels) == {
        "service_name": "shop",
        "feature_name": "checkout",
        "slo_name": "availability",
    }
    assert slo.alerting.policy.name == "default"
    assert slo.period == 30 * DAY
    bad, total = bad_and_total(slo, 3600.0)
    assert total == 'sum (sum(increase(http_requests_total{handler="/checkout"}[1h])))'
    assert "[1h]" in bad and "{{" not in bad


def test_good_bad_ratio_with_filter_bad_counts_good_plus_bad() -> None:
    check = check_slo_file(DATA / "availability-bad.yaml")
    assert check.problems == ()
    assert check.slo_file is not None
    (slo,) = check.slo_file.slos
    good = 'sum(increase(search_requests_total{outcome="ok"}[{{.window}}]))'
    bad = 'sum(increase(search_requests_total{outcome="error"}[{{.window}}]))'
    assert slo.sli == SLI(
        SLIKind.RATIO, bad=bad, total=f"({good} or vector(0)) + ({bad} or vector(0))"
    )
    assert [(n.line, n.field) for n in check.notices] == [
        (14, "spec.error_budget_policy"),
        (18, "spec.service_level_indicator.filter_valid"),
    ]


def test_distribution_cut_reads_the_bucket_and_its_count() -> None:
    slo = _slo("latency-distribution-cut.yaml")
    assert slo.objective == 0.99
    assert slo.sli == SLI(
        SLIKind.RATIO,
        good='sum(increase(http_request_duration_seconds_bucket{handler="/checkout", '
        'code=~"2..", le="0.25"}[{{.window}}]))',
        total='sum(increase(http_request_duration_seconds_count{handler="/checkout", '
        'code=~"2.."}[{{.window}}]))',
    )


def test_query_sli_is_split_at_its_division() -> None:
    slo = _slo("latency-query-sli.yaml")
    assert slo.sli == SLI(
        SLIKind.RATIO,
        good='sum(increase(http_request_duration_seconds_bucket{handler="/cart", le="0.5"}'
        "[{{.window}}]))",
        total='sum(increase(http_request_duration_seconds_count{handler="/cart"}[{{.window}}]))',
    )
    assert dict(slo.alerting.labels) == {}


def test_the_shared_configs_policy_becomes_tiers_and_period() -> None:
    docs = load_yaml_all(DATA / "availability-bad.yaml")
    policies = {
        "fast": {
            "steps": [
                {"name": "1 hour", "window": 3600, "burn_rate_threshold": 9, "alert": True},
                {"name": "12 hours", "window": 43200, "burn_rate_threshold": 3, "alert": True},
                {"name": "28 days", "window": 2419200, "burn_rate_threshold": 1, "alert": False},
            ]
        }
    }
    translation = translate_with_policies(docs, policies)
    assert translation.problems == ()
    slo = translation.data["slos"][0]
    assert slo["period"] == "28d"
    assert slo["alerting"]["policy"] == [
        {"severity": "critical", "long_window": "1h", "short_window": "1h", "burn_rate": 9},
        {"severity": "critical", "long_window": "12h", "short_window": "12h", "burn_rate": 3},
    ]
    unknown = translate_with_policies(docs, {"slow": policies["fast"]})
    assert [n.message for n in unknown.problems] == [
        "no error budget policy 'fast' with steps (allowed: slow)"
    ]


def test_the_model_of_a_shared_config_policy() -> None:
    docs = load_yaml_all(DATA / "availability-ratio.yaml")
    steps = [{"window": 3600, "burn_rate_threshold": 9, "alert": True}]
    steps.append({"window": 604800, "burn_rate_threshold": 1, "alert": False})
    translation = translate_with_policies(docs, {"default": {"steps": steps}})
    check = check_slo_doc(translated_doc(docs, translation))
    assert check.problems == ()
    assert check.slo_file is not None
    (slo,) = check.slo_file.slos
    assert slo.period == 7 * DAY
    assert slo.alerting.policy.tiers == (Tier(Severity.CRITICAL, 3600.0, 3600.0, 9.0),)


API = """\
apiVersion: sre.google.com/v2
kind: ServiceLevelObjective
metadata:
  name: api-availability
  labels: {service_name: api}
spec:
  description: API availability
  backend: prometheus
  method: good_bad_ratio
  service_level_indicator:
    filter_good: api_requests_total{code!~"5.."}
    filter_valid: api_requests_total
  goal: 0.999
"""


def test_the_base_document_of_the_mistakes_is_valid() -> None:
    assert check_slo_text(API, "slo.yaml").problems == ()


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "message"),
    [
        (
            "backend: prometheus",
            "backend: datadog",
            8,
            "spec.backend",
            "cannot be represented: backend 'datadog'; sloguard reads SLIs from Prometheus "
            "(backend: prometheus)",
        ),
        (
            "method: good_bad_ratio",
            "method: good_bad_ration",
            9,
            "spec.method",
            "unknown method 'good_bad_ration' for the Prometheus backend, did you mean "
            "'good_bad_ratio'?",
        ),
        (
            "  goal: 0.999",
            "  goal: '99.9%'",
            13,
            "spec.goal",
            "must be a number without % (got '99.9%') (sloguard field slos[0].target)",
        ),
        (
            "    filter_valid: api_requests_total\n",
            "",
            10,
            "spec.service_level_indicator.filter_valid",
            "required field is missing: filter_valid (all events) or filter_bad",
        ),
        (
            "    filter_valid: api_requests_total\n",
            "    filter_valid: api_requests_total\n    threshold_bucket: 0.5\n",
            13,
            "spec.service_level_indicator.threshold_bucket",
            "unknown key 'threshold_bucket' (allowed: filter_bad, filter_good, filter_valid, "
            "operators)",
        ),
        (
            "kind: ServiceLevelObjective",
            "kind: ServiceLevelIndicator",
            2,
            "kind",
            "must be kind: ServiceLevelObjective (got 'ServiceLevelIndicator')",
        ),
        (
            "method: good_bad_ratio\n  service_level_indicator:\n"
            '    filter_good: api_requests_total{code!~"5.."}\n'
            "    filter_valid: api_requests_total\n",
            "method: query_sli\n  service_level_indicator:\n"
            "    expression: 1 - avg_over_time(api_error_ratio[window])\n",
            11,
            "spec.service_level_indicator.expression",
            "cannot be represented: query_sli computes the SLI as one number and sloguard needs "
            "event counts; write it as good / total (e.g. sum(increase(a[window])) / "
            "sum(increase(b[window]))) or use method: good_bad_ratio",
        ),
        (
            "method: good_bad_ratio\n  service_level_indicator:\n"
            '    filter_good: api_requests_total{code!~"5.."}\n'
            "    filter_valid: api_requests_total\n",
            "method: distribution_cut\n  service_level_indicator:\n"
            "    expression: api_duration_seconds_bucket\n    threshold_bucket: 0.5\n"
            "    good_below_threshold: false\n",
            13,
            "spec.service_level_indicator.good_below_threshold",
            "cannot be represented: slo-generator's Prometheus backend always counts "
            "observations in the bucket as good; for good events above it write method: "
            "good_bad_ratio with filter_bad on the bucket",
        ),
    ],
)
def test_mistakes_are_shown_at_the_file_line_and_field(
    old: str, new: str, line: int, field: str, message: str
) -> None:
    assert old in API
    check = check_slo_text(API.replace(old, new, 1), "slo.yaml")
    assert check.slo_file is None
    assert (line, field, message) in [(p.line, p.field, p.message) for p in check.problems]


def test_a_goal_written_as_a_string_is_its_number() -> None:
    check = check_slo_text(API.replace("goal: 0.999", "goal: '0.999'"), "slo.yaml")
    assert check.slo_file is not None
    assert check.slo_file.slos[0].objective == 0.999


def test_several_documents_in_one_file_are_several_slos() -> None:
    second = API.replace("api-availability", "api-availability-2")
    check = check_slo_text(API + "---\n" + second, "slos.yaml")
    assert check.problems == ()
    assert check.slo_file is not None
    assert [s.name for s in check.slo_file.slos] == ["api-availability", "api-availability-2"]
    assert [s.source_line for s in check.slo_file.slos] == [1, 15]
    docs = load_yaml_all(DATA / "availability-ratio.yaml")
    assert check_slo_docs(docs).format == "slo-generator"


def test_the_cli_validates_a_slo_generator_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(DATA / "latency-query-sli.yaml")]) == 0
    out, err = capsys.readouterr()
    assert "0 problem(s), 2 notice(s)" in err
    assert "split at its top-level '/'" in out


def test_the_translated_slos_compile_and_promtool_accepts_them(tmp_path: Path) -> None:
    groups = compile_groups([_slo(name) for name in FILES])
    path = tmp_path / "slogenerator.rules.yaml"
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
