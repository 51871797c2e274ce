"""Measure the trace store: insert rate to 1 000 000 steps, query latency there, prune time, and
the file size under a ``max_bytes`` bound while a pruner runs.

Workload: customer-service traces as they arrive at ``/v1/a2a/traces`` (JSON parsed by
``parse_trace``): a supervisor agent that classifies, then hands off to one or two of four
specialist agents; each specialist makes LLM calls (HOST steps) and tool calls; 10-20 steps per
trace; agents carry model, tokens and cost; tool parameters include an ``api_key`` now and then
(redacted on storing); about 8 % of traces have a failing tool, a few a failing agent. Each
trace comes with 2-4 decision records of its workflow (routing, tool selections) and 2 plain
events. Generating the workload is never timed.

1. **Insert.** Batches of 20 traces (one ingest request) go to ``TraceStore.put_traces`` until
   the store holds 1 000 000 steps. Each batch also goes, as the same rows (trace id, start,
   store time, agent, status, steps, cost and the trace's JSON text), through a raw
   ``sqlite3`` ``executemany`` into a bare table (no index, no key; same WAL and
   ``synchronous=NORMAL``) of another file: the floor of writing that much data. Store and
   baseline alternate which goes first; the ratio is the median of the per-batch ratios (and
   of the sums). Every 10th batch goes through ``put`` trace by trace instead (one transaction
   each, as the ingest router does), and is reported apart. Decisions and events of each batch
   go through ``put_decisions`` / ``put_events`` and their own bare-table baselines.
2. **Queries** at 1 000 000 steps: p50 / p99 of each query over many calls with varying
   arguments, with the plan SQLite uses (``EXPLAIN QUERY PLAN``) and, as a floor, a rowid
   lookup in the bare table.
3. **Prune** at 1 000 000 steps: a pass with nothing to drop, a pass dropping the oldest 10 %
   by age (traces, decisions and events), then one dropping another 10 % of the first million
   steps by the steps bound (traces only).
4. **Size bound.** A fresh store with ``max_bytes`` (64 MiB; quick: 2 MiB) and a
   :class:`~sloguard.tracestore.pruner.TracePruner` as the daemon runs it (default 60 s interval,
   woken
   early by the store) takes about three times what fits, with decisions and events; after
   every batch the database file and its write-ahead log are measured.

Exit status is 0 whatever the numbers; this is a measurement.

Usage (from the repository root)::

    .venv/bin/python bench/tracestore.py            # full run, a few minutes
    .venv/bin/python bench/tracestore.py --quick    # smoke run, a few seconds
    .venv/bin/python bench/tracestore.py --json     # machine-readable result on stdout
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine_info as common_machine_info
from sloguard.analysis.decisionrecord import DecisionRecord, Option
from sloguard.logs import configure_logging
from sloguard.sdk.trace import ResponseTrace, parse_trace
from sloguard.tracestore import queries
from sloguard.tracestore.model import summarize
from sloguard.tracestore.pruner import TracePruner
from sloguard.tracestore.retention import MiB
from sloguard.tracestore.store import TraceStore

T0 = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
BATCH = 20
AGENTS = ("supervisor", "billing-agent", "shipping-agent", "research-agent", "writer")
SPECIALISTS = AGENTS[1:]
TOOLS = {
    "billing-agent": ("db_lookup", "refund_api"),
    "shipping-agent": ("track_package", "db_lookup"),
    "research-agent": ("web_search", "web_search", "summarize_page"),
    "writer": ("format_output", "spell_check"),
}
MODELS = (("gpt-4o", 2.5e-6, 1e-5), ("gpt-4o-mini", 1.5e-7, 6e-7))


@dataclass(frozen=True)
class Mode:
    """Sizes of one run."""

    steps: int
    query_calls: int
    bound_bytes: int
    name: str


FULL = Mode(steps=1_000_000, query_calls=300, bound_bytes=64 * MiB, name="full")
QUICK = Mode(steps=6_000, query_calls=20, bound_bytes=2 * MiB, name="quick")


# --- the workload ---------------------------------------------------------------------------------
@dataclass
class Batch:
    """One ingest request's worth: traces, their baseline rows, decisions and events."""

    traces: list[ResponseTrace]
    rows: list[tuple[Any, ...]]
    decisions: list[DecisionRecord]
    events: list[dict[str, Any]]
    steps: int


class Workload:
    """Deterministic traces (seeded), numbered from 0."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.n = 0

    def trace_json(self, i: int) -> tuple[dict[str, Any], list[DecisionRecord]]:
        rng = self.rng
        tid = f"{i:016x}{rng.getrandbits(64):016x}"
        start = T0 + timedelta(seconds=i * 0.5)
        steps: list[dict[str, Any]] = []
        decisions: list[DecisionRecord] = []
        fails_tool = rng.random() < 0.08
        t = [0]  # ms since start

        def step(parent: str | None, kind: str, name: str, ms: int, **extra: Any) -> str:
            sid = f"{rng.getrandbits(64):016x}"
            steps.append(
                {
                    "step_id": sid,
                    "trace_id": tid,
                    "parent_step_id": parent,
                    "call_type": kind,
                    "name": name,
                    "start_time": (start + timedelta(milliseconds=t[0])).isoformat(),
                    "latency": ms,
                    **extra,
                }
            )
            t[0] += ms // 3 + 1
            return sid

        def agent_usage() -> dict[str, Any]:
            model, pin, pout = MODELS[rng.randrange(2)]
            i_tok, o_tok = rng.randrange(300, 3000), rng.randrange(50, 800)
            return {
                "cost": round(i_tok * pin + o_tok * pout, 6),
                "total_tokens": i_tok + o_tok,
                "additional_attributes": {
                    "gen_ai.request.model": model,
                    "gen_ai.usage.input_tokens": i_tok,
                    "gen_ai.usage.output_tokens": o_tok,
                },
            }

        query = f"order {rng.randrange(10**6)}: where is my refund?"
        root = step(None, "AGENT", "supervisor", 900, parameters={"query": query}, **agent_usage())
        step(root, "TOOL", "classify_intent", 40, parameters={"text": query})
        chosen = rng.sample(SPECIALISTS, rng.choice((1, 1, 2)))
        when = start
        decisions.append(
            DecisionRecord(
                "supervisor",
                when,
                "routing",
                chosen[0],
                round(rng.uniform(0.2, 0.99), 2),
                options_considered=tuple(Option(a, round(rng.random(), 2)) for a in SPECIALISTS),
                reasoning=f"the customer asks about {query}; {chosen[0]} handles it",
                workflow_id=tid,
                input_summary=query,
            )
        )
        target = rng.randrange(10, 21)
        for k, name in enumerate(chosen):
            a = step(root, "AGENT", name, 1500, parameters={"task": query}, **agent_usage())
            tools = TOOLS[name]
            while len(steps) < target * (k + 1) // len(chosen) - 1:
                step(a, "HOST", "llm.inference", rng.randrange(100, 900))
                tool = tools[rng.randrange(len(tools))]
                params: dict[str, Any] = {"q": query, "limit": 10}
                if rng.random() < 0.1:
                    params["api_key"] = f"sk-{rng.getrandbits(64):x}"
                step(a, "TOOL", tool, rng.randrange(20, 2000), parameters=params)
                when += timedelta(milliseconds=50)
                decisions.append(
                    DecisionRecord(
                        name, when, "tool_selection", tool, round(rng.uniform(0.5, 1), 2),
                        workflow_id=tid,
                    )
                )  # fmt: skip
        del decisions[4:]  # 2-4 decisions per workflow
        if fails_tool:
            tools_steps = [s for s in steps if s["call_type"] == "TOOL"]
            rng.choice(tools_steps)["error"] = "TimeoutError: upstream timed out after 30s"
            if rng.random() < 0.3:
                steps[0]["error"] = "AgentError: could not complete the request"
        return {"trace_id": tid, "steps": steps}, decisions

    def batch(self, size: int, now: float) -> Batch:
        traces, rows, decisions, events = [], [], [], []
        steps = 0
        for _ in range(size):
            data, ds = self.trace_json(self.n)
            self.n += 1
            trace = parse_trace(data)
            s = summarize(trace)
            traces.append(trace)
            rows.append(
                (
                    s.trace_id,
                    s.started_at,
                    now,
                    s.agent,
                    s.status,
                    s.steps,
                    s.cost,
                    json.dumps(data),
                )
            )
            decisions += ds
            events += [
                {"type": "agent_call", "agent": s.agent, "status": s.status, "trace_id": s.trace_id,
                 "duration_seconds": 1.2, "model": "gpt-4o", "input_tokens": 900},
                {"type": "tool_call", "agent": "billing-agent", "tool": "refund_api",
                 "status": "success", "duration_seconds": 0.3, "trace_id": s.trace_id},
            ]  # fmt: skip
            steps += s.steps
        return Batch(traces, rows, decisions, events, steps)


# --- the baseline: a bare table -------------------------------------------------------------------
class Bare:
    """Raw ``sqlite3``: the same rows into tables without index or key, same pragmas."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(str(path), isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE bare (a, b, c, d, e, f, g, h)")
        self.db.execute("CREATE TABLE bare_decisions (a, b, c, d, e, f, g, h, i)")
        self.db.execute("CREATE TABLE bare_events (a, b, c, d, e)")

    def insert(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        marks = ",".join("?" * len(rows[0]))
        self.db.execute("BEGIN")
        self.db.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        self.db.execute("COMMIT")


def decision_tuples(ds: list[DecisionRecord], now: float) -> list[tuple[Any, ...]]:
    rows = []
    for d in ds:
        options = json.dumps([[o.name, o.score] for o in d.options_considered])
        rows.append(
            (d.timestamp.timestamp(), now, d.workflow_id, d.agent_id, d.decision_type,
             d.chosen_option, d.confidence, options, d.reasoning)
        )  # fmt: skip
    return rows


def event_tuples(es: list[dict[str, Any]], now: float) -> list[tuple[Any, ...]]:
    return [(now, e["type"], e.get("agent"), e.get("trace_id"), json.dumps(e)) for e in es]


def timed(fn: Callable[..., object], *args: Any) -> int:
    """Return the nanoseconds ``fn(*args)`` took."""
    t0 = time.perf_counter_ns()
    fn(*args)
    return time.perf_counter_ns() - t0


def put_each(store: TraceStore, traces: list[ResponseTrace], now: float) -> None:
    """Store traces one ``put`` (one transaction) at a time, as the ingest router does."""
    for t in traces:
        store.put(t, now)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# --- 1. insert ------------------------------------------------------------------------------------
def fill(store: TraceStore, bare: Bare, work: Workload, steps: int) -> dict[str, Any]:
    """Fill ``store`` to ``steps`` steps, timing it against the bare table batch by batch."""
    ratios: list[float] = []
    store_ns = base_ns = 0
    batched_steps = batched_traces = 0
    single = {"ns": 0, "steps": 0, "baseline_ns": 0}
    kinds = {
        "decisions": {"ns": 0, "baseline_ns": 0, "rows": 0},
        "events": {"ns": 0, "baseline_ns": 0, "rows": 0},
    }
    deciles: list[dict[str, float]] = []
    decile_ns = decile_steps = 0
    total = 0
    i = 0
    gc.collect()
    while total < steps:
        now = 1_750_000_000.0 + i
        b = work.batch(BATCH, now)
        if i % 10 == 9:
            t_store = timed(put_each, store, b.traces, now)
            t_base = timed(bare.insert, "bare", b.rows)
            single["ns"] += t_store
            single["baseline_ns"] += t_base
            single["steps"] += b.steps
        else:
            if i % 2:
                t_base = timed(bare.insert, "bare", b.rows)
                t_store = timed(store.put_traces, b.traces, now)
            else:
                t_store = timed(store.put_traces, b.traces, now)
                t_base = timed(bare.insert, "bare", b.rows)
            ratios.append(t_store / t_base)
            store_ns += t_store
            base_ns += t_base
            batched_steps += b.steps
            batched_traces += len(b.traces)
        d = kinds["decisions"]
        d["ns"] += timed(store.put_decisions, b.decisions, now)
        d["baseline_ns"] += timed(bare.insert, "bare_decisions", decision_tuples(b.decisions, now))
        d["rows"] += len(b.decisions)
        e = kinds["events"]
        e["ns"] += timed(store.put_events, b.events, now)
        e["baseline_ns"] += timed(bare.insert, "bare_events", event_tuples(b.events, now))
        e["rows"] += len(b.events)
        total += b.steps
        decile_ns += t_store
        decile_steps += b.steps
        if total * 10 // steps > len(deciles) or total >= steps:
            deciles.append(
                {"stored_steps": total, "steps_per_s": round(decile_steps / decile_ns * 1e9)}
            )
            decile_ns = decile_steps = 0
        i += 1
    return {
        "batch_traces": BATCH,
        "stored_steps": total,
        "stored_traces": work.n,
        "steps_per_s": round(batched_steps / store_ns * 1e9),
        "traces_per_s": round(batched_traces / store_ns * 1e9),
        "baseline_steps_per_s": round(batched_steps / base_ns * 1e9),
        "ratio_median": round(statistics.median(ratios), 2),
        "ratio_sum": round(store_ns / base_ns, 2),
        "single_put_steps_per_s": round(single["steps"] / single["ns"] * 1e9)
        if single["ns"]
        else None,
        "single_put_ratio_sum": round(single["ns"] / single["baseline_ns"], 2)
        if single["ns"]
        else None,
        "by_fill": deciles,
        **{f"{kind}_per_s": round(k["rows"] / k["ns"] * 1e9) for kind, k in kinds.items()},
        **{f"{kind}_ratio_sum": round(k["ns"] / k["baseline_ns"], 2) for kind, k in kinds.items()},
        "decisions": kinds["decisions"]["rows"],
        "events": kinds["events"]["rows"],
    }


# --- 2. queries -----------------------------------------------------------------------------------
def plan(db: sqlite3.Connection, sql: str, args: list[Any]) -> str:
    rows = db.execute("EXPLAIN QUERY PLAN " + sql, args).fetchall()
    return "; ".join(r[3] for r in rows)


def query_latency(store: TraceStore, path: Path, bare: Bare, calls: int) -> list[dict[str, Any]]:
    """p50/p99 of each query over ``calls`` calls with varying arguments."""
    db = sqlite3.connect(str(path))
    ids: list[str] = [
        r[0] for r in db.execute("SELECT trace_id FROM traces ORDER BY random() LIMIT 500")
    ]
    bare_max = bare.db.execute("SELECT MAX(rowid) FROM bare").fetchone()[0]
    rng = random.Random(11)

    def agent(k: int) -> str:
        return AGENTS[k % len(AGENTS)]

    def ident(k: int) -> str:
        return ids[k % len(ids)]

    cases: list[tuple[str, Callable[[int], object], tuple[str, list[Any]] | None]] = [
        (
            "list newest 50",
            lambda k: store.list(limit=50),
            queries.list_traces(agent=None, status=None, since=None, until=None, limit=50),
        ),
        (
            "list agent=X 50",
            lambda k: store.list(agent=agent(k), limit=50),
            queries.list_traces(agent="writer", status=None, since=None, until=None, limit=50),
        ),
        (
            "list status=error 50",
            lambda k: store.list(status="error", limit=50),
            queries.list_traces(agent=None, status="error", since=None, until=None, limit=50),
        ),
        ("summary(id)", lambda k: store.summary(ident(k)), (queries.SUMMARY_BY_ID, ["x"])),
        ("get(id) + parse", lambda k: store.get(ident(k)), (queries.BODY_BY_ID, ["x"])),
        ("failing(agent) 3", lambda k: store.failing(agent(k)), queries.failing("writer", 3)),
        (
            "decisions(workflow)",
            lambda k: store.decisions(workflow_id=ident(k)),
            queries.decisions(
                columns="*", workflow_id="w", agent=None, since_us=None, until_us=None, limit=1000
            ),
        ),
        (
            "decisions(agent) 100",
            lambda k: store.decisions(agent=agent(k), limit=100),
            queries.decisions(
                columns="*", workflow_id=None, agent="a", since_us=None, until_us=None, limit=100
            ),
        ),
        (
            "events(trace_id)",
            lambda k: store.events(trace_id=ident(k)),
            queries.events(type=None, agent=None, trace_id="t", since=None, until=None, limit=1000),
        ),
        (
            "events(type) 50",
            lambda k: store.events(type="tool_call", limit=50),
            queries.events(
                type="tool_call", agent=None, trace_id=None, since=None, until=None, limit=50
            ),
        ),
        (
            "floor: bare rowid lookup",
            lambda k: bare.db.execute(
                "SELECT h FROM bare WHERE rowid = ?", (rng.randrange(1, bare_max + 1),)
            ).fetchone(),
            None,
        ),
    ]
    out = []
    for name, fn, sql in cases:
        for k in range(5):
            fn(k)  # warm-up
        samples = []
        for k in range(calls):
            t0 = time.perf_counter_ns()
            fn(k)
            samples.append((time.perf_counter_ns() - t0) / 1000)
        out.append(
            {
                "query": name,
                "p50_us": round(pct(samples, 50), 1),
                "p99_us": round(pct(samples, 99), 1),
                "plan": plan(db, *sql) if sql else "",
            }
        )
    db.close()
    return out


# --- 3. prune -------------------------------------------------------------------------------------
def prune_times(store: TraceStore, last_now: float) -> list[dict[str, Any]]:
    """Time a pass with nothing to drop, one dropping 10 % by age, one 10 % by steps."""
    out = []

    def run(case: str, now: float) -> None:
        t0 = time.perf_counter_ns()
        r = store.prune(now)
        ms = (time.perf_counter_ns() - t0) / 1e6
        out.append(
            {
                "case": case,
                "ms": round(ms, 1),
                "traces": r.traces,
                "steps": r.steps,
                "decisions": r.decisions,
                "events": r.events,
            }
        )

    run("nothing to drop", last_now)
    stats = store.stats()
    first, last = stats.oldest_stored_at or 0.0, stats.newest_stored_at or 0.0
    cutoff = first + (last - first) * 0.1
    run("10 % by age", cutoff + store.retention.max_age_seconds)  # decisions, events too
    stats = store.stats()
    store.retention = dataclasses.replace(store.retention, max_steps=int(stats.steps * 8 / 9))
    run("10 % by steps", last_now)  # of the first million: traces only
    return out


# --- 4. the size bound ----------------------------------------------------------------------------
def size_bound(directory: Path, max_bytes: int, steps: int) -> dict[str, Any]:
    """Fill a store bounded by ``max_bytes`` with ``steps`` steps while a pruner runs."""
    path = directory / "bounded.sqlite"
    store = TraceStore(path, max_bytes=max_bytes, max_steps=10**9)
    pruner = TracePruner(store, interval=60.0)
    pruner.start()
    work = Workload(seed=3)
    largest = {"db": 0, "wal": 0, "total": 0}
    series: list[dict[str, int]] = []
    written = 0
    try:
        while written < steps:
            now = time.time()  # the pruner's clock: nothing here is old enough to expire
            b = work.batch(BATCH, now)
            store.put_traces(b.traces, now)
            store.put_decisions(b.decisions, now)
            store.put_events(b.events, now)
            written += b.steps
            db, wal = file_size(path), file_size(Path(f"{path}-wal"))
            largest["db"] = max(largest["db"], db)
            largest["wal"] = max(largest["wal"], wal)
            largest["total"] = max(largest["total"], db + wal)
            if written * 12 // steps > len(series):
                series.append({"steps_written": written, "bytes": db + wal})
    finally:
        pruner.stop()
    final = store.file_bytes()
    kept = store.stats().steps
    store.close()
    return {
        "max_bytes": max_bytes,
        "steps_written": written,
        "steps_kept": kept,
        "largest_db": largest["db"],
        "largest_wal": largest["wal"],
        "largest_total": largest["total"],
        "final_total": final,
        "within": largest["total"] <= max_bytes,
        "series": series,
        "prune_passes": pruner.passes,
    }


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


# --- reporting ------------------------------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    """Return what the numbers depend on."""
    return common_machine_info(("orjson",), sqlite=sqlite3.sqlite_version)


def render(s: dict[str, Any]) -> str:
    """Return the summary as plain-text tables."""
    m, ins = s["machine"], s["insert"]
    lines = [
        f"sloguard trace store ({s['mode']}): python {m['python']}, SQLite {m['sqlite']}, "
        f"{m['cpus']} CPUs",
        "",
        f"Insert: {ins['stored_steps']} steps in {ins['stored_traces']} traces, batches of "
        f"{ins['batch_traces']} traces; baseline = raw executemany of the same rows into a bare "
        "table (same run, alternating)",
        f"{'what':<34} {'rate':>14} {'x baseline':>11}",
        f"{'put_traces (steps/s)':<34} {ins['steps_per_s']:>14} {ins['ratio_sum']:>10.2f}x",
        f"{'put_traces (traces/s)':<34} {ins['traces_per_s']:>14} "
        f"{'(median ' + format(ins['ratio_median'], '.2f') + 'x)':>11}",
        f"{'baseline executemany (steps/s)':<34} {ins['baseline_steps_per_s']:>14} {'1.00x':>11}",
        f"{'put, one per trace (steps/s)':<34} {ins['single_put_steps_per_s'] or '':>14} "
        f"{ins['single_put_ratio_sum'] or '':>10}x",
        f"{'put_decisions (records/s)':<34} {ins['decisions_per_s']:>14} "
        f"{ins['decisions_ratio_sum']:>10.2f}x",
        f"{'put_events (events/s)':<34} {ins['events_per_s']:>14} "
        f"{ins['events_ratio_sum']:>10.2f}x",
        "put_traces steps/s as the store fills: "
        + ", ".join(f"{d['stored_steps'] // 1000}k: {d['steps_per_s']}" for d in ins["by_fill"]),
        f"file at {ins['stored_steps']} steps (+{ins['decisions']} decisions, "
        f"{ins['events']} events): {s['file_bytes'] / MiB:.1f} MiB "
        f"({s['file_bytes'] / ins['stored_steps']:.0f} bytes/step all in)",
        "",
        f"Queries at {ins['stored_steps']} steps ({s['query_calls']} calls each):",
        f"{'query':<26} {'p50 us':>9} {'p99 us':>9}  plan",
    ]
    for q in s["queries"]:
        lines.append(f"{q['query']:<26} {q['p50_us']:>9.1f} {q['p99_us']:>9.1f}  {q['plan']}")
    lines += [
        "",
        "Prune at that size:",
        f"{'case':<18} {'ms':>9} {'traces':>8} {'steps':>9} {'decisions':>10} {'events':>8}",
    ]
    for p in s["prune"]:
        lines.append(
            f"{p['case']:<18} {p['ms']:>9.1f} {p['traces']:>8} {p['steps']:>9} "
            f"{p['decisions']:>10} {p['events']:>8}"
        )
    b = s["bound"]
    lines += [
        "",
        f"Size bound: max_bytes {b['max_bytes'] / MiB:.0f} MiB, {b['steps_written']} steps "
        f"written (+ decisions, events), pruner interval 60 s woken by the store, "
        f"{b['prune_passes']} passes",
        f"largest database file {b['largest_db'] / MiB:.2f} MiB, largest log "
        f"{b['largest_wal'] / MiB:.2f} MiB, largest sum {b['largest_total'] / MiB:.2f} MiB, "
        f"at the end {b['final_total'] / MiB:.2f} MiB ({b['steps_kept']} steps kept): "
        + ("WITHIN max_bytes" if b["within"] else "OVER max_bytes"),
        "database + log along the fill (steps written: MiB): "
        + ", ".join(f"{p['steps_written'] // 1000}k: {p['bytes'] / MiB:.1f}" for p in b["series"]),
    ]
    return "\n".join(lines)


def run(mode: Mode, directory: Path) -> dict[str, Any]:
    """Run every part in ``directory``; return the summary."""
    path = directory / "traces.sqlite"
    store = TraceStore(path, max_steps=10**9, max_bytes=1 << 40)
    bare = Bare(directory / "bare.sqlite")
    work = Workload()
    insert = fill(store, bare, work, mode.steps)
    file_bytes = store.file_bytes()
    queried = query_latency(store, path, bare, mode.query_calls)
    pruned = prune_times(store, 1_750_000_000.0 + work.n)
    bytes_per_step = store.used_bytes() / insert["stored_steps"]  # decisions, events included
    store.close()
    bound = size_bound(directory, mode.bound_bytes, int(3 * mode.bound_bytes / bytes_per_step))
    return {
        "mode": mode.name,
        "machine": machine_info(),
        "insert": insert,
        "file_bytes": file_bytes,
        "query_calls": mode.query_calls,
        "queries": queried,
        "prune": pruned,
        "bound": bound,
    }


def _directory(given: str | None) -> Iterator[Path]:
    if given:
        Path(given).mkdir(parents=True, exist_ok=True)
        yield Path(given)
        return
    with tempfile.TemporaryDirectory(prefix="sloguard-bench-") as d:
        yield Path(d)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print tables (or JSON); always return 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smoke run, a few seconds")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--dir", help="directory for the database files (default: a temp dir)")
    args = parser.parse_args(argv)
    mode = QUICK if args.quick else FULL
    configure_logging("warning", "console")  # the pruner's notes would interleave with stdout
    for directory in _directory(args.dir):
        summary = run(mode, directory)
        print(json.dumps(summary, indent=2) if args.json else render(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
