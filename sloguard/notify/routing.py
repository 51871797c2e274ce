"""Routing: which receivers get an alert, with which repeat interval. Pure.

A routing tree in Alertmanager's style: the root route matches every alert; an alert descends
into the first child route whose matchers all match (exact ``match`` or fully anchored regex
``match_re``), and keeps looking at the following siblings when that child has
``continue: true``. If no child takes it, the route's own receiver does. Every route may set
``repeat_interval``; children inherit it.

Example::

    root = Route(receiver="console", routes=(
        Route(receiver="oncall", matchers=(Matcher("severity", "critical"),)),
    ))
    targets(root, {"severity": "critical", "slo": "x"})   # -> [Target("oncall", 14400.0)]
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_REPEAT = 4 * 3600.0


@dataclass(frozen=True, slots=True)
class Matcher:
    """``label == value`` or ``label =~ value`` (fully anchored, like Alertmanager)."""

    label: str
    value: str
    regex: bool = False
    _pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.regex:
            object.__setattr__(self, "_pattern", re.compile(f"(?:{self.value})\\Z"))

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True when the alert's label satisfies this matcher (a missing label is "")."""
        got = labels.get(self.label, "")
        if self._pattern is not None:
            return self._pattern.match(got) is not None
        return got == self.value


@dataclass(frozen=True, slots=True)
class Route:
    """One node of the routing tree."""

    receiver: str | None = None
    matchers: tuple[Matcher, ...] = ()
    continue_: bool = False
    repeat_interval: float | None = None
    routes: tuple[Route, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True when every matcher matches."""
        return all(m.matches(labels) for m in self.matchers)


@dataclass(frozen=True, slots=True)
class Target:
    """A receiver that gets the alert, and how often it is reminded."""

    receiver: str
    repeat_interval: float


def targets(root: Route, labels: Mapping[str, str]) -> list[Target]:
    """Every receiver ``labels`` routes to, in tree order, without duplicates."""
    out: list[Target] = []
    _walk(root, labels, root.receiver, root.repeat_interval or DEFAULT_REPEAT, out)
    seen: set[str] = set()
    unique = []
    for t in out:
        if t.receiver not in seen:
            seen.add(t.receiver)
            unique.append(t)
    return unique


def _walk(
    route: Route, labels: Mapping[str, str], receiver: str | None, repeat: float, out: list[Target]
) -> bool:
    receiver = route.receiver or receiver
    repeat = route.repeat_interval or repeat
    matched_child = False
    for child in route.routes:
        if child.matches(labels) and _walk(child, labels, receiver, repeat, out):
            matched_child = True
            if not child.continue_:
                break
    if not matched_child and receiver is not None:
        out.append(Target(receiver, repeat))
    return True


def receivers_used(root: Route) -> set[str]:
    """Every receiver named anywhere in the tree."""
    names = {root.receiver} if root.receiver else set()
    for child in root.routes:
        names |= receivers_used(child)
    return names


def shortest_repeat(root: Route) -> float:
    """The smallest repeat interval in the tree (the state machine's reminder pace)."""
    own = root.repeat_interval or DEFAULT_REPEAT
    return min([own, *(shortest_repeat(c) for c in root.routes)])
