"""Real ``sloguard`` processes for tests: free ports, spawning, waiting until healthy."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
START_DEADLINE = 20.0
STOP_DEADLINE = 15.0

Spawn = Callable[..., subprocess.Popen[bytes]]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("SLOGUARD_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def spawning(tmp_path: Path) -> Iterator[Spawn]:
    """Start ``sloguard ARGS`` in the background; every process is gone after the test."""
    procs: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = []

    def spawn(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"stderr-{len(procs)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "sloguard", *args],
            cwd=tmp_path,
            env=_env(env or {}),
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        procs.append((proc, log))
        return proc

    try:
        yield spawn
    finally:  # also when the test (or a fixture using this as a context manager) fails
        for proc, log in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=STOP_DEADLINE)
            log.close()


def _stderr(tmp_path: Path, index: int = 0) -> str:
    return (tmp_path / f"stderr-{index}.log").read_text(encoding="utf-8")


def _wait_healthy(proc: subprocess.Popen[bytes], base: str, tmp_path: Path) -> None:
    deadline = time.monotonic() + START_DEADLINE
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"sloguard exited with {proc.returncode}:\n{_stderr(tmp_path)}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    pytest.fail(f"sloguard did not become healthy within {START_DEADLINE}s:\n{_stderr(tmp_path)}")


def wait_for_billing(
    base: str, done: Callable[[dict[str, object]], bool], tmp_path: Path, deadline: float = 120.0
) -> tuple[dict[str, object], list[dict[str, object]]]:
    """Poll a demo's ``/api/v1/slos`` until billing's availability instance satisfies ``done``;
    return it and every instance."""
    end = time.monotonic() + deadline
    billing: dict[str, object] = {}
    items: list[dict[str, object]] = []
    while time.monotonic() < end:
        items = httpx.get(f"{base}/api/v1/slos", timeout=5).json()["slos"]
        billing = next(
            (
                i
                for i in items
                if i["slo"] == "demo-agent-availability"
                and i["instance"] == {"agent_name": "billing"}
            ),
            {},
        )
        if done(billing):
            return billing, items
        time.sleep(0.5)
    pytest.fail(f"billing never got there: {billing}\n{_stderr(tmp_path)[-3000:]}")
