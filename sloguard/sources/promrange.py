"""A Prometheus ``query_range`` answer read as one instant answer per time. Pure.

:meth:`~sloguard.sources.prometheus.PrometheusSource.range_counts` sends one ``query_range`` per
window and reads each time's vector exactly like an instant query's answer, so a history's
points and the evaluator's counts follow the same rules.

Example::

    steps = Steps(end=7200.0, step=3600.0, count=2)
    range_form(steps)   # {"start": "3600.000", "end": "7200.000", "step": "3600.000"}
    body = {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"sloguard_part": "total"}, "values": [[3600, "5"], [7200, "9"]]}]}}
    matrix_as_vectors(body, steps)[1]["data"]["result"]
    # [{"metric": {"sloguard_part": "total"}, "value": [7200, "9"]}]
"""

from __future__ import annotations

from typing import Any

from sloguard.sources.base import Steps

__all__ = ["matrix_as_vectors", "range_form"]

#: How much of a malformed element an error message quotes.
SNIPPET = 200


def range_form(steps: Steps) -> dict[str, str]:
    """The ``start``, ``end`` and ``step`` form fields of ``steps``."""
    return {"start": f"{steps.start:.3f}", "end": f"{steps.end:.3f}", "step": f"{steps.step:.3f}"}


def matrix_as_vectors(body: object, steps: Steps) -> list[dict[str, Any]]:
    """One instant-query body per time of ``steps`` (a time with no value: an empty vector).

    Raise ``ValueError`` for an answer that is not a matrix of ``[time, "value"]`` pairs on
    those times.
    """
    data = body.get("data") if isinstance(body, dict) else None
    kind = data.get("resultType") if isinstance(data, dict) else None
    if not isinstance(data, dict) or kind != "matrix":
        raise ValueError(f"expected a matrix result, got {kind!r}")
    result = data.get("result")
    if not isinstance(result, list):
        raise ValueError("matrix result is not a list")
    per_time: list[list[dict[str, Any]]] = [[] for _ in range(steps.count)]
    for item in result:
        labels = item.get("metric") if isinstance(item, dict) else None
        values = item.get("values") if isinstance(item, dict) else None
        if not isinstance(labels, dict) or not isinstance(values, list):
            raise ValueError(f"malformed matrix element: {str(item)[:SNIPPET]}")
        for pair in values:
            if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], int | float)):
                raise ValueError(f"malformed matrix value: {str(pair)[:SNIPPET]}")
            index = round((float(pair[0]) - steps.start) / steps.step)
            if not 0 <= index < steps.count:
                raise ValueError(f"matrix value at {pair[0]} is outside the asked range")
            per_time[index].append({"metric": labels, "value": pair})
    return [{"data": {"resultType": "vector", "result": r}} for r in per_time]
