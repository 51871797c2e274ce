"""SLO names used more than once across files. Pure.

Example::

    problems = duplicate_names(slo for f in files for slo in f.slos)
"""

from __future__ import annotations

from collections.abc import Iterable

from sloguard.errors import Problem
from sloguard.slo.spec import SLO

__all__ = ["duplicate_names"]


def duplicate_names(slos: Iterable[SLO]) -> list[Problem]:
    """One problem per SLO whose name an earlier SLO (of any file) already uses."""
    first: dict[str, SLO] = {}
    index: dict[str, int] = {}
    problems = []
    for slo in slos:
        i = index[slo.source_file] = index.get(slo.source_file, -1) + 1
        if slo.name in first:
            prev = first[slo.name]
            where = (
                f"{prev.source_file}:{prev.source_line}" if prev.source_line else prev.source_file
            )
            problems.append(
                Problem(
                    slo.source_file,
                    slo.source_line,
                    f"slos[{i}].name",
                    f"duplicate SLO name {slo.name!r} (also in {where})",
                )
            )
        else:
            first[slo.name] = slo
    return problems
