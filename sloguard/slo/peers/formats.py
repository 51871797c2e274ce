"""Which peer format a file is written in, and its translator. Pure.

A file's first document decides: ``version: prometheus/v1`` or ``apiVersion:
sloth.slok.dev/v1`` is Sloth, ``openslo/v1`` and ``openslo/v1alpha`` OpenSLO, ``pyrra.dev/v1alpha1``
Pyrra, ``sre.google.com/v2`` slo-generator; no ``apiVersion`` (or ``sloguard/v1``) is sloguard's
own. Every document of a peer file must be of the same format.

Example::

    fmt = detect(docs[0].data)       # PeerFormat or None (sloguard's own)
    if fmt is not None:
        translation = fmt.translate(docs)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sloguard.slo.peers import openslo, pyrra, slogenerator, sloth
from sloguard.slo.peers.base import Translation
from sloguard.yamldoc import YamlDoc

__all__ = ["FORMATS", "PeerFormat", "detect", "supported_versions"]


@dataclass(frozen=True, slots=True)
class PeerFormat:
    """One peer format: its name, the version strings that announce it, its translator."""

    name: str
    versions: tuple[str, ...]  # values of apiVersion (or Sloth's version) it reads
    translate: Callable[[Sequence[YamlDoc]], Translation]

    def matches(self, data: Any) -> bool:
        """Whether a document's data announces this format."""
        return isinstance(data, dict) and _version(data) in self.versions


FORMATS: tuple[PeerFormat, ...] = (
    PeerFormat("Sloth", sloth.VERSIONS, sloth.translate),
    PeerFormat("OpenSLO", openslo.VERSIONS, openslo.translate),
    PeerFormat("Pyrra", pyrra.VERSIONS, pyrra.translate),
    PeerFormat("slo-generator", slogenerator.VERSIONS, slogenerator.translate),
)


def _version(data: dict[Any, Any]) -> Any:
    version = data.get("apiVersion")
    return data.get("version") if version is None else version


def detect(data: Any) -> PeerFormat | None:
    """The peer format ``data`` (a document's data) is written in, or None."""
    return next((f for f in FORMATS if f.matches(data)), None)


def supported_versions() -> tuple[str, ...]:
    """Every version string sloguard reads, its own first."""
    return ("sloguard/v1", *(v for f in FORMATS for v in f.versions))
