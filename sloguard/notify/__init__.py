"""Notifications: what is sent, to whom, in what form, and how it gets there.

Owns ``model`` (the :class:`~sloguard.notify.model.Notification`, the
:class:`~sloguard.notify.model.Notifier` protocol and its :class:`~sloguard.notify.model.Delivery`;
pure), ``routing`` (the alert route tree; pure), ``config`` (the routing file, validated, and
the notifiers it names), ``render`` (Slack, webhook and Alertmanager bodies; pure), ``outbox``
(the worker that delivers queued notifications, and the ``OutboxStore`` protocol it reads them
through), ``delivery`` (the HTTP core every HTTP receiver shares), ``signing`` (Standard Webhooks
signatures; pure), and the receivers: ``webhook``, ``alertmanager``, ``log``, ``recording``,
``slack/``.

May import: ``slo`` (severity, tier results), ``durations``, ``errors``, ``yamldoc``,
``conventions``. Never ``alerting``: the alert store implements ``OutboxStore``.
"""
