"""``ingest.forward_traces_to`` and its token ``SLOGUARD_INGEST__FORWARD_TOKEN``."""

from __future__ import annotations

from pathlib import Path

import pytest

from sloguard.errors import ConfigError
from sloguard.settings.model import load_settings


def problems(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    path = tmp_path / "sloguard.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(str(path), env or {})
    return [str(p).replace(str(path), "FILE") for p in info.value.problems]


def test_forwarding_is_read_from_the_file_and_the_token_from_the_environment(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sloguard.yaml"
    path.write_text("ingest:\n  forward_traces_to: http://central:9464/\n", encoding="utf-8")
    s = load_settings(str(path), {"SLOGUARD_INGEST__FORWARD_TOKEN": "s3cret"})
    assert s.ingest.forward_traces_to == "http://central:9464"
    assert s.ingest.forward_token is not None
    assert s.ingest.forward_token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(s)


def test_forwarding_is_off_by_default() -> None:
    s = load_settings(None, {})
    assert s.ingest.forward_traces_to is None and s.ingest.forward_token is None


def test_a_url_without_scheme_is_named_with_its_line(tmp_path: Path) -> None:
    assert problems(tmp_path, "mode: exporter\ningest:\n  forward_traces_to: central:9464\n") == [
        "FILE:3: ingest.forward_traces_to: must be an http:// or https:// URL (got 'central:9464')"
    ]


def test_the_token_is_not_read_from_the_file(tmp_path: Path) -> None:
    assert problems(tmp_path, "ingest:\n  forward_token: hunter2\n") == [
        "FILE:2: ingest.forward_token: secrets are not read from settings files; set "
        "SLOGUARD_INGEST__FORWARD_TOKEN instead"
    ]


def test_a_bad_url_in_the_environment_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, {"SLOGUARD_INGEST__FORWARD_TRACES_TO": "ftp://central"})
    assert [str(p) for p in info.value.problems] == [
        "$SLOGUARD_INGEST__FORWARD_TRACES_TO: ingest.forward_traces_to: must be an http:// or "
        "https:// URL (got 'ftp://central')"
    ]
