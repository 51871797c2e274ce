"""``GET /api/v1/slos``: the JSON status of every SLO instance; ``GET /api/v1/alerts``.

Field aliases kept for one release (``docs/json-aliases.md``): in ``slos[].tiers[]`` the tier's
factor is ``factor`` and still also ``burn_rate_threshold`` (removed in 0.3.0).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, HTTPException, Query

from sloguard.alerting.center import ActiveAlert
from sloguard.evaluation.evaluator import InstanceResult
from sloguard.evaluation.report import result_dict
from sloguard.slo.budget import State

_STATES = [s.value for s in State]


def _flags(r: InstanceResult, alerts: Sequence[ActiveAlert]) -> dict[str, bool]:
    """Whether a firing alert of ``r``'s instance is silenced, and whether one is acknowledged."""
    mine = [
        a
        for a in alerts
        if a.labels.get("slo") == r.slo.name
        and all(a.labels.get(k) == v for k, v in r.labels.items())
    ]
    return {
        "silenced": any(a.silenced_by for a in mine),
        "acknowledged": any(a.acked_by for a in mine),
    }


def slo_router(
    latest: Callable[[], Sequence[InstanceResult]],
    alerts: Callable[[], Sequence[ActiveAlert]] | None = None,
) -> APIRouter:
    """Routes answering from ``latest()`` (the engine's latest results); with ``alerts`` (the
    firing alerts), each instance also says whether its alert is ``silenced`` or
    ``acknowledged``."""
    router = APIRouter(prefix="/api/v1", tags=["slos"])

    @router.get("/slos")
    def list_slos(
        slo: str | None = Query(None, description="only this SLO"),
        state: str | None = Query(None, description=f"only instances in this state: {_STATES}"),
    ) -> dict[str, Any]:
        if state is not None and state not in _STATES:
            raise HTTPException(
                400, f"query parameter state must be one of {_STATES}, got {state!r}"
            )
        firing = alerts() if alerts is not None else ()
        items = [
            {**result_dict(r), **(_flags(r, firing) if alerts is not None else {})}
            for r in latest()
            if (slo is None or r.slo.name == slo) and (state is None or r.evaluation.state == state)
        ]
        if slo is not None and not items and not any(r.slo.name == slo for r in latest()):
            raise HTTPException(404, f"no SLO named {slo!r}")
        return {"slos": items}

    return router


def alerts_router(active: Callable[[], Sequence[ActiveAlert]]) -> APIRouter:
    """``GET /api/v1/alerts``: every firing alert."""
    router = APIRouter(prefix="/api/v1", tags=["alerts"])

    @router.get("/alerts")
    def list_alerts() -> dict[str, Any]:
        return {
            "alerts": [
                {
                    "fingerprint": a.fingerprint,
                    "labels": a.labels,
                    "started_at": a.started_at,
                    "notified": a.notified,
                    "silenced_by": list(a.silenced_by),
                    "acknowledged_by": a.acked_by,
                    "acknowledged_at": a.acked_at,
                }
                for a in active()
            ]
        }

    return router
