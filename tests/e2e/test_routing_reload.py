"""Routing files in the running daemon: refused at start, reloaded on SIGHUP and on change,
and a bad file on reload keeps the last good routing running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.fakeslack import DEFAULT_TOKEN, FakeSlack
from tests.support.processes import Spawn, _env, _stderr, _wait_healthy, free_port

SLOS = (
    "slos:\n  - name: availability\n    objective: 99\n    period: 1h\n"
    "    sli: {kind: success_rate}\n"
)


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    # make sure the change is seen even within the file system's mtime resolution
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_bad_routing_file_stops_the_daemon_with_every_problem(tmp_path: Path) -> None:
    routing = tmp_path / "routing.yaml"
    routing.write_text(
        "receivers:\n  - name: a\n    log: {}\n  - name: a\n    log: {}\nroute:\n  receiver: b\n",
        encoding="utf-8",
    )
    (tmp_path / "slos.yaml").write_text(SLOS, encoding="utf-8")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "sloguard",
            "run",
            "--port",
            str(free_port()),
            "--data-dir",
            str(tmp_path / "d"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=_env(
            {
                "SLOGUARD_ROUTING_FILE": str(routing),
                "SLOGUARD_SLO_FILES": f'["{tmp_path / "slos.yaml"}"]',
            }
        ),
    )
    assert out.returncode == 1
    assert f"{routing}:4: receivers[1].name: duplicate receiver name 'a' (first on line 2)" in (
        out.stderr
    )
    assert f"{routing}:7: route.receiver: unknown receiver 'b' (known: a)" in out.stderr


def test_sighup_and_file_change_reload_and_bad_file_keeps_last_good(
    spawn: Spawn, tmp_path: Path
) -> None:
    with FakeSlack() as slack:
        routing = tmp_path / "routing.yaml"
        write(routing, "receivers:\n  - name: console\n    log: {}\nroute:\n  receiver: console\n")
        port = free_port()
        proc = spawn(
            "demo",
            "--port",
            str(port),
            "--incident-after",
            "10",
            "--interval",
            "1",
            "--rate",
            "25",
            "--data-dir",
            str(tmp_path / "d"),
            env={"SLOGUARD_ROUTING_FILE": str(routing), "T_SLACK": DEFAULT_TOKEN},
        )
        _wait_healthy(proc, f"http://127.0.0.1:{port}", tmp_path)

        def wait_log(text: str, count: int = 1) -> None:
            deadline = time.monotonic() + 30
            while _stderr(tmp_path).count(text) < count and time.monotonic() < deadline:
                time.sleep(0.2)
            assert _stderr(tmp_path).count(text) >= count, _stderr(tmp_path)[-3000:]

        # a bad file: the daemon keeps running with the last good routing and says why
        write(routing, "receivers:\n  - name: console\n    log: {}\nroute:\n  receiver: nope\n")
        proc.send_signal(signal.SIGHUP)
        wait_log("keeping the last good routing")
        assert "unknown receiver 'nope'" in _stderr(tmp_path)
        assert proc.poll() is None
        # a good file, picked up by the change check (no signal)
        write(
            routing,
            "receivers:\n  - name: slack\n"
            f"    slack: {{channel: alerts, token_env: T_SLACK, base_url: '{slack.base_url}'}}\n"
            "route:\n  receiver: slack\n",
        )
        # the new routing is in force: the incident's alert goes to Slack
        deadline = time.monotonic() + 60
        while not slack.calls_to("chat.postMessage") and time.monotonic() < deadline:
            time.sleep(0.3)
        assert slack.calls_to("chat.postMessage"), _stderr(tmp_path)[-3000:]
        assert proc.poll() is None
