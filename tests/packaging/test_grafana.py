"""Contract test of the Grafana dashboards in ``grafana/dashboards/``.

Structure (no Prometheus): a ``${datasource}`` variable of type prometheus that every panel and
target uses, no uid but the dashboard's own, unique panel ids and titles, grid positions inside
the 24 columns and not overlapping, a unit on every panel.

Annotations: Grafana's built-in "Annotations & Alerts" plus the sloguard alert annotation.
Variables ``job``, ``namespace`` and ``cluster`` (multi, "All" = ``.*``, so series without the
label still match) are applied to every selector of every panel and annotation query.

PromQL (a real Prometheus scraping real sloguard processes every second and evaluating the rules
``sloguard rules`` compiles from the demo's SLOs): every expression, with its template variables
substituted, must parse, name only metrics and labels that sloguard exposes (read from the
processes' live ``/metrics`` and the recorded ``slo:*`` series, plus Prometheus' own
``up``/``scrape_*``/``ALERTS``), return data, and carry the labels its legend names; the
``slo:*`` side of each records-or-gauges expression returns data by itself. The processes:

- ``sloguard demo`` with an early incident (tiers fire, notifications go out) and a limit of one
  ``model`` value, so the cardinality guard folds the second model and counts the overflow;
- ``sloguard run`` whose Prometheus source is a closed port, so its evaluations fail and are
  counted in ``sloguard_slo_evaluation_errors_total``.

The demo's target carries ``namespace`` and ``cluster`` labels, the broken daemon's does not:
"All" must keep both, a chosen namespace only the demo.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from sloguard import AgentMetrics, CardinalityGuard, Recorder
from tests.support import processes
from tests.support.promserver import start_prometheus

REPO = Path(__file__).resolve().parents[2]
GRAFANA = REPO / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
DS = {"type": "prometheus", "uid": "${datasource}"}
GRID_COLUMNS = 24
UNITS = frozenset({"short", "none", "s", "percentunit", "reqps", "ops", "opm", "currencyUSD"})
#: What Grafana substitutes for its built-in variables, sized for a 1 s scrape interval.
BUILTINS = {"__rate_interval": "10s", "__interval": "2s", "__range": "5m"}
#: Labels Prometheus attaches to scraped series (namespace and cluster: the demo target's only),
#: and the series it makes itself.
TARGET_LABELS = frozenset({"job", "instance", "namespace", "cluster"})
#: Variables every query must apply (to every selector), and what they become with "All".
TARGET_VARIABLES = ("job", "namespace", "cluster")
DEMO_TARGET_LABELS = {"namespace": "agents", "cluster": "kind-sloguard"}
BUILTIN_ANNOTATION = "Annotations & Alerts"
PROMETHEUS_SERIES = (
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
)
#: Series that exist only once the incident fired, a notification went out and the broken
#: source failed an evaluation: the stack is ready when all of them are scraped.
READY_QUERY = (
    "count(sloguard_notifications_total) and count(sloguard_slo_time_to_exhaustion_seconds)"
    " and count(sloguard_slo_evaluation_errors_total > 0) and count(sloguard_label_overflow_total)"
)
STARTUP_DEADLINE = 90.0
DATA_DEADLINE = 60.0

#: Expressions that may return nothing from the demo, keyed (dashboard uid, panel, refId), with
#: why. Keep it minimal: the data test fails when an entry returns data after all.
NO_DATA_ALLOWED: dict[tuple[str, str, str], str] = {
    # Counted only when an application reports an anomaly (Recorder.anomaly); no sloguard
    # component does that by itself, and the demo workload reports none.
    ("sloguard-fleet", "Anomalies", "A"): "agent_anomalies_total has no series in the demo",
}


# --- the dashboards ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Query:
    """One PromQL target of a panel."""

    dashboard: str
    panel: str
    ref: str
    expr: str
    legend: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.dashboard, self.panel, self.ref)

    @property
    def where(self) -> str:
        return " / ".join(self.key)


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows' collapsed children included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def queries(dashboard: Mapping[str, Any]) -> list[Query]:
    return [
        Query(dashboard["uid"], p["title"], t["refId"], t["expr"], t.get("legendFormat", ""))
        for p in panels(dashboard)
        for t in p.get("targets", [])
        if "expr" in t
    ]


def annotation_queries(dashboard: Mapping[str, Any]) -> list[Query]:
    """The PromQL annotations (named ``annotation: <name>``, ref ``A``)."""
    return [
        Query(dashboard["uid"], f"annotation: {a['name']}", "A", a["expr"], "")
        for a in dashboard.get("annotations", {}).get("list", [])
        if "expr" in a
    ]


def recorded_side(expr: str) -> str | None:
    """The ``slo:*`` records side of a records-or-gauges expression (``A\nor\nB``), if any."""
    first, sep, _ = expr.partition("\nor\n")
    return first if sep and "slo:" in first else None


def variables(dashboard: Mapping[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = dashboard.get("templating", {}).get("list", [])
    return found


def _walk(node: object, path: str = "") -> Iterator[tuple[str, str, object]]:
    """Yield ``(path, key, value)`` for every key of every object in ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, key, value
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _walk(item, f"{path}[{i}]")


def structure_problems(dashboard: Mapping[str, Any]) -> list[str]:
    """Everything wrong with the dashboard's structure (empty when it is fine)."""
    problems: list[str] = []
    if not re.fullmatch(r"[a-z0-9-]{1,40}", str(dashboard.get("uid"))):
        problems.append(f"uid {dashboard.get('uid')!r}: want a stable [a-z0-9-]{{1,40}} uid")
    if int(dashboard.get("schemaVersion", 0)) < 39:
        problems.append(f"schemaVersion {dashboard.get('schemaVersion')} < 39")
    ds_vars = [v for v in variables(dashboard) if v.get("type") == "datasource"]
    if [(v.get("name"), v.get("query")) for v in ds_vars] != [("datasource", "prometheus")]:
        problems.append("want exactly one datasource variable `datasource` of type prometheus")
    for path, key, value in _walk(_without_builtin(dashboard)):
        if key == "datasource" and value != DS:
            problems.append(f"{path}.datasource is {value!r}, want {DS}")
        if key == "uid" and path and value != DS["uid"]:
            problems.append(f"{path}.uid {value!r} is hard-coded")
    problems.extend(_annotation_problems(dashboard))
    problems.extend(_target_variable_problems(dashboard))
    ids = [p.get("id") for p in panels(dashboard)]
    if len(ids) != len(set(ids)) or not all(isinstance(i, int) for i in ids):
        problems.append(f"panel ids must be unique integers: {ids}")
    titles = [p.get("title") for p in panels(dashboard)]
    if len(titles) != len(set(titles)) or not all(titles):
        problems.append(f"panel titles must be unique and non-empty: {titles}")
    for p in panels(dashboard):
        problems.extend(_panel_problems(p))
    boxes = [(p["title"], p["gridPos"]) for p in dashboard.get("panels", []) if "gridPos" in p]
    for i, (a, ga) in enumerate(boxes):
        for b, gb in boxes[i + 1 :]:
            if (
                ga["x"] < gb["x"] + gb["w"]
                and gb["x"] < ga["x"] + ga["w"]
                and ga["y"] < gb["y"] + gb["h"]
                and gb["y"] < ga["y"] + ga["h"]
            ):
                problems.append(f"panels {a!r} and {b!r} overlap")
    return problems


def _without_builtin(dashboard: Mapping[str, Any]) -> dict[str, Any]:
    """The dashboard minus Grafana's built-in annotation (its data source is Grafana's own)."""
    listed = dashboard.get("annotations", {}).get("list", [])
    kept = [a for a in listed if not a.get("builtIn")]
    return {**dashboard, "annotations": {**dashboard.get("annotations", {}), "list": kept}}


def _annotation_problems(dashboard: Mapping[str, Any]) -> list[str]:
    listed = dashboard.get("annotations", {}).get("list", [])
    builtin = [a for a in listed if a.get("builtIn")]
    problems = []
    if [(a.get("name"), a.get("type"), a.get("enable")) for a in builtin] != [
        (BUILTIN_ANNOTATION, "dashboard", True)
    ]:
        problems.append(f"want Grafana's built-in {BUILTIN_ANNOTATION!r} annotation, enabled")
    alerts = [a for a in listed if a.get("name") == "sloguard alerts"]
    if (
        len(alerts) != 1
        or not alerts[0].get("enable")
        or "sloguard_slo_tier_firing" not in str(alerts[0].get("expr"))
    ):
        problems.append("want one enabled `sloguard alerts` annotation over the alert series")
    return problems


def _target_variable_problems(dashboard: Mapping[str, Any]) -> list[str]:
    """Each of job/namespace/cluster: a multi "All" variable whose "All" also matches series
    without the label, applied to every selector of every query."""
    problems: list[str] = []
    by_name = {v.get("name"): v for v in variables(dashboard)}
    for name in TARGET_VARIABLES:
        v = by_name.get(name)
        if v is None:
            problems.append(f"no `{name}` variable")
            continue
        all_value = str(v.get("allValue"))
        if not (v.get("includeAll") and v.get("multi") and re.fullmatch(all_value, "")):
            problems.append(f"variable {name}: want includeAll, multi and an allValue matching ''")
    for q in [*queries(dashboard), *annotation_queries(dashboard)]:
        used = names(_VARIABLE.sub("x", q.expr))
        wrong = [
            f'{n}=~"${n}"'
            for n in TARGET_VARIABLES
            if q.expr.count(f'{n}=~"${n}"') != len(used.selectors)
            or any(n not in labels for _, labels in used.selectors)
        ]
        if wrong:
            problems.append(f"{q.where}: filter every selector with {', '.join(wrong)}")
    return problems


def _panel_problems(p: Mapping[str, Any]) -> list[str]:
    name = f"panel {p.get('title')!r}"
    problems: list[str] = []
    g = p.get("gridPos", {})
    if not all(isinstance(g.get(k), int) for k in ("x", "y", "w", "h")):
        return [f"{name}: gridPos {g} needs integer x, y, w, h"]
    if g["x"] < 0 or g["y"] < 0 or g["w"] < 1 or g["h"] < 1 or g["x"] + g["w"] > GRID_COLUMNS:
        problems.append(f"{name}: gridPos {g} is outside the {GRID_COLUMNS}-column grid")
    if p.get("type") == "row":
        return problems
    if p.get("datasource") != DS:
        problems.append(f"{name}: datasource must be {DS}")
    targets = p.get("targets", [])
    refs = [t.get("refId") for t in targets]
    if not targets or len(refs) != len(set(refs)):
        problems.append(f"{name}: needs targets with unique refIds, got {refs}")
    for t in targets:
        if t.get("datasource") != DS or not str(t.get("expr", "")).strip():
            problems.append(f"{name} {t.get('refId')}: needs datasource {DS} and an expr")
    units = [p.get("fieldConfig", {}).get("defaults", {}).get("unit")]
    if p.get("type") == "heatmap":
        units.append(p.get("options", {}).get("yAxis", {}).get("unit"))
    for unit in units:
        if unit not in UNITS and not str(unit).startswith("suffix:"):
            problems.append(f"{name}: unit {unit!r} is not one of {sorted(UNITS)} or suffix:…")
    return problems


# --- PromQL: substitution and the names an expression uses -------------------------------------

# ``$1`` (label_replace's capture group) is no variable: names start with a letter or _.
_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_]\w*)(?::\w+)?\}|([A-Za-z_]\w*))|\[\[(\w+)\]\]")
_TOKEN = re.compile(
    r"""(?P<space>\s+|\#[^\n]*)
    |(?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
    |(?P<range>\[[^\]]*\])
    |(?P<number>0[xX][0-9a-fA-F]+|(?:\d+(?:ms|[smhdwy]))+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    |(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)
    |(?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=,(){}@])""",
    re.VERBOSE,
)
_LABEL_LISTS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
_AGGREGATIONS = frozenset(
    {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "topk"}
    | {"bottomk", "quantile"}
)
_KEYWORDS = _LABEL_LISTS | _AGGREGATIONS | {"and", "or", "unless", "bool", "offset", "atan2"}
_KEYWORDS |= {"inf", "nan"}  # compared lower-cased: Inf, NaN
_MATCHERS = frozenset({"=", "!=", "=~", "!~"})


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """Replace ``$var``, ``${var}``, ``${var:fmt}`` and ``[[var]]`` with ``values``."""

    def one(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2) or m.group(3)
        if name not in values:
            raise KeyError(f"unknown template variable ${name}")
        return values[name]

    return _VARIABLE.sub(one, expr)


def _tokens(expr: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if m is None:
            raise ValueError(f"unexpected {expr[pos : pos + 10]!r}")
        kind = m.lastgroup or ""
        if kind != "space":
            out.append((kind, m.group()))
        pos = m.end()
    return out


@dataclass(frozen=True, slots=True)
class Names:
    """Metric names with the labels matched on each, and the labels grouped or joined on."""

    selectors: tuple[tuple[str, frozenset[str]], ...]
    grouping: frozenset[str]


def names(expr: str) -> Names:
    """The metric and label names ``expr`` uses (its syntax is Prometheus' to check)."""
    toks = _tokens(expr)

    def text(i: int) -> str:
        return toks[i][1] if i < len(toks) else ""

    selectors: list[tuple[str, frozenset[str]]] = []
    grouping: set[str] = set()
    i = 0
    while i < len(toks):
        kind, tok = toks[i]
        if kind == "name" and tok in _LABEL_LISTS and text(i + 1) == "(":
            i += 2
            while i < len(toks) and text(i) != ")":
                grouping.update([text(i)] if toks[i][0] == "name" else [])
                i += 1
        elif (kind == "name" and text(i + 1) != "(" and tok.lower() not in _KEYWORDS) or tok == "{":
            metric = tok if kind == "name" else ""
            i += 1 if kind == "name" else 0
            labels: set[str] = set()
            if text(i) == "{":
                while i < len(toks) and text(i) != "}":
                    if toks[i][0] == "name" and text(i + 1) in _MATCHERS:
                        labels.add(text(i))
                    i += 1
                i += 1
            selectors.append((metric, frozenset(labels)))
            continue
        i += 1
    return Names(tuple(selectors), frozenset(grouping))


Catalog = Mapping[str, frozenset[str]]
"""Metric (sample) name -> the label names its series carry."""


def catalog(expositions: Sequence[str], sdk_exposition: str) -> dict[str, frozenset[str]]:
    """Names from live ``/metrics`` texts; labels of families with no series yet from the SDK."""
    sdk: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(sdk_exposition):
        for s in family.samples:
            sdk.setdefault(s.name, set()).update(s.labels)
    found: dict[str, set[str]] = {n: set(TARGET_LABELS) for n in PROMETHEUS_SERIES}
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}
    for text in expositions:
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                found.setdefault(s.name, set(TARGET_LABELS)).update(s.labels)
            if not family.samples:  # declared, no series yet: the SDK tells its labels
                for name in (family.name + x for x in suffixes.get(family.type, ("",))):
                    found.setdefault(name, set(TARGET_LABELS)).update(sdk.get(name, ()))
    return {name: frozenset(labels) for name, labels in found.items()}


def recorded_catalog(prometheus: str, rules: Path) -> dict[str, frozenset[str]]:
    """Labels of the ``slo:*`` records Prometheus holds, and of ``ALERTS`` for the compiled
    alerts. Records keep no target labels (they aggregate them away, unless an SLO groups by
    them); the dashboards filter them with the target variables, whose "All" matches absence."""
    found: dict[str, set[str]] = {}
    r = httpx.get(f"{prometheus}/api/v1/series", params={"match[]": '{__name__=~"slo:.+"}'})
    for series in r.json()["data"]:
        found.setdefault(series["__name__"], set(TARGET_LABELS)).update(series)
    alerts = {"alertname", "alertstate", *TARGET_LABELS}
    for group in yaml.safe_load(rules.read_text(encoding="utf-8"))["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:  # its labels, and the instance labels its expression keeps
                alerts.update(rule.get("labels", {}))
                for kept in re.findall(r"by \(([^)]*)\)", rule["expr"]):
                    alerts.update(n.strip() for n in kept.split(",") if n.strip())
    found["ALERTS"] = alerts
    return {name: frozenset(labels - {"__name__"}) for name, labels in found.items()}


def name_problems(q: Query, expr: str, known: Catalog) -> list[str]:
    where = q.where
    try:
        used = names(expr)
    except ValueError as exc:
        return [f"{where}: cannot read {expr!r}: {exc}"]
    problems: list[str] = []
    in_expr: set[str] = set(TARGET_LABELS)
    for metric, labels in used.selectors:
        if metric not in known:
            problems.append(f"{where}: unknown metric {metric or '(none)'!r}")
            continue
        in_expr |= known[metric]
        problems += [f"{where}: {metric} has no label {n!r}" for n in labels - known[metric]]
    problems += [f"{where}: no metric has label {n!r}" for n in sorted(used.grouping - in_expr)]
    return problems


def sdk_exposition() -> str:
    """One anomaly recorded through the SDK: labels of a family the demo never fills."""
    registry = CollectorRegistry()
    Recorder(AgentMetrics(registry=registry), CardinalityGuard()).anomaly("a", "low_confidence")
    return generate_latest(registry).decode()


# --- the live stack ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stack:
    prometheus: str
    known: Catalog

    def query(self, expr: str) -> dict[str, Any]:
        """Prometheus' JSON answer to an instant query (``status`` error on a parse error)."""
        r = httpx.get(f"{self.prometheus}/api/v1/query", params={"query": expr}, timeout=10)
        answer: dict[str, Any] = r.json()
        return answer

    def label_values(self, metric: str, label: str) -> list[str]:
        url = f"{self.prometheus}/api/v1/label/{label}/values"
        values: list[str] = httpx.get(url, params={"match[]": metric}, timeout=10).json()["data"]
        return values


def _broken_source_config(tmp: Path, dead_port: int) -> Path:
    slos = tmp / "slos.yaml"
    slos.write_text(
        "slos:\n  - name: unreachable-source\n    objective: 99.9\n    period: 30d\n"
        "    sli: {kind: success_rate}\n",
        encoding="utf-8",
    )
    config = tmp / "sloguard.yaml"
    config.write_text(
        f"slo_files: [{slos}]\nevaluation_interval: 1\n"
        f"prometheus:\n  url: http://127.0.0.1:{dead_port}\n  timeout: 1\n",
        encoding="utf-8",
    )
    return config


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Prometheus scraping the demo and a daemon with a dead source, once the series exist."""
    demo_dir, broken_dir = tmp_path_factory.mktemp("demo"), tmp_path_factory.mktemp("broken")
    demo_port, broken_port = processes.free_port(), processes.free_port()
    rules = compile_demo_rules(tmp_path_factory.mktemp("rules"))
    config_yaml = (
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files: ['{rules}']\nscrape_configs:\n"
        "  - job_name: sloguard\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{demo_port}']\n        labels: {DEMO_TARGET_LABELS}\n"
        f"      - targets: ['127.0.0.1:{broken_port}']\n"
    )
    with ExitStack() as on_exit:
        prom = on_exit.enter_context(start_prometheus(demo_dir, config_yaml=config_yaml))
        spawn_demo = on_exit.enter_context(contextmanager(processes.spawning)(demo_dir))
        spawn_broken = on_exit.enter_context(contextmanager(processes.spawning)(broken_dir))
        demo = spawn_demo(
            *("demo", "--port", str(demo_port), "--data-dir", str(demo_dir / "state")),
            *("--incident-after", "3", "--interval", "1", "--rate", "25"),
            env={"SLOGUARD_METRICS__LABEL_LIMITS__MODEL": "1"},
        )
        config = _broken_source_config(broken_dir, processes.free_port())
        broken = spawn_broken(
            *("run", "--config", str(config), "--port", str(broken_port)),
            *("--data-dir", str(broken_dir / "state")),
        )
        bases = [f"http://127.0.0.1:{p}" for p in (demo_port, broken_port)]
        processes._wait_healthy(demo, bases[0], demo_dir)
        processes._wait_healthy(broken, bases[1], broken_dir)
        s = Stack(prom, {})
        deadline = time.monotonic() + STARTUP_DEADLINE
        while not s.query(READY_QUERY).get("data", {}).get("result"):
            if time.monotonic() > deadline:
                pytest.fail(f"series never appeared: {READY_QUERY}\n{processes._stderr(demo_dir)}")
            time.sleep(0.5)
        while not s.query("count(slo:period_error_budget_remaining:ratio)")["data"]["result"]:
            if time.monotonic() > deadline:
                pytest.fail("Prometheus recorded no slo:* series from the compiled demo rules")
            time.sleep(0.5)
        texts = [httpx.get(f"{b}/metrics", timeout=5).text for b in bases]
        known = {**catalog(texts, sdk_exposition()), **recorded_catalog(prom, rules)}
        yield Stack(prom, known)


SCRAPE = ("--scrape-interval", "1s")


def compile_demo_rules(out: Path) -> Path:
    """``sloguard rules`` for the demo's SLOs (1 s scrapes: the shortest windows stay short)."""
    from sloguard.commands.workload import demo_slo_file

    done = subprocess.run(
        [sys.executable, "-m", "sloguard", "rules", str(demo_slo_file()), "-o", str(out), *SCRAPE],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (rules,) = out.glob("*.rules.yaml")
    return rules


def variable_values(s: Stack, dashboard: Mapping[str, Any]) -> dict[str, str]:
    """What each template variable becomes with "All" selected (plus Grafana's built-ins)."""
    values = dict(BUILTINS)
    for v in variables(dashboard):
        if v["type"] != "query":
            continue
        metric, label = _label_values(v["query"]["query"])
        found = s.label_values(metric, label)
        assert found, f"variable {v['name']}: {v['query']['query']} has no values"
        assert all(re.fullmatch(r"[\w.:-]+", x) for x in found), found  # no regex escaping
        values[v["name"]] = v.get("allValue") or "(" + "|".join(found) + ")"
    return values


def _label_values(query: str) -> tuple[str, str]:
    m = re.fullmatch(r"label_values\(\s*(\w+)\s*,\s*(\w+)\s*\)", query)
    assert m, f"unsupported variable query {query!r}"
    return m.group(1), m.group(2)


def expression_problems(s: Stack, dashboard: Mapping[str, Any]) -> list[str]:
    """Expressions that do not parse or name a metric or label sloguard does not expose."""
    problems: list[str] = []
    for v in variables(dashboard):
        if v["type"] == "query":
            metric, label = _label_values(v["query"]["query"])
            if label not in s.known.get(metric, frozenset()):
                problems.append(f"variable {v['name']}: {metric} has no label {label!r}")
    values = variable_values(s, dashboard)
    for q in [*queries(dashboard), *annotation_queries(dashboard)]:
        try:
            expr = substitute(q.expr, values)
        except KeyError as exc:
            problems.append(f"{q.where}: {exc.args[0]}")
            continue
        answer = s.query(expr)
        if answer.get("status") != "success":
            problems.append(f"{q.where}: {answer.get('error')}")
        problems += name_problems(q, expr, s.known)
    return problems


def data_problems(s: Stack, q: Query, values: Mapping[str, str]) -> str | None:
    """Why ``q`` shows nothing useful (None when it returns finite data its legend can use)."""
    result = s.query(substitute(q.expr, values))["data"]["result"]
    if not any(math.isfinite(float(r["value"][1])) for r in result):
        return f"{q.where}: no data: {result}"
    labels = set().union(*(r["metric"] for r in result))
    missing = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", q.legend)) - labels
    if missing:
        return f"{q.where}: legend labels {sorted(missing)} not in {sorted(labels)}"
    return None


# --- tests ------------------------------------------------------------------------------------


def test_there_are_dashboards() -> None:
    assert {"sloguard-fleet.json", "sloguard-slo.json", "sloguard-slos.json"} <= {
        p.name for p in DASHBOARDS
    }


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_structure(path: Path) -> None:
    dashboard = load(path)
    assert structure_problems(dashboard) == []
    assert dashboard["uid"] == path.stem


def test_provisioning_points_at_the_dashboards() -> None:
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/sloguard.yaml").read_text())
    [p] = provider["providers"]
    assert (provider["apiVersion"], p["type"]) == (1, "file")
    assert p["options"]["path"].endswith("/dashboards")
    sources = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yaml").read_text())
    assert [d["type"] for d in sources["datasources"]] == ["prometheus"]


def test_names_reads_selectors_and_grouping() -> None:
    used = names(
        'sum by (le, a) (rate(m_bucket{x="1", y=~"$v"}[5m])) / on(b) group_left(c) '
        "max without (d) (n offset 1h) > bool 2 and vector(0) or {z='}'}"
    )
    assert used.selectors == (
        ("m_bucket", frozenset({"x", "y"})),
        ("n", frozenset()),
        ("", frozenset({"z"})),
    )
    assert used.grouping == {"le", "a", "b", "c", "d"}


@pytest.mark.prometheus
@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_expressions_parse_and_use_only_emitted_names(stack: Stack, path: Path) -> None:
    assert expression_problems(stack, load(path)) == []


@pytest.mark.prometheus
def test_expressions_return_data(stack: Stack) -> None:
    dashboards = [load(p) for p in DASHBOARDS]
    every = {q.key: q for d in dashboards for q in queries(d)}
    assert set(NO_DATA_ALLOWED) <= set(every), "stale NO_DATA_ALLOWED entries"
    pending = [q for q in every.values() if q.key not in NO_DATA_ALLOWED]
    deadline = time.monotonic() + DATA_DEADLINE
    while True:  # rates need a few scrapes; give each expression until the deadline
        values = {d["uid"]: variable_values(stack, d) for d in dashboards}
        why = {q.key: data_problems(stack, q, values[q.dashboard]) for q in pending}
        pending = [q for q in pending if why[q.key] is not None]
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    assert [why[q.key] for q in pending] == []
    for key in NO_DATA_ALLOWED:
        q = every[key]
        has_data = data_problems(stack, q, values[q.dashboard]) is None
        assert not has_data, f"{key} returns data: drop it from NO_DATA_ALLOWED"


@pytest.mark.prometheus
def test_checker_catches_a_broken_dashboard(stack: Stack) -> None:
    ds_variable = {"type": "datasource", "name": "datasource", "query": "prometheus"}

    def panel(pid: int, title: str, expr: str) -> dict[str, Any]:
        return {
            **{"id": pid, "type": "timeseries", "title": title, "datasource": DS},
            "gridPos": {"x": 0, "y": pid * 4, "w": 12, "h": 4},
            "targets": [{"datasource": DS, "refId": "A", "expr": expr}],
            "fieldConfig": {"defaults": {"unit": "s"}},
        }

    fleet = load(GRAFANA / "dashboards" / "sloguard-fleet.json")
    target_vars = [v for v in variables(fleet) if v["name"] in TARGET_VARIABLES]
    bad: dict[str, Any] = {
        "uid": "bad",
        "schemaVersion": 39,
        "annotations": fleet["annotations"],
        "templating": {"list": [ds_variable, *target_vars]},
        "panels": [
            panel(1, "broken", "sum(rate(agent_calls_total[$__rate_interval])"),
            panel(2, "unknown metric", "rate(agent_call_total[$__rate_interval])"),
            panel(3, "unknown label", 'sum by (agent) (agent_calls_total{stats="error"})'),
            panel(4, "unknown variable", 'agent_calls_total{agent_name=~"$agnet"}'),
        ],
    }
    unfiltered = [
        f"bad / {p['title']} / A: filter every selector with "
        'job=~"$job", namespace=~"$namespace", cluster=~"$cluster"'
        for p in bad["panels"]
    ]
    assert structure_problems(bad) == unfiltered
    swapped = 'sum(up{job=~"$job", namespace=~"$cluster", cluster=~"$cluster"}) or vector(0)'
    assert structure_problems({**bad, "panels": [panel(1, "swapped", swapped)]}) == [
        'bad / swapped / A: filter every selector with namespace=~"$namespace"'
    ]
    no_alerts = {**bad, "annotations": {"list": []}, "templating": {"list": [ds_variable]}}
    assert structure_problems(no_alerts)[:5] == [
        "want Grafana's built-in 'Annotations & Alerts' annotation, enabled",
        "want one enabled `sloguard alerts` annotation over the alert series",
        "no `job` variable",
        "no `namespace` variable",
        "no `cluster` variable",
    ]
    problems = "\n".join(expression_problems(stack, bad))
    assert 'bad / broken / A: invalid parameter "query": 1:33: parse error: unclosed' in problems
    assert "bad / unknown metric / A: unknown metric 'agent_call_total'" in problems
    assert "bad / unknown label / A: agent_calls_total has no label 'stats'" in problems
    assert "bad / unknown label / A: no metric has label 'agent'" in problems
    assert "unknown template variable $agnet" in problems
    bad["panels"][0]["datasource"] = {"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}
    bad["panels"][1]["gridPos"] = {"x": 6, "y": 2, "w": 20, "h": 4}
    assert structure_problems(bad) == [
        f".panels[0].datasource is {bad['panels'][0]['datasource']}, want {DS}",
        ".panels[0].datasource.uid 'P1809F7CD0C75ACF3' is hard-coded",
        *unfiltered,
        f"panel 'broken': datasource must be {DS}",
        "panel 'unknown metric': gridPos {'x': 6, 'y': 2, 'w': 20, 'h': 4} is outside the "
        "24-column grid",
        "panels 'broken' and 'unknown metric' overlap",
    ]


@pytest.mark.prometheus
def test_the_slo_dashboards_read_the_recorded_series(stack: Stack) -> None:
    """Each records-or-gauges expression gets data from its ``slo:*`` side alone (so it stays
    filled while the daemon is down), and every SLO dashboard has such expressions."""
    checked: dict[str, int] = {}
    for path in DASHBOARDS:
        dashboard = load(path)
        values = variable_values(stack, dashboard)
        for q in queries(dashboard):
            recorded = recorded_side(q.expr)
            if recorded is None:
                continue
            checked[dashboard["uid"]] = checked.get(dashboard["uid"], 0) + 1
            result = stack.query(substitute(recorded, values))["data"]["result"]
            assert any(math.isfinite(float(r["value"][1])) for r in result), (q.where, result)
            if "by (slo)" in recorded or "without (" in recorded:  # per SLO (instance)
                assert all(r["metric"].get("slo") for r in result), (q.where, result)
    assert checked.get("sloguard-slo", 0) >= 3 and checked.get("sloguard-slos", 0) >= 4, checked


@pytest.mark.prometheus
def test_choosing_a_namespace_keeps_its_series_and_drops_targets_without_it(
    stack: Stack,
) -> None:
    slo = load(GRAFANA / "dashboards" / "sloguard-slo.json")
    [errors] = [q for q in queries(slo) if q.key == ("sloguard-slo", "Evaluations and errors", "B")]
    fleet = load(GRAFANA / "dashboards" / "sloguard-fleet.json")
    [calls] = [q for q in queries(fleet) if q.panel == "Calls / s"]
    namespace = {"namespace": DEMO_TARGET_LABELS["namespace"]}
    everything = variable_values(stack, slo)
    # "All": the broken daemon's errors, although its target has no namespace label
    assert data_problems(stack, errors, everything) is None
    assert stack.query(substitute(errors.expr, {**everything, **namespace}))["data"]["result"] == []
    assert data_problems(stack, calls, {**variable_values(stack, fleet), **namespace}) is None
