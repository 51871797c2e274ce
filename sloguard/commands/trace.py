"""``sloguard trace list|show|diff|mermaid|replay|decisions``: debugging over stored traces.

Reads the trace store file directly (``--store``, default ``<data-dir>/traces.sqlite``); every
action takes ``--json``. Unknown ids and a missing store are problems (exit status 1). Names,
ids and texts from traces are shown as text: never read as Rich markup, control characters
replaced (a trace id ``[/]`` or ``\x1b[2J`` neither breaks the table nor the terminal).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sloguard.analysis.views.characters import printable
from sloguard.commands import Command
from sloguard.tracestore.model import STATUSES
from sloguard.tracestore.store import TraceStore


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
    dec = actions.add_parser("decisions", help="a workflow's decision chain, with its anomalies")
    dec.add_argument("workflow_id")
    dec.add_argument(
        "--low-confidence", type=float, default=0.3, help="anomaly below this (default: 0.3)"
    )
    dec.add_argument(
        "--max-tool-calls", type=int, default=20, help="anomaly above this in a turn (default: 20)"
    )
    for p in (ls, show, diff, mermaid, rep, dec):
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


def _text(value: object) -> str:
    """A value from a trace, safe in a Rich table cell: printable, markup escaped."""
    from rich.markup import escape

    return escape(printable(str(value)))


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
            _text(s.trace_id),
            _when(s.started_at),
            _text(s.agent or "-"),
            f"[{color}]{s.status}[/]",
            str(s.steps),
            "-" if s.cost is None else f"${s.cost:.4f}",
        )
    Console().print(table)
    return 0


def _show(store: TraceStore, args: argparse.Namespace) -> int:
    from sloguard.web.tracesapi import trace_detail

    trace = store.get(args.trace_id)
    if trace is None:
        return _missing(args.trace_id)
    detail = trace_detail(trace)
    if args.json:
        _print_json(detail)
        return 0
    print(detail["tree"])
    for a in detail["anomalies"]:
        print(printable(f"anomaly {a['kind']} ({a['agent']}): {a['message']}"))
    return 0


def _diff(store: TraceStore, args: argparse.Namespace) -> int:
    from sloguard.analysis.compare import MAX_ALIGNED
    from sloguard.web.tracesapi import comparison

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
    if result["truncated"]:
        print(f"  … and more: at most {MAX_ALIGNED} differing events of each run are compared")
    return 0


def _event(e: dict[str, Any] | None) -> str:
    if e is None:
        return "-"
    parts = [str(e.get(k)) for k in ("type", "agent", "target") if e.get(k)]
    return printable(" ".join(parts) + (f": {e['error']}" if e.get("error") else ""))


def _mermaid(store: TraceStore, args: argparse.Namespace) -> int:
    from sloguard.analysis.views.mermaid import sequence_diagram

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
    from sloguard.analysis.replay import replay

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


def _decisions(store: TraceStore, args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from sloguard.web.tracesapi import decision_detail

    if not 0 <= args.low_confidence <= 1 or args.max_tool_calls < 0:
        print(
            "sloguard trace decisions: --low-confidence must be in 0..1, --max-tool-calls >= 0",
            file=sys.stderr,
        )
        return 1
    try:
        detail = decision_detail(
            store,
            args.workflow_id,
            low_confidence=args.low_confidence,
            max_tool_calls=args.max_tool_calls,
        )
    except LookupError as exc:
        print(f"sloguard trace: {exc}", file=sys.stderr)
        return 1
    if args.json:
        _print_json(detail)
        return 0
    decisions = detail["decisions"]
    times = [datetime.fromisoformat(d["timestamp"]).astimezone(UTC) for d in decisions]
    days = sorted({t.date().isoformat() for t in times})
    when = days[0] if len(days) == 1 else f"{days[0]} – {days[-1]}"
    title = f"workflow {_text(args.workflow_id)}: {len(decisions)} decisions, {when} UTC"
    table = Table(title=title)
    table.add_column("time" if len(days) == 1 else "time (UTC)", no_wrap=True)
    for col in ("agent", "type", "chosen", "conf."):
        table.add_column(col, no_wrap=col == "conf.")
    table.add_column("options", ratio=1)
    table.add_column("reasoning", ratio=2)
    for t, d in zip(times, decisions, strict=True):
        low = d["confidence"] < args.low_confidence
        options = ", ".join(
            o["name"] if o["score"] is None else f"{o['name']} ({o['score']:g})"
            for o in d["options_considered"]
        )
        table.add_row(
            t.strftime("%H:%M:%S" if len(days) == 1 else "%Y-%m-%d %H:%M:%S"),
            _text(d["agent_id"]),
            _text(d["decision_type"]),
            _text(d["chosen_option"]),
            f"[red]{d['confidence']:.2f}[/]" if low else f"{d['confidence']:.2f}",
            _text(options or "-"),
            _text(d["reasoning"] or "-"),
        )
    Console().print(table)
    for a in detail["anomalies"]:
        print(printable(f"anomaly {a['kind']} ({a['agent']}): {a['message']}"))
    return 0


_ACTIONS = {
    "list": _list,
    "show": _show,
    "diff": _diff,
    "mermaid": _mermaid,
    "replay": _replay,
    "decisions": _decisions,
}


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
    summary="debug stored traces: list, show, diff, mermaid, replay, decisions",
    examples=(
        "sloguard trace list --status error --agent writer",
        "sloguard trace show TRACE_ID",
        "sloguard trace diff FAILED_ID            # vs the most similar successful run",
        "sloguard trace replay TRACE_ID --stop-before writer --json",
        "sloguard trace decisions WORKFLOW_ID     # decision chain and its anomalies",
    ),
    add_arguments=_add_arguments,
    handler=_trace,
)
