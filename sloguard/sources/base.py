"""The ``SLISource`` protocol: counts of bad and total events per instance over a window;
``RangeSource``, the optional history read of many evenly spaced times (:class:`Steps`) at once.

QueryError (SloguardError)   any failure of a source; foreign errors are mapped into it
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from sloguard.errors import SloguardError
from sloguard.slo.budget import Counts
from sloguard.slo.spec import SLO, InstanceLabels

#: Counts per instance for one window. A source answers per SLO, so its counts are keyed by the
#: instance's label pairs alone (:class:`~sloguard.slo.spec.SLOInstance` ``.labels``).
WindowCounts = Mapping[InstanceLabels, Counts]


class QueryError(SloguardError):
    """A source could not answer (down, too slow, bad answer, unsupported SLI)."""


class SLISource(Protocol):
    """Where an evaluator gets window counts."""

    #: Shortest window (seconds) the source can resolve, about 4 scrape/sample intervals.
    resolution: float

    async def window_counts(self, slo: SLO, window: float, at: float) -> WindowCounts:
        """Bad/total counts per instance of ``slo`` over ``(at - window, at]`` (unix seconds).

        Raises :class:`QueryError` on any failure.
        """
        ...

    async def aclose(self) -> None:
        """Release resources."""
        ...


@dataclass(frozen=True, slots=True)
class Steps:
    """Evenly spaced evaluation times: ``count`` points ``step`` seconds apart ending at ``end``.

    Example::

        Steps(end=3600.0, step=600.0, count=3).times()   # (2400.0, 3000.0, 3600.0)
    """

    end: float
    step: float
    count: int

    def __post_init__(self) -> None:
        if not (math.isfinite(self.end) and math.isfinite(self.step) and self.step > 0):
            raise ValueError(f"Steps: end and step must be finite, step > 0: {self}")
        if self.count < 1:
            raise ValueError(f"Steps: count must be >= 1, got {self.count}")

    @property
    def start(self) -> float:
        """The first time."""
        return self.end - (self.count - 1) * self.step

    def times(self) -> tuple[float, ...]:
        """Every time, oldest first."""
        return tuple(self.end - (self.count - 1 - i) * self.step for i in range(self.count))


@runtime_checkable
class RangeSource(Protocol):
    """A source that answers a whole history in one read (charts); optional beside
    :class:`SLISource`: without it a history asks ``window_counts`` once per time."""

    async def range_counts(
        self, slo: SLO, windows: Sequence[float], steps: Steps
    ) -> Mapping[float, Sequence[WindowCounts]]:
        """Per window, the counts :meth:`SLISource.window_counts` answers at each of
        ``steps.times()`` (same order). Raises :class:`QueryError` on any failure."""
        ...


def instance_key(labels: Mapping[str, str], group_by: tuple[str, ...]) -> InstanceLabels:
    """The instance key of a series under ``group_by``."""
    return tuple((g, labels.get(g, "")) for g in sorted(group_by))
