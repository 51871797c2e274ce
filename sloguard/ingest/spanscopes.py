"""Each span's scope: the nearest agent and workflow span at or above it (pure; used by
:mod:`.spanmap` to find a span's owner and a handoff's source).

Example::

    scopes = span_scopes(parents, meanings)      # {span key: Scope(agent, workflow)}
"""

from __future__ import annotations

from typing import Final, NamedTuple

from sloguard.ingest.semconv import Meaning, Role

__all__ = ["Scope", "SpanKey", "span_scopes"]

#: (trace id, span id)
SpanKey = tuple[str, str]


class Scope(NamedTuple):
    """The nearest agent and workflow span at or above a span."""

    agent: SpanKey | None = None
    workflow: SpanKey | None = None


_NO_SCOPE: Final = Scope()


def span_scopes(
    parents: dict[SpanKey, SpanKey | None], meanings: dict[SpanKey, Meaning]
) -> dict[SpanKey, Scope]:
    """Return every span's scope, walking each parent chain once (cycles end the walk)."""
    memo: dict[SpanKey, Scope] = {}
    for start in parents:
        chain: list[SpanKey] = []
        seen: set[SpanKey] = set()
        key: SpanKey | None = start
        while key is not None and key not in memo and key not in seen:
            seen.add(key)
            chain.append(key)
            key = parents[key]
        scope = memo.get(key, _NO_SCOPE) if key is not None else _NO_SCOPE
        for k in reversed(chain):
            role = meanings[k].role
            if role is Role.AGENT:
                scope = Scope(k, scope.workflow)
            elif role is Role.WORKFLOW:
                scope = Scope(scope.agent, k)
            memo[k] = scope
    return memo
