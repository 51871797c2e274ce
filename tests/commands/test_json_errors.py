"""With ``--json`` a failed command prints one JSON error object on stdout (exit status 1);
without it the same failure is readable lines on stderr."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from sloguard.cli import main
from sloguard.commands import CommandFailed, failure_document, report_failure
from sloguard.errors import ConfigError, Problem

BAD_SLOS = """\
apiVersion: sloguard/v1
slos:
  - name: checkout
    objective: 250
    sli: {kind: success_rate}
"""


@pytest.fixture
def bad_slos(tmp_path: Path) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_SLOS, encoding="utf-8")
    return path


@pytest.mark.parametrize("command", ["rules", "simulate"])
def test_a_documents_problems_are_listed_with_file_line_and_field(
    command: str, bad_slos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [command, str(bad_slos), *(["-o", str(tmp_path / "out")] if command == "rules" else [])]
    assert main(argv) == 1
    text = capsys.readouterr()
    assert text.out == ""
    (line,) = text.err.splitlines()
    assert line.startswith(f"{bad_slos}:4: slos[0].objective: ")
    assert main([*argv, "--json"]) == 1
    captured = capsys.readouterr()
    error = json.loads(captured.out)
    assert captured.err == ""
    assert error["error"] == line
    (problem,) = error["problems"]
    assert (problem["file"], problem["line"], problem["field"]) == (
        str(bad_slos),
        4,
        "slos[0].objective",
    )
    assert line.endswith(problem["message"])


def test_the_error_object_names_the_first_problem_and_counts_the_rest() -> None:
    exc = ConfigError(
        [Problem("a.yaml", 3, "slos[0].name", "missing"), Problem("a.yaml", None, "", "empty")]
    )
    assert failure_document(exc) == {
        "error": "a.yaml:3: slos[0].name: missing (and 1 more problem(s))",
        "problems": [
            {"file": "a.yaml", "line": 3, "field": "slos[0].name", "message": "missing"},
            {"file": "a.yaml", "line": None, "field": "", "message": "empty"},
        ],
    }
    assert failure_document(CommandFailed("no trace store at x")) == {
        "error": "no trace store at x",
        "problems": [],
    }


def test_report_failure_writes_json_to_out_and_text_to_err() -> None:
    out, err = io.StringIO(), io.StringIO()
    report_failure(CommandFailed("daemon down"), as_json=False, out=out, err=err)
    assert (out.getvalue(), err.getvalue()) == ("", "sloguard: daemon down\n")
    out, err = io.StringIO(), io.StringIO()
    report_failure(CommandFailed("daemon down"), as_json=True, out=out, err=err)
    assert json.loads(out.getvalue()) == {"error": "daemon down", "problems": []}
    assert err.getvalue() == ""
