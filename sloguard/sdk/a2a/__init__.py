"""a2a-sdk integration: the traceability extension, executor and client wrappers (extra ``a2a``).

Owns the A2A agent side: ``extension`` (the extension and its public helpers), ``server``
(a tracing ``AgentExecutor``), ``client`` (a tracing client), ``call`` (one remote call as a
step). a2a-sdk itself is imported only when a wrapper is built. May import: ``sloguard.sdk``,
``conventions``, ``errors``.
"""

from __future__ import annotations

from sloguard.sdk.a2a.extension import TraceabilityExtension, wrap_client, wrap_executor

__all__ = ["TraceabilityExtension", "wrap_client", "wrap_executor"]
