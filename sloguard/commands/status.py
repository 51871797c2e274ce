"""``sloguard status``: every SLO instance, read from a running daemon's API.

A table that fits the terminal (:mod:`sloguard.commands.statusview`), tab-separated lines in a
pipe, the API's JSON with ``--json``; ``--watch`` refreshes it (:mod:`sloguard.commands.terminal`).
The daemon is reached as :mod:`sloguard.commands.daemonclient` says (``--url``, ``--token``).
"""

from __future__ import annotations

import argparse
from typing import Any

from sloguard.commands import Command, CommandFailed, reporting_failures
from sloguard.commands.daemonclient import DaemonClient, add_daemon_arguments
from sloguard.commands.terminal import View, add_watch_arguments, show


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    add_daemon_arguments(parser)
    parser.add_argument("--slo", default=None, metavar="NAME", help="only this SLO")
    parser.add_argument("--json", action="store_true", help="print the API's JSON")
    add_watch_arguments(parser)


def status_view(client: DaemonClient, slo: str | None = None) -> View[list[dict[str, Any]]]:
    """The status listing of the daemon ``client`` reads (only ``slo`` when given)."""
    from sloguard.commands.statusview import status_lines, status_table

    def fetch() -> list[dict[str, Any]]:
        body = client.get_json("/api/v1/slos", {"slo": slo})
        items = body.get("slos") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise CommandFailed(f"{client.url('/api/v1/slos')}: the answer has no 'slos' list")
        return items

    return View(
        fetch=fetch,
        draw=lambda items, width: status_table(items, width, title=f"SLOs at {client.shown_url}"),
        lines=status_lines,
        as_json=lambda items: items,
    )


def _status(args: argparse.Namespace) -> int:
    from rich.console import Console

    view = status_view(DaemonClient.from_args(args), args.slo)
    return show(view, console=Console(), as_json=args.json, watch=args.watch, count=args.count)


STATUS = Command(
    name="status",
    summary="show every SLO: objective, SLI, budget left, burn rates, state",
    examples=(
        "sloguard status",
        "sloguard status --watch 5",
        "sloguard status --url http://127.0.0.1:9464 --json",
    ),
    add_arguments=_add_arguments,
    handler=reporting_failures(_status),
)
