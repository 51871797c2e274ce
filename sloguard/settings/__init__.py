"""Process settings: ``sloguard.yaml`` plus ``SLOGUARD_*`` environment (pydantic-settings).

Owns ``model`` (:class:`~sloguard.settings.model.Settings`), ``sections`` (its frozen sections)
and ``envlayer`` (environment overrides). May import: ``errors``, ``conventions``,
``durations``, ``yamldoc``, ``sdk`` (cardinality defaults).
"""
