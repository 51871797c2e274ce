"""The recorder's arguments, checked before anything is recorded.

Pure: values in, checked values out; a bad one raises :class:`~sloguard.errors.InvalidRecord`
(a wrong keyword, :class:`TypeError`), so a :class:`~sloguard.sdk.recorder.Recorder` call that
raises has recorded nothing.

Example::

    split_tokens(120, None, 150)                 # (120, 30, None)
    usage_figures({"total_tokens": 7, "cost": 0.01})   # ((None, None, 7), 0.01)
"""

from __future__ import annotations

import math
from typing import TypedDict

from sloguard import conventions as c
from sloguard.errors import InvalidRecord

_STATUSES = frozenset(s.value for s in c.Status)


class Usage(TypedDict, total=False):
    """Tokens and cost of one model use: the keywords of ``Recorder.agent_call`` and
    ``Recorder.usage`` (each optional; ``total_tokens`` defaults to input + output)."""

    input_tokens: int | None
    output_tokens: int | None
    total_tokens: int | None
    cost: float | None


_USAGE_KEYS = frozenset(Usage.__annotations__)
_NO_TOKENS: tuple[None, None, None] = (None, None, None)


def usage_figures(usage: Usage) -> tuple[tuple[int | None, int | None, int | None], float | None]:
    """The token split and the cost of ``usage``, validated (nothing recorded yet)."""
    if not usage:
        return _NO_TOKENS, None
    if not _USAGE_KEYS.issuperset(usage):
        unknown = sorted(set(usage) - _USAGE_KEYS)
        raise TypeError(f"unexpected keyword argument(s) {unknown}: usage is {sorted(_USAGE_KEYS)}")
    split = split_tokens(
        usage.get("input_tokens"), usage.get("output_tokens"), usage.get("total_tokens")
    )
    cost = usage.get("cost")
    return split, None if cost is None else nonneg_number("cost", cost)


def nonneg_number(field: str, value: float) -> float:
    """``value`` as a float, if it is a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRecord(f"{field} must be a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value) or value < 0:
        raise InvalidRecord(f"{field} must be a finite number >= 0, got {value!r}")
    return float(value)


def nonneg_int(field: str, value: int | None) -> int | None:
    """``value``, if it is None or an integer >= 0."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRecord(f"{field} must be an integer, got {type(value).__name__} {value!r}")
    if value < 0:
        raise InvalidRecord(f"{field} must be >= 0, got {value}")
    return value


def check_status(value: str | c.Status) -> str:
    """The status's value, if it is one of :class:`~sloguard.conventions.Status`."""
    s = value.value if isinstance(value, c.Status) else value
    if s not in _STATUSES:
        raise InvalidRecord(f"status must be one of {sorted(_STATUSES)}, got {value!r}")
    return s


def check_name(field: str, value: str | None, *, default: str | None = None) -> str:
    """``value``, if it is a non-empty string (``default``, when given, for None or empty)."""
    if value is None or value == "":
        if default is not None:
            return default
        raise InvalidRecord(f"{field} must be a non-empty string, got {value!r}")
    if not isinstance(value, str):
        raise InvalidRecord(f"{field} must be a string, got {type(value).__name__} {value!r}")
    return value


def split_tokens(
    input_tokens: int | None, output_tokens: int | None, total_tokens: int | None
) -> tuple[int | None, int | None, int | None]:
    """Return (input, output, unsplit) token counts from whatever a caller gave.

    With a full split the total is implied; with a partial split the missing side is
    ``total - known``; with only a total it is recorded as direction ``total``.
    """
    i = nonneg_int("input_tokens", input_tokens)
    o = nonneg_int("output_tokens", output_tokens)
    t = nonneg_int("total_tokens", total_tokens)
    if i is not None and o is not None:
        if t is not None and t < i + o:
            raise InvalidRecord(
                f"total_tokens ({t}) is less than input_tokens + output_tokens ({i + o})"
            )
        return i, o, None
    if t is None:
        return i, o, None
    known = i if i is not None else o
    if known is None:
        return None, None, t
    if known > t:
        raise InvalidRecord(f"total_tokens ({t}) is less than the split given ({known})")
    return (i, t - known, None) if i is not None else (t - known, o, None)
