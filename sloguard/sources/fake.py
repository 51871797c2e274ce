"""An in-memory SLI source for tests and demos: canned counts and an injectable failure. Pure.

``FakeSource`` answers :meth:`~sloguard.sources.base.SLISource.window_counts` from

1. a table of counts per ``(SLO name, window)``; a bare :class:`~sloguard.slo.budget.Counts`
   stands for the one instance ``()`` of an ungrouped SLO;
2. else ``answer(slo, window, at)``, a callable for counts that depend on time;
3. else nothing: ``{}``, no data (what a real source says about series that do not exist).

It keeps the promises of a real source: instance keys are label pairs sorted by label, exactly
the SLO's ``group_by`` labels (counts for any other key are a :class:`QueryError`, which is how
a test learns its table does not fit its SLO); every failure is a :class:`QueryError` naming the
SLO and window (``error=`` fails every query; an exception from ``answer`` is mapped, with
``from``); a closed source refuses queries. It never reads a clock and does no I/O; the only
state it keeps is a record of the queries asked (:attr:`FakeSource.queries`) and of
:meth:`FakeSource.aclose` (:attr:`FakeSource.closed`, :attr:`FakeSource.close_count`).

Example::

    billing = (("agent_name", "billing"),)
    source = FakeSource({("availability", 3600.0): {billing: Counts(bad=5, total=1000)}})
    await source.window_counts(slo, 3600.0, at=now)   # {billing: Counts(bad=5, total=1000)}
    await source.window_counts(slo, 300.0, at=now)    # {}: no data for that window

    down = FakeSource(error="connection refused")     # every query raises QueryError

    def growing(slo: SLO, window: float, at: float) -> WindowCounts:
        return {(): Counts(bad=0, total=at - T0)}      # one event per second since T0

    clocked = FakeSource(answer=growing)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TypeAlias

from sloguard.durations import format_duration
from sloguard.slo.budget import Counts
from sloguard.slo.spec import SLO, InstanceLabels
from sloguard.sources.base import QueryError, WindowCounts

__all__ = ["Answer", "FakeSource", "Query"]

#: ``answer(slo, window, at)``: the counts of one query (raise :class:`QueryError` to fail it).
Answer: TypeAlias = Callable[[SLO, float, float], WindowCounts]
#: One query asked of a :class:`FakeSource`: ``(SLO name, window, at)``.
Query: TypeAlias = tuple[str, float, float]


class FakeSource:
    """An :class:`~sloguard.sources.base.SLISource` answering from a table or a callable.

    ``counts`` maps ``(SLO name, window seconds)`` to counts per instance (or to one
    :class:`Counts` for an ungrouped SLO); it is checked and copied when the source is built
    (``ValueError`` for a negative or non-finite count). ``answer`` is asked what the table does
    not hold; ``error`` makes every query fail; ``resolution`` is the shortest window the source
    claims to resolve (seconds). See the module docstring for an example.
    """

    __slots__ = ("_answer", "_closes", "_error", "_queries", "_table", "resolution")

    def __init__(
        self,
        counts: Mapping[tuple[str, float], WindowCounts | Counts] | None = None,
        *,
        answer: Answer | None = None,
        error: str | None = None,
        resolution: float = 60.0,
    ) -> None:
        if not (math.isfinite(resolution) and resolution > 0):
            raise ValueError(f"FakeSource: resolution must be a positive number, got {resolution}")
        table: dict[tuple[str, float], Mapping[InstanceLabels, Counts]] = {}
        for (name, window), value in (counts or {}).items():
            if not (math.isfinite(window) and window > 0):
                raise ValueError(f"FakeSource: window of {name!r} must be > 0, got {window}")
            per_instance: WindowCounts = {(): value} if isinstance(value, Counts) else value
            try:
                table[(name, float(window))] = _checked(per_instance)
            except _BadCounts as exc:
                raise ValueError(
                    f"FakeSource: counts of {name!r} over {window:g}s: {exc}"
                ) from None
        self.resolution = float(resolution)
        self._table: Mapping[tuple[str, float], Mapping[InstanceLabels, Counts]] = MappingProxyType(
            table
        )
        self._answer = answer
        self._error = error
        self._queries: list[Query] = []
        self._closes = 0

    def __repr__(self) -> str:
        state = ", closed" if self._closes else ""
        failing = ", failing" if self._error is not None else ""
        return f"FakeSource({len(self._table)} canned answer(s){failing}{state})"

    @property
    def queries(self) -> tuple[Query, ...]:
        """Every query asked so far, answered or not, in order: ``(SLO name, window, at)``."""
        return tuple(self._queries)

    @property
    def closed(self) -> bool:
        """True once :meth:`aclose` was called."""
        return self._closes > 0

    @property
    def close_count(self) -> int:
        """How many times :meth:`aclose` was called (closing is idempotent)."""
        return self._closes

    async def window_counts(self, slo: SLO, window: float, at: float) -> WindowCounts:
        """Counts per instance of ``slo`` over ``(at - window, at]``; QueryError on failure."""
        self._queries.append((slo.name, window, at))
        where = f"SLO {slo.name!r}, window {_show_window(window)}"
        if self._closes:
            raise QueryError(f"{where}: the fake source is closed")
        if self._error is not None:
            raise QueryError(f"{where}: {self._error}")
        canned = self._table.get((slo.name, float(window)))
        if canned is None and self._answer is not None:
            try:
                canned = self._answer(slo, window, at)
            except QueryError:
                raise
            except Exception as exc:  # the caller's callable: map, as a real source maps its I/O
                raise QueryError(f"{where}: the fake's answer raised {exc!r}") from exc
        if canned is None:
            return {}
        try:
            checked = _checked(canned)
        except _BadCounts as exc:
            raise QueryError(f"{where}: {exc}") from None
        wanted = tuple(sorted(slo.group_by))
        for key in checked:
            if tuple(label for label, _ in key) != wanted:
                raise QueryError(
                    f"{where}: instance {key} does not fit the SLO's group_by {wanted}"
                )
        return dict(checked)

    async def aclose(self) -> None:
        """Record that the source was closed; later queries raise :class:`QueryError`."""
        self._closes += 1


class _BadCounts(Exception):
    """Counts no source could answer (becomes a ValueError or a QueryError with context)."""


def _checked(per_instance: Mapping[InstanceLabels, Counts]) -> Mapping[InstanceLabels, Counts]:
    """Counts with every instance key sorted by label; ``_BadCounts`` for impossible counts."""
    out: dict[InstanceLabels, Counts] = {}
    for raw_key, counts in per_instance.items():
        key = tuple(sorted(raw_key))
        if key in out:
            raise _BadCounts(f"instance {key} is given twice")
        if not isinstance(counts, Counts):
            raise _BadCounts(f"instance {key}: expected Counts, got {type(counts).__name__}")
        for part in (counts.bad, counts.total):
            if not (math.isfinite(part) and part >= 0):
                raise _BadCounts(f"instance {key}: counts must be finite and >= 0, got {counts}")
        out[key] = counts
    return MappingProxyType(out)


def _show_window(window: float) -> str:
    try:
        return format_duration(window)
    except (ValueError, OverflowError):
        return f"{window!r}s"
