"""OpenSLO alert policies and burn-rate conditions → the tiers of a sloguard inline policy. Pure.

An SLO's ``alertPolicies`` (inline ``kind: AlertPolicy`` objects or ``alertPolicyRef``) each
hold conditions (inline ``kind: AlertCondition`` or ``conditionRef``). Each ``burnrate``
condition becomes one tier:

- ``threshold`` → the tier's factor (``burn_rate``): OpenSLO's condition fires when the burn
  rate is above it (``op: gt``; ``gte`` is read as ``gt``; ``lt``/``lte`` would fire while the
  SLO is met and is a problem);
- ``lookbackWindow`` → the long window: the burn rate is measured over it;
- ``alertAfter`` → the short window: OpenSLO fires once the condition has held for
  ``alertAfter``; sloguard requires the burn rate over the last ``alertAfter`` to be above the
  factor too, which holds when the burning lasted that long and also ends the alert soon after
  the burning stops (the SRE workbook's multiwindow alert). Without ``alertAfter`` the short
  window is sloguard's default, a twelfth of the long window (notice);
- ``severity`` → ``critical`` (page, sev1, high, ...) or ``warning`` (ticket, sev2, low, ...).

Notification targets are sloguard's routing file's business (notice); an SLO without alert
policies gets sloguard's default policy (notice).

Example::

    tiers = alert_tiers(spec, objects)   # None (problems recorded) | [] | [[(key, value, origin)]]
"""

from __future__ import annotations

from typing import Any

from sloguard.slo.peers.base import Origin
from sloguard.slo.peers.openslonode import Objects, PeerNode, shorthand
from sloguard.yamldoc import show

__all__ = ["SEVERITIES", "TierFields", "alert_tiers"]

#: One tier's fields (``severity``, ``long_window``, ...) with their origins.
TierFields = list[tuple[str, Any, Origin]]

#: OpenSLO severities (free text) → sloguard's.
SEVERITIES = {
    **dict.fromkeys(
        ("critical", "page", "pager", "high", "urgent", "emergency", "error",
         "sev0", "sev1", "sev-0", "sev-1", "p0", "p1"),
        "critical",
    ),
    **dict.fromkeys(
        ("warning", "warn", "ticket", "medium", "low", "info",
         "sev2", "sev3", "sev4", "sev-2", "sev-3", "sev-4", "p2", "p3", "p4"),
        "warning",
    ),
}  # fmt: skip

_POLICY_KEYS = (
    "description", "alertWhenNoData", "alertWhenResolved", "alertWhenBreaching", "conditions",
    "notificationTargets",
)  # fmt: skip
_OBJECT_KEYS = ("kind", "metadata", "spec")
_METADATA_KEYS = ("name", "displayName", "labels", "annotations")


def _inline(node: PeerNode, kind: str, ref_key: str, objects: Objects) -> PeerNode | None:
    """The spec of an inline object of ``kind``, or of the one ``ref_key`` names."""
    if isinstance(node.data, dict) and ref_key in node.data:
        node.keys((ref_key, "operator"))
        if node.has("operator"):
            node.notice("operator is not used (one condition per policy)", "operator")
        found = objects.resolve(node.get(ref_key), kind)
        return found.get("spec") if found is not None else None
    if not node.keys(_OBJECT_KEYS, f" (an inline {kind} or {ref_key})"):
        return None
    if node.data.get("kind") != kind:
        node.problem(f"must be kind: {kind} (got {show(node.data.get('kind'))})", "kind")
        return None
    if node.has("metadata"):
        node.get("metadata").keys(_METADATA_KEYS)
    return node.get("spec") if node.required("spec") else None


def _severity(spec: PeerNode) -> str | None:
    text = spec.text("severity", required=True)
    if text is None:
        return None
    severity = SEVERITIES.get(text.strip().lower())
    if severity is None:
        spec.problem(
            f"unknown severity {text!r}: sloguard alerts are critical (page) or warning "
            "(ticket); write severity: critical or severity: warning",
            "severity",
        )
    return severity


def _condition(spec: PeerNode) -> TierFields | None:
    """One AlertCondition spec → one tier's fields."""
    if not spec.keys(("description", "severity", "condition")):
        return None
    severity = _severity(spec)
    cond = spec.get("condition")
    if not spec.required("condition") or not cond.keys(
        ("kind", "op", "threshold", "lookbackWindow", "alertAfter")
    ):
        return None
    kind = cond.text("kind") or "burnrate"
    if kind != "burnrate":
        cond.problem(
            f"cannot be represented: condition kind {kind!r}; write kind: burnrate", "kind"
        )
        return None
    op = cond.text("op", required=True)
    if op in ("lt", "lte"):
        cond.problem(
            f"cannot be represented: op {op} alerts while the burn rate is below the threshold, "
            "that is while the SLO is met; write op: gt",
            "op",
        )
        op = None
    elif op is not None and op not in ("gt", "gte"):
        cond.problem(f"unknown op {op!r} (allowed: gt, gte, lt, lte)", "op")
        op = None
    elif op == "gte":
        cond.notice("op gte is read as gt (a tier fires above its burn rate)", "op")
    threshold = cond.number("threshold", required=True)
    long = shorthand(cond, "lookbackWindow", required=True)
    short = shorthand(cond, "alertAfter")
    if short is None and cond.data.get("alertAfter") is None and long is not None:
        cond.notice(
            f"no alertAfter: the short window is sloguard's default, a twelfth of {long}",
            "lookbackWindow",
        )
    if None in (severity, op, threshold, long):
        return None
    fields: TierFields = [
        ("severity", severity, spec.at("severity")),
        ("long_window", long, cond.at("lookbackWindow")),
        ("burn_rate", threshold, cond.at("threshold")),
    ]
    if short is not None:
        fields.append(("short_window", short, cond.at("alertAfter")))
    return fields


def _targets(spec: PeerNode, objects: Objects) -> None:
    for item in spec.items("notificationTargets"):
        target = _inline(item, "AlertNotificationTarget", "targetRef", objects)
        ours = item.has("targetRef") and item.data["targetRef"] == "sloguard"  # opensloout's
        if target is not None and target.keys(("target", "description")) and not ours:
            item.notice(
                "notification targets are not used: sloguard routes alerts with its routing "
                "file (match on the SLO's labels)"
            )


def _policy(spec: PeerNode, objects: Objects) -> list[TierFields] | None:
    if not spec.keys(_POLICY_KEYS):
        return None
    _targets(spec, objects)
    if spec.flag("alertWhenNoData"):
        spec.notice(
            "sloguard shows missing data as the no_data state and does not page on it",
            "alertWhenNoData",
        )
    if spec.flag("alertWhenResolved"):
        spec.notice("resolutions are sent as sloguard's routing file says", "alertWhenResolved")
    if spec.flag("alertWhenBreaching") is False:
        spec.notice("alertWhenBreaching is false: this policy's conditions do not alert")
        return []
    if not spec.required("conditions"):
        return None
    tiers: list[TierFields] = []
    ok = True
    for item in spec.items("conditions"):
        cond = _inline(item, "AlertCondition", "conditionRef", objects)
        tier = _condition(cond) if cond is not None else None
        ok = ok and tier is not None
        if tier is not None:
            tiers.append(tier)
    return tiers if ok else None


def alert_tiers(slo_spec: PeerNode, objects: Objects) -> list[TierFields] | None:
    """Every tier of an SLO's ``alertPolicies``; ``[]`` when it has none (default policy,
    notice); None when any is wrong (problems recorded)."""
    if not slo_spec.has("alertPolicies"):
        slo_spec.notice(
            "no alertPolicies: sloguard's default policy (its four burn-rate tiers) is used"
        )
        return []
    tiers: list[TierFields] = []
    ok = True
    for item in slo_spec.items("alertPolicies"):
        spec = _inline(item, "AlertPolicy", "alertPolicyRef", objects)
        got = _policy(spec, objects) if spec is not None else None
        ok = ok and got is not None
        tiers.extend(got or [])
    if ok and not tiers and slo_spec.has("alertPolicies"):
        slo_spec.problem(
            "no alert policy has a condition that alerts: sloguard needs at least one tier; "
            "remove alertPolicies for sloguard's default policy",
            "alertPolicies",
        )
        return None
    return tiers if ok else None
