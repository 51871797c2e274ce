"""Debugging tools over traces (seed 000): decisions, anomalies, replay, comparison, views.

Everything here is pure: traces and decision records in, values and text out; no I/O, no
clock. Storage, HTTP API and CLI (``sloguard trace …``) build on these functions.

Modules are imported by name (this file re-exports nothing, so ``import sloguard``, whose
:mod:`~sloguard.analysis.performance` lives here, loads no more than it needs). Example::

    from sloguard.analysis.compare import most_similar_successful
    from sloguard.analysis.views.mermaid import sequence_diagram
    from sloguard.analysis.views.tree import text_tree

    print(text_tree(failed))
    baseline = most_similar_successful(failed, recent_traces)
    if baseline is not None:
        print(baseline.comparison.first_divergence)
    print(sequence_diagram(failed))

May import: ``conventions``, ``errors`` (layer 0) only; no I/O, no clock.
"""
