"""``sloguard run`` with a ``storage.url`` it cannot use stops at start with one line that names
the URL (its password hidden) and no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.processes import _env, free_port


def test_an_unreachable_database_stops_the_sidecar_with_one_line(tmp_path: Path) -> None:
    dead = free_port()
    out = subprocess.run(
        [sys.executable, "-m", "sloguard", "run", "--mode", "exporter",
         "--port", str(free_port()), "--data-dir", str(tmp_path / "d")],
        cwd=tmp_path,
        env=_env({"SLOGUARD_STORAGE__URL": f"postgresql://sloguard:hunter2@127.0.0.1:{dead}/db"}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith(
        f"postgresql://sloguard@127.0.0.1:{dead}/db: storage.url: cannot connect to the database: "
    )
    assert "hunter2" not in out.stderr and "Traceback" not in out.stderr
