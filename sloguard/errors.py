"""sloguard's exception hierarchy.

    SloguardError
    ├── InvalidRecord        (also ValueError) agent activity that cannot become metrics
    ├── TraceError           (also ValueError) misuse of the trace model (ending a step twice…)
    ├── ConfigError          a settings/SLO/routing document with problems (all of them listed)
    └── MissingExtra         (also ImportError) an optional dependency is not installed

Foreign exceptions (httpx, slack_sdk, pydantic) are mapped where they enter, with ``from exc``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class SloguardError(Exception):
    """Base of every error sloguard raises on purpose."""


class InvalidRecord(SloguardError, ValueError):
    """Agent activity that cannot be recorded; nothing was recorded."""


class TraceError(SloguardError, ValueError):
    """A trace or step used the wrong way (ended twice, bad values); no metric was touched."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem in a document: where it is and what is wrong."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ConfigError(SloguardError):
    """A configuration document has problems; ``problems`` lists every one of them."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class MissingExtra(SloguardError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        super().__init__(
            f"{feature} needs the optional dependency {module!r}: pip install 'sloguard[{extra}]'"
        )
