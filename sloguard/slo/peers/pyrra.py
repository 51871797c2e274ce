"""Pyrra SLO documents → sloguard/v1 (placeholder until the translator lands). Pure."""

from __future__ import annotations

from collections.abc import Sequence

from sloguard.slo.peers.base import Translation, TranslationBuilder
from sloguard.yamldoc import YamlDoc

__all__ = ["VERSIONS", "translate"]

VERSIONS: tuple[str, ...] = ("pyrra.dev/v1alpha1",)


def translate(docs: Sequence[YamlDoc]) -> Translation:
    """The sloguard/v1 equivalent of the Pyrra documents of one file."""
    b = TranslationBuilder("Pyrra")
    b.problem((0, ()), "Pyrra documents are not read yet")
    return b.build()
