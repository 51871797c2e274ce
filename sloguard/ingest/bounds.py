"""What the ingest accepts: the bounds of every figure and time, and which trace ids.

Pure: values (and ``now``) in, a problem message or None out. Every endpoint (``/v1/events``,
``/v1/a2a/traces``, ``/v1/traces``) rejects a value out of bounds with the field named, and the
whole batch with it (nothing recorded):

==================  =========================================  ================================
value               accepted                                   why
==================  =========================================  ================================
cost                0 … 1 000 000 USD per step, event or span  a counter never reaches +Inf
tokens              0 … 10¹² per count                         sums stay exact 64-bit integers
duration, latency   0 … 7 days                                 a latency histogram stays sane
start / end times   2000-01-01 … the server's now + 1 day      the newest-first list stays true
trace id            not ``.``, ``..`` or ``compare``, no ``/``  every stored trace can be opened
==================  =========================================  ================================

A trace id is the last segment of ``/api/v1/traces/{id}``: ``/`` would split it, ``.`` and
``..`` are resolved away by browsers (even percent-encoded), and ``compare`` is the comparison
route. Any other id works once percent-encoded, as the page and the API do.

Example::

    time_problem(4102444800.0, now=1767225600.0)   # 'more than 1 day after the server's now …'
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

__all__ = [
    "EARLIEST_TIME",
    "MAX_AHEAD_SECONDS",
    "MAX_COST_USD",
    "MAX_DURATION_SECONDS",
    "MAX_TOKENS",
    "RESERVED_TRACE_IDS",
    "duration_problem",
    "time_problem",
    "trace_id_problem",
]

#: Largest cost of one step, event or span, US dollars.
MAX_COST_USD: Final = 1_000_000.0
#: Largest token count (input, output or total) of one step, event or span.
MAX_TOKENS: Final = 10**12
#: Longest duration (latency) of one step, event or span, seconds: 7 days.
MAX_DURATION_SECONDS: Final = 7 * 24 * 3600.0
#: Earliest start or end time, unix seconds: 2000-01-01T00:00:00Z.
EARLIEST_TIME: Final = datetime(2000, 1, 1, tzinfo=UTC).timestamp()
#: How far after the server's clock a time may be, seconds (clock skew): 1 day.
MAX_AHEAD_SECONDS: Final = 24 * 3600.0
#: Trace ids that name something else under ``/api/v1/traces/`` (and ``/`` is refused in ids).
RESERVED_TRACE_IDS: Final = frozenset({".", "..", "compare"})


def _iso(t: float) -> str:
    if not -62_135_596_800 <= t < 253_402_300_800:  # what a datetime holds: years 1 to 9999
        return f"{t:.0f} unix seconds"
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def time_problem(t: float, now: float) -> str | None:
    """Return why unix time ``t`` is out of bounds (see the module table), or None."""
    if t < EARLIEST_TIME:
        return f"must not be before {_iso(EARLIEST_TIME)}, got {_iso(t)}"
    if t > now + MAX_AHEAD_SECONDS:
        return f"must not be more than 1 day after the server's time {_iso(now)}, got {_iso(t)}"
    return None


def duration_problem(seconds: float) -> str | None:
    """Return why a duration of ``seconds`` is out of bounds, or None."""
    if seconds > MAX_DURATION_SECONDS:
        return f"must be at most 7 days ({MAX_DURATION_SECONDS:.0f} s), got {seconds:g} s"
    return None


def trace_id_problem(trace_id: str) -> str | None:
    """Return why ``trace_id`` could not be opened at ``/api/v1/traces/{id}``, or None."""
    if "/" in trace_id or trace_id in RESERVED_TRACE_IDS:
        return (
            "must not contain '/' nor be '.', '..' or 'compare' "
            f"(it could not be opened at /api/v1/traces/{{id}}), got {trace_id!r}"
        )
    return None
