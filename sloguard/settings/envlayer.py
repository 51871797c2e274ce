"""Environment variables as one layer of settings, remembering which variable set what.

pydantic-settings' own environment source does the parsing (prefix, ``__`` nesting, JSON for
lists and mappings), but reads a given mapping instead of ``os.environ``, and each variable is
tried on its own first, so one malformed value is reported without hiding the others. The result
keeps, for every field path, the variable that set it, so a later validation error can name it.

Example::

    layer = read_env(Settings, {"SLOGUARD_PORT": "abc"}, prefix="SLOGUARD_")
    layer.data        # {"port": "abc"}
    layer.origins     # {("port",): "$SLOGUARD_PORT"}
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

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

    Values at ``secrets`` paths never appear in problems.
    """
    good: dict[str, str] = {}
    origins: dict[FieldPath, str] = {}
    problems: list[Problem] = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(prefix) or upper in skip or environ[name] == "":
            continue
        path = tuple(upper[len(prefix) :].lower().split(DELIMITER))
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
