"""Cardinality guard: keep client-given label values from exploding the number of series.

Every label value that comes from a client (agent, tool, model names…) passes
:meth:`CardinalityGuard.admit`. A value is admitted when it is on the label's allowlist (if one
is set) and, while the label has fewer than its limit of distinct values, the first time it is
seen. Anything else becomes ``_other`` and the overflow is reported to ``on_overflow`` (the
metrics layer counts it in ``sloguard_label_overflow_total{label}``).

Capping each label does not cap their product (200 agents × 300 tools), so combinations of
admitted values also pass a **series budget**: :meth:`CardinalityGuard.admit_series` admits a
new combination while every metric family it adds series to stays within its family budget and
all families together stay within ``series_budget``. A family's budget is
``family_series_budgets[family]``, else its share of ``series_budget``
(:data:`DEFAULT_FAMILY_SHARES`, which add up to the whole, so a flood of tool or model
combinations cannot starve the per-agent families). A combination once admitted stays admitted; a
new one that does not fit is refused, and the recorder records it under the overflow child
(every client label ``_other``), which is never charged. Budgets only fill, so a refused
combination stays refused.

Example::

    guard = CardinalityGuard(limits={"agent_name": 100}, allowlists={"model": {"gpt-4o"}})
    guard.admit("agent_name", "planner")   # -> "planner"
    guard.admit("model", "llama")          # -> "_other"
    guard.admit_series((("agent_tool_calls_total", 4),), ("planner", "search"))  # -> True
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping

from sloguard import conventions as c
from sloguard.conventions import OVERFLOW_VALUE, UNKNOWN_VALUE

DEFAULT_LIMIT = 500
MAX_VALUE_LENGTH = 128
#: Series all agent families may hold together: a full /metrics stays under ~10k series.
DEFAULT_SERIES_BUDGET = 9600
#: Each family's share of the series budget, per mille; they add up to the whole. With the
#: default buckets and budget, counting ``_created`` series (more fit without): 200 agents,
#: 96 agent × tool and 150 agent × model pairs, 66 agent × decision type pairs, 180 handoff
#: pairs, 90 routing agents, 225 running agents, 10 workflows with their duration, cost and
#: token histograms. The GenAI families have no share: ``series_budget`` is their limit.
DEFAULT_FAMILY_SHARES: Mapping[str, int] = {
    c.AGENT_LATENCY: 314,
    c.AGENT_CALLS: 84,
    c.TOOL_DURATION: 132,
    c.TOOL_CALLS: 41,
    c.AGENT_TOKENS: 94,
    c.AGENT_COST: 32,
    c.AGENT_HANDOFFS: 38,
    c.DECISIONS: 15,
    c.DECISION_CONFIDENCE: 104,
    c.ROUTING_OUTCOMES: 38,
    c.ANOMALIES: 29,
    c.ACTIVE_AGENTS: 24,
    c.WORKFLOW_RUNS: 7,
    c.WORKFLOW_DURATION: 16,
    c.WORKFLOW_COST: 16,
    c.WORKFLOW_TOKENS: 16,
}

#: What one combination of client label values costs: (family, series it adds) pairs.
SeriesCost = tuple[tuple[str, int], ...]


class CardinalityGuard:
    """Admit or fold label values; thread-safe, lock-free on the hot path (value already seen)."""

    __slots__ = (
        "_allow",
        "_combos",
        "_default_limit",
        "_family_budgets",
        "_limits",
        "_lock",
        "_on_overflow",
        "_seen",
        "_series",
        "_total",
        "_total_budget",
    )

    def __init__(
        self,
        *,
        limits: Mapping[str, int] | None = None,
        allowlists: Mapping[str, Iterable[str]] | None = None,
        default_limit: int = DEFAULT_LIMIT,
        on_overflow: Callable[[str], None] | None = None,
        series_budget: int = DEFAULT_SERIES_BUDGET,
        family_series_budgets: Mapping[str, int] | None = None,
    ) -> None:
        if default_limit < 1:
            raise ValueError(f"default_limit must be >= 1, got {default_limit}")
        for label, limit in (limits or {}).items():
            if limit < 1:
                raise ValueError(f"limit for label {label!r} must be >= 1, got {limit}")
        if series_budget < 1:
            raise ValueError(f"series_budget must be >= 1, got {series_budget}")
        for family, budget in (family_series_budgets or {}).items():
            if budget < 1:
                raise ValueError(f"series budget of {family!r} must be >= 1, got {budget}")
        self._limits = dict(limits or {})
        self._allow = {k: frozenset(v) for k, v in (allowlists or {}).items()}
        self._default_limit = default_limit
        self._on_overflow = on_overflow
        self._seen: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        self._total_budget = series_budget
        self._family_budgets = {
            f: max(1, series_budget * share // 1000) for f, share in DEFAULT_FAMILY_SHARES.items()
        }
        self._family_budgets.update(family_series_budgets or {})
        self._combos: set[tuple[SeriesCost, tuple[str, ...]]] = set()
        self._series: dict[str, int] = {}
        self._total = 0

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

    def series_budget(self, family: str | None = None) -> int:
        """Return how many series ``family`` may hold, or all families when ``None``."""
        if family is None:
            return self._total_budget
        return self._family_budgets.get(family, self._total_budget)

    def series(self, family: str | None = None) -> int:
        """Return the series charged to ``family``, or to all families when ``None``."""
        return self._total if family is None else self._series.get(family, 0)

    def admit_series(self, cost: SeriesCost, values: tuple[str, ...]) -> bool:
        """Return whether the combination ``values`` (admitted label values) may have series.

        ``cost`` names the families the combination adds series to and how many to each; it also
        tells combinations of different families apart. The all-``_other`` combination is the
        overflow child and always passes, uncharged.
        """
        key = (cost, values)
        if key in self._combos:
            return True
        if all(v == OVERFLOW_VALUE for v in values):
            return True
        with self._lock:
            if key in self._combos:
                return True
            total = self._total + sum(n for _, n in cost)
            if total > self._total_budget or any(
                self._series.get(f, 0) + n > self.series_budget(f) for f, n in cost
            ):
                return False
            for f, n in cost:
                self._series[f] = self._series.get(f, 0) + n
            self._total = total
            self._combos.add(key)
        return True
