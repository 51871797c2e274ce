"""Measure what deep and long traces cost to ingest, read and compare (issue 13, defect 4).

One parent chain of N steps (agent, tool, agent, tool …, each inside the previous; three agent
names in turn), posted and read through the daemon's app shape in-process (ASGI, a real SQLite
trace store in a temporary directory):

- ``ingest``     ``POST /v1/a2a/traces`` with the chain;
- ``get``        ``GET /api/v1/traces/{id}`` (trace, text tree, anomalies);
- ``mermaid`` / ``svg``  the diagrams;
- ``compare``    ``GET /api/v1/traces/compare?a=&b=`` against a chain whose every third agent
                 differs (the worst case for difflib: repetitive, different all along);
- ``auto``       ``GET /api/v1/traces/compare?a=`` with ``--baselines`` successful chains of
                 ``--baseline-steps`` steps stored; ``auto_x4``: four such requests at once.

The baseline, measured in the same run on the same chain, is the linear work any answer needs:
parsing the posted JSON into a trace and writing it back as JSON (``parse+dump``). Every case is
reported as wall seconds and as a ratio to that baseline; answers as bytes and status codes.
Peak RSS is the process's, after all cases. Exit status is 0 whatever the numbers.

Usage::

    python bench/deeptraces.py                   # 10,000 steps; 40 baselines of 2,500 steps
    python bench/deeptraces.py --steps 2500 --baselines 10 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench.common, this sloguard

import httpx
import orjson
from prometheus_client import CollectorRegistry

from bench.common import machine_info
from sloguard import AgentMetrics, CardinalityGuard, Recorder
from sloguard.ingest.router import ingest_router
from sloguard.sdk.trace import parse_trace
from sloguard.tracestore.store import TraceStore
from sloguard.web.server import create_app
from sloguard.web.tracesapi import traces_router

AGENTS = ("planner", "coder", "reviewer")


def chain(trace_id: str, n: int, agents: tuple[str, ...] = AGENTS) -> dict[str, Any]:
    """A parent chain of ``n`` steps starting five minutes ago (within the ingest's bounds)."""
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    steps = [
        {
            "step_id": f"s{i}",
            "parent_step_id": f"s{i - 1}" if i else None,
            "call_type": "TOOL" if i % 2 else "AGENT",
            "name": "search" if i % 2 else agents[(i // 2) % len(agents)],
            "start_time": (t0 + timedelta(microseconds=i)).isoformat(),
            "latency": n - i,
        }
        for i in range(n)
    ]
    return {"trace_id": trace_id, "steps": steps}


async def _timed(call: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    t = time.perf_counter()
    result = await call()
    return time.perf_counter() - t, result


async def run(steps: int, baselines: int, baseline_steps: int) -> dict[str, Any]:
    """Run every case once; return the figures."""
    registry = CollectorRegistry()
    recorder = Recorder(AgentMetrics(registry=registry), CardinalityGuard())
    store = TraceStore(Path(tempfile.mkdtemp()) / "traces.sqlite")
    routers = [ingest_router(recorder, token=None, traces=store), traces_router(store)]
    app = create_app(registry, routers=routers)
    body = orjson.dumps(chain("deep", steps))
    other = orjson.dumps(chain("other", steps, ("planner", "coder", "tester")))

    t = time.perf_counter()
    orjson.dumps(parse_trace(orjson.loads(body)).as_dict())
    floor = time.perf_counter() - t
    cases: dict[str, dict[str, Any]] = {}

    def note(name: str, seconds: float, statuses: list[int], size: int) -> None:
        cases[name] = {
            "seconds": round(seconds, 3),
            "x_baseline": round(seconds / floor, 1),
            "status": statuses,
            "bytes": size,
        }

    transport = httpx.ASGITransport(app=app)
    json_type = {"content-type": "application/json"}
    async with httpx.AsyncClient(transport=transport, base_url="http://b", timeout=3600) as c:
        s, r = await _timed(lambda: c.post("/v1/a2a/traces", content=body, headers=json_type))
        note("ingest", s, [r.status_code], len(r.content))
        await c.post("/v1/a2a/traces", content=other, headers=json_type)
        for name, path in (
            ("get", "/api/v1/traces/deep"),
            ("mermaid", "/api/v1/traces/deep/mermaid"),
            ("svg", "/api/v1/traces/deep/svg"),
            ("compare", "/api/v1/traces/compare?a=deep&b=other"),
        ):
            s, r = await _timed(lambda path=path: c.get(path))  # type: ignore[misc]
            note(name, s, [r.status_code], len(r.content))
        for i in range(baselines):
            base = orjson.dumps(chain(f"base-{i}", baseline_steps, ("planner", "coder", "x")))
            await c.post("/v1/a2a/traces", content=base, headers=json_type)
        failed = chain("failed", baseline_steps)
        failed["steps"][-1]["error"] = "boom"
        await c.post("/v1/a2a/traces", content=orjson.dumps(failed), headers=json_type)
        auto = "/api/v1/traces/compare?a=failed"
        s, r = await _timed(lambda: c.get(auto))
        note("auto", s, [r.status_code], len(r.content))
        s, rs = await _timed(lambda: asyncio.gather(*(c.get(auto) for _ in range(4))))
        note("auto_x4", s, sorted(x.status_code for x in rs), sum(len(x.content) for x in rs))
    return {
        "steps": steps,
        "posted_bytes": len(body),
        "baselines": baselines,
        "baseline_steps": baseline_steps,
        "baseline_parse_dump_seconds": round(floor, 4),
        "cases": cases,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "machine": machine_info(("fastapi", "httpx", "orjson")),
    }


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run, print a table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--baselines", type=int, default=40)
    parser.add_argument("--baseline-steps", type=int, default=2500)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    out = asyncio.run(run(args.steps, args.baselines, args.baseline_steps))
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(
        f"{out['steps']} steps ({out['posted_bytes']} bytes posted); parse+dump baseline "
        f"{out['baseline_parse_dump_seconds']} s; peak RSS {out['peak_rss_mb']} MB"
    )
    print(f"{'case':<10} {'seconds':>9} {'× baseline':>11} {'bytes':>11}  status")
    for name, c in out["cases"].items():
        print(f"{name:<10} {c['seconds']:>9} {c['x_baseline']:>11} {c['bytes']:>11}  {c['status']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
