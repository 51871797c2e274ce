"""Measure which ``sloguard`` modules one SLO objective crosses from its YAML file to Slack.

The real path runs in-process, on loopback only, in four stages:

1. ``slo``         ``config/slos.yaml`` → ``load_slo_files`` → the first SLO;
2. ``evaluation``  the real ``Evaluator`` against a ``FakeSource`` answering every window of
                   ``slo.windows()`` with 50 % bad events (so every tier burns);
3. ``alerting``    ``parse_routing`` (one Slack bot receiver whose ``base_url`` is the fake
                   Slack), a real ``StateStore`` in a temporary directory, ``AlertCenter.process``
                   (the notification is committed to the outbox);
4. ``delivery``    ``build_notifiers`` (the daemon's factory → ``SlackBotNotifier``) and
                   ``OutboxWorker.run_once`` to the fake Slack Web API of
                   ``tests/support/fakeslack.py`` on 127.0.0.1.

During each stage ``sys.setprofile`` (and ``threading.setprofile``) records every ``sloguard.*``
module whose Python code is entered, in order of first entry: functions, methods, generated
dataclass methods, class bodies. Code that runs only because a module is being imported during
the stage (under ``importlib``) is listed apart as ``imported``. Not seen: types used without
running their module's Python code (enums, protocols, type aliases, pydantic models validated in
pydantic-core). ``sloguard.sources.fake`` is a test double standing in for a real source.

Prints the modules per stage and the number of distinct modules; ``loaded, never run`` lists
``sloguard`` modules in ``sys.modules`` that ran no code. Exit status 1 when no
``chat.postMessage`` reached the fake Slack.

Usage (from the repository root)::

    .venv/bin/python bench/route.py           # readable report
    .venv/bin/python bench/route.py --json    # the same as JSON on stdout
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sloguard.alerting.center import AlertCenter  # noqa: E402
from sloguard.alerting.store import StateStore  # noqa: E402
from sloguard.evaluation.evaluator import Evaluator  # noqa: E402
from sloguard.notify.config import build_notifiers, parse_routing  # noqa: E402
from sloguard.notify.outbox import OutboxWorker  # noqa: E402
from sloguard.slo.budget import Counts  # noqa: E402
from sloguard.slo.loader import load_slo_files  # noqa: E402
from sloguard.sources.fake import FakeSource  # noqa: E402
from tests.support.fakeslack import DEFAULT_TOKEN, FakeSlack  # noqa: E402

STAGES = ("slo", "evaluation", "alerting", "delivery")
ROUTING = """\
receivers:
  - name: slack
    slack: {{channel: "#alerts", base_url: "{base_url}"}}
route:
  receiver: slack
"""


class ModuleTrace:
    """``sloguard`` modules entered per stage, in order of first entry."""

    def __init__(self) -> None:
        self.ran: dict[str, dict[str, None]] = {s: {} for s in STAGES}
        self.imported: dict[str, dict[str, None]] = {s: {} for s in STAGES}
        self._stage: str | None = None

    def _hook(self, frame: FrameType, event: str, arg: object) -> None:
        stage = self._stage
        if event != "call" or stage is None:
            return
        name = str(frame.f_globals.get("__name__", ""))
        if name.partition(".")[0] != "sloguard" or name in self.ran[stage]:
            return
        f: FrameType | None = frame
        while f is not None and not f.f_code.co_filename.startswith("<frozen importlib"):
            f = f.f_back
        (self.ran if f is None else self.imported)[stage].setdefault(name, None)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Record while the block runs (in this thread and in threads it starts)."""
        self._stage = name
        threading.setprofile(self._hook)
        sys.setprofile(self._hook)
        try:
            yield
        finally:
            sys.setprofile(None)
            threading.setprofile(None)
            self._stage = None

    def report(self) -> dict[str, Any]:
        """Per stage: modules run and modules only imported; the distinct total."""
        seen: dict[str, None] = {}
        for s in STAGES:
            seen.update(self.ran[s])
        loaded = sorted(
            m for m in sys.modules if m.partition(".")[0] == "sloguard" and m not in seen
        )
        return {
            "stages": {s: list(self.ran[s]) for s in STAGES},
            "imported_during_stage": {s: list(self.imported[s]) for s in STAGES},
            "modules": list(seen),
            "total": len(seen),
            "loaded_never_run": loaded,
        }


def run(trace: ModuleTrace, slack: FakeSlack, workdir: Path) -> dict[str, Any]:
    """The four stages; what reached Slack."""
    with trace.stage("slo"):
        slo = load_slo_files([ROOT / "config" / "slos.yaml"], resolution=60.0)[0]
    now = time.time()
    with trace.stage("evaluation"):
        half = Counts(bad=500.0, total=1000.0)
        source = FakeSource({(slo.name, w): half for w in slo.windows()})
        results = asyncio.run(Evaluator([slo], source).evaluate(at=now))
    with trace.stage("alerting"):
        env = {"SLOGUARD_SLACK_TOKEN": DEFAULT_TOKEN}
        routing = parse_routing(ROUTING.format(base_url=slack.base_url), env)
        store = StateStore(workdir / "alerts.sqlite")
        queued = AlertCenter(store, routing).process(results, now)
    with trace.stage("delivery"):
        worker = OutboxWorker(store, build_notifiers(routing))
        tried = asyncio.run(worker.run_once("slack"))
    store.close()
    posts = slack.calls_to("chat.postMessage")
    return {
        "slo": slo.name,
        "windows": sorted(slo.windows()),
        "states": [r.evaluation.state.value for r in results],
        "queued": len(queued),
        "tried": tried,
        "posts": len(posts),
        "accepted": len(slack.messages),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="machine-readable result on stdout")
    args = parser.parse_args()
    trace = ModuleTrace()
    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as slack:
        outcome = run(trace, slack, Path(tmp))
    result = {"version": "current", "sloguard": sys.modules["sloguard"].__file__, **outcome}
    result.update(trace.report())
    ok = outcome["posts"] > 0 and outcome["accepted"] > 0
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print(f"sloguard from {result['sloguard']}; SLO {outcome['slo']!r}")
        for s in STAGES:
            mods = result["stages"][s]
            print(f"\n{s} ({len(mods)} modules):")
            print("".join(f"  {m}\n" for m in mods), end="")
            if result["imported_during_stage"][s]:
                print(f"  imported: {', '.join(result['imported_during_stage'][s])}")
        print(f"\ndistinct modules run: {result['total']}")
        print(f"loaded, never run ({len(result['loaded_never_run'])}): "
              + ", ".join(result["loaded_never_run"]))  # fmt: skip
        print(f"queued {outcome['queued']}, chat.postMessage {outcome['posts']}, "
              f"accepted {outcome['accepted']}")  # fmt: skip
    if not ok:
        print("no message reached Slack", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
