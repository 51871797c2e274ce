"""A small async multi-agent system instrumented with the sloguard SDK.

A supervisor hands a research task to two workers that run concurrently; the researcher calls a
search tool, the analyst calls a database tool that fails (and falls back), and a fact-checker
agent fails outright. Every step becomes metrics, and the trace shows who called whom.

Run it against a running ``sloguard run`` daemon? Not needed: it serves its own ``/metrics``::

    python examples/multi_agent.py            # one workflow, prints the trace and the metrics
    python examples/multi_agent.py --serve 9465 --loops 100
"""

from __future__ import annotations

import argparse
import asyncio

from sloguard import (
    ResponseTrace,
    add_usage,
    analyze_trace_performance,
    trace_agent_call,
    trace_tool_call,
    workflow,
)


class DatabaseDown(ConnectionError):
    """The analyst's database is unreachable."""


class UnverifiableClaim(ValueError):
    """The fact-checker cannot verify the draft."""


@trace_tool_call
async def web_search(query: str, api_key: str = "sk-demo") -> list[str]:
    """Pretend to search the web (the api_key parameter is redacted in the trace)."""
    await asyncio.sleep(0)
    return [f"result about {query}"]


@trace_tool_call(name="sql_query")
async def query_database(sql: str) -> list[dict[str, int]]:
    """A database that is down."""
    await asyncio.sleep(0)
    raise DatabaseDown("connection refused")


@trace_agent_call
async def researcher(topic: str) -> str:
    """Search, then summarise with an LLM."""
    hits = await web_search(topic, api_key="sk-live-123")
    add_usage(model="gpt-4o", input_tokens=120, output_tokens=40, cost=0.0021)
    return f"notes on {topic}: {len(hits)} sources"


@trace_agent_call
async def analyst(topic: str) -> str:
    """Query the database; on failure fall back to a cheaper model's estimate."""
    try:
        rows = await query_database(f"select count(*) from facts where topic = '{topic}'")
    except DatabaseDown:
        rows = []
    add_usage(model="gpt-4o-mini", input_tokens=60, output_tokens=20, cost=0.0)
    return f"analysis of {topic}: {len(rows)} rows"


@trace_agent_call(name="fact_checker")
async def fact_check(draft: str) -> str:
    """Always fails: the claim cannot be verified."""
    await asyncio.sleep(0)
    raise UnverifiableClaim(f"cannot verify: {draft[:20]}")


@trace_agent_call
async def supervisor(task: str) -> str:
    """Fan out to two workers concurrently, then try to fact-check the draft."""
    notes, analysis = await asyncio.gather(researcher(task), analyst(task))
    draft = f"{notes} / {analysis}"
    try:
        await fact_check(draft)
    except UnverifiableClaim:
        draft += " (unverified)"
    return draft


async def run_workflow(task: str, workflow_id: str | None = None) -> ResponseTrace:
    """Run one workflow and return its trace."""
    async with workflow("research", workflow_id) as root:
        await supervisor(task)
    assert root.trace is not None
    return root.trace


def _print_tree(trace: ResponseTrace) -> None:
    def show(parent: str | None, depth: int) -> None:
        for s in trace.children(parent):
            status = "error" if s.failed else "ok"
            print(f"{'  ' * depth}{s.call_type.value:5} {s.name} [{status}] {s.latency}ms")
            show(s.step_id, depth + 1)

    show(None, 0)


async def _main(loops: int) -> ResponseTrace:
    trace = ResponseTrace()
    for i in range(loops):
        trace = await run_workflow("agent observability", f"wf-{i}")
    return trace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--loops", type=int, default=1)
    parser.add_argument("--serve", type=int, metavar="PORT", help="serve /metrics on PORT")
    args = parser.parse_args()
    if args.serve:
        from prometheus_client import start_http_server

        start_http_server(args.serve, addr="127.0.0.1")
    trace = asyncio.run(_main(args.loops))
    _print_tree(trace)
    print(analyze_trace_performance(trace).as_dict())
    if not args.serve:
        from prometheus_client import REGISTRY, generate_latest

        print(generate_latest(REGISTRY).decode())


if __name__ == "__main__":
    main()
