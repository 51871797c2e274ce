"""``sloguard simulate`` on the shipped config: table, JSON, and bad scenarios."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.processes import REPO, _env


def simulate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sloguard", "simulate", *args],
        cwd=REPO,
        env=_env({"COLUMNS": "200"}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_json_for_one_slo_and_two_scenarios() -> None:
    out = simulate(
        "config/slos.yaml",
        "--slo",
        "에이전트 가용성",
        "--scenario",
        "outage",
        "--scenario",
        "spike:ratio=0.05,duration=1m",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)
    assert [r["scenario"].split(":")[0] for r in results] == ["outage", "spike"]
    outage, spike = results
    assert outage["slo"] == "에이전트 가용성"
    assert outage["tiers"][0]["detected_after_seconds"] is not None
    assert all(t["detected_after_seconds"] is None for t in spike["tiers"])


def test_table_output() -> None:
    out = simulate("config/slos.yaml", "--slo", "에이전트 가용성", "--scenario", "outage")
    assert out.returncode == 0, out.stderr
    assert "detected after" in out.stdout and "critical" in out.stdout


def test_bad_scenario_and_unknown_slo() -> None:
    out = simulate("config/slos.yaml", "--scenario", "meltdown")
    assert out.returncode == 1
    assert "unknown scenario 'meltdown'" in out.stderr
    out = simulate("config/slos.yaml", "--slo", "nope")
    assert out.returncode == 1
    assert "no SLO named 'nope'" in out.stderr
