"""OpenSLO indicators (SLIs) → the ``sli:`` of a sloguard ``kind: ratio`` SLO. Pure.

Read here:

- ``openslo/v1`` ``ratioMetric`` {``counter``, ``good`` | ``bad``, ``total``} whose metric
  sources are Prometheus (``type: Prometheus``, or a ``metricSourceRef`` to a DataSource of that
  type) with the PromQL in ``spec.query`` (or ``spec.promql``); ``raw`` / ``rawType`` (a
  precomputed ratio) cannot be counted in events and is a problem.
- ``openslo/v1alpha`` ``objectives[].ratioMetrics`` {``good``, ``bad``, ``total``,
  ``incremental`` / ``counter``} with ``source: prometheus`` (or ``sloth``), ``queryType:
  promql`` and ``query``, the form Sloth reads.
- ``thresholdMetric`` (both versions): a value compared with the objective's ``op`` and
  ``value``. sloguard counts events, so only a query on a Prometheus histogram (a ``*_bucket``
  series) translates: the share of observations at or under ``value`` (``le="value"``) of all
  observations (``*_count``); anything else is a problem.

Queries. A query with the window placeholder (``{{.window}}`` or ``$window``) is used as written.
A counter (``counter: true``) read as a bare selector is left for sloguard to wrap in
``increase(…[window])``; ``sum [by (…)] (selector)`` becomes ``sum [by (…)]
(increase(selector[{{.window}}]))``. Any other query without the placeholder (or a gauge,
``counter: false``) is a problem asking for the ``{{.window}}`` form.

Example::

    ind = v1_indicator(node, objects)               # Indicator, problems recorded on the way
    fields = sli_fields(ind, objective)             # [("kind", "ratio", origin), ("good", ...)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sloguard.slo.peers.base import Origin
from sloguard.slo.peers.openslonode import Objects, PeerNode
from sloguard.yamldoc import show

__all__ = ["Indicator", "Query", "sli_fields", "v1_indicator", "v1alpha_ratio", "v1alpha_threshold"]

WINDOW = "{{.window}}"
_PLACEHOLDERS = ("{{.window}}", "{{ .window }}", "$window")
_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SELECTOR = re.compile(rf"\s*{_NAME}\s*(\{{[^{{}}]*\}})?\s*")
_AGG_SELECTOR = re.compile(
    rf"\s*(?P<agg>sum)\s*(?P<pre>(?:by|without)\s*\([^()]*\)\s*)?"
    rf"\(\s*(?P<sel>{_NAME}\s*(?:\{{[^{{}}]*\}})?)\s*\)\s*(?P<post>(?:by|without)\s*\([^()]*\))?\s*"
)
_BUCKET = re.compile(rf"(?P<base>{_NAME})_bucket\s*(?:\{{(?P<matchers>[^{{}}]*)\}})?")
_LE = re.compile(r"\s*le\s*(=~|!=|!~|=)\s*(\"[^\"]*\"|'[^']*')\s*")
_METRIC_KEYS = ("metricSource",)
_SOURCE_KEYS = ("metricSourceRef", "type", "spec")
_V1ALPHA_SOURCE_KEYS = ("source", "queryType", "query", "metadata")
_OPS = ("lte", "lt", "gte", "gt")


@dataclass(frozen=True, slots=True)
class Query:
    """A PromQL query as sloguard runs it, and where the user wrote it."""

    text: str
    origin: Origin


@dataclass(frozen=True, slots=True)
class Indicator:
    """An OpenSLO SLI: good or bad and total queries (a ratio), or one threshold query."""

    origin: Origin
    good: Query | None = None
    bad: Query | None = None
    total: Query | None = None
    threshold: Query | None = None
    description: str | None = None


def _has_window(text: str) -> bool:
    return any(p in text for p in _PLACEHOLDERS)


def counted(text: str, counter: bool | None, node: PeerNode) -> str | None:
    """``text`` as an event count over sloguard's window (see the module doc); None and a
    problem at ``node`` when it cannot be."""
    if _has_window(text):
        return text
    fix = "write the query with the window placeholder, e.g. sum(increase(x[{{.window}}]))"
    if counter is False:
        node.problem(
            "cannot be represented: a gauge (counter: false) has no event counts over a window; "
            f"{fix} or sum(sum_over_time(x[{{{{.window}}}}]))"
        )
        return None
    if _SELECTOR.fullmatch(text):
        return text.strip()
    m = _AGG_SELECTOR.fullmatch(text)
    if m is not None:
        by = (m["pre"] or "").strip() or (m["post"] or "").strip()
        by = f" {by} " if by else ""
        return f"{m['agg']}{by}(increase({m['sel'].strip()}[{WINDOW}]))"
    node.problem(
        f"cannot be represented: sloguard counts events over each alerting window and this "
        f"query has no {WINDOW} (or $window) to put it in; {fix}"
    )
    return None


def _v1_source(node: PeerNode, objects: Objects) -> str | None:
    """The PromQL of a v1 ``{metricSource: ...}`` node; None (and problems) otherwise."""
    if not node.keys(_METRIC_KEYS):
        return None
    src = node.get("metricSource")
    if not node.required("metricSource") or not src.keys(_SOURCE_KEYS):
        return None
    kind = src.text("type")
    if src.has("metricSourceRef"):
        ds = objects.resolve(src.get("metricSourceRef"), "DataSource")
        ds_spec = ds.get("spec").data if ds is not None else None
        ds_type = ds_spec.get("type") if isinstance(ds_spec, dict) else None
        kind = kind or (ds_type if isinstance(ds_type, str) else None)
    elif kind is None:
        src.problem("required field is missing: the data source type (type: Prometheus)", "type")
        return None
    if kind is None or kind.lower() != "prometheus":
        if kind is not None:
            src.problem(
                f"cannot be represented: data source {kind!r} is not Prometheus; sloguard "
                "evaluates SLIs with Prometheus (type: Prometheus)",
                "type" if src.has("type") else "metricSourceRef",
            )
        return None
    spec = src.get("spec")
    if not src.required("spec") or not spec.keys(("query", "promql"), " (the Prometheus query)"):
        return None
    if spec.has("query") and spec.has("promql"):
        spec.problem("give query or promql, not both", "promql")
        return None
    return spec.text("promql" if spec.has("promql") else "query", required=True)


def _v1_query(parent: PeerNode, key: str, counter: bool | None, objects: Objects) -> Query | None:
    node = parent.get(key)
    text = _v1_source(node, objects)
    q = node.get("metricSource").get("spec")
    where = q.get("promql" if q.has("promql") else "query")
    out = counted(text, counter, where) if text is not None else None
    return None if out is None else Query(out, where.origin)


def v1_indicator(node: PeerNode, objects: Objects, extra: tuple[str, ...] = ()) -> Indicator | None:
    """An inline ``indicator`` ({metadata, spec}) or an SLI object (``extra`` keys allowed)."""
    if not node.keys(("metadata", "spec", *extra)):
        return None
    meta = node.get("metadata")
    if not extra and meta.keys(("name", "displayName", "labels", "annotations")):
        for key in (k for k in meta.data if k != "name"):
            meta.notice(f"the indicator's {key} is not used (the SLO's name names it)", key)
    spec = node.get("spec")
    if not node.required("spec") or not spec.keys(
        ("description", "ratioMetric", "thresholdMetric")
    ):
        return None
    description = spec.text("description")
    if spec.has("ratioMetric") == spec.has("thresholdMetric"):
        spec.problem("give one of ratioMetric or thresholdMetric")
        return None
    if spec.has("thresholdMetric"):
        tm = spec.get("thresholdMetric")
        text = _v1_source(tm, objects)
        where = tm.get("metricSource").get("spec")
        where = where.get("promql" if where.has("promql") else "query")
        return (
            Indicator(tm.origin, threshold=Query(text, where.origin), description=description)
            if text
            else None
        )
    rm = spec.get("ratioMetric")
    if not rm.keys(("counter", "good", "bad", "total", "rawType", "raw")):
        return None
    if rm.has("raw") or rm.has("rawType"):
        rm.problem(
            "cannot be represented: a precomputed ratio (raw) has no event counts, which "
            "sloguard's budget and low-traffic guard need; write good (or bad) and total "
            "queries instead",
            "raw" if rm.has("raw") else "rawType",
        )
        return None
    counter = rm.flag("counter")
    return _ratio(rm, lambda key: _v1_query(rm, key, counter, objects), description)


def _ratio(rm: PeerNode, query: Any, description: str | None) -> Indicator | None:
    if rm.has("good") and rm.has("bad"):
        rm.problem("give good or bad, not both", "bad")
        return None
    if not rm.has("good") and not rm.has("bad"):
        rm.problem("required field is missing: good (or bad), the numerator", "good")
        return None
    if not rm.required("total"):
        return None
    key = "good" if rm.has("good") else "bad"
    part, total = query(key), query("total")
    if part is None or total is None:
        return None
    return Indicator(rm.origin, total=total, description=description, **{key: part})


def _v1alpha_text(node: PeerNode) -> str | None:
    if not node.keys(_V1ALPHA_SOURCE_KEYS):
        return None
    source, query_type = node.text("source", required=True), node.text("queryType", required=True)
    if node.has("metadata"):
        node.notice("metadata is not used by sloguard", "metadata")
    if source is not None and source.lower() not in ("prometheus", "sloth"):
        node.problem(
            f"cannot be represented: source {source!r} is not Prometheus; sloguard evaluates "
            "SLIs with Prometheus (source: prometheus)",
            "source",
        )
        return None
    if query_type is not None and query_type.lower() not in ("promql", "query"):
        node.problem(f"unknown queryType {query_type!r}; write queryType: promql", "queryType")
        return None
    return node.text("query", required=True)


def v1alpha_ratio(rm: PeerNode) -> Indicator | None:
    """An objective's ``ratioMetrics`` (``ratioMetric``) of ``openslo/v1alpha``."""
    if not rm.keys(("good", "bad", "total", "incremental", "counter")):
        return None
    counter = rm.flag("incremental") if rm.has("incremental") else rm.flag("counter")

    def query(key: str) -> Query | None:
        node = rm.get(key)
        text = _v1alpha_text(node)
        out = counted(text, counter, node.get("query")) if text is not None else None
        return None if out is None else Query(out, node.at("query"))

    return _ratio(rm, query, None)


def v1alpha_threshold(indicator: PeerNode) -> Indicator | None:
    """``spec.indicator`` of ``openslo/v1alpha`` ({thresholdMetric: {source, queryType, query}})."""
    if not indicator.keys(("thresholdMetric",)) or not indicator.required("thresholdMetric"):
        return None
    tm = indicator.get("thresholdMetric")
    text = _v1alpha_text(tm)
    return None if text is None else Indicator(tm.origin, threshold=Query(text, tm.at("query")))


def _le(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _threshold_fields(ind: Indicator, objective: PeerNode) -> list[tuple[str, Any, Origin]] | None:
    assert ind.threshold is not None
    q = ind.threshold
    op, value = objective.text("op", required=True), objective.number("value", required=True)
    if op is not None and op not in _OPS:
        objective.problem(f"unknown op {show(op)} (allowed: {', '.join(_OPS)})", "op")
        return None
    m = _BUCKET.search(q.text)
    if m is None:
        objective.b.problem(
            q.origin,
            "cannot be represented: a thresholdMetric compares a value with the objective at "
            "each data point, and sloguard counts events; use a Prometheus histogram "
            "(a *_bucket series, read as the share of observations at or under value) or write "
            "a ratioMetric with good and total queries",
        )
        return None
    if op is None or value is None:
        return None
    matchers = [x for x in (m["matchers"] or "").split(",") if x.strip() and not _LE.fullmatch(x)]
    inner = ",".join(x.strip() for x in matchers)
    le = _le(value)
    bucket = f'{m["base"]}_bucket{{{inner + "," if inner else ""}le="{le}"}}'
    count = f"{m['base']}_count" + (f"{{{inner}}}" if inner else "")
    where = "at or under" if op.startswith("l") else "over"
    objective.b.notice(
        q.origin,
        f"read as the share of {m['base']} observations {where} "
        f'{value:g} (bucket le="{le}") of all observations, counted over each window',
    )
    if op in ("lt", "gte"):
        objective.notice(
            f"op {op} is read as {'lte' if op == 'lt' else 'gt'}: a histogram bucket counts "
            "observations at or under its bound",
            "op",
        )
    part = "good" if op.startswith("l") else "bad"
    return [
        ("kind", "ratio", ind.origin),
        (part, bucket, objective.at("value")),
        ("total", count, q.origin),
    ]


def sli_fields(ind: Indicator, objective: PeerNode) -> list[tuple[str, Any, Origin]] | None:
    """The ``sli:`` fields of one objective's SLO, each with its origin."""
    if ind.threshold is not None:
        return _threshold_fields(ind, objective)
    for key in ("op", "value"):
        if objective.has(key):
            objective.notice(f"{key} applies to a thresholdMetric only; it is not used here", key)
    out: list[tuple[str, Any, Origin]] = [("kind", "ratio", ind.origin)]
    for key in ("good", "bad", "total"):
        q = getattr(ind, key)
        if q is not None:
            out.append((key, q.text, q.origin))
    return out
