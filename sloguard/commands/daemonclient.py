"""Reading a running daemon's API from a command: ``--url``, ``--token``, ``--timeout``.

``sloguard status`` and ``sloguard trace --url`` read the daemon's ``/api/v1/…`` the same way:
the base URL (default ``http://127.0.0.1:$SLOGUARD_PORT``, basic-auth credentials may be in it:
``http://alice:secret@host:9464``), a read token (``--token``, default
``$SLOGUARD_WEB__READ_TOKEN``, the variable that gives the daemon its token) sent as
``Authorization: Bearer``. Every failure
(unreachable, refused credentials, an error status, not JSON) is a :class:`CommandFailed` naming
the URL; the answer's ``detail`` (what the API says is wrong) is kept.

Example::

    client = DaemonClient.from_args(args)          # after add_daemon_arguments(parser)
    client.get_json("/api/v1/slos")["slos"]
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sloguard.commands import CommandFailed

__all__ = ["TOKEN_ENV", "DaemonClient", "add_daemon_arguments", "default_url"]

#: The daemon's read token setting; the CLI sends it when ``--token`` is not given.
TOKEN_ENV = "SLOGUARD_WEB__READ_TOKEN"


def default_url(env: Mapping[str, str]) -> str:
    """``http://127.0.0.1:$SLOGUARD_PORT`` (port 9464 when unset)."""
    return f"http://127.0.0.1:{env.get('SLOGUARD_PORT') or '9464'}"


def add_daemon_arguments(parser: argparse.ArgumentParser, *, url_help: str | None = None) -> None:
    """Add ``--url`` (help text ``url_help`` when given), ``--token`` and ``--timeout``."""
    parser.add_argument(
        "--url",
        default=None,
        help=url_help
        or "daemon base URL (default: http://127.0.0.1:$SLOGUARD_PORT; basic-auth credentials "
        "may be in it: http://user:password@host:9464)",
    )
    parser.add_argument(
        "--token",
        default=None,
        help=f"read token sent as a bearer token (default: ${TOKEN_ENV}, as the daemon reads it)",
    )
    parser.add_argument(
        "--timeout", type=float, default=5.0, help="seconds per request to the daemon (default: 5)"
    )


@dataclass(frozen=True, slots=True)
class DaemonClient:
    """GET requests to one daemon's API; failures are :class:`CommandFailed`."""

    base_url: str
    token: str | None = field(default=None, repr=False)
    timeout: float = 5.0

    @classmethod
    def from_args(
        cls, args: argparse.Namespace, env: Mapping[str, str] | None = None
    ) -> DaemonClient:
        """The client the parsed ``--url``/``--token``/``--timeout`` name (env: ``os.environ``)."""
        environ = os.environ if env is None else env
        if not args.timeout > 0:
            raise CommandFailed(
                f"--timeout must be a positive number of seconds, got {args.timeout}"
            )
        url = (args.url or default_url(environ)).rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise CommandFailed(f"--url must be an http:// or https:// URL, got {url!r}")
        return cls(url, args.token or environ.get(TOKEN_ENV) or None, args.timeout)

    @property
    def shown_url(self) -> str:
        """The base URL without credentials (what messages and titles show)."""
        parts = urlsplit(self.base_url)
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=host))

    def url(self, path: str) -> str:
        """The full URL of an API path, as messages show it (without credentials)."""
        return self.shown_url + path

    def get(self, path: str, params: Mapping[str, object] | None = None) -> Any:
        """The response to ``GET path``; raises :class:`CommandFailed` unless it is a 2xx."""
        import httpx

        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        where = self.url(path)
        try:
            response = httpx.get(
                self.base_url + path, params=query, headers=headers, timeout=self.timeout
            )
        except httpx.HTTPError as exc:
            raise CommandFailed(f"cannot read {where}: {exc or type(exc).__name__}") from exc
        if response.status_code == 401:
            hint = "the token was refused" if self.token else f"give --token or set ${TOKEN_ENV}"
            raise CommandFailed(f"{where}: 401 authentication required ({hint})")
        if not response.is_success:
            raise CommandFailed(f"{where}: {response.status_code} {_detail(response)}")
        return response

    def get_json(self, path: str, params: Mapping[str, object] | None = None) -> Any:
        """The JSON body of ``GET path`` (see :meth:`get`)."""
        response = self.get(path, params)
        try:
            return response.json()
        except ValueError as exc:
            raise CommandFailed(f"{self.url(path)}: the answer is not JSON ({exc})") from exc

    def get_text(self, path: str, params: Mapping[str, object] | None = None) -> str:
        """The text body of ``GET path`` (see :meth:`get`)."""
        text: str = self.get(path, params).text
        return text


def _detail(response: Any) -> str:
    """What an error answer says: FastAPI's ``detail``, else its reason phrase."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return str(detail) if detail else str(response.reason_phrase or "error")
