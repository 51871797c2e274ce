"""Whether evaluation works: the SLI source is *down* while every SLO evaluation of a tick fails.

One failing SLO (a bad query, one unsupported SLI) is that SLO's ``error`` state; a tick in
which *every* SLO evaluation failed means sloguard cannot do its job (Prometheus unreachable,
the embedded store broken). :class:`SourceHealth` follows the ticks and reports only the
changes, down and up again, so the caller logs one line per change instead of one per tick;
:meth:`SourceHealth.degraded` is the reason ``/readyz`` gives while the source is down.

Takes results and ``now``, reads no clock and does no I/O.

Example::

    health = SourceHealth()
    change = health.observe(await evaluator.evaluate(now), now)
    if change is not None:
        log.warning(change.message) if not change.up else log.info(change.message)
    health.degraded()   # None, or why every evaluation fails
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sloguard.durations import format_duration, format_instant
from sloguard.evaluation.evaluator import InstanceResult
from sloguard.slo.budget import State


@dataclass(frozen=True, slots=True)
class HealthChange:
    """The source went down or came back up at ``at``."""

    up: bool
    at: float
    message: str


class SourceHealth:
    """Down while every SLO evaluation of the last tick failed; up once one succeeds."""

    def __init__(self) -> None:
        self.down_since: float | None = None
        self.failed_ticks = 0  # consecutive ticks in which every evaluation failed
        self._error = ""
        self._reason: str | None = None  # one attribute: read whole from the probe's thread

    def observe(self, results: Sequence[InstanceResult], now: float) -> HealthChange | None:
        """Take one tick's results; return the change it makes, if any."""
        if not results:  # no SLOs: nothing to judge the source by
            return None
        failed = [r for r in results if r.evaluation.state is State.ERROR]
        if len(failed) < len(results):
            if self.down_since is None:
                return None
            since, ticks = self.down_since, self.failed_ticks
            self.down_since, self.failed_ticks, self._reason = None, 0, None
            message = (
                f"SLI source up again after {format_duration(max(0.0, now - since))} "
                f"({ticks} failed evaluation ticks): SLOs are evaluated"
            )
            return HealthChange(True, now, message)
        slos = sorted({r.slo.name for r in failed})
        self._error = failed[0].evaluation.error or "unknown error"
        self.failed_ticks += 1
        change = None
        if self.down_since is None:
            self.down_since = now
            message = (
                f"SLI source down: every SLO evaluation failed ({len(slos)} "
                f"SLO{'' if len(slos) == 1 else 's'}), "
                f"no alert can fire or resolve: {self._error}"
            )
            change = HealthChange(False, now, message)
        self._reason = (
            f"evaluator degraded: every SLO evaluation has failed since "
            f"{format_instant(self.down_since)} ({self.failed_ticks} ticks): {self._error}"
        )
        return change

    def degraded(self) -> str | None:
        """Why evaluation is degraded (every SLO evaluation fails), or None."""
        return self._reason
