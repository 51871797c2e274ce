"""Fewer glibc malloc arenas for the daemon, so its memory stays flat under threads.

glibc gives each thread that allocates under contention its own arena (up to 8 per core), and
freed memory in one arena cannot serve another: a server whose work moves between many threads
(uvicorn's thread pool runs every sync route, ``asyncio.to_thread`` the deliveries and the OTLP
flushes) grows its resident memory by fragmentation long after its live data stopped growing.
``bench/soak.py`` measured it: +20–25 % over ten minutes with glibc's default, flat within 7 %
with two arenas (BENCHMARKS.md, "Soak and faults").

:func:`limit_arenas` sets ``M_ARENA_MAX`` through ``mallopt`` before the daemon starts its
threads; it changes nothing when ``MALLOC_ARENA_MAX`` is already set (the user's choice wins,
and glibc has read it), off Linux, or with a C library without ``mallopt`` (musl ignores it).

Example::

    limit_arenas(2)   # True when glibc took it
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["M_ARENA_MAX", "limit_arenas"]

#: ``mallopt``'s parameter number for the arena limit (glibc's malloc.h).
M_ARENA_MAX = -8


def limit_arenas(arenas: int = 2, *, environ: dict[str, str] | None = None) -> bool:
    """Limit glibc's malloc arenas to ``arenas``; return whether the C library accepted it."""
    env = os.environ if environ is None else environ
    if arenas < 1 or env.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, arenas))
