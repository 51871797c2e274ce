"""Environment variables as one layer of settings, remembering which variable set what.

pydantic-settings' own environment source does the parsing (prefix, ``__`` nesting, JSON for
lists and mappings), but reads a given mapping instead of ``os.environ``, and each variable is
tried on its own first, so one malformed value is reported without hiding the others. The result
keeps, for every field path, the variable that set it, so a later validation error can name it.

A variable that looks like a setting but names none (``SLOGUARD_INGEST_TOKEN``, one underscore
short of ``SLOGUARD_INGEST__TOKEN``) is a problem too: ignoring it would silently drop the setting,
and for a token that means ingest left open. "Looks like a setting" is deliberately narrow, so
that other ``SLOGUARD_*`` variables (the routing file's ``token_env:``/``url_env:``/
``secret_envs:`` secrets such as ``SLOGUARD_SLACK_TOKEN``) pass: the name contains ``__``, starts
with a section and one underscore (``SLOGUARD_TRACES_MAX_AGE``), or is a field name without its
underscores (``SLOGUARD_DATADIR``). Settings are read before the routing file, so a secret it
names must not look like a setting; nor may an agent's variables in the daemon's environment
(the chart gives ``SLOGUARD_INGEST_URL`` to the agent's container only).

Example::

    layer = read_env(Settings, {"SLOGUARD_PORT": "abc"}, prefix="SLOGUARD_")
    layer.data        # {"port": "abc"}
    layer.origins     # {("port",): "$SLOGUARD_PORT"}
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, get_args, get_origin

from pydantic import BaseModel
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsError

from sloguard.errors import Problem
from sloguard.yamldoc import FieldPath, dotted, is_under, show

DELIMITER = "__"


@dataclass(frozen=True, slots=True)
class EnvLayer:
    """Settings given by environment variables.

    ``origins`` maps each field path a variable set to ``$NAME``; ``problems`` lists the
    variables whose value could not be parsed at all (those are left out of ``data``).
    """

    data: dict[str, Any]
    origins: Mapping[FieldPath, str]
    problems: tuple[Problem, ...]


def env_name(path: FieldPath, prefix: str) -> str:
    """Return the environment variable that sets the field at ``path``."""
    return prefix + DELIMITER.join(str(p) for p in path).upper()


def _section(annotation: Any) -> type[BaseModel] | None:
    """The model a field of this type is a section of (``X | None`` too), or None."""
    for kind in (annotation, *get_args(annotation)):
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            return kind
    return None


def _paths(model: type[BaseModel], base: FieldPath = ()) -> Iterator[FieldPath]:
    """Every field path of ``model``, sections and the fields inside them."""
    for name, field in model.model_fields.items():
        yield (*base, name)
        section = _section(field.annotation)
        if section is not None:
            yield from _paths(section, (*base, name))


def _unknown(
    settings_cls: type[BaseSettings], name: str, path: FieldPath, prefix: str
) -> Problem | None:
    """A problem if the variable ``name`` (``path`` below ``prefix``) looks like a setting
    pydantic-settings would silently ignore: its first part names no field, or it goes below a
    field that has no fields."""
    fields = settings_cls.model_fields
    top = str(path[0])
    if top in fields:
        field = fields[top]
        if len(path) == 1 or _section(field.annotation) is not None:
            return None  # a setting, or below a section (whose unknown keys pydantic reports)
        if get_origin(field.annotation) is dict:
            return None  # keys of a mapping (label_limits-like) are the mapping's own
        message = f"unknown setting: {top} has no fields"
    else:
        sections = [f for f, info in fields.items() if _section(info.annotation) is not None]
        squashed = {f.replace("_", "") for f in fields}
        looks_like = (
            len(path) > 1
            or any(top.startswith(f"{section}_") for section in sections)
            or top.replace("_", "") in squashed
        )
        if not looks_like:
            return None
        message = "unknown setting"
    names = [env_name(p, prefix) for p in _paths(settings_cls)]
    close = difflib.get_close_matches(name.upper(), names, n=1, cutoff=0.75)
    if close:
        hint = f", did you mean {close[0]}?"
    else:
        hint = f" (a setting is {prefix}<FIELD>, nested with {DELIMITER})"
    return Problem(f"${name}", None, dotted(path), message + hint)


class _MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' environment source, reading ``environ`` instead of os.environ."""

    def __init__(
        self, settings_cls: type[BaseSettings], environ: Mapping[str, str], prefix: str
    ) -> None:
        self._environ = environ
        super().__init__(
            settings_cls,
            case_sensitive=False,
            env_prefix=prefix,
            env_nested_delimiter=DELIMITER,
            env_ignore_empty=True,
        )

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {k.lower(): v for k, v in self._environ.items() if v != ""}


def read_env(
    settings_cls: type[BaseSettings],
    environ: Mapping[str, str],
    *,
    prefix: str,
    skip: Collection[str] = (),
    secrets: Collection[FieldPath] = (),
) -> EnvLayer:
    """Read the ``prefix*`` variables of ``environ`` (names in ``skip`` and empty ones ignored).

    Values at ``secrets`` paths never appear in problems; a variable that looks like a setting
    but names none is a problem (see the module docstring).
    """
    good: dict[str, str] = {}
    origins: dict[FieldPath, str] = {}
    problems: list[Problem] = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(prefix) or upper in skip or environ[name] == "":
            continue
        path = tuple(upper[len(prefix) :].lower().split(DELIMITER))
        unknown = _unknown(settings_cls, name, path, prefix)
        if unknown is not None:
            problems.append(unknown)
            continue
        try:
            _MappingEnvSource(settings_cls, {name: environ[name]}, prefix)()
        except SettingsError:
            value = "(value hidden)" if is_under(path, secrets) else show(environ[name])
            message = f"invalid JSON list/mapping (got {value})"
            problems.append(Problem(f"${name}", None, dotted(path), message))
            continue
        good[name] = environ[name]
        origins[path] = f"${name}"
    data = _MappingEnvSource(settings_cls, good, prefix)()
    return EnvLayer(data, origins, tuple(problems))
