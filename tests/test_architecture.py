"""Architecture rules: the pure core imports no I/O; the public surface is what __all__ says."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import sloguard

PKG = Path(sloguard.__file__).parent

#: Modules that take values (and ``now``) and return values. Later modules join this list.
PURE = [
    "conventions.py",
    "analysis.py",
    "errors.py",
    "spec.py",
    "report.py",
    "budget.py",
    "promql.py",
    "alerting.py",
    "notify/routing.py",
    "notify/render.py",
    "notify/signing.py",
    "notify/model.py",
    "scenarios.py",
    "ingest/semconv.py",
    "ingest/eventmodel.py",
    "debug/__init__.py",
    "debug/anomalies.py",
    "debug/calltree.py",
    "debug/compare.py",
    "debug/decisions.py",
    "debug/delta.py",
    "debug/mermaid.py",
    "debug/replay.py",
    "debug/sequence.py",
    "debug/svg.py",
    "debug/timeline.py",
    "debug/tree.py",
    "tracestore/model.py",
    "tracestore/records.py",
    "tracestore/queries.py",
]
FORBIDDEN = {
    "httpx", "slack_sdk", "apscheduler", "prometheus_client", "sqlite3", "socket", "time",
    "logging", "asyncio", "requests", "urllib", "structlog", "opentelemetry", "fastapi",
    "starlette", "uvicorn", "os", "subprocess", "threading",
}  # fmt: skip


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("module", [m for m in PURE if (PKG / m).exists()])
def test_pure_modules_import_no_io(module: str) -> None:
    bad = imported_roots(PKG / module) & FORBIDDEN
    assert not bad, f"{module} is pure but imports {sorted(bad)}"


def test_the_architecture_check_catches_an_io_import(tmp_path: Path) -> None:
    impure = tmp_path / "x.py"
    impure.write_text("import time\nfrom httpx import AsyncClient\n", encoding="utf-8")
    assert imported_roots(impure) & FORBIDDEN == {"time", "httpx"}


def test_all_matches_the_public_names() -> None:
    public = {n for n in vars(sloguard) if not n.startswith("_")} - {"annotations"}
    public |= set(sloguard._LAZY)
    public |= {"__version__"}
    # submodules appear as attributes once imported; they are not public names
    public -= {n for n in public if isinstance(getattr(sloguard, n, None), type(sys))}
    assert sorted(sloguard.__all__) == sorted(public)
    for name in sloguard.__all__:
        assert getattr(sloguard, name) is not None


BLOCKER = """
import sys, importlib.abc
BLOCKED = {"httpx", "apscheduler", "slack_sdk", "fastapi", "starlette", "opentelemetry",
           "structlog", "uvicorn", "yaml", "pydantic", "pydantic_settings", "orjson", "rich"}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"blocked: {name}")
        return None
sys.meta_path.insert(0, Block())
"""


def test_sdk_works_with_prometheus_client_alone() -> None:
    """Import and use the SDK while every non-SDK dependency is made unimportable."""
    code = BLOCKER + (
        "import asyncio, sloguard\n"
        "from sloguard import trace_agent_call, trace_tool_call, MetricsCollector\n"
        "@trace_tool_call\n"
        "async def t(): return 1\n"
        "@trace_agent_call\n"
        "async def a(): return await t()\n"
        "asyncio.run(a())\n"
        "MetricsCollector.record_agent_call('x', 'success', 0.1, 1, 2, 'm')\n"
        "import sloguard.sdk.export.exporter  # the opt-in trace exporter: stdlib only\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in BLOCKED)\n"
        "print('LOADED', loaded)\n"
        "try:\n"
        "    sloguard.AgentLogger\n"
        "except ImportError as e:\n"
        "    print('MSG', e)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(PKG.parent)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert out.returncode == 0, out.stderr
    assert "LOADED []" in out.stdout
    assert "pip install 'sloguard[" in out.stdout


def test_plain_import_loads_no_daemon_dependencies() -> None:
    code = (
        "import sys, sloguard\n"
        "heavy = {'httpx','apscheduler','slack_sdk','fastapi','starlette','opentelemetry',"
        "'structlog','uvicorn'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(PKG.parent)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "[]"
