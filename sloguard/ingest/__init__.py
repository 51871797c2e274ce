"""HTTP ingest: agents in any language send A2A traces or plain events; they become metrics.

``POST /v1/a2a/traces`` takes A2A traceability ResponseTrace JSON (see :mod:`.a2a`),
``POST /v1/events`` a documented list of plain events (see :mod:`.events`). Both feed the same
:class:`~sloguard.sdk.recorder.Recorder` the Python SDK uses, through the same calls, and share
one pipeline (:mod:`.intake`): bearer token, size and nesting limits, atomic batches that list
every problem and record nothing when there is one, cost from a versioned pricing table
(:mod:`.pricing`) when the agent reports tokens without a cost.

Example::

    from sloguard.ingest.router import ingest_router
    app = create_app(registry, routers=[ingest_router(recorder, token=os.environ["TOKEN"])])

May import: ``sdk`` (the recorder and trace model), ``tracestore``, ``analysis`` and layer 0
(``errors``, ``conventions``, ``yamldoc``). Nothing of ``slo``, evaluation or alerting.
"""
