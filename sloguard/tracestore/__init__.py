"""Stored traces, decisions and events for the debugging tools (``sloguard trace …``,
``/api/v1/traces``, ``/api/v1/decisions``), in one bounded SQLite file or the shared
PostgreSQL database.

- :mod:`~sloguard.tracestore.model` — [pure] a trace's summary, agents and stored body;
- :mod:`~sloguard.tracestore.records` — [pure] decision records and events as rows;
- :mod:`~sloguard.tracestore.queries` — [pure] the SQL of each query and the index it uses;
- :mod:`~sloguard.tracestore.database` — the file: schema, pragmas, migration, the lock;
- :mod:`~sloguard.tracestore.retention` — pruning by age, counts and bytes;
- :mod:`~sloguard.tracestore.base` — the :class:`TraceStore` protocol every store implements;
- :mod:`~sloguard.tracestore.store` — :class:`SqliteTraceStore`, the default store;
- :mod:`~sloguard.tracestore.pgstore` — :class:`PgTraceStore` on the shared PostgreSQL database
  (``storage.url``), with its schema and queries (:mod:`~sloguard.tracestore.pgqueries`, [pure])
  and retention (:mod:`~sloguard.tracestore.pgretention`);
- :mod:`~sloguard.tracestore.footprint` — free space, the byte budget within it, the store's stats;
- :mod:`~sloguard.tracestore.pruner` — :class:`TracePruner`, pruning on an interval in a thread.
- :mod:`~sloguard.tracestore.storehealth` — failing writes of a store on the data dir: counted,
  logged once per change, a reason for ``/readyz`` (the trace store's and the embedded samples').

Modules are imported by name; this package re-exports nothing (importing a pure module must
not open SQLite). Example::

    from sloguard.tracestore.retention import MiB
    from sloguard.tracestore.store import TraceStore

    store = TraceStore("data/traces.sqlite", max_age_seconds=7 * 86400, max_bytes=512 * MiB)
    store.put(trace, now=time.time())
    for s in store.list(status="error", limit=10):
        print(s.trace_id, s.agent)
    store.prune(now=time.time())

May import: ``sdk`` (the trace model), ``analysis`` (decision records), ``postgres`` (only
``pgstore`` and ``pgretention``) and layer 0.
"""
