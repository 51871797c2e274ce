"""The ``traces:`` settings section: defaults, durations and sizes, env, clear problems."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sloguard.errors import ConfigError
from sloguard.settings.model import load_settings

REPO = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024


def problems(
    env: dict[str, str] | None = None, text: str | None = None, tmp: Path | None = None
) -> list[str]:
    path = None
    if text is not None:
        assert tmp is not None
        path = tmp / "sloguard.yaml"
        path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(str(path) if path else None, env or {})
    return [str(p).replace(str(path), "FILE") for p in info.value.problems]


def test_defaults() -> None:
    t = load_settings(None, {}).traces
    assert (t.max_age, t.max_steps, t.max_decisions, t.max_events) == (
        7 * 86400,
        1_000_000,
        1_000_000,
        1_000_000,
    )
    assert (t.max_bytes, t.prune_interval) == (512 * MiB, 60.0)


def test_the_example_config_documents_the_section() -> None:
    text = (REPO / "config" / "sloguard.yaml").read_text(encoding="utf-8")
    assert "\ntraces:\n" in text
    t = load_settings(str(REPO / "config" / "sloguard.yaml"), {}).traces
    assert (t.max_age, t.max_bytes, t.prune_interval) == (7 * 86400, 512 * MiB, 60.0)


@pytest.mark.parametrize(
    ("env", "field", "value"),
    [
        ({"SLOGUARD_TRACES__MAX_STEPS": "5000"}, "max_steps", 5000),
        ({"SLOGUARD_TRACES__MAX_DECISIONS": "7"}, "max_decisions", 7),
        ({"SLOGUARD_TRACES__MAX_EVENTS": "9"}, "max_events", 9),
        ({"SLOGUARD_TRACES__MAX_AGE": "12h"}, "max_age", 12 * 3600),
        ({"SLOGUARD_TRACES__MAX_AGE": "1h30m"}, "max_age", 5400),
        ({"SLOGUARD_TRACES__MAX_AGE": "3600"}, "max_age", 3600),
        ({"SLOGUARD_TRACES__MAX_BYTES": "64MiB"}, "max_bytes", 64 * MiB),
        ({"SLOGUARD_TRACES__MAX_BYTES": "2 GiB"}, "max_bytes", 2048 * MiB),
        ({"SLOGUARD_TRACES__MAX_BYTES": "10000000"}, "max_bytes", 10_000_000),
        ({"SLOGUARD_TRACES__PRUNE_INTERVAL": "90s"}, "prune_interval", 90),
        ({"SLOGUARD_TRACES": '{"max_steps": 3}'}, "max_steps", 3),
    ],
)
def test_env_values(env: dict[str, str], field: str, value: Any) -> None:
    assert getattr(load_settings(None, env).traces, field) == value


def test_file_values_and_env_over_file(tmp_path: Path) -> None:
    path = tmp_path / "sloguard.yaml"
    path.write_text("traces:\n  max_age: 2d\n  max_bytes: 128MiB\n  max_steps: 10\n")
    t = load_settings(str(path), {"SLOGUARD_TRACES__MAX_STEPS": "20"}).traces
    assert (t.max_age, t.max_bytes, t.max_steps) == (2 * 86400, 128 * MiB, 20)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"SLOGUARD_TRACES__MAX_AGE": "soon"},
            "$SLOGUARD_TRACES__MAX_AGE: traces.max_age: not a duration: 'soon' (use e.g. 30d, "
            "6h, 5m, 1h30m)",
        ),
        (
            {"SLOGUARD_TRACES__MAX_AGE": "0s"},
            "$SLOGUARD_TRACES__MAX_AGE: traces.max_age: Input should be greater than 0 (got '0s')",
        ),
        (
            {"SLOGUARD_TRACES__MAX_AGE": "inf"},
            "$SLOGUARD_TRACES__MAX_AGE: traces.max_age: Input should be a finite number "
            "(got 'inf')",
        ),
        (
            {"SLOGUARD_TRACES__MAX_BYTES": "lots"},
            "$SLOGUARD_TRACES__MAX_BYTES: traces.max_bytes: must be a number of bytes or a size "
            "such as 512MiB or 2GiB (got 'lots')",
        ),
        (
            {"SLOGUARD_TRACES__MAX_BYTES": "100KiB"},
            "$SLOGUARD_TRACES__MAX_BYTES: traces.max_bytes: Input should be greater than or "
            "equal to 1048576 (got '100KiB')",
        ),
        (
            {"SLOGUARD_TRACES__MAX_STEPS": "0"},
            "$SLOGUARD_TRACES__MAX_STEPS: traces.max_steps: Input should be greater than or "
            "equal to 1 (got '0')",
        ),
        (
            {"SLOGUARD_TRACES__PRUNE_INTERVAL": "-5"},
            "$SLOGUARD_TRACES__PRUNE_INTERVAL: traces.prune_interval: Input should be greater "
            "than 0 (got '-5')",
        ),
    ],
)
def test_env_problems_name_the_variable_and_field(env: dict[str, str], expected: str) -> None:
    assert problems(env) == [expected]


def test_file_problems_name_line_and_field_all_at_once(tmp_path: Path) -> None:
    text = "traces:\n  max_age: forever\n  max_bytes: true\n  max_evnets: 3\n"
    assert problems(text=text, tmp=tmp_path) == [
        "FILE:2: traces.max_age: not a duration: 'forever' (use e.g. 30d, 6h, 5m, 1h30m)",
        "FILE:3: traces.max_bytes: must be a number of bytes or a size such as 512MiB or 2GiB "
        "(got True)",
        "FILE:4: traces.max_evnets: unknown key 'max_evnets', did you mean 'max_events'?",
    ]
