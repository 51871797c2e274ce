"""Mermaid sequence diagrams of traces, checked as text and by the real mermaid parser.

The parser is the ``mermaid`` npm package (exact versions pinned by
``tests/support/mermaidcheck/package-lock.json``) run headless under node: ``mermaid.parse``
needs no DOM. A session fixture installs it with ``npm ci`` into ``.cache/node/`` (gitignored;
reused while the lockfile is unchanged) and one node process parses every diagram of this module.
Without node/npm or the registry the parser test is skipped; it fails instead when the
environment variable ``CI`` is set.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import pytest
from hypothesis import given, settings
from prometheus_client import CollectorRegistry

from examples.multi_agent import run_workflow
from sloguard import (
    AgentMetrics,
    CardinalityGuard,
    Recorder,
    ResponseTrace,
    Telemetry,
    use_telemetry,
)
from sloguard.analysis.views.mermaid import mermaid_text, sequence_diagram
from tests.support.traces import (
    NASTY,
    Row,
    build,
    customer_service,
    financial_risk,
    random_rows,
    routed,
    row,
    seed_workflow,
)

HERE = Path(__file__).resolve().parents[1] / "support" / "mermaidcheck"
CACHE = Path(__file__).resolve().parents[2] / ".cache" / "node"


def test_seed_workflow_diagram_exact() -> None:
    assert sequence_diagram(seed_workflow()) == "\n".join(
        [
            "sequenceDiagram",
            "    participant h1 as workflow.execute",
            "    participant a1 as supervisor",
            "    participant t1 as classify_intent",
            "    participant a2 as researcher",
            "    participant t2 as web_search",
            "    participant a3 as writer",
            "    participant t3 as format_output",
            "    h1->>+a1: invoke",
            "    a1->>+t1: call",
            "    t1-->>-a1: result (45 ms)",
            "    a1-->>-h1: done (350 ms)",
            "    h1->>+a2: invoke",
            "    a2->>+t2: call",
            "    t2-->>-a2: result (250 ms)",
            "    a2-->>-h1: done (520 ms)",
            "    h1->>+a3: invoke",
            "    a3->>+t3: call",
            "    t3-->>-a3: result (25 ms)",
            "    a3-->>-h1: done (380 ms)",
        ]
    )


def test_handoffs_failures_and_a_root_agent() -> None:
    trace = build(
        "t",
        [
            row("s", None, "AGENT", "supervisor", 0, 100, error="gave up"),
            row("b", "s", "AGENT", "billing agent", 10, 50),
            row("x", "b", "TOOL", "refund", 20, 10, error="PaymentError: card; declined: #4"),
        ],
    )
    assert sequence_diagram(trace).splitlines()[1:] == [
        "    participant a1 as supervisor",
        "    participant a2 as billing agent",
        "    participant t1 as refund",
        "    activate a1",
        "    a1->>+a2: handoff",
        "    a2->>+t1: call",
        "    Note over t1: failed: PaymentError: card#59; declined: #35;4",
        "    t1--x-a2: failed (10 ms)",
        "    a2-->>-a1: done (50 ms)",
        "    Note over a1: failed: gave up",
        "    deactivate a1",
    ]


def test_steps_without_end_are_closed_at_the_end() -> None:
    trace = build(
        "t",
        [
            row("s", None, "AGENT", "sup", 0, None),
            row("w", "s", "AGENT", "worker", 5, None),
            row("t", "w", "TOOL", "tool", 6, 1),
        ],
    )
    assert sequence_diagram(trace).splitlines()[4:] == [
        "    activate a1",
        "    a1->>+a2: handoff",
        "    a2->>+t1: call",
        "    t1-->>-a2: result (1 ms)",
        "    Note over a2: no end recorded",
        "    deactivate a2",
        "    Note over a1: no end recorded",
        "    deactivate a1",
    ]


def _big_trace(tools: int = 1000) -> ResponseTrace:
    rows = [row("a", None, "AGENT", "researcher", 0, 10 * tools + 10)]
    rows += [row(f"t{i}", "a", "TOOL", f"search {i % 7}", 10 * i + 1, 5) for i in range(tools)]
    return build("big", rows)


def test_big_traces_are_cut_and_stay_balanced() -> None:
    diagram = sequence_diagram(_big_trace())
    lines = diagram.splitlines()
    assert sum(": call" in line for line in lines) == 299  # and the researcher itself
    assert lines[-1] == "    Note over a1: 701 more steps not shown"
    assert activation_problems(diagram) == []
    assert len(diagram) < 50_000  # Mermaid's default maxTextSize
    assert sequence_diagram(_big_trace(), max_steps=1000).count(": call") == 999
    with pytest.raises(ValueError, match="max_steps"):
        sequence_diagram(_big_trace(), max_steps=0)


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("supervisor", 40, "supervisor"),
        ("고객 서비스 처리", 40, "고객 서비스 처리"),
        ("a;b", 40, "a#59;b"),
        ("#35;", 40, "#35;35#59;"),
        ("x -->> y: z", 40, "x --#62;#62; y: z"),
        ('<br/> & "q" 100%', 40, "#60;br/#62; #38; #34;q#34; 100#37;"),
        ("line\nbreak\t tab", 40, "line break tab"),
        ("   ", 40, "?"),
        ("abcdefghij", 5, "abcd…"),
        ("ab;;;;;;;;", 4, "ab#59;…"),
    ],
)
def test_mermaid_text(text: str, limit: int, expected: str) -> None:
    assert mermaid_text(text, limit) == expected


# --- activation balance, for any tree ----------------------------------------------------------
_ARROW = re.compile(r"^    (\w+)(->>\+|-->>-|--x-)(\w+): ")


def activation_problems(diagram: str) -> list[str]:
    """Replay activations like Mermaid: `+` activates the target, `-` deactivates the source."""
    depth: Counter[str] = Counter()
    problems = []
    for line in diagram.splitlines()[1:]:
        m = _ARROW.match(line)
        if m:
            src, arrow, dst = m.groups()
            if arrow == "->>+":
                depth[dst] += 1
            else:
                depth[src] -= 1
        elif line.startswith("    activate "):
            depth[line.split()[-1]] += 1
        elif line.startswith("    deactivate "):
            depth[line.split()[-1]] -= 1
        elif not line.startswith(("    participant ", "    Note over ")):
            problems.append(f"unexpected line {line!r}")
        problems += [f"{p} deactivated while inactive" for p, n in depth.items() if n < 0]
    problems += [f"{p} left active" for p, n in depth.items() if n != 0]
    return problems


@settings(max_examples=300, deadline=None)
@given(random_rows())
def test_activations_always_balance(rows: list[Row]) -> None:
    diagram = sequence_diagram(build("t", rows))
    assert activation_problems(diagram) == []


# --- the real parser ---------------------------------------------------------------------------
def _unavailable(why: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"mermaid parser unavailable under CI: {why}")
    pytest.skip(f"mermaid parser unavailable: {why}")


def _install() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _unavailable("node and npm are not on PATH")
    files = [HERE / "package.json", HERE / "package-lock.json"]
    key = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:12]
    target = CACHE / f"mermaid-{key}"
    if not (target / "node_modules" / "mermaid" / "package.json").exists():
        tmp = CACHE / f".tmp-{key}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for f in files:
            shutil.copy(f, tmp / f.name)
        try:
            out = subprocess.run(
                [str(npm), "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
                cwd=tmp,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
        except subprocess.TimeoutExpired:
            shutil.rmtree(tmp, ignore_errors=True)
            _unavailable("npm ci timed out")
        if out.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            _unavailable(f"npm ci failed: {out.stderr.strip()[-500:]}")
        shutil.rmtree(target, ignore_errors=True)
        try:
            tmp.rename(target)
        except OSError:  # another test process installed it meanwhile
            shutil.rmtree(tmp, ignore_errors=True)
    shutil.copy(HERE / "check.mjs", target / "check.mjs")
    return target


Parse = Callable[[list[str]], list[dict[str, Any]]]


@pytest.fixture(scope="session")
def mermaid_parse() -> Parse:
    """Parse diagrams with the real mermaid parser: one node process per call."""
    target = _install()
    node = shutil.which("node")
    assert node is not None

    def parse(diagrams: list[str]) -> list[dict[str, Any]]:
        out = subprocess.run(
            [node, "check.mjs"],
            cwd=target,
            input=json.dumps(diagrams),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert out.returncode == 0, out.stderr
        results: list[dict[str, Any]] = json.loads(out.stdout)
        return results

    return parse


def _example_trace() -> ResponseTrace:
    t = Telemetry(Recorder(AgentMetrics(registry=CollectorRegistry()), CardinalityGuard()))
    with use_telemetry(t):
        return asyncio.run(run_workflow("agents", "wf-1"))


def _sdk_seeds() -> tuple[ResponseTrace, ResponseTrace]:
    t = Telemetry(Recorder(AgentMetrics(registry=CollectorRegistry()), CardinalityGuard()))
    with use_telemetry(t):
        return customer_service(t), financial_risk(t)


def _nasty_trace() -> ResponseTrace:
    rows = [row("h", None, "HOST", "host: main; #1", 0, 1000)]
    for i, name in enumerate(NASTY):
        rows.append(row(f"a{i}", "h", "AGENT", name, 10 + 50 * i, 40, error=f"{name}\n{name}"))
        rows.append(row(f"t{i}", f"a{i}", "TOOL", f"tool {name}", 15 + 50 * i, 10))
    rows.append(row("open", "h", "AGENT", "still running", 900, None))
    return build("nasty", rows)


def _loop_trace() -> ResponseTrace:
    names = ["A", "B", "A", "B", "A"]
    rows = [
        row(f"s{i}", f"s{i - 1}" if i else None, "AGENT", n, i, 100 - i)
        for i, n in enumerate(names)
    ]
    return build("loop", rows)


def _random_trace(seed: int) -> ResponseTrace:
    """A random tree of agents, tools and host work with nasty names, failures and open steps."""
    rnd = random.Random(seed)
    rows: list[Row] = []
    for i in range(rnd.randint(1, 25)):
        parent = rnd.choice([None, *(f"s{j}" for j in range(i))])
        rows.append(
            row(
                f"s{i}",
                parent,
                rnd.choice(["AGENT", "AGENT", "TOOL", "HOST"]),
                rnd.choice([*NASTY[:6], "A", "B"]),
                rnd.randint(0, 200),
                rnd.choice([None, *range(0, 300, 7)]),
                **({"error": rnd.choice(NASTY)} if rnd.random() < 0.3 else {}),
            )
        )
    return build(f"random-{seed}", rows)


@pytest.fixture(scope="module")
def cases() -> dict[str, ResponseTrace]:
    cs, risk = _sdk_seeds()
    return {
        "seed workflow": seed_workflow(),
        "customer service": cs,
        "financial risk": risk,
        "multi-agent example": _example_trace(),
        "routed and failed": routed("wf-b", "shipping-agent", (("track", "NotFound"),), fails=True),
        "nasty names": _nasty_trace(),
        "handoff loop": _loop_trace(),
        "big, cut": _big_trace(),
        "empty": build("empty", []),
        **{f"random {i}": _random_trace(i) for i in range(60)},
    }


#: Diagrams that must NOT parse: the check would be worthless if everything passed.
BROKEN = {
    "seed style raw participant with ;": (
        "sequenceDiagram\n    participant billing agent; DROP\n    billing->>+x: 도구 호출"
    ),
    "seed style raw Note with ; in the error": (
        "sequenceDiagram\n    participant a1 as a\n    Note over a1: 실패: x; y"
    ),
    "deactivating an inactive participant": (
        "sequenceDiagram\n    participant a1 as a\n    participant t1 as t\n    t1-->>-a1: result"
    ),
    "arrow without a message": "sequenceDiagram\n    a1->>+t1",
}


def test_real_parser_accepts_every_diagram_and_sees_what_we_meant(
    mermaid_parse: Parse, cases: dict[str, ResponseTrace]
) -> None:
    names = list(cases)
    diagrams = [sequence_diagram(cases[n]) for n in names]
    results = mermaid_parse(diagrams + list(BROKEN.values()))
    good, bad = results[: len(names)], results[len(names) :]
    for name, diagram, result in zip(names, diagrams, good, strict=True):
        assert result["ok"], f"{name}: {result.get('error')}\n{diagram}"
        assert result["type"] == "sequence"
        # every participant the parser found is one we declared, with the name decoded
        declared = {
            m.group(1): m.group(2)
            for m in re.finditer(r"^    participant (\w+) as (.*)$", diagram, re.MULTILINE)
        }
        assert [a["id"] for a in result["actors"]] == list(declared), name
        # activations balance in the parser's own model
        depth: Counter[str] = Counter()
        for m in result["messages"]:
            if m["type"] == "ACTIVE_START":
                depth[m["from"]] += 1
            elif m["type"] == "ACTIVE_END":
                depth[m["from"]] -= 1
                assert depth[m["from"]] >= 0, name
        assert all(v == 0 for v in depth.values()), (name, depth)
    for (name, _), result in zip(BROKEN.items(), bad, strict=True):
        assert not result["ok"], f"{name} parsed but should not"

    # names and errors come back from the parser exactly (cut and whitespace-collapsed only)
    nasty = dict(zip(names, good, strict=True))["nasty names"]
    actors = [a["name"] for a in nasty["actors"]]
    assert actors[0] == "host: main; #1"
    assert actors[1::2][: len(NASTY)] == NASTY
    assert actors[-1] == "still running"
    notes = [m["text"] for m in nasty["messages"] if m["type"] == "NOTE"]
    assert notes[0] == "failed: 고객 서비스 처리 고객 서비스 처리"
    assert "failed: billing agent; DROP TABLE billing agent; DROP TABLE" in notes
    assert notes[-1] == "no end recorded"
    arrows = [
        (m["from"], m["to"], m["text"])
        for m in nasty["messages"]
        if m["type"] in ("SOLID", "DOTTED", "DOTTED_CROSS")
    ]
    assert arrows[:4] == [
        ("h1", "a1", "invoke"),
        ("a1", "t1", "call"),
        ("t1", "a1", "result (10 ms)"),
        ("a1", "h1", "failed (40 ms)"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("a\x01b", "a\ufffdb"), ("x\uffff", "x\ufffd"), ("\x1b[31mred", "\ufffd[31mred")],
)
def test_mermaid_text_replaces_control_characters(text: str, expected: str) -> None:
    assert mermaid_text(text) == expected
