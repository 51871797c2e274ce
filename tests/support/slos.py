"""SLO objects for tests, built directly from the frozen models."""

from __future__ import annotations

from collections.abc import Mapping

from sloguard.durations import DAY
from sloguard.slo.budget import default_policy
from sloguard.slo.spec import SLI, SLO, Alerting, SLIKind


def make_slo(
    name: str = "availability",
    *,
    objective: float = 0.999,
    period: float = 30 * DAY,
    kind: SLIKind = SLIKind.SUCCESS_RATE,
    threshold: float | None = None,
    max_cost: float | None = None,
    selector: Mapping[str, str] | None = None,
    group_by: tuple[str, ...] = (),
    min_events: float = 0.0,
    floor: float = 0.0,
) -> SLO:
    return SLO(
        name=name,
        objective=objective,
        period=period,
        sli=SLI(kind, threshold=threshold, max_cost=max_cost),
        alerting=Alerting(policy=default_policy(period, floor=floor)),
        selector=dict(selector or {}),
        group_by=group_by,
        min_events=min_events,
    )
