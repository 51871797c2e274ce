"""Offline model pricing: USD per 1M input/output tokens, from a versioned table.

The table ships with the package (``sloguard/data/pricing.yaml``: illustrative list prices, dated
by its ``version``) and can be replaced by a file of the same format or overridden per model by
settings. A provider-reported cost always wins over the table; this is the fallback for agents
that report tokens only.

Model names are matched case-insensitively, exactly, after dropping a provider prefix
(``openai/gpt-4o``, ``models/gemini-2.5-pro``) and a trailing date or version suffix
(``gpt-4o-2024-08-06``, ``claude-3-5-sonnet-20241022``, ``gemini-2.0-flash-001``). Nothing looser:
an unknown variant stays unpriced (and is counted) rather than priced as its nearest neighbour.

Example::

    table = load_pricing(overrides={"my-finetune": ModelPrice(input=3.0, output=12.0)})
    table.cost("gpt-4o-2024-08-06", input_tokens=1000, output_tokens=500)   # 0.0075
    table.cost("llama-local", input_tokens=1000, output_tokens=500)          # None
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sloguard.errors import ConfigError
from sloguard.yamldoc import YamlDoc, load_yaml, parse_yaml, validation_problems

PER_TOKENS = 1_000_000
#: Distinct model names whose lookup result is remembered (names come from clients).
_CACHE_SIZE = 1024
_PROVIDER_PREFIX = re.compile(r"^.*/")
_VERSION_SUFFIX = re.compile(
    r"(?:-(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{3,4}|latest|preview(?:-\d{2}-\d{2})?|exp(?:-\d{4})?"
    r"|v\d+(?::\d+)?))+$"
)


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """Price of one model in USD per 1M tokens."""

    input: float
    output: float

    def __post_init__(self) -> None:
        for side in ("input", "output"):
            value = getattr(self, side)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise ValueError(f"{side} price must be a number >= 0, got {value!r}")


class PriceTable:
    """Look model prices up and turn token counts into USD."""

    __slots__ = ("_cache", "prices", "version")

    def __init__(self, version: str, prices: Mapping[str, ModelPrice]) -> None:
        self.version = version
        self.prices: Mapping[str, ModelPrice] = {k.lower(): v for k, v in prices.items()}
        self._cache: dict[str, ModelPrice | None] = {}

    def lookup(self, model: str | None) -> ModelPrice | None:
        """Return the price of ``model``, or None when the table has none."""
        if not model:
            return None
        if model in self._cache:
            return self._cache[model]
        found = self._find(model.lower())
        if len(self._cache) < _CACHE_SIZE:
            self._cache[model] = found
        return found

    def _find(self, name: str) -> ModelPrice | None:
        for candidate in (name, _PROVIDER_PREFIX.sub("", name)):
            hit = self.prices.get(candidate) or self.prices.get(_VERSION_SUFFIX.sub("", candidate))
            if hit is not None:
                return hit
        return None

    def cost(self, model: str | None, input_tokens: int, output_tokens: int) -> float | None:
        """Return the USD cost of the tokens, or None when ``model`` has no price."""
        price = self.lookup(model)
        if price is None:
            return None
        return (input_tokens * price.input + output_tokens * price.output) / PER_TOKENS

    def with_overrides(self, overrides: Mapping[str, ModelPrice]) -> PriceTable:
        """Return a table where ``overrides`` replace (or add) the prices of their models."""
        if not overrides:
            return self
        return PriceTable(f"{self.version}+overrides", {**self.prices, **overrides})

    def __repr__(self) -> str:
        return f"<PriceTable {self.version} models={len(self.prices)}>"


# --- the file format -----------------------------------------------------------------------------

NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _PriceDoc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    input: NonNegative
    output: NonNegative


class _PricingDoc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Annotated[str, Field(min_length=1)]
    currency: Literal["USD"] = "USD"
    unit: Literal["per_1m_tokens"] = "per_1m_tokens"
    models: dict[Annotated[str, Field(min_length=1)], _PriceDoc]


def packaged_pricing_text() -> str:
    """Return the text of the pricing table shipped with sloguard."""
    return resources.files("sloguard").joinpath("data/pricing.yaml").read_text(encoding="utf-8")


def load_pricing(
    path: str | Path | None = None, *, overrides: Mapping[str, ModelPrice] | None = None
) -> PriceTable:
    """Load the pricing table at ``path`` (default: the packaged one), then apply ``overrides``.

    Raise :class:`ConfigError` naming every problem of the file (line and field).
    """
    if path is None:
        doc = parse_yaml(packaged_pricing_text(), "sloguard/data/pricing.yaml")
    else:
        doc = load_yaml(path)
    return _table(doc).with_overrides(overrides or {})


def _table(doc: YamlDoc) -> PriceTable:
    try:
        parsed = _PricingDoc.model_validate(doc.data)
    except ValidationError as exc:
        raise ConfigError(
            [*doc.problems, *validation_problems(exc, doc, model=_PricingDoc)]
        ) from exc
    if doc.problems:
        raise ConfigError(doc.problems)
    prices = {name: ModelPrice(p.input, p.output) for name, p in parsed.models.items()}
    return PriceTable(parsed.version, prices)
