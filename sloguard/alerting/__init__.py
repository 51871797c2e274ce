"""Alerting: from evaluation results to alert transitions and queued notifications.

Owns ``state`` (the pure alert state machine), ``center`` (results → transitions → routed
notifications, one commit), ``storebase`` (the ``AlertStore`` protocol), ``store`` (the SQLite
alert state and notification outbox), ``pgstore`` / ``pgqueries`` (the same on the shared
PostgreSQL database), ``leader`` and ``leading`` (which replica commits and delivers: the lease,
its fence and its loop), ``runtime`` (store, center, notifiers and outbox worker built from
settings), ``history`` (when an instance's alerts fired and resolved, read from the store),
``silences`` (the pure matchers and silences) and ``silencebook`` (the daemon's silences, stored
and counted). May import: ``evaluation`` (results), ``notify``, ``slo``, ``durations``,
``errors``.
"""
