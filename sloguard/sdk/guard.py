"""Cardinality guard: keep client-given label values from exploding the number of series.

Every label value that comes from a client (agent, tool, model names…) passes
:meth:`CardinalityGuard.admit`. A value is admitted when it is on the label's allowlist (if one
is set) and, while the label has fewer than its limit of distinct values, the first time it is
seen. Anything else becomes ``_other`` and the overflow is reported to ``on_overflow`` (the
metrics layer counts it in ``sloguard_label_overflow_total{label}``).

Example::

    guard = CardinalityGuard(limits={"agent_name": 100}, allowlists={"model": {"gpt-4o"}})
    guard.admit("agent_name", "planner")   # -> "planner"
    guard.admit("model", "llama")          # -> "_other"
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping

from sloguard.conventions import OVERFLOW_VALUE, UNKNOWN_VALUE

DEFAULT_LIMIT = 500
MAX_VALUE_LENGTH = 128


class CardinalityGuard:
    """Admit or fold label values; thread-safe, lock-free on the hot path (value already seen)."""

    __slots__ = ("_allow", "_default_limit", "_limits", "_lock", "_on_overflow", "_seen")

    def __init__(
        self,
        *,
        limits: Mapping[str, int] | None = None,
        allowlists: Mapping[str, Iterable[str]] | None = None,
        default_limit: int = DEFAULT_LIMIT,
        on_overflow: Callable[[str], None] | None = None,
    ) -> None:
        if default_limit < 1:
            raise ValueError(f"default_limit must be >= 1, got {default_limit}")
        for label, limit in (limits or {}).items():
            if limit < 1:
                raise ValueError(f"limit for label {label!r} must be >= 1, got {limit}")
        self._limits = dict(limits or {})
        self._allow = {k: frozenset(v) for k, v in (allowlists or {}).items()}
        self._default_limit = default_limit
        self._on_overflow = on_overflow
        self._seen: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def set_overflow_callback(self, callback: Callable[[str], None]) -> None:
        """Report every folded value to ``callback(label)``."""
        self._on_overflow = callback

    def limit(self, label: str) -> int:
        """Return the distinct-value limit of ``label``."""
        return self._limits.get(label, self._default_limit)

    def admit(self, label: str, value: str) -> str:
        """Return ``value`` if it may become a label value, else ``_other``."""
        seen = self._seen.get(label)
        if seen is not None and value in seen:
            return value
        return self._admit_slow(label, value)

    def _admit_slow(self, label: str, value: str) -> str:
        if not value:
            value = UNKNOWN_VALUE
        elif len(value) > MAX_VALUE_LENGTH:
            value = value[:MAX_VALUE_LENGTH]
        allow = self._allow.get(label)
        with self._lock:
            seen = self._seen.setdefault(label, set())
            if value in seen:
                return value
            if (allow is None or value in allow) and len(seen) < self.limit(label):
                # Values outside the allowlist never count against the limit.
                seen.add(value)
                return value
        if self._on_overflow is not None:
            self._on_overflow(label)
        return OVERFLOW_VALUE

    def distinct(self, label: str) -> int:
        """Return how many distinct values of ``label`` were admitted."""
        return len(self._seen.get(label, ()))
