"""Reading one peer document field by field while writing its translation. Pure.

Used by the Sloth and Pyrra translators (:mod:`sloguard.slo.peers.sloth`,
:mod:`sloguard.slo.peers.pyrra`): a :class:`PeerReader` knows the document's index in its file,
so every problem it records is at the peer file's line and field, and it checks what the peer
format says about a mapping (its known keys, with a "did you mean") before the translator reads
the values. Values sloguard checks anyway (numbers, durations, PromQL) are passed through with
their origin, so the ordinary sloguard reader reports them at the peer's field.

Example::

    r = PeerReader(builder, index=0, fmt="Sloth")
    slo = r.mapping(("slos", 0), doc.data["slos"][0], ("name", "objective", "sli"))
    r.put(("slos", 0, "objective"), slo.get("objective"), ("slos", 0, "objective"))
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sloguard.slo.peers.base import Origin, TranslationBuilder
from sloguard.yamldoc import FieldPath, show, suggest

__all__ = ["PeerReader"]


class PeerReader:
    """Checks the mappings of one peer document and writes values with their origins."""

    def __init__(self, builder: TranslationBuilder, index: int, fmt: str) -> None:
        self.b, self.index, self.fmt = builder, index, fmt

    def origin(self, path: FieldPath) -> Origin:
        """The origin of ``path`` of this document."""
        return (self.index, tuple(path))

    def problem(self, path: FieldPath, message: str) -> None:
        """A problem at ``path`` of this document."""
        self.b.problem(self.origin(path), message)

    def notice(self, path: FieldPath, message: str) -> None:
        """A notice at ``path`` of this document."""
        self.b.notice(self.origin(path), message)

    def put(self, target: FieldPath, value: Any, source: FieldPath) -> None:
        """Write ``value`` at ``target`` of the translation, from ``source`` of this document."""
        self.b.put(target, value, self.origin(source))

    def mapping(
        self, path: FieldPath, value: Any, keys: Collection[str], *, what: str = ""
    ) -> dict[str, Any] | None:
        """``value`` if it is a mapping (null counts as empty); unknown keys are problems."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(path, f"must be a mapping{what} (got {show(value)})")
            return None
        for key in value:
            if key not in keys:
                self.problem(
                    (*path, key),
                    f"unknown key {key!r} for {self.fmt}{suggest(str(key), keys)}",
                )
        return {k: v for k, v in value.items() if k in keys}

    def string(self, path: FieldPath, value: Any, *, required: bool = False) -> str | None:
        """``value`` if it is a non-empty string; a problem when required and missing or wrong."""
        if value is None:
            if required:
                self.problem(path, "required field is missing")
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem(path, f"must be a non-empty string (got {show(value)})")
            return None
        return value

    def flag(self, path: FieldPath, value: Any) -> bool | None:
        """``value`` as a boolean (absent is None); anything else is a problem."""
        if value is None or isinstance(value, bool):
            return value
        self.problem(path, f"must be true or false (got {show(value)})")
        return None

    def labels(self, path: FieldPath, value: Any) -> Mapping[str, Any]:
        """A mapping of label or annotation names to values (its values checked by sloguard)."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(path, f"must be a mapping of names to strings (got {show(value)})")
            return {}
        return value
