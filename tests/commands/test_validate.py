"""``sloguard validate``: every problem of every file on stdout, notices apart, exit 0/1/2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sloguard.cli import main

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_SLOS = str(REPO / "config" / "slos.yaml")
EXAMPLE_SETTINGS = str(REPO / "config" / "sloguard.yaml")

Write = Callable[[str, str], str]


@pytest.fixture
def write(tmp_path: Path) -> Write:
    def write(name: str, text: str) -> str:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write


@pytest.fixture(autouse=True)
def _no_sloguard_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # --config applies the environment, as `sloguard run` does; keep the tests' own.
    for name in [n for n in os.environ if n.startswith("SLOGUARD_")]:
        monkeypatch.delenv(name)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    status = main(["validate", *args])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


def test_the_example_files_are_clean(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, EXAMPLE_SLOS, EXAMPLE_SETTINGS)
    assert status == 0
    # The seed's 90 % routing SLO cannot use the 14.4x tier; validate says so.
    assert out == [
        f"notice: {EXAMPLE_SLOS}:44: slos[2].alerting.policy: default tier 2m/10s (burn rate "
        "14.4) is left out: at objective 90 % it needs an error ratio of 1.44 > 1 and could "
        "never fire"
    ]
    assert err == "2 file(s) checked: 0 problem(s), 1 notice(s)\n"


def test_every_problem_of_every_file(capsys: pytest.CaptureFixture[str], write: Write) -> None:
    slos = write(
        "slos.yaml",
        "slos:\n  - name: a\n    objective: 100.5\n    sli: {kind: latency, threshold: 3}\n",
    )
    settings = write("settings.yaml", "host: h\nprot: 8080\n")
    status, out, _ = run(capsys, slos, settings)
    assert status == 1
    assert out == [
        f"{slos}:3: slos[0].objective: must be between 0 and 100 percent (got 100.5)",
        f"{slos}:4: slos[0].sli.threshold: latency threshold 3 s is not a bucket bound of "
        "agent_latency_seconds; use one of 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120 (or add "
        "it to metrics.buckets.agent_latency)",
        f"{settings}:2: prot: unknown key 'prot', did you mean 'port'?",
    ]


def test_json_output(capsys: pytest.CaptureFixture[str], write: Write) -> None:
    slos = write("slos.yaml", "slos:\n  - {name: a, target: 0.9, metric: success_rate}\n  - 3\n")
    status = main(["validate", "--json", slos, EXAMPLE_SLOS])
    rows = json.loads(capsys.readouterr().out)
    assert status == 1
    # Problems and notices of a file interleave by line.
    assert rows[:2] == [
        {
            "level": "notice",
            "file": slos,
            "line": 2,
            "field": "slos[0].alerting.policy",
            "message": "default tier 1h/5m (burn rate 14.4) is left out: at objective 90 % it "
            "needs an error ratio of 1.44 > 1 and could never fire",
        },
        {
            "level": "error",
            "file": slos,
            "line": 3,
            "field": "slos[1]",
            "message": "must be a mapping (got 3)",
        },
    ]
    assert [(r["level"], r["file"]) for r in rows[2:]] == [("notice", EXAMPLE_SLOS)]


def test_a_missing_file_is_a_problem_not_a_crash(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "no/such/file.yaml")
    assert (status, out) == (1, ["no/such/file.yaml: cannot read file: No such file or directory"])


def test_slo_names_shared_between_files(capsys: pytest.CaptureFixture[str], write: Write) -> None:
    a = write("a.yaml", "slos:\n  - {name: x, objective: 99, sli: {kind: success_rate}}\n")
    b = write("b.yaml", "apiVersion: sloguard/v1\nslos:\n  - {name: x, target: 0.99, metric: "
              "success_rate}\n")  # fmt: skip
    status, out, _ = run(capsys, a, b)
    assert (status, out) == (1, [f"{b}:3: slos[0].name: duplicate SLO name 'x' (also in {a}:2)"])


def test_a_yaml_syntax_error(capsys: pytest.CaptureFixture[str], write: Write) -> None:
    bad = write("bad.yaml", "slos:\n  - name: [a\n")
    status, out, _ = run(capsys, bad)
    assert status == 1
    assert len(out) == 1 and out[0].startswith(f"{bad}:3: invalid YAML")


def test_config_checks_its_slo_files_against_those_settings(
    capsys: pytest.CaptureFixture[str], write: Write
) -> None:
    # No prometheus.url: the embedded source (no kind: ratio), resolution 4 x 30 s = 2 min.
    settings = write("sloguard.yaml", f"slo_files: [{EXAMPLE_SLOS}]\nevaluation_interval: 30\n")
    status, out, err = run(capsys, "--config", settings)
    assert status == 1
    problems = [line for line in out if not line.startswith("notice: ")]
    assert problems == [
        f"{EXAMPLE_SLOS}:119: slos[8].sli.kind: kind: ratio runs raw PromQL and needs Prometheus: "
        "set prometheus.url (the embedded source cannot evaluate it)"
    ]
    assert (
        f"notice: {EXAMPLE_SLOS}:38: slos[1].alerting.policy: at period 1h the default policy's "
        "windows 0.417s, 2.5s, 5s, 10s, 30s are shorter than the source's resolution (2m) and "
        "were raised to it"
    ) in out
    assert err.startswith("2 file(s) checked: 1 problem(s)")


def test_config_with_prometheus_accepts_ratio_slos(
    capsys: pytest.CaptureFixture[str], write: Write
) -> None:
    settings = write(
        "sloguard.yaml",
        f"slo_files: [{EXAMPLE_SLOS}]\nprometheus: {{url: 'http://127.0.0.1:9090'}}\n",
    )
    status, out, _ = run(capsys, "--config", settings)
    assert status == 0, out
    assert all(line.startswith("notice: ") for line in out)


def test_config_buckets_apply_to_latency_thresholds(
    capsys: pytest.CaptureFixture[str], write: Write
) -> None:
    settings = write("sloguard.yaml", "metrics: {buckets: {agent_latency: [1, 3]}}\n")
    slos = write("slos.yaml", "slos:\n  - {name: a, objective: 99, sli: {kind: latency, "
                 "threshold: 3}}\n")  # fmt: skip
    assert run(capsys, slos)[0] == 1
    assert run(capsys, "--config", settings, slos)[:2] == (0, [])


def test_a_broken_config_is_reported_and_the_rest_still_checked(
    capsys: pytest.CaptureFixture[str], write: Write
) -> None:
    settings = write("sloguard.yaml", "port: 0\n")
    status, out, _ = run(capsys, "--config", settings, settings, EXAMPLE_SLOS)
    assert status == 1
    assert [line for line in out if not line.startswith("notice: ")] == [
        f"{settings}:1: port: Input should be greater than or equal to 1 (got 0)"
    ]


def test_config_reports_unknown_setting_variables(
    capsys: pytest.CaptureFixture[str], write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What `sloguard run --config` would refuse: a mistyped token variable, not an open ingest.
    settings = write("sloguard.yaml", "port: 9999\n")
    monkeypatch.setenv("SLOGUARD_INGEST_TOKEN", "abc")
    monkeypatch.setenv("SLOGUARD_SLACK_TOKEN", "xoxb-1")  # a routing secret: not a setting
    status, out, _ = run(capsys, "--config", settings)
    assert status == 1
    assert out == [
        "$SLOGUARD_INGEST_TOKEN: ingest_token: unknown setting, did you mean "
        "SLOGUARD_INGEST__TOKEN?"
    ]


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys)[0] == 2
    assert main(["validate", "--no-such-flag", EXAMPLE_SLOS]) == 2


@pytest.mark.parametrize(
    ("args", "status"),
    [
        pytest.param([EXAMPLE_SLOS, EXAMPLE_SETTINGS], 0, id="clean"),
        pytest.param(["no/such/file.yaml"], 1, id="problems"),
        pytest.param([], 2, id="usage"),
    ],
)
def test_exit_status_of_the_command(args: list[str], status: int) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sloguard", "validate", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == status, done.stderr


def test_routing_files_are_validated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sloguard.cli import main

    bad = tmp_path / "routing.yaml"
    bad.write_text(
        "receivers:\n  - name: a\n    log: {}\n  - name: a\n    log: {}\n"
        "route:\n  receiver: nobody\n  routes:\n    - match_re: {slo: '('}\n      receiver: a\n",
        encoding="utf-8",
    )
    assert main(["validate", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:4: receivers[1].name: duplicate receiver name 'a' (first on line 2)" in out
    assert f"{bad}:7: route.receiver: unknown receiver 'nobody' (known: a)" in out
    assert f"{bad}:9: route.routes[0].match_re.slo: bad regular expression '('" in out
    assert main(["validate", "config/routing.yaml"]) == 1  # its secrets are not in this env
    assert "environment variable SLOGUARD_SLACK_TOKEN is not set" in capsys.readouterr().out


def test_workflow_bounds_are_checked_against_the_configured_buckets(
    capsys: pytest.CaptureFixture[str], write: Write
) -> None:
    slos = write(
        "slos.yaml",
        "slos:\n  - name: cost\n    objective: 99\n"
        "    sli: {kind: workflow_cost, max_cost_usd: 0.03}\n",
    )
    default = write("default.yaml", f"slo_files: [{slos}]\n")
    status, out, _ = run(capsys, "--config", default)
    assert status == 1
    assert any(
        "max_cost_usd 0.03 is not a bucket bound of agent_workflow_cost_usd" in o for o in out
    )
    custom = write(
        "custom.yaml",
        f"slo_files: [{slos}]\nmetrics: {{buckets: {{workflow_cost: [0.01, 0.03, 0.1]}}}}\n",
    )
    status, out, _ = run(capsys, "--config", custom)
    assert status == 0, out


BROKEN_PROMQL = """\
slos:
  - name: errors
    objective: 99
    sli:
      kind: ratio
      bad: sum(rate(foo{code=~"5.."[5m])
      total: sum(rate(foo[$window]))
"""


def test_broken_promql_is_a_problem_with_its_position_and_a_fix(
    capsys: pytest.CaptureFixture[str], write: Write
) -> None:
    path = write("slos.yaml", BROKEN_PROMQL)
    status, out, err = run(capsys, path)
    assert status == 1
    assert out[0] == (
        f"{path}:6: slos[0].sli.bad: PromQL syntax error at character 25: unexpected character "
        """inside braces: '['; did you mean: sum(rate(foo{code=~"5.."}[5m]))"""
    )
    # the rate-shaped total is read as counts, and validate says so
    assert out[1].startswith(f"notice: {path}:7: slos[0].sli.total: rate(...[$window]) is read")
    assert err == "1 file(s) checked: 1 problem(s), 1 notice(s)\n"


def test_rules_refuses_to_write_broken_promql(
    capsys: pytest.CaptureFixture[str], write: Write, tmp_path: Path
) -> None:
    path = write("slos.yaml", BROKEN_PROMQL)
    status = main(["rules", path, "-o", str(tmp_path / "out")])
    _, err = capsys.readouterr()
    assert status == 1
    assert "slos[0].sli.bad: PromQL syntax error at character 25" in err
    assert not (tmp_path / "out").exists()
