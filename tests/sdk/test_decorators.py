from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncGenerator, AsyncIterator, Iterator

import pytest
from prometheus_client import CollectorRegistry

from sloguard import ResponseTrace, Telemetry, trace_agent_call, trace_tool_call, workflow
from sloguard.sdk.context import current_step


@trace_tool_call
def add(a: int, b: int = 2) -> int:
    """Add two numbers."""
    return a + b


@trace_agent_call(name="planner", capture_args=False)
async def plan(goal: str) -> str:
    await asyncio.sleep(0)
    return goal.upper()


def test_signatures_and_metadata_are_preserved() -> None:
    assert add.__name__ == "add" and add.__doc__ == "Add two numbers."
    assert str(inspect.signature(add)) == "(a: 'int', b: 'int' = 2) -> 'int'"
    assert inspect.iscoroutinefunction(plan)
    assert str(inspect.signature(plan)) == "(goal: 'str') -> 'str'"


def test_sync_function(registry: CollectorRegistry, telemetry: Telemetry) -> None:
    with workflow("wf") as root:
        assert add(1) == 3
    assert root.trace is not None
    step = root.trace.steps[0]
    assert (step.name, step.parameters) == ("add", {"a": 1})
    assert (
        registry.get_sample_value(
            "agent_tool_calls_total", {"agent_name": "wf", "tool_name": "add", "status": "success"}
        )
        == 1
    )


async def test_async_function_times_the_whole_coroutine(
    registry: CollectorRegistry, telemetry: Telemetry
) -> None:
    @trace_agent_call
    async def slow() -> None:
        await asyncio.sleep(0.05)

    coro = slow()
    await asyncio.sleep(0.02)  # creating the coroutine must not start the clock
    await coro
    total = registry.get_sample_value("agent_latency_seconds_sum", {"agent_name": "slow"})
    assert total is not None and 0.045 <= total < 0.5
    assert await plan("x") == "X"
    assert (
        registry.get_sample_value(
            "agent_calls_total", {"agent_name": "planner", "status": "success"}
        )
        == 1
    )


async def test_async_exception_recorded_and_reraised(
    registry: CollectorRegistry, telemetry: Telemetry
) -> None:
    @trace_tool_call(name="flaky")
    async def flaky() -> None:
        raise RuntimeError("nope")

    @trace_agent_call
    async def agent() -> None:
        with pytest.raises(RuntimeError):
            await flaky()

    await agent()
    assert (
        registry.get_sample_value(
            "agent_tool_calls_total",
            {"agent_name": "agent", "tool_name": "flaky", "status": "error"},
        )
        == 1
    )
    assert (
        registry.get_sample_value("agent_calls_total", {"agent_name": "agent", "status": "success"})
        == 1
    )


async def test_async_generator_spans_iteration_and_does_not_leak_context(
    registry: CollectorRegistry, telemetry: Telemetry
) -> None:
    seen: list[str | None] = []

    @trace_tool_call
    async def lookup(q: str) -> str:
        return q

    @trace_agent_call
    async def streamer(n: int) -> AsyncIterator[str]:
        for i in range(n):
            step = current_step()
            seen.append(step.name if step else None)
            yield await lookup(f"chunk{i}")

    trace = ResponseTrace()
    out: list[str] = []
    async with workflow("wf") as root:
        async for chunk in streamer(3):
            # while the consumer runs, the current step is the consumer's, not the generator's
            cur = current_step()
            assert cur is not None and cur.name == "wf"
            out.append(chunk)
    assert out == ["chunk0", "chunk1", "chunk2"]
    assert seen == ["streamer"] * 3
    trace = root.trace or trace
    names = {s.name: s for s in trace.steps}
    assert names["lookup"].parent_step_id == names["streamer"].step_id
    assert names["streamer"].parent_step_id == names["wf"].step_id
    assert (
        registry.get_sample_value(
            "agent_tool_calls_total",
            {"agent_name": "streamer", "tool_name": "lookup", "status": "success"},
        )
        == 3
    )


async def test_async_generator_error_and_early_close(
    registry: CollectorRegistry, telemetry: Telemetry
) -> None:
    @trace_agent_call
    async def broken() -> AsyncIterator[int]:
        yield 1
        raise ValueError("stream broke")

    with pytest.raises(ValueError, match="stream broke"):
        async for _ in broken():
            pass

    @trace_agent_call
    async def endless() -> AsyncGenerator[int, None]:
        i = 0
        while True:
            yield i
            i += 1

    gen = endless()
    assert [await gen.__anext__() for _ in range(3)] == [0, 1, 2]
    await gen.aclose()
    get = registry.get_sample_value
    assert get("agent_calls_total", {"agent_name": "broken", "status": "error"}) == 1
    assert get("agent_calls_total", {"agent_name": "endless", "status": "success"}) == 1
    assert get("active_agents", {"agent_name": "endless"}) == 0


async def test_async_generator_asend_and_athrow_are_forwarded(telemetry: Telemetry) -> None:
    @trace_agent_call
    async def echo() -> AsyncGenerator[str, str]:
        got: str = "start"
        while True:
            try:
                got = yield got
            except KeyError:
                got = "recovered"

    gen = echo()
    assert await gen.__anext__() == "start"
    assert await gen.asend("hello") == "hello"
    assert await gen.athrow(KeyError("k")) == "recovered"
    await gen.aclose()


def test_sync_generator(registry: CollectorRegistry, telemetry: Telemetry) -> None:
    @trace_tool_call
    def pages(n: int) -> Iterator[int]:
        for i in range(n):
            step = current_step()
            assert step is not None and step.name == "pages"
            yield i

    assert list(pages(3)) == [0, 1, 2]
    assert current_step() is None
    assert (
        registry.get_sample_value(
            "agent_tool_calls_total",
            {"agent_name": "unknown", "tool_name": "pages", "status": "success"},
        )
        == 1
    )


def test_methods_skip_self_in_parameters(telemetry: Telemetry) -> None:
    class Agent:
        @trace_agent_call(name="billing")
        def handle(self, request: str, token: str) -> str:
            step = current_step()
            assert step is not None
            assert step.parameters == {"request": "refund", "token": "[REDACTED]"}
            return request

    assert Agent().handle("refund", token="t0k3n") == "refund"
