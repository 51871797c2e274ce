"""One mapping of a peer document (OpenSLO, slo-generator), read key by key with its origin. Pure.

A :class:`PeerNode` is a value of document ``doc`` at field path ``path``. Reading it never
stops at the first mistake: an unknown key, a value of the wrong type or a missing required
field becomes a problem of the :class:`~sloguard.slo.peers.base.TranslationBuilder` at the
field's origin, so the user sees the peer file's line and field.

Example::

    spec = PeerNode(b, 0, ("spec",), docs[0].data["spec"])
    if spec.keys(("description", "service", "objectives")):
        service = spec.text("service")            # None (and a problem) if not a string
        for item in spec.items("objectives"):     # PeerNodes of a list
            ...
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sloguard.slo.peers.base import Origin, TranslationBuilder
from sloguard.yamldoc import FieldPath, show, suggest

__all__ = ["Objects", "PeerNode", "shorthand"]


@dataclass(frozen=True, slots=True)
class PeerNode:
    """A value of a peer document and where it is; ``data`` is whatever the YAML holds."""

    b: TranslationBuilder
    doc: int
    path: FieldPath
    data: Any

    @property
    def origin(self) -> Origin:
        """This value's origin."""
        return (self.doc, self.path)

    def at(self, *keys: Any) -> Origin:
        """The origin of a field under this value."""
        return (self.doc, (*self.path, *keys))

    def has(self, key: str) -> bool:
        """Whether this is a mapping with a non-null ``key``."""
        return isinstance(self.data, dict) and self.data.get(key) is not None

    def get(self, key: str) -> PeerNode:
        """The node of ``key`` (its data None when absent)."""
        data = self.data.get(key) if isinstance(self.data, dict) else None
        return PeerNode(self.b, self.doc, (*self.path, key), data)

    def problem(self, message: str, *keys: Any) -> None:
        """A problem at this value (or a field under it)."""
        self.b.problem(self.at(*keys), message)

    def notice(self, message: str, *keys: Any) -> None:
        """A notice at this value (or a field under it)."""
        self.b.notice(self.at(*keys), message)

    def keys(self, allowed: Sequence[str], what: str = "") -> bool:
        """Whether this is a mapping; every key not in ``allowed`` is a problem."""
        if not isinstance(self.data, dict):
            self.problem(f"must be a mapping{what} (got {show(self.data)})")
            return False
        for key in self.data:
            if key not in allowed:
                self.problem(f"unknown key {key!r}{suggest(str(key), allowed)}", key)
        return True

    def required(self, key: str) -> bool:
        """Whether ``key`` is present; a problem when it is not."""
        if self.has(key):
            return True
        self.problem("required field is missing", key)
        return False

    def text(self, key: str, *, required: bool = False) -> str | None:
        """The non-empty string at ``key``; None (with a problem if wrong or required)."""
        if not self.has(key):
            if required:
                self.required(key)
            return None
        value = self.data[key]
        if not isinstance(value, str) or not value.strip():
            self.problem(f"must be a non-empty string (got {show(value)})", key)
            return None
        return value

    def number(self, key: str, *, required: bool = False) -> float | None:
        """The finite number at ``key``; None (with a problem if wrong or required)."""
        if not self.has(key):
            if required:
                self.required(key)
            return None
        value = self.data[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            self.problem(f"must be a number (got {show(value)})", key)
            return None
        return float(value)

    def flag(self, key: str) -> bool | None:
        """The boolean at ``key``; None when absent (a problem when not a boolean)."""
        if not self.has(key):
            return None
        value = self.data[key]
        if not isinstance(value, bool):
            self.problem(f"must be true or false (got {show(value)})", key)
            return None
        return value

    def items(self, key: str) -> Iterator[PeerNode]:
        """The items of the list at ``key`` (none when absent; a problem when not a list)."""
        if not self.has(key):
            return
        value = self.data[key]
        if not isinstance(value, list):
            self.problem(f"must be a list (got {show(value)})", key)
            return
        for i, item in enumerate(value):
            yield PeerNode(self.b, self.doc, (*self.path, key, i), item)

    def strings(self, key: str) -> dict[str, str] | None:
        """A mapping of names to strings at ``key`` (None when absent or wrong)."""
        if not self.has(key):
            return None
        value = self.data[key]
        if not isinstance(value, dict):
            self.problem(f"must be a mapping of names to strings (got {show(value)})", key)
            return None
        out: dict[str, str] = {}
        for name, v in value.items():
            if isinstance(v, bool) or not isinstance(v, str | int | float):
                self.problem(f"must be a string (got {show(v)})", key, name)
            else:
                out[str(name)] = str(v)
        return out


class Objects:
    """The named objects of one OpenSLO file (``kind`` + ``metadata.name`` → its node), so
    references (``indicatorRef``, ``alertPolicyRef``, ``conditionRef``, ``metricSourceRef``,
    ``targetRef``) resolve within the file; remembers which were used."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], PeerNode] = {}
        self.used: set[tuple[str, str]] = set()

    def add(self, kind: str, name: str, node: PeerNode) -> PeerNode | None:
        """Register an object; returns the earlier one of that kind and name, if any."""
        earlier = self._by_key.get((kind, name))
        if earlier is None:
            self._by_key[(kind, name)] = node
        return earlier

    def all(self) -> list[tuple[str, str, PeerNode]]:
        """Every object, in file order."""
        return [(k, n, node) for (k, n), node in self._by_key.items()]

    def resolve(self, ref: PeerNode, kind: str) -> PeerNode | None:
        """The object of ``kind`` named by the string at ``ref``; a problem there when none."""
        name = ref.data
        if not isinstance(name, str) or not name.strip():
            ref.problem(f"must be the name of a {kind} (got {show(name)})")
            return None
        found = self._by_key.get((kind, name))
        if found is None:
            known = [n for k, n in self._by_key if k == kind]
            hint = suggest(name, known) if known else f" (this file has no {kind} object)"
            ref.problem(f"no {kind} named {name!r} in this file{hint}")
            return None
        self.used.add((kind, name))
        return found


#: OpenSLO duration shorthand units sloguard reads as a fixed number of days (notice).
_CALENDAR_UNITS = {"M": 30, "Q": 90, "Y": 365}
_SHORTHAND = re.compile(r"(\d+)([mhdwMQY])|(\d+(?:\.\d+)?)s")


def shorthand(node: PeerNode, key: str, *, required: bool = False) -> str | None:
    """An OpenSLO duration shorthand at ``key`` (``5m``, ``1h``, ``28d``, ``4w``, ``1M``) as a
    sloguard duration; months, quarters and years are read as 30, 90 and 365 days (notice)."""
    value = node.data.get(key) if isinstance(node.data, dict) else None
    if value is None:
        if required:
            node.required(key)
        return None
    m = _SHORTHAND.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        node.problem(
            f"must be a duration shorthand: a whole number and one of m, h, d, w, M, Q, Y, "
            f"e.g. 5m, 1h, 28d (got {show(value)})",
            key,
        )
        return None
    if m[3] is not None:
        node.notice(f"{value}: OpenSLO's shorthand has no seconds; read as written", key)
        return str(value)
    count, unit = int(m[1]), m[2]
    if unit in _CALENDAR_UNITS:
        days = count * _CALENDAR_UNITS[unit]
        node.notice(f"{value} is read as {days}d (a rolling window of fixed length)", key)
        return f"{days}d"
    return str(value)
