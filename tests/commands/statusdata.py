"""SLO instances as a daemon's ``GET /api/v1/slos`` gives them, from the real evaluator.

The SLO file is written here; the results come from :class:`Evaluator` over a
:class:`FakeSource` and are turned into JSON by the API's own :func:`result_dict`, so the
status tests read the shape the daemon really serves. States covered: ``burning`` (critical
and warning), ``ok``, ``insufficient_events`` and ``no_data``; names: a wide-character SLO
name, an SLO name longer than an 80-column table can show on one line, and instances with one
and two labels.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sloguard.evaluation.evaluator import Evaluator
from sloguard.evaluation.report import result_dict
from sloguard.slo.budget import Counts
from sloguard.slo.loader import load_slo_files
from sloguard.slo.spec import SLO
from sloguard.sources.base import WindowCounts
from sloguard.sources.fake import FakeSource

NOW = 1_767_225_600.0
LONG_NAME = "web-search-tool-success-rate-for-every-agent-of-the-research-team"
KOREAN = "에이전트 가용성"
RESEARCH = "demo-agent-research-assistant"
WRITER = "demo-agent-writer"

SLO_FILE = f"""\
apiVersion: sloguard/v1
slos:
  - name: agent-availability
    objective: 99.5
    period: 30d
    sli: {{kind: success_rate}}
    group_by: [agent_name]
  - name: {KOREAN}
    objective: 99.95
    period: 30d
    sli: {{kind: success_rate}}
    min_events: 1000
  - name: {LONG_NAME}
    objective: 99
    period: 7d
    sli: {{kind: tool_success_rate}}
    selector: {{tool_name: web_search}}
    group_by: [agent_name, tool_name]
  - name: idle-agent-availability
    objective: 99
    period: 30d
    sli: {{kind: success_rate}}
"""


def _answer(slo: SLO, window: float, at: float) -> WindowCounts:
    if slo.name == "agent-availability":
        return {
            (("agent_name", RESEARCH),): Counts(bad=0.2 * window, total=window),
            (("agent_name", WRITER),): Counts(bad=0.0, total=window),
        }
    if slo.name == KOREAN:
        return {(): Counts(bad=0.0, total=10.0)}
    if slo.name == LONG_NAME:
        key = (("agent_name", RESEARCH), ("tool_name", "web_search"))
        return {key: Counts(bad=0.02 * window, total=window)}
    return {}


def status_items(tmp_path: Path) -> list[dict[str, Any]]:
    """The ``slos`` list of ``/api/v1/slos`` for :data:`SLO_FILE` at :data:`NOW`."""
    path = tmp_path / "slos.yaml"
    path.write_text(SLO_FILE, encoding="utf-8")
    slos = load_slo_files([path])
    results = asyncio.run(Evaluator(slos, FakeSource(answer=_answer)).evaluate(NOW))
    return [result_dict(r) for r in results]
