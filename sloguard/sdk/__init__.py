"""The agent side: metrics, recorder, trace model, steps, decorators (prometheus_client only).

May import: ``analysis`` and layer 0 (``errors``, ``conventions``, ``version``); the runtime
dependency is ``prometheus_client`` alone (``a2a/``, ``otel``, ``logging`` import their extra on
first use, with a message naming it).
"""

from __future__ import annotations

import typing as _typing

if _typing.TYPE_CHECKING:
    from sloguard.sdk.decisions import DecisionTracker
    from sloguard.sdk.export.exporter import TraceExporter, enable_export

__all__ = ["DecisionTracker", "TraceExporter", "enable_export"]


def __getattr__(name: str) -> _typing.Any:
    """Import ``DecisionTracker`` (and the debugging tools it uses) on first use."""
    if name == "DecisionTracker":
        from sloguard.sdk.decisions import DecisionTracker

        return DecisionTracker
    if name in ("TraceExporter", "enable_export"):  # the opt-in trace exporter (stdlib only)
        from sloguard.sdk.export import exporter as export

        return getattr(export, name)
    raise AttributeError(f"module 'sloguard.sdk' has no attribute {name!r}")
