"""The JSON Schema of ``sloguard/v1`` SLO files agrees with the reader (``sloguard validate``).

1. **Drift guard**: every key, SLI kind, severity, seed metric and label the hand-written
   readers accept (``_DOC_KEYS``, ``_SLO_KEYS``, ``_SLI_KEYS``, ``_ALERTING_KEYS``,
   ``_TIER_KEYS``, ``SLIKind``, ``Severity``, ``KIND_LABELS``, ``RESERVED_LABELS``) is in the
   schema, and the schema has nothing more; its duration pattern accepts what
   ``parse_duration`` does (generated strings).
2. **Agreement**: the same documents go through ``jsonschema`` and ``check_slo_text``. Good
   ones (the repo's own SLO files included) pass both; bad ones fail both, and the reader's
   message is shown with its file, line and field. Documents only ``validate`` can refuse
   (their rejection needs the histogram's buckets, names defined elsewhere in the file, PromQL,
   arithmetic across fields) are listed apart with the reason, and so are the few the schema
   refuses although ``validate`` reads them.
"""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator, Draft202012Validator

from sloguard.durations import parse_duration
from sloguard.slo import entry, loader, policies
from sloguard.slo.budget import Severity
from sloguard.slo.loader import check_slo_text
from sloguard.slo.spec import SLIKind
from sloguard.yamldoc import dotted, parse_yaml_all

REPO = Path(__file__).resolve().parents[2]
FILE = "slos.yaml"
SCHEMA: dict[str, Any] = json.loads(
    (files("sloguard") / "schemas" / "slo-v1.schema.json").read_text(encoding="utf-8")
)
VALIDATOR = Draft202012Validator(SCHEMA)
DEFS = SCHEMA["$defs"]


def entry_doc(*lines: str, head: str = "") -> str:
    """A document with one SLO entry; line k (from 0) of the entry is on line k + 2 (+ head)."""
    return head + "slos:\n  - " + "\n    ".join(lines) + "\n"


def schema_errors(text: str) -> list[tuple[str, str]]:
    """(dotted path, message) of every schema error of the document ``text``."""
    (doc,) = parse_yaml_all(text, FILE)
    return [(dotted(e.absolute_path), e.message) for e in VALIDATOR.iter_errors(doc.data)]


# --- 1. drift guard --------------------------------------------------------------------------


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize(
    ("where", "keys"),
    [
        (SCHEMA, loader._DOC_KEYS),
        (DEFS["slo"], entry._SLO_KEYS),
        (DEFS["sli"], entry._SLI_KEYS),
        (DEFS["alerting"], entry._ALERTING_KEYS),
        (DEFS["tier"], policies._TIER_KEYS),
    ],
    ids=["document", "slo", "sli", "alerting", "tier"],
)
def test_the_schema_has_exactly_the_keys_the_reader_accepts(
    where: dict[str, Any], keys: tuple[str, ...]
) -> None:
    assert set(where["properties"]) == set(keys)
    assert where["additionalProperties"] is False  # the reader refuses unknown keys
    for key, prop in where["properties"].items():
        assert prop.get("description"), f"{key} has no description (editor hover help)"


def test_the_schema_has_exactly_the_kinds_severities_and_reserved_labels() -> None:
    assert DEFS["sli"]["properties"]["kind"]["enum"] == [k.value for k in SLIKind]
    assert DEFS["tier"]["properties"]["severity"]["enum"] == [s.value for s in Severity]
    assert set(DEFS["labelName"]["not"]["enum"]) == entry.RESERVED_LABELS
    # an SLO's labels and alert labels may use tier (Sloth's specs do); selectors may not
    assert set(DEFS["alertLabelName"]["not"]["enum"]) == entry.RESERVED_ALERT_LABELS
    assert DEFS["alertLabelName"]["pattern"] == DEFS["labelName"]["pattern"]
    assert DEFS["slo"]["properties"]["labels"]["$ref"] == "#/$defs/alertLabels"
    assert DEFS["alerting"]["properties"]["labels"]["$ref"] == "#/$defs/alertLabels"
    assert DEFS["slo"]["properties"]["selector"]["$ref"] == "#/$defs/labels"


def test_the_seed_metrics_are_the_readers() -> None:
    metric = DEFS["slo"]["properties"]["metric"]["anyOf"]
    assert set(metric[0]["enum"]) == set(entry._SEED_METRICS)
    pattern = re.compile(metric[1]["pattern"])
    for name in ("latency_p95", "latency_p999", "latency_p9", "latency_p9999", "latency_px"):
        assert bool(pattern.search(name)) == bool(entry._PERCENTILE.fullmatch(name)), name


def _kind_labels() -> dict[str, set[str]]:
    """Kind → the labels its selector may use, read from the schema's per-kind rules."""
    out: dict[str, set[str]] = {}
    for rule in DEFS["slo"]["allOf"]:
        selector = rule.get("then", {}).get("properties", {}).get("selector")
        if not isinstance(selector, dict):
            continue
        labels = set(selector["propertyNames"]["enum"])
        group_by = rule["then"]["properties"]["group_by"]["items"]["enum"]
        assert set(group_by) == labels
        branches = rule["if"].get("anyOf", [rule["if"]])
        kind = branches[0]["properties"]["sli"]["properties"]["kind"]
        for name in kind.get("enum", [kind.get("const")]):
            out[name] = labels
    return out


def test_each_kind_selects_and_groups_by_the_labels_of_its_metric() -> None:
    assert _kind_labels() == {kind.value: set(labels) for kind, labels in entry.KIND_LABELS.items()}


DURATIONS = ["30d", "1h30m", "5m", "1.5h", "500ms", "1w", " 6h ", "0m5s", "0s", "0.0h", "5",
             "5M", "1h 30m", "1.h", "", "h", "-5m", "1d1d", "10ms5s"]  # fmt: skip


def _parses(text: str) -> bool:
    try:
        return parse_duration(text) > 0
    except ValueError:
        return False


def _schema_duration(text: str) -> bool:
    return Draft202012Validator(DEFS["duration"]).is_valid(text)


@pytest.mark.parametrize("text", DURATIONS)
def test_the_duration_pattern_accepts_what_the_reader_parses(text: str) -> None:
    assert _schema_duration(text) == _parses(text)


@settings(derandomize=True, database=None, max_examples=300)
@given(st.text(alphabet="0123456789.mswhd ", max_size=9))
def test_generated_durations_get_the_same_answer(text: str) -> None:
    assert _schema_duration(text) == _parses(text)


# --- 2. agreement ----------------------------------------------------------------------------


def helm_documents(key: str) -> dict[str, str]:
    """The ``slos`` (or ``routing``) documents of the chart's CI values, as YAML text."""
    out = {}
    for path in sorted((REPO / "helm" / "sloguard" / "ci").glob("*-values.yaml")):
        doc = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get(key) or {}
        named = doc.items() if key == "slos" else ([(key, doc)] if doc else [])
        for name, value in named:
            text = value if isinstance(value, str) else yaml.safe_dump(value, allow_unicode=True)
            out[f"helm {path.stem} {name}"] = text
    return out


#: Documents both accept: the repo's SLO files (the chart's too) and one of each form the
#: reader documents.
GOOD = {
    **helm_documents("slos"),
    "config/slos.yaml": (REPO / "config" / "slos.yaml").read_text(encoding="utf-8"),
    "demo-slos.yaml": (REPO / "sloguard" / "data" / "demo-slos.yaml").read_text(encoding="utf-8"),
    "seed form": entry_doc(
        "name: 에이전트 가용성", "target: 0.995", "window: 24h", "metric: success_rate",
        "threshold: 0.995",
    ),
    "seed latency_p95": entry_doc(
        "name: p95", "target: 0.95", "window: 1h", "metric: latency_p95", "threshold: 5.0"
    ),
    "seed tool metric, selector": entry_doc(
        "name: t", "target: 0.99", "metric: tool_success_rate", "selector: {tool_name: search}"
    ),
    "every field": entry_doc(
        "name: checkout", "description: Checkout answers.", "objective: 99.5", "period: 30d",
        "sli: {kind: success_rate}", "selector: {agent_name: checkout}", "group_by: [agent_name]",
        "min_events: 100", "labels: {team: payments}",
        "alerting: {policy: page, name: CheckoutBurn, labels: {tier_owner: sre},"
        " annotations: {summary: Checkout fails}, runbook: https://runbooks.example/c,"
        " dashboard: https://grafana.example/d/c}",
        head="apiVersion: sloguard/v1\npolicies:\n  page:\n"
        "    - {severity: critical, long_window: 1h, short_window: 5m, burn_rate: 14.4}\n"
        "    - {severity: warning, long_window: 6h, budget_fraction: 0.05}\n",
    ),
    "inline policy": entry_doc(
        "name: a", "objective: 99", "sli: {kind: routing_accuracy}",
        "alerting: {policy: [{severity: critical, long_window: 2h, burn_rate: 10}]}",
    ),
    "every kind": "slos:\n" + "".join(
        f"  - {{name: k{i}, objective: 99, sli: {sli}}}\n"
        for i, sli in enumerate([
            "{kind: success_rate}", "{kind: latency, threshold: 5}", "{kind: routing_accuracy}",
            "{kind: tool_success_rate}", "{kind: workflow_success_rate}",
            "{kind: workflow_latency, threshold: 30}", "{kind: workflow_cost, max_cost_usd: 0.05}",
            "{kind: ratio, good: 'x_total{ok=\"1\"}', total: x_total}",
        ])
    ),
    "empty values count as absent": entry_doc(
        "name: a", "objective: 99", "period:", "sli: {kind: success_rate}", "description:",
        "selector:", "group_by:", "min_events:", "alerting:", head="apiVersion:\npolicies:\n",
    ),
    "every SLO commented out": "apiVersion: sloguard/v1\nslos:\n",
    "ratio with bad": entry_doc(
        "name: r", "target: 0.99", "sli: {kind: ratio, bad: errors_total, total: calls_total}",
        "group_by: [route]",
    ),
}  # fmt: skip


@pytest.mark.parametrize("text", list(GOOD.values()), ids=list(GOOD))
def test_good_documents_pass_both(text: str) -> None:
    assert schema_errors(text) == []
    assert check_slo_text(text, FILE).problems == ()


def bad(text: str, field: str, line: int | None, message: str, id: str) -> Any:
    return pytest.param(text, field, line, message, id=id)


_A = ("name: a", "objective: 99")  # an entry's first lines: line 2 and 3
#: Documents both refuse: (text, the reader's field, line and message fragment).
BAD = [
    bad(entry_doc(*_A, "sli: {kind: success_rate}", "colour: red"), "slos[0].colour", 5,
        "unknown key 'colour'", "unknown key"),
    bad(entry_doc(*_A, "kind: latency"), "slos[0].kind", 4,
        "unknown key 'kind' (it belongs under sli:)", "misplaced key"),
    bad(entry_doc(*_A, "sli: {kind: success_rate}", "min_events: many"), "slos[0].min_events", 5,
        "must be a number", "wrong type"),
    bad("slos:\n  - objective: 99\n    sli: {kind: success_rate}\n", "slos[0].name", 2,
        "required field is missing", "missing name"),
    bad(entry_doc("name: ' '", "objective: 99", "sli: {kind: success_rate}"), "slos[0].name", 2,
        "must be a non-empty string", "blank name"),
    bad(entry_doc("name: a", "objective: 150", "sli: {kind: success_rate}"), "slos[0].objective",
        3, "must be between 0 and 100 percent (got 150)", "objective 150"),
    bad(entry_doc("name: a", "objective: 0.995", "sli: {kind: success_rate}"),
        "slos[0].objective", 3, "is a percent", "objective as a ratio"),
    bad(entry_doc("name: a", "target: 99.5", "sli: {kind: success_rate}"), "slos[0].target", 3,
        "for percent write objective: 99.5", "target as a percent"),
    bad(entry_doc(*_A, "target: 0.99", "sli: {kind: success_rate}"), "slos[0].target", 4,
        "not both", "objective and target"),
    bad(entry_doc("name: a", "sli: {kind: success_rate}"), "slos[0].objective", 2,
        "required field is missing: give objective", "no objective"),
    bad(entry_doc(*_A, "sli: {kind: latency}"), "slos[0].sli.threshold", 4,
        "required field is missing: the bound in seconds", "latency without threshold"),
    bad(entry_doc(*_A, "sli: {kind: ratio, good: ok_total}"), "slos[0].sli.total", 4,
        "kind: ratio needs total", "ratio without total"),
    bad(entry_doc(*_A, "sli: {kind: ratio, good: a_total, bad: b_total, total: c_total}"),
        "slos[0].sli.bad", 4, "give good or bad, not both", "ratio with good and bad"),
    bad(entry_doc(*_A, "sli: {kind: ratio, total: c_total}"), "slos[0].sli", 4,
        "needs good or bad", "ratio without good or bad"),
    bad(entry_doc(*_A, "sli: {kind: ratio, bad: b_total, total: c_total}",
                  "selector: {job: api}"), "slos[0].selector", 5,
        "selector does not apply to kind: ratio", "selector on ratio"),
    bad(entry_doc(*_A, "sli: {kind: success_rate, good: ok_total}"), "slos[0].sli.good", 4,
        "good applies only to kind: ratio", "good on success_rate"),
    bad(entry_doc(*_A, "sli: {kind: success_rate, threshold: 0.99}"), "slos[0].sli.threshold",
        4, "threshold applies only to kind: latency", "threshold on success_rate"),
    bad(entry_doc(*_A, "sli: {kind: latency, threshold: 5, max_cost_usd: 1}"),
        "slos[0].sli.max_cost_usd", 4, "applies only to kind: workflow_cost", "cost on latency"),
    bad(entry_doc(*_A, "sli: {kind: workflow_cost, threshold: 5}"),
        "slos[0].sli.max_cost_usd", 4, "required field is missing", "cost without max_cost_usd"),
    bad(entry_doc(*_A, "sli: {kind: availability}"), "slos[0].sli.kind", 4,
        "unknown SLI kind 'availability'", "unknown kind"),
    bad(entry_doc(*_A, "sli: {threshold: 5}"), "slos[0].sli.kind", 4,
        "required field is missing", "sli without kind"),
    bad(entry_doc(*_A), "slos[0].sli", 2, "required field is missing", "no sli"),
    bad(entry_doc(*_A, "sli: {kind: success_rate}", "metric: success_rate"), "slos[0].metric", 5,
        "not both", "sli and metric"),
    bad(entry_doc("name: a", "target: 0.9", "metric: availability"), "slos[0].metric", 4,
        "unknown metric 'availability'", "unknown seed metric"),
    bad(entry_doc("name: a", "target: 0.95", "metric: latency_p95"), "slos[0].threshold", 2,
        "required field is missing: the latency bound", "seed latency without threshold"),
    bad(entry_doc(*_A, "sli: {kind: success_rate}", "threshold: 0.99"), "slos[0].threshold", 5,
        "threshold belongs under sli:", "threshold without metric"),
    bad(entry_doc(*_A, "period: 30", "sli: {kind: success_rate}"), "slos[0].period", 4,
        "a duration needs a unit", "duration without unit"),
    bad(entry_doc(*_A, "period: 30 days", "sli: {kind: success_rate}"), "slos[0].period", 4,
        "not a duration: '30 days'", "bad duration"),
    bad(entry_doc(*_A, "period: 0s", "sli: {kind: success_rate}"), "slos[0].period", 4,
        "must be longer than 0", "zero duration"),
    bad(entry_doc(*_A, "period: 7d", "window: 7d", "sli: {kind: success_rate}"),
        "slos[0].window", 5, "give period or the seed's window, not both", "period and window"),
    bad(entry_doc(*_A, "sli: {kind: success_rate}", "selector: {tool_name: x}"),
        "slos[0].selector.tool_name", 5, "success_rate SLIs have no label 'tool_name'",
        "label not of the kind"),
    bad(entry_doc(*_A, "sli: {kind: workflow_success_rate}", "group_by: [agent_name]"),
        "slos[0].group_by[0]", 5, "no label 'agent_name'", "workflow grouped by agent"),
    bad(entry_doc(*_A, "sli: {kind: ratio, bad: b, total: t}", "group_by: [slo]"),
        "slos[0].group_by[0]", 5, "label 'slo' is reserved", "reserved label"),
    bad(entry_doc(*_A, "sli: {kind: success_rate}", "group_by: [agent_name, agent_name]"),
        "slos[0].group_by[1]", 5, "listed twice", "label twice"),
    bad(entry_doc(*_A, "sli: {kind: ratio, bad: b, total: t}", "group_by: [2xx]"),
        "slos[0].group_by[0]", 5, "is not a valid label name", "bad label name"),
    bad(entry_doc(*_A, "sli: {kind: success_rate}", "min_events: -1"), "slos[0].min_events", 5,
        "must be 0 or more", "negative min_events"),
    bad(entry_doc(*_A, "sli: {kind: success_rate}", "alerting: {labels: {team: 7}}"),
        "slos[0].alerting.labels.team", 5, "must be a string (got 7); quote it",
        "label value not a string"),
    bad(entry_doc(*_A, "sli: {kind: success_rate}", "alerting: {policy: 42}"),
        "slos[0].alerting.policy", 5, "must be a policy name or a list of tiers", "policy type"),
    bad(entry_doc(*_A, "sli: {kind: success_rate}", "alerting: {policy: []}"),
        "slos[0].alerting.policy", 5, "must be a non-empty list of tiers", "empty policy"),
    bad(entry_doc(*_A, "sli: {kind: success_rate}", "alerting: {runbook: ''}"),
        "slos[0].alerting.runbook", 5, "must be a non-empty string", "empty runbook"),
    bad(entry_doc(*_A, "sli: {kind: success_rate}", "alerting: {name: 'SLO Burn'}"),
        "slos[0].alerting.name", 5, "is not a valid alert name", "bad alert name"),
    bad(entry_doc(*_A, "sli: {kind: success_rate}", "alerting: {severity: critical}"),
        "slos[0].alerting.severity", 5, "unknown key 'severity'", "unknown alerting key"),
    bad(entry_doc(*_A, "sli: {kind: success_rate}", "alerting: {policy: "
                  "[{severity: urgent, long_window: 1h, burn_rate: 14.4}]}"),
        "slos[0].alerting.policy[0].severity", 5, "unknown severity 'urgent'", "unknown severity"),
    bad(entry_doc(*_A, "sli: {kind: success_rate}", "alerting: {policy: "
                  "[{severity: critical, long_window: 1h}]}"),
        "slos[0].alerting.policy[0].burn_rate", 5, "give burn_rate (F, e.g. 14.4) or "
        "budget_fraction", "tier without factor"),
    bad(entry_doc(*_A, "sli: {kind: success_rate}", "alerting: {policy: [{severity: critical,"
                  " long_window: 1h, burn_rate: 14.4, budget_fraction: 0.02}]}"),
        "slos[0].alerting.policy[0].budget_fraction", 5, "not both", "tier with both factors"),
    bad(entry_doc(*_A, "sli: {kind: success_rate}", "alerting: {policy: "
                  "[{severity: critical, long_window: 1h, burn_rate: 0.5}]}"),
        "slos[0].alerting.policy[0].burn_rate", 5, "< 1 pages while the SLO is still being met",
        "burn rate below 1"),
    bad(entry_doc(*_A, "sli: {kind: success_rate}", "alerting: {policy: "
                  "[{severity: critical, long_window: 1h, budget_fraction: 1.5}]}"),
        "slos[0].alerting.policy[0].budget_fraction", 5, "at most 1", "budget fraction above 1"),
    bad(entry_doc(*_A, "sli: {kind: success_rate}", "alerting: {policy: "
                  "[{severity: critical, burn_rate: 14.4}]}"),
        "slos[0].alerting.policy[0].long_window", 5, "required field is missing",
        "tier without long window"),
    bad(entry_doc(*_A, "sli: {kind: success_rate}",
                  head="policies:\n  default: [{severity: critical, long_window: 1h, "
                  "burn_rate: 14.4}]\n"),
        "policies.default", 2, "'default' is the built-in policy", "policy named default"),
    bad(entry_doc(*_A, "sli: {kind: success_rate}", head="apiVersion: sloguard/v2\n"),
        "apiVersion", 1, "unsupported apiVersion 'sloguard/v2'", "unknown apiVersion"),
    bad(entry_doc(*_A, "sli: {kind: success_rate}", head="kind: SLO\n"), "kind", 1,
        "unknown key 'kind'", "unknown document key"),
    bad("apiVersion: sloguard/v1\n", "slos", None, "required field is missing: the list of SLOs",
        "no slos"),
    bad("slos: {a: 1}\n", "slos", 1, "must be a list of SLOs", "slos not a list"),
    bad("slos:\n  - just a name\n", "slos[0]", 2, "must be a mapping", "entry not a mapping"),
    bad("- name: a\n", "", None, "an SLO file is a mapping", "document not a mapping"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "field", "line", "message"), BAD)
def test_bad_documents_fail_both_and_validate_says_where(
    text: str, field: str, line: int | None, message: str
) -> None:
    errors = schema_errors(text)
    assert errors, "the schema accepts it"
    problems = check_slo_text(text, FILE).problems
    found = [p for p in problems if p.field == field]
    assert found, f"no problem at {field}: {[str(p) for p in problems]}"
    assert (found[0].file, found[0].line) == (FILE, line)
    assert message in found[0].message, str(found[0])
    # the schema points at the same field or one of its parents (an editor underlines it), not
    # at the whole document unless the field is a top-level one
    closest = max((path for path, _ in errors if field.startswith(path)), key=len, default=None)
    assert closest is not None, (errors, field)
    assert closest or not re.search(r"[.\[]", field), (errors, field)


def only(text: str, why: str, id: str) -> Any:
    return pytest.param(text, why, id=id)


def refused(text: str, why: str, id: str, *, says: str) -> Any:
    return pytest.param(text, why, says, id=id)


#: Documents the schema accepts and only ``validate`` refuses (``says``), and why a schema
#: cannot say it.
VALIDATE_ONLY = [
    refused(entry_doc(*_A, "sli: {kind: latency, threshold: 0.7}"),
            "a threshold must be a bucket bound of the process's histogram settings",
            "not a bucket",
            says='is not a bucket bound of agent_latency_seconds'),
    refused(entry_doc(*_A, "sli: {kind: workflow_cost, max_cost_usd: 0.07}"),
            "max_cost_usd must be a bucket bound of the process's histogram settings",
            "cost not a bucket",
            says='is not a bucket bound of agent_workflow_cost_usd'),
    refused(entry_doc(*_A, "sli: {kind: success_rate}", "alerting: {policy: pager}"),
            "a policy name must be one of this file's policies:", "unknown policy name",
            says="unknown policy 'pager'"),
    refused(entry_doc(*_A, "sli: {kind: success_rate}") + "  - {name: a, objective: 90, sli: "
            "{kind: routing_accuracy}}\n", "SLO names must be unique", "duplicate name",
            says="duplicate SLO name 'a'"),
    refused(entry_doc(*_A, "sli: {kind: ratio, bad: 'sum(rate(foo{code=~\"5..\"[5m])', "
                      "total: foo_total}"), "PromQL must parse", "broken PromQL",
            says='PromQL syntax error at character 25'),
    refused(entry_doc("name: a", "target: 0.995", "metric: success_rate", "threshold: 0.9"),
            "the seed's threshold must equal target (two fields' values)", "seed threshold",
            says='the threshold of a success_rate SLO is its target'),
    refused(entry_doc("name: a", "target: 0.99", "metric: latency_p95", "threshold: 5"),
            "latency_pNN must match the target (a name and a number)", "seed percentile",
            says='latency_p95 means 95 % of requests'),
    refused(entry_doc("name: a", "objective: 90", "sli: {kind: success_rate}", "alerting: {policy: "
                      "[{severity: critical, long_window: 1h, burn_rate: 14.4}]}"),
            "burn_rate x (1 - objective) >= 1 can never fire (arithmetic across fields)",
            "tier that cannot fire",
            says='it can never fire'),
    refused(entry_doc(*_A, "period: 1d", "sli: {kind: success_rate}", "alerting: {policy: "
                      "[{severity: critical, long_window: 2d, burn_rate: 2}]}"),
            "a long window must not exceed the period (durations compared)", "window over period",
            says="is longer than the SLO's period 1d"),
    refused(entry_doc(*_A, "sli: {kind: success_rate}", "alerting: {policy: [{severity: "
                      "critical, long_window: 1h, short_window: 2h, burn_rate: 14.4}]}"),
            "the short window must not exceed the long one (durations compared)", "short over long",
            says='short window 2h is longer than the long window 1h'),
    refused(entry_doc(*_A, "sli: {kind: success_rate}", "alerting: {policy: "
                      "[{severity: critical, long_window: 24h, budget_fraction: 0.01}]}"),
            "budget_fraction x period / long_window < 1 fires below burn rate 1 (arithmetic)",
            "fraction below burn 1",
            says='fires at burn rate 0.3 < 1'),
    refused(entry_doc("name: a", "objective: .nan", "sli: {kind: success_rate}"),
            "JSON Schema's bounds do not refuse NaN (YAML .nan); the reader wants a finite number",
            "NaN objective",
            says='must be a finite number'),
    refused("slos:\n  - {name: a, objective: 99, sli: {kind: success_rate}}\n---\nslos: []\n",
            "a file holds one document; a schema describes one document", "two documents",
            says='a sloguard/v1 SLO file holds one YAML document'),
    refused(entry_doc("name: a", "name: b", "objective: 99", "sli: {kind: success_rate}"),
            "a key written twice is lost by the YAML parser before a schema sees it",
            "duplicate key",
            says="duplicate key 'name'"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "why", "says"), VALIDATE_ONLY)
def test_what_only_validate_refuses(text: str, why: str, says: str) -> None:
    docs = parse_yaml_all(text, FILE)
    assert all(VALIDATOR.is_valid(d.data) for d in docs), why
    problems = check_slo_text(text, FILE).problems
    assert any(says in p.message and p.line for p in problems), [str(p) for p in problems]


#: Documents ``validate`` reads and the schema refuses, on purpose: the schema covers
#: ``sloguard/v1`` only, and marks a key that does not apply as not allowed even when empty
#: (an editor then says "Property threshold is not allowed", clearer than "expected null").
SCHEMA_ONLY = [
    only('version: "prometheus/v1"\nservice: myservice\nslos:\n  - name: availability\n'
         "    objective: 99.9\n    sli:\n      events:\n"
         '        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))\n'
         "        total_query: sum(rate(http_requests_total[{{.window}}]))\n"
         "    alerting:\n      name: MyServiceHighErrorRate\n",
         "peer formats (Sloth here) are read by validate, not described by this schema",
         "Sloth file"),
    only(entry_doc(*_A, "sli: {kind: success_rate, threshold: }"),
         "an empty threshold under a kind without one is read as absent", "empty sli threshold"),
    only(entry_doc(*_A, "sli: {kind: success_rate}", "threshold:"),
         "an empty seed threshold without metric is read as absent", "empty seed threshold"),
    only(entry_doc(*_A, "sli: {kind: ratio, bad: b_total, total: t_total}", "selector:"),
         "an empty selector of a ratio SLI is read as absent", "empty selector of ratio"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "why"), SCHEMA_ONLY)
def test_what_only_the_schema_refuses(text: str, why: str) -> None:
    assert schema_errors(text), why
    check = check_slo_text(text, FILE)
    assert check.problems == (), [str(p) for p in check.problems]


def test_editors_on_draft_07_get_the_same_verdicts() -> None:
    """The YAML language server checks schemas and documents as draft-07: the schema uses only
    keywords draft-07 has too (``$defs`` is reached by JSON pointer), so the verdicts agree."""
    Draft7Validator.check_schema(SCHEMA)
    draft7 = Draft7Validator(SCHEMA)
    texts = [*GOOD.values(), *(p.values[0] for p in [*BAD, *VALIDATE_ONLY, *SCHEMA_ONLY])]
    docs = [d.data for text in texts for d in parse_yaml_all(text, FILE)]
    assert [draft7.is_valid(d) for d in docs] == [VALIDATOR.is_valid(d) for d in docs]
    assert len(docs) > 80
