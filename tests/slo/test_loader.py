"""SLO files → frozen models: the seed's form, every problem located, notices apart."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from sloguard.durations import DAY, HOUR, MINUTE
from sloguard.errors import ConfigError
from sloguard.slo import loader
from sloguard.slo.budget import Policy, Severity, Tier, default_policy
from sloguard.slo.loader import (
    RESERVED_LABELS,
    check_slo_text,
    load_slo_file,
    load_slo_files,
    parse_slo_text,
)
from sloguard.slo.spec import SLI, SLO, Alerting, SLIKind

REPO = Path(__file__).resolve().parents[2]
FILE = "slos.yaml"

#: The seed's three AgentSLOs, as the seed writes them.
SEED = """\
slos:
  - name: 에이전트 가용성
    target: 0.995
    window: 24h
    metric: success_rate
    threshold: 0.995
  - name: 응답 지연시간 P95
    target: 0.95
    window: 1h
    metric: latency_p95
    threshold: 5.0
  - name: 핸드오프 정확도
    target: 0.90
    window: 24h
    metric: routing_accuracy
    threshold: 0.90
"""


def _yaml(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def problems(text: str, **options: Any) -> list[str]:
    check = check_slo_text(_yaml(text), FILE, **options)
    assert check.slo_file is None, "expected problems"
    return [str(p) for p in check.problems]


def notices(text: str, **options: Any) -> list[str]:
    check = check_slo_text(_yaml(text), FILE, **options)
    assert check.problems == (), [str(p) for p in check.problems]
    return [str(p) for p in check.notices]


# --- the seed's form --------------------------------------------------------------------------


def test_the_seed_form_loads_to_exact_models() -> None:
    slos = parse_slo_text(SEED, FILE).slos
    day_policy = default_policy(DAY)
    assert slos == (
        SLO(
            name="에이전트 가용성",
            objective=0.995,
            period=86400.0,
            sli=SLI(SLIKind.SUCCESS_RATE),
            alerting=Alerting(day_policy),
            source_file=FILE,
            source_line=2,
        ),
        SLO(
            name="응답 지연시간 P95",
            objective=0.95,
            period=3600.0,
            sli=SLI(SLIKind.LATENCY, threshold=5.0),
            alerting=Alerting(default_policy(HOUR)),
            source_file=FILE,
            source_line=7,
        ),
        SLO(
            name="핸드오프 정확도",
            objective=0.90,
            period=86400.0,
            sli=SLI(SLIKind.ROUTING_ACCURACY),
            # At 90 % the 14.4x tier needs an error ratio of 1.44: it is left out (a notice).
            alerting=Alerting(Policy("default", day_policy.tiers[1:])),
            source_file=FILE,
            source_line=12,
        ),
    )


def test_the_seed_form_and_the_nested_form_are_the_same_slo() -> None:
    seed = parse_slo_text(SEED, FILE).slos[0]
    nested = parse_slo_text(
        _yaml("""
        apiVersion: sloguard/v1
        slos:
          - name: 에이전트 가용성
            objective: 99.5
            period: 24h
            sli: {kind: success_rate}
        """),
        FILE,
    ).slos[0]
    assert nested == SLO(**{**_fields(seed), "source_line": 3})


def _fields(slo: SLO) -> dict[str, Any]:
    return {name: getattr(slo, name) for name in SLO.__dataclass_fields__}


def test_the_seed_form_left_out_tier_is_a_notice() -> None:
    assert notices(SEED) == [
        "slos.yaml:12: slos[2].alerting.policy: default tier 2m/10s (burn rate 14.4) is left "
        "out: at objective 90 % it needs an error ratio of 1.44 > 1 and could never fire"
    ]


@pytest.mark.parametrize(
    ("metric", "target", "objective"),
    [("latency_p99", 0.99, 0.99), ("latency", 0.9, 0.9), ("latency_p999", 0.999, 0.999)],
)
def test_seed_latency_metrics(metric: str, target: float, objective: float) -> None:
    text = f"slos:\n  - {{name: a, target: {target}, metric: {metric}, threshold: 2}}\n"
    slo = parse_slo_text(text).slos[0]
    assert (slo.sli, slo.objective, slo.period) == (SLI(SLIKind.LATENCY, 2.0), objective, 30 * DAY)


def test_seed_tool_success_rate_without_threshold() -> None:
    slo = parse_slo_text("slos:\n  - {name: t, target: 0.99, metric: tool_success_rate}\n").slos[0]
    assert slo.sli == SLI(SLIKind.TOOL_SUCCESS_RATE)


# --- the example file -------------------------------------------------------------------------


def test_config_slos_yaml_loads() -> None:
    slo_file = load_slo_file(REPO / "config" / "slos.yaml")
    by_name = {s.name: s for s in slo_file.slos}
    assert list(by_name)[:3] == ["에이전트 가용성", "응답 지연시간 P95", "핸드오프 정확도"]
    assert by_name["응답 지연시간 P95"].sli == SLI(SLIKind.LATENCY, threshold=5.0)
    assert by_name["web-search-tool-success"].selector == {"tool_name": "web_search"}
    per_agent = by_name["agent-availability"]
    assert (per_agent.group_by, per_agent.min_events) == (("agent_name",), 50.0)
    assert per_agent.alerting.policy.name == "page-fast"
    assert per_agent.alerting.runbook is not None
    ratio = by_name["handoffs-without-loops"].sli
    assert (ratio.kind, ratio.total) == (SLIKind.RATIO, "agent_handoffs_total")
    assert set(slo_file.policies) == {"page-fast"}


def test_config_slos_yaml_needs_prometheus_for_its_ratio_slo() -> None:
    with pytest.raises(ConfigError) as info:
        load_slo_file(REPO / "config" / "slos.yaml", embedded=True)
    assert [p.field for p in info.value.problems] == ["slos[8].sli.kind"]


# --- every problem, located -------------------------------------------------------------------

ONE = "slos:\n  - name: a\n"  # line 2 is the SLO; its fields follow on line 3

PROBLEMS = [
    # document
    ("slos: []\nslo: []\n", "slos.yaml:2: slo: unknown key 'slo', did you mean 'slos'?"),
    (
        "apiVersion: sloguard/v2\nslos: []\n",
        "slos.yaml:1: apiVersion: unsupported apiVersion 'sloguard/v2' (supported: sloguard/v1,"
        " prometheus/v1, sloth.slok.dev/v1, openslo/v1, openslo/v1alpha, pyrra.dev/v1alpha1,"
        " sre.google.com/v2)",
    ),
    ("policies: {}\n", "slos.yaml: slos: required field is missing: the list of SLOs"),
    ("slos: {a: 1}\n", "slos.yaml:1: slos: must be a list of SLOs (got {'a': 1})"),
    (
        "- name: a\n",
        "slos.yaml: an SLO file is a mapping with an 'slos:' list (got [{'name': 'a'}])",
    ),
    ("", "slos.yaml: an SLO file is a mapping with an 'slos:' list (got None)"),
    ("slos:\n  - 3\n", "slos.yaml:2: slos[0]: must be a mapping (got 3)"),
    (
        ONE + "    objective: 99\n    objective: 98\n    sli: {kind: success_rate}\n",
        "slos.yaml:4: slos[0].objective: duplicate key 'objective' (first on line 3)",
    ),
    # unknown keys
    (
        ONE + "    objectve: 99\n",
        "slos.yaml:3: slos[0].objectve: unknown key 'objectve', did you mean 'objective'?",
    ),
    (
        ONE + "    kind: latency\n",
        "slos.yaml:3: slos[0].kind: unknown key 'kind' (it belongs under sli:)",
    ),
    (
        ONE + "    objective: 99\n    sli: {kind: success_rate, treshold: 2}\n",
        "slos.yaml:4: slos[0].sli.treshold: unknown key 'treshold', did you mean 'threshold'?",
    ),
    # name
    (
        "slos:\n  - objective: 99\n    sli: {kind: success_rate}\n",
        "slos.yaml:2: slos[0].name: required field is missing",
    ),
    ("slos:\n  - name: ''\n", "slos.yaml:2: slos[0].name: must be a non-empty string (got '')"),
    # objective / target
    (
        ONE + "    objective: 100.5\n",
        "slos.yaml:3: slos[0].objective: must be between 0 and 100 percent (got 100.5)",
    ),
    (
        ONE + "    objective: 0\n",
        "slos.yaml:3: slos[0].objective: must be between 0 and 100 percent (got 0)",
    ),
    (
        ONE + "    objective: 0.995\n",
        "slos.yaml:3: slos[0].objective: is a percent: 0.995 means "
        "0.995 %; for 99.5 % write objective: 99.5 or target: 0.995",
    ),
    (
        ONE + "    objective: 99.5%\n",
        "slos.yaml:3: slos[0].objective: must be a number without % (got '99.5%')",
    ),
    (
        ONE + "    target: 99.5\n",
        "slos.yaml:3: slos[0].target: must be a ratio between 0 and 1 "
        "(got 99.5); for percent write objective: 99.5",
    ),
    (
        ONE + "    target: 1\n",
        "slos.yaml:3: slos[0].target: must be a ratio between 0 and 1 (got 1)",
    ),
    (
        ONE + "    objective: 99\n    target: 0.99\n",
        "slos.yaml:4: slos[0].target: give objective (percent) or target (ratio), not both",
    ),
    (
        ONE + "    sli: {kind: success_rate}\n",
        "slos.yaml:2: slos[0].objective: required field "
        "is missing: give objective (percent, e.g. 99.5) or target (ratio, e.g. 0.995)",
    ),
    # durations
    (
        ONE + "    period: 30x\n",
        "slos.yaml:3: slos[0].period: not a duration: '30x' (use e.g. 30d, 6h, 5m, 1h30m)",
    ),
    (
        ONE + "    period: 3600\n",
        "slos.yaml:3: slos[0].period: a duration needs a unit, e.g. 30d, 6h or 5m (got 3600)",
    ),
    (ONE + "    window: 0s\n", "slos.yaml:3: slos[0].window: must be longer than 0 (got '0s')"),
    (
        ONE + "    period: 30d\n    window: 1d\n",
        "slos.yaml:4: slos[0].window: give period or the seed's window, not both",
    ),
    # SLI
    (
        ONE + "    objective: 99\n",
        "slos.yaml:2: slos[0].sli: required field is missing (or use the seed's form, e.g. "
        "metric: success_rate)",
    ),
    (
        ONE + "    sli: {kind: sucess_rate}\n",
        "slos.yaml:3: slos[0].sli.kind: unknown SLI kind 'sucess_rate', did you mean "
        "'success_rate'?",
    ),
    (
        ONE + "    sli: {kind: latency, threshold: 4}\n",
        "slos.yaml:3: slos[0].sli.threshold: latency threshold 4 s is not a bucket bound of "
        "agent_latency_seconds; use one of 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120 (or add it "
        "to metrics.buckets.agent_latency)",
    ),
    (
        ONE + "    sli: {kind: latency}\n",
        "slos.yaml:3: slos[0].sli.threshold: required field is missing: the bound in seconds",
    ),
    (
        ONE + "    sli: {kind: latency, threshold: -1}\n",
        "slos.yaml:3: slos[0].sli.threshold: must be greater than 0 (got -1)",
    ),
    (
        ONE + "    sli: {kind: success_rate, threshold: 0.99}\n",
        "slos.yaml:3: slos[0].sli.threshold: threshold applies only to kind: latency and "
        "workflow_latency (a success_rate SLO's threshold is its objective)",
    ),
    (
        ONE + "    sli: {kind: workflow_latency}\n",
        "slos.yaml:3: slos[0].sli.threshold: required field is missing: the bound in seconds",
    ),
    (
        ONE + "    sli: {kind: workflow_latency, threshold: 7}\n",
        "slos.yaml:3: slos[0].sli.threshold: workflow latency threshold 7 s is not a bucket bound "
        "of agent_workflow_duration_seconds; use one of 1, 2, 5, 10, 20, 30, 60, 120, 300, 600 "
        "(or add it to metrics.buckets.workflow_duration)",
    ),
    (
        ONE + "    sli: {kind: workflow_cost, threshold: 5}\n",
        "slos.yaml:3: slos[0].sli.max_cost_usd: required field is missing: the budget of one run "
        "in USD",
    ),
    (
        ONE + "    sli: {kind: workflow_cost, max_cost_usd: 0.05, threshold: 5}\n",
        "slos.yaml:3: slos[0].sli.threshold: threshold does not apply to kind: workflow_cost; "
        "use max_cost_usd",
    ),
    (
        ONE + "    sli: {kind: workflow_cost, max_cost_usd: 0.03}\n",
        "slos.yaml:3: slos[0].sli.max_cost_usd: max_cost_usd 0.03 is not a bucket bound of "
        "agent_workflow_cost_usd; use one of 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 5 "
        "(or add it to metrics.buckets.workflow_cost)",
    ),
    (
        ONE + "    sli: {kind: success_rate, max_cost_usd: 0.05}\n",
        "slos.yaml:3: slos[0].sli.max_cost_usd: max_cost_usd applies only to kind: workflow_cost",
    ),
    (
        ONE + "    sli: {kind: workflow_cost, max_cost_usd: 0.05}\n    group_by: [agent_name]\n",
        "slos.yaml:4: slos[0].group_by[0]: workflow_cost SLIs have no label 'agent_name' "
        "(allowed: workflow)",
    ),
    (
        ONE + "    sli: {kind: success_rate, good: up}\n",
        "slos.yaml:3: slos[0].sli.good: good applies only to kind: ratio",
    ),
    (
        ONE + "    sli: {kind: ratio, good: a_total}\n",
        "slos.yaml:3: slos[0].sli.total: kind: ratio needs total: the PromQL of all events",
    ),
    (
        ONE + "    sli: {kind: ratio, total: a_total}\n",
        "slos.yaml:3: slos[0].sli: kind: ratio needs good or bad: the PromQL of good or bad events",
    ),
    (
        ONE + "    sli: {kind: ratio, good: g_total, bad: b_total, total: a_total}\n",
        "slos.yaml:3: slos[0].sli.bad: give good or bad, not both",
    ),
    (
        ONE + "    sli: {kind: ratio, good: '', total: a_total}\n",
        "slos.yaml:3: slos[0].sli.good: must be a non-empty string (got '')",
    ),
    # the seed's flat form
    (
        ONE + "    target: 0.995\n    metric: success_rate\n    threshold: 0.99\n",
        "slos.yaml:5: slos[0].threshold: the threshold of a success_rate SLO is its target "
        "(0.995), but it is 0.99: drop threshold, or make target and threshold equal",
    ),
    (
        ONE + "    target: 0.99\n    metric: latency_p95\n    threshold: 5\n",
        "slos.yaml:4: slos[0].metric: latency_p95 means 95 % of requests within the threshold, "
        "but the objective is 99 %: use metric: latency, or target: 0.95",
    ),
    (
        ONE + "    target: 0.95\n    metric: latency_p95\n",
        "slos.yaml:2: slos[0].threshold: required field is missing: the latency bound in seconds, "
        "e.g. threshold: 5",
    ),
    (
        ONE + "    target: 0.95\n    metric: latency_p95\n    threshold: 3\n",
        "slos.yaml:5: slos[0].threshold: latency threshold 3 s is not a bucket bound of "
        "agent_latency_seconds; use one of 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120 (or add it "
        "to metrics.buckets.agent_latency)",
    ),
    (
        ONE + "    target: 0.9\n    metric: sucess_rate\n",
        "slos.yaml:4: slos[0].metric: unknown metric 'sucess_rate', did you mean 'success_rate'?",
    ),
    (
        ONE + "    target: 0.9\n    metric: success_rate\n    sli: {kind: success_rate}\n",
        "slos.yaml:4: slos[0].metric: give sli: or the seed's metric: form, not both",
    ),
    (
        ONE + "    target: 0.9\n    threshold: 0.9\n    sli: {kind: success_rate}\n",
        "slos.yaml:4: slos[0].threshold: threshold belongs under sli: (or use metric:)",
    ),
    # selector / group_by / min_events
    (
        ONE + "    objective: 99\n    sli: {kind: success_rate}\n    selector: {tool_name: x}\n",
        "slos.yaml:5: slos[0].selector.tool_name: success_rate SLIs have no label 'tool_name' "
        "(allowed: agent_name)",
    ),
    (
        ONE + "    objective: 99\n    sli: {kind: success_rate}\n    selector: {agent_name: 7}\n",
        "slos.yaml:5: slos[0].selector.agent_name: must be a string (got 7); quote it",
    ),
    (
        ONE + "    objective: 99\n    sli: {kind: ratio, bad: b, total: t}\n    selector: {a: x}\n",
        "slos.yaml:5: slos[0].selector: selector does not apply to kind: ratio; put label "
        "matchers in its PromQL",
    ),
    (
        ONE + "    objective: 99\n    sli: {kind: tool_success_rate}\n    group_by: [status]\n",
        "slos.yaml:5: slos[0].group_by[0]: tool_success_rate SLIs have no label 'status' "
        "(allowed: agent_name, tool_name)",
    ),
    (
        ONE + "    objective: 99\n    sli: {kind: success_rate}\n"
        "    group_by: [agent_name, agent_name]\n",
        "slos.yaml:5: slos[0].group_by[1]: label 'agent_name' is listed twice",
    ),
    (
        ONE + "    objective: 99\n    sli: {kind: ratio, bad: b, total: t}\n    group_by: [a-b]\n",
        "slos.yaml:5: slos[0].group_by[0]: 'a-b' is not a valid label name",
    ),
    (
        ONE + "    objective: 99\n    sli: {kind: success_rate}\n    group_by: agent_name\n",
        "slos.yaml:5: slos[0].group_by: must be a list of label names (got 'agent_name')",
    ),
    (
        ONE + "    objective: 99\n    sli: {kind: success_rate}\n    min_events: -1\n",
        "slos.yaml:5: slos[0].min_events: must be 0 or more (got -1)",
    ),
    # alerting
    (
        ONE + "    objective: 99\n    sli: {kind: success_rate}\n    alerting: {policy: fsat}\n"
        "policies:\n  fast: [{severity: critical, long_window: 1h, burn_rate: 14.4}]\n",
        "slos.yaml:5: slos[0].alerting.policy: unknown policy 'fsat', did you mean 'fast'?",
    ),
    (
        ONE + "    objective: 99\n    sli: {kind: success_rate}\n    alerting: {policy: 3}\n",
        "slos.yaml:5: slos[0].alerting.policy: must be a policy name or a list of tiers (got 3)",
    ),
    (
        ONE + "    objective: 99\n    sli: {kind: success_rate}\n    alerting: {policy: []}\n",
        "slos.yaml:5: slos[0].alerting.policy: must be a non-empty list of tiers (got [])",
    ),
    (
        ONE + "    objective: 99\n    sli: {kind: success_rate}\n"
        "    alerting: {labels: {severity: high}}\n",
        "slos.yaml:5: slos[0].alerting.labels.severity: label 'severity' is reserved: sloguard "
        "sets it on SLO series and alerts",
    ),
    (
        ONE + "    objective: 99\n    sli: {kind: success_rate}\n"
        "    alerting: {labels: {team-name: x}}\n",
        "slos.yaml:5: slos[0].alerting.labels.team-name: 'team-name' is not a valid label name",
    ),
    (
        ONE + "    objective: 99\n    sli: {kind: success_rate}\n"
        "    alerting: {annotations: {summary: [x]}}\n",
        "slos.yaml:5: slos[0].alerting.annotations.summary: must be a string (got ['x']); quote it",
    ),
    (
        ONE + "    objective: 99\n    sli: {kind: success_rate}\n    alerting: {runbok: x}\n",
        "slos.yaml:5: slos[0].alerting.runbok: unknown key 'runbok', did you mean 'runbook'?",
    ),
    (
        ONE + "    objective: 99\n    sli: {kind: success_rate}\n    policy: fast\n",
        "slos.yaml:5: slos[0].policy: unknown key 'policy' (it belongs under alerting:)",
    ),
]


@pytest.mark.parametrize(("text", "expected"), PROBLEMS)
def test_problem_messages(text: str, expected: str) -> None:
    found = problems(text)
    assert expected in found, "\n".join(found)


INLINE = ONE + "    objective: 99\n    sli: {kind: success_rate}\n    alerting:\n      policy:\n"

TIER_PROBLEMS = [
    (
        "- {severity: critical, long_window: 1h, burn_rate: 200}",
        "slos.yaml:7: slos[0].alerting.policy[0]: tier 1h/5m needs an error ratio of 2 (burn rate "
        "200 x budget 0.01) > 1: it can never fire",
    ),
    (
        "- {severity: warning, long_window: 1h, burn_rate: 0.5}",
        "slos.yaml:7: slos[0].alerting.policy[0].burn_rate: a tier firing at burn rate 0.5 < 1 "
        "pages while the SLO is still being met",
    ),
    (
        "- {severity: warning, long_window: 3d, budget_fraction: 0.01}",
        "slos.yaml:7: slos[0].alerting.policy[0]: tier 3d/6h fires at burn rate 0.1 < 1: it pages "
        "while the SLO is still being met (from budget_fraction 0.01 at period 30d)",
    ),
    (
        "- {severity: warning, long_window: 1h, short_window: 2h, burn_rate: 2}",
        "slos.yaml:7: slos[0].alerting.policy[0].short_window: short window 2h is longer than the "
        "long window 1h",
    ),
    (
        "- {severity: warning, long_window: 1h, burn_rate: 2, budget_fraction: 0.1}",
        "slos.yaml:7: slos[0].alerting.policy[0].budget_fraction: give burn_rate or "
        "budget_fraction, not both",
    ),
    (
        "- {severity: warning, long_window: 1h}",
        "slos.yaml:7: slos[0].alerting.policy[0].burn_rate: required field is missing: give "
        "burn_rate (F, e.g. 14.4) or budget_fraction (f, e.g. 0.02: the share of the period's "
        "budget spent when the tier fires)",
    ),
    (
        "- {severity: page, long_window: 1h, burn_rate: 2}",
        "slos.yaml:7: slos[0].alerting.policy[0].severity: unknown severity 'page' (allowed: "
        "critical, warning)",
    ),
    (
        "- {severity: warning, long_window: 40d, burn_rate: 1}",
        "slos.yaml:7: slos[0].alerting.policy[0]: tier 40d/3d8h: long window 40d is longer "
        "than the SLO's period 30d",
    ),
    (
        "- {severity: warning, long_window: soon, burn_rate: 1}",
        "slos.yaml:7: slos[0].alerting.policy[0].long_window: not a duration: 'soon' (use e.g. "
        "30d, 6h, 5m, 1h30m)",
    ),
    (
        "- {severity: warning, long_window: 1h, budget_fraction: 2}",
        "slos.yaml:7: slos[0].alerting.policy[0].budget_fraction: must be a fraction of the "
        "budget, more than 0 and at most 1 (got 2)",
    ),
    ("- warning", "slos.yaml:7: slos[0].alerting.policy[0]: must be a mapping (got 'warning')"),
]


@pytest.mark.parametrize(("tier", "expected"), TIER_PROBLEMS)
def test_inline_tier_problems(tier: str, expected: str) -> None:
    found = problems(INLINE + "        " + tier + "\n")
    assert expected in found, "\n".join(found)


@pytest.mark.parametrize("label", sorted(RESERVED_LABELS))
def test_reserved_labels_cannot_be_grouped_by(label: str) -> None:
    text = ONE + "    objective: 99\n    sli: {kind: ratio, bad: b, total: t}\n"
    text += f"    group_by: [{label}]\n"
    assert problems(text) == [
        f"slos.yaml:5: slos[0].group_by[0]: label {label!r} is reserved: sloguard sets it on SLO "
        "series and alerts"
    ]


def test_a_ratio_slo_may_group_by_its_own_labels() -> None:
    text = ONE + "    objective: 99\n    sli: {kind: ratio, bad: b, total: t}\n"
    slo = parse_slo_text(text + "    group_by: [job, route]\n").slos[0]
    assert slo.group_by == ("job", "route")


def test_a_named_policy_with_a_tier_that_can_never_fire_points_at_the_slo() -> None:
    text = _yaml("""
        policies:
          loose:
            - {severity: critical, long_window: 1h, burn_rate: 14.4}
        slos:
          - name: a
            objective: 95
            sli: {kind: success_rate}
            alerting: {policy: loose}
          - name: b
            objective: 90
            sli: {kind: success_rate}
            alerting: {policy: loose}
        """)
    assert problems(text) == [
        "slos.yaml:12: slos[1].alerting.policy: policy 'loose': tier 1h/5m needs an error ratio "
        "of 1.44 (burn rate 14.4 x budget 0.1) > 1: it can never fire"
    ]


def test_defining_a_policy_named_default_is_a_problem() -> None:
    text = "policies:\n  default: [{severity: critical, long_window: 1h, burn_rate: 14.4}]\n"
    assert problems(text + "slos: []\n") == [
        "slos.yaml:2: policies.default: 'default' is the built-in policy; give yours another name"
    ]


def test_ratio_slis_need_prometheus_in_embedded_mode() -> None:
    text = ONE + "    objective: 99\n    sli: {kind: ratio, bad: b_total, total: t_total}\n"
    assert problems(text, embedded=True) == [
        "slos.yaml:4: slos[0].sli.kind: kind: ratio runs raw PromQL and needs Prometheus: set "
        "prometheus.url (the embedded source cannot evaluate it)"
    ]
    assert parse_slo_text(text).slos[0].sli == SLI(SLIKind.RATIO, bad="b_total", total="t_total")


def test_latency_thresholds_are_checked_against_the_given_buckets() -> None:
    text = ONE + "    objective: 99\n    sli: {kind: latency, threshold: 4}\n"
    assert parse_slo_text(text, latency_buckets=(1.0, 4.0)).slos[0].sli.threshold == 4.0
    assert problems(text.replace("4}", "5}"), latency_buckets=(1.0, 4.0)) == [
        "slos.yaml:4: slos[0].sli.threshold: latency threshold 5 s is not a bucket bound of "
        "agent_latency_seconds; use one of 1, 4 (or add it to metrics.buckets.agent_latency)"
    ]


def test_duplicate_names_name_both_lines() -> None:
    text = "slos:\n" + "  - {name: a, objective: 99, sli: {kind: success_rate}}\n" * 3
    assert problems(text) == [
        "slos.yaml:3: slos[1].name: duplicate SLO name 'a' (first on line 2)",
        "slos.yaml:4: slos[2].name: duplicate SLO name 'a' (first on line 2)",
    ]


def test_every_problem_of_a_file_is_reported_at_once_with_its_line() -> None:
    text = _yaml("""
        apiVersion: sloguard/v1
        slos:
          - name: ok
            objective: 99.9
            sli: {kind: success_rate}
          - name: bad-objective
            objective: 100.5
            period: 30x
            sli: {kind: latency, threshold: 3}
          - name: bad-ratio
            target: 0.99
            sli:
              kind: ratio
              good: good_total
            group_by: [slo]
            alerting:
              policy: nope
          - name: ok
            target: 0.9
            metrc: success_rate
        """)
    assert problems(text) == [
        "slos.yaml:7: slos[1].objective: must be between 0 and 100 percent (got 100.5)",
        "slos.yaml:8: slos[1].period: not a duration: '30x' (use e.g. 30d, 6h, 5m, 1h30m)",
        "slos.yaml:9: slos[1].sli.threshold: latency threshold 3 s is not a bucket bound of "
        "agent_latency_seconds; use one of 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120 (or add "
        "it to metrics.buckets.agent_latency)",
        "slos.yaml:12: slos[2].sli.total: kind: ratio needs total: the PromQL of all events",
        "slos.yaml:15: slos[2].group_by[0]: label 'slo' is reserved: sloguard sets it on SLO "
        "series and alerts",
        "slos.yaml:17: slos[2].alerting.policy: unknown policy 'nope' (allowed: default)",
        "slos.yaml:18: slos[3].sli: required field is missing (or use the seed's form, e.g. "
        "metric: success_rate)",
        "slos.yaml:18: slos[3].name: duplicate SLO name 'ok' (first on line 3)",
        "slos.yaml:20: slos[3].metrc: unknown key 'metrc', did you mean 'metric'?",
    ]


def test_yaml_syntax_errors_are_problems() -> None:
    with pytest.raises(ConfigError) as info:
        parse_slo_text("slos:\n  - name: [a\n", FILE)
    assert [(p.file, p.line) for p in info.value.problems] == [(FILE, 3)]


# --- policies ---------------------------------------------------------------------------------


def test_a_named_policy_resolves_budget_fractions_with_each_slos_period() -> None:
    text = _yaml("""
        policies:
          mine:
            - {severity: critical, long_window: 1h, budget_fraction: 0.02}
            - {severity: warning, long_window: 6h, short_window: 1h, burn_rate: 2}
        slos:
          - {name: month, objective: 99, sli: {kind: success_rate}, alerting: {policy: mine}}
          - {name: week, objective: 99, period: 7d, sli: {kind: success_rate},
             alerting: {policy: mine}}
        """)
    slo_file = parse_slo_text(text)
    month, week = (s.alerting.policy for s in slo_file.slos)
    assert month == Policy(
        "mine",
        (
            Tier(Severity.CRITICAL, HOUR, 5 * MINUTE, 14.4),
            Tier(Severity.WARNING, 6 * HOUR, HOUR, 2),
        ),
    )
    # Windows are absolute; F = f * P / L follows the period; burn_rate is used as is.
    assert [t.factor for t in week.tiers] == [3.36, 2.0]
    assert [t.long_window for t in week.tiers] == [HOUR, 6 * HOUR]
    assert slo_file.policies == {"mine": month}


def test_default_policy_scales_with_the_period() -> None:
    slo = parse_slo_text(
        ONE + "    objective: 99.9\n    period: 7d\n    sli: {kind: success_rate}\n"
    )
    assert slo.slos[0].alerting.policy == default_policy(7 * DAY)


# --- notices ----------------------------------------------------------------------------------


def test_windows_below_the_resolution_are_raised_with_a_notice() -> None:
    text = ONE + "    objective: 99\n    period: 1d\n    sli: {kind: success_rate}\n"
    check = check_slo_text(text, FILE, resolution=2 * MINUTE)
    assert [str(n) for n in check.notices] == [
        "slos.yaml:2: slos[0].alerting.policy: at period 1d the default policy's windows 10s, 1m "
        "are shorter than the source's resolution (2m) and were raised to it"
    ]
    assert check.slo_file is not None
    assert check.slo_file.slos[0].alerting.policy == default_policy(DAY, floor=2 * MINUTE)


def test_custom_tier_windows_below_the_resolution_are_raised_with_a_notice() -> None:
    text = INLINE + "        - {severity: critical, long_window: 1h, burn_rate: 14.4}\n"
    check = check_slo_text(text, FILE, resolution=10 * MINUTE)
    assert [str(n) for n in check.notices] == [
        "slos.yaml:7: slos[0].alerting.policy[0]: tier 1h/5m: windows shorter than the source's "
        "resolution (10m) were raised to it: 1h/10m"
    ]
    assert check.slo_file is not None
    tier = check.slo_file.slos[0].alerting.policy.tiers[0]
    assert (tier.long_window, tier.short_window) == (HOUR, 10 * MINUTE)


def test_a_period_shorter_than_the_resolution_is_a_problem() -> None:
    text = ONE + "    objective: 99\n    window: 1m\n    sli: {kind: success_rate}\n"
    assert problems(text, resolution=2 * MINUTE) == [
        "slos.yaml:4: slos[0].window: the period 1m is shorter than the source's resolution (2m)"
    ]


def test_an_unused_policy_is_a_notice() -> None:
    text = "policies:\n  spare: [{severity: warning, long_window: 1d, burn_rate: 2}]\nslos: []\n"
    assert notices(text) == ["slos.yaml:2: policies.spare: policy 'spare' is not used by any SLO"]


def test_notices_do_not_fail_loading() -> None:
    assert len(load_slo_file(REPO / "config" / "slos.yaml", resolution=10 * MINUTE).slos) == 9


def test_load_slo_files_hands_notices_to_a_callback() -> None:
    seen: list[str] = []
    slos = load_slo_files([REPO / "config" / "slos.yaml"], on_notice=lambda n: seen.append(n.field))
    assert len(slos) == 9
    assert seen == ["slos[2].alerting.policy"]


# --- files ------------------------------------------------------------------------------------


def test_load_slo_files_refuses_names_used_in_two_files(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("slos:\n  - {name: x, objective: 99, sli: {kind: success_rate}}\n", "utf-8")
    b.write_text("slos:\n  - {name: y, target: 0.9, metric: success_rate}\n" + a.read_text()[6:])
    with pytest.raises(ConfigError) as info:
        load_slo_files([a, b])
    assert [str(p) for p in info.value.problems] == [
        f"{b}:3: slos[1].name: duplicate SLO name 'x' (also in {a}:2)"
    ]
    assert [s.name for s in load_slo_files([b])] == ["y", "x"]


def test_load_slo_files_reports_every_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("slos:\n  - {name: x, objective: 101, sli: {kind: success_rate}}\n", "utf-8")
    with pytest.raises(ConfigError) as info:
        load_slo_files([bad, tmp_path / "missing.yaml"])
    assert [str(p) for p in info.value.problems] == [
        f"{bad}:2: slos[0].objective: must be between 0 and 100 percent (got 101)",
        f"{tmp_path / 'missing.yaml'}: cannot read file: No such file or directory",
    ]


def test_the_models_are_frozen() -> None:
    slo = parse_slo_text(SEED).slos[0]
    with pytest.raises(AttributeError):
        slo.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        slo.selector["agent_name"] = "x"  # type: ignore[index]


def test_all_lists_the_public_names() -> None:
    defined = {
        name
        for name, value in vars(loader).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == loader.__name__
    }
    assert defined <= set(loader.__all__)
    assert all(hasattr(loader, name) for name in loader.__all__)
