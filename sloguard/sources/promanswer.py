"""Prometheus HTTP API answers read strictly (:mod:`sloguard.sources.prometheus` sends the
queries): the JSON body of a successful answer, the counts per instance of a window query, the
SLO names of the recorded-rates detection. Pure.

Every way an answer can be wrong is a :class:`_BadAnswer`, which the source turns into a
:class:`~sloguard.sources.base.QueryError` naming the SLO, the window and the URL; the rules
(NaN, negative counts, a ``total`` without twin) are the source's module docstring.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import orjson

from sloguard.slo.budget import Counts
from sloguard.slo.promql import (
    COVERED,
    FAILED_PART,
    PART_LABEL,
    PASSED_PART,
    SLO_LABEL,
    WINDOW_LABEL,
)
from sloguard.slo.spec import InstanceLabels

__all__ = ["NOISE", "SNIPPET", "parse_counts", "parse_windows", "read_answer", "slo_names"]

#: Relative size of a negative count still taken for float noise (and so read as 0).
NOISE = 1e-9
#: How much of an unexpected (non-JSON) answer body an error message quotes.
SNIPPET = 200


class _BadAnswer(Exception):
    """An answer that cannot be read as what was asked (never leaves :mod:`sloguard.sources`)."""


def slo_names(body: object) -> frozenset[str]:
    """The ``sloguard_slo`` values of a detection query's answer (sources.recorded)."""
    data = body.get("data") if isinstance(body, dict) else None
    result = data.get("result") if isinstance(data, dict) else None
    if not isinstance(result, list):
        raise _BadAnswer("answer without a result list")
    names = [_sample(item)[0].get(SLO_LABEL, "") for item in result]
    if any(type(n) is not str for n in names):
        raise _BadAnswer(f"a {SLO_LABEL} label that is not a string")
    return frozenset(names) - {""}


def read_answer(status: int, content: bytes) -> object:
    """The JSON body of a successful API answer; ``_BadAnswer`` with Prometheus' words if not."""
    try:
        body: Any = orjson.loads(content)
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("status") == "error":
        kind = body.get("errorType") or "error"
        raise _BadAnswer(f"HTTP {status}: {kind}: {body.get('error') or 'no message'}")
    if status >= 300:
        raise _BadAnswer(f"HTTP {status}: {_snippet(content)}")
    if not isinstance(body, dict):
        raise _BadAnswer(f"answer is not a JSON object: {_snippet(content)}")
    if body.get("status") != "success":
        raise _BadAnswer(f"unexpected answer status {body.get('status')!r}")
    return body


def parse_counts(
    body: object, group_by: tuple[str, ...]
) -> tuple[dict[InstanceLabels, Counts], bool]:
    """Counts per instance from a ``window_query`` answer (see the module docstring), and
    whether it had a ``covered`` series (recorded window queries only)."""
    return _counts(_vector(body), group_by)


def parse_windows(
    body: object, group_by: tuple[str, ...], windows: Sequence[float]
) -> dict[float, dict[InstanceLabels, Counts]]:
    """Counts per window and instance from a query for several windows (each window's series
    labelled ``sloguard_window``)."""
    parts: dict[str, list[Any]] = {f"{w:g}": [] for w in windows}
    for item in _vector(body):
        try:
            part = parts[item["metric"][WINDOW_LABEL]]
        except (KeyError, TypeError):
            raise _BadAnswer(
                f"series without a {WINDOW_LABEL} of the windows asked: {item!s:.200}"
            ) from None
        part.append(item)
    return {w: _counts(parts[f"{w:g}"], group_by)[0] for w in windows}


def _vector(body: object) -> list[Any]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise _BadAnswer("answer without a data object")
    if data.get("resultType") != "vector":
        raise _BadAnswer(f"expected a vector result, got {data.get('resultType')!r}")
    result = data.get("result")
    if not isinstance(result, list):
        raise _BadAnswer("vector result is not a list")
    return result


def _counts(
    result: list[Any], group_by: tuple[str, ...]
) -> tuple[dict[InstanceLabels, Counts], bool]:
    parts: dict[str, dict[InstanceLabels, float]] = {"bad": {}, "total": {}, FAILED_PART: {}}
    passed: dict[InstanceLabels, float] = {}  # an outcome query's other outcomes, summed
    covered = False
    order = sorted(group_by)
    isfinite = math.isfinite
    for item in result:  # the hot loop of a cycle: ~100 000 series at 10 000 instances
        labels, value = _sample(item)
        name = labels.get(PART_LABEL)
        if name == COVERED:
            covered = True
            continue
        key = tuple([(g, labels.get(g, "")) for g in order])
        for _, v in key:
            if type(v) is not str:
                raise _BadAnswer(f"malformed vector element: {str(item)[:SNIPPET]}")
        if not isfinite(value):
            raise _BadAnswer(f"{name} of instance {_show(key)} is {value}")
        if name == PASSED_PART:
            passed[key] = passed.get(key, 0.0) + value
            continue
        part = parts.get(name) if type(name) is str else None
        if part is None:
            raise _BadAnswer(
                f"series {labels} has no {PART_LABEL} label of bad, total, failed or passed"
            )
        if key in part:
            raise _BadAnswer(f"two {name} series for instance {_show(key)}")
        part[key] = value
    failed = parts.pop(FAILED_PART)
    if failed or passed:  # an outcome query: bad = failed, total = failed + passed
        if parts["bad"] or parts["total"]:
            raise _BadAnswer(f"{FAILED_PART}/{PASSED_PART} series beside bad/total series")
        for key, bad in failed.items():
            passed[key] = passed.get(key, 0.0) + bad
        parts = {"bad": failed, "total": passed}
    counts: dict[InstanceLabels, Counts] = {}
    bads = parts["bad"]
    for key, raw_total in parts["total"].items():
        raw_bad = bads.get(key, 0.0)
        if raw_total >= 0 and raw_bad >= 0:  # the usual case, without the noise checks
            counts[key] = Counts(bad=raw_bad, total=raw_total)
            continue
        tolerance = NOISE * max(1.0, raw_total)
        total = _not_negative(raw_total, tolerance, "total", key)
        bad = _not_negative(raw_bad, tolerance, "bad", key)
        counts[key] = Counts(bad=bad, total=total)
    return counts, covered


def _sample(item: Any) -> tuple[dict[str, Any], float]:
    """Labels and value of one vector element (the labels' values are checked where read)."""
    try:
        labels, pair = item["metric"], item["value"]
        if type(labels) is dict and type(pair) is list and len(pair) == 2:
            text = pair[1]
            if type(text) is str:
                return labels, float(text)
    except (KeyError, TypeError, ValueError):
        pass
    raise _BadAnswer(f"malformed vector element: {str(item)[:SNIPPET]}")


def _not_negative(value: float, tolerance: float, part: str, key: InstanceLabels) -> float:
    if value >= 0:
        return value
    if -value <= tolerance:
        return 0.0
    raise _BadAnswer(
        f"{part} of instance {_show(key)} is negative ({value:g}): the SLI's bad/good series "
        "are not a subset of its total series"
    )


def _show(key: InstanceLabels) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in key) + "}" if key else "(all)"


def _snippet(content: bytes) -> str:
    """The start of an unexpected answer body, on one line."""
    text = " ".join(content.decode("utf-8", "replace").split())
    return (text[:SNIPPET] + "…" if len(text) > SNIPPET else text) or "(empty body)"
