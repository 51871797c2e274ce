"""Redact sensitive parameters and truncate large ones before a trace stores them.

A key is sensitive when one of the configured terms appears in it as whole words: keys are
split on ``_ - . space`` and camelCase, so ``access_token``, ``X-Api-Key`` and ``userPassword``
are redacted while ``max_tokens`` and ``tokenizer`` are not.

Example::

    Redactor().clean({"user": "kim", "password": "hunter2", "q": "x" * 10_000})
    # {'user': 'kim', 'password': '[REDACTED]', 'q': 'xxxx…[+9744 chars]'}
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sloguard.conventions import DEFAULT_SENSITIVE_KEYS, REDACTED

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
#: Keys whose verdict a redactor remembers (keys come from clients: the memory is bounded).
MEMO_KEYS = 4096


def key_words(key: str) -> tuple[str, ...]:
    """Split a key into lower-case words (snake, kebab, dotted and camelCase)."""
    return tuple(w.lower() for w in _WORD.findall(key))


def _contains(words: tuple[str, ...], term: tuple[str, ...]) -> bool:
    n = len(term)
    return any(words[i : i + n] == term for i in range(len(words) - n + 1))


@dataclass(frozen=True)
class Redactor:
    """Redact values under sensitive keys and bound the size of everything else."""

    sensitive_keys: frozenset[str] = DEFAULT_SENSITIVE_KEYS
    max_string: int = 512
    max_items: int = 50
    max_depth: int = 6
    _terms: tuple[tuple[str, ...], ...] = field(init=False, repr=False, compare=False)
    # Deciding a key (splitting it into words, matching every term) was three quarters of
    # storing a trace, and the same few keys come back on every step: verdicts are remembered.
    _verdicts: dict[str, bool] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        terms = tuple(sorted({key_words(k) for k in self.sensitive_keys if key_words(k)}))
        object.__setattr__(self, "_terms", terms)

    def with_keys(self, extra: Iterable[str]) -> Redactor:
        """Return a redactor that also redacts ``extra`` keys."""
        return Redactor(
            self.sensitive_keys | frozenset(extra), self.max_string, self.max_items, self.max_depth
        )

    def is_sensitive(self, key: str) -> bool:
        """Tell whether values under ``key`` must be redacted."""
        verdict = self._verdicts.get(key)
        if verdict is None:
            words = key_words(key)
            joined = "".join(words)
            verdict = any(_contains(words, t) or joined == "".join(t) for t in self._terms)
            if len(self._verdicts) < MEMO_KEYS:
                self._verdicts[key] = verdict
        return verdict

    def clean(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """Return a redacted, truncated, JSON-friendly copy of ``params``."""
        if not params:
            return {}
        out = self._value(params, 0)
        return out if isinstance(out, dict) else {"value": out}

    def _value(self, v: Any, depth: int) -> Any:
        if v is None or isinstance(v, bool | int | float):
            return v
        if isinstance(v, str):
            return self._string(v)
        if depth >= self.max_depth:
            return "…[nested too deep]"
        if isinstance(v, Mapping):
            out: dict[str, Any] = {}
            for i, (k, item) in enumerate(v.items()):
                if i >= self.max_items:
                    out["…"] = f"[+{len(v) - self.max_items} items]"
                    break
                key = str(k)
                out[key] = REDACTED if self.is_sensitive(key) else self._value(item, depth + 1)
            return out
        if isinstance(v, list | tuple | set | frozenset):
            items = list(v)
            cleaned = [self._value(x, depth + 1) for x in items[: self.max_items]]
            if len(items) > self.max_items:
                cleaned.append(f"…[+{len(items) - self.max_items} items]")
            return cleaned
        return self._string(repr(v))

    def _string(self, s: str) -> str:
        if len(s) <= self.max_string:
            return s
        return f"{s[: self.max_string]}…[+{len(s) - self.max_string} chars]"
