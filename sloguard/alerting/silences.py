"""Silences and maintenance windows: Alertmanager-compatible matchers over alert labels. Pure.

A :class:`Silence` mutes every alert whose labels all its matchers match, from ``starts_at``
until ``ends_at``. A **maintenance window** is a silence created in advance: its ``starts_at``
lies in the future, so it is ``pending`` until then. Expiring a silence sets its ``ends_at`` to
now (and its ``starts_at`` too when it had not started), as Alertmanager does; expired silences
are kept for audit for a while (the ``alerting.silence_retention`` setting), then pruned.

Matchers are Alertmanager's: ``name=value``, ``name!=value``, ``name=~regex``, ``name!~regex``;
a value may be double-quoted (``slo="checkout latency"``). A regex is anchored at both ends
(``^(?:regex)$``), and a label the alert does not have counts as the empty string. As
Alertmanager requires, at least one matcher must not match the empty string, so a silence cannot
mute every alert by accident.

Example::

    m = parse_matcher("slo=~checkout.*")
    s = new_silence("s1", [m], starts_at=now, ends_at=now + 3600, created_by="ana",
                    comment="deploy", now=now)
    mutes(s, {"slo": "checkout-latency", "severity": "critical"}, now)   # True
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from sloguard.errors import SloguardError

__all__ = [
    "MatchType",
    "Matcher",
    "Silence",
    "SilenceError",
    "SilenceState",
    "active_silences",
    "expire",
    "matcher_from_dict",
    "mutes",
    "new_silence",
    "parse_matcher",
    "silence_dict",
    "silence_from_dict",
    "silenced_by",
]

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
#: Longest operator first, so that ``!=~`` never happens and ``=~`` wins over ``=``.
_MATCHER = re.compile(r"\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*\Z", re.DOTALL)


class SilenceError(SloguardError, ValueError):
    """A matcher or silence that cannot be accepted; the message says which field and why."""


class MatchType(StrEnum):
    """Alertmanager's four matcher operators."""

    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


@dataclass(frozen=True, slots=True)
class Matcher:
    """One label condition. ``Matcher("slo", MatchType.REGEX, "check.*")``."""

    name: str
    type: MatchType
    value: str

    def __post_init__(self) -> None:
        if not _LABEL_NAME.match(self.name):
            raise SilenceError(f"matcher label name {self.name!r} is not a valid label name")
        if self.type in (MatchType.REGEX, MatchType.NOT_REGEX):
            try:
                re.compile(self.value)
            except re.error as exc:
                raise SilenceError(
                    f"matcher {self.name}{self.type.value}{self.value!r}: bad regex: {exc}"
                ) from exc

    def matches(self, value: str) -> bool:
        """Whether a label value (``""`` when absent) satisfies this matcher."""
        if self.type is MatchType.EQUAL:
            return value == self.value
        if self.type is MatchType.NOT_EQUAL:
            return value != self.value
        hit = re.fullmatch(f"(?:{self.value})", value, re.DOTALL) is not None
        return hit if self.type is MatchType.REGEX else not hit

    def __str__(self) -> str:
        return f'{self.name}{self.type.value}"{_quote(self.value)}"'


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        body, out, i = text[1:-1], [], 0
        while i < len(body):
            c = body[i]
            if c == "\\" and i + 1 < len(body):
                nxt = body[i + 1]
                out.append("\n" if nxt == "n" else nxt)
                i += 2
                continue
            if c == '"':
                raise SilenceError(f"matcher value {text}: unescaped double quote inside")
            out.append(c)
            i += 1
        return "".join(out)
    if text.startswith('"') or text.endswith('"'):
        raise SilenceError(f"matcher value {text}: unbalanced double quote")
    return text


def parse_matcher(text: str) -> Matcher:
    """``'slo=~"check.*"'`` → a :class:`Matcher`; :class:`SilenceError` says what is wrong.

    >>> parse_matcher('severity!=warning')
    Matcher(name='severity', type=<MatchType.NOT_EQUAL: '!='>, value='warning')
    """
    m = _MATCHER.match(text)
    if m is None:
        raise SilenceError(
            f"matcher {text!r}: expected name=value, name!=value, name=~regex or name!~regex"
        )
    name, op, value = m.groups()
    return Matcher(name, MatchType(op), _unquote(value))


def matcher_from_dict(d: Mapping[str, Any]) -> Matcher:
    """Alertmanager's API form ``{"name", "value", "isRegex", "isEqual"}`` (``isEqual`` defaults
    to true), or ours ``{"name", "type", "value"}``."""
    try:
        name, value = d["name"], d["value"]
    except KeyError as exc:
        raise SilenceError(f"matcher {dict(d)!r}: missing field {exc.args[0]!r}") from None
    if not isinstance(name, str) or not isinstance(value, str):
        raise SilenceError(f"matcher {dict(d)!r}: name and value must be strings")
    if "type" in d:
        try:
            kind = MatchType(d["type"])
        except ValueError:
            ops = [t.value for t in MatchType]
            raise SilenceError(f"matcher {name}: type must be one of {ops}") from None
        return Matcher(name, kind, value)
    regex, equal = bool(d.get("isRegex", False)), bool(d.get("isEqual", True))
    kind = {
        (False, True): MatchType.EQUAL,
        (False, False): MatchType.NOT_EQUAL,
        (True, True): MatchType.REGEX,
        (True, False): MatchType.NOT_REGEX,
    }[(regex, equal)]
    return Matcher(name, kind, value)


class SilenceState(StrEnum):
    """Alertmanager's silence states."""

    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Silence:
    """Mute matching alerts from ``starts_at`` to ``ends_at`` (epoch seconds)."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    updated_at: float

    def state(self, now: float) -> SilenceState:
        """Pending before its start, active until its end, expired from then on."""
        if now >= self.ends_at:
            return SilenceState.EXPIRED
        return SilenceState.PENDING if now < self.starts_at else SilenceState.ACTIVE

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether every matcher matches ``labels`` (a missing label is ``""``)."""
        return all(m.matches(labels.get(m.name, "")) for m in self.matchers)


def new_silence(
    id: str,
    matchers: Sequence[Matcher],
    *,
    starts_at: float,
    ends_at: float,
    created_by: str,
    comment: str,
    now: float,
) -> Silence:
    """Check and build a new silence (a start in the past means now)."""
    if not matchers:
        raise SilenceError("matchers: a silence needs at least one matcher")
    if all(m.matches("") for m in matchers):
        raise SilenceError(
            "matchers: at least one matcher must not match the empty string "
            "(such a silence would mute every alert)"
        )
    if not created_by.strip():
        raise SilenceError("created_by: say who creates the silence")
    if not comment.strip():
        raise SilenceError("comment: say why (a ticket, the maintenance)")
    if ends_at <= starts_at:
        raise SilenceError("ends_at: the end must be after the start")
    if ends_at <= now:
        raise SilenceError("ends_at: the end is in the past")
    return Silence(
        id, tuple(matchers), max(starts_at, now), ends_at, created_by.strip(), comment, now
    )


def expire(silence: Silence, now: float) -> Silence:
    """End ``silence`` now (a pending one never starts). Expired ones stay as they are."""
    if silence.state(now) is SilenceState.EXPIRED:
        return silence
    return replace(silence, starts_at=min(silence.starts_at, now), ends_at=now, updated_at=now)


def mutes(silence: Silence, labels: Mapping[str, str], now: float) -> bool:
    """Whether ``silence`` mutes an alert with ``labels`` at ``now``."""
    return silence.state(now) is SilenceState.ACTIVE and silence.matches(labels)


def active_silences(silences: Iterable[Silence], now: float) -> list[Silence]:
    """The silences in force at ``now``."""
    return [s for s in silences if s.state(now) is SilenceState.ACTIVE]


def silenced_by(
    labels: Mapping[str, str], silences: Iterable[Silence], now: float
) -> tuple[str, ...]:
    """Ids of the silences muting ``labels`` at ``now`` (sorted; empty: not silenced)."""
    return tuple(sorted(s.id for s in silences if mutes(s, labels, now)))


def silence_dict(s: Silence, now: float | None = None) -> dict[str, Any]:
    """JSON form (the API's and the store's); with ``now``, its ``status``."""
    out: dict[str, Any] = {
        "id": s.id,
        "matchers": [{"name": m.name, "type": m.type.value, "value": m.value} for m in s.matchers],
        "starts_at": s.starts_at,
        "ends_at": s.ends_at,
        "created_by": s.created_by,
        "comment": s.comment,
        "updated_at": s.updated_at,
    }
    if now is not None:
        out["status"] = s.state(now).value
    return out


def silence_from_dict(d: Mapping[str, Any]) -> Silence:
    """Inverse of :func:`silence_dict` (no checks: for what the store wrote)."""
    return Silence(
        id=d["id"],
        matchers=tuple(matcher_from_dict(m) for m in d["matchers"]),
        starts_at=float(d["starts_at"]),
        ends_at=float(d["ends_at"]),
        created_by=d["created_by"],
        comment=d["comment"],
        updated_at=float(d["updated_at"]),
    )
