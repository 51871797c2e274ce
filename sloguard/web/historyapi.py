"""``GET /api/v1/slos/{name}/history`` (JSON) and ``…/history/svg`` (the page's chart).

For each instance of one SLO: the error budget remaining at evenly spaced times, the burn rate
of every alert window, and the moments its alerts fired and resolved
(:mod:`sloguard.evaluation.history`, :mod:`sloguard.alerting.history`). Query parameters:

- ``range`` (default: the SLO's period) and ``step`` (default: the range in
  :data:`~sloguard.evaluation.history.DEFAULT_POINTS` points), durations such as ``6h`` or
  ``5m``; at most :data:`~sloguard.evaluation.history.MAX_POINTS` points (400 beyond, saying
  the smallest step that fits);
- any of the SLO's ``group_by`` labels, e.g. ``agent_name=billing``: only those instances
  (another label is a 400). The SVG needs the labels of exactly one instance.

A request asks the source once per window (embedded samples, Prometheus ``query_range``) or,
for other sources, once per window and point; reads are guarded like ``/api/v1/slos``
(:mod:`sloguard.web.auth`). A source that cannot answer is a 503 with its message.

Example::

    GET /api/v1/slos/availability/history?agent_name=billing&range=1d&step=10m
    {"slo": "availability", "range": "1d", "step": "10m", "start": …, "end": …,
     "tiers": [{"severity": "critical", "name": "1h/5m", "factor": 14.4, …}, …],
     "instances": [{"instance": {"agent_name": "billing"}, "summary": "Error budget …",
                    "points": [[1767225600.0, 0.98], …],
                    "burn_rates": {"5m": [[1767225600.0, 0.4], …], …},
                    "alerts": [{"at": …, "kind": "fired", "severity": "critical", …}]}],
     "truncated": false}
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from sloguard.alerting.history import AlertMoment
from sloguard.durations import format_duration, parse_duration
from sloguard.evaluation.history import (
    MAX_INSTANCES,
    HistoryRequestError,
    InstanceHistory,
    plan,
    select,
)
from sloguard.evaluation.historyread import read_histories
from sloguard.slo.spec import SLO, SLOInstance
from sloguard.sources.base import QueryError, SLISource, Steps
from sloguard.web.charts import history_svg, summary

__all__ = ["Moments", "history_router"]

#: ``moments(instance, start, end)``: when its alerts fired and resolved.
Moments = Callable[[SLOInstance, float, float], Sequence[AlertMoment]]
_PARAMS = frozenset({"range", "step"})
_SVG_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


def _num(v: float | None) -> float | None:
    return None if v is None else round(v, 9)


def _duration(request: Request, name: str) -> float | None:
    text = request.query_params.get(name)
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise HTTPException(400, f"query parameter {name}: {exc}") from None


def history_router(
    slos: Callable[[], Sequence[SLO]],
    source: SLISource,
    moments: Moments | None = None,
    *,
    clock: Callable[[], float] = time.time,
) -> APIRouter:
    """The history routes over ``slos()``, read from ``source``; alert moments from
    ``moments`` (None: none shown); ``clock`` gives the end of every history."""
    router = APIRouter(prefix="/api/v1", tags=["slos"])

    async def load(
        name: str, request: Request, limit: int
    ) -> tuple[SLO, Steps, list[InstanceHistory]]:
        slo = next((s for s in slos() if s.name == name), None)
        if slo is None:
            raise HTTPException(404, f"no SLO named {name!r}")
        asked = {k: v for k, v in request.query_params.items() if k not in _PARAMS}
        try:
            labels = select(slo, asked)
            steps = plan(
                slo,
                now=clock(),
                range_=_duration(request, "range"),
                step=_duration(request, "step"),
            )
            found = await read_histories(source, slo, steps, labels, limit=limit)
        except HistoryRequestError as exc:
            raise HTTPException(400, str(exc)) from None
        except QueryError as exc:
            raise HTTPException(503, f"the SLI source cannot answer: {exc}") from None
        return slo, steps, found

    def alerts(h: InstanceHistory) -> Sequence[AlertMoment]:
        return () if moments is None else moments(h.instance, h.times[0], h.times[-1])

    @router.get("/slos/{name}/history")
    async def history(name: str, request: Request) -> dict[str, Any]:
        """Budget remaining, burn rates and alert moments of an SLO's instances over time."""
        slo, steps, found = await load(name, request, MAX_INSTANCES + 1)
        return {
            "slo": slo.name,
            "objective": slo.objective,
            "period": format_duration(slo.period),
            "range": format_duration(steps.end - steps.start),
            "step": format_duration(steps.step),
            "start": steps.start,
            "end": steps.end,
            "tiers": [
                {
                    "severity": t.severity.value,
                    "name": t.name,
                    "factor": t.factor,
                    "long_window": format_duration(t.long_window),
                    "short_window": format_duration(t.short_window),
                }
                for t in slo.alerting.policy.tiers
            ],
            "instances": [_instance(h, alerts(h)) for h in found[:MAX_INSTANCES]],
            "truncated": len(found) > MAX_INSTANCES,
        }

    @router.get("/slos/{name}/history/svg", response_class=Response)
    async def history_chart(name: str, request: Request) -> Response:
        """The chart of one instance's history (SVG)."""
        slo, _, found = await load(name, request, 2)
        if len(found) != 1:
            which = "no instance has" if not found else "several instances have"
            raise HTTPException(
                404 if not found else 400,
                f"{which} these labels; the chart needs exactly one instance: give each of"
                f" {', '.join(slo.group_by)} as a query parameter",
            )
        h = found[0]
        shown = ", ".join(f"{k}={v}" for k, v in h.instance.labels) or "all events"
        title = f"SLO {slo.name} ({shown}): error budget and burn rates"
        svg = history_svg(h, slo.alerting.policy.tiers, alerts(h), title=title)
        return Response(svg, media_type="image/svg+xml", headers=_SVG_HEADERS)

    return router


def _instance(h: InstanceHistory, moments: Sequence[AlertMoment]) -> dict[str, Any]:
    return {
        "instance": h.instance.labels_dict,
        "summary": summary(h, moments),
        "points": [[t, _num(b)] for t, b in zip(h.times, h.budget, strict=True)],
        "burn_rates": {
            format_duration(w): [[t, _num(b)] for t, b in zip(h.times, series, strict=True)]
            for w, series in sorted(h.burn.items())
        },
        "alerts": [asdict(m) for m in moments],
    }
