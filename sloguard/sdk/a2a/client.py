"""The caller's side of A2A traceability: a traced a2a-sdk ``Client`` (and ``ClientFactory``).

Every ``send_message`` of a traced client

1. opens an AGENT step for the remote agent in the caller's current trace (named by the agent
   card, ``agent_url`` set, so the OTel bridge makes it a CLIENT span); it is the current step
   only while the underlying client runs, never in the consumer's code between responses;
2. requests the extension (``A2A-Extensions: <URI>`` through the call's ``service_parameters``;
   a2a-sdk's 0.3-compat transports also send ``X-A2A-Extensions``) and sends the caller's trace
   context as ``{"trace_id", "parent_step_id"}`` under the metadata key of the request, so the
   callee's trace shares the trace id and hangs under this step;
3. reads the callee's ResponseTrace from the responses and, when the stream ends, nests it as the
   step's ``response_trace`` (the spec's ``agent_invocation``).

The step and what it records (the counting rule of :mod:`sloguard.sdk.a2a.extension`) are
:class:`~sloguard.sdk.a2a.call.RemoteCall`; this module is the a2a-sdk side: the wrapped
``Client`` and ``ClientFactory`` and :func:`wrap`.

Example::

    factory = wrap_client(ClientFactory(ClientConfig(httpx_client=http)))
    client = await factory.create_from_url("https://weather.example")
    async with workflow("trip"):
        async for response in client.send_message(request):
            ...
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from sloguard.errors import MissingExtra
from sloguard.sdk.context import current_step_var

try:
    from a2a.client import Client, ClientCallContext, ClientFactory
    from a2a.client.service_parameters import ServiceParametersFactory, with_a2a_extensions
    from a2a.types.a2a_pb2 import (
        AgentCard,
        CancelTaskRequest,
        DeleteTaskPushNotificationConfigRequest,
        GetExtendedAgentCardRequest,
        GetTaskPushNotificationConfigRequest,
        GetTaskRequest,
        ListTaskPushNotificationConfigsRequest,
        ListTaskPushNotificationConfigsResponse,
        ListTasksRequest,
        ListTasksResponse,
        SendMessageRequest,
        StreamResponse,
        SubscribeToTaskRequest,
        Task,
        TaskPushNotificationConfig,
    )
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtra("A2A traceability", "a2a", "a2a-sdk") from exc

from sloguard.sdk.a2a.call import RemoteCall, record_remote_call
from sloguard.sdk.a2a.protocol import METADATA_KEY, URI, Traceability

if TYPE_CHECKING:
    from a2a.client.client_factory import TransportProducer
    from a2a.client.interceptors import ClientCallInterceptor

__all__ = ["TracedClient", "TracedClientFactory", "record_remote_call", "wrap"]


def _card_of(client: Client) -> AgentCard | None:
    """The agent card an a2a-sdk ``BaseClient`` was made for (best effort: a private field)."""
    card = getattr(client, "_card", None)
    return card if isinstance(card, AgentCard) else None


class TracedClient(Client):
    """An a2a ``Client`` whose ``send_message`` calls are traced (see module doc)."""

    def __init__(
        self,
        inner: Client,
        extension: Traceability,
        *,
        agent_card: AgentCard | None = None,
        agent_name: str | None = None,
    ) -> None:
        super().__init__()
        self.inner = inner
        self.extension = extension
        self.agent_card = agent_card if agent_card is not None else _card_of(inner)
        self.agent_name = agent_name

    def _context(self, context: ClientCallContext | None) -> ClientCallContext:
        """The call's context, asking for the extension (the caller's object is not changed)."""
        base = context if context is not None else ClientCallContext()
        params = ServiceParametersFactory.create_from(
            base.service_parameters, [with_a2a_extensions([URI])]
        )
        return base.model_copy(update={"service_parameters": params})

    def _target(self) -> tuple[str | None, str | None]:
        card = self.agent_card
        name = self.agent_name or (card.name if card is not None and card.name else None)
        url = (
            card.supported_interfaces[0].url
            if card is not None and card.supported_interfaces
            else None
        )
        return name, url or None

    async def send_message(
        self,
        request: SendMessageRequest,
        *,
        context: ClientCallContext | None = None,
    ) -> AsyncGenerator[StreamResponse, None]:
        """Send ``request`` inside an AGENT step and fold the callee's trace into it."""
        name, url = self._target()
        call = RemoteCall(self.extension, name, url)
        record = call.record
        stream: AsyncIterator[StreamResponse] | None = None
        error: BaseException | None = None
        try:
            outgoing = SendMessageRequest()
            outgoing.CopyFrom(request)
            outgoing.metadata[METADATA_KEY] = {
                "trace_id": record.trace_id,
                "parent_step_id": record.step_id,
            }
            stream = self.inner.send_message(outgoing, context=self._context(context))
            while True:
                token = current_step_var.set(record)
                try:
                    response = await anext(stream)
                except StopAsyncIteration:
                    break
                finally:
                    current_step_var.reset(token)
                call.observe(response)
                yield response
        except GeneratorExit:  # the consumer stopped early: not an error of the call
            raise
        except BaseException as exc:
            error = exc
            raise
        finally:
            try:
                aclose = getattr(stream, "aclose", None)
                if aclose is not None:
                    await aclose()
            finally:
                call.close(error)

    async def get_task(
        self, request: GetTaskRequest, *, context: ClientCallContext | None = None
    ) -> Task:
        """Delegate to the wrapped client."""
        return await self.inner.get_task(request, context=self._context(context))

    async def list_tasks(
        self, request: ListTasksRequest, *, context: ClientCallContext | None = None
    ) -> ListTasksResponse:
        """Delegate to the wrapped client."""
        return await self.inner.list_tasks(request, context=self._context(context))

    async def cancel_task(
        self, request: CancelTaskRequest, *, context: ClientCallContext | None = None
    ) -> Task:
        """Delegate to the wrapped client."""
        return await self.inner.cancel_task(request, context=self._context(context))

    async def create_task_push_notification_config(
        self, request: TaskPushNotificationConfig, *, context: ClientCallContext | None = None
    ) -> TaskPushNotificationConfig:
        """Delegate to the wrapped client."""
        return await self.inner.create_task_push_notification_config(
            request, context=self._context(context)
        )

    async def get_task_push_notification_config(
        self,
        request: GetTaskPushNotificationConfigRequest,
        *,
        context: ClientCallContext | None = None,
    ) -> TaskPushNotificationConfig:
        """Delegate to the wrapped client."""
        return await self.inner.get_task_push_notification_config(
            request, context=self._context(context)
        )

    async def list_task_push_notification_configs(
        self,
        request: ListTaskPushNotificationConfigsRequest,
        *,
        context: ClientCallContext | None = None,
    ) -> ListTaskPushNotificationConfigsResponse:
        """Delegate to the wrapped client."""
        return await self.inner.list_task_push_notification_configs(
            request, context=self._context(context)
        )

    async def delete_task_push_notification_config(
        self,
        request: DeleteTaskPushNotificationConfigRequest,
        *,
        context: ClientCallContext | None = None,
    ) -> None:
        """Delegate to the wrapped client."""
        await self.inner.delete_task_push_notification_config(
            request, context=self._context(context)
        )

    async def subscribe(
        self, request: SubscribeToTaskRequest, *, context: ClientCallContext | None = None
    ) -> AsyncGenerator[StreamResponse, None]:
        """Delegate to the wrapped client (a resubscription is not a new call)."""
        async for response in self.inner.subscribe(request, context=self._context(context)):
            yield response

    async def get_extended_agent_card(
        self,
        request: GetExtendedAgentCardRequest,
        *,
        context: ClientCallContext | None = None,
        signature_verifier: Callable[[AgentCard], None] | None = None,
    ) -> AgentCard:
        """Delegate to the wrapped client and name later calls after the card it returns."""
        card = await self.inner.get_extended_agent_card(
            request, context=self._context(context), signature_verifier=signature_verifier
        )
        self.agent_card = card
        return card

    async def add_interceptor(self, interceptor: ClientCallInterceptor) -> None:
        """Add an interceptor to the wrapped client."""
        await self.inner.add_interceptor(interceptor)

    async def close(self) -> None:
        """Close the wrapped client."""
        await self.inner.close()


class TracedClientFactory(ClientFactory):
    """A ``ClientFactory`` whose clients are :class:`TracedClient` (delegates to another)."""

    def __init__(  # the wrapped factory holds the configuration and transports
        self,
        inner: ClientFactory,
        extension: Traceability,
        *,
        agent_name: str | None = None,
    ) -> None:
        self.inner = inner
        self.extension = extension
        self.agent_name = agent_name

    def register(self, label: str, generator: TransportProducer) -> None:
        """Register a transport on the wrapped factory."""
        self.inner.register(label, generator)

    def create(
        self, card: AgentCard, interceptors: list[ClientCallInterceptor] | None = None
    ) -> Client:
        """Create a traced client for ``card``."""
        return TracedClient(
            self.inner.create(card, interceptors),
            self.extension,
            agent_card=card,
            agent_name=self.agent_name,
        )

    async def create_from_url(
        self,
        url: str,
        interceptors: list[ClientCallInterceptor] | None = None,
        relative_card_path: str | None = None,
        resolver_http_kwargs: dict[str, Any] | None = None,
        signature_verifier: Callable[[AgentCard], None] | None = None,
    ) -> Client:
        """Resolve the agent card at ``url`` and create a traced client for it."""
        client = await self.inner.create_from_url(
            url,
            interceptors,
            relative_card_path=relative_card_path,
            resolver_http_kwargs=resolver_http_kwargs,
            signature_verifier=signature_verifier,
        )
        return TracedClient(client, self.extension, agent_name=self.agent_name)


def wrap(
    client: Client | ClientFactory,
    extension: Traceability,
    *,
    agent_name: str | None = None,
) -> Client | ClientFactory:
    """Return ``client`` (an a2a ``Client`` or ``ClientFactory``) traced by ``extension``."""
    if isinstance(client, TracedClient | TracedClientFactory):
        return client
    if isinstance(client, ClientFactory):
        return TracedClientFactory(client, extension, agent_name=agent_name)
    if isinstance(client, Client):
        return TracedClient(client, extension, agent_name=agent_name)
    raise TypeError(f"expected an a2a Client or ClientFactory, got {type(client).__name__}")
