"""Code to run in a subprocess before importing sloguard: makes the daemon's libraries unimportable.

``BLOCKER + "import sloguard..."`` (or :func:`blocker` of another list) shows what a module
needs at import time; ``PKG`` is the package directory (its parent goes on ``PYTHONPATH``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import sloguard

PKG = Path(sloguard.__file__).parent

#: Libraries the agent SDK must work without (only prometheus_client is allowed).
BLOCKED = (
    "httpx", "apscheduler", "slack_sdk", "fastapi", "starlette", "opentelemetry", "structlog",
    "uvicorn", "yaml", "pydantic", "pydantic_settings", "orjson", "rich",
)  # fmt: skip



def blocker(blocked: Iterable[str]) -> str:
    """Code that makes the top-level packages ``blocked`` unimportable in this interpreter."""
    return f"""
import sys, importlib.abc
BLOCKED = {set(blocked)!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"blocked: {{name}}")
        return None
sys.meta_path.insert(0, Block())
"""


BLOCKER = blocker(BLOCKED)
