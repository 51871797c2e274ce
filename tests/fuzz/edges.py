"""Values around every bound of :mod:`sloguard.ingest.bounds`, and what the ingest must say of them.

Not a test module. Each strategy mixes values the bound accepts (inside, exactly at it) with
values it refuses (just past it, negative, NaN, infinities, huge integers, wrong JSON types,
deep nesting); the predicates (``*_ok``) are the oracle, written from the bounds table and the
documented types, not from the ingest's code. NaN and infinities are not JSON: a body holding one
is malformed as a whole (400), as is one nested deeper than the ingest's JSON depth limit.
"""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from sloguard.ingest.bounds import (
    EARLIEST_TIME,
    MAX_AHEAD_SECONDS,
    MAX_COST_USD,
    MAX_DURATION_SECONDS,
    MAX_TOKENS,
)
from sloguard.ingest.router import json_depth_limit

#: The JSON nesting the ingest reads with its default ``max_depth`` (8).
DEPTH_LIMIT = json_depth_limit(8)
#: A value nested well within the limit (a wrong type) and one past it (malformed).
SHALLOW = 6
TOO_DEEP = DEPTH_LIMIT + 5


def nested(levels: int) -> Any:
    """``levels`` levels of alternating lists and objects around a 1."""
    value: Any = 1
    for n in range(levels):
        value = [value] if n % 2 else {"k": value}
    return value


#: Wrong JSON types for a number, a count, a name or a time (None: see ``optional``).
WRONG = st.sampled_from([True, False, "1.5", "", [], {}, [1], {"v": 1}, nested(SHALLOW)])
#: Strings that break naive code: controls, U+0000, U+FFFF, astral, RTL, very long.
ODD_TEXT = st.sampled_from(
    ["\x00", "a\x00b", "\uffff", "\x01", "🙂", "\u202eevil", "é" * 130, "x" * 2000, "\n\t"]
)


def figures(bound: float) -> st.SearchStrategy[Any]:
    """A cost or duration: around 0 and ``bound``, odd floats, huge ints, wrong types."""
    return st.one_of(
        st.sampled_from(
            [
                0,
                0.0,
                -0.0,
                1,
                0.25,
                bound,
                bound * (1 - 1e-12),
                math.nextafter(bound, math.inf),
                bound * (1 + 1e-9),
                bound + 1,
                -1e-9,
                -1,
                1e308,
                10**30,
                2**63,
                2**64 - 1,
            ]
        ),
        st.floats(min_value=0, max_value=bound),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(min_value=-(2**70), max_value=2**70),
        WRONG,
    )


def figure_ok(value: Any, bound: float) -> bool:
    """A JSON number from 0 to ``bound`` (an integer is a number)."""
    return type(value) in (int, float) and math.isfinite(value) and 0 <= value <= bound


COSTS = figures(MAX_COST_USD)
SECONDS = figures(MAX_DURATION_SECONDS)
TOKENS = st.one_of(
    st.sampled_from([0, 1, MAX_TOKENS, MAX_TOKENS + 1, -1, 10**30, 2**63, 2**64 - 1, 1.0, 0.5]),
    st.integers(min_value=0, max_value=MAX_TOKENS),
    st.integers(min_value=-(2**70), max_value=2**70),
    WRONG,
)


def tokens_ok(value: Any) -> bool:
    """A JSON integer from 0 to 10¹² (``1.0`` is not a count, nor is ``true``)."""
    return type(value) is int and 0 <= value <= MAX_TOKENS


def names(*valid: str) -> st.SearchStrategy[Any]:
    """A name: one of ``valid`` (mostly), odd unicode, empty, or a wrong type."""
    return st.one_of(st.sampled_from(valid), st.sampled_from(valid), ODD_TEXT, WRONG)


def name_ok(value: Any, max_length: int | None = None) -> bool:
    """A non-empty string (at most ``max_length`` characters when given)."""
    return (
        isinstance(value, str)
        and len(value) >= 1
        and (max_length is None or len(value) <= max_length)
    )


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def times() -> st.SearchStrategy[Any]:
    """An ISO 8601 time: inside the window, at and past both ends, without offset, garbage."""
    now = time.time()
    return st.one_of(
        st.sampled_from(
            [
                iso(EARLIEST_TIME),
                iso(EARLIEST_TIME - 1),
                iso(now - 3600),
                iso(now + MAX_AHEAD_SECONDS - 600),
                iso(now + MAX_AHEAD_SECONDS + 600),
                "9999-12-31T23:59:59Z",
                "0001-01-01T00:00:00Z",
                "2025-01-01T00:00:00",
                "soon",
                "2025-13-01T00:00:00Z",
                1_700_000_000,
            ]
        ),
        st.floats(min_value=EARLIEST_TIME, max_value=now).map(iso),
        WRONG,
    )


def iso_ok(value: Any) -> bool:
    """An ISO 8601 string with a UTC offset."""
    if not isinstance(value, str):
        return False
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def time_ok(value: str, now: float) -> bool:
    """An ISO 8601 time (see :func:`iso_ok`) from 2000 to a day after ``now``."""
    t = datetime.fromisoformat(value).timestamp()
    return EARLIEST_TIME <= t <= now + MAX_AHEAD_SECONDS


def trace_id_ok(value: Any, max_length: int = 120) -> bool:
    """A trace id ``/api/v1/traces/{id}`` can open."""
    return name_ok(value, max_length) and "/" not in value and value not in {".", "..", "compare"}


TRACE_IDS = st.one_of(
    st.sampled_from(["t-1", "t-2", "ü/ñ", ".", "..", "compare", "a.b", "x" * 121, "x" * 120]),
    ODD_TEXT,
    WRONG,
)


def encode(body: Any) -> bytes:
    """JSON as a client may send it: NaN and infinities written as JavaScript does."""
    return json.dumps(body, allow_nan=True).encode()


def malformed(body: Any) -> bool:
    """Whether the body is not JSON at all (NaN, infinities) or nested past the limit."""
    return not _finite(body) or depth(body) > DEPTH_LIMIT


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def depth(value: Any) -> int:
    """Nesting of lists and objects (a scalar is 0)."""
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0
