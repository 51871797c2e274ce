"""``sloguard silence add|list|expire`` and ``sloguard ack``: against a running daemon's API.

The daemon owns the alert store, so these commands talk to its HTTP API
(:mod:`sloguard.web.silenceapi`) like ``status`` does: ``--url`` (default
``http://127.0.0.1:$SLOGUARD_PORT``; basic-auth credentials may be in it), ``--token`` (default
``$SLOGUARD_INGEST__TOKEN``, the token that may write, else ``$SLOGUARD_WEB__READ_TOKEN``).

Example::

    sloguard silence add 'slo=checkout' 'severity=~critical|warning' --duration 2h \\
        --comment "database upgrade"
    sloguard silence add slo=checkout --start 2026-12-07T02:00:00Z --end 2026-12-07T04:00:00Z \\
        --comment "maintenance window"
    sloguard silence list --state active
    sloguard silence expire 5f0c…
    sloguard ack 3c2f0b6f1a9e4d21 --comment "looking into it"
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from sloguard.commands import Command, CommandFailed, quiet_on_closed_pipe

__all__ = ["ACK", "SILENCE"]

WRITE_TOKEN_ENV = "SLOGUARD_INGEST__TOKEN"
READ_TOKEN_ENV = "SLOGUARD_WEB__READ_TOKEN"


def _add_daemon(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        default=None,
        help="daemon base URL (default: http://127.0.0.1:$SLOGUARD_PORT; basic-auth "
        "credentials may be in it: http://user:password@host:9464)",
    )
    parser.add_argument(
        "--token",
        default=None,
        help=f"bearer token (default: ${WRITE_TOKEN_ENV}, else ${READ_TOKEN_ENV})",
    )
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds (default: 5)")
    parser.add_argument("--json", action="store_true", help="print the API's JSON")


def _author() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def _call(
    args: argparse.Namespace, method: str, path: str, body: Mapping[str, Any] | None = None
) -> Any:
    """``method path`` on the daemon; the JSON answer, or :class:`CommandFailed`."""
    import httpx

    env = os.environ
    base = (args.url or f"http://127.0.0.1:{env.get('SLOGUARD_PORT') or '9464'}").rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise CommandFailed(f"--url must be an http:// or https:// URL, got {base!r}")
    parts = urlsplit(base)
    shown = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])) + path
    token = args.token or env.get(WRITE_TOKEN_ENV) or env.get(READ_TOKEN_ENV)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.request(
            method, base + path, json=body, headers=headers, timeout=args.timeout
        )
    except httpx.HTTPError as exc:
        raise CommandFailed(f"cannot reach {shown}: {exc or type(exc).__name__}") from exc
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not response.is_success:
        detail = answer.get("detail") if isinstance(answer, dict) else None
        hint = (
            ""
            if response.status_code != 401 or token
            else f" (give --token or set ${WRITE_TOKEN_ENV})"
        )
        raise CommandFailed(
            f"{shown}: {response.status_code} {detail or response.reason_phrase}{hint}"
        )
    if answer is None:
        raise CommandFailed(f"{shown}: the answer is not JSON")
    return answer


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _matchers_text(s: Mapping[str, Any]) -> str:
    return ",".join(f"{m['name']}{m['type']}{json.dumps(m['value'])}" for m in s["matchers"])


def _print_silences(silences: list[dict[str, Any]]) -> None:
    rows = [("ID", "STATE", "STARTS", "ENDS", "CREATED_BY", "MATCHERS", "COMMENT")]
    rows += [
        (s["id"], s["status"], _when(s["starts_at"]), _when(s["ends_at"]), s["created_by"],
         _matchers_text(s), s["comment"])
        for s in silences
    ]  # fmt: skip
    if not sys.stdout.isatty():
        for row in rows[1:]:
            print("\t".join(row))
        return
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1])


def _add(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {
        "matchers": args.matchers,
        "created_by": args.author or _author(),
        "comment": args.comment,
    }
    if args.start is not None:
        body["starts_at"] = args.start
    if args.end is not None:
        body["ends_at"] = args.end
    elif args.duration is not None:
        body["duration"] = args.duration
    else:
        raise CommandFailed("give --end or --duration (how long the silence lasts)")
    silence = _call(args, "POST", "/api/v1/silences", body)["silence"]
    if args.json:
        print(json.dumps(silence, indent=2))
    else:
        print(silence["id"])
    return 0


def _list(args: argparse.Namespace) -> int:
    path = "/api/v1/silences" + (f"?state={quote(args.state)}" if args.state else "")
    silences = _call(args, "GET", path)["silences"]
    if args.json:
        print(json.dumps(silences, indent=2))
    else:
        _print_silences(silences)
    return 0


def _expire(args: argparse.Namespace) -> int:
    for silence_id in args.ids:
        silence = _call(args, "DELETE", f"/api/v1/silences/{quote(silence_id, safe='')}")
        print(json.dumps(silence["silence"], indent=2) if args.json else f"expired {silence_id}")
    return 0


def _silence_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="silence matching alerts (a maintenance window if --start "
                         "is later)")  # fmt: skip
    add.add_argument(
        "matchers", nargs="+", metavar="MATCHER",
        help="Alertmanager matchers: name=value, name!=value, name=~regex, name!~regex",
    )  # fmt: skip
    add.add_argument("--comment", required=True, help="why (a ticket, the maintenance)")
    add.add_argument("--author", default=None, help="who (default: your user name)")
    add.add_argument("--start", default=None, help="RFC 3339 time (default: now)")
    add.add_argument("--end", default=None, help="RFC 3339 time")
    add.add_argument("--duration", default=None, help="how long from the start, e.g. 2h")
    _add_daemon(add)
    add.set_defaults(handler=quiet_on_closed_pipe(_add))
    lst = sub.add_parser("list", help="list silences (expired ones until they are pruned)")
    lst.add_argument("--state", choices=("active", "pending", "expired"), default=None)
    _add_daemon(lst)
    lst.set_defaults(handler=quiet_on_closed_pipe(_list))
    exp = sub.add_parser("expire", help="end silences now (kept for audit)")
    exp.add_argument("ids", nargs="+", metavar="ID")
    _add_daemon(exp)
    exp.set_defaults(handler=quiet_on_closed_pipe(_expire))


def _dispatch(args: argparse.Namespace) -> int:  # replaced by the action's handler
    raise CommandFailed("give an action: add, list or expire")


SILENCE = Command(
    name="silence",
    summary="silence alerts, plan maintenance windows, list and expire silences",
    examples=(
        "sloguard silence add slo=checkout --duration 2h --comment 'database upgrade'",
        "sloguard silence list --state active",
    ),
    add_arguments=_silence_arguments,
    handler=_dispatch,
)


def _ack_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("fingerprint", help="the alert's fingerprint (GET /api/v1/alerts)")
    parser.add_argument("--comment", default="", help="a note for the receivers")
    parser.add_argument("--author", default=None, help="who (default: your user name)")
    _add_daemon(parser)


def _ack(args: argparse.Namespace) -> int:
    body = {"by": args.author or _author(), "comment": args.comment}
    path = f"/api/v1/alerts/{quote(args.fingerprint, safe='')}/ack"
    alert = _call(args, "POST", path, body)["alert"]
    if args.json:
        print(json.dumps(alert, indent=2))
    else:
        print(f"acknowledged {alert['fingerprint']} as {alert['acknowledged_by']}")
    return 0


ACK = Command(
    name="ack",
    summary="acknowledge a firing alert: no more reminders until it resolves",
    examples=("sloguard ack 3c2f0b6f1a9e4d21 --comment 'looking into it'",),
    add_arguments=_ack_arguments,
    handler=_ack,
)
