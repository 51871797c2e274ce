"""A peer SLO document translated to ``sloguard/v1`` data, remembering where each value came
from. Pure.

A translator reads the documents of one file (a Sloth spec, or several OpenSLO objects separated
by ``---``) and writes the equivalent ``sloguard/v1`` document with a :class:`TranslationBuilder`.
Every value it writes carries its **origin**: the index of the source document in the file and
the field path in it. The loader checks the translated data as it checks any ``sloguard/v1``
document and reports each problem at its origin (the peer file's line and field), so a user
never sees a line of a document they did not write. What the peer format says but sloguard
cannot represent is a problem at its origin, never silently dropped; what sloguard represents
differently on purpose is a notice.

Example::

    b = TranslationBuilder("sloth prometheus/v1")
    b.put(("slos", 0, "name"), "requests-availability", (0, ("slos", 0, "name")))
    b.put(("slos", 0, "objective"), 99.9, (0, ("slos", 0, "objective")))
    b.problem((0, ("slos", 0, "sli", "plugin")), "plugin 'x' is not supported; ...")
    translation = b.build()
    translation.data        # {"apiVersion": "sloguard/v1", "slos": [{"name": ..., ...}]}
    translation.origins[("slos", 0, "objective")]   # (0, ("slos", 0, "objective"))
"""

from __future__ import annotations

import itertools
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sloguard.yamldoc import FieldPath

__all__ = ["Origin", "Translation", "TranslationBuilder", "TranslationNote"]

#: Where a value came from: the document's index in its file and the field path in it.
Origin = tuple[int, FieldPath]


@dataclass(frozen=True, slots=True)
class TranslationNote:
    """A problem or notice of a translation, at its origin in the peer file."""

    origin: Origin
    message: str


@dataclass(frozen=True, slots=True)
class Translation:
    """The ``sloguard/v1`` equivalent of a peer document, and where each of its values came from.

    ``origins`` maps a path of ``data`` to its origin; a path without an entry takes its nearest
    ancestor's. ``format`` names the peer format (``"sloth prometheus/v1"``).
    """

    format: str
    data: Mapping[str, Any]
    origins: Mapping[FieldPath, Origin]
    problems: tuple[TranslationNote, ...] = ()
    notices: tuple[TranslationNote, ...] = ()

    def origin(self, path: FieldPath) -> Origin | None:
        """The origin of ``path`` of :attr:`data`, or of its nearest ancestor with one."""
        p = tuple(path)
        while True:
            hit = self.origins.get(p)
            if hit is not None or not p:
                return hit
            p = p[:-1]


class TranslationBuilder:
    """Writes a ``sloguard/v1`` document value by value, each with its origin.

    :meth:`put` creates the mappings and lists on the way (a list index equal to the list's
    length appends). The root's ``apiVersion`` is ``sloguard/v1``.
    """

    def __init__(self, fmt: str) -> None:
        self._format = fmt
        self._data: dict[str, Any] = {"apiVersion": "sloguard/v1"}
        self._origins: dict[FieldPath, Origin] = {}
        self._problems: list[TranslationNote] = []
        self._notices: list[TranslationNote] = []

    def put(self, path: FieldPath, value: Any, origin: Origin) -> None:
        """Set ``value`` at ``path`` (creating containers on the way) and remember its origin."""
        if not path:
            raise ValueError("cannot put at the document's root")
        node: Any = self._data
        for here, nxt in itertools.pairwise(path):
            node = _child(node, here, {} if isinstance(nxt, str) else [])
        _assign(node, path[-1], value)
        self._origins[tuple(path)] = origin

    def origin_of(self, path: FieldPath, origin: Origin) -> None:
        """Remember ``origin`` for ``path`` without writing a value (e.g. a whole SLO entry)."""
        self._origins[tuple(path)] = origin

    def problem(self, origin: Origin, message: str) -> None:
        """Something the peer document says that sloguard cannot represent or that is wrong."""
        self._problems.append(TranslationNote(origin, message))

    def notice(self, origin: Origin, message: str) -> None:
        """Something translated differently on purpose (the document stays valid)."""
        self._notices.append(TranslationNote(origin, message))

    def build(self) -> Translation:
        """The translation written so far."""
        return Translation(
            self._format,
            self._data,
            types.MappingProxyType(dict(self._origins)),
            tuple(self._problems),
            tuple(self._notices),
        )


def _child(node: Any, key: Any, empty: Any) -> Any:
    if isinstance(node, dict):
        return node.setdefault(key, empty)
    if isinstance(node, list) and isinstance(key, int):
        if key == len(node):
            node.append(empty)
        return node[key]
    raise TypeError(f"cannot descend into {type(node).__name__} with {key!r}")


def _assign(node: Any, key: Any, value: Any) -> None:
    if isinstance(node, dict):
        node[key] = value
    elif isinstance(node, list) and isinstance(key, int) and key <= len(node):
        if key == len(node):
            node.append(value)
        else:
            node[key] = value
    else:
        raise TypeError(f"cannot set {key!r} in {type(node).__name__}")
