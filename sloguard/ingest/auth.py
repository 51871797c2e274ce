"""Bearer-token check of the ingest endpoints (``Authorization: Bearer <token>``).

The token is compared in constant time and never logged, shown in ``repr`` or echoed.

Example::

    auth = BearerAuth("s3cret")
    auth.check(request.headers.get("authorization"))   # raises Rejected (401) unless it matches
"""

from __future__ import annotations

import hmac

from sloguard.ingest.problems import Rejected


class BearerAuth:
    """Accept a request only with the configured bearer token (or always, without one)."""

    __slots__ = ("_token",)

    def __init__(self, token: str | None) -> None:
        if token is not None and not token:
            raise ValueError("the ingest token must not be empty (use None for no auth)")
        self._token = token.encode() if token is not None else None

    @property
    def enabled(self) -> bool:
        """True when requests need a token."""
        return self._token is not None

    def check(self, authorization: str | None) -> None:
        """Raise :class:`Rejected` (401) unless ``authorization`` carries the token."""
        if self._token is None:
            return
        scheme, _, credentials = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise Rejected.unauthorized("missing bearer token (Authorization: Bearer <token>)")
        if not hmac.compare_digest(credentials.strip().encode(), self._token):
            raise Rejected.unauthorized(
                "invalid bearer token", challenge='Bearer error="invalid_token"'
            )

    def __repr__(self) -> str:
        return f"<BearerAuth {'on' if self.enabled else 'off'}>"
