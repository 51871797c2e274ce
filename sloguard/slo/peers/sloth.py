"""Sloth SLO documents → sloguard/v1. Pure.

Reads Sloth's ``version: prometheus/v1`` spec and its Kubernetes CRD (``apiVersion:
sloth.slok.dev/v1``, ``kind: PrometheusServiceLevel``, the same fields under ``spec:`` in
camelCase: ``errorQuery``, ``pageAlert``, ``sloPlugins``); a file may hold several documents.
How each field translates:

- SLO name: Sloth's id ``<service>-<name>`` (unique across a file holding several services, and
  the ``sloth_id`` Sloth labels its rules with); :func:`sloguard.slo.peers.slothout.to_sloth`
  splits it back.
- ``objective`` (percent) → ``objective``; the period is Sloth's default SLO period, 30 days
  (Sloth's ``--default-slo-period``; the spec has no field for it).
- ``sli.events`` → ``kind: ratio`` with ``bad: error_query`` and ``total: total_query``
  (sloguard reads ``rate(…[{{.window}}])`` as ``increase``, the same ratio, see
  :mod:`sloguard.slo.promqlcheck`). ``sli.plugin``: the common plugins that count one metric's
  errors (:mod:`sloguard.slo.peers.slothplugins`) become their queries, with a notice; others are
  a problem naming the plugin. ``sli.raw`` is a problem: an error ratio has no event counts, and
  sloguard's low-traffic guard (the events a tier needs before one failure cannot page) would keep
  it from ever paging; write ``sli.events`` with the ratio's numerator and denominator.
- Alerting: Sloth's page and ticket alerts are sloguard's critical and warning tiers, with the
  same windows and factors (1h/5m 14.4, 6h/30m 6; 1d/2h 3, 3d/6h 1 = sloguard's default policy
  at 30 days); ``disable`` of one alert keeps only the other's tiers as an inline policy, of both
  is a problem (a sloguard SLO always alerts). Spec and SLO labels become the SLO's ``labels``
  (on its recorded series and alerts, as in Sloth; ``tier`` too), ``alerting`` labels its
  alert labels; per-alert labels and annotations are kept when both alerts carry the same value
  (or the other alert is disabled), a ``severity`` label is replaced by sloguard's (notice), and
  any other per-alert label is a problem (sloguard's alert labels are per SLO). Annotations
  ``runbook`` and ``dashboard`` become sloguard's fields of that name. ``alerting.name`` is
  sloguard's ``alerting.name`` (its burn alerts' name, default ``SLOBurn``; page and ticket are
  one name told apart by ``severity``).
- Rule-generation plugin chains (``slo_plugins``, ``plugins``) are problems: sloguard generates its
  own rules. CRD ``metadata`` labels and annotations (on the generated Kubernetes object) are a
  notice; ``status`` is the controller's and is ignored.

Example::

    translation = translate(parse_yaml_all(text, "slos.sloth.yaml"))
    translation.data["slos"][0]["name"]     # "myservice-requests-availability"
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sloguard.slo.peers.base import Translation, TranslationBuilder
from sloguard.slo.peers.slothplugins import plugin_events
from sloguard.slo.peers.slothread import PeerReader
from sloguard.yamldoc import FieldPath, YamlDoc, show

__all__ = ["ALERT_NAME", "PERIOD", "TIERS", "VERSIONS", "translate"]

VERSIONS: tuple[str, ...] = ("prometheus/v1", "sloth.slok.dev/v1")
CRD_VERSION = "sloth.slok.dev/v1"
CRD_KIND = "PrometheusServiceLevel"
#: Sloth's default SLO period (``--default-slo-period``).
PERIOD = "30d"
#: The alert name sloguard gives burn alerts when the spec names none.
ALERT_NAME = "SLOBurn"
#: Sloth's page (critical) and ticket (warning) tiers at its 30-day period.
TIERS: dict[str, tuple[dict[str, Any], ...]] = {
    "critical": (
        {"severity": "critical", "long_window": "1h", "short_window": "5m", "burn_rate": 14.4},
        {"severity": "critical", "long_window": "6h", "short_window": "30m", "burn_rate": 6},
    ),
    "warning": (
        {"severity": "warning", "long_window": "1d", "short_window": "2h", "burn_rate": 3},
        {"severity": "warning", "long_window": "3d", "short_window": "6h", "burn_rate": 1},
    ),
}
_FIELD_ANNOTATIONS = ("runbook", "dashboard")
_SPEC = ("service", "labels", "slo_plugins", "slos")
_CRD = ("apiVersion", "kind", "metadata", "spec", "status")
_SLO = ("name", "description", "objective", "plugins", "labels", "sli", "alerting")
_ALERTS = (("page_alert", "critical"), ("ticket_alert", "warning"))


def _key(name: str, crd: bool) -> str:
    """A field's name in the spec (snake_case) or the CRD (camelCase)."""
    if not crd:
        return name
    head, *rest = name.split("_")
    return head + "".join(p.capitalize() for p in rest)


def translate(docs: Sequence[YamlDoc]) -> Translation:
    """The sloguard/v1 equivalent of the Sloth documents of one file."""
    b = TranslationBuilder("Sloth")
    count = 0
    for index, doc in enumerate(docs):
        count = _document(PeerReader(b, index, "Sloth"), doc.data, count)
    if count == 0:
        b.put(("slos",), [], (0, ()))
    return b.build()


def _document(r: PeerReader, data: Any, start: int) -> int:
    """Translate one document's SLOs as sloguard SLOs ``start``…; the next free index."""
    crd = isinstance(data, dict) and data.get("apiVersion") == CRD_VERSION
    prefix: FieldPath = ()
    if crd:
        root = r.mapping((), data, _CRD) or {}
        if root.get("kind") != CRD_KIND:
            r.problem(("kind",), f"a Sloth CRD has kind: {CRD_KIND} (got {show(root.get('kind'))})")
        _metadata(r, root.get("metadata"))
        prefix, data = ("spec",), root.get("spec")
        if data is None:
            r.problem(prefix, "required field is missing: the service and its SLOs")
            return start
    keys = [_key(k, crd) for k in _SPEC] + ([] if crd else ["version"])
    spec = r.mapping(prefix, data, keys)
    if spec is None:
        return start
    service = r.string((*prefix, "service"), spec.get("service"), required=True)
    labels = r.labels((*prefix, "labels"), spec.get("labels"))
    common = [((*prefix, "labels", k), k, v) for k, v in labels.items()]
    _plugins(r, (*prefix, _key("slo_plugins", crd)), spec.get(_key("slo_plugins", crd)))
    items = spec.get("slos")
    where = (*prefix, "slos")
    if not isinstance(items, list) or not items:
        r.problem(where, f"must be a non-empty list of SLOs (got {show(items)})")
        return start
    i = start
    for j, item in enumerate(items):
        if _slo(r, (*where, j), item, i, service, common, crd):
            i += 1
    return i


def _metadata(r: PeerReader, value: Any) -> None:
    if not isinstance(value, dict):
        if value is not None:
            r.problem(("metadata",), f"must be a mapping (got {show(value)})")
        return
    for key in ("labels", "annotations"):
        if value.get(key):
            r.notice(
                ("metadata", key),
                f"metadata.{key} label the Kubernetes object Sloth generates; sloguard generates "
                "none, so they are not used (alert labels go in spec.labels or alerting.labels)",
            )


def _plugins(r: PeerReader, path: FieldPath, value: Any) -> None:
    """Rule-generation plugin chains: sloguard generates its own rules."""
    m = r.mapping(path, value, ("overridePrevious", "chain"))
    if not m:
        return
    chain = m.get("chain")
    if chain:
        ids = [p.get("id") for p in chain if isinstance(p, dict)] if isinstance(chain, list) else []
        r.problem(
            (*path, "chain"),
            f"SLO plugins ({', '.join(map(str, ids)) or show(chain)}) cannot be represented: "
            "sloguard generates its own rules and runs no Sloth plugins; remove the chain",
        )
    if r.flag((*path, "overridePrevious"), m.get("overridePrevious")):
        r.problem(
            (*path, "overridePrevious"),
            "overridePrevious cannot be represented: it replaces Sloth's own rule generation, "
            "which sloguard does not use; remove it",
        )


def _slo(
    r: PeerReader,
    src: FieldPath,
    value: Any,
    i: int,
    service: str | None,
    common: list[tuple[FieldPath, str, Any]],
    crd: bool,
) -> bool:
    s = r.mapping(src, value, _SLO)
    if s is None:
        return False
    to: FieldPath = ("slos", i)
    r.b.origin_of(to, r.origin(src))
    name = s.get("name")
    if isinstance(name, str) and service is not None:
        r.put((*to, "name"), f"{service}-{name}", (*src, "name"))
    elif name is not None or service is not None:
        r.put((*to, "name"), name, (*src, "name"))
    for key in ("description", "objective"):
        if key in s:
            r.put((*to, key), s[key], (*src, key))
    r.put((*to, "period"), PERIOD, src)
    _plugins(r, (*src, "plugins"), s.get("plugins"))
    _sli(r, (*src, "sli"), s.get("sli"), to, crd)
    own = [
        ((*src, "labels", k), k, v) for k, v in r.labels((*src, "labels"), s.get("labels")).items()
    ]
    for where, k, v in [*common, *own]:  # Sloth's: on every record and alert of the SLO
        r.put((*to, "labels", k), v, where)
    _alerting(r, (*src, "alerting"), s.get("alerting"), to, [], crd)
    return True


def _sli(r: PeerReader, path: FieldPath, value: Any, to: FieldPath, crd: bool) -> None:
    sli = r.mapping(path, value, ("events", "raw", "plugin"))
    given = [k for k in ("events", "raw", "plugin") if sli and sli.get(k) is not None]
    ok = False
    if sli is not None and len(given) != 1:
        r.problem(
            path,
            "give exactly one of events, raw or plugin"
            + (f" (got {', '.join(given)})" if given else ""),
        )
    elif given == ["events"] and sli is not None:
        ok = _events(r, (*path, "events"), sli["events"], to, crd)
    elif given == ["raw"]:
        r.problem(
            (*path, "raw"),
            "sli.raw cannot be represented: an error ratio has no event counts, and sloguard's "
            "low-traffic guard (the events a tier needs before one failure cannot page) would "
            "keep it from ever paging; write sli.events with the ratio's numerator as "
            "error_query and its denominator as total_query",
        )
    elif given == ["plugin"] and sli is not None:
        ok = _plugin(r, (*path, "plugin"), sli["plugin"], to)
    if not ok:
        # The translation has a problem here already: a valid stand-in keeps the sloguard
        # reader from reporting this SLI a second time (the file is rejected either way).
        r.put((*to, "sli"), {"kind": "success_rate"}, path)


def _events(r: PeerReader, path: FieldPath, value: Any, to: FieldPath, crd: bool) -> bool:
    error, total = _key("error_query", crd), _key("total_query", crd)
    e = r.mapping(path, value, (error, total))
    if e is None:
        return False
    r.put((*to, "sli", "kind"), "ratio", path)
    r.b.origin_of((*to, "sli"), r.origin(path))
    for key, target in ((error, "bad"), (total, "total")):
        if key in e:
            r.put((*to, "sli", target), e[key], (*path, key))
        else:
            r.b.origin_of((*to, "sli", target), r.origin((*path, key)))
    return True


def _plugin(r: PeerReader, path: FieldPath, value: Any, to: FieldPath) -> bool:
    p = r.mapping(path, value, ("id", "options"))
    if p is None:
        return False
    plugin_id = r.string((*path, "id"), p.get("id"), required=True)
    options = r.labels((*path, "options"), p.get("options"))
    if plugin_id is None:
        return False
    events = plugin_events(plugin_id, options)
    if events.problem is not None:
        at = (*path, "options", events.option) if events.option else (*path, "id")
        r.problem(at, events.problem)
        return False
    r.put((*to, "sli"), {"kind": "ratio"}, path)
    r.put((*to, "sli", "bad"), events.error_query, path)
    r.put((*to, "sli", "total"), events.total_query, path)
    r.notice(
        (*path, "id"),
        f"plugin {plugin_id!r} is read as its queries: error {events.error_query}, "
        f"total {events.total_query}",
    )
    return True


def _alerting(
    r: PeerReader,
    path: FieldPath,
    value: Any,
    to: FieldPath,
    labels: list[tuple[FieldPath, str, Any]],
    crd: bool,
) -> None:
    alert_keys = [_key(k, crd) for k, _ in _ALERTS]
    a = r.mapping(path, value, ("name", "labels", "annotations", *alert_keys)) or {}
    name = r.string((*path, "name"), a.get("name"))
    if name is not None:
        r.put((*to, "alerting", "name"), name, (*path, "name"))
    labels = [*labels, *(((*path, "labels", k), k, v) for k, v in _items(r, path, a, "labels"))]
    notes = list(_items(r, path, a, "annotations"))
    annotations = [((*path, "annotations", k), k, v) for k, v in notes]
    alerts = {}
    for key, severity in zip(alert_keys, ("critical", "warning"), strict=True):
        m = r.mapping((*path, key), a.get(key), ("disable", "labels", "annotations")) or {}
        off = r.flag((*path, key, "disable"), m.get("disable"))
        alerts[severity] = (key, bool(off), m)
    _per_alert(r, path, alerts, labels, annotations)
    out = (*to, "alerting")
    r.b.origin_of(out, r.origin(path))
    for where, k, v in labels:
        r.put((*out, "labels", k), v, where)
    for where, k, v in annotations:
        field = (*out, k) if k in _FIELD_ANNOTATIONS else (*out, "annotations", k)
        r.put(field, v, where)
    _policy(r, path, alerts, out)


def _items(r: PeerReader, path: FieldPath, m: dict[str, Any], key: str) -> list[tuple[str, Any]]:
    return list(r.labels((*path, key), m.get(key)).items())


def _per_alert(
    r: PeerReader,
    path: FieldPath,
    alerts: dict[str, tuple[str, bool, dict[str, Any]]],
    labels: list[tuple[FieldPath, str, Any]],
    annotations: list[tuple[FieldPath, str, Any]],
) -> None:
    """Per-alert labels and annotations: kept when per SLO they mean the same."""
    for part, out in (("labels", labels), ("annotations", annotations)):
        seen: dict[str, tuple[str, Any]] = {}
        for severity, (key, off, m) in alerts.items():
            other_key, other_off, other = next(v for s, v in alerts.items() if s != severity)
            for k, v in r.labels((*path, key, part), m.get(part)).items():
                where = (*path, key, part, k)
                if off:
                    continue
                if part == "labels" and k == "severity":
                    if v != severity:
                        r.notice(
                            where,
                            f"sloguard sets severity: {severity} on this alert itself; route on "
                            f"severity={severity} instead of {show(v)}",
                        )
                    continue
                theirs = r.labels((*path, other_key, part), other.get(part))
                if other_off or (k in theirs and theirs[k] == v):
                    if k not in seen:
                        out.append((where, k, v))
                        seen[k] = (key, v)
                    continue
                r.problem(
                    where,
                    f"{part} of one alert cannot be represented: sloguard's alert {part} are "
                    f"per SLO and its alerts differ by severity ({severity} here); move {k!r} "
                    f"to alerting.{part} (both alerts) and route on severity instead",
                )


def _policy(
    r: PeerReader,
    path: FieldPath,
    alerts: dict[str, tuple[str, bool, dict[str, Any]]],
    out: FieldPath,
) -> None:
    kept = [s for s, (_, off, _m) in alerts.items() if not off]
    if len(kept) == 2:
        return  # sloguard's default policy at 30 days is Sloth's page and ticket tiers
    if not kept:
        key = alerts["warning"][0]
        r.problem(
            (*path, key, "disable"),
            "disabling both alerts cannot be represented: a sloguard SLO always alerts; keep "
            "one alert, or route this SLO's alerts to no receiver in sloguard's routing file",
        )
        return
    off_key = alerts["warning" if kept == ["critical"] else "critical"][0]
    r.put((*out, "policy"), [dict(t) for t in TIERS[kept[0]]], (*path, off_key, "disable"))
