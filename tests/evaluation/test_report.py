"""The JSON view of one evaluated instance (``GET /api/v1/slos``, ``sloguard status --json``)."""

from __future__ import annotations

from sloguard.durations import DAY
from sloguard.evaluation.evaluator import InstanceResult
from sloguard.evaluation.report import result_dict
from sloguard.slo.budget import Counts, evaluate
from sloguard.slo.spec import SLOInstance
from tests.support.slos import make_slo

SLO = make_slo("avail", group_by=("agent_name",))


def burning() -> InstanceResult:
    windows = {w: Counts(5e3, 1e5) for w in SLO.windows()}
    ev = evaluate(objective=0.999, period=30 * DAY, policy=SLO.alerting.policy, windows=windows)
    return InstanceResult(SLO, SLOInstance.of("avail", {"agent_name": "billing"}), ev, 1.0)


def test_tiers_carry_their_factor_and_the_old_name_as_an_alias() -> None:
    d = result_dict(burning())
    assert (d["instance"], d["severity"]) == ({"agent_name": "billing"}, "critical")
    first = d["tiers"][0]
    assert (first["name"], first["factor"], first["burn_rate_threshold"]) == ("1h/5m", 14.4, 14.4)
    assert first["long_burn"] == 50.0 and first["firing"] is True
    assert [t["factor"] for t in d["tiers"]] == [14.4, 6.0, 3.0, 1.0]


def test_burn_rates_are_keyed_by_window_text() -> None:
    assert list(result_dict(burning())["burn_rates"]) == [
        "5m",
        "30m",
        "1h",
        "2h",
        "6h",
        "1d",
        "3d",
        "30d",
    ]
