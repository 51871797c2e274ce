"""The history bench/scale.py evaluates: raw counters and the rates ``sloguard rules`` records,
for SLOs × agents instances over days, written as TSDB blocks with promtool.

Example::

    shape = Shape(slos=10, agents=100, days=3)
    backfill(shape, at=1_700_000_000, data_dir=Path("data"))   # promtool, per 2 h block

Every SLO ``slo-NNN`` is a ``success_rate`` SLO over ``agent_calls_total{service="svc-NNN"}``
grouped by ``agent_name``; every instance has a success and an error counter sampled every
:data:`STEP` (5 minutes) and the two recorded rates (``slo:sli_bad:rate5m``,
``slo:sli_total:rate5m``) at the same times, exactly what the rate rules compute from those
counters. One instance in four burns (8 % errors against a 99.9 % objective); the others fail
once every 50 steps. Values are closed forms of the step number, so no state is kept and each
2-hour block is written (and backfilled) on its own: promtool re-reads its whole input once per
2 h block it cuts, so one file per block makes the backfill linear in the samples.

Run as ``python bench/scaledata.py DATA_DIR AT SLOS AGENTS DAYS`` (bench/scale.py does, in a
child process, so the evaluating process's RSS is not the generator's).

``python bench/scaledata.py --dense HOURS DATA_DIR AT SLOS AGENTS DAYS`` then adds raw counter
samples every :data:`DENSE_EVERY` seconds (a usual scrape interval) over the history's last
``HOURS`` (:func:`backfill_dense`): the short windows read from raw counters then cost what
they cost in production, where the 5-minute history makes them 20× cheaper. The added samples
lie between the 5-minute ones (which they agree with: the counters grow evenly over a step),
in blocks that overlap the history's; Prometheus merges them when it compacts.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

STEP = 300  # raw samples and records, seconds (= the rate rules' interval)
BLOCK = 7200  # promtool cuts blocks on 2 h boundaries
DENSE_EVERY = 15  # the added samples of --dense, seconds (a usual scrape interval)
BURN_ERRORS = 8  # errors per step of a burning instance (against ~100 calls)
QUIET_EVERY = 50  # a healthy instance fails once every this many steps

__all__ = [
    "DENSE_EVERY",
    "STEP",
    "Shape",
    "backfill",
    "backfill_dense",
    "burning",
    "dense_ranges",
    "slo_name",
]


@dataclass(frozen=True, slots=True)
class Shape:
    """How much history: ``slos`` × ``agents`` instances over ``days`` days."""

    slos: int
    agents: int
    days: float

    @property
    def instances(self) -> int:
        return self.slos * self.agents

    @property
    def steps(self) -> int:
        return int(self.days * 86400) // STEP

    @property
    def samples(self) -> int:
        """Samples written: 2 counters + 2 records per instance and step."""
        return 4 * self.instances * (self.steps + 1)


def slo_name(i: int) -> str:
    return f"slo-{i:03d}"


def burning(i: int, j: int, agents: int) -> bool:
    """One instance in four burns."""
    return (i * agents + j) % 4 == 0


def _calls(i: int, j: int) -> int:
    return 90 + (7 * i + 13 * j) % 20  # successful calls per step


def _errors(i: int, j: int, agents: int, k: int) -> int:
    """Errors up to step ``k`` (cumulative)."""
    return BURN_ERRORS * k if burning(i, j, agents) else (k + j) // QUIET_EVERY


def _lines(shape: Shape, first: int, last: int, start: int) -> Iterator[str]:
    """OpenMetrics lines of steps ``first..last`` (inclusive) of every series."""
    agents = shape.agents
    for i in range(shape.slos):
        svc, slo = f"svc-{i:03d}", slo_name(i)
        for j in range(agents):
            agent = f"agent-{j:03d}"
            ok = _calls(i, j)
            heads = (
                f'agent_calls_total{{agent_name="{agent}",service="{svc}",status="success"}}',
                f'agent_calls_total{{agent_name="{agent}",service="{svc}",status="error"}}',
                f'slo:sli_bad:rate5m{{agent_name="{agent}",sloguard_slo="{slo}"}}',
                f'slo:sli_total:rate5m{{agent_name="{agent}",sloguard_slo="{slo}"}}',
            )
            for k in range(first, last + 1):
                t = start + k * STEP
                yield f"{heads[0]} {ok * k} {t}\n"
            for k in range(first, last + 1):
                yield f"{heads[1]} {_errors(i, j, agents, k)} {start + k * STEP}\n"
            for part in (2, 3):
                for k in range(max(first, 1), last + 1):
                    bad = _errors(i, j, agents, k) - _errors(i, j, agents, k - 1)
                    value = bad if part == 2 else bad + ok
                    yield f"{heads[part]} {value / STEP!r} {start + k * STEP}\n"


def _dense_lines(shape: Shape, first: int, last: int, start: int) -> Iterator[str]:
    """The raw counters between steps ``first`` and ``last`` (exclusive), every
    :data:`DENSE_EVERY` seconds: calls and a burning instance's errors grow evenly over a step,
    a healthy instance's error counts at the step's end (as in :func:`_lines`)."""
    agents, per = shape.agents, STEP // DENSE_EVERY
    for i in range(shape.slos):
        svc = f"svc-{i:03d}"
        for j in range(agents):
            agent, ok, burns = f"agent-{j:03d}", _calls(i, j), burning(i, j, agents)
            head = f'agent_calls_total{{agent_name="{agent}",service="{svc}",status='
            for status in ("success", "error"):
                for k in range(first, last):
                    for f in range(1, per):
                        t = start + k * STEP + f * DENSE_EVERY
                        if status == "success":
                            value = ok * k + ok * f // per
                        elif burns:
                            value = BURN_ERRORS * k + BURN_ERRORS * f // per
                        else:
                            value = _errors(i, j, agents, k)
                        yield f'{head}"{status}"}} {value} {t}\n'


def _block_ranges(shape: Shape, start: int) -> Iterator[tuple[int, int]]:
    """Step ranges (first, last) falling in one 2 h block each."""
    k = 0
    while k <= shape.steps:
        t = start + k * STEP
        end = (t // BLOCK + 1) * BLOCK
        last = min(shape.steps, (end - 1 - start) // STEP)
        yield k, last
        k = last + 1


def _one_block(lines: Iterator[str], name: str, out: Path, tmp: Path) -> int:
    source = tmp / f"block-{name}.om"
    with source.open("w", encoding="utf-8") as f:
        f.writelines(lines)
        f.write("# EOF\n")
    cmd = ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(source), str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    source.unlink()
    if done.returncode != 0:
        raise RuntimeError(f"promtool failed ({done.returncode}): {done.stderr[-2000:]}")
    rows = [r for r in done.stdout.splitlines()[1:] if r.strip()]
    return sum(int(r.split()[4]) for r in rows)


def backfill(shape: Shape, at: int, data_dir: Path, workers: int = 2) -> int:
    """Write the history ending at ``at`` into ``data_dir``; return the samples promtool wrote
    (checked against :attr:`Shape.samples`: promtool silently drops what it cannot take)."""
    start = at - shape.steps * STEP
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="scaledata-") as tmp, ThreadPoolExecutor(workers) as ex:
        jobs = [
            ex.submit(_one_block, _lines(shape, a, b, start), str(a), data_dir, Path(tmp))
            for a, b in _block_ranges(shape, start)
        ]
        written = sum(job.result() for job in jobs)
    want = shape.samples - 2 * shape.instances  # no record at step 0
    if written != want:
        raise RuntimeError(f"promtool wrote {written} of {want} samples")
    return written


def dense_ranges(shape: Shape, start: int, first: int) -> list[tuple[int, int]]:
    """Per 2 h block, the steps ``[a, b)`` after which :func:`_dense_lines` writes samples:
    from the block's first step (or ``first``) up to its last step's successor."""
    ranges = [(max(a, first), b + (b < shape.steps)) for a, b in _block_ranges(shape, start)]
    return [(a, b) for a, b in ranges if a < b]


def backfill_dense(shape: Shape, at: int, data_dir: Path, hours: float, workers: int = 2) -> int:
    """Add raw counter samples every :data:`DENSE_EVERY` seconds over the last ``hours`` of
    the history :func:`backfill` wrote (same ``shape`` and ``at``); return the samples added."""
    start = at - shape.steps * STEP
    first = max(0, shape.steps - int(hours * 3600) // STEP)
    with tempfile.TemporaryDirectory(prefix="scaledata-") as tmp, ThreadPoolExecutor(workers) as ex:
        jobs = [
            ex.submit(_one_block, _dense_lines(shape, a, b, start), str(a), data_dir, Path(tmp))
            for a, b in dense_ranges(shape, start, first)
        ]
        written = sum(job.result() for job in jobs)
    want = 2 * shape.instances * (shape.steps - first) * (STEP // DENSE_EVERY - 1)
    if written != want:
        raise RuntimeError(f"promtool wrote {written} of {want} samples")
    return written


if __name__ == "__main__":
    if sys.argv[1] == "--dense":
        hours, data, at, slos, agents, days = sys.argv[2:8]
        shape = Shape(int(slos), int(agents), float(days))
        print(backfill_dense(shape, int(at), Path(data), float(hours)))
        raise SystemExit(0)
    data, at, slos, agents, days = sys.argv[1:6]
    n = backfill(Shape(int(slos), int(agents), float(days)), int(at), Path(data))
    print(n)
