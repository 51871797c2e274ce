"""``bench/scale.py`` at a tiny size against a real Prometheus: every part is measured and the
numbers hang together (timings are whatever the machine gives; only their shape is checked).

The history is backfilled by bench/scaledata.py (promtool, per 2 h block) in a child process;
Prometheus must be installed (``binary`` fails under ``CI`` when it is not).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench import scale
from bench.scaledata import (
    DENSE_EVERY,
    STEP,
    Shape,
    backfill,
    backfill_dense,
    burning,
    dense_ranges,
)
from tests.support.promserver import promtool_binary, start_prometheus

TINY = Shape(slos=3, agents=4, days=1)


OPTS = scale.Options(cycles=1, settle=0, rule_interval=2, rounds=1, auto_cycles=1)


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    promtool_binary()  # skip, or fail under CI, when Debian's prometheus package is missing
    return scale.run(TINY, OPTS, tmp_path_factory.mktemp("scale"))


@pytest.mark.e2e
def test_the_tiny_scale_run_measures_every_part(result: dict[str, Any]) -> None:
    assert result["instances"] == 12
    assert result["raw_interval_s"] == STEP  # no --dense
    # the history reaches back the timed cycles' span before the day the SLOs look at
    written = replace(TINY, days=TINY.days + scale.span(OPTS) / 86400)
    assert written.days > TINY.days
    assert result["samples"] == written.samples - 2 * TINY.instances
    want_burning = sum(burning(i, j, TINY.agents) for i in range(3) for j in range(4))
    for mode in ("raw", "auto"):
        m = result[mode]
        assert m["instances"] == 12 and m["errors"] == 0
        assert m["burning"] == want_burning
        assert m["cycle_s"] > 0 and m["prometheus_cpu_s"] >= 0
    # raw: one query per SLO (its windows in one batch); auto: that batch, plus the pieces of
    # the 6h and 1d windows of the SLOs whose refresh time fell between the two cycles, plus
    # the 3d and 30d windows the records do not cover (raw again)
    assert result["raw"]["queries"] == 3
    assert 3 + 3 <= result["auto"]["queries"] <= 3 * (1 + 5 + 2)
    # 1 d of records: 3d and 30d are not covered and fall back, the 6h and 1d windows do not.
    assert result["raw"]["fallbacks"] == 0
    assert result["auto"]["fallbacks"] == 3 * 2 * 2  # SLOs × windows × (warm-up + 1 cycle)
    rules = result["rules"]
    assert rules["groups"] == 3 * 2 and rules["round_sum_s"] > 0
    assert result["notify"]["delivered"] == want_burning == result["notify"]["queued"]
    assert 0 < result["rss_mb"] < 1000
    assert set(result["ratios"]) == {
        "auto_vs_raw_cycle",
        "auto_cycle_vs_rules_round",
        "auto_cpu_vs_rules_cpu",
    }
    queries = f"| queries per cycle | 3 | {result['auto']['queries']:g} | — |"
    assert queries in scale.render_result(result)


def test_the_shapes_of_the_documented_runs() -> None:
    assert scale.FULL.instances == 10_000 and scale.FULL.days == 30
    assert scale.QUICK.instances == 1_000
    assert sum(burning(i, j, 100) for i in range(100) for j in range(100)) == 2_500
    assert Path(scale.__file__).with_name("scaledata.py").exists()


def _vector(url: str, query: str, at: int) -> dict[str, float]:
    answer = httpx.post(f"{url}/api/v1/query", data={"query": query, "time": str(at)}).json()
    assert answer["status"] == "success", answer
    return {
        ",".join(f"{k}={v}" for k, v in sorted(item["metric"].items())): float(item["value"][1])
        for item in answer["data"]["result"]
    }


@pytest.mark.e2e
def test_the_dense_tail_lies_between_the_history_samples(tmp_path: Path) -> None:
    """``--dense`` adds 15 s samples over the last hours that agree with the 5-minute ones:
    the counters' increases over an hour are the same, read from 20× the samples."""
    promtool_binary()
    shape, at, data = Shape(slos=2, agents=3, days=0.25), int(time.time()) // STEP * STEP, tmp_path
    backfill(shape, at, data / "data")
    increase = 'increase(agent_calls_total{status="success"}[1h])'
    samples = "count_over_time(agent_calls_total[59m59s])"  # (at - 1h, at] in any version

    def read() -> tuple[dict[str, float], dict[str, float]]:
        with start_prometheus(tmp_path, storage=data / "data") as url:
            return _vector(url, increase, at), _vector(url, samples, at)

    sparse, sparse_counts = read()
    added = backfill_dense(shape, at, data / "data", hours=2)
    dense, dense_counts = read()
    assert added == 2 * shape.instances * 2 * 3600 // STEP * (STEP // DENSE_EVERY - 1)
    assert set(sparse_counts.values()) == {3600 / STEP}  # 12 samples in (at - 1h, at]
    assert set(dense_counts.values()) == {3600 / DENSE_EVERY}  # 240
    assert len(sparse) == shape.instances and sparse.keys() == dense.keys()
    for key, value in sparse.items():
        assert dense[key] == pytest.approx(value, rel=1e-9), key


def test_the_dense_tail_follows_every_step_of_its_hours_once() -> None:
    """Whichever step the dense tail starts at (the last step of a block too), every step from
    it to the end is followed by samples exactly once, none past the history's end."""
    shape = Shape(slos=1, agents=1, days=1)
    start = 1_800_000_000 - shape.steps * STEP
    for first in range(shape.steps + 1):
        steps = [k for a, b in dense_ranges(shape, start, first) for k in range(a, b)]
        assert steps == list(range(first, shape.steps)), first
