"""The JSON Schema and ``validate`` agree on calendar periods and time-slice budgeting: the same
documents accepted, the same refused (an unknown time zone only ``validate`` can judge)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from sloguard.slo.loader import check_slo_text
from tests.slo.test_schema import VALIDATOR

BASE: dict[str, Any] = {"name": "x", "objective": 99, "sli": {"kind": "success_rate"}}
GOOD = [
    {"period": {"calendar": "month"}},
    {"period": {"calendar": "week", "time_zone": "Europe/Berlin"}},
    {"period": {"calendar": "quarter", "time_zone": "UTC"}},
    {"budgeting": {"method": "occurrences"}},
    {"budgeting": {"method": "timeslices", "slice": "1m", "slice_objective": 99}},
    {"budgeting": {"method": "timeslices", "slice": "5m", "slice_objective": 100}},
    {"budgeting": {"method": "ratio_timeslices", "slice": "1m"}},
    {"period": {"calendar": "month"}, "budgeting": {"method": "ratio_timeslices", "slice": "1h"}},
]
BAD = [
    {"period": {"calendar": "year"}},
    {"period": {"time_zone": "UTC"}},
    {"period": {"calendar": "month", "start": "2024-01-01"}},
    {"period": {"calendar": "month", "time_zone": 1}},
    {"budgeting": {"slice": "1m"}},
    {"budgeting": {"method": "timeslices", "slice": "1m"}},
    {"budgeting": {"method": "timeslices", "slice_objective": 99}},
    {"budgeting": {"method": "timeslices", "slice": "1m", "slice_objective": 0}},
    {"budgeting": {"method": "timeslices", "slice": "1m", "slice_objective": 101}},
    {"budgeting": {"method": "ratio_timeslices"}},
    {"budgeting": {"method": "ratio_timeslices", "slice": "1m", "slice_objective": 99}},
    {"budgeting": {"method": "occurrences", "slice": "1m"}},
    {"budgeting": {"method": "slices", "slice": "1m"}},
    {"budgeting": {"method": "timeslices", "slice": "soon", "slice_objective": 99}},
    {"budgeting": "timeslices"},
]


def _verdicts(change: dict[str, Any]) -> tuple[bool, bool]:
    doc = {"apiVersion": "sloguard/v1", "slos": [{**BASE, **change}]}
    schema_ok = not list(VALIDATOR.iter_errors(doc))
    check = check_slo_text(yaml.safe_dump(doc), "slos.yaml")
    return schema_ok, not check.problems


@pytest.mark.parametrize("change", GOOD, ids=str)
def test_both_accept(change: dict[str, Any]) -> None:
    assert _verdicts(change) == (True, True)


@pytest.mark.parametrize("change", BAD, ids=str)
def test_both_refuse(change: dict[str, Any]) -> None:
    assert _verdicts(change) == (False, False)


def test_only_validate_knows_the_time_zones() -> None:
    assert _verdicts({"period": {"calendar": "month", "time_zone": "Mars/Olympus"}}) == (
        True,
        False,
    )
