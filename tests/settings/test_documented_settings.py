"""Every setting is shown in ``config/sloguard.yaml`` and every routing field in
``config/routing.yaml`` (commented is fine), so the examples cannot drift from the models.

Read from the models (:class:`Settings` and its sections; the routing file's specs), not from a
list kept here: a new field fails this test until the example file shows it. A nested field must
appear inside its top-level section's block; a secret (only ever from the environment) must
have its ``SLOGUARD_…`` variable named instead.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from sloguard.notify.config import AlertRoutingSpec
from sloguard.settings.model import SECRET_PATHS, Settings, env_name

CONFIG = Path(__file__).resolve().parents[2] / "config"
#: A top-level key of the settings file, set or commented out (``port:``, ``# routing_file:``).
TOP = re.compile(r"^(?:# ?)?([a-z_]+):")


def models_in(annotation: object) -> Iterator[type[BaseModel]]:
    """The models an annotation holds (``X | None``, ``dict[str, X]``, ``tuple[X, ...]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from models_in(arg)


def field_paths(
    model: type[BaseModel], prefix: tuple[str, ...] = (), above: frozenset[type] = frozenset()
) -> Iterator[tuple[str, ...]]:
    """Every field of ``model`` and of the models below it, as key paths (aliases as written);
    a model nested in itself (a route's ``routes``) is walked once."""
    for name, info in model.model_fields.items():
        path = (*prefix, info.alias or name)
        yield path
        for sub in models_in(info.annotation):
            if sub not in above and sub is not model:
                yield from field_paths(sub, path, above | {model})


def sections(text: str) -> dict[str, str]:
    """Top-level key → its block (its line and the indented or commented lines below it)."""
    blocks: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        m = TOP.match(line)
        if m is not None:
            current = blocks.setdefault(m[1], [])
        current.append(line)
    return {key: "\n".join(lines) for key, lines in blocks.items()}


def shown(name: str, text: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(name)}:", text) is not None


def missing_settings(text: str) -> list[str]:
    blocks = sections(text)
    missing = []
    for path in field_paths(Settings):
        if path in SECRET_PATHS:
            ok = env_name(path) in text
        elif len(path) == 1:
            ok = path[0] in blocks
        else:
            ok = shown(path[-1], blocks.get(path[0], ""))
        if not ok:
            missing.append(".".join(path))
    return missing


def test_every_setting_is_in_the_example_settings_file() -> None:
    text = (CONFIG / "sloguard.yaml").read_text(encoding="utf-8")
    assert missing_settings(text) == []


def test_the_check_sees_a_missing_setting() -> None:
    text = (CONFIG / "sloguard.yaml").read_text(encoding="utf-8")
    without = "\n".join(
        line
        for line in text.splitlines()
        if "drain_timeout" not in line and "max_items" not in line
    )
    assert missing_settings(without) == ["drain_timeout", "ingest.max_items"]
    # a name shown in another section does not count: prometheus.timeout is not ingest's
    assert "timeout:" in sections(text)["prometheus"]


def test_every_routing_field_is_in_the_example_routing_file() -> None:
    text = (CONFIG / "routing.yaml").read_text(encoding="utf-8")
    fields = {path[-1] for path in field_paths(AlertRoutingSpec)}
    assert {"base_url", "url_env", "resend_after", "continue"} <= fields
    assert sorted(f for f in fields if not shown(f, text)) == []
