"""``sloguard rules``: SLOs → Prometheus rules that promtool accepts and that fire when the
daemon fires (promtool unit tests whose expected times come from ``simulate``)."""

from __future__ import annotations

import asyncio
import copy
import math
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from sloguard.alerting.state import new_instance
from sloguard.cli import main
from sloguard.durations import parse_duration
from sloguard.rules.compiler import (
    HEADER,
    compile_groups,
    header,
    prometheus_rule,
    render,
    rule_file,
    tier_condition,
)
from sloguard.rules.promtool import Unsupported, expanding, unit_test_doc
from sloguard.rules.scenarios import parse_scenario
from sloguard.rules.simulate import simulate
from sloguard.slo.budget import Severity
from sloguard.slo.loader import parse_slo_text
from sloguard.slo.promql import bad_and_total
from sloguard.slo.spec import SLO
from tests.support.processes import REPO
from tests.support.promserver import promtool_binary

ALERTS = REPO / "alerts"
CONFIG = REPO / "config" / "slos.yaml"
#: The command CI runs (``.ci/run``): fails when alerts/ is stale.
GENERATE = ["--format", "prometheus", "--format", "prometheus-operator", "--tests"]

SLOS = """\
apiVersion: sloguard/v1
slos:
  - name: checkout
    objective: 99.5
    period: 30d
    sli: {kind: success_rate}
    group_by: [agent_name]
    min_events: 100
    alerting:
      labels: {team: payments}
      annotations: {summary: "checkout {{ $labels.agent_name }} is failing"}
      runbook: https://runbooks.example.com/checkout
  - name: raw-errors
    objective: 99
    period: 30d
    sli: {kind: ratio, bad: 'http_requests_total{code=~"5.."}', total: http_requests_total}
"""


def slos(text: str = SLOS) -> tuple[SLO, ...]:
    return parse_slo_text(text, "slos.yaml", resolution=60.0).slos


def group(name: str, text: str = SLOS) -> dict[str, Any]:
    (found,) = [g for g in compile_groups(slos(text)) if g["name"] == f"sloguard-{name}"]
    return found


def promtool(*args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool_binary(), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


# --- compiling (pure) -------------------------------------------------------------------------
def test_window_records_use_sloth_names_and_the_daemons_queries() -> None:
    checkout = slos()[0]
    rules = group("checkout")["rules"]
    records = [r["record"] for r in rules if "record" in r]
    windows = ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"]
    assert [r for r in records if r.startswith("slo:sli_error:")] == [
        f"slo:sli_error:ratio_rate{w}" for w in windows
    ]
    assert [r for r in records if r.startswith("slo:sli_total:")] == [
        f"slo:sli_total:increase{w}" for w in ("1h", "6h", "1d", "3d")
    ]
    one_hour = next(r for r in rules if r.get("record") == "slo:sli_error:ratio_rate1h")
    bad, total = bad_and_total(checkout, 3600.0)
    assert one_hour["expr"] == f"(\n  {bad}\n  or\n  0 * {total}\n)\n/\n{total}"
    assert "sum by (agent_name) (increase(agent_calls_total[1h]))" in total
    assert one_hour["labels"] == {
        "sloguard_slo": "checkout",
        "sloth_id": "sloguard-checkout",
        "sloth_service": "sloguard",
        "sloth_slo": "checkout",
        "sloth_window": "1h",
        "window": "1h",
    }


def test_metadata_records() -> None:
    rules = {r["record"]: r for r in group("checkout")["rules"] if "record" in r}
    assert rules["slo:objective:ratio"]["expr"] == "vector(0.995)"
    assert rules["slo:error_budget:ratio"]["expr"] == "vector(0.0050000000000000044)"
    assert rules["slo:time_period:days"]["expr"] == "vector(30)"
    period = rules["slo:period_burn_rate:ratio"]["expr"]
    assert 'slo:sli_error:ratio_rate30d{sloguard_slo="checkout"}' in period
    assert period.endswith("/ 0.0050000000000000044")
    assert "ratio_rate5m" in rules["slo:current_burn_rate:ratio"]["expr"]  # as Sloth
    remaining = rules["slo:period_error_budget_remaining:ratio"]["expr"]
    assert remaining == '1 - slo:period_burn_rate:ratio{sloguard_slo="checkout"}'
    assert "window" not in rules["slo:objective:ratio"]["labels"]


def test_one_alert_per_severity_with_its_tiers_joined_by_or() -> None:
    checkout = slos()[0]
    alerts = [r for r in group("checkout")["rules"] if "alert" in r]
    assert [(a["alert"], a["labels"]["severity"], a["for"]) for a in alerts] == [
        ("SLOBurn", "critical", "0m"),
        ("SLOBurn", "warning", "0m"),
    ]
    critical = alerts[0]["expr"]
    tiers = [t for t in checkout.alerting.policy.tiers if t.severity is Severity.CRITICAL]
    assert critical.count("\nor\n") == len(tiers) - 1
    for tier in tiers:
        for line in tier_condition(checkout, tier).splitlines():
            assert f"  {line}" in critical.splitlines()
    assert (
        'max by (agent_name) (slo:sli_error:ratio_rate1h{sloguard_slo="checkout"} '
        "> (14.4 * 0.0050000000000000044))"
    ) in critical
    assert "and on (agent_name)" in critical
    # min_events (100) is above the one-failure floor (1 / 0.072 -> 13)
    assert 'slo:sli_total:increase1h{sloguard_slo="checkout"} >= 100' in critical


def test_alert_labels_are_the_daemons_plus_the_source_and_sloths() -> None:
    """The rules' alerts carry the daemon's labels and ``sloguard_source="rules"`` (with the
    ``sloth_*`` ones), so an Alertmanager receiving both never merges the two senders."""
    checkout = slos()[0]
    for rule in (r for r in group("checkout")["rules"] if "alert" in r):
        severity = rule["labels"]["severity"]
        instance = {"agent_name": "billing"}  # from the series (max by (agent_name))
        daemon = new_instance(checkout.name, instance, checkout.alerting.labels)
        state = daemon.critical if severity == "critical" else daemon.warning
        rules_alert = {**rule["labels"], **instance, "alertname": rule["alert"]}
        assert "sloguard_source" not in state.labels
        extra = {k: v for k, v in rules_alert.items() if k not in state.labels}
        assert {k: rules_alert[k] for k in state.labels} == dict(state.labels)
        assert extra == {
            "sloguard_source": "rules",
            "sloth_id": "sloguard-checkout",
            "sloth_service": "sloguard",
            "sloth_slo": "checkout",
            "sloth_severity": "page" if severity == "critical" else "ticket",
        }


def test_annotations_are_the_daemons_and_not_templates() -> None:
    (critical, _) = [r for r in group("checkout")["rules"] if "alert" in r]
    assert critical["annotations"] == {
        "description": "SLO checkout (99.500% over 30d) is burning its error budget",
        "runbook_url": "https://runbooks.example.com/checkout",
        "summary": 'checkout {{ "{{" }} $labels.agent_name }} is failing',
    }


def test_raw_promql_slos_are_compiled() -> None:
    rules = group("raw-errors")["rules"]
    one_hour = next(r for r in rules if r.get("record") == "slo:sli_error:ratio_rate1h")
    assert 'sum (increase(http_requests_total{code=~"5.."}[1h]))' in one_hour["expr"]
    assert any(r.get("alert") == "SLOBurn" for r in rules)


def test_group_by_a_label_the_rules_set_is_refused() -> None:
    text = SLOS.replace("sli: {kind: ratio,", "group_by: [sloth_slo]\n    sli: {kind: ratio,")
    with pytest.raises(ValueError, match="sloth_slo"):
        compile_groups(slos(text))


def test_output_is_deterministic_and_sorted() -> None:
    forward = render(rule_file(compile_groups(slos())), header("slos.yaml"))
    backward = render(rule_file(compile_groups(reversed(slos()))), header("slos.yaml"))
    assert forward == backward
    assert forward.startswith(f"# {HEADER}\n# source: slos.yaml\n---\ngroups:\n")
    doc = yaml.safe_load(forward)
    assert [g["name"] for g in doc["groups"]] == [
        "sloguard-checkout",
        "sloguard-checkout/rates",
        "sloguard-raw-errors",
        "sloguard-raw-errors/rates",
    ]


def test_rate_group_records_bad_and_total_rates_every_five_minutes() -> None:
    rates = group("checkout/rates")
    assert rates["interval"] == "5m"
    assert [r["record"] for r in rates["rules"]] == ["slo:sli_bad:rate5m", "slo:sli_total:rate5m"]
    assert all(r["labels"] == {"sloguard_slo": "checkout"} for r in rates["rules"])
    bad, total = (r["expr"] for r in rates["rules"])
    assert "or\n  0 * " in bad  # bad is 0, not absent, before the first failure
    assert bad.endswith("/ 300") and total.endswith("/ 300") and "[5m]" in total


def test_prometheus_operator_wraps_the_same_groups() -> None:
    groups = compile_groups(slos())
    doc = prometheus_rule(groups, "sloguard-slos", {"release": "prometheus"})
    assert doc["apiVersion"] == "monitoring.coreos.com/v1" and doc["kind"] == "PrometheusRule"
    assert doc["metadata"]["labels"]["release"] == "prometheus"
    assert doc["spec"]["groups"] == groups


@pytest.mark.parametrize(
    ("values", "text"),
    [
        ([0, 10, 20, 30], "0+10x3"),
        ([0, 10, 20, 20, 20, 25], "0+10x2 20+0x1 25+0x0"),
        ([5], "5+0x0"),
    ],
)
def test_expanding_notation(values: list[int], text: str) -> None:
    assert expanding(values) == text
    # promtool's reading of it: each "a+bxn" is a, a+b, ..., a+n*b
    back: list[int] = []
    for part in text.split():
        a, b, n = map(int, re.fullmatch(r"(\d+)\+(\d+)x(\d+)", part).groups())  # type: ignore[union-attr]
        back += [a + i * b for i in range(n + 1)]
    assert back == values


# --- the command ------------------------------------------------------------------------------
def test_cli_writes_then_check_finds_every_kind_of_staleness(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "team.yaml"
    src.write_text(SLOS, encoding="utf-8")
    out = tmp_path / "alerts"
    both = ["--format", "prometheus", "--format", "prometheus-operator"]
    assert main(["rules", str(src), "-o", str(out), *both]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["team.prometheus-rule.yaml", "team.rules.yaml"]
    assert main(["rules", str(src), "-o", str(out), *both, "--check"]) == 0
    capsys.readouterr()

    (out / "team.rules.yaml").write_text("groups: []\n", encoding="utf-8")
    (out / "team.prometheus-rule.yaml").unlink()
    (out / "old.rules.yaml").write_text(f"# {HEADER}\ngroups: []\n", encoding="utf-8")
    (out / "handmade.rules.yaml").write_text("groups: []\n", encoding="utf-8")  # not ours
    assert main(["rules", str(src), "-o", str(out), *both, "--check"]) == 1
    printed = capsys.readouterr()
    assert "team.rules.yaml: differs" in printed.out
    assert "team.prometheus-rule.yaml: missing" in printed.out
    assert "old.rules.yaml: no longer generated" in printed.out
    assert "handmade" not in printed.out and "is stale" in printed.err

    assert main(["rules", str(src), "-o", str(out), *both]) == 0
    assert not (out / "old.rules.yaml").exists() and (out / "handmade.rules.yaml").exists()
    assert main(["rules", str(src), "-o", str(out), *both, "--check", "--json"]) == 0
    assert '"stale": {}' in capsys.readouterr().out


def test_cli_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "slos.yaml"
    src.write_text(SLOS, encoding="utf-8")
    args = ["rules", str(src), "-o", str(tmp_path / "out")]
    assert main([*args, "--format", "prometheus-operator", "--tests"]) == 2
    assert "--tests needs --format prometheus" in capsys.readouterr().err
    assert main([*args, "--format", "nagios"]) == 2


def test_cli_reports_slo_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "slos.yaml"
    src.write_text(SLOS.replace("objective: 99.5", "objective: 150"), encoding="utf-8")
    assert main(["rules", str(src), "-o", str(tmp_path / "out")]) == 1
    assert "slos.yaml:" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# --- promtool ----------------------------------------------------------------------------------
def test_alerts_dir_is_what_the_generator_writes(tmp_path: Path) -> None:
    """The staleness check: regenerating alerts/ from config/slos.yaml is byte-identical."""
    fresh = tmp_path / "alerts"
    assert main(["rules", str(CONFIG), "-o", str(fresh), *GENERATE]) == 0
    made = sorted(p.relative_to(fresh).as_posix() for p in fresh.rglob("*.yaml"))
    ours = sorted(p.relative_to(ALERTS).as_posix() for p in ALERTS.rglob("*.yaml"))
    assert made == ours
    for rel in made:
        assert (fresh / rel).read_bytes() == (ALERTS / rel).read_bytes(), f"alerts/{rel} is stale"
    assert main(["rules", str(CONFIG), "-o", str(ALERTS), *GENERATE, "--check"]) == 0


@pytest.mark.e2e  # promtool
def test_promtool_check_rules_accepts_the_generated_files(tmp_path: Path) -> None:
    out = promtool("check", "rules", ALERTS / "slos.rules.yaml")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout
    # the PrometheusRule's spec is a rule file too
    operator = yaml.safe_load((ALERTS / "slos.prometheus-rule.yaml").read_text(encoding="utf-8"))
    spec = tmp_path / "spec.rules.yaml"
    spec.write_text(yaml.safe_dump(operator["spec"], allow_unicode=True), encoding="utf-8")
    out = promtool("check", "rules", spec)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("(increase(agent_calls_total[1h]))", "(increase(agent_calls_total[1h])", "parse error"),
        ("record: slo:sli_error:ratio_rate5m", "record: slo:sli error:5m", "invalid recording"),
        ("for: 0m", "for: soon", "not a valid duration"),
    ],
)
@pytest.mark.e2e  # promtool
def test_promtool_check_rules_fails_on_a_broken_rule(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    text = (ALERTS / "slos.rules.yaml").read_text(encoding="utf-8")
    assert old in text
    broken = tmp_path / "broken.rules.yaml"
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    out = promtool("check", "rules", broken)
    assert out.returncode != 0
    assert message in (out.stdout + out.stderr)


@pytest.mark.e2e  # promtool
def test_promtool_unit_tests_of_alerts_pass() -> None:
    """``promtool test rules alerts/tests/*.yaml``: the rules fire when the daemon does."""
    files = sorted((ALERTS / "tests").glob("*.test.yaml"))
    assert len(files) >= 3
    with ThreadPoolExecutor(max_workers=len(files)) as pool:  # one promtool per file, in parallel
        results = list(pool.map(lambda f: promtool("test", "rules", f), files))
    for f, out in zip(files, results, strict=True):
        assert out.returncode == 0, f"{f.name}:\n{out.stdout}{out.stderr}"
        assert "SUCCESS" in out.stdout


AVAILABILITY = """\
apiVersion: sloguard/v1
slos:
  - {name: availability, target: 0.995, window: 24h, metric: success_rate, threshold: 0.995}
"""
SCENARIOS = ("outage", "outage:ratio=0.05,duration=20m", "spike", "leak:duration=1h48m")


def _doc(tmp_path: Path) -> tuple[dict[str, Any], list[str]]:
    models = slos(AVAILABILITY)
    rules = tmp_path / "slos.rules.yaml"
    rules.write_text(render(rule_file(compile_groups(models))), encoding="utf-8")
    scenarios = [parse_scenario(s, error_budget=models[0].error_budget) for s in SCENARIOS]
    return asyncio.run(unit_test_doc(models[0], models, ["slos.rules.yaml"], scenarios))


@pytest.mark.e2e  # promtool
def test_rules_fire_the_daemons_tiers_within_one_rule_interval(tmp_path: Path) -> None:
    """simulate (the daemon, every 30 s) says when each tier fires; the generated test expects
    each tier's rule condition at the first Prometheus evaluation (every 1 m) at or after that,
    and not at the one before; promtool, evaluating the real rules, agrees."""
    doc, _ = _doc(tmp_path)
    (slo,) = slos(AVAILABILITY)
    lead = max(t.long_window for t in slo.alerting.policy.tiers)
    every = parse_duration(doc["evaluation_interval"])
    fired = 0
    for text, test in zip(SCENARIOS, doc["tests"], strict=True):
        scenario = parse_scenario(text, error_budget=slo.error_budget)
        result = asyncio.run(simulate(slo, scenario, interval=30.0))
        checks = {
            (e["expr"], parse_duration(e["eval_time"])): bool(e["exp_samples"])
            for e in test["promql_expr_test"]
        }
        for tier, outcome in zip(slo.alerting.policy.tiers, result.tiers, strict=True):
            expr = f"count (\n{tier_condition(slo, tier)}\n)"
            if outcome.detected_after is None:
                assert checks[(expr, lead + scenario.duration)] is False
                continue
            fired += 1
            at = math.ceil((lead + outcome.detected_after) / every) * every
            assert at - (lead + outcome.detected_after) < every
            assert checks[(expr, at)] is True and checks[(expr, at - every)] is False
    assert fired >= 4  # outage (4 tiers), partial outage, spike, leak
    assert sum(1 for t in doc["tests"] if any(e["exp_samples"] for e in t["promql_expr_test"])) >= 3
    target = tmp_path / "availability.test.yaml"
    target.write_text(render(doc), encoding="utf-8")
    out = promtool("test", "rules", target, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.e2e  # promtool
@pytest.mark.parametrize("shift", ["earlier", "later"])
def test_the_generated_tests_are_sharp(tmp_path: Path, shift: str) -> None:
    """Expecting a detection one rule evaluation earlier, or later, makes promtool fail."""
    doc, _ = _doc(tmp_path)
    sharp = copy.deepcopy(doc)
    cases = sharp["tests"][0]["alert_rule_test"]  # sorted by time, one step apart at edges
    i = next(i for i, c in enumerate(cases) if c.get("exp_alerts"))
    first, before = cases[i], cases[i - 1]
    assert "exp_alerts" not in before
    step = parse_duration(first["eval_time"]) - parse_duration(before["eval_time"])
    assert step == parse_duration(sharp["evaluation_interval"]) == 60  # Prometheus default
    if shift == "earlier":
        before["exp_alerts"] = first["exp_alerts"]
    else:
        del first["exp_alerts"]
    target = tmp_path / "shifted.test.yaml"
    target.write_text(render(sharp), encoding="utf-8")
    out = promtool("test", "rules", target, cwd=tmp_path)
    assert out.returncode != 0
    assert "FAILED" in out.stdout + out.stderr


def test_slos_that_cannot_be_matched_exactly_are_refused() -> None:
    models = slos()
    with pytest.raises(Unsupported, match="raw PromQL"):
        asyncio.run(unit_test_doc(models[1], models, ["x"]))
