"""FakeSource: canned counts per (SLO, window) or from a callable, failures, closing."""

from __future__ import annotations

import pytest

from sloguard.durations import HOUR, MINUTE
from sloguard.slo.budget import Counts
from sloguard.slo.spec import SLO
from sloguard.sources.base import QueryError, SLISource, WindowCounts
from sloguard.sources.fake import FakeSource
from tests.support.slos import make_slo

T0 = 1_800_000_000.0
BILLING = (("agent_name", "billing"),)
SEARCH = (("agent_name", "search"),)
GROUPED = make_slo("calls", group_by=("agent_name",))
UNGROUPED = make_slo("all calls")


def test_is_an_sli_source() -> None:
    source: SLISource = FakeSource(resolution=30)
    assert source.resolution == 30.0


async def test_answers_from_the_table_per_slo_and_window() -> None:
    source = FakeSource(
        {
            ("calls", HOUR): {BILLING: Counts(5, 100), SEARCH: Counts(0, 50)},
            ("calls", 5 * MINUTE): {BILLING: Counts(1, 10)},
            ("all calls", HOUR): Counts(5, 150),  # a bare Counts: the one ungrouped instance
        }
    )
    assert await source.window_counts(GROUPED, HOUR, T0) == {
        BILLING: Counts(5, 100),
        SEARCH: Counts(0, 50),
    }
    assert await source.window_counts(GROUPED, 300, T0) == {BILLING: Counts(1, 10)}
    assert await source.window_counts(UNGROUPED, 3600, T0) == {(): Counts(5, 150)}
    # nothing for this window or SLO: no data, as a real source says of missing series
    assert await source.window_counts(GROUPED, 6 * HOUR, T0) == {}
    assert await source.window_counts(make_slo("other"), HOUR, T0) == {}
    assert source.queries == (
        ("calls", HOUR, T0),
        ("calls", 300, T0),
        ("all calls", 3600, T0),
        ("calls", 6 * HOUR, T0),
        ("other", HOUR, T0),
    )


async def test_instance_keys_are_sorted_by_label_and_must_fit_group_by() -> None:
    two = make_slo("tools", group_by=("tool_name", "agent_name"))
    given = (("tool_name", "ledger"), ("agent_name", "billing"))  # not sorted
    source = FakeSource({("tools", HOUR): {given: Counts(1, 20)}, ("calls", HOUR): Counts(1, 2)})
    assert await source.window_counts(two, HOUR, T0) == {
        (("agent_name", "billing"), ("tool_name", "ledger")): Counts(1, 20)
    }
    # counts for an ungrouped instance asked for a grouped SLO: the table does not fit the SLO
    with pytest.raises(QueryError, match=r"SLO 'calls', window 1h: .*does not fit .*group_by"):
        await source.window_counts(GROUPED, HOUR, T0)


async def test_a_callable_answers_what_the_table_does_not() -> None:
    def growing(slo: SLO, window: float, at: float) -> WindowCounts:
        return {(): Counts(bad=0, total=min(window, at - T0))}

    source = FakeSource({("all calls", HOUR): Counts(9, 9)}, answer=growing)
    assert await source.window_counts(UNGROUPED, HOUR, T0 + 10) == {(): Counts(9, 9)}
    assert await source.window_counts(UNGROUPED, MINUTE, T0 + 10) == {(): Counts(0, 10)}
    assert await source.window_counts(UNGROUPED, MINUTE, T0 + 600) == {(): Counts(0, 60)}


async def test_an_injected_error_fails_every_query_with_a_query_error() -> None:
    source = FakeSource({("calls", HOUR): Counts(0, 1)}, error="connection refused")
    with pytest.raises(QueryError, match=r"^SLO 'calls', window 1h: connection refused$"):
        await source.window_counts(GROUPED, HOUR, T0)
    assert source.queries == (("calls", HOUR, T0),)


async def test_a_callable_fails_one_slo_with_a_query_error_and_foreign_errors_are_mapped() -> None:
    def flaky(slo: SLO, window: float, at: float) -> WindowCounts:
        if slo.name == "down":
            raise QueryError("backend down")
        if slo.name == "buggy":
            raise KeyError("oops")
        return {(): Counts(0, 1)}

    source = FakeSource(answer=flaky)
    assert await source.window_counts(UNGROUPED, HOUR, T0) == {(): Counts(0, 1)}
    with pytest.raises(QueryError, match=r"^backend down$"):
        await source.window_counts(make_slo("down"), HOUR, T0)
    with pytest.raises(QueryError, match=r"SLO 'buggy', window 1h: .*raised KeyError") as info:
        await source.window_counts(make_slo("buggy"), HOUR, T0)
    assert isinstance(info.value.__cause__, KeyError)


async def test_impossible_counts_from_a_callable_are_query_errors() -> None:
    source = FakeSource(answer=lambda slo, window, at: {(): Counts(-1, 10)})
    with pytest.raises(QueryError, match="finite and >= 0"):
        await source.window_counts(UNGROUPED, HOUR, T0)


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        pytest.param({("a", HOUR): Counts(-1, 10)}, "finite and >= 0", id="negative"),
        pytest.param({("a", HOUR): Counts(0, float("nan"))}, "finite and >= 0", id="NaN"),
        pytest.param({("a", 0.0): Counts(0, 1)}, "window of 'a' must be > 0", id="window 0"),
        pytest.param(
            {
                ("a", HOUR): {
                    (("x", "1"), ("y", "2")): Counts(0, 1),
                    (("y", "2"), ("x", "1")): Counts(0, 2),
                }
            },
            "given twice",
            id="same instance twice",
        ),
    ],
)
def test_impossible_tables_are_refused_when_built(
    counts: dict[tuple[str, float], WindowCounts | Counts], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        FakeSource(counts)


def test_resolution_must_be_positive() -> None:
    with pytest.raises(ValueError, match="resolution"):
        FakeSource(resolution=0)


async def test_the_table_is_copied_when_built() -> None:
    given: dict[tuple[str, float], WindowCounts | Counts] = {("all calls", HOUR): Counts(0, 1)}
    source = FakeSource(given)
    given[("all calls", HOUR)] = Counts(1, 1)
    assert await source.window_counts(UNGROUPED, HOUR, T0) == {(): Counts(0, 1)}


async def test_aclose_is_recorded_idempotent_and_refuses_later_queries() -> None:
    source = FakeSource({("all calls", HOUR): Counts(0, 1)})
    assert not source.closed and source.close_count == 0
    await source.aclose()
    await source.aclose()
    assert source.closed and source.close_count == 2
    with pytest.raises(QueryError, match="closed"):
        await source.window_counts(UNGROUPED, HOUR, T0)
    assert "closed" in repr(source)
