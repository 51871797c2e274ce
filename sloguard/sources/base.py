"""The ``SLISource`` protocol: counts of bad and total events per instance over a window.

QueryError (SloguardError)   any failure of a source; foreign errors are mapped into it
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

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


def instance_key(labels: Mapping[str, str], group_by: tuple[str, ...]) -> InstanceLabels:
    """The instance key of a series under ``group_by``."""
    return tuple((g, labels.get(g, "")) for g in sorted(group_by))
