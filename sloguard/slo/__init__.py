"""SLOs as data: the spec models, the budget and burn-rate maths, PromQL, and the file reader.

Owns ``spec`` (frozen SLO models), ``budget`` (error budgets, tiers, evaluation of counts; pure),
``promql`` (SLI queries; pure), ``policies`` (named burn-rate policies), ``entry`` (one SLO
entry of a file), ``docreader`` and ``loader`` (YAML to models, every problem listed).
May import: ``errors``, ``conventions``, ``durations``, ``yamldoc``. Nothing here does I/O but
the loader reading its file.
"""
