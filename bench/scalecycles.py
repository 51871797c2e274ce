"""The auto cycles of ``bench/scale.py`` alone, against a Prometheus already serving a history:
for A/B runs of two versions of the code in one sitting (the machine's speed moves 10–20 %
between runs an hour apart, more than one change is worth).

Start Prometheus on a history written by ``bench/scaledata.py`` once, then alternate the two
checkouts (``git worktree add ../old <commit>``), each measuring its own code::

    prometheus --storage.tsdb.path=DIR --storage.tsdb.retention.time=400d \\
        --web.listen-address=127.0.0.1:19090 --config.file=EMPTY.yml &
    URL=http://127.0.0.1:19090
    .venv/bin/python bench/scalecycles.py $URL AT --cycles 40                 # this checkout
    (cd ../old && ../main/.venv/bin/python bench/scalecycles.py $URL AT --cycles 40)   # the other

Prints the measurement as JSON: cycle times, queries, Prometheus and sloguard CPU per cycle.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scale import measure_cycles, scale_slos
from bench.scaledata import Shape


async def cycles(url: str, at: float, n: int, shape: Shape) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=url, timeout=600.0) as client:
        measured, _ = await measure_cycles("auto", scale_slos(shape), url, at, n, client)
    return measured


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("url", help="the Prometheus serving the history")
    parser.add_argument("at", type=float, help="the history's end (bench/scaledata.py AT)")
    parser.add_argument("--cycles", type=int, default=40, help="timed cycles, 30 s apart")
    parser.add_argument("--slos", type=int, default=100)
    parser.add_argument("--agents", type=int, default=100)
    args = parser.parse_args(argv)
    shape = Shape(args.slos, args.agents, 30)
    print(json.dumps(asyncio.run(cycles(args.url, args.at, args.cycles, shape)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
