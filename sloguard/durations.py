"""Durations: Prometheus-style text (``30d``, ``1h30m``, ``5m``) to seconds and back; instants
as RFC 3339 text for messages. Pure.

Every duration inside sloguard is seconds as a ``float``. Text is parsed once, where a file or a
flag is read, and formatted only where it is shown (labels, JSON, messages).

Example::

    parse_duration("1h30m")   # 5400.0
    format_duration(5400.0)   # '1h30m'
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

MINUTE = 60.0
HOUR = 3_600.0
DAY = 86_400.0
WEEK = 7 * DAY

_UNITS = (("d", DAY), ("h", HOUR), ("m", MINUTE), ("s", 1.0))
_PARSE_UNITS = {"w": WEEK, "d": DAY, "h": HOUR, "m": MINUTE, "s": 1.0, "ms": 0.001}
_TOKEN = re.compile(r"(\d+(?:\.\d+)?)(ms|[wdhms])")


def format_duration(seconds: float) -> str:
    """Render seconds as a Prometheus duration (``1h``, ``2h30m``, ``90s``)."""
    if seconds <= 0:
        return "0s"
    rest = round(seconds)
    parts = []
    for unit, size in _UNITS:
        n, rest = divmod(rest, int(size))
        if n:
            parts.append(f"{n}{unit}")
    return "".join(parts) or "0s"


def parse_duration(text: str) -> float:
    """Parse a Prometheus-style duration (``30d``, ``1h30m``, ``5m``, ``1.5h``) to seconds."""
    s = text.strip()
    matches = _TOKEN.findall(s)
    if not s or not matches or "".join(n + u for n, u in matches) != s:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30d, 6h, 5m, 1h30m)")
    return sum(float(n) * _PARSE_UNITS[u] for n, u in matches)


def format_instant(at: float) -> str:
    """Render unix seconds as an RFC 3339 UTC time to the second (``2026-01-02T03:04:05Z``)."""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
