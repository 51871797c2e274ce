"""``sloguard run`` as a real process: settings, /metrics, probes, clean stop, problem reports."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.processes import (
    START_DEADLINE,
    STOP_DEADLINE,
    Spawn,
    _env,
    _stderr,
    _wait_healthy,
)

SECRET = "ingest-s3cret-value"


def _run_briefly(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "sloguard", *args],
        cwd=tmp_path,
        env=_env(env or {}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_run_serves_metrics_and_stops_cleanly_on_sigterm(
    spawn: Spawn, free_port: int, tmp_path: Path
) -> None:
    config = tmp_path / "sloguard.yaml"
    # The file's port loses to --port; its label limits reach the cardinality guard.
    config.write_text(
        "host: 127.0.0.1\nport: 1\nmetrics:\n  label_limits:\n    agent_name: 10\n",
        encoding="utf-8",
    )
    data_dir = tmp_path / "state"
    env = {"SLOGUARD_DATA_DIR": str(data_dir), "SLOGUARD_INGEST__TOKEN": SECRET}
    proc = spawn("run", "--port", str(free_port), "--config", str(config), env=env)
    base = f"http://127.0.0.1:{free_port}"
    _wait_healthy(proc, base, tmp_path)

    assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{base}/readyz").status_code == 200
    assert data_dir.is_dir()

    r = httpx.get(f"{base}/metrics")
    assert r.headers["content-type"].startswith("text/plain")
    # Families without children are rendered as HELP/TYPE only; the parser still yields them
    # (counter names without their _total suffix).
    families = {f.name: f.type for f in text_string_to_metric_families(r.text)}
    expected = {
        "agent_calls": "counter",
        "agent_latency_seconds": "histogram",
        "agent_token_usage": "counter",
        "agent_cost_usd": "counter",
        "active_agents": "gauge",
        "agent_handoffs": "counter",
        "agent_tool_call_seconds": "histogram",
        "agent_tool_calls": "counter",
        "agent_decisions": "counter",
        "agent_decision_confidence": "histogram",
        "agent_routing_outcomes": "counter",
        "agent_anomalies": "counter",
        "sloguard_label_overflow": "counter",
    }
    assert {name: families.get(name) for name in expected} == expected

    om = httpx.get(f"{base}/metrics", headers={"Accept": "application/openmetrics-text"})
    assert om.headers["content-type"].startswith("application/openmetrics-text")
    assert om.text.endswith("# EOF\n")
    assert "# TYPE agent_calls counter" in om.text

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=STOP_DEADLINE) == 0

    lines = [json.loads(line) for line in _stderr(tmp_path).splitlines()]
    start = next(e for e in lines if e["event"] == "sloguard starting")
    assert (start["host"], start["port"], start["mode"]) == ("127.0.0.1", free_port, "all")
    assert start["level"] == "info"
    assert any(e["event"] == "sloguard stopped" for e in lines)
    assert SECRET not in _stderr(tmp_path)


def test_sigint_also_stops_cleanly(spawn: Spawn, free_port: int, tmp_path: Path) -> None:
    env = {"SLOGUARD_DATA_DIR": str(tmp_path / "state"), "SLOGUARD_MODE": "exporter"}
    proc = spawn("run", "--port", str(free_port), env=env)
    _wait_healthy(proc, f"http://127.0.0.1:{free_port}", tmp_path)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=STOP_DEADLINE) == 0
    assert '"mode": "exporter"' in _stderr(tmp_path)


def test_port_in_use_exits_nonzero(spawn: Spawn, tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {"SLOGUARD_DATA_DIR": str(tmp_path / "state")}
        proc = spawn("run", "--port", str(port), env=env)
        assert proc.wait(timeout=START_DEADLINE) == 1
    stderr = _stderr(tmp_path)
    assert "address already in use" in stderr
    assert f"sloguard: could not start serving on 127.0.0.1:{port}" in stderr


def test_bad_settings_file_lists_every_problem(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("port: 70000\nmode: sideways\nprot: 1\n", encoding="utf-8")
    result = _run_briefly(tmp_path, "run", "--config", str(config))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{config}:1: port: Input should be less than or equal to 65535 (got 70000)",
        f"{config}:2: mode: Input should be 'all', 'exporter' or 'evaluator' (got 'sideways')",
        f"{config}:3: prot: unknown key 'prot', did you mean 'port'?",
    ]


def test_bad_env_value_names_the_variable(tmp_path: Path) -> None:
    result = _run_briefly(tmp_path, "run", env={"SLOGUARD_PORT": "abc"})
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "$SLOGUARD_PORT: port: Input should be a valid integer, unable to parse string as an "
        "integer (got 'abc')"
    ]


def test_mistyped_setting_variable_stops_the_daemon(tmp_path: Path) -> None:
    # One underscore short of SLOGUARD_INGEST__TOKEN: ignoring it would leave ingest open.
    result = _run_briefly(tmp_path, "run", env={"SLOGUARD_INGEST_TOKEN": SECRET})
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "$SLOGUARD_INGEST_TOKEN: ingest_token: unknown setting, did you mean "
        "SLOGUARD_INGEST__TOKEN?"
    ]


def _without_dac_override() -> list[str]:
    """A command prefix under which file modes bind, or skip.

    As root, ``chmod 555`` does not stop writes (CAP_DAC_OVERRIDE): there, the process starts
    under ``setpriv`` without that capability (and its read and owner siblings), which needs
    no mount and no other user; as anyone else the modes bind already.
    """
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    prefix = [setpriv or "setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]
    if setpriv is None or subprocess.run([*prefix, "true"], check=False).returncode != 0:
        pytest.skip("running as root without a working setpriv: chmod would not bind")
    return prefix


def test_read_only_data_dir_is_a_data_dir_problem(tmp_path: Path, free_port: int) -> None:
    data_dir = tmp_path / "state"
    data_dir.mkdir()
    data_dir.chmod(0o555)
    try:
        result = subprocess.run(
            [*_without_dac_override(), sys.executable, "-m", "sloguard", "run"],
            cwd=tmp_path,
            env=_env({"SLOGUARD_DATA_DIR": str(data_dir), "SLOGUARD_PORT": str(free_port)}),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        data_dir.chmod(0o755)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{data_dir}: data_dir: cannot write here (Permission denied); make the directory "
        "writable by the user sloguard runs as, or set data_dir ($SLOGUARD_DATA_DIR, "
        "--data-dir) to one that is"
    ]


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("traces.sqlite", "the trace store"),
        ("alerts.sqlite", "the alert store"),
        ("samples.sqlite", "the embedded samples"),
    ],
)
def test_unopenable_store_file_is_a_file_problem(
    tmp_path: Path, free_port: int, name: str, what: str
) -> None:
    # A directory where the database file should be: SQLite cannot open it, even as root.
    data_dir = tmp_path / "state"
    (data_dir / name).mkdir(parents=True)
    env = {"SLOGUARD_DATA_DIR": str(data_dir), "SLOGUARD_PORT": str(free_port)}
    result = _run_briefly(tmp_path, "run", env=env)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{data_dir / name}: cannot open {what}: unable to open database file; check that "
        "the user sloguard runs as can write this file and its directory"
    ]


def test_bad_flag_value_is_reported(tmp_path: Path) -> None:
    result = _run_briefly(tmp_path, "run", "--port", "0")
    assert result.returncode == 1
    assert "command line: port: Input should be greater than or equal to 1 (got 0)" in (
        result.stderr
    )


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert _run_briefly(tmp_path, "run", "--mode", "sideways").returncode == 2
    assert _run_briefly(tmp_path, "frobnicate").returncode == 2
    assert _run_briefly(tmp_path).returncode == 2


def test_help_lists_commands_with_examples(tmp_path: Path) -> None:
    result = _run_briefly(tmp_path, "--help")
    assert result.returncode == 0
    assert "run       run the daemon" in result.stdout
    assert "examples:\n  sloguard run --config" in result.stdout
    run_help = _run_briefly(tmp_path, "run", "--help")
    assert run_help.returncode == 0
    for flag in ("--config FILE", "--mode", "--host H", "--port P", "--data-dir D"):
        assert flag in run_help.stdout
