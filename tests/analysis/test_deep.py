"""Deep and long traces: every view and comparison does bounded work (issue 13, defect 4).

No timings here (those are in ``bench/deeptraces.py``): the tests bound what the work
produces or touches — characters of output, events aligned, candidates read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from sloguard import ResponseTrace
from sloguard.analysis.anomalies import MAX_LOOPS, handoff_loops, trace_anomalies
from sloguard.analysis.compare import (
    MAX_ALIGNED,
    MAX_BASELINES,
    align,
    compare,
    most_similar_successful,
)
from sloguard.analysis.views.mermaid import sequence_diagram
from sloguard.analysis.views.svg import sequence_svg
from sloguard.analysis.views.tree import MAX_DEPTH, MAX_LINES, text_tree
from tests.support.traces import Row, build, row

AGENTS = ("planner", "coder", "reviewer")


def chain_rows(n: int, agents: Sequence[str] = AGENTS, *, fail_at: int | None = None) -> list[Row]:
    """A parent chain of ``n`` steps: agent, tool, agent, tool … each inside the previous."""
    rows: list[Row] = []
    for i in range(n):
        tool = i % 2 == 1
        name = "search" if tool else agents[(i // 2) % len(agents)]
        extra = {"error": "boom"} if i == fail_at else {}
        parent = f"s{i - 1}" if i else None
        rows.append(row(f"s{i}", parent, "TOOL" if tool else "AGENT", name, i, n - i, **extra))
    return rows


def chain(trace_id: str, n: int, agents: Sequence[str] = AGENTS, **kw: int) -> ResponseTrace:
    return build(trace_id, chain_rows(n, agents, **kw))


# --- text tree ------------------------------------------------------------------------------------
def test_a_deep_chains_text_tree_is_linear_in_size_and_says_what_it_left_out() -> None:
    text = text_tree(chain("deep", 10_000))
    lines = text.splitlines()
    assert len(lines) == MAX_LINES + 1
    assert lines[-1] == f"… {10_000 - MAX_LINES} more steps not shown (at most {MAX_LINES} lines)"
    # indentation stops growing at MAX_DEPTH; deeper lines carry their depth as a number
    assert max(len(line) for line in lines) < 4 * (MAX_DEPTH + 1) + 100
    assert lines[MAX_DEPTH + 1].lstrip("│├└─ ").startswith(f"[{MAX_DEPTH + 1}] ")
    assert lines[MAX_LINES - 1].lstrip("│├└─ ").startswith(f"[{MAX_LINES - 1}] ")
    assert len(text) < MAX_LINES * (4 * (MAX_DEPTH + 1) + 100)  # was quadratic: ~200 MB


def test_the_caps_are_arguments() -> None:
    lines = text_tree(chain("deep", 40), max_depth=2, max_lines=5).splitlines()
    assert lines == [
        "planner (agent, ok, 40 ms)",
        "└── search (tool, ok, 39 ms)",
        "    └── coder (agent, ok, 38 ms)",
        "        └── [3] search (tool, ok, 37 ms)",
        "        └── [4] reviewer (agent, ok, 36 ms)",
        "… 35 more steps not shown (at most 5 lines)",
    ]
    with pytest.raises(ValueError, match="max_depth and max_lines"):
        text_tree(chain("x", 1), max_lines=0)


def test_a_shallow_tree_is_unchanged_by_the_caps() -> None:
    assert "more steps" not in text_tree(chain("short", 30))
    assert "[" not in text_tree(chain("short", 30))


# --- diagrams -------------------------------------------------------------------------------------
def test_diagrams_of_a_deep_chain_are_as_big_as_their_step_cap_allows() -> None:
    deep, short = chain("deep", 10_000), chain("short", 400)
    # 300 steps are drawn of each: the 9,600 more add one note (and longer latencies)
    assert len(sequence_diagram(deep)) <= 1.05 * len(sequence_diagram(short))
    assert len(sequence_svg(deep)) <= 1.05 * len(sequence_svg(short))


# --- comparison -----------------------------------------------------------------------------------
def test_two_long_runs_differing_all_along_are_compared_up_to_the_cap() -> None:
    a = chain("a", 3000)
    b = chain("b", 3000, ("planner", "coder", "tester"))  # every third agent differs
    c = compare(a, b)
    assert c.truncated
    assert c.as_dict()["truncated"] is True
    assert 0 < c.divergence_count <= 2 * MAX_ALIGNED
    assert c.first_divergence is not None and c.first_divergence.index_a < MAX_ALIGNED
    assert 0 < c.similarity < 1  # a lower bound: what was matched of all events


def test_long_runs_alike_but_one_step_are_compared_exactly() -> None:
    a = chain("a", 10_000)
    b = chain("b", 10_000, fail_at=6001)  # one tool call fails deep down
    c = compare(a, b)
    assert not c.truncated
    kinds = {d.kind.value for d in c.differences}
    assert kinds == {"outcome"}  # the tool and every agent above it fail in b
    assert c.first_divergence is not None
    assert c.first_divergence.event_b is not None
    assert c.first_divergence.event_b.type.value == "tool_failed"
    assert c.similarity > 0.9


def test_alignment_work_is_bounded() -> None:
    a = [("x", str(i % 3), "") for i in range(20_000)]
    b = [("x", str(i % 4), "") for i in range(20_000)]
    found = align(a, b)
    assert found.truncated
    assert found.aligned <= 2 * MAX_ALIGNED
    short = align(a[:10], b[:10])  # short sequences: the matcher sees all, as before
    assert not short.truncated and short.aligned == 20
    same = align(a, a)
    assert same.opcodes == () and same.ratio(2 * len(a)) == 1.0
    assert same.aligned <= 2 * MAX_ALIGNED


def test_the_baseline_search_reads_at_most_max_baselines_candidates() -> None:
    failed = chain("failed", 20, fail_at=7)
    pulled = 0

    def candidates() -> Iterator[ResponseTrace]:
        nonlocal pulled
        for i in range(3 * MAX_BASELINES):
            pulled += 1
            yield chain(f"ok-{i}", 20)

    base = most_similar_successful(failed, candidates())
    assert base is not None and base.trace.trace_id == "ok-0"
    assert pulled == MAX_BASELINES
    assert most_similar_successful(failed, [chain("ok", 20)], max_baselines=1) is not None
    with pytest.raises(ValueError, match="max_baselines"):
        most_similar_successful(failed, [], max_baselines=0)


# --- anomalies ------------------------------------------------------------------------------------
def test_a_chain_of_ever_new_handoff_loops_reports_the_first_max_loops() -> None:
    # A → B1 → A → B3 → A …: every loop is new, and each was checked against all before it
    rows = [
        row(f"s{i}", f"s{i - 1}" if i else None, "AGENT", "A" if i % 2 == 0 else f"B{i}", i, 1)
        for i in range(8000)
    ]
    loops = handoff_loops(build("loops", rows))
    assert len(loops) == MAX_LOOPS
    assert loops[0].path == ("A", "B1", "A")
    assert loops[-1].path == ("A", f"B{2 * MAX_LOOPS - 1}", "A")
    assert len(trace_anomalies(build("loops", rows))) == MAX_LOOPS
    assert handoff_loops(build("loops", rows[:9]), max_loops=2) == loops[:2]
    with pytest.raises(ValueError, match="max_loops"):
        handoff_loops(build("loops", rows[:3]), max_loops=-1)
