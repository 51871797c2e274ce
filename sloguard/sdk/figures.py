"""Check the figures a step reports (tokens, cost, latency, model) before any of them is kept.

Each check raises :class:`~sloguard.errors.TraceError` naming the step and the bad value, so a
step given a bad figure changes nothing and records nothing.

Example::

    split = check_usage("writer", "gpt-4o", 120, 30, None, 0.002)   # (120, 30, None)
    check_latency("writer", -5)                                     # TraceError
"""

from __future__ import annotations

import math

from sloguard.errors import InvalidRecord, TraceError
from sloguard.sdk.arguments import split_tokens


def _not_a_count(value: object) -> bool:
    """True unless ``value`` is a finite int or float >= 0 (``bool`` is not a number here)."""
    return (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    )


def check_latency(step: str, latency: float | None) -> None:
    """Raise :class:`TraceError` unless ``latency`` is None or milliseconds >= 0."""
    if latency is not None and _not_a_count(latency):
        raise TraceError(f"step {step!r}: latency must be milliseconds >= 0, got {latency!r}")


def check_usage(
    step: str,
    model: str | None,
    input_tokens: int | None,
    output_tokens: int | None,
    total_tokens: int | None,
    cost: float | None,
) -> tuple[int | None, int | None, int | None]:
    """Raise :class:`TraceError` if a figure is bad; return the tokens as ``split_tokens`` does."""
    try:
        split = split_tokens(input_tokens, output_tokens, total_tokens)
    except InvalidRecord as exc:
        raise TraceError(f"step {step!r}: {exc}") from None
    if cost is not None and _not_a_count(cost):
        raise TraceError(f"step {step!r}: cost must be a finite number >= 0, got {cost!r}")
    if model is not None and not isinstance(model, str):
        raise TraceError(f"step {step!r}: model must be a string, got {model!r}")
    return split
