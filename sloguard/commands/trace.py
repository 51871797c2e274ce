"""``sloguard trace list|show|diff|mermaid|replay``: the debugging tools over stored traces.

Reads the trace store file directly (``--store``, default ``<data-dir>/traces.sqlite``); every
action takes ``--json``. Unknown ids and a missing store are problems (exit status 1).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sloguard.commands import Command
from sloguard.tracestore import STATUSES, TraceStore


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default="data", help="daemon data directory (default: data)")
    parser.add_argument(
        "--store", default=None, help="trace store file (default: <data-dir>/traces.sqlite)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(title="actions", metavar="ACTION", dest="action")
    actions.required = True
    ls = actions.add_parser("list", help="stored traces, newest first")
    ls.add_argument("--agent", help="only traces where this agent ran")
    ls.add_argument("--status", choices=STATUSES, help="only ok or failed traces")
    ls.add_argument("--since", type=float, help="started at or after (unix seconds)")
    ls.add_argument("--until", type=float, help="started before (unix seconds)")
    ls.add_argument("--limit", type=int, default=50, help="at most this many (default: 50)")
    show = actions.add_parser("show", help="a trace as a text tree, with its anomalies")
    show.add_argument("trace_id")
    diff = actions.add_parser(
        "diff", help="compare two runs (without B: the most similar successful run)"
    )
    diff.add_argument("a", metavar="A")
    diff.add_argument("b", metavar="B", nargs="?")
    mermaid = actions.add_parser("mermaid", help="a trace as a Mermaid sequence diagram")
    mermaid.add_argument("trace_id")
    rep = actions.add_parser("replay", help="a trace's events with the state after each step")
    rep.add_argument("trace_id")
    rep.add_argument("--stop-before", metavar="AGENT", help="stop before this agent is invoked")
    for p in (ls, show, diff, mermaid, rep):
        _common(p)


def _open(args: argparse.Namespace) -> TraceStore | None:
    path = Path(args.store) if args.store else Path(args.data_dir) / "traces.sqlite"
    if not path.is_file():
        print(f"sloguard trace: no trace store at {path}", file=sys.stderr)
        return None
    return TraceStore(path)


def _missing(trace_id: str) -> int:
    print(f"sloguard trace: no stored trace with id {trace_id!r}", file=sys.stderr)
    return 1


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _list(store: TraceStore, args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    if not 1 <= args.limit <= 1000:
        print("sloguard trace list: --limit must be from 1 to 1000", file=sys.stderr)
        return 1
    found = store.list(
        agent=args.agent, status=args.status, since=args.since, until=args.until, limit=args.limit
    )
    if args.json:
        _print_json([s.as_dict() for s in found])
        return 0
    table = Table(title=f"{len(found)} traces")
    for col in ("trace", "started (UTC)", "agent", "status", "steps", "cost"):
        table.add_column(col)
    for s in found:
        color = "green" if s.status == "ok" else "red"
        table.add_row(
            s.trace_id,
            _when(s.started_at),
            s.agent or "-",
            f"[{color}]{s.status}[/]",
            str(s.steps),
            "-" if s.cost is None else f"${s.cost:.4f}",
        )
    Console().print(table)
    return 0


def _show(store: TraceStore, args: argparse.Namespace) -> int:
    from sloguard.tracesapi import trace_detail

    trace = store.get(args.trace_id)
    if trace is None:
        return _missing(args.trace_id)
    detail = trace_detail(trace)
    if args.json:
        _print_json(detail)
        return 0
    print(detail["tree"])
    for a in detail["anomalies"]:
        print(f"anomaly {a['kind']} ({a['agent']}): {a['message']}")
    return 0


def _diff(store: TraceStore, args: argparse.Namespace) -> int:
    from sloguard.tracesapi import comparison

    try:
        result = comparison(store, args.a, args.b)
    except LookupError as exc:
        print(f"sloguard trace: {exc}", file=sys.stderr)
        return 1
    if args.json:
        _print_json(result)
        return 0
    chosen = " (chosen: most similar successful run)" if result["automatic"] else ""
    print(f"A: {result['workflow_a']}  B: {result['workflow_b']}{chosen}")
    print(f"similarity {result['similarity']:.2f}, {result['divergence_count']} differences")
    for d in result["all_differences"]:
        print(f"  {d['divergence']:<13} A[{d['index_a']}] {_event(d['run_a'])}")
        print(f"  {'':<13} B[{d['index_b']}] {_event(d['run_b'])}")
    return 0


def _event(e: dict[str, Any] | None) -> str:
    if e is None:
        return "-"
    parts = [str(e.get(k)) for k in ("type", "agent", "target") if e.get(k)]
    return " ".join(parts) + (f": {e['error']}" if e.get("error") else "")


def _mermaid(store: TraceStore, args: argparse.Namespace) -> int:
    from sloguard.debug import sequence_diagram

    trace = store.get(args.trace_id)
    if trace is None:
        return _missing(args.trace_id)
    text = sequence_diagram(trace)
    if args.json:
        _print_json({"trace_id": trace.trace_id, "mermaid": text})
    else:
        print(text)
    return 0


def _replay(store: TraceStore, args: argparse.Namespace) -> int:
    from sloguard.debug import replay

    trace = store.get(args.trace_id)
    if trace is None:
        return _missing(args.trace_id)
    result = replay(trace, stop_before=args.stop_before).as_dict()
    if args.json:
        _print_json(result)
        return 0
    for e in result["timeline"]:
        state = f"  state: {', '.join(e['state_after'])}" if e.get("state_after") else ""
        print(f"{_event(e)}{state}")
    stop = result["stopped_before"]
    if stop is not None:
        print(f"stopped before {_event(stop)}")
    elif args.stop_before is not None:
        print(f"{args.stop_before!r} is never invoked: replayed to the end")
    print(f"final state: {json.dumps(result['final_state'], ensure_ascii=False, default=str)}")
    return 0


_ACTIONS = {"list": _list, "show": _show, "diff": _diff, "mermaid": _mermaid, "replay": _replay}


def _trace(args: argparse.Namespace) -> int:
    store = _open(args)
    if store is None:
        return 1
    try:
        return _ACTIONS[args.action](store, args)
    finally:
        store.close()


TRACE = Command(
    name="trace",
    summary="debug stored traces: list, show, diff, mermaid, replay",
    examples=(
        "sloguard trace list --status error --agent writer",
        "sloguard trace show TRACE_ID",
        "sloguard trace diff FAILED_ID            # vs the most similar successful run",
        "sloguard trace replay TRACE_ID --stop-before writer --json",
    ),
    add_arguments=_add_arguments,
    handler=_trace,
)
