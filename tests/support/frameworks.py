"""The framework conformance captures (``tests/data/frameworks/<capture>/``) and their reading.

``SLOGUARD_FRAMEWORK_CAPTURES=DIR`` reads the requests of captures made afresh into ``DIR``
instead, judged by the same checked-in expectations (the workloads are deterministic).

Each capture holds the OTLP/HTTP requests a real framework exported (``export-NNN.pb``, in
arrival order) and ``expected.json``: what the workload did. ``python -m
tests.support.frameworks CAPTURE`` prints a capture's span trees, for writing the mapping.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from prometheus_client.samples import Sample

from sloguard.ingest.otlpwire import PROTOBUF, parse_otlp
from sloguard.ingest.semconv import SpanRecord

#: The checked-in captures and what their runs did (``expected.json``).
ROOT = Path(__file__).resolve().parents[1] / "data" / "frameworks"
#: Where the exported requests are read: the checked-in ones, or a fresh run of the same
#: workloads (``conformance/regenerate --out DIR``; CI does so) judged by the same expectations.
EXPORTS = Path(os.environ.get("SLOGUARD_FRAMEWORK_CAPTURES") or ROOT)


def captures() -> list[str]:
    """Names of the capture folders that have an ``expected.json``."""
    return sorted(p.parent.name for p in ROOT.glob("*/expected.json"))


def exports(capture: str) -> list[bytes]:
    """The capture's request bodies, in arrival order."""
    found = [p.read_bytes() for p in sorted((EXPORTS / capture).glob("export-*.pb"))]
    if not found:
        raise FileNotFoundError(f"no export-*.pb in {EXPORTS / capture}")
    return found


def expected(capture: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((ROOT / capture / "expected.json").read_text())
    return result


def spans(capture: str) -> list[SpanRecord]:
    """Every span of the capture, in arrival order (all attributes)."""
    return [s for body in exports(capture) for s in parse_otlp(body, PROTOBUF, now=None)]


def observed(samples: Iterable[Sample]) -> dict[str, Any]:
    """The agent metrics in ``samples`` (a registry's or a scrape's), in expected.json's shape."""
    agents: dict[str, dict[str, int]] = {}
    tools: Counter[tuple[str, str, str]] = Counter()
    handoffs: Counter[tuple[str, str]] = Counter()
    runs: dict[str, dict[str, int]] = {}

    def add(table: dict[str, dict[str, int]], name: str, key: str, n: float) -> None:
        entry = table.setdefault(name, {})
        entry[key] = entry.get(key, 0) + int(n)

    for s in samples:
        v, labels = s.value, s.labels
        if not v:
            continue
        outcome = "ok" if labels.get("status") == "success" else "error"
        if s.name == "agent_calls_total":
            add(agents, labels["agent_name"], outcome, v)
        elif s.name == "agent_token_usage_total":
            add(agents, labels["agent_name"], f"{labels['direction']}_tokens", v)
        elif s.name == "agent_tool_calls_total":
            tools[labels["agent_name"], labels["tool_name"], outcome] += int(v)
        elif s.name == "agent_handoffs_total":
            handoffs[labels["source_agent"], labels["target_agent"]] += int(v)
        elif s.name == "agent_workflow_runs_total":
            add(runs, labels["workflow"], outcome, v)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for (agent, tool, outcome), n in tools.items():
        row = rows.setdefault((agent, tool), {"agent": agent, "tool": tool, "ok": 0, "error": 0})
        row[outcome] += n
    return {
        "agents": agents,
        "tools": sorted(rows.values(), key=lambda r: (r["agent"], r["tool"])),
        "handoffs": sorted(
            ({"source": s, "target": t, "count": n} for (s, t), n in handoffs.items()),
            key=lambda r: (r["source"], r["target"]),
        ),
        "workflows": runs,
    }


def wanted(capture: str) -> dict[str, Any]:
    """``expected.json`` in :func:`observed`'s shape (zero figures left out)."""
    exp = expected(capture)
    # What the instrumentation cannot carry (a name it never exports) is read under what it does.
    renamed = exp.get("read_as", {}).get("workflows", {})
    return {
        "agents": {n: {k: v for k, v in f.items() if v} for n, f in exp["agents"].items()},
        "tools": sorted(exp["tools"], key=lambda r: (r["agent"], r["tool"])),
        "handoffs": sorted(exp["handoffs"], key=lambda r: (r["source"], r["target"])),
        "workflows": {
            renamed.get(n, n): {k: v for k, v in f.items() if v}
            for n, f in exp["workflows"].items()
        },
    }


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 70 else text[:67] + "..."


def dump(capture: str, *, keys: bool = True) -> str:
    """The capture's span trees, one line per span with its attributes (long values cut)."""
    found = spans(capture)
    by_trace: dict[str, list[SpanRecord]] = defaultdict(list)
    for s in found:
        by_trace[s.trace_id].append(s)
    lines: list[str] = []
    for trace_id, members in by_trace.items():
        ids = {s.span_id for s in members}
        children: dict[str | None, list[SpanRecord]] = defaultdict(list)
        for s in sorted(members, key=lambda s: s.start_ns):
            children[s.parent_span_id if s.parent_span_id in ids else None].append(s)
        lines.append(f"trace {trace_id}")

        def walk(parent: str | None, depth: int, children: Any = children) -> None:
            for s in children[parent]:
                head = f"{'  ' * (depth + 1)}{s.name!r} [{s.kind}, {s.status}]"
                if s.status_message:
                    head += f" msg={_show(s.status_message)}"
                lines.append(head)
                if keys:
                    for k, v in sorted(s.attributes.items()):
                        if not k.startswith(
                            (
                                "input.",
                                "output.",
                                "llm.input_messages",
                                "llm.output_messages",
                                "gen_ai.prompt",
                                "gen_ai.completion",
                                "llm.invocation",
                            )
                        ):
                            lines.append(f"{'  ' * (depth + 3)}{k}={_show(v)}")
                walk(s.span_id, depth + 1, children)

        walk(None, 0)
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(dump(sys.argv[1], keys="--names" not in sys.argv))
