"""Alerting: from evaluation results to alert transitions and queued notifications.

Owns ``state`` (the pure alert state machine), ``center`` (results → transitions → routed
notifications, one commit), ``store`` (the SQLite alert state and notification outbox) and
``runtime`` (store, center, notifiers and outbox worker built from settings). May import:
``evaluation`` (results), ``notify``, ``slo``, ``durations``, ``errors``.
"""
