"""The opt-in trace exporter: ship finished traces to a sidecar's trace store (stdlib only).

Owns ``exporter`` (the listener and its queue), ``sender`` (the background sender with retries)
and ``wire`` (the HTTP request). May import: ``sloguard.sdk``, ``conventions``.
"""

from __future__ import annotations

from sloguard.sdk.export.exporter import TraceExporter, enable_export

__all__ = ["TraceExporter", "enable_export"]
