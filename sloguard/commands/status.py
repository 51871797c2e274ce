"""``sloguard status``: a table of every SLO instance, read from a running daemon's API."""

from __future__ import annotations

import argparse
import json
import os
import sys

from sloguard.commands import Command


def _default_url() -> str:
    port = os.environ.get("SLOGUARD_PORT", "9464")
    return f"http://127.0.0.1:{port}"


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", default=None, help="daemon base URL (default: http://127.0.0.1:$SLOGUARD_PORT)"
    )
    parser.add_argument("--json", action="store_true", help="print the API's JSON")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds (default: 5)")


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.3%}"


def _status(args: argparse.Namespace) -> int:
    import httpx
    from rich.console import Console
    from rich.table import Table

    url = (args.url or _default_url()).rstrip("/") + "/api/v1/slos"
    try:
        resp = httpx.get(url, timeout=args.timeout)
        resp.raise_for_status()
        items = resp.json()["slos"]
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        print(f"sloguard status: cannot read {url}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(items, indent=2))
        return 0
    table = Table(title=f"SLOs at {url}")
    for col in ("SLO", "instance", "objective", "SLI", "budget left", "burn rates", "state"):
        table.add_column(col)
    colors = {
        "ok": "green",
        "burning": "bold red",
        "error": "red",
        "no_data": "yellow",
        "insufficient_events": "yellow",
    }
    for it in items:
        inst = ",".join(f"{k}={v}" for k, v in it["instance"].items()) or "-"
        burns = (
            " ".join(f"{w}:{b:.2f}" for w, b in it["burn_rates"].items() if b is not None) or "-"
        )
        state = it["state"] + (f" ({it['severity']})" if it.get("severity") else "")
        table.add_row(
            it["slo"],
            inst,
            _pct(it["objective"]),
            _pct(it["sli"]),
            _pct(it["error_budget_remaining"]),
            burns,
            f"[{colors.get(it['state'], 'white')}]{state}[/]",
        )
    Console().print(table)
    return 0


STATUS = Command(
    name="status",
    summary="show every SLO: objective, SLI, budget left, burn rates, state",
    examples=("sloguard status", "sloguard status --url http://127.0.0.1:9464 --json"),
    add_arguments=_add_arguments,
    handler=_status,
)
