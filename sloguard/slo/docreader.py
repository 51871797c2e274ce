"""Reading a parsed YAML document field by field, collecting every problem instead of stopping.

:class:`Findings` gathers the problems and notices of one document, located by field path;
:class:`DocNode` reads one mapping of it key by key (an unknown key is a problem, with a "did you
mean"); the value converters (:func:`string`, :func:`any_string`, :func:`number`,
:func:`duration`, :func:`choice`, ...) return the value or raise ``ValueError(message)``, which
:meth:`DocNode.get` records as a problem at the key. The SLO reader (:mod:`sloguard.slo.entry`,
:mod:`sloguard.slo.policies`) is built from these.

Example::

    findings = Findings(doc)
    node = DocNode(findings, ("slos", 0), doc.data["slos"][0], ("name", "period"))
    name = node.get("name", string, required=True)    # None, and a problem, if missing
    period = node.get("period", duration)              # None when absent or invalid
    findings.sorted_problems()
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

from sloguard.durations import format_duration, parse_duration
from sloguard.errors import Problem
from sloguard.yamldoc import FieldPath, YamlDoc, show, suggest

__all__ = [
    "DocNode",
    "Findings",
    "any_string",
    "choice",
    "duration",
    "fraction",
    "non_negative",
    "number",
    "positive",
    "show_duration",
    "show_percent",
    "string",
]

_T = TypeVar("_T")


class Findings:
    """Problems and notices of one document, located by field path.

    A *notice* is something adjusted or ignored on purpose; it leaves the document valid.
    The document's own structural problems (duplicate keys) come first.
    """

    def __init__(self, doc: YamlDoc) -> None:
        self.doc = doc
        self.problems: list[Problem] = list(doc.problems)
        self.notices: list[Problem] = []

    def problem(self, path: Sequence[Any], message: str) -> None:
        """Record a problem at ``path``."""
        self.problems.append(self.doc.problem(path, message))

    def notice(self, path: Sequence[Any], message: str) -> None:
        """Record a notice at ``path``."""
        self.notices.append(self.doc.problem(path, message))

    def sorted_problems(self) -> tuple[Problem, ...]:
        """The problems in line order."""
        return _by_line(self.problems)

    def sorted_notices(self) -> tuple[Problem, ...]:
        """The notices in line order."""
        return _by_line(self.notices)


def _by_line(problems: Sequence[Problem]) -> tuple[Problem, ...]:
    return tuple(sorted(problems, key=lambda p: p.line or 0))


class DocNode:
    """One mapping of the document, read key by key; unknown keys become problems.

    A key whose value is null counts as absent (``alerting:`` with everything commented out).
    ``misplaced`` maps keys written one level too high to the key they belong under.
    """

    def __init__(
        self,
        findings: Findings,
        path: FieldPath,
        value: Any,
        keys: Sequence[str],
        misplaced: Mapping[str, str] | None = None,
    ) -> None:
        self.findings, self.path, self.valid = findings, path, isinstance(value, dict)
        self.data: Mapping[Any, Any] = value if isinstance(value, dict) else {}
        if not self.valid:
            findings.problem(path, f"must be a mapping (got {show(value)})")
        for key in self.data:
            if key not in keys:
                hint = misplaced or {}
                where = f" (it belongs under {hint[key]}:)" if key in hint else ""
                findings.problem(
                    (*path, key), f"unknown key {key!r}{where or suggest(str(key), keys)}"
                )

    def __contains__(self, key: str) -> bool:
        return self.data.get(key) is not None

    def at(self, key: str) -> FieldPath:
        """The field path of ``key`` in this mapping."""
        return (*self.path, key)

    def get(self, key: str, convert: Callable[[Any], _T], *, required: bool = False) -> _T | None:
        """The converted value of ``key``; None (and a problem) when missing or invalid."""
        if key not in self:
            if required:
                self.findings.problem(self.at(key), "required field is missing")
            return None
        try:
            return convert(self.data[key])
        except ValueError as exc:
            self.findings.problem(self.at(key), str(exc))
            return None


# --- value converters: return the value or raise ValueError(message) -----------------------------


def string(value: Any) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be a non-empty string (got {show(value)})")
    return value


def any_string(value: Any) -> str:
    """Any string, empty included."""
    if not isinstance(value, str):
        raise ValueError(f"must be a string (got {show(value)})")
    return value


def number(value: Any) -> float:
    """A finite int or float (not a bool, not ``"99.5%"``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        pct = isinstance(value, str) and value.strip().endswith("%")
        raise ValueError(f"must be a number{' without %' if pct else ''} (got {show(value)})")
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number (got {show(value)})")
    return float(value)


def positive(value: Any) -> float:
    """A number greater than 0."""
    if (x := number(value)) <= 0:
        raise ValueError(f"must be greater than 0 (got {show(value)})")
    return x


def non_negative(value: Any) -> float:
    """A number of 0 or more."""
    if (x := number(value)) < 0:
        raise ValueError(f"must be 0 or more (got {show(value)})")
    return x


def fraction(value: Any) -> float:
    """A share of the error budget: more than 0, at most 1."""
    if not 0 < (x := number(value)) <= 1:
        raise ValueError(f"must be a fraction of the budget, more than 0 and at most 1 (got {x:g})")
    return x


def duration(value: Any) -> float:
    """A Prometheus-style duration string (``30d``, ``5m``) longer than 0, in seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"a duration needs a unit, e.g. 30d, 6h or 5m (got {show(value)})")
    if not isinstance(value, str):
        raise ValueError(f"must be a duration such as 30d, 6h or 5m (got {show(value)})")
    if (seconds := parse_duration(value)) <= 0:
        raise ValueError(f"must be longer than 0 (got {show(value)})")
    return seconds


def choice(enum: Callable[[str], _T], choices: Collection[str], what: str) -> Callable[[Any], _T]:
    """A converter to ``enum`` accepting one of ``choices``; ``what`` names it in problems."""

    def convert(value: Any) -> _T:
        if not isinstance(value, str) or value not in choices:
            raise ValueError(f"unknown {what} {show(value)}{suggest(str(value), choices)}")
        return enum(value)

    return convert


# --- values in problem messages ------------------------------------------------------------------


def show_duration(seconds: float) -> str:
    """Render a window for a message: ``1h30m``, or ``2.5s`` when not whole seconds."""
    return format_duration(seconds) if seconds == int(seconds) else f"{seconds:.3g}s"


def show_percent(ratio: float) -> str:
    """Render a ratio as a percent for a message: ``99.5 %``."""
    return f"{ratio * 100:.10g} %"
