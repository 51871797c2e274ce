"""OpenSLO documents (``openslo/v1`` and ``openslo/v1alpha``) → ``sloguard/v1``. Pure.

A file holds one or more objects (``---``): SLO, SLI, AlertPolicy, AlertCondition,
AlertNotificationTarget, DataSource, Service. References (``indicatorRef``, ``alertPolicyRef``,
``conditionRef``, ``targetRef``, ``metricSourceRef``) resolve to objects of the same file; a
missing one is a problem at the reference. Each objective of each SLO becomes one sloguard SLO:
named after the SLO, or ``<slo>-<objective displayName or index>`` when it has several.

Per SLO: ``metadata.name`` → ``name`` (``sloguard.dev/name`` annotation overrides, for names
that are not DNS labels); ``metadata.labels`` and ``spec.service`` (label ``service``) →
``alerting.labels``; ``metadata.annotations`` → ``alerting.annotations``, except sloguard's own
``sloguard.dev/group-by``, ``min-events``, ``runbook``, ``dashboard`` (what
:mod:`~sloguard.slo.peers.opensloout` writes); ``description``; ``target`` /
``targetPercent`` → ``target`` / ``objective``; a rolling ``timeWindow`` (v1alpha
``timeWindows`` count × unit) → ``period``; indicators → :mod:`~sloguard.slo.peers.openslosli`;
alert policies → an inline policy (:mod:`~sloguard.slo.peers.opensloalert`).

Calendar-aligned windows and the time-slice budgeting methods are translated by
:mod:`~sloguard.slo.peers.openslobudget` (``period: {calendar: ...}``, ``budgeting:``).

Example::

    translation = translate(load_yaml_all("slo.openslo.yaml"))
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sloguard.durations import format_duration
from sloguard.slo.peers.base import Origin, Translation, TranslationBuilder
from sloguard.slo.peers.opensloalert import alert_tiers
from sloguard.slo.peers.openslobudget import (
    budgeting_fields,
    budgeting_method,
    calendar_fields,
    is_calendar,
)
from sloguard.slo.peers.openslokind import kind_fields
from sloguard.slo.peers.openslonode import Objects, PeerNode, shorthand
from sloguard.slo.peers.openslosli import (
    Indicator,
    sli_fields,
    v1_indicator,
    v1alpha_ratio,
    v1alpha_threshold,
)
from sloguard.yamldoc import YamlDoc, show, suggest

__all__ = ["SLOGUARD_ANNOTATIONS", "VERSIONS", "translate"]

VERSIONS: tuple[str, ...] = ("openslo/v1", "openslo/v1alpha")
KINDS = (
    "SLO", "SLI", "AlertPolicy", "AlertCondition", "AlertNotificationTarget", "DataSource",
    "Service",
)  # fmt: skip
#: Annotations that carry sloguard fields OpenSLO has no place for (written by opensloout).
SLOGUARD_ANNOTATIONS = {
    "sloguard.dev/name": "name",
    "sloguard.dev/group-by": "group_by",
    "sloguard.dev/min-events": "min_events",
    "sloguard.dev/runbook": "runbook",
    "sloguard.dev/dashboard": "dashboard",
    "sloguard.dev/alert-name": "name",
}
_V1_SPEC = (
    "description", "service", "indicator", "indicatorRef", "timeWindow", "budgetingMethod",
    "objectives", "alertPolicies",
)  # fmt: skip
_V1ALPHA_SPEC = (
    "description", "service", "indicator", "timeWindows", "budgetingMethod", "objectives",
    "alertPolicies",
)  # fmt: skip
_V1_OBJECTIVE = (
    "displayName", "op", "value", "target", "targetPercent", "timeSliceTarget", "timeSliceWindow",
    "indicator", "indicatorRef", "compositeWeight",
)  # fmt: skip
_V1ALPHA_OBJECTIVE = (
    "displayName", "op", "value", "target", "timeSliceTarget", "ratioMetrics", "ratioMetric",
)  # fmt: skip
_UNITS = {"Second": 1, "Minute": 60, "Hour": 3600, "Day": 86400, "Week": 7 * 86400}
_CALENDAR_DAYS = {"Month": 30, "Quarter": 90, "Year": 365}

#: In :data:`Fields`, a value that only places an origin (a tier: at its lookbackWindow).
ANCHOR: Any = object()
#: One SLO's fields shared by its objectives: (path under the SLO entry, value, origin).
Fields = list[tuple[tuple[Any, ...], Any, Origin]]


def _window(spec: PeerNode, alpha: bool) -> tuple[PeerNode | None, str | None]:
    """The single time window and its period as a sloguard duration."""
    key = "timeWindows" if alpha else "timeWindow"
    items = list(spec.items(key))
    if not items:
        spec.notice(f"no {key}: sloguard's default period (30d) is used")
        return None, None
    if len(items) > 1:
        spec.problem("OpenSLO allows exactly one time window", key, 1)
    w = items[0]
    if alpha:
        if not w.keys(("unit", "count", "isRolling", "calendar")):
            return w, None
        if w.flag("isRolling") is False or w.has("calendar"):
            return w, None  # calendar-aligned: openslobudget.calendar_fields
        unit, count = w.text("unit", required=True), w.number("count", required=True)
        if unit in _CALENDAR_DAYS and count is not None:
            w.notice(f"{count:g} {unit} is read as {count * _CALENDAR_DAYS[unit]:g}d", "unit")
            return w, f"{int(count * _CALENDAR_DAYS[unit])}d"
        if unit is not None and unit not in _UNITS:
            w.problem(f"unknown unit {unit!r}{suggest(unit, [*_UNITS, *_CALENDAR_DAYS])}", "unit")
            return w, None
        if unit is None or count is None:
            return w, None
        return w, format_duration(count * _UNITS[unit])
    if not w.keys(("duration", "isRolling", "calendar")):
        return w, None
    if w.flag("isRolling") is False or w.has("calendar"):
        return w, None  # calendar-aligned: openslobudget.calendar_fields
    return w, shorthand(w, "duration", required=True)


def _prometheus_name(root: PeerNode, origin: Origin, name: str) -> str:
    """``name`` as a Prometheus label (or annotation) name, changed with a notice if needed."""
    fixed = re.sub(r"[^a-zA-Z0-9_]", "_", name)
    fixed = fixed if re.match(r"[a-zA-Z_]", fixed) else f"_{fixed}"
    if fixed != name:
        root.b.notice(origin, f"{name!r} is not a Prometheus label name: written as {fixed!r}")
    return fixed


def _metadata(root: PeerNode, spec: PeerNode) -> tuple[str | None, Fields]:
    """The SLO's name and the fields its metadata and service give every objective."""
    meta = root.get("metadata")
    fields: Fields = []
    name = meta.text("name", required=True)
    own = meta.data.get("annotations") if meta.has("annotations") else None
    own = own if isinstance(own, dict) else {}
    if meta.has("displayName") and meta.data["displayName"] != own.get("sloguard.dev/name"):
        meta.notice("displayName is not used (sloguard names SLOs by name)", "displayName")
    labels = meta.data.get("labels") if meta.has("labels") else {}
    if not isinstance(labels, dict):
        meta.problem(f"must be a mapping of names to strings (got {show(labels)})", "labels")
        labels = {}
    for key, value in labels.items():
        origin = meta.at("labels", key)
        label = _prometheus_name(root, origin, str(key))
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            if len(value) > 1:
                root.b.notice(origin, f"a label has one value in sloguard: {','.join(value)}")
            fields.append((("alerting", "labels", label), ",".join(value), origin))
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            fields.append((("alerting", "labels", label), str(value), origin))
        else:
            root.b.problem(origin, f"must be a string or a list of strings (got {show(value)})")
    service = spec.text("service")
    if service is not None and ("alerting", "labels", "service") not in {f[0] for f in fields}:
        fields.append((("alerting", "labels", "service"), service, spec.at("service")))
    for key, value in (meta.strings("annotations") or {}).items():
        origin = meta.at("annotations", key)
        if key.startswith("sloguard.dev/") and key not in SLOGUARD_ANNOTATIONS:
            root.b.problem(
                origin, f"unknown sloguard annotation{suggest(key, SLOGUARD_ANNOTATIONS)}"
            )
        elif key == "sloguard.dev/name":
            name = value
        elif key == "sloguard.dev/group-by":
            labels = [x.strip() for x in value.split(",") if x.strip()]
            fields.append((("group_by",), labels, origin))
        elif key == "sloguard.dev/min-events":
            try:
                fields.append((("min_events",), float(value), origin))
            except ValueError:
                root.b.problem(origin, f"must be a number of events (got {value!r})")
        elif key in SLOGUARD_ANNOTATIONS:
            fields.append((("alerting", SLOGUARD_ANNOTATIONS[key]), value, origin))
        else:
            ann = _prometheus_name(root, origin, key)
            fields.append((("alerting", "annotations", ann), value, origin))
    return name, fields


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _names(base: str, objectives: list[PeerNode]) -> list[str]:
    if len(objectives) == 1:
        return [base]
    names: list[str] = []
    for j, obj in enumerate(objectives):
        display = obj.data.get("displayName") if isinstance(obj.data, dict) else None
        slug = _slug(display) if isinstance(display, str) else ""
        names.append(f"{base}-{slug}" if slug and f"{base}-{slug}" not in names else f"{base}-{j}")
    return names


def _indicator(spec: PeerNode, objects: Objects, alpha: bool) -> Indicator | None:
    """The SLO-level indicator (inline or referenced), or None (problems recorded if wrong)."""
    if alpha:
        return v1alpha_threshold(spec.get("indicator")) if spec.has("indicator") else None
    if spec.has("indicator") and spec.has("indicatorRef"):
        spec.problem("give indicator or indicatorRef, not both", "indicatorRef")
        return None
    if spec.has("indicatorRef"):
        sli = objects.resolve(spec.get("indicatorRef"), "SLI")
        return v1_indicator(sli, objects, ("apiVersion", "kind")) if sli is not None else None
    return v1_indicator(spec.get("indicator"), objects) if spec.has("indicator") else None


def _objective_indicator(
    obj: PeerNode, shared: Indicator | None, objects: Objects, alpha: bool, has_indicator: bool
) -> Indicator | None:
    if alpha:
        key = "ratioMetrics" if obj.has("ratioMetrics") else "ratioMetric"
        if obj.has(key):
            return v1alpha_ratio(obj.get(key))
    elif obj.has("indicator") or obj.has("indicatorRef"):
        obj.notice("composite SLO: this objective becomes an SLO of its own (no composite budget)")
        if obj.has("compositeWeight"):
            obj.notice("compositeWeight is not used (no composite budget)", "compositeWeight")
        return _indicator(obj, objects, False)
    if shared is None and not has_indicator:
        obj.problem("no indicator: give the SLO an indicator (or indicatorRef)")
    return shared


def _objective(
    obj: PeerNode, i: int, name: tuple[str, Origin], shared: Fields, ind: Indicator | None
) -> None:
    b = obj.b
    b.origin_of(("slos", i), obj.origin)
    b.put(("slos", i, "name"), name[0], name[1])
    if obj.has("target") and obj.has("targetPercent"):
        obj.problem("give target or targetPercent, not both", "targetPercent")
    elif obj.has("targetPercent"):
        b.put(("slos", i, "objective"), obj.data["targetPercent"], obj.at("targetPercent"))
    elif obj.has("target"):
        b.put(("slos", i, "target"), obj.data["target"], obj.at("target"))
    else:
        obj.problem("required field is missing: target (ratio) or targetPercent", "target")
    fields = sli_fields(ind, obj) if ind is not None else None
    if fields is None:  # a problem says why; a stand-in keeps the reader from saying it twice
        fields = [("kind", "success_rate", obj.origin)]
    for where, value, origin in kind_fields(obj, fields):
        b.put(("slos", i, *where), value, origin)
    for path, value, origin in shared:
        if value is ANCHOR:
            b.origin_of(("slos", i, *path), origin)
        else:
            b.put(("slos", i, *path), value, origin)


def _slo(root: PeerNode, objects: Objects, first: int) -> int:
    """Translate one SLO object into entries ``first``, ...; returns the next free index."""
    alpha = root.data.get("apiVersion") == "openslo/v1alpha"
    spec = root.get("spec")
    if not root.required("spec") or not spec.keys(_V1ALPHA_SPEC if alpha else _V1_SPEC):
        return first
    name, shared = _metadata(root, spec)
    if spec.has("description"):
        shared.append((("description",), spec.data["description"], spec.at("description")))
    if service := spec.text("service"):
        objects.used.add(("Service", service))
    window, period = _window(spec, alpha)
    method = budgeting_method(spec)
    if window is not None and is_calendar(window):
        shared.extend(calendar_fields(window, alpha=alpha))
    elif period is not None and window is not None:
        shared.append((("period",), period, window.at("timeWindows" if alpha else "duration")))
    tiers = alert_tiers(spec, objects)
    for t, tier in enumerate(tiers or ()):
        shared.append((("alerting", "policy", t), ANCHOR, tier[1][2]))  # lookbackWindow
        for key, value, origin in tier:
            shared.append((("alerting", "policy", t, key), value, origin))
    indicator = _indicator(spec, objects, alpha)
    objectives = list(spec.items("objectives"))
    if not objectives:
        spec.problem("required field is missing: at least one objective", "objectives")
    allowed = _V1ALPHA_OBJECTIVE if alpha else _V1_OBJECTIVE
    names = _names(name or "slo", objectives)
    i = first
    for j, obj in enumerate(objectives):
        if obj.keys(allowed):
            has = spec.has("indicator") or spec.has("indicatorRef")
            ind = _objective_indicator(obj, indicator, objects, alpha, has)
            where = obj.at("displayName") if obj.has("displayName") else obj.origin
            named = (names[j], root.at("metadata", "name") if len(names) == 1 else where)
            _objective(obj, i, named, shared + budgeting_fields(obj, method, alpha=alpha), ind)
            i += 1
    return i


def _index(docs: Sequence[YamlDoc], b: TranslationBuilder, objects: Objects) -> list[PeerNode]:
    """Every object of the file registered by kind and name; the SLO objects, in order."""
    slos: list[PeerNode] = []
    for i, doc in enumerate(docs):
        root = PeerNode(b, i, (), doc.data)
        if not root.keys(("apiVersion", "kind", "metadata", "spec")):
            continue
        kind = root.text("kind", required=True)
        if kind is not None and kind not in KINDS:
            same = [k for k in KINDS if k.lower() == kind.lower()]
            hint = f", did you mean {same[0]!r}?" if same else suggest(kind, KINDS)
            root.problem(f"unknown kind {kind!r}{hint}", "kind")
            continue
        meta = root.get("metadata")
        if not root.required("metadata") or not meta.keys(
            ("name", "displayName", "labels", "annotations")
        ):
            continue
        name = meta.text("name", required=True)
        if kind is None or name is None:
            continue
        if kind != "SLO":
            for where, key in ((meta, "displayName"), (root.get("spec"), "description")):
                if where.has(key):
                    where.notice(f"{key} is not used by sloguard", key)
        if objects.add(kind, name, root) is not None:
            meta.problem(f"another {kind} is named {name!r} in this file", "name")
        if kind == "SLO":
            slos.append(root)
    return slos


def translate(docs: Sequence[YamlDoc]) -> Translation:
    """The sloguard/v1 equivalent of the OpenSLO documents of one file."""
    b = TranslationBuilder("OpenSLO")
    objects = Objects()
    slos = _index(docs, b, objects)
    if not slos:
        b.problem((0, ()), "no SLO object in this file: sloguard needs at least one kind: SLO")
    b.put(("slos",), [], (0, ()))
    i = 0
    for root in slos:
        i = _slo(root, objects, i)
    for kind, name, node in objects.all():
        if kind == "DataSource":
            node.notice(
                "sloguard queries the Prometheus of its prometheus.url setting; "
                "connectionDetails are not used",
                "spec",
            )
        if kind in ("SLO", "DataSource") or (kind, name) in objects.used:
            continue
        if kind == "Service":
            node.notice(f"Service {name!r} is not used by any SLO of this file")
        else:
            node.notice(f"{kind} {name!r} is not used by any SLO of this file")
    out = b.build()  # an object several SLOs reference is read, and found wrong, once per SLO
    once = dict.fromkeys
    return replace(out, problems=tuple(once(out.problems)), notices=tuple(once(out.notices)))
