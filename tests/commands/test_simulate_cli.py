"""``sloguard simulate``: the daemon's evaluation interval by default, and when each alert (SLO
instance × severity) fires and resolves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sloguard.cli import main
from sloguard.commands.simulate import AlertSpan, alert_spans
from sloguard.notify.model import Transition
from sloguard.rules.simulate import AlertOutcome
from sloguard.slo.budget import Severity

SLOS = """\
apiVersion: sloguard/v1
slos:
  - name: agent-availability
    objective: 99.5
    period: 1d
    sli: {kind: success_rate}
    group_by: [agent_name]
"""


@pytest.fixture
def slo_file(tmp_path: Path) -> Path:
    path = tmp_path / "slos.yaml"
    path.write_text(SLOS, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def no_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLOGUARD_CONFIG", raising=False)
    monkeypatch.delenv("SLOGUARD_EVALUATION_INTERVAL", raising=False)


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, object]]:
    assert main(["simulate", *argv, "--scenario", "outage", "--json"]) == 0
    result: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return result


def test_the_interval_is_the_daemons_unless_given(
    slo_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (only,) = run_json(capsys, str(slo_file))
    assert only["interval_seconds"] == 30.0  # the settings' default
    settings = tmp_path / "sloguard.yaml"
    settings.write_text("evaluation_interval: 20\n", encoding="utf-8")
    (only,) = run_json(capsys, str(slo_file), "--config", str(settings))
    assert only["interval_seconds"] == 20.0
    monkeypatch.setenv("SLOGUARD_CONFIG", str(settings))
    (only,) = run_json(capsys, str(slo_file))
    assert only["interval_seconds"] == 20.0
    (only,) = run_json(capsys, str(slo_file), "--interval", "5")
    assert only["interval_seconds"] == 5.0


def test_a_bad_settings_file_is_reported_with_its_line(
    slo_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = tmp_path / "sloguard.yaml"
    settings.write_text("port: 9464\nevaluation_interval: -1\n", encoding="utf-8")
    assert main(["simulate", str(slo_file), "--config", str(settings)]) == 1
    assert capsys.readouterr().err == (
        f"{settings}:2: evaluation_interval: Input should be greater than 0 (got -1)\n"
    )
    assert main(["simulate", str(slo_file), "--config", str(settings), "--json"]) == 1
    error = json.loads(capsys.readouterr().out)
    assert error["problems"] == [
        {
            "file": str(settings),
            "line": 2,
            "field": "evaluation_interval",
            "message": "Input should be greater than 0 (got -1)",
        }
    ]
    assert (
        error["error"]
        == f"{settings}:2: evaluation_interval: Input should be greater than 0 (got -1)"
    )


def test_a_bad_interval_is_named(slo_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", str(slo_file), "--interval", "0"]) == 1
    assert capsys.readouterr().err == (
        "sloguard: --interval must be a positive number of seconds, got 0.0\n"
    )


def test_each_alert_fires_and_resolves_in_the_json_and_the_table(
    slo_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (only,) = run_json(capsys, str(slo_file))
    spans = only["alert_spans"]
    assert isinstance(spans, list) and spans
    assert {(s["alertname"], s["severity"]) for s in spans} >= {("SLOBurn", "critical")}
    for s in spans:
        assert s["resolved_at_seconds"] is None or s["resolved_at_seconds"] > s["fired_at_seconds"]
    monkeypatch.setenv("COLUMNS", "160")
    assert main(["simulate", str(slo_file), "--scenario", "outage"]) == 0
    out = capsys.readouterr().out
    assert "when each alert fires and resolves" in out
    row = next(line for line in out.splitlines() if "critical" in line and "SLOBurn" in line)
    assert "agent_name=sim" in row  # the one simulated instance of the grouped SLO
    flat = " ".join(out.split())  # the title may wrap
    assert "(evaluated every 30s: the daemon's evaluation_interval)" in flat


def outcome(severity: Severity, transition: Transition, at: float) -> AlertOutcome:
    return AlertOutcome("SLOBurn", severity, transition, at)


C, W = Severity.CRITICAL, Severity.WARNING
FIRING, RESOLVED, REPEAT = Transition.FIRING, Transition.RESOLVED, Transition.REPEAT


@pytest.mark.parametrize(
    ("alerts", "spans"),
    [
        ([], []),
        (
            [outcome(C, FIRING, 10), outcome(C, REPEAT, 20), outcome(C, RESOLVED, 60)],
            [AlertSpan("SLOBurn", "critical", 10, 60)],
        ),
        (  # the warning fires when the critical that inhibited it resolves
            [outcome(C, FIRING, 10), outcome(C, RESOLVED, 60), outcome(W, FIRING, 60)],
            [AlertSpan("SLOBurn", "critical", 10, 60), AlertSpan("SLOBurn", "warning", 60, None)],
        ),
        (  # fired twice (a gap resolved it): two spans
            [outcome(W, FIRING, 1), outcome(W, RESOLVED, 2), outcome(W, FIRING, 3)],
            [AlertSpan("SLOBurn", "warning", 1, 2), AlertSpan("SLOBurn", "warning", 3, None)],
        ),
        ([outcome(C, RESOLVED, 5)], []),  # a resolve without a firing is nothing
    ],
)
def test_alert_spans_pair_each_firing_with_its_resolve(
    alerts: list[AlertOutcome], spans: list[AlertSpan]
) -> None:
    assert alert_spans(alerts) == spans
