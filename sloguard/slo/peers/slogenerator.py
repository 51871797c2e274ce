"""slo-generator SLO documents (``sre.google.com/v2``, Prometheus backend) → ``sloguard/v1``.
Pure.

A ``kind: ServiceLevelObjective`` document becomes one sloguard ``kind: ratio`` SLO:
``metadata.name`` → ``name``; ``metadata.labels`` (``service_name``, ``feature_name``,
``slo_name``, ...) → ``alerting.labels``; ``spec.description``; ``spec.goal`` → ``target``.
``spec.backend`` must be ``prometheus`` (or ``prometheus/<suffix>``); ``spec.exporters`` are
not used (sloguard exports its own series, notice).

The SLI, as slo-generator's Prometheus backend queries it for each window W of its error budget
policy: a filter containing ``[window`` has it replaced by ``[W``, any other filter gets
``[W]`` appended, then the ``operators`` (default ``increase`` then ``sum``) wrap it in order. So:

- ``good_bad_ratio``: ``filter_good`` with ``filter_bad`` (total = good + bad, as
  slo-generator counts it; ``filter_valid`` is then unused) or ``filter_valid`` (the total);
- ``distribution_cut``: ``expression`` (a ``*_bucket`` selector) with ``threshold_bucket``:
  good = the bucket with ``le="threshold_bucket"``, total = the same selector on ``*_count``;
- ``query_sli``: the ``expression`` is the SLI itself (a ratio); it translates when it is
  ``good / total`` at its top level (split there, a notice); otherwise it is a problem.

each written with ``{{.window}}`` where slo-generator puts W. The error budget policy (its windows
and burn-rate thresholds) lives in slo-generator's shared config, not in the SLO file:
:func:`translate` uses sloguard's default policy and says so; :func:`translate_with_policies`
takes the shared config's ``error_budget_policies`` and turns each ``alert: true`` step into a
tier (one window: long = short = the step's window, factor = ``burn_rate_threshold``), the
period being the longest step's window.

Example::

    translation = translate(load_yaml_all("slo_prom_availability.yaml"))
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sloguard.durations import format_duration
from sloguard.slo.peers.base import Translation, TranslationBuilder
from sloguard.slo.peers.openslonode import PeerNode
from sloguard.yamldoc import YamlDoc, show, suggest

__all__ = ["VERSIONS", "translate", "translate_with_policies"]

VERSIONS: tuple[str, ...] = ("sre.google.com/v2",)
WINDOW = "{{.window}}"
METHODS = ("good_bad_ratio", "distribution_cut", "query_sli")
_SPEC_KEYS = (
    "description", "goal", "backend", "method", "service_level_indicator",
    "error_budget_policy", "exporters",
)  # fmt: skip
_SLI_KEYS = {
    "good_bad_ratio": ("filter_good", "filter_bad", "filter_valid", "operators"),
    "distribution_cut": ("expression", "threshold_bucket", "good_below_threshold"),
    "query_sli": ("expression",),
}
_OPERATOR = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_STEP_KEYS = (
    "name", "window", "burn_rate_threshold", "alert", "message_alert", "message_ok",
    "alerting_burn_rate_threshold", "urgent_notification", "overburned_consequence_message",
    "achieved_consequence_message",
)  # fmt: skip


def _windowed(query: str, operators: Sequence[str]) -> str:
    """slo-generator's ``_fmt_query`` with ``{{.window}}`` for the window."""
    out = query.strip()
    out = out.replace("[window", f"[{WINDOW}") if "[window" in out else f"{out}[{WINDOW}]"
    for op in operators:
        out = f"{op}({out})"
    return out


def _operators(sli: PeerNode) -> list[str] | None:
    if not sli.has("operators"):
        return ["increase", "sum"]
    ops = sli.data["operators"]
    if not isinstance(ops, list) or not all(
        isinstance(o, str) and _OPERATOR.fullmatch(o) for o in ops
    ):
        sli.problem(f"must be a list of PromQL function names (got {show(ops)})", "operators")
        return None
    return ops


def _good_bad(sli: PeerNode) -> list[tuple[str, str, Any]] | None:
    ops = _operators(sli)
    good = sli.text("filter_good", required=True)
    bad, valid = sli.text("filter_bad"), sli.text("filter_valid")
    if bad is None and valid is None:
        sli.problem(
            "required field is missing: filter_valid (all events) or filter_bad", "filter_valid"
        )
        return None
    if good is None or ops is None:
        return None
    g = _windowed(good, ops)
    if bad is not None:
        if valid is not None:
            sli.notice(
                "filter_valid is not used: with filter_bad, slo-generator counts good + bad",
                "filter_valid",
            )
        b = _windowed(bad, ops)
        total = f"({g} or vector(0)) + ({b} or vector(0))"  # either may have no series yet
        return [("bad", b, sli.at("filter_bad")), ("total", total, sli.at("filter_good"))]
    assert valid is not None
    return [
        ("good", g, sli.at("filter_good")),
        ("total", _windowed(valid, ops), sli.at("filter_valid")),
    ]


def _distribution_cut(sli: PeerNode) -> list[tuple[str, str, Any]] | None:
    expr = sli.text("expression", required=True)
    bound = sli.number("threshold_bucket", required=True)
    if sli.flag("good_below_threshold") is False:
        sli.problem(
            "cannot be represented: slo-generator's Prometheus backend always counts "
            "observations in the bucket as good; for good events above it write method: "
            "good_bad_ratio with filter_bad on the bucket",
            "good_below_threshold",
        )
        return None
    if expr is None or bound is None:
        return None
    if "_bucket" not in expr:
        sli.problem(
            f"must select a histogram's *_bucket series (got {expr!r}); slo-generator reads "
            "the total from the same selector on *_count",
            "expression",
        )
        return None
    raw = sli.data["threshold_bucket"]
    le = str(raw)  # as slo-generator writes it into the query
    sli.notice(
        f'good events are the bucket le="{le}": the label must match it exactly', "threshold_bucket"
    )
    good = expr.replace("}", f', le="{le}"}}') if "}" in expr else f'{expr.strip()}{{le="{le}"}}'
    count = expr.replace("_bucket", "_count")
    return [
        ("good", _windowed(good, ["increase", "sum"]), sli.at("threshold_bucket")),
        ("total", _windowed(count, ["increase", "sum"]), sli.at("expression")),
    ]


def _top_division(expr: str) -> tuple[str, str] | None:
    """``a / b`` split at its one top-level ``/`` (outside brackets), or None."""
    depth, cut = 0, None
    for i, ch in enumerate(expr):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "/" and depth == 0:
            if cut is not None:
                return None
            cut = i
    if cut is None:
        return None
    left, right = expr[:cut].strip(), expr[cut + 1 :].strip()
    right = re.sub(r"^(ignoring|on)\s*\([^()]*\)\s*", "", right)
    return (left, right) if left and right else None


def _query_sli(sli: PeerNode) -> list[tuple[str, str, Any]] | None:
    expr = sli.text("expression", required=True)
    if expr is None:
        return None
    split = _top_division(expr.strip())
    if split is None:
        sli.problem(
            "cannot be represented: query_sli computes the SLI as one number and sloguard needs "
            "event counts; write it as good / total (e.g. sum(increase(a[window])) / "
            "sum(increase(b[window]))) or use method: good_bad_ratio",
            "expression",
        )
        return None
    sli.notice("read as good / total, split at its top-level '/'", "expression")
    good, total = (_windowed(part, []) for part in split)
    return [("good", good, sli.at("expression")), ("total", total, sli.at("expression"))]


_READERS = {
    "good_bad_ratio": _good_bad,
    "distribution_cut": _distribution_cut,
    "query_sli": _query_sli,
}


def _policy(spec: PeerNode, i: int, policies: Mapping[str, Any] | None) -> None:
    b, name = spec.b, spec.text("error_budget_policy") or "default"
    where = spec.at("error_budget_policy") if spec.has("error_budget_policy") else spec.origin
    if policies is None:
        b.notice(
            where,
            f"the error budget policy {name!r} is in slo-generator's shared config, not in this "
            "file: sloguard's default policy and period (30d) are used",
        )
        return
    steps = policies.get(name, {}).get("steps") if isinstance(policies.get(name), dict) else None
    if not isinstance(steps, list) or not steps:
        b.problem(where, f"no error budget policy {name!r} with steps{suggest(name, policies)}")
        return
    windows: list[float] = []
    t = 0
    for item in steps:
        step = item if isinstance(item, dict) else {}
        window = step.get("window")
        factor = step.get("burn_rate_threshold", step.get("alerting_burn_rate_threshold"))
        if not isinstance(window, int | float) or not isinstance(factor, int | float):
            b.problem(
                where,
                f"policy {name!r}: every step needs window (seconds) and "
                f"burn_rate_threshold (got {show(step)})",
            )
            return
        windows.append(float(window))
        if step.get("alert", step.get("urgent_notification")) is True:
            w = format_duration(window)
            tier = {
                "severity": "critical",
                "long_window": w,
                "short_window": w,
                "burn_rate": factor,
            }
            for key, value in tier.items():
                b.put(("slos", i, "alerting", "policy", t, key), value, where)
            t += 1
    b.put(("slos", i, "period"), format_duration(max(windows)), where)
    b.notice(
        where,
        f"policy {name!r}: each alert: true step is a tier over its one window; the period is "
        f"the longest step window ({format_duration(max(windows))})",
    )


def _slo(root: PeerNode, i: int, policies: Mapping[str, Any] | None) -> bool:
    """Translate one document into entry ``i``; False when it is not an SLO at all."""
    b = root.b
    if not root.keys(("apiVersion", "kind", "metadata", "spec")):
        return False
    if root.data.get("kind") != "ServiceLevelObjective":
        root.problem(
            f"must be kind: ServiceLevelObjective (got {show(root.data.get('kind'))})", "kind"
        )
        return False
    b.put(("slos", i), {}, root.at(next(iter(root.data))))  # its first key: the SLO's line
    meta, spec = root.get("metadata"), root.get("spec")
    if root.required("metadata") and meta.keys(("name", "labels", "annotations")):
        name = meta.text("name", required=True)
        if name is not None:
            b.put(("slos", i, "name"), name, meta.at("name"))
        for key, value in (meta.strings("labels") or {}).items():
            b.put(("slos", i, "alerting", "labels", key), value, meta.at("labels", key))
        for key, value in (meta.strings("annotations") or {}).items():
            b.put(("slos", i, "alerting", "annotations", key), value, meta.at("annotations", key))
    fields = None
    if root.required("spec") and spec.keys(_SPEC_KEYS):
        if spec.has("description"):
            b.put(("slos", i, "description"), spec.data["description"], spec.at("description"))
        if spec.required("goal"):
            b.put(("slos", i, "target"), _goal(spec.data["goal"]), spec.at("goal"))
        if spec.has("exporters"):
            spec.notice("exporters are not used: sloguard exports its own SLO series", "exporters")
        fields = _sli(spec)
        _policy(spec, i, policies)
    if fields is None:  # a problem says why; a stand-in keeps the reader from saying it twice
        fields = [("kind", "success_rate", root.origin)]
    for key, value, origin in fields:
        b.put(("slos", i, "sli", key), value, origin)
    return True


def _goal(value: Any) -> Any:
    """slo-generator's documentation types the goal as a string: ``"0.999"`` is read as 0.999."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value  # the reader says what is wrong with it
    return value


def _sli(spec: PeerNode) -> list[tuple[str, str, Any]] | None:
    """The ``sli:`` fields of the backend, method and service_level_indicator; None (problems
    recorded) when they cannot be translated."""
    backend = spec.text("backend", required=True)
    if backend is not None and backend.split("/")[0] != "prometheus":
        spec.problem(
            f"cannot be represented: backend {backend!r}; sloguard reads SLIs from Prometheus "
            "(backend: prometheus)",
            "backend",
        )
        return None
    method = spec.text("method", required=True)
    if method is not None and method not in METHODS:
        spec.problem(
            f"unknown method {method!r} for the Prometheus backend{suggest(method, METHODS)}",
            "method",
        )
        return None
    sli = spec.get("service_level_indicator")
    if (
        method is None
        or not spec.required("service_level_indicator")
        or not sli.keys(_SLI_KEYS[method], f" (the {method} SLI)")
    ):
        return None
    fields = _READERS[method](sli)
    return None if fields is None else [("kind", "ratio", spec.at("method")), *fields]


def translate_with_policies(
    docs: Sequence[YamlDoc], policies: Mapping[str, Any] | None
) -> Translation:
    """:func:`translate`, with the shared config's ``error_budget_policies`` (None: unknown)."""
    b = TranslationBuilder("slo-generator")
    b.put(("slos",), [], (0, ()))
    n = 0
    for i, doc in enumerate(docs):
        n += _slo(PeerNode(b, i, (), doc.data), n, policies)
    return b.build()


def translate(docs: Sequence[YamlDoc]) -> Translation:
    """The sloguard/v1 equivalent of the slo-generator documents of one file."""
    return translate_with_policies(docs, None)
