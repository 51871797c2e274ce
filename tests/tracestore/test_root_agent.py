"""The root agent of a stored trace: the outermost agent step, found with each step walked once.

A 10 000-step chain spent 3.5 of its 4 s of ingest here when every agent step walked up to the
root on its own (about 25 M set insertions); the depths are now remembered along the walk.
bench/deeptraces.py measures it (BENCHMARKS.md); these tests hold the answers.
"""

from __future__ import annotations

from sloguard.tracestore.model import root_agent
from tests.support.traces import Row, build, row


def test_a_deep_chain_listed_innermost_first_has_its_outermost_agent_as_root() -> None:
    rows: list[Row] = [row("h", None, "HOST", "host", 0, 10_000)]
    for i in range(3000):
        rows.append(row(f"s{i}", rows[-1][0], "AGENT", f"agent-{i}", i, 10))
    trace = build("deep", list(reversed(rows)))  # the SDK lists steps as they end
    assert root_agent(trace) == "agent-0"
    by_name = {st.name: st for st in trace.steps}
    assert (by_name["agent-2999"].scope_agent, by_name["agent-2999"].scope_host) == (
        "agent-2998",
        "host",
    )  # scopes resolved without recursing 3000 levels deep


def test_depths_remembered_from_one_walk_serve_the_next() -> None:
    # s2 is walked first (through s1 and s0); s1's depth must then be 2, not 0
    rows = [
        row("h", None, "HOST", "host", 0, 100),
        row("s0", "h", "AGENT", "outer", 1, 90),
        row("s1", "s0", "AGENT", "middle", 2, 80),
        row("s2", "s1", "AGENT", "inner", 3, 70),
        row("x", "h", "AGENT", "sibling", 0, 10),
    ]
    trace = build("mixed", [rows[3], rows[2], rows[1], rows[4], rows[0]])
    assert root_agent(trace) == "sibling"  # depth 1 like "outer", and started earlier


def test_a_parent_cycle_ends_the_walk() -> None:
    rows = [
        row("a", "b", "AGENT", "alpha", 5, 10),
        row("b", "a", "AGENT", "beta", 0, 10),
        row("c", None, "AGENT", "gamma", 9, 10),
    ]
    assert root_agent(build("cycle", rows)) == "gamma"  # the only step with no ancestor
