"""The framework conformance captures (``tests/data/frameworks/<capture>/``) and their reading.

Each capture holds the OTLP/HTTP requests a real framework exported (``export-NNN.pb``, in
arrival order) and ``expected.json``: what the workload did. ``python -m
tests.support.frameworks CAPTURE`` prints a capture's span trees, for writing the mapping.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from sloguard.ingest.otlpwire import PROTOBUF, parse_otlp
from sloguard.ingest.semconv import SpanRecord

ROOT = Path(__file__).resolve().parents[1] / "data" / "frameworks"


def captures() -> list[str]:
    """Names of the capture folders that have an ``expected.json``."""
    return sorted(p.parent.name for p in ROOT.glob("*/expected.json"))


def exports(capture: str) -> list[bytes]:
    """The capture's request bodies, in arrival order."""
    return [p.read_bytes() for p in sorted((ROOT / capture).glob("export-*.pb"))]


def expected(capture: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((ROOT / capture / "expected.json").read_text())
    return result


def spans(capture: str) -> list[SpanRecord]:
    """Every span of the capture, in arrival order (all attributes)."""
    return [s for body in exports(capture) for s in parse_otlp(body, PROTOBUF, now=None)]


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
