"""Real PostgreSQL (Debian ``postgresql``) for tests: a fresh cluster in a temp dir, on a free
loopback port, stopped at the end.

Not a test module: tests import these helpers and wrap them in fixtures, as with
``tests/support/promserver.py``.

What Debian's PostgreSQL 15 needs, found by trying:

- The server binaries live in ``/usr/lib/postgresql/<major>/bin`` (not on ``PATH``).
- ``initdb`` and ``postgres`` refuse to run as root: as root the cluster is created and run as
  the ``postgres`` user (``runuser``), in a directory that user owns.
- ``-k DIR`` puts the Unix socket in the cluster's directory, so nothing touches
  ``/var/run/postgresql``; ``-h 127.0.0.1`` listens on loopback only. ``fsync=off`` and
  ``synchronous_commit=off`` make tests fast (the data is thrown away).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.promserver import free_port

__all__ = ["postgres_bin", "start_postgres"]

LOG_TAIL = 4000


def postgres_bin() -> Path:
    """The directory of PostgreSQL's server binaries; fail under CI, else skip, when missing."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    on_path = shutil.which("postgres")
    if found:
        return Path(found[-1]).parent
    if on_path:
        return Path(on_path).parent
    why = "PostgreSQL not found: apt-get install -y --no-install-recommends postgresql"
    if os.environ.get("CI"):
        pytest.fail(why)
    pytest.skip(why)


def _as_owner(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@contextmanager
def start_postgres(tmp_path: Path, *, ready_timeout: float = 30.0) -> Iterator[str]:
    """Run a new PostgreSQL cluster on 127.0.0.1 until the block exits; yield its URL
    (``postgresql://sloguard@127.0.0.1:PORT/sloguard``, trust authentication). The cluster is
    deleted at the end; when the block fails, its log tail is kept in ``tmp_path``."""
    bindir = postgres_bin()
    # under the system temp dir, not tmp_path: pytest's base dir is private to its user, and as
    # root the server runs as ``postgres``, which could not reach a cluster inside it
    root = Path(tempfile.mkdtemp(prefix="sloguard-postgres-"))
    data, log = root / "data", root / "postgres.log"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        root.chmod(0o700)
    init = subprocess.run(
        _as_owner(
            [str(bindir / "initdb"), "-D", str(data), "-U", "sloguard", "-A", "trust", "-E", "UTF8"]
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    if init.returncode != 0:
        pytest.fail(f"initdb failed ({init.returncode}):\n{init.stdout}{init.stderr}")
    for _attempt in range(3):  # a "free" port can be taken before the server binds it
        port = free_port()
        args = [
            str(bindir / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port),
            "-k", str(root), "-c", "fsync=off", "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off", "-c", "max_connections=200",
        ]  # fmt: skip
        with open(log, "wb") as out:
            proc = subprocess.Popen(_as_owner(args), stdout=out, stderr=subprocess.STDOUT)
        if _wait_ready(bindir, port, proc, time.monotonic() + ready_timeout):
            break
        _stop(proc)
        if "already in use" not in _tail(log):
            pytest.fail(f"PostgreSQL did not start; its log:\n{_tail(log)}")
    else:
        pytest.fail(f"PostgreSQL found no free port; its log:\n{_tail(log)}")
    try:
        made = subprocess.run(
            [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "sloguard",
             "sloguard"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if made.returncode != 0:
            pytest.fail(f"createdb failed:\n{made.stdout}{made.stderr}")
        yield f"postgresql://sloguard@127.0.0.1:{port}/sloguard"
    except BaseException:
        (tmp_path / "postgres.log").write_text(_tail(log), encoding="utf-8")
        raise
    finally:
        _stop(proc)
        shutil.rmtree(root, ignore_errors=True)


def _wait_ready(bindir: Path, port: int, proc: subprocess.Popen[bytes], deadline: float) -> bool:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        ready = subprocess.run(
            [str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-q"], check=False
        )
        if ready.returncode == 0:
            return True
        time.sleep(0.1)
    return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()  # runuser passes SIGTERM on: a "smart" shutdown
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _tail(log: Path) -> str:
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return text[-LOG_TAIL:]
