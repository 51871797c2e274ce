"""OpenSLO SLO documents → sloguard/v1 (placeholder until the translator lands). Pure."""

from __future__ import annotations

from collections.abc import Sequence

from sloguard.slo.peers.base import Translation, TranslationBuilder
from sloguard.yamldoc import YamlDoc

__all__ = ["VERSIONS", "translate"]

VERSIONS: tuple[str, ...] = ("openslo/v1", "openslo/v1alpha")


def translate(docs: Sequence[YamlDoc]) -> Translation:
    """The sloguard/v1 equivalent of the OpenSLO documents of one file."""
    b = TranslationBuilder("OpenSLO")
    b.problem((0, ()), "OpenSLO documents are not read yet")
    return b.build()
