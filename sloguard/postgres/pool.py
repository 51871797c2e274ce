"""One PostgreSQL database shared by sloguard's stores: a connection pool built from a URL, its
components migrated at start, and its startup failures worded as one-line ConfigErrors.

The password comes from the URL, from ``password`` (``SLOGUARD_STORAGE__PASSWORD`` through the
settings) or from libpq's own ``PGPASSWORD`` / ``~/.pgpass``; it is never logged: every message
names the database by :func:`~sloguard.postgres.url.redact`'s form of the URL.

At start :func:`connect` opens one connection directly (so an unreachable server, a wrong
password or a missing database is reported in libpq's words instead of a pool timeout), then
the pool, then migrates each component (:mod:`sloguard.postgres.migrations`). Connections are in
autocommit: a write takes ``with conn.transaction():``.

Example::

    db = connect("postgresql://sloguard@db:5432/sloguard", components=[TRACES])
    with db.connection() as conn:
        conn.execute("SELECT 1")
    db.close()
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pgerrors
from psycopg.conninfo import make_conninfo
from psycopg_pool import ConnectionPool, PoolTimeout

from sloguard.errors import ConfigError, Problem
from sloguard.postgres.migrations import Component, migrate
from sloguard.postgres.url import check_url, redact

__all__ = ["Postgres", "connect", "one_line"]

Conn = psycopg.Connection[tuple[Any, ...]]


def one_line(exc: BaseException) -> str:
    """The first non-empty line of an error's text, whitespace collapsed (libpq's messages
    run over several lines: ``connection failed: …`` then a hint).

    Example::

        one_line(ValueError("a\\n  b"))   # "a"
    """
    for line in str(exc).splitlines():
        if line.strip():
            return " ".join(line.split())
    return type(exc).__name__


def _problem(where: str, message: str) -> ConfigError:
    return ConfigError([Problem(where, None, "storage.url", message)])


class Postgres:
    """A pool of connections to one database (build it with :func:`connect`).

    Example::

        with db.connection() as conn:
            with conn.transaction():
                conn.execute("DELETE FROM events")
    """

    def __init__(self, pool: ConnectionPool[Conn], *, where: str, timeout: float) -> None:
        self._pool = pool
        #: The URL with its password hidden: how messages name this database.
        self.where = where
        self.timeout = timeout

    @contextmanager
    def connection(self) -> Iterator[Conn]:
        """A connection of the pool (autocommit), given back at the end; waits at most
        ``timeout`` seconds for one (:class:`psycopg_pool.PoolTimeout`)."""
        with self._pool.connection(timeout=self.timeout) as conn:
            yield conn

    def migrate(self, component: Component) -> int:
        """Bring ``component``'s tables to this code's version (see :func:`connect`)."""
        with self.connection() as conn:
            return _migrate(conn, component, self.where)

    def close(self) -> None:
        """Close every connection of the pool."""
        self._pool.close()


def _migrate(conn: Conn, component: Component, where: str) -> int:
    try:
        return migrate(conn, component, where=where)
    except pgerrors.InsufficientPrivilege as exc:
        raise _problem(
            where,
            f"the database user lacks the rights to create the {component.name!r} tables: "
            f"{one_line(exc)}; grant it CREATE on the database's schema (or let its owner "
            "start sloguard once)",
        ) from None
    except psycopg.Error as exc:
        raise _problem(
            where, f"cannot migrate the {component.name!r} tables: {one_line(exc)}"
        ) from None


def connect(
    url: str,
    *,
    password: str | None = None,
    components: Iterable[Component] = (),
    min_size: int = 1,
    max_size: int = 8,
    timeout: float = 10.0,
    application_name: str = "sloguard",
) -> Postgres:
    """Connect to the database at ``url``, open a pool and migrate ``components`` (in order).

    Raise :class:`~sloguard.errors.ConfigError` (one line, field ``storage.url``, the URL
    redacted) when the URL is not a PostgreSQL URL, the server cannot be reached within
    ``timeout`` seconds, refuses the login, or the user lacks the rights to migrate; and when
    the database's schema is newer than this code.
    """
    where = redact(url)
    bad = check_url(url)
    if bad is not None:
        raise _problem(where, bad)
    extra: dict[str, Any] = {
        "connect_timeout": max(1, int(timeout)),
        "application_name": application_name,
    }
    if password is not None:
        extra["password"] = password
    try:
        conninfo = make_conninfo(url, **extra)
    except psycopg.ProgrammingError as exc:
        raise _problem(where, f"is not a valid connection URL: {one_line(exc)}") from None
    try:
        with psycopg.connect(conninfo, autocommit=True) as probe:
            for component in components:
                _migrate(probe, component, where)
    except pgerrors.InsufficientPrivilege as exc:
        raise _problem(where, f"the database user lacks rights: {one_line(exc)}") from None
    except psycopg.OperationalError as exc:
        raise _problem(where, f"cannot connect to the database: {one_line(exc)}") from None
    pool: ConnectionPool[Conn] = ConnectionPool(
        conninfo,
        min_size=min_size,
        max_size=max_size,
        open=False,
        kwargs={"autocommit": True},
        check=ConnectionPool.check_connection,
        name=application_name,
    )
    try:
        pool.open(wait=True, timeout=timeout)
    except PoolTimeout:
        pool.close()
        raise _problem(where, f"the connection pool did not open within {timeout:g} s") from None
    return Postgres(pool, where=where, timeout=timeout)
