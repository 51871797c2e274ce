"""glibc's malloc arenas limited for the daemon (sloguard.malloc)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from sloguard.malloc import limit_arenas

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="mallopt(M_ARENA_MAX) is glibc's")
def test_glibc_takes_the_arena_limit() -> None:
    # in a fresh interpreter, so this test process keeps its own allocator settings
    code = "from sloguard.malloc import limit_arenas; print(limit_arenas(2, environ={}))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"


def test_the_users_malloc_arena_max_wins() -> None:
    assert limit_arenas(2, environ={"MALLOC_ARENA_MAX": "4"}) is False


def test_a_limit_below_one_changes_nothing() -> None:
    assert limit_arenas(0, environ={}) is False
