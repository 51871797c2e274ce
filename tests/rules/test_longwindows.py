"""promtool tests for SLOs whose windows reach back days (every default 30-day SLO): written,
exact, and passing in promtool (issue 14: ``rules --tests`` used to skip them with a note)."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sloguard.cli import main
from sloguard.durations import DAY, parse_duration
from sloguard.rules.compiler import compile_groups, render, rule_file
from sloguard.rules.promtool import long_step, unit_test_doc
from sloguard.slo.loader import parse_slo_text
from sloguard.slo.spec import SLO
from tests.support.promserver import promtool_binary

MONTH = """\
apiVersion: sloguard/v1
slos:
  - name: month
    objective: 99.5
    period: 30d
    sli: {kind: success_rate}
    selector: {agent_name: checkout}
"""


def month() -> tuple[SLO, ...]:
    return parse_slo_text(MONTH, "slos.yaml", resolution=60.0).slos


def _doc() -> dict[str, Any]:
    models = month()
    doc, _ = asyncio.run(unit_test_doc(models[0], models, ["slos.rules.yaml"]))
    return doc


def test_a_thirty_day_slo_gets_a_test_stepping_five_minutes() -> None:
    (slo,) = month()
    assert long_step([slo]) == 300  # gcd of 5m, 30m, 1h, 2h, 6h, 1d, 3d
    doc = _doc()
    assert doc["evaluation_interval"] == "5m"
    outage, spike, leak = doc["tests"]
    for test in doc["tests"]:
        assert test["interval"] == "5m"
        for series in test["input_series"]:  # three days of baseline in one expansion
            assert series["values"].split()[0].endswith("x864")  # 3d / 5m
    # the leak (twice the slowest tier's error ratio) fires the 3d/6h ticket tier, a day in
    fired = [e for e in leak["promql_expr_test"] if e["exp_samples"]]
    assert any("ratio_rate3d" in e["expr"] for e in fired)
    assert min(parse_duration(e["eval_time"]) for e in fired) > 3 * DAY
    assert any(c.get("exp_alerts") for c in outage["alert_rule_test"])
    assert not any(c.get("exp_alerts") for c in spike["alert_rule_test"])


def test_rules_tests_writes_it_without_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "slos.yaml"
    spec.write_text(MONTH, encoding="utf-8")
    assert main(["rules", str(spec), "-o", str(tmp_path / "out"), "--tests"]) == 0
    _, err = capsys.readouterr()
    assert "no promtool test" not in err
    assert (tmp_path / "out" / "tests" / "month.test.yaml").exists()


@pytest.mark.e2e  # promtool
def test_promtool_passes_the_thirty_day_test(tmp_path: Path) -> None:
    (tmp_path / "slos.rules.yaml").write_text(
        render(rule_file(compile_groups(month()))), encoding="utf-8"
    )
    (tmp_path / "month.test.yaml").write_text(render(_doc()), encoding="utf-8")
    out = subprocess.run(
        [promtool_binary(), "test", "rules", "month.test.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout
