"""``bench/tracestore.py`` runs at a tiny size and reports every part, well-formed.

Timings are whatever the machine gives; only the shape of the output is checked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import tracestore as bench
from sloguard.tracestore.retention import MiB

REPO = Path(__file__).resolve().parents[2]
# a quarter MiB bound: the size-bound part writes three times the bound, the bulk of the run
TINY = bench.Mode(steps=600, query_calls=3, bound_bytes=MiB // 4, name="tiny")


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return bench.run(TINY, tmp_path_factory.mktemp("bench"))


def test_every_part_is_reported(summary: dict[str, Any]) -> None:
    assert set(summary) == {
        "mode", "machine", "insert", "file_bytes", "query_calls", "queries", "prune", "bound",
    }  # fmt: skip
    ins = summary["insert"]
    assert ins["stored_steps"] >= 600
    for key in ("steps_per_s", "traces_per_s", "baseline_steps_per_s", "ratio_median",
                "ratio_sum", "decisions_per_s", "events_per_s"):  # fmt: skip
        assert ins[key] > 0, key
    assert ins["by_fill"][-1]["stored_steps"] == ins["stored_steps"]
    assert [q["query"] for q in summary["queries"]][:3] == [
        "list newest 50",
        "list agent=X 50",
        "list status=error 50",
    ]
    for q in summary["queries"]:
        assert 0 < q["p50_us"] <= q["p99_us"], q
        if not q["query"].startswith("floor"):
            assert "USING" in q["plan"] and "TEMP B-TREE" not in q["plan"], q
    assert [p["case"] for p in summary["prune"]] == [
        "nothing to drop",
        "10 % by age",
        "10 % by steps",
    ]
    assert summary["prune"][0]["traces"] == 0 and summary["prune"][1]["traces"] > 0
    bound = summary["bound"]
    assert bound["max_bytes"] == TINY.bound_bytes
    assert isinstance(bound["within"], bool)
    assert bound["steps_written"] > 0 and bound["prune_passes"] >= 1
    assert [p["steps_written"] for p in bound["series"]] == sorted(
        p["steps_written"] for p in bound["series"]
    )


def test_json_and_text_renderings(summary: dict[str, Any]) -> None:
    assert json.loads(json.dumps(summary)) == summary
    text = bench.render(summary)
    for heading in ("Insert:", "Queries at", "Prune at that size:", "Size bound:"):
        assert heading in text
    assert text.count("\n") > 20


def test_the_command_line_quick_run(tmp_path: Path) -> None:
    # a process of its own: the command configures logging for the whole process
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "tracestore.py"), "--quick", "--json",
         "--dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["mode"] == "quick" and out["insert"]["stored_steps"] >= bench.QUICK.steps
