"""What every benchmark reports about the machine it ran on.

Example::

    info = machine_info(("httpx", "uvicorn"), sqlite=sqlite3.sqlite_version)
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from typing import Any


def package_version(name: str) -> str | None:
    """Return the installed version of distribution ``name``, ``None`` when it is absent."""
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def machine_info(packages: Iterable[str] = (), **extra: Any) -> dict[str, Any]:
    """Return CPUs, Python, platform, the versions of ``packages`` (keyed with ``_`` for ``-``)
    and ``extra``: what the numbers depend on."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        **{name.replace("-", "_"): package_version(name) for name in packages},
        **extra,
    }
