"""PostgreSQL URLs: checked, split from their password, and shown without it.

Pure: text in, text out. A URL may carry a password (``postgresql://u:pw@host/db``); every
message sloguard writes about the database shows :func:`redact`'s form instead
(``postgresql://u:***@host/db``), and the settings keep the password apart
(:func:`split_password`) so that no ``repr`` of them holds it.

Example::

    check_url("postgresql://sloguard@db:5432/sloguard")   # None: fine
    split_password("postgresql://u:pw@db/sloguard")       # ("postgresql://u@db/sloguard", "pw")
    redact("postgresql://u:pw@db/sloguard")               # "postgresql://u:***@db/sloguard"
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = ["SCHEMES", "check_url", "redact", "split_password"]

#: The schemes libpq accepts for a connection URI.
SCHEMES = ("postgresql", "postgres")


def _parts(url: str) -> tuple[str, str, str, str]:
    """``(scheme, userinfo, hostport, rest)`` of ``url``, without parsing the port."""
    scheme, sep, tail = url.partition("://")
    if not sep:
        return "", "", "", url
    netloc, slash, path = tail.partition("/")
    userinfo, at, hostport = netloc.rpartition("@")
    return scheme, (userinfo if at else ""), (hostport if at else netloc), slash + path


def check_url(url: str) -> str | None:
    """Why ``url`` is not a PostgreSQL URL sloguard can use, or None.

    Example::

        check_url("mysql://db/x")   # "must be a postgresql:// URL, got scheme 'mysql'"
    """
    scheme, _, hostport, rest = _parts(url)
    if scheme.lower() not in SCHEMES:
        return (
            f"must be a postgresql:// URL, got scheme {scheme.lower()!r}"
            if scheme
            else ("must be a postgresql:// URL such as postgresql://sloguard@db:5432/sloguard")
        )
    if not hostport:
        return "names no host (postgresql://user@HOST:5432/database)"
    try:
        urlsplit(f"x://{hostport}").port  # noqa: B018 - raises on a bad port
    except ValueError:
        return f"has a bad port in {hostport!r}"
    if rest.lstrip("/").split("?")[0] == "":
        return "names no database (postgresql://user@host:5432/DATABASE)"
    return None


def split_password(url: str) -> tuple[str, str | None]:
    """Return ``url`` without its password, and the password (``None`` when it has none).

    Example::

        split_password("postgresql://u:p%40ss@db/x")   # ("postgresql://u@db/x", "p@ss")
    """
    scheme, userinfo, hostport, rest = _parts(url)
    user, colon, password = userinfo.partition(":")
    if not colon:
        return url, None
    return f"{scheme}://{user}@{hostport}{rest}", unquote(password)


def redact(url: str) -> str:
    """``url`` with its password (if any) shown as ``***`` and its query string dropped (a
    ``password=`` parameter would be a secret too).

    Example::

        redact("postgresql://u:pw@db/x?sslmode=require")   # "postgresql://u:***@db/x"
    """
    scheme, userinfo, hostport, rest = _parts(url)
    if not scheme:
        return "<not a URL>"
    user, colon, _ = userinfo.partition(":")
    shown = f"{user}:***@" if colon else (f"{user}@" if userinfo else "")
    path = urlsplit(f"x://h{rest}").path
    return urlunsplit((scheme, f"{shown}{hostport}", path, "", ""))
