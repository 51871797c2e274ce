"""SLI sources: where window counts come from (Prometheus, the embedded sampler, a fake).

``base`` holds the :class:`~sloguard.sources.base.SLISource` protocol, ``prometheus``,
``embedded`` and ``fake`` its implementations (the first two also answer a history at once:
``RangeSource``; ``promrange`` reads Prometheus' ``query_range`` answers). Import them by
module; this file re-exports nothing (``prometheus`` pulls in httpx, ``embedded`` SQLite).

May import: ``slo`` (SLO models, counts, PromQL) and layer 0.
"""
