"""A translation's data as a document with the peer file's lines, and problems moved back to
where the user wrote them. Pure.

The ordinary SLO reader checks :func:`translated_doc` (its ``lines`` are the peer file's lines
of each value's origin); :func:`at_origins` then renames each problem's field from the
``sloguard/v1`` path to the peer document's path, keeping the sloguard name in the message when
they differ, so ``spec.objective`` is reported where ``slos[0].objective`` was checked.

Example::

    doc = translated_doc(docs, translation)
    check = check_slo_doc(doc)
    problems = at_origins(docs, translation, check.problems)
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Sequence

from sloguard.errors import Problem
from sloguard.slo.peers.base import Translation, TranslationNote
from sloguard.yamldoc import FieldPath, YamlDoc, dotted

__all__ = ["at_origins", "first_line", "notes_as_problems", "translated_doc"]


def translated_doc(docs: Sequence[YamlDoc], translation: Translation) -> YamlDoc:
    """The translation's data as a :class:`YamlDoc` whose lines are its origins' lines."""
    lines: dict[FieldPath, int] = {}
    for path, (index, source) in translation.origins.items():
        line = docs[index].line(source) if index < len(docs) else None
        if line is not None:
            lines[path] = line
    duplicates = tuple(p for d in docs for p in d.problems)
    file = docs[0].file if docs else "<string>"
    return YamlDoc(file, translation.data, types.MappingProxyType(lines), duplicates)


def at_origins(
    docs: Sequence[YamlDoc], translation: Translation, problems: Iterable[Problem]
) -> list[Problem]:
    """``problems`` of the translated document, each renamed to its origin's field."""
    by_field = {dotted(path): path for path in translation.origins}
    out = []
    for problem in problems:
        path = _nearest(problem.field, by_field)
        origin = translation.origin(path) if path is not None else None
        if origin is None:
            out.append(problem)
            continue
        field = _field(docs, origin)
        message = problem.message
        if problem.field and problem.field != field:
            message = f"{message} (sloguard field {problem.field})"
        out.append(Problem(problem.file, problem.line, field, message))
    return out


def notes_as_problems(docs: Sequence[YamlDoc], notes: Iterable[TranslationNote]) -> list[Problem]:
    """Translation problems or notices as located problems of the peer file."""
    out = []
    for note in notes:
        index, path = note.origin
        doc = docs[index] if index < len(docs) else docs[0]
        line = doc.line(path) or first_line(doc)
        out.append(Problem(doc.file, line, _field(docs, note.origin), note.message))
    return out


def first_line(doc: YamlDoc) -> int | None:
    """The line of the document's first key or item (None for an empty document)."""
    return min(doc.lines.values(), default=None)


def _field(docs: Sequence[YamlDoc], origin: tuple[int, FieldPath]) -> str:
    index, path = origin
    name = dotted(path)
    if len(docs) > 1:
        return f"document {index + 1}" + (f": {name}" if name else "")
    return name


def _nearest(field: str, by_field: dict[str, FieldPath]) -> FieldPath | None:
    # the longest mapped field that is the problem's field or one of its ancestors
    best: FieldPath | None = None
    best_len = -1
    for name, path in by_field.items():
        is_prefix = field == name or (
            field.startswith(name) and field[len(name) : len(name) + 1] in (".", "[")
        )
        if is_prefix and len(name) > best_len:
            best, best_len = path, len(name)
    return best
