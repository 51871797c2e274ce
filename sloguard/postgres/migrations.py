"""Numbered schema migrations per component, applied at start under an advisory lock.

Each component that keeps tables in the shared database (``traces`` now; alert state and
outbox, SLI samples later) declares its ordered list of :class:`Migration` s in a
:class:`Component`; version ``n`` is the ``n``-th migration. The table
``schema_migrations(component, version, applied_at)`` records one row per applied migration.

:func:`migrate` runs in one transaction that first takes a PostgreSQL advisory lock
(:data:`LOCK_KEY`, held until commit), so replicas starting at once apply each migration exactly
once: the second waits, then finds nothing left to do. PostgreSQL's DDL is transactional, so a
failing migration leaves the schema as it was. A database whose version of a component is
*newer* than the code knows (a newer sloguard migrated it) is refused with a
:class:`~sloguard.errors.ConfigError`: this sloguard would misread its tables.

Example::

    TRACES = Component("traces", (Migration(1, "CREATE TABLE traces (...)"),))
    with pool.connection() as conn:
        migrate(conn, TRACES, where="postgresql://sloguard@db/sloguard")   # -> 1
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from sloguard.errors import ConfigError, Problem

__all__ = [
    "LOCK_KEY",
    "Component",
    "Migration",
    "applied_versions",
    "migrate",
    "pending",
    "statements",
]

#: The advisory lock (a bigint key) that serializes migrations of every component.
LOCK_KEY = 0x736C6F6775617264  # "sloguard"

_CREATE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    component TEXT NOT NULL,
    version INTEGER NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (component, version)
)
"""

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema change: its number (1, 2, …) and its SQL (statements separated by ``;``).

    Example::

        Migration(2, "ALTER TABLE traces ADD COLUMN tenant TEXT", name="tenant column")
    """

    version: int
    sql: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class Component:
    """A named part of the schema and its migrations, numbered 1..n in order.

    Example::

        Component("traces", (Migration(1, "CREATE TABLE t (x INT)"),)).latest   # 1
    """

    name: str
    migrations: tuple[Migration, ...]

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"component name must match {_NAME.pattern}, got {self.name!r}")
        numbers = [m.version for m in self.migrations]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(
                f"component {self.name!r}: migrations must be numbered 1..n in order, got {numbers}"
            )

    @property
    def latest(self) -> int:
        """The version this code brings the component to."""
        return len(self.migrations)


def statements(sql: str) -> list[str]:
    """The statements of a migration's SQL (split on ``;``; no ``;`` inside literals).

    Example::

        statements("CREATE TABLE a (x INT); CREATE INDEX a_x ON a (x);")   # two statements
    """
    return [s.strip() for s in sql.split(";") if s.strip()]


def applied_versions(conn: psycopg.Connection[tuple[object, ...]], component: str) -> list[int]:
    """The versions of ``component`` recorded in ``schema_migrations`` (none: ``[]``)."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return []
    rows = conn.execute(
        "SELECT version FROM schema_migrations WHERE component = %s ORDER BY version",
        (component,),
    ).fetchall()
    return [int(str(r[0])) for r in rows]


def _too_new(where: str, component: Component, version: int) -> ConfigError:
    message = (
        f"the database's {component.name!r} schema is at version {version}, newer than this "
        f"sloguard knows ({component.latest}); upgrade sloguard or use another database"
    )
    return ConfigError([Problem(where, None, "storage.url", message)])


def migrate(
    conn: psycopg.Connection[tuple[object, ...]],
    component: Component,
    *,
    where: str,
    lock_key: int = LOCK_KEY,
) -> int:
    """Bring ``component`` to its latest version in one transaction under the advisory lock;
    return the version the database is at. ``where`` names the database in errors (a redacted
    URL). Raise :class:`~sloguard.errors.ConfigError` when the database is newer than the code;
    psycopg's errors (rights, broken SQL) pass through for the caller to word."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key,))
        conn.execute(_CREATE)
        done = applied_versions(conn, component.name)
        current = max(done, default=0)
        if current > component.latest:
            raise _too_new(where, component, current)
        for m in component.migrations[current:]:
            for statement in statements(m.sql):
                conn.execute(statement.encode())
            conn.execute(
                "INSERT INTO schema_migrations (component, version) VALUES (%s, %s)",
                (component.name, m.version),
            )
    return max(current, component.latest)


def pending(component: Component, done: Sequence[int]) -> list[Migration]:
    """The migrations of ``component`` not in ``done`` (what :func:`migrate` would apply).

    Example::

        pending(TRACES, [1])   # the migrations numbered 2 and up
    """
    current = max(done, default=0)
    return list(component.migrations[current:])
