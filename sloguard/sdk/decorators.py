"""``trace_agent_call`` / ``trace_tool_call``: a step around every call of a function (seed 001).

They handle plain functions, coroutine functions, and (async) generator functions explicitly:
a coroutine is timed until it finishes, not until it is created, and a generator's step spans
its whole iteration while the step is current only while the generator body runs (so it never
leaks into the consumer's context). Signatures are preserved (``functools.wraps``); both work
bare (``@trace_agent_call``) or with arguments (``@trace_tool_call(name="search")``).

Example::

    @trace_agent_call
    async def researcher(topic: str) -> str:
        return await web_search(topic)

    @trace_tool_call(name="web_search")
    async def web_search(query: str) -> list[str]: ...
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, TypeVar, overload

from sloguard.conventions import CallType
from sloguard.sdk.context import current_step_var
from sloguard.sdk.step import TraceStep
from sloguard.sdk.telemetry import Telemetry

F = TypeVar("F", bound=Callable[..., Any])

_SKIP_PARAMS = frozenset({"self", "cls"})

#: Opens the step of one call from the call's arguments.
_MakeStep = Callable[[tuple[Any, ...], dict[str, Any]], TraceStep]


def _params_of(
    sig: inspect.Signature | None, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any] | None:
    if sig is None:
        return None
    try:
        bound = sig.bind_partial(*args, **kwargs)
    except TypeError:
        return None
    return {k: v for k, v in bound.arguments.items() if k not in _SKIP_PARAMS}


def _wrap(
    func: F,
    call_type: CallType,
    name: str | None,
    capture_args: bool,
    telemetry: Telemetry | None,
    agent_type: str | None,
) -> F:
    step_name = name or func.__name__
    try:
        sig = inspect.signature(func) if capture_args else None
    except (TypeError, ValueError):
        sig = None

    def make(args: tuple[Any, ...], kwargs: dict[str, Any]) -> TraceStep:
        return TraceStep(
            None,
            call_type,
            step_name,
            parameters=_params_of(sig, args, kwargs),
            agent_type=agent_type,
            telemetry=telemetry,
        )

    if inspect.isasyncgenfunction(func):
        return _wrap_async_generator(func, make)
    if inspect.iscoroutinefunction(func):
        return _wrap_coroutine(func, make)
    if inspect.isgeneratorfunction(func):
        return _wrap_generator(func, make)
    return _wrap_function(func, make)


def _wrap_async_generator(func: F, make: _MakeStep) -> F:
    """The step spans the whole iteration; it is current only while the body runs."""

    @functools.wraps(func)
    async def agen_wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        step = make(args, kwargs)
        record = step.open(activate=False)
        gen = func(*args, **kwargs)
        error: BaseException | None = None
        try:
            sent: Any = None
            thrown: BaseException | None = None
            while True:
                token = current_step_var.set(record)
                try:
                    item = await (gen.asend(sent) if thrown is None else gen.athrow(thrown))
                except StopAsyncIteration:
                    break
                finally:
                    current_step_var.reset(token)
                try:
                    sent, thrown = (yield item), None
                except GeneratorExit:
                    raise
                except BaseException as exc:  # athrow() from the consumer: into the body
                    sent, thrown = None, exc
        except GeneratorExit:
            await gen.aclose()  # consumer stopped early: not an error of the step
            raise
        except BaseException as exc:
            error = exc
            raise
        finally:
            step.close(error)

    return agen_wrapper  # type: ignore[return-value]


def _wrap_coroutine(func: F, make: _MakeStep) -> F:
    """The step spans the awaited call, not just the creation of the coroutine."""

    @functools.wraps(func)
    async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
        async with make(args, kwargs):
            return await func(*args, **kwargs)

    return async_wrapper  # type: ignore[return-value]


def _wrap_generator(func: F, make: _MakeStep) -> F:
    """The step spans the whole iteration; it is current only while the body runs."""

    @functools.wraps(func)
    def gen_wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        step = make(args, kwargs)
        record = step.open(activate=False)
        error: BaseException | None = None
        try:
            token = current_step_var.set(record)
            try:
                gen = func(*args, **kwargs)
            finally:
                current_step_var.reset(token)
            return (yield from _stepped(gen, record))
        except GeneratorExit:
            raise
        except BaseException as exc:
            error = exc
            raise
        finally:
            step.close(error)

    return gen_wrapper  # type: ignore[return-value]


def _wrap_function(func: F, make: _MakeStep) -> F:
    @functools.wraps(func)
    def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
        with make(args, kwargs):
            return func(*args, **kwargs)

    return sync_wrapper  # type: ignore[return-value]


def _stepped(gen: Generator[Any, Any, Any], record: Any) -> Generator[Any, Any, Any]:
    """Run ``gen`` with ``record`` current only while its body executes."""
    sent: Any = None
    while True:
        token = current_step_var.set(record)
        try:
            item = gen.send(sent)
        except StopIteration as stop:
            return stop.value
        finally:
            current_step_var.reset(token)
        try:
            sent = yield item
        except GeneratorExit:
            gen.close()
            raise


class _StepDecorator:
    """Decorator usable bare or with keyword arguments."""

    def __init__(self, call_type: CallType) -> None:
        self.call_type = call_type

    @overload
    def __call__(self, func: F, /) -> F: ...

    @overload
    def __call__(
        self,
        func: None = None,
        /,
        *,
        name: str | None = None,
        capture_args: bool = True,
        telemetry: Telemetry | None = None,
        agent_type: str | None = None,
    ) -> Callable[[F], F]: ...

    def __call__(
        self,
        func: F | None = None,
        /,
        *,
        name: str | None = None,
        capture_args: bool = True,
        telemetry: Telemetry | None = None,
        agent_type: str | None = None,
    ) -> F | Callable[[F], F]:
        if func is not None:
            return _wrap(func, self.call_type, name, capture_args, telemetry, agent_type)

        def apply(f: F) -> F:
            return _wrap(f, self.call_type, name, capture_args, telemetry, agent_type)

        return apply


#: Trace every call of the decorated function as an AGENT step (seed 001 ``trace_agent_call``).
trace_agent_call = _StepDecorator(CallType.AGENT)
#: Trace every call of the decorated function as a TOOL step (seed 000/001 ``trace_tool_call``).
trace_tool_call = _StepDecorator(CallType.TOOL)
