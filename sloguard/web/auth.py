"""Optional authentication of reads: a bearer read token and/or basic-auth users (bcrypt).

:class:`ReadAuth` decides whether an ``Authorization`` header may read; :class:`ReadAuthMiddleware`
asks it for every HTTP request except the open ones: the probes (``/healthz``, ``/readyz``, so
kubelets need no credentials) and the ingest (``/v1/…``, which has its own token). Everything
else needs credentials once any are configured, ``/metrics`` included (as Prometheus does with
basic auth on), so a route added later is closed by default. Without credentials configured the
middleware lets everything through.

A bcrypt check costs tens of milliseconds: it runs in a worker thread, and a header that passed
is remembered (by its SHA-256, a bounded number of them) so a page's many reads stay cheap, as
the exporter toolkit does. Failed checks are not remembered. An unknown user costs a bcrypt check
too, so timing does not tell which users exist.

Example::

    auth = ReadAuth(token="s3cret", users={"alice": "$2y$10$…"})
    app.add_middleware(ReadAuthMiddleware, auth=auth)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Collection, Mapping
from typing import Final

import anyio.to_thread
import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["OPEN_PATHS", "OPEN_PREFIXES", "ReadAuth", "ReadAuthMiddleware"]

#: Paths that never need read credentials: the probes.
OPEN_PATHS: Final = frozenset({"/healthz", "/readyz"})
#: Path prefixes that never need read credentials: the ingest, guarded by its own token.
OPEN_PREFIXES: Final = ("/v1/",)
#: Headers that passed, remembered so that a bcrypt check runs once per credential.
MAX_REMEMBERED = 1024


class ReadAuth:
    """Check ``Authorization`` headers against a read token and basic-auth users."""

    def __init__(self, *, token: str | None = None, users: Mapping[str, str] | None = None) -> None:
        self._token = token.encode() if token else None
        self._users = {name: hashed.encode() for name, hashed in (users or {}).items()}
        # An unknown user is checked against a real hash: the same cost as a known one.
        self._decoy = next(iter(self._users.values()), None)
        self._passed: set[bytes] = set()

    @property
    def enabled(self) -> bool:
        """True when reads need credentials."""
        return self._token is not None or bool(self._users)

    @property
    def challenges(self) -> list[str]:
        """``WWW-Authenticate`` values of a 401 (Basic first: browsers then ask for a login)."""
        out = ['Basic realm="sloguard", charset="UTF-8"'] if self._users else []
        return out + (['Bearer realm="sloguard"'] if self._token is not None else [])

    def remembered(self, authorization: str | None) -> bool:
        """True when ``authorization`` passed before (cheap: no bcrypt)."""
        return authorization is not None and _digest(authorization) in self._passed

    def check(self, authorization: str | None) -> bool:
        """Tell whether ``authorization`` may read (may run a bcrypt check: call off the loop)."""
        if not self.enabled:
            return True
        if authorization is None:
            return False
        if self.remembered(authorization):
            return True
        scheme, _, value = authorization.strip().partition(" ")
        value = value.strip()
        ok = False
        if scheme.lower() == "bearer" and self._token is not None:
            ok = hmac.compare_digest(value.encode(), self._token)
        elif scheme.lower() == "basic" and self._decoy is not None:
            ok = self._basic(value)
        if ok:
            if len(self._passed) >= MAX_REMEMBERED:
                self._passed.clear()
            self._passed.add(_digest(authorization))
        return ok

    def _basic(self, value: str) -> bool:
        import bcrypt

        try:
            user, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        if not sep:
            return False
        hashed = self._users.get(user)
        try:
            ok = bcrypt.checkpw(password.encode(), hashed or self._decoy or b"")
        except ValueError:  # a hash bcrypt cannot read (the web config checks their shape)
            return False
        return ok and hashed is not None


def _digest(authorization: str) -> bytes:
    return hashlib.sha256(authorization.encode()).digest()


class ReadAuthMiddleware:
    """Answer 401 to requests without read credentials, except the open paths."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        auth: ReadAuth,
        open_paths: Collection[str] = OPEN_PATHS,
        open_prefixes: tuple[str, ...] = OPEN_PREFIXES,
    ) -> None:
        self.app = app
        self.auth = auth
        self.open_paths = frozenset(open_paths)
        self.open_prefixes = open_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.auth.enabled or self._open(scope["path"]):
            await self.app(scope, receive, send)
            return
        header = _authorization(scope)
        if self.auth.remembered(header) or await anyio.to_thread.run_sync(self.auth.check, header):
            await self.app(scope, receive, send)
            return
        await _unauthorized(send, self.auth.challenges)

    def _open(self, path: str) -> bool:
        return path in self.open_paths or path.startswith(self.open_prefixes)


def _authorization(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return bytes(value).decode("latin-1")
    return None


async def _unauthorized(send: Send, challenges: list[str]) -> None:
    body = orjson.dumps({"detail": "authentication required"})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((b"www-authenticate", c.encode()) for c in challenges),
    ]
    await send({"type": "http.response.start", "status": 401, "headers": headers})
    await send({"type": "http.response.body", "body": body})
