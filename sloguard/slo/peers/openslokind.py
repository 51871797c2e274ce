"""OpenSLO queries that are exactly one of sloguard's built-in SLI kinds, recognized. Pure.

:mod:`~sloguard.slo.peers.opensloout` writes a built-in kind as its counter selectors
(``agent_calls_total{status="error"}`` over ``agent_calls_total``); reading them back as that
kind (with its ``selector``) rather than as ``kind: ratio`` keeps what only a built-in kind has:
the embedded source can evaluate it. Recognized, each with exact label matches only:

- an outcome kind: ``bad`` (or ``good``) is the kind's counter with the outcome label set to its
  bad (good) value and otherwise the same matchers as ``total``;
- a bound kind: ``good`` is the histogram's ``_bucket`` with ``le`` and ``total`` its
  ``_count`` with the same other matchers (``le`` becomes the threshold).

Example::

    builtin_kind({"bad": 'agent_calls_total{status="error"}', "total": "agent_calls_total"})
    # (SLIKind.SUCCESS_RATE, {}, None)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sloguard.slo.entry import KIND_LABELS
from sloguard.slo.peers.base import Origin
from sloguard.slo.peers.openslonode import PeerNode
from sloguard.slo.promql import BOUND_KINDS, OUTCOME_KINDS
from sloguard.slo.spec import SLIKind

__all__ = ["builtin_kind", "kind_fields", "parse_selector"]

_SELECTOR = re.compile(r"\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?\s*", re.DOTALL)
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')

#: A recognized kind: the kind, its selector, and its bound (bound kinds) or None.
Builtin = tuple[SLIKind, dict[str, str], float | None]


def parse_selector(text: str) -> tuple[str, dict[str, str]] | None:
    """``metric{a="x",b="y"}`` → (metric, matchers); None unless every matcher is ``=``."""
    m = _SELECTOR.fullmatch(text)
    if m is None:
        return None
    body, labels, at = m[2] or "", {}, 0
    while at < len(body.rstrip()):
        hit = _MATCHER.match(body, at)
        if hit is None or hit.end() == at or hit[1] in labels:
            return None
        labels[hit[1]] = hit[2].replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
        at = hit.end()
    return m[1], labels


def _allowed(kind: SLIKind, selector: Mapping[str, str]) -> bool:
    return set(selector) <= KIND_LABELS[kind]


def _outcome(
    part: str, sel: tuple[str, dict[str, str]], total: tuple[str, dict[str, str]]
) -> Builtin | None:
    for kind, (metric, label, good, bad) in OUTCOME_KINDS.items():
        want = bad if part == "bad" else good
        same = sel[0] == total[0] == metric and label not in total[1]
        if same and sel[1] == {**total[1], label: want} and _allowed(kind, total[1]):
            return kind, dict(total[1]), None
    return None


def _bound(sel: tuple[str, dict[str, str]], total: tuple[str, dict[str, str]]) -> Builtin | None:
    for kind, (histogram, _) in BOUND_KINDS.items():
        if sel[0] != f"{histogram}_bucket" or total[0] != f"{histogram}_count":
            continue
        others = {k: v for k, v in sel[1].items() if k != "le"}
        if "le" in sel[1] and others == total[1] and _allowed(kind, others):
            try:
                return kind, others, float(sel[1]["le"])
            except ValueError:
                return None
    return None


def builtin_kind(queries: Mapping[str, str]) -> Builtin | None:
    """The built-in kind ``queries`` (``good`` or ``bad``, and ``total``) are, or None."""
    total = parse_selector(queries.get("total", ""))
    part = "good" if "good" in queries else "bad"
    sel = parse_selector(queries.get(part, ""))
    if total is None or sel is None:
        return None
    found = _outcome(part, sel, total)
    if found is None and part == "good":
        found = _bound(sel, total)
    return found


def kind_fields(
    obj: PeerNode, fields: list[tuple[str, Any, Origin]]
) -> list[tuple[tuple[str, ...], Any, Origin]]:
    """The SLI fields as paths under the SLO entry; queries that are exactly one of sloguard's
    built-in kinds (:mod:`~sloguard.slo.peers.openslokind`) become that kind, with a notice."""
    out: list[tuple[tuple[str, ...], Any, Origin]] = [
        (("sli", key), value, origin) for key, value, origin in fields
    ]
    queries = {k: v for k, v, _ in fields if k in ("good", "bad", "total")}
    found = builtin_kind(queries) if fields[0][1] == "ratio" else None
    if found is None:
        return out
    kind, selector, bound = found
    kind_origin, total_origin = fields[0][2], fields[-1][2]
    obj.b.notice(total_origin, f"the queries are sloguard's own {kind} SLI: read as kind: {kind}")
    out = [(("sli", "kind"), str(kind), kind_origin)]  # replaces the ratio
    if bound is not None:
        key = "max_cost_usd" if kind is SLIKind.WORKFLOW_COST else "threshold"
        out.append((("sli", key), bound, total_origin))
    out += [(("selector", k), v, total_origin) for k, v in selector.items()]
    return out
