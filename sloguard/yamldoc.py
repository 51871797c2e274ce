"""YAML documents that remember line numbers, and pydantic errors turned into located problems.

:func:`load_yaml` reads a file with ``yaml.safe_load`` semantics and also records, for every
mapping key and list item, the 1-based line it starts on, so validators (settings, SLO and routing
files) can report ``file:line: field.path: message``. :func:`validation_problems` turns a pydantic
``ValidationError`` into such problems: it names the offending value and suggests the closest
known key for a misspelt one.

Example::

    doc = load_yaml("config/slos.yaml")
    try:
        SloFile.model_validate(doc.data)
    except ValidationError as exc:
        raise ConfigError(validation_problems(exc, doc, model=SloFile)) from exc
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Collection, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_core import ErrorDetails

from sloguard.errors import ConfigError, Problem

#: Where a value sits in a document: mapping keys and list indexes, from the root.
FieldPath = tuple[Any, ...]

#: In a path pattern (:func:`secret_paths`, :func:`is_under`): any list index or mapping key.
ANY = "*"

_MERGE_TAG = "tag:yaml.org,2002:merge"
_MAX_SHOWN = 80


@dataclass(frozen=True, slots=True)
class YamlDoc:
    """A parsed YAML document: its data, the line of every key/item, and structural problems.

    ``problems`` holds what ``yaml.safe_load`` silently accepts but a reviewer would not
    (duplicate keys); callers report them together with their own validation problems.
    """

    file: str
    data: Any
    lines: Mapping[FieldPath, int]
    problems: tuple[Problem, ...] = ()

    def line(self, path: Sequence[Any]) -> int | None:
        """Return the line of ``path``, or of its nearest ancestor present in the document."""
        p = tuple(path)
        while True:
            hit = self.lines.get(p)
            if hit is not None or not p:
                return hit
            p = p[:-1]

    def problem(self, path: Sequence[Any], message: str) -> Problem:
        """Return a :class:`Problem` at ``path`` of this document."""
        return Problem(self.file, self.line(path), dotted(path), message)


def load_yaml(path: str | Path) -> YamlDoc:
    """Read and parse the YAML file at ``path``; raise :class:`ConfigError` if it cannot be."""
    return parse_yaml(_read_text(path), str(path))


def _read_text(path: str | Path) -> str:
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError([Problem(name, None, "", f"cannot read file: {exc.strerror}")]) from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError([Problem(name, line, "", "file is not valid UTF-8")]) from exc


def parse_yaml(text: str, file: str = "<string>") -> YamlDoc:
    """Parse one YAML document from ``text``; ``file`` names it in problems."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        return _document(loader, root, file)
    except yaml.MarkedYAMLError as exc:
        raise ConfigError([_syntax_problem(file, exc)]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(file, None, "", f"invalid YAML: {exc}")]) from exc
    finally:
        loader.dispose()


def parse_yaml_all(text: str, file: str = "<string>") -> tuple[YamlDoc, ...]:
    """Parse every document of ``text`` (separated by ``---``); lines count from the file's
    start. Empty documents are left out; an empty text gives one empty document."""
    loader = yaml.SafeLoader(text)
    docs: list[YamlDoc] = []
    try:
        while loader.check_node():
            root = loader.get_node()
            if root is not None:
                docs.append(_document(loader, root, file))
    except yaml.MarkedYAMLError as exc:
        raise ConfigError([_syntax_problem(file, exc)]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(file, None, "", f"invalid YAML: {exc}")]) from exc
    finally:
        loader.dispose()
    return tuple(docs) or (YamlDoc(file, None, {}),)


def load_yaml_all(path: str | Path) -> tuple[YamlDoc, ...]:
    """Read the YAML file at ``path`` and parse every document in it (:func:`parse_yaml_all`)."""
    return parse_yaml_all(_read_text(path), str(path))


def _document(loader: yaml.SafeLoader, root: yaml.Node | None, file: str) -> YamlDoc:
    if root is None:
        return YamlDoc(file, None, {})
    duplicates = tuple(_duplicate_keys(root, (), file, set()))
    data = loader.construct_document(root)
    lines: dict[FieldPath, int] = {}
    _index(loader, root, (), lines, set())
    return YamlDoc(file, data, types.MappingProxyType(lines), duplicates)


def _syntax_problem(file: str, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    what = exc.problem or "invalid YAML"
    if exc.context:
        what = f"{what} ({exc.context})"
    return Problem(file, mark.line + 1 if mark else None, "", f"invalid YAML: {what}")


def _duplicate_keys(
    node: yaml.Node, path: FieldPath, file: str, active: set[int]
) -> Iterator[Problem]:
    # Runs on the raw node tree: construction flattens merge keys (``<<``), after which an
    # explicit key overriding a merged one would look like a duplicate.
    if id(node) in active:
        return
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[tuple[str, str], int] = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != _MERGE_TAG:
                ident = (key.tag, key.value)
                line = key.start_mark.line + 1
                if ident in first:
                    yield Problem(
                        file,
                        line,
                        dotted((*path, key.value)),
                        f"duplicate key {key.value!r} (first on line {first[ident]})",
                    )
                else:
                    first[ident] = line
                yield from _duplicate_keys(value, (*path, key.value), file, active)
            else:
                yield from _duplicate_keys(value, path, file, active)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*path, i), file, active)
    active.discard(id(node))


def _index(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    path: FieldPath,
    lines: dict[FieldPath, int],
    active: set[int],
) -> None:
    # Runs after construction, so merged keys are in place; aliases to an ancestor
    # (recursive documents) are not followed again.
    if id(node) in active:
        return
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key_node, value in node.value:
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, Hashable):
                lines[(*path, key)] = key_node.start_mark.line + 1
                _index(loader, value, (*path, key), lines, active)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*path, i)] = item.start_mark.line + 1
            _index(loader, item, (*path, i), lines, active)
    active.discard(id(node))


# --- pydantic errors → problems ------------------------------------------------------------------


def dotted(path: Sequence[Any]) -> str:
    """Render a field path as ``a.b[2].c`` (pydantic's ``[key]`` markers are dropped)."""
    out = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif part != "[key]":
            out += f".{part}" if out else str(part)
    return out


def show(value: Any) -> str:
    """Return a short ``repr`` of an offending value for a problem message."""
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def is_under(path: Sequence[Any], prefixes: Collection[FieldPath]) -> bool:
    """Return whether ``path`` is one of ``prefixes`` or lies below one ("*" matches any part)."""
    return any(
        len(path) >= len(prefix)
        and all(want in (ANY, got) for want, got in zip(prefix, path, strict=False))
        for prefix in prefixes
    )


def suggest(word: str, choices: Collection[str]) -> str:
    """Return ``", did you mean 'x'?"`` for the closest of ``choices``, or the allowed list."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    if close:
        return f", did you mean {close[0]!r}?"
    return f" (allowed: {', '.join(sorted(choices))})" if choices else ""


def error_message(
    error: ErrorDetails, *, model: type[BaseModel] | None = None, hide_input: bool = False
) -> str:
    """Return a one-line message for one pydantic error, naming the offending input value.

    With ``model`` an unknown key gets a "did you mean" suggestion from the fields expected
    there; with ``hide_input`` (secrets) the value is not shown.
    """
    kind = error["type"]
    loc = error["loc"]
    if kind == "extra_forbidden":
        key = loc[-1] if loc else ""
        allowed = allowed_keys(model, loc[:-1]) if model is not None else None
        return f"unknown key {key!r}" + (suggest(str(key), allowed) if allowed else "")
    if kind == "missing":
        return "required field is missing"
    msg = error["msg"]
    if kind == "value_error":
        msg = msg.removeprefix("Value error, ")
    if hide_input:
        return f"{msg} (value hidden)"
    shown = show(error.get("input"))
    if kind == "value_error" and shown in msg:  # our own validators may name it already
        return msg
    return f"{msg} (got {shown})"


def validation_problems(
    exc: ValidationError,
    doc: YamlDoc,
    *,
    model: type[BaseModel] | None = None,
    secrets: Collection[FieldPath] = (),
) -> list[Problem]:
    """Turn every error of ``exc`` (validating ``doc.data``) into a located :class:`Problem`.

    ``secrets`` lists field paths whose values must never appear in a message.
    """
    problems = [
        doc.problem(
            err["loc"],
            error_message(err, model=model, hide_input=is_under(err["loc"], secrets)),
        )
        for err in exc.errors(include_url=False)
    ]
    return sorted(problems, key=lambda p: p.line or 0)


# --- which keys a model expects at a path ----------------------------------------------------


def allowed_keys(model: type[BaseModel], path: Sequence[Any]) -> list[str] | None:
    """Return the keys the model expects at ``path``, or None if that is not a model."""
    tp: Any = model
    for key in path:
        tp = _child_type(tp, key)
        if tp is None:
            return None
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or name for name, f in tp.model_fields.items()]
    return None


def secret_paths(model: Any, prefix: FieldPath = ()) -> list[FieldPath]:
    """Return the paths of every ``SecretStr`` in ``model`` ("*" for any list index/dict key)."""
    tp = _unwrap(model)
    if tp is SecretStr:
        return [prefix]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [
            path
            for name, field in tp.model_fields.items()
            for path in secret_paths(field.annotation, (*prefix, name))
        ]
    inner = _child_type(tp, ANY)
    return [] if inner is None else secret_paths(inner, (*prefix, ANY))


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin is typing.Union or origin is types.UnionType:
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _child_type(tp: Any, key: Any) -> Any:
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, field in tp.model_fields.items():
            if key in (name, field.alias):
                return field.annotation
        return None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if not isinstance(origin, type) or not args:
        return None
    if issubclass(origin, Mapping):
        return args[-1]
    if issubclass(origin, (Sequence, frozenset, set)):
        return args[0]
    return None
