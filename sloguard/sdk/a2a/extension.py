"""A2A traceability (seed 001, DESIGN §5) for a2a-sdk ≥ 1.0 agents and clients.

:class:`TraceabilityExtension` advertises the extension on an agent card and wraps both ends of
an A2A call:

- :func:`wrap_executor` (agent side, :mod:`sloguard.sdk.a2a.server`): every ``execute`` runs in
  an AGENT step, so decorated tools and nested steps in the executor join one trace (the agent
  card's name, else the executor's class, names it). Metrics are recorded on **every** request;
  the trace is attached to the response **only when the request asks for the extension**
  (``A2A-Extensions`` — a2a-sdk ≥ 1.0 — or ``X-A2A-Extensions`` — 0.3 — header listing
  :data:`URI`). It rides as ``ResponseTrace.as_dict()`` under :data:`METADATA_KEY` in the
  metadata of the events that end the exchange: a ``Message``; a ``Task`` or
  ``TaskStatusUpdateEvent`` in a terminal or interrupted state (the request handler merges the
  latter into ``Task.metadata``); a ``TaskArtifactUpdateEvent`` with ``last_chunk``. Those events
  pass through at once with a snapshot in which the still-open agent step is ended "now" (so
  streaming and ``return_immediately`` behave as without the wrapper). a2a-sdk 1.x has no
  "activated extensions" response header; the URI is added to ``Message.extensions`` /
  ``Artifact.extensions`` of the events that carry a trace instead (and, when a server exposes
  0.3's ``add_activated_extension``, that is called too).
- :func:`wrap_client` (caller, in :mod:`sloguard.sdk.a2a.client`): requests the extension, sends
  the caller's trace context, and folds the callee's trace into the caller's trace.

Counting rule (no call is counted twice): a trace produced by :func:`wrap_executor` marks its
root step with :data:`RECORDED_ATTR`, meaning "the callee's sloguard already recorded these
steps". For such a trace the caller records only the handoff (caller → callee); otherwise (a
callee without sloguard, e.g. the sample library, or no trace at all) the caller records the
call of the remote agent as it saw it, plus the callee's own usage and inner steps.

Example::

    ext = TraceabilityExtension()
    card = AgentCard(name="Weather Agent", ..., capabilities=AgentCapabilities(
        extensions=[ext.agent_extension()]))
    handler = DefaultRequestHandler(
        agent_executor=ext.wrap_executor(WeatherExecutor(), agent_card=card),
        task_store=InMemoryTaskStore(), agent_card=card)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, overload

from sloguard.sdk.a2a.client import wrap
from sloguard.sdk.a2a.protocol import (
    HEADER,
    LEGACY_HEADER,
    METADATA_KEY,
    RECORDED_ATTR,
    URI,
    Traceability,
    requested_extensions,
    trace_from,
)
from sloguard.sdk.a2a.server import TracingAgentExecutor
from sloguard.sdk.telemetry import Telemetry

if TYPE_CHECKING:
    from a2a.client import Client, ClientFactory
    from a2a.server.agent_execution import AgentExecutor
    from a2a.types.a2a_pb2 import AgentCard

__all__ = [
    "HEADER",
    "LEGACY_HEADER",
    "METADATA_KEY",
    "RECORDED_ATTR",
    "URI",
    "TraceabilityExtension",
    "requested_extensions",
    "trace_from",
    "wrap_client",
    "wrap_executor",
]


class TraceabilityExtension(Traceability):
    """The A2A traceability extension: agent-card entry, activation check, wrappers.

    Example::

        ext = TraceabilityExtension(telemetry=telemetry)
        card.capabilities.extensions.append(ext.agent_extension())
        executor = ext.wrap_executor(MyExecutor(), agent_card=card)
        client = ext.wrap_client(ClientFactory(config))   # or an a2a Client
    """

    def wrap_executor(
        self,
        executor: AgentExecutor,
        *,
        agent_card: AgentCard | None = None,
        name: str | None = None,
    ) -> TracingAgentExecutor:
        """Return ``executor`` traced; the step is named ``name``, the card's name or the class."""
        if isinstance(executor, TracingAgentExecutor):
            return executor
        step_name = (
            name or (agent_card.name if agent_card is not None else "") or type(executor).__name__
        )
        return TracingAgentExecutor(executor, self, step_name)

    @overload
    def wrap_client(
        self, client: ClientFactory, *, agent_name: str | None = None
    ) -> ClientFactory: ...

    @overload
    def wrap_client(self, client: Client, *, agent_name: str | None = None) -> Client: ...

    def wrap_client(
        self, client: Client | ClientFactory, *, agent_name: str | None = None
    ) -> Client | ClientFactory:
        """Return a client (or factory of clients) whose calls are traced.

        See :mod:`sloguard.sdk.a2a.client`.
        """
        return wrap(client, self, agent_name=agent_name)



# --- module-level shortcuts ---------------------------------------------------------------------
def wrap_executor(
    executor: AgentExecutor,
    *,
    telemetry: Telemetry | None = None,
    agent_card: AgentCard | None = None,
    name: str | None = None,
) -> TracingAgentExecutor:
    """Return ``executor`` traced (see :class:`TraceabilityExtension`)."""
    return TraceabilityExtension(telemetry=telemetry).wrap_executor(
        executor, agent_card=agent_card, name=name
    )


@overload
def wrap_client(
    client_or_factory: ClientFactory,
    *,
    telemetry: Telemetry | None = None,
    agent_name: str | None = None,
) -> ClientFactory: ...


@overload
def wrap_client(
    client_or_factory: Client, *, telemetry: Telemetry | None = None, agent_name: str | None = None
) -> Client: ...


def wrap_client(
    client_or_factory: Client | ClientFactory,
    *,
    telemetry: Telemetry | None = None,
    agent_name: str | None = None,
) -> Client | ClientFactory:
    """Return a traced a2a ``Client`` (or a ``ClientFactory`` making traced clients)."""
    return TraceabilityExtension(telemetry=telemetry).wrap_client(
        client_or_factory, agent_name=agent_name
    )
