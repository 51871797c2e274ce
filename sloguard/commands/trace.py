"""``sloguard trace list|show|diff|mermaid|replay|decisions``: debugging over stored traces.

Reads the trace store file directly (``--store``, default ``<data-dir>/traces.sqlite``), or a
running daemon's API with ``--url`` (and its read token, as ``sloguard status`` does: see
:mod:`sloguard.commands.tracereader`); every action takes ``--json``. Unknown ids and a missing
store are problems (exit status 1, a JSON error object with ``--json``). ``list`` fits the
terminal, prints tab-separated lines in a pipe and refreshes with ``--watch``
(:mod:`sloguard.commands.traceview`); its ``--since`` / ``--until`` take a duration ago
(``1h``), an ISO 8601 date or date and time, or unix seconds. Names,
ids and texts from traces are shown as text: never read as Rich markup, control characters
replaced (a trace id ``[/]`` or ``\x1b[2J`` neither breaks the table nor the terminal).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sloguard.analysis.views.characters import printable
from sloguard.commands import Command, CommandFailed, reporting_failures
from sloguard.commands.daemonclient import DaemonClient, add_daemon_arguments
from sloguard.commands.terminal import View, add_watch_arguments, show
from sloguard.commands.timespec import parse_time
from sloguard.commands.tracereader import ApiReader, StoreReader, TraceReader
from sloguard.tracestore.model import STATUSES
from sloguard.tracestore.store import TraceStore


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default="data", help="daemon data directory (default: data)")
    parser.add_argument(
        "--store", default=None, help="trace store file (default: <data-dir>/traces.sqlite)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    add_daemon_arguments(
        parser,
        url_help="read a running daemon's API at this base URL (http://127.0.0.1:9464) instead "
        "of the store file; basic-auth credentials may be in it",
    )


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(title="actions", metavar="ACTION", dest="action")
    actions.required = True
    ls = actions.add_parser("list", help="stored traces, newest first")
    ls.add_argument("--agent", help="only traces where this agent ran")
    ls.add_argument("--status", choices=STATUSES, help="only ok or failed traces")
    ls.add_argument(
        "--since", metavar="TIME", help="started at or after: 1h (ago), 2026-12-06[T10:00], unix s"
    )
    ls.add_argument("--until", metavar="TIME", help="started before (same forms as --since)")
    ls.add_argument("--limit", type=int, default=50, help="at most this many (default: 50)")
    add_watch_arguments(ls)
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
        "--low-confidence", type=float, default=None, help="anomaly below this (default: 0.3)"
    )
    dec.add_argument(
        "--max-tool-calls",
        type=int,
        default=None,
        help="anomaly above this in a turn (default: 20)",
    )
    for p in (ls, show, diff, mermaid, rep, dec):
        _common(p)


def _open(args: argparse.Namespace) -> TraceReader:
    if args.url is not None:
        if args.store is not None:
            raise CommandFailed("give --url (a daemon) or --store (a file), not both")
        return ApiReader(DaemonClient.from_args(args))
    path = Path(args.store) if args.store else Path(args.data_dir) / "traces.sqlite"
    if not path.is_file():
        raise CommandFailed(f"no trace store at {path} (or read a daemon with --url)")
    return StoreReader(TraceStore(path))


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _text(value: object) -> str:
    """A value from a trace, safe in a Rich table cell: printable, markup escaped."""
    from rich.markup import escape

    return escape(printable(str(value)))


def _list(reader: TraceReader, args: argparse.Namespace) -> int:
    from rich.console import Console

    from sloguard.commands.traceview import trace_lines, trace_table

    if not 1 <= args.limit <= 1000:
        raise CommandFailed("trace list: --limit must be from 1 to 1000")
    now = time.time()
    try:
        since = None if args.since is None else parse_time(args.since, now=now)
        until = None if args.until is None else parse_time(args.until, now=now)
    except ValueError as exc:
        raise CommandFailed(f"trace list: --since/--until: {exc}") from None

    def fetch() -> list[dict[str, Any]]:
        return reader.list(
            agent=args.agent, status=args.status, since=since, until=until, limit=args.limit
        )

    view = View(
        fetch=fetch,
        draw=lambda found, width: trace_table(found, width, now=time.time()),
        lines=trace_lines,
        as_json=lambda found: found,
    )
    return show(view, console=Console(), as_json=args.json, watch=args.watch, count=args.count)


def _show(reader: TraceReader, args: argparse.Namespace) -> int:
    detail = reader.detail(args.trace_id)
    if args.json:
        _print_json(detail)
        return 0
    print(detail["tree"])
    for a in detail["anomalies"]:
        print(printable(f"anomaly {a['kind']} ({a['agent']}): {a['message']}"))
    return 0


def _diff(reader: TraceReader, args: argparse.Namespace) -> int:
    from sloguard.analysis.compare import MAX_ALIGNED

    result = reader.compare(args.a, args.b)
    if args.json:
        _print_json(result)
        return 0
    # A chosen baseline is run A (the good run); a given one is B (see tracesapi.comparison).
    if result["automatic"]:
        note_a, note_b = "  <- baseline: chosen, the most similar successful run", ""
    else:
        note_a, note_b = "", "  <- baseline: given"
    print(printable(f"A: {result['workflow_a']}{note_a}"))
    print(printable(f"B: {result['workflow_b']}{note_b}"))
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


def _mermaid(reader: TraceReader, args: argparse.Namespace) -> int:
    text = reader.mermaid(args.trace_id)
    if args.json:
        _print_json({"trace_id": args.trace_id, "mermaid": text})
    else:
        print(text)
    return 0


def _replay(reader: TraceReader, args: argparse.Namespace) -> int:
    from sloguard.analysis.replay import replay

    result = replay(reader.trace(args.trace_id), stop_before=args.stop_before).as_dict()
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


def _decisions(reader: TraceReader, args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from sloguard.analysis.decisions import LOW_CONFIDENCE

    low = args.low_confidence
    if (low is not None and not 0 <= low <= 1) or (
        args.max_tool_calls is not None and args.max_tool_calls < 0
    ):
        raise CommandFailed(
            "trace decisions: --low-confidence must be in 0..1, --max-tool-calls >= 0"
        )
    detail = reader.decisions(
        args.workflow_id, low_confidence=low, max_tool_calls=args.max_tool_calls
    )
    low = LOW_CONFIDENCE if low is None else low
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
        weak = d["confidence"] < low
        options = ", ".join(
            o["name"] if o["score"] is None else f"{o['name']} ({o['score']:g})"
            for o in d["options_considered"]
        )
        table.add_row(
            t.strftime("%H:%M:%S" if len(days) == 1 else "%Y-%m-%d %H:%M:%S"),
            _text(d["agent_id"]),
            _text(d["decision_type"]),
            _text(d["chosen_option"]),
            f"[red]{d['confidence']:.2f}[/]" if weak else f"{d['confidence']:.2f}",
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
    reader = _open(args)
    try:
        return _ACTIONS[args.action](reader, args)
    finally:
        reader.close()


TRACE = Command(
    name="trace",
    summary="debug stored traces: list, show, diff, mermaid, replay, decisions",
    examples=(
        "sloguard trace list --status error --agent writer --since 1h",
        "sloguard trace list --url http://127.0.0.1:9464 --watch   # a running daemon's traces",
        "sloguard trace show TRACE_ID",
        "sloguard trace diff FAILED_ID            # vs the most similar successful run",
        "sloguard trace replay TRACE_ID --stop-before writer --json",
        "sloguard trace decisions WORKFLOW_ID     # decision chain and its anomalies",
    ),
    add_arguments=_add_arguments,
    handler=reporting_failures(_trace),
)
