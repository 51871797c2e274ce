"""Prometheus rules: SLOs compiled to recording and alerting rules, their promtool tests, backtests.

Owns ``compiler`` (Sloth-compatible rule groups), ``promtool`` (rule unit tests) with
``expectations`` (what they expect, from simulation), ``simulate`` (tiers replayed over a
scenario) and ``scenarios``. May import: ``slo``, ``sources`` (embedded, for simulation),
``evaluation``, ``conventions``, ``durations``.
"""
