"""YAML documents with line numbers, and pydantic errors as located problems."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from sloguard.errors import ConfigError, Problem
from sloguard.yamldoc import (
    YamlDoc,
    allowed_keys,
    dotted,
    load_yaml,
    parse_yaml,
    secret_paths,
    validation_problems,
)

DOC = """\
# comment
name: checkout
limits:
  port: 80
  hosts:
    - a
    - b
nested:
  - id: 1
    tags: [x, y]
"""


def test_data_matches_safe_load_and_lines_are_one_based() -> None:
    doc = parse_yaml(DOC, "f.yaml")
    assert doc.data == {
        "name": "checkout",
        "limits": {"port": 80, "hosts": ["a", "b"]},
        "nested": [{"id": 1, "tags": ["x", "y"]}],
    }
    assert doc.lines[("name",)] == 2
    assert doc.lines[("limits", "port")] == 4
    assert doc.lines[("limits", "hosts", 1)] == 7
    assert doc.lines[("nested", 0)] == 9
    assert doc.lines[("nested", 0, "tags")] == 10


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (("limits", "port"), 4),
        (("limits", "missing"), 3),  # nearest ancestor
        (("limits", "hosts", 5, "deeper"), 5),
        (("nested", 0, "id", "[key]"), 9),
        (("absent",), None),  # the document as a whole has no line
        ((), None),
    ],
)
def test_line_of_path_falls_back_to_nearest_ancestor(
    path: tuple[Any, ...], line: int | None
) -> None:
    assert parse_yaml(DOC, "f.yaml").line(path) == line


def test_problem_has_file_line_and_dotted_field() -> None:
    p = parse_yaml(DOC, "f.yaml").problem(("limits", "hosts", 1), "bad host")
    assert p == Problem("f.yaml", 7, "limits.hosts[1]", "bad host")
    assert str(p) == "f.yaml:7: limits.hosts[1]: bad host"


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (("a", "b"), "a.b"),
        (("a", 0, "b"), "a[0].b"),
        ((0, "a"), "[0].a"),
        (("labels", "agent", "[key]"), "labels.agent"),
        ((), ""),
    ],
)
def test_dotted(path: tuple[Any, ...], text: str) -> None:
    assert dotted(path) == text


def test_anchors_and_merge_keys_follow_safe_load() -> None:
    doc = parse_yaml("base: &b {x: 1, y: 2}\nthing:\n  <<: *b\n  y: 3\n", "m.yaml")
    assert doc.data["thing"] == {"x": 1, "y": 3}
    assert doc.problems == ()  # an explicit key overriding a merged one is no duplicate
    assert doc.line(("thing", "y")) == 4


def test_recursive_alias_does_not_loop() -> None:
    doc = parse_yaml("a: &a\n  - *a\n", "r.yaml")
    assert doc.lines[("a",)] == 1


def test_duplicate_keys_are_problems_and_the_last_value_wins() -> None:
    doc = parse_yaml("port: 1\nhost: h\nport: 2\n", "d.yaml")
    assert doc.data == {"port": 2, "host": "h"}
    assert doc.problems == (Problem("d.yaml", 3, "port", "duplicate key 'port' (first on line 1)"),)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: 1\nb: [1, 2\nc: 3\n", 3),
        ("a: 1\n  b: 2\n", 2),
        ("a: 1\n---\nb: 2\n", 2),  # more than one document
        ("a: !!python/object:os.system x\n", 1),  # safe_load refuses arbitrary tags
    ],
)
def test_syntax_errors_are_problems_with_a_line(text: str, line: int) -> None:
    with pytest.raises(ConfigError) as info:
        parse_yaml(text, "bad.yaml")
    (problem,) = info.value.problems
    assert problem.file == "bad.yaml"
    assert problem.line == line
    assert problem.message.startswith("invalid YAML: ")


def test_empty_document_is_none() -> None:
    doc = parse_yaml("# nothing\n", "e.yaml")
    assert doc.data is None
    assert doc.line(("x",)) is None


def test_load_yaml_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("\ufeffport: 1\n", encoding="utf-8")  # a BOM is fine
    doc = load_yaml(path)
    assert doc == YamlDoc(str(path), {"port": 1}, doc.lines)
    assert doc.line(("port",)) == 1


def test_load_yaml_missing_file_and_bad_encoding(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read file"):
        load_yaml(tmp_path / "nope.yaml")
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"a: 1\nb: caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_yaml(bad)
    assert info.value.problems == (Problem(str(bad), 2, "", "file is not valid UTF-8"),)


# --- pydantic errors -----------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Endpoint(_Strict):
    url: str
    timeout: float = Field(1.0, gt=0)
    token: SecretStr | None = None


class Doc(_Strict):
    name: str
    endpoints: list[Endpoint] = []
    limits: dict[str, int] = {}


def _problems(text: str) -> list[Problem]:
    doc = parse_yaml(text, "doc.yaml")
    with pytest.raises(ValidationError) as info:
        Doc.model_validate(doc.data)
    return validation_problems(info.value, doc, model=Doc, secrets=secret_paths(Doc))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: a\nendpionts: []\n",
            "doc.yaml:2: endpionts: unknown key 'endpionts', did you mean 'endpoints'?",
        ),
        (
            "name: a\nendpoints:\n  - url: u\n    timout: 3\n",
            "doc.yaml:4: endpoints[0].timout: unknown key 'timout', did you mean 'timeout'?",
        ),
        (
            "name: a\nzzz: 1\n",
            "doc.yaml:2: zzz: unknown key 'zzz' (allowed: endpoints, limits, name)",
        ),
        (
            "name: a\nendpoints:\n  - url: u\n    timeout: -2\n",
            "doc.yaml:4: endpoints[0].timeout: Input should be greater than 0 (got -2)",
        ),
        (
            "name: a\nlimits:\n  x: many\n",
            "doc.yaml:3: limits.x: Input should be a valid integer, unable to parse string as an"
            " integer (got 'many')",
        ),
        (
            "name: a\nendpoints:\n  - timeout: 2\n",
            "doc.yaml:3: endpoints[0].url: required field is missing",
        ),
        (
            "name: a\nendpoints:\n  - url: u\n    token: [hunter2]\n",
            "doc.yaml:4: endpoints[0].token: Input should be a valid string (value hidden)",
        ),
    ],
)
def test_validation_problems(text: str, expected: str) -> None:
    assert [str(p) for p in _problems(text)] == [expected]


def test_every_problem_is_reported_in_line_order() -> None:
    problems = _problems("limits: {a: x}\nendpoints:\n  - url: 1\nnam: a\n")
    assert [(p.line, p.field) for p in problems] == [
        (None, "name"),
        (1, "limits.a"),
        (3, "endpoints[0].url"),
        (4, "nam"),
    ]


def test_allowed_keys_walks_models_lists_and_optionals() -> None:
    assert allowed_keys(Doc, ()) == ["name", "endpoints", "limits"]
    assert allowed_keys(Doc, ("endpoints", 3)) == ["url", "timeout", "token"]
    assert allowed_keys(Doc, ("limits", "x")) is None
    assert allowed_keys(Doc, ("nope",)) is None
    assert secret_paths(Doc) == [("endpoints", "*", "token")]
    assert secret_paths(Endpoint) == [("token",)]
