"""``sloguard simulate --budget FROM:TO``: a calendar-month SLO's budget resets at the month's
start in its time zone, a rolling one does not; wrong dates are named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sloguard.cli import main

SLOS = """\
apiVersion: sloguard/v1
slos:
  - name: monthly
    objective: 99.9
    period: {calendar: month, time_zone: Europe/Berlin}
    sli: {kind: success_rate}
  - name: rolling
    objective: 99.9
    sli: {kind: success_rate}
"""
FEB_1_BERLIN = 1_769_900_400.0  # 2026-01-31T23:00:00Z


@pytest.fixture
def slo_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("SLOGUARD_CONFIG", raising=False)
    path = tmp_path / "slos.yaml"
    path.write_text(SLOS, encoding="utf-8")
    return path


def test_the_json_shows_the_monthly_budget_resetting(
    slo_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["simulate", str(slo_file), "--budget", "2026-01-30:2026-02-02", "--interval", "60"]
    assert main([*args, "--scenario", "outage:duration=30m", "--json"]) == 0
    monthly, rolling = json.loads(capsys.readouterr().out)
    assert (monthly["slo"], monthly["resets"]) == ("monthly", [FEB_1_BERLIN])
    assert rolling["resets"] == []
    after = [p for p in monthly["points"] if p["at"] >= FEB_1_BERLIN]
    before = [p for p in monthly["points"] if p["at"] < FEB_1_BERLIN]
    assert before[-1]["budget_remaining"] < 0  # the outage overspent January
    assert all(p["budget_remaining"] == 1.0 for p in after)  # February starts whole
    assert rolling["points"][-1]["budget_remaining"] < 0  # no reset when rolling


def test_the_table_names_the_reset(slo_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["simulate", str(slo_file), "--budget", "2026-01-30:2026-02-02", "--interval", "60"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "monthly: error budget left, UTC (resets: 2026-01-31 23:00)" in out
    assert "rolling: error budget left, UTC (resets: none)" in out


@pytest.mark.parametrize(
    ("dates", "message"),
    [
        (
            "2026-01-30",
            "--budget takes FROM:TO dates (UTC), e.g. 2026-01-25:2026-02-05; got '2026-01-30'",
        ),
        (
            "2026-02-30:2026-03-01",
            "--budget takes FROM:TO dates (UTC), e.g. "
            "2026-01-25:2026-02-05; day is out of range for month",
        ),
        ("2026-02-02:2026-01-30", "--budget: 2026-02-02:2026-01-30: TO must be after FROM"),
    ],
)
def test_wrong_dates_are_named(
    slo_file: Path, capsys: pytest.CaptureFixture[str], dates: str, message: str
) -> None:
    assert main(["simulate", str(slo_file), "--budget", dates, "--interval", "60"]) != 0
    assert message in capsys.readouterr().err
