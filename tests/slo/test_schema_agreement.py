"""Generated SLO documents get the same verdict from the JSON Schema and from ``validate``.

Each document is one valid SLO entry (sloguard's form or the seed's, any kind, optional keys or
not) changed by up to two mutations: a value of the wrong type, out of range or empty, a key
dropped, an unknown or misplaced key, a field of another SLI kind, a label the kind lacks or
sloguard reserves, a wrong tier. About half stay valid. The mutations stay away from what only
``validate`` can judge (``tests/slo/test_schema.py`` lists it: bucket bounds, unknown policy
names, PromQL, a seed threshold or percentile against the target, tiers that cannot fire) and
from what only the schema refuses (an empty value for a key that does not apply), so the two
must agree on every document: accepted by both, or refused by both.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sloguard.slo.loader import check_slo_text
from tests.slo.test_schema import VALIDATOR

_TIER = {"severity": "critical", "long_window": "1h", "burn_rate": 2}
#: Each kind's SLI with its required fields, and the labels it selects and groups by.
_KINDS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "success_rate": ({}, ["agent_name"]),
    "latency": ({"threshold": 5}, ["agent_name"]),
    "routing_accuracy": ({}, ["agent_name"]),
    "tool_success_rate": ({}, ["agent_name", "tool_name"]),
    "workflow_success_rate": ({}, ["workflow"]),
    "workflow_latency": ({"threshold": 2}, ["workflow"]),
    "workflow_cost": ({"max_cost_usd": 0.05}, ["workflow"]),
    "ratio": ({"bad": "x_errors_total", "total": "x_total"}, ["route"]),
}
_SEED = {"success_rate": "agent_name", "tool_success_rate": "tool_name",
         "routing_accuracy": "agent_name", "latency": "agent_name"}  # fmt: skip


@st.composite
def valid_entries(draw: st.DrawFn) -> dict[str, Any]:
    """An SLO entry both accept, in sloguard's form or the seed's, with optional keys or not."""
    e: dict[str, Any] = {"name": "checkout"}
    if draw(st.booleans()):
        e["objective"] = draw(st.sampled_from([99, 99.5, 95]))
    else:
        e["target"] = draw(st.sampled_from([0.99, 0.95]))
    if draw(st.booleans()):
        e[draw(st.sampled_from(["period", "window"]))] = draw(st.sampled_from(["30d", "7d", "1h"]))
    if draw(st.booleans()):
        kind = draw(st.sampled_from(sorted(_KINDS)))
        fields, labels = _KINDS[kind]
        e["sli"] = {"kind": kind, **fields}
    else:
        metric = draw(st.sampled_from([*_SEED, "latency_p95"]))
        labels = [_SEED.get(metric, "agent_name")]
        e["metric"] = metric
        if metric.startswith("latency"):
            e["threshold"] = 5
        if metric == "latency_p95":
            e.pop("objective", None)
            e["target"] = 0.95
    if draw(st.booleans()) and e.get("sli", {}).get("kind") != "ratio":
        e["selector"] = {labels[-1]: "x"}
    if draw(st.booleans()):
        e["group_by"] = labels[:1]
    optional = {
        "description": "What it promises.",
        "min_events": 10,
        "labels": {"team": "a"},
        "alerting": {"policy": "page", "labels": {"owner": "b"}, "runbook": "https://r.example"},
    }
    for key in draw(st.lists(st.sampled_from(sorted(optional)), unique=True)):
        e[key] = optional[key]
    if "alerting" in e and draw(st.booleans()):
        e["alerting"] = {"policy": [_TIER], "name": "CheckoutBurn", "annotations": {"s": "t"}}
    return e


def _set(path: tuple[str, ...], value: Any) -> Any:
    def mutate(e: dict[str, Any]) -> None:
        node = e
        for key in path[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {"kind": "success_rate"} if key == "sli" else {}
            node = child
        node[path[-1]] = value

    return mutate


def _drop(key: str) -> Any:
    return lambda e: e.pop(key, None)


_NOT_ALERTING: list[Any] = ["page", [], None]
#: Changes that make an entry wrong (most of them, alone) or keep it right.
MUTATIONS = [
    *(_set(("name",), v) for v in ["", " ", 7, None]),
    *(_set(("objective",), v) for v in [150, 0.5, 100, "99%", True, 99]),
    *(_set(("target",), v) for v in [1.5, 0, 0.99]),
    *(_set(("period",), v) for v in [30, "0s", "3 days", "1.5h", None]),
    _set(("window",), "7d"),
    *(_set(("metric",), v) for v in ["availability", "latency_p99", "success_rate", 3]),
    *(_set(("threshold",), v) for v in [5, -1, "x"]),
    *(_set(("selector",), v) for v in [{"slo": "x"}, {"workflow": "w"}, {"agent_name": 1}]),
    *(_set(("group_by",), v) for v in [["tool_name"], ["2x"], ["a", "a"], "agent_name", None]),
    *(_set(("min_events",), v) for v in [-1, "many", 0]),
    *(_set(("labels",), v) for v in [{"window": "x"}, {"team": 1}]),
    *(_set(("alerting",), v) for v in _NOT_ALERTING),
    _set(("colour",), "red"),
    *(_drop(k) for k in ["name", "objective", "target", "sli", "metric", "threshold"]),
    *(_set(("sli", "kind"), v) for v in ["availability", "latency", "ratio", "success_rate", 1]),
    *(_set(("sli", "threshold"), v) for v in [5, -1, "5"]),
    *(_set(("sli", "max_cost_usd"), v) for v in [0.05, 0, "cheap"]),
    *(_set(("sli", "good"), v) for v in ["x_total", "", 3]),
    _set(("sli", "total"), ""),
    _set(("sli", "colour"), "red"),
    *(_set(("alerting", "policy"), v) for v in [42, [], "default", [{**_TIER, "burn_rate": 0.5}],
      [{**_TIER, "severity": "urgent"}], [{"severity": "critical", "long_window": "1h"}],
      [{**_TIER, "budget_fraction": 0.02}], [{**_TIER, "long_window": 60}]]),
    *(_set(("alerting", "name"), v) for v in ["bad name", "Ok:Name"]),
    *(_set(("alerting", "runbook"), v) for v in ["", 3]),
    *(_set(("alerting", "annotations"), v) for v in [{"s": 1}, "x"]),
    _set(("alerting", "labels"), {"severity": "x"}),
    _set(("alerting", "severity"), "critical"),
]  # fmt: skip
_SEED_RATES = {"success_rate", "tool_success_rate", "routing_accuracy"}


def _share(entry: dict[str, Any]) -> float | None:
    """The entry's objective as a ratio, when it is given one valid way."""
    target, objective = entry.get("target"), entry.get("objective")
    if isinstance(target, float) and 0 < target < 1 and objective is None:
        return target
    if isinstance(objective, int | float) and not isinstance(objective, bool) and target is None:
        return objective / 100 if 1 <= objective < 100 else None
    return None


def _only_validate_judges(entry: dict[str, Any]) -> bool:
    """The seed's threshold or percentile against the target: ``validate`` only."""
    metric, share = entry.get("metric"), _share(entry)
    threshold = entry.get("threshold")
    if metric in _SEED_RATES and threshold is not None and threshold != share:
        return True
    percentile = re.fullmatch(r"latency_p(\d+)", metric) if isinstance(metric, str) else None
    return bool(percentile and share is not None and share != float("0." + percentile[1]))


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """A document with one valid entry changed by up to two mutations."""
    entry = draw(valid_entries())
    for mutate in draw(st.lists(st.sampled_from(MUTATIONS), max_size=2)):
        mutate(entry)
    return {"policies": {"page": [_TIER]}, "slos": [entry]}


DOCUMENTS = documents().filter(lambda d: not _only_validate_judges(d["slos"][0]))


@settings(
    derandomize=True,
    database=None,
    max_examples=600,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(DOCUMENTS)
def test_the_schema_and_validate_agree_on_generated_documents(doc: dict[str, Any]) -> None:
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    problems = check_slo_text(text, "slos.yaml").problems
    errors = [e.message for e in VALIDATOR.iter_errors(doc)]
    assert bool(errors) == bool(problems), (text, errors, [str(p) for p in problems])
