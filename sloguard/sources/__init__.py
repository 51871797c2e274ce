"""SLI sources: where window counts come from (Prometheus, the embedded sampler, a fake).

``base`` holds the :class:`~sloguard.sources.base.SLISource` protocol, ``prometheus``,
``embedded`` and ``fake`` its implementations. Import them by module; this file re-exports
nothing (``prometheus`` pulls in httpx, ``embedded`` SQLite).

May import: ``slo`` (SLO models, counts, PromQL) and layer 0.
"""
