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

Metrics follow the counting rule of :mod:`sloguard.sdk.a2a`: when the callee's trace says its
sloguard recorded it (:data:`~sloguard.sdk.a2a.RECORDED_ATTR`), the caller records only the
handoff; otherwise it records the remote agent's call (latency as seen by the caller, error on a
raised exception or a failed task), the remote agent's own usage and the callee's inner steps.
The ``active_agents`` gauge is left to the process that runs the agent.

Example::

    factory = wrap_client(ClientFactory(ClientConfig(httpx_client=http)))
    client = await factory.create_from_url("https://weather.example")
    async with workflow("trip"):
        async for response in client.send_message(request):
            ...
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from sloguard.conventions import UNKNOWN_VALUE, CallType
from sloguard.errors import MissingExtra, SloguardError, TraceError
from sloguard.sdk.context import current_step_var, current_trace
from sloguard.sdk.feed import feed_step
from sloguard.sdk.telemetry import Telemetry, current_telemetry
from sloguard.sdk.trace import ResponseTrace, TraceRecord
from sloguard.sdk.traceparse import resolve_scopes

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

from sloguard.sdk.a2a import (
    CONTEXT_ID_ATTR,
    FAILED_STATE,
    METADATA_KEY,
    RECORDED_ATTR,
    TASK_FAILED,
    TASK_ID_ATTR,
    URI,
    TraceabilityExtension,
    trace_from,
)

if TYPE_CHECKING:
    from a2a.client.client_factory import TransportProducer
    from a2a.client.interceptors import ClientCallInterceptor

__all__ = ["TracedClient", "TracedClientFactory", "record_remote_call", "wrap"]

_log = logging.getLogger("sloguard.sdk.a2a")


def _notify(callback: Callable[[Any], None], arg: Any) -> None:
    try:
        callback(arg)
    except Exception:  # a listener never breaks the caller
        _log.exception("sloguard: step listener %r failed", callback)


def record_remote_call(telemetry: Telemetry, step: TraceRecord) -> None:
    """Record a completed remote agent call (``step.response_trace`` = the callee's trace).

    A callee trace marked :data:`~sloguard.sdk.a2a.RECORDED_ATTR` was counted by the callee:
    only the handoff is recorded here. Otherwise the call itself, the callee's root usage and
    its inner steps are recorded (the callee's root AGENT steps *are* this call: never twice).
    """
    recorder, exemplars = telemetry.recorder, telemetry.exemplars
    remote = step.response_trace
    roots = remote.children(None) if remote is not None else []
    if any(s.additional_attributes.get(RECORDED_ATTR) for s in roots):
        if step.scope_agent is not None and step.scope_agent != step.name:
            recorder.handoff(step.scope_agent, step.name)
        return
    feed_step(recorder, step, exemplars=exemplars)
    if remote is None:
        return
    same_call = {s.step_id for s in roots if s.call_type is CallType.AGENT}
    for s in remote.walk():
        if s.step_id not in same_call or s.trace is not remote:
            feed_step(recorder, s, exemplars=exemplars)
        elif s.cost is not None or s.total_tokens is not None:
            recorder.usage(
                s.name,
                s.model,
                input_tokens=s.input_tokens,
                output_tokens=s.output_tokens,
                total_tokens=s.total_tokens,
                cost=s.cost,
            )


class _Invocation:
    """The caller's AGENT step for one remote call."""

    __slots__ = ("extension", "failed", "named", "record", "remote", "telemetry", "trace")

    def __init__(self, extension: TraceabilityExtension, name: str | None, url: str | None) -> None:
        self.extension = extension
        self.telemetry = extension.telemetry or current_telemetry()
        self.trace = current_trace() or ResponseTrace()
        self.named = name is not None
        record = TraceRecord(
            CallType.AGENT,
            name or UNKNOWN_VALUE,
            trace=self.trace,
            redactor=self.telemetry.redactor,
        )
        record._managed = True  # this class ends it: end_step() must not record metrics itself
        record.agent_url = url
        self.record = record
        self.remote: ResponseTrace | None = None
        self.failed = False
        for listener in self.telemetry.listeners:
            _notify(listener.step_started, record)

    def observe(self, response: StreamResponse) -> None:
        """Take the callee's trace, task ids and task state from one response."""
        try:
            found = trace_from(response, max_steps=self.extension.max_steps)
        except TraceError as err:  # a bad trace from a remote agent never breaks the caller
            _log.warning("sloguard: ignored the trace of %r: %s", self.record.name, err)
            found = None
        if found is not None and (
            self.remote is None or len(found.steps) >= len(self.remote.steps)
        ):
            self.remote = found
        task: Task | None = response.task if response.HasField("task") else None
        state = None
        if task is not None:
            state, task_id, context_id = task.status.state, task.id, task.context_id
        elif response.HasField("status_update"):
            update = response.status_update
            state, task_id, context_id = update.status.state, update.task_id, update.context_id
        elif response.HasField("message"):
            task_id, context_id = response.message.task_id, response.message.context_id
        else:
            task_id, context_id = "", ""
        if state == FAILED_STATE:
            self.failed = True
        attrs = self.record.additional_attributes
        if task_id:
            attrs[TASK_ID_ATTR] = task_id
        if context_id:
            attrs[CONTEXT_ID_ATTR] = context_id

    def close(self, exc: BaseException | None) -> None:
        """End the step, nest the callee's trace, record metrics, tell the listeners."""
        record, telemetry = self.record, self.telemetry
        record.end_step(error=exc)
        record.stop_clock()
        if self.failed and not record.failed:
            record.error_type = TASK_FAILED
            record.set_error("A2A task failed")
        remote = self.remote
        if remote is not None:
            agents = [s for s in remote.children(None) if s.call_type is CallType.AGENT]
            if not self.named and agents:
                record.name = agents[-1].name
            resolve_scopes(remote, record.name, record.scope_host)
            record.response_trace = remote
        self.trace.add_step(record)
        try:
            record_remote_call(telemetry, record)
        except SloguardError as err:  # never let metrics break the caller
            _log.warning("sloguard: remote call %r not recorded: %s", record.name, err)
        if not telemetry.listeners:
            return
        if exc is not None:
            record.ext["exception"] = exc
        try:
            for listener in telemetry.listeners:
                _notify(listener.step_ended, record)
        finally:
            record.ext.pop("exception", None)
        if record.parent_step_id is None:
            for listener in telemetry.listeners:
                _notify(listener.trace_ended, self.trace)


def _card_of(client: Client) -> AgentCard | None:
    """The agent card an a2a-sdk ``BaseClient`` was made for (best effort: a private field)."""
    card = getattr(client, "_card", None)
    return card if isinstance(card, AgentCard) else None


class TracedClient(Client):
    """An a2a ``Client`` whose ``send_message`` calls are traced (see module doc)."""

    def __init__(
        self,
        inner: Client,
        extension: TraceabilityExtension,
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
        call = _Invocation(self.extension, name, url)
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
        extension: TraceabilityExtension,
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
    extension: TraceabilityExtension,
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
