"""Architecture rules, checked by reading and importing the package.

1. **Layers.** Packages are ordered by the stage of the flow they own (``LAYERS``, lowest first,
   the same order as docs/architecture.md). A module may import its own layer and the layers
   below it, never one above: every ``import`` counts, including those inside functions and
   under ``TYPE_CHECKING``.
2. **No cycles** between modules, counted the same way.
3. **Pure modules** (``PURE``) import no I/O library (read from their source), and import
   cleanly in a fresh interpreter in which the daemon's libraries cannot be imported, so their
   package ``__init__`` files stay light too.
4. **Public surface**: ``sloguard.__all__`` is exactly the public names; the SDK works with
   ``prometheus_client`` alone.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

import sloguard
from tests.support.blocker import BLOCKER, PKG, blocker

#: Lowest first. A module belongs to the first entry that is its name or a prefix of it.
LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "errors",
        "conventions",
        "durations",
        "yamldoc",
        "version",
        "httpanswer",
        "malloc",
    ),  # foundation
    ("analysis",),  # pure trace analysis and views
    ("sdk",),  # the agent side: recorder, trace model, decorators
    ("postgres", "tracestore"),  # the shared database's pool and migrations; stored traces
    ("ingest",),  # HTTP ingest: A2A, OTLP, events → recorder and trace store
    ("slo",),  # SLO models, budget maths, PromQL, the SLO file reader
    ("sources",),  # SLI counts: Prometheus, embedded, fake
    ("evaluation",),  # SLOs × source → results per instance per tick
    ("notify",),  # notification model, routing, rendering, outbox, receivers
    ("alerting",),  # results → alert transitions → queued notifications
    ("rules",),  # Prometheus rule files, promtool tests, simulation
    ("settings",),  # process settings
    ("web",),  # FastAPI app, SLO and trace APIs, web page
    ("logs", "daemon", "assembly"),  # the composition root and the parts it wires
    ("commands",),  # one module per CLI command
    ("cli", "__main__"),  # the entry point
)

#: Modules that take values (and ``now``) and return values (paths under ``sloguard/``).
PURE = (
    "errors.py",
    "conventions.py",
    "durations.py",
    "version.py",
    "analysis/__init__.py",
    "analysis/performance.py",
    "analysis/anomalies.py",
    "analysis/calltree.py",
    "analysis/compare.py",
    "analysis/decisionrecord.py",
    "analysis/decisions.py",
    "analysis/delta.py",
    "analysis/replay.py",
    "analysis/timeline.py",
    "analysis/views/mermaid.py",
    "analysis/views/sequence.py",
    "analysis/views/svg.py",
    "analysis/views/tree.py",
    "analysis/views/characters.py",
    "sdk/arguments.py",
    "sdk/stepjson.py",
    "ingest/semconv.py",
    "ingest/eventmodel.py",
    "ingest/bounds.py",
    "ingest/dialects.py",
    "slo/histsli.py",
    "slo/promqlcheck.py",
    "ingest/tracereading.py",
    "ingest/spanassembly.py",
    "ingest/spanscopes.py",
    "ingest/updates.py",
    "ingest/forwardqueue.py",
    "tracestore/model.py",
    "tracestore/records.py",
    "tracestore/queries.py",
    "tracestore/pgqueries.py",
    "slo/spec.py",
    "slo/budget.py",
    "slo/calendar.py",
    "slo/timeslices.py",
    "slo/promql.py",
    "slo/names.py",
    "slo/peers/base.py",
    "slo/peers/formats.py",
    "slo/peers/located.py",
    "slo/peers/sloth.py",
    "slo/peers/slothread.py",
    "slo/peers/slothplugins.py",
    "slo/peers/slothout.py",
    "slo/peers/pyrrawindows.py",
    "slo/peers/openslo.py",
    "slo/peers/openslonode.py",
    "slo/peers/openslokind.py",
    "slo/peers/openslosli.py",
    "slo/peers/opensloalert.py",
    "slo/peers/opensloout.py",
    "slo/peers/openslobudget.py",
    "slo/peers/pyrra.py",
    "slo/peers/slogenerator.py",
    "sources/fake.py",
    "sources/kept.py",
    "sources/promrange.py",
    "sources/samplecounts.py",
    "evaluation/report.py",
    "evaluation/health.py",
    "evaluation/history.py",
    "notify/model.py",
    "notify/routing.py",
    "notify/render.py",
    "notify/signing.py",
    "alerting/state.py",
    "alerting/compose.py",
    "alerting/selfcheck.py",
    "alerting/silences.py",
    "alerting/leader.py",
    "alerting/pgqueries.py",
    "rules/scenarios.py",
    "rules/budgetnotes.py",
    "commands/timespec.py",
    "rules/sloth.py",
    "web/charts.py",
)

#: What a pure module may not import (read from its source).
FORBIDDEN = {
    "httpx", "slack_sdk", "apscheduler", "prometheus_client", "sqlite3", "socket", "time",
    "logging", "asyncio", "requests", "urllib", "structlog", "opentelemetry", "fastapi",
    "starlette", "uvicorn", "os", "subprocess", "threading", "shutil", "tempfile",
}  # fmt: skip

#: Blocked while a pure module is imported in a fresh interpreter: network, database, scheduler,
#: web server, logging and CLI libraries. ``sloguard/__init__`` is the SDK and needs
#: ``prometheus_client``; parsers that do no I/O (pydantic, orjson, yaml) are allowed; the stdlib
#: is checked in the source instead (``FORBIDDEN``).
IMPORT_BLOCKED = (
    "httpx", "slack_sdk", "apscheduler", "fastapi", "starlette", "uvicorn", "sqlite3",
    "structlog", "opentelemetry", "a2a", "rich", "google", "pydantic_settings", "psycopg",
    "psycopg_pool",
)  # fmt: skip


# --- reading the package ------------------------------------------------------------------------
def module_name(path: Path, root: Path = PKG) -> str:
    """``sloguard.slo.budget`` for ``sloguard/slo/budget.py`` (packages by their ``__init__``)."""
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources(root: Path = PKG) -> dict[str, str]:
    """Every module of the package by name, with its source."""
    return {module_name(p, root): p.read_text(encoding="utf-8") for p in sorted(root.rglob("*.py"))}


def imports(name: str, source: str, known: Iterable[str]) -> set[str]:
    """The package modules ``name`` imports anywhere in its source (functions, TYPE_CHECKING)."""
    known = set(known)
    is_package = name in known and any(k.startswith(name + ".") for k in known)
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                full = f"{module}.{alias.name}"
                out.add(full if full in known else module)
    return {m for m in out if m in known and m != name}


def graph(mods: Mapping[str, str]) -> dict[str, set[str]]:
    """Module → the package modules it imports."""
    return {name: imports(name, src, mods) for name, src in mods.items()}


def layer_of(module: str) -> int | None:
    """Index of the module's layer in ``LAYERS`` (None: the package root, the SDK facade)."""
    parts = module.split(".")[1:]
    if not parts:
        return None
    for i, names in enumerate(LAYERS):
        if parts[0] in names:
            return i
    raise AssertionError(f"{module} belongs to no layer: add its package to LAYERS")


def upward_imports(deps: Mapping[str, set[str]]) -> list[str]:
    """Every import of a module from a layer above its own, as readable lines."""
    bad = []
    for module, imported in sorted(deps.items()):
        mine = layer_of(module)
        for dep in sorted(imported):
            theirs = layer_of(dep)
            if theirs is None and mine is not None:
                bad.append(f"{module} imports the package root {dep} (import the module instead)")
            elif mine is not None and theirs is not None and theirs > mine:
                bad.append(
                    f"{module} (layer {LAYERS[mine][0]}) imports {dep} "
                    f"(layer {LAYERS[theirs][0]}, above it)"
                )
    return bad


def cycles(deps: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in deps:
        if start in index:
            continue
        work = [(start, iter(sorted(deps[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(deps.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


#: Modules of a forbidden package that do no I/O (string functions).
ALLOWED = {"urllib.parse"}


def imported_roots(path: Path) -> set[str]:
    """Top-level names of everything a file imports (absolute imports; ``ALLOWED`` left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {n.split(".")[0] for n in names if n not in ALLOWED}


MODULES = sources()
DEPS = graph(MODULES)


# --- the rules ----------------------------------------------------------------------------------
def test_every_module_belongs_to_a_layer() -> None:
    for module in MODULES:
        layer_of(module)


def test_no_package_imports_a_package_above_it() -> None:
    bad = upward_imports(DEPS)
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)


def test_no_import_cycles() -> None:
    found = cycles(DEPS)
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_evaluation_does_not_know_alerting_and_notify_does_not_know_the_alert_store() -> None:
    for module, imported in DEPS.items():
        if module.startswith("sloguard.evaluation"):
            assert not {d for d in imported if d.startswith("sloguard.alerting")}, module
        if module.startswith("sloguard.notify"):
            assert not {d for d in imported if d.startswith("sloguard.alerting")}, module


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_import_no_io(module: str) -> None:
    assert (PKG / module).exists(), f"{module} is listed as pure but does not exist"
    bad = imported_roots(PKG / module) & FORBIDDEN
    assert not bad, f"{module} is pure but imports {sorted(bad)}"


def test_pure_modules_import_with_the_daemon_libraries_blocked() -> None:
    """One fresh interpreter imports every pure module while the I/O libraries are unimportable."""
    names = [module_name(PKG / m) for m in PURE]
    code = blocker(IMPORT_BLOCKED) + (
        "import importlib\n"
        f"for name in {names!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ImportError as e:\n"
        "        print('FAILED', name, e)\n"
        "print('DONE')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(PKG.parent)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert out.returncode == 0, out.stderr
    assert "FAILED" not in out.stdout, out.stdout
    assert out.stdout.strip().endswith("DONE")


# --- the checks catch what they are for ---------------------------------------------------------
def test_the_layer_check_catches_a_wrong_import() -> None:
    mods = {
        "sloguard.evaluation.engine": "from sloguard.alerting.center import AlertCenter\n",
        "sloguard.alerting.center": "import sloguard.evaluation.engine\n",
        "sloguard.slo.spec": "def f():\n    from sloguard.web import server\n",
        "sloguard.web": "",
        "sloguard.web.server": "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from sloguard.daemon import App\n",
        "sloguard.daemon": "from . import version\n",
        "sloguard.version": "",
    }
    bad = upward_imports(graph(mods))
    assert bad == [
        "sloguard.evaluation.engine (layer evaluation) imports sloguard.alerting.center "
        "(layer alerting, above it)",
        "sloguard.slo.spec (layer slo) imports sloguard.web.server (layer web, above it)",
        "sloguard.web.server (layer web) imports sloguard.daemon (layer logs, above it)",
    ]


def test_the_cycle_check_catches_a_cycle_hidden_in_a_function() -> None:
    mods = {
        "sloguard.sdk.trace": "def end():\n    from sloguard.sdk.feed import feed\n",
        "sloguard.sdk.feed": "from sloguard.sdk.trace import Trace\n",
        "sloguard.sdk.step": "from sloguard.sdk.trace import Trace\n",
    }
    assert cycles(graph(mods)) == [["sloguard.sdk.feed", "sloguard.sdk.trace"]]


def test_the_purity_check_catches_an_io_import(tmp_path: Path) -> None:
    impure = tmp_path / "x.py"
    impure.write_text(
        "import time\nfrom httpx import AsyncClient\nfrom urllib.parse import quote\n"
        "import urllib.request\n",
        encoding="utf-8",
    )
    assert imported_roots(impure) & FORBIDDEN == {"time", "httpx", "urllib"}


# --- public surface -----------------------------------------------------------------------------
def test_all_matches_the_public_names() -> None:
    public = {n for n in vars(sloguard) if not n.startswith("_")} - {"annotations"}
    public |= set(sloguard._LAZY)
    public |= {"__version__"}
    # submodules appear as attributes once imported; they are not public names
    public -= {n for n in public if isinstance(getattr(sloguard, n, None), type(sys))}
    assert sorted(sloguard.__all__) == sorted(public)
    for name in sloguard.__all__:
        assert getattr(sloguard, name) is not None


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
        "import sloguard.sdk.export  # the opt-in trace exporter: stdlib only\n"
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
        "'structlog','uvicorn','sqlite3','yaml','pydantic'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(PKG.parent)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "[]"
