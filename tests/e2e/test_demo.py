"""``sloguard demo`` end to end: the injected incident makes billing's availability SLO burn."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.processes import Spawn, _env, _stderr, _wait_healthy, wait_for_billing

DEADLINE = 90.0


def test_demo_incident_burns_billing_and_status_shows_it(
    spawn: Spawn, free_port: int, tmp_path: Path
) -> None:
    proc = spawn(
        "demo",
        "--port",
        str(free_port),
        "--incident-after",
        "4",
        "--interval",
        "1",
        "--rate",
        "25",
        "--data-dir",
        str(tmp_path / "demo"),
    )
    base = f"http://127.0.0.1:{free_port}"
    _wait_healthy(proc, base, tmp_path)
    billing, items = wait_for_billing(base, lambda b: b.get("state") == "burning", tmp_path)
    assert billing["severity"] in {"critical", "warning"}
    # the other workers stay healthy
    shipping = next(i for i in items if i["instance"] == {"agent_name": "shipping"})
    assert shipping["state"] == "ok"
    # the state is exported as metrics too
    text = httpx.get(f"{base}/metrics", timeout=5).text
    assert (
        'sloguard_slo_state{agent_name="billing",slo="demo-agent-availability",state="burning"} 1.0'
        in text
    )
    assert 'agent_handoffs_total{source_agent="supervisor",target_agent="billing"}' in text
    assert 'agent_workflow_runs_total{status="success",workflow="customer-request"}' in text
    # the incident makes customer requests dearer: the end-to-end cost SLO burns too
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        slos = httpx.get(f"{base}/api/v1/slos", timeout=5).json()["slos"]
        cost = next(i for i in slos if i["slo"] == "demo-workflow-cost")
        if cost["state"] == "burning":
            break
        time.sleep(0.5)
    assert cost["state"] == "burning", cost
    assert cost["instance"] == {"workflow": "customer-request"}
    # the alert reached the demo's console receiver
    wanted = "SLO demo-agent-availability (agent_name=billing) is burning its error budget"
    deadline = time.monotonic() + 30
    while wanted not in _stderr(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert wanted in _stderr(tmp_path)
    alerts = httpx.get(f"{base}/api/v1/alerts", timeout=5).json()["alerts"]
    assert any(a["labels"]["slo"] == "demo-agent-availability" for a in alerts)
    # sloguard status renders the same API as a table, and as JSON
    out = subprocess.run(
        [sys.executable, "-m", "sloguard", "status", "--url", base],
        env=_env({"COLUMNS": "200"}),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    assert "demo-agent-availability" in out and "burning" in out
    as_json = subprocess.run(
        [sys.executable, "-m", "sloguard", "status", "--url", base, "--json"],
        env=_env({}),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    assert any(i["state"] == "burning" for i in json.loads(as_json))


def test_status_against_nothing_says_so(free_port: int) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sloguard", "status", "--url", f"http://127.0.0.1:{free_port}"],
        env=_env({}),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert out.returncode == 1
    # every command reports a failure the same way: "sloguard: ..." (or JSON with --json)
    assert f"sloguard: cannot read http://127.0.0.1:{free_port}/api/v1/slos" in out.stderr


def test_demo_alerts_reach_slack_when_configured(
    spawn: Spawn, free_port: int, tmp_path: Path
) -> None:
    from tests.support.fakeslack import DEFAULT_TOKEN, FakeSlack

    with FakeSlack() as slack:
        proc = spawn(
            "demo",
            "--port",
            str(free_port),
            "--incident-after",
            "3",
            "--interval",
            "1",
            "--rate",
            "25",
            "--data-dir",
            str(tmp_path / "demo"),
            env={
                "SLOGUARD_SLACK_TOKEN": DEFAULT_TOKEN,
                "SLOGUARD_SLACK_CHANNEL": "alerts",
                "SLOGUARD_SLACK_BASE_URL": slack.base_url,
            },
        )
        _wait_healthy(proc, f"http://127.0.0.1:{free_port}", tmp_path)
        deadline = time.monotonic() + DEADLINE
        wanted = "demo-agent-availability (agent_name=billing)"
        while time.monotonic() < deadline:
            if any(wanted in json.dumps(c.params) for c in slack.calls_to("chat.postMessage")):
                break
            time.sleep(0.3)
        else:
            pytest.fail(f"no Slack message for billing\n{_stderr(tmp_path)[-3000:]}")
        # the console still gets it too
        assert wanted in _stderr(tmp_path)


def test_demo_with_a_duration_stops_on_sigterm(
    spawn: Spawn, free_port: int, tmp_path: Path
) -> None:
    # The --duration timer must not hold the process after SIGTERM until it runs out.
    proc = spawn(
        "demo",
        "--port",
        str(free_port),
        "--duration",
        "90",
        "--interval",
        "1",
        "--data-dir",
        str(tmp_path / "demo"),
    )
    _wait_healthy(proc, f"http://127.0.0.1:{free_port}", tmp_path)
    proc.send_signal(signal.SIGTERM)
    try:
        status = proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        pytest.fail(f"demo ignored SIGTERM for 15 s\n{_stderr(tmp_path)[-3000:]}")
    assert status == 0, _stderr(tmp_path)[-3000:]
