"""The shared trace builders of ``tests/support/traces.py`` produce what the other tests assume."""

from __future__ import annotations

from datetime import timedelta

from sloguard import Telemetry
from tests.support.traces import T0, customer_service, financial_risk, seed_workflow


def test_seed_workflow_is_the_seeds_picture() -> None:
    trace = seed_workflow()
    by = {s.step_id: s for s in trace.steps}
    assert by["root"].latency == 1250
    assert sum(by[k].latency or 0 for k in ("sup", "res", "wri")) == 1250
    assert by["res-web"].end_time == T0 + timedelta(milliseconds=750)
    assert trace.as_dict()["steps"][1]["additional_attributes"] == {"intent": "research"}


def test_sdk_seeds_nest_under_their_main_step(telemetry: Telemetry) -> None:
    cs = customer_service(telemetry)
    main = cs.steps[-1]
    assert {s.parent_step_id for s in cs.steps[:3]} == {main.step_id}
    risk = financial_risk(telemetry)
    assert [s.parent_step_id for s in risk.steps] == [risk.steps[2].step_id] * 2 + [None]
