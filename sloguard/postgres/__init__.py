"""The shared PostgreSQL store's foundation: URLs, a connection pool, numbered migrations.

Used only when ``storage.url`` is set (extra ``postgres``: psycopg 3 and psycopg-pool); nothing
on the default SQLite path imports this package's pool or migrations (the SDK never does).

- :mod:`~sloguard.postgres.url` — a URL checked, split from its password, redacted for messages;
- :mod:`~sloguard.postgres.migrations` — :class:`Component` s and their numbered
  :class:`Migration` s, applied under an advisory lock, a newer database refused;
- :mod:`~sloguard.postgres.pool` — :func:`connect`: the pool, the migrations at start, one-line
  errors when the database is unreachable or the user lacks rights.

Example::

    from sloguard.postgres.pool import connect
    from sloguard.tracestore.pgschema import TRACES

    db = connect("postgresql://sloguard@db:5432/sloguard", components=[TRACES])

May import: layer 0 (``errors``) and psycopg.
"""
