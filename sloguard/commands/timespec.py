"""Times given on the command line (``--since``, ``--until``): how long ago, or when.

Pure: the clock comes in as ``now``. Accepted, in this order: unix seconds (``1767225600``), a
duration before ``now`` (``1h``, ``30m``, ``1h30m``, ``7d``), an ISO 8601 date (``2026-12-06``,
midnight UTC) or date and time (``2026-12-06T10:00``, ``2026-12-06 10:00:00+02:00``; without an
offset, UTC).

Example::

    parse_time("1h", now=1_767_225_600.0)           # 1767222000.0
    parse_time("2026-12-06", now=0.0)               # 1796515200.0
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from sloguard.durations import parse_duration

__all__ = ["MAX_TIME", "parse_time"]

#: The latest time accepted: 9999-12-31T23:59:59Z (what the traces API accepts too).
MAX_TIME = 253_402_300_799.0

_EXPECTED = (
    "expected a duration ago (1h, 30m, 7d), an ISO 8601 date or date and time "
    "(2026-12-06, 2026-12-06T10:00:00Z) or unix seconds"
)


def parse_time(text: str, *, now: float) -> float:
    """Return the unix seconds ``text`` names; raise :class:`ValueError` saying what is
    accepted."""
    value = text.strip()
    seconds: float | None
    try:
        seconds = float(value)
    except ValueError:
        seconds = _duration_ago(value, now)
        if seconds is None:
            seconds = _iso(value)
    if seconds is None or not 0 <= seconds <= MAX_TIME:  # NaN fails too
        shown = "" if seconds is None or math.isnan(seconds) else " (out of range)"
        raise ValueError(f"{_EXPECTED}, got {text!r}{shown}")
    return seconds


def _duration_ago(value: str, now: float) -> float | None:
    try:
        return now - parse_duration(value)
    except ValueError:
        return None


def _iso(value: str) -> float | None:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()
