"""slo-generator SLO documents → sloguard/v1 (placeholder until the translator lands). Pure."""

from __future__ import annotations

from collections.abc import Sequence

from sloguard.slo.peers.base import Translation, TranslationBuilder
from sloguard.yamldoc import YamlDoc

__all__ = ["VERSIONS", "translate"]

VERSIONS: tuple[str, ...] = ("sre.google.com/v2",)


def translate(docs: Sequence[YamlDoc]) -> Translation:
    """The sloguard/v1 equivalent of the slo-generator documents of one file."""
    b = TranslationBuilder("slo-generator")
    b.problem((0, ()), "slo-generator documents are not read yet")
    return b.build()
