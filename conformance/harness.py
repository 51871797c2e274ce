"""What every conformance workload does around its own scenarios, in one place.

A workload (``conformance/<framework>/workload.py``) supplies its scenarios, its scripted model
(a ``decide`` function for :class:`~conformance.fakemodel.FakeModel`) and a ``capture_one``
function; this module supplies the rest:

- :func:`main`: the command line (``--out DIR [--instrumentation NAME]``) and the loop that runs
  each instrumentation in its own subprocess (instrumentations patch the framework, or set the
  one global tracer provider, for the whole process, so they cannot share one);
- :func:`session`: the capture server, the fake model and a tracer provider exporting to the
  capture (:func:`tracer_provider`); :meth:`Session.finish` flushes and saves the capture,
  :meth:`Session.report` prints what the run did (:func:`model_calls`, :func:`versions`);
- the Triage/Billing support desk that more than one workload scripts the same way
  (:data:`DESK_SCENARIOS`, :func:`desk_billing`, …).

Standard library, OpenTelemetry SDK / OTLP exporter and the sibling ``capture`` and
``fakemodel`` modules only: it is imported in every framework's environment. OpenTelemetry is
imported when a provider is made, so a workload's environment settings (``OTEL_*``) made after
importing this module still count.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conformance.capture import OtlpCapture
from conformance.fakemodel import FakeModel, Reply, Turn

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

__all__ = [
    "BILLING_TOKENS",
    "DESK_MARKERS",
    "DESK_SCENARIOS",
    "TRIAGE_TOKENS",
    "Session",
    "check_status",
    "desk_agent",
    "desk_billing",
    "desk_status",
    "lookup_invoice",
    "main",
    "model_calls",
    "session",
    "tracer_provider",
    "versions",
]

# How every capture exports: small batches, sent soon, so a capture has several exports (as a
# sidecar would receive them) and nothing waits for the end of the run.
MAX_EXPORT_BATCH_SIZE = 4
SCHEDULE_DELAY_MILLIS = 50


# -- command line ------------------------------------------------------------------------------


def main(
    framework: str,
    instrumentations: Sequence[str] | Mapping[str, Mapping[str, str]],
    capture_one: Callable[[str, Path], None],
) -> None:
    """Run a workload: ``--out DIR [--instrumentation NAME]``.

    With ``--instrumentation`` (or when there is only one), ``capture_one(name, out)`` runs in
    this process; otherwise each instrumentation runs in a subprocess of the same script.
    ``instrumentations`` may map each name to environment variables its subprocess gets (and
    that ``--instrumentation NAME`` then requires, since they must be set before the framework
    is imported).
    """
    envs: dict[str, Mapping[str, str]] = (
        dict(instrumentations)
        if isinstance(instrumentations, Mapping)
        else {name: {} for name in instrumentations}
    )
    parser = argparse.ArgumentParser(description=f"{framework} conformance captures")
    parser.add_argument("--out", type=Path, required=True, help="folder of the captures")
    parser.add_argument("--instrumentation", choices=list(envs), help="only this one, here")
    args = parser.parse_args()
    if args.instrumentation or len(envs) == 1:
        name = args.instrumentation or next(iter(envs))
        for key, value in envs[name].items():
            assert os.environ.get(key) == value, f"{name} needs {key}={value}"
        capture_one(name, args.out)
        return
    script = inspect.getfile(capture_one)
    for name, env in envs.items():
        settings = " ".join(f"{key}={value}" for key, value in env.items())
        print(f"-- {framework}-{name}" + (f" ({settings})" if settings else ""), flush=True)
        subprocess.run(
            [sys.executable, script, "--out", str(args.out), "--instrumentation", name],
            env={**os.environ, **env},
            check=True,
        )


# -- capture session ---------------------------------------------------------------------------


def tracer_provider(endpoint: str, service_name: str) -> TracerProvider:
    """A tracer provider that batches spans to the OTLP/HTTP ``endpoint`` (the capture's)."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(endpoint=endpoint),
            max_export_batch_size=MAX_EXPORT_BATCH_SIZE,
            schedule_delay_millis=SCHEDULE_DELAY_MILLIS,
        )
    )
    return provider


@dataclass
class Session:
    """One capture run: the OTLP capture, the fake model, the provider exporting spans to the
    capture, and the folder the capture is saved in."""

    capture: OtlpCapture
    fake: FakeModel
    provider: TracerProvider
    folder: Path
    paths: list[Path] = field(default_factory=list)

    def finish(self) -> list[Path]:
        """Flush and shut down the provider, then save the capture into the folder."""
        self.provider.force_flush()
        self.provider.shutdown()
        self.paths = self.capture.save(self.folder)
        return self.paths

    def report(
        self,
        agent_of: Callable[[Turn], str],
        *,
        outcomes: Iterable[Any] = (),
        packages: Iterable[str] = (),
        **facts: Any,
    ) -> dict[str, dict[str, int]]:
        """Print what the run did: its outcomes, the model calls per agent (``agent_of`` a
        request), other facts, the exports and the ``packages``' versions. Returns the calls."""
        calls = model_calls(self.fake.log, agent_of)
        for outcome in outcomes:
            print("  ", outcome if isinstance(outcome, str) else json.dumps(outcome))
        print("   model calls:", json.dumps(calls, sort_keys=True))
        for key, value in facts.items():
            print(f"   {key}:", json.dumps(value, sort_keys=True, default=str))
        line = f"   {len(self.paths)} exports -> {self.folder}"
        print(line + (f"; versions {versions(packages)}" if packages else ""), flush=True)
        return calls


@contextmanager
def session(decide: Callable[[Turn], Reply], service_name: str, folder: Path) -> Iterator[Session]:
    """Serve the capture and the fake model (answering with ``decide``) for one run whose
    capture goes to ``folder``; its spans have resource ``service.name`` ``service_name``."""
    with OtlpCapture() as capture, FakeModel(decide) as fake:
        provider = tracer_provider(capture.endpoint, service_name)
        yield Session(capture, fake, provider, folder)


# -- what a run prints -------------------------------------------------------------------------


def model_calls(
    log: Iterable[tuple[Turn, Reply]], agent_of: Callable[[Turn], str]
) -> dict[str, dict[str, int]]:
    """Per agent (``agent_of`` a request): model calls, failed ones and the tokens reported."""
    per: dict[str, dict[str, int]] = {}
    for turn, reply in log:
        usage = per.setdefault(
            agent_of(turn), {"calls": 0, "failed": 0, "input_tokens": 0, "output_tokens": 0}
        )
        usage["calls"] += 1
        usage["failed"] += reply.status != 200
        usage["input_tokens"] += reply.input_tokens
        usage["output_tokens"] += reply.output_tokens
    return per


def versions(packages: Iterable[str]) -> dict[str, str]:
    """The installed version of each distribution."""
    return {package: version(package) for package in packages}


# -- the Triage/Billing support desk -----------------------------------------------------------
# Triage answers service-status questions itself (tool check_status) and passes billing ones to
# Billing, who looks invoices up (lookup_invoice) and refunds them (issue_refund, which fails).
# Each request carries a marker saying which scenario it is. Agents are told apart by the
# ROLE:TRIAGE / ROLE:BILLING tag in their instructions.

# Distinct usage per agent, so tokens attributed to the wrong agent show.
TRIAGE_TOKENS = {"input_tokens": 100, "output_tokens": 10}
BILLING_TOKENS = {"input_tokens": 200, "output_tokens": 20}

DESK_SCENARIOS = [
    ("success-1", "[invoice] What is on my invoice INV-1?"),
    ("success-2", "[invoice] Please check invoice INV-2."),
    ("tool-error-handled", "[refund] Refund invoice INV-3, please."),
    ("tool-error-unhandled", "[refund-hard] Refund invoice INV-5 now."),
    ("model-500", "[fail] Invoice INV-4 looks wrong."),
    ("direct-tool", "[status] Is the service up?"),
]
# Looked for in this order ("[refund-hard]" before "[refund]").
DESK_MARKERS = ("[status]", "[fail]", "[refund-hard]", "[refund]", "[invoice]")


def desk_agent(turn: Turn) -> str:
    return "Triage" if "ROLE:TRIAGE" in turn.system else "Billing"


def desk_status(turn: Turn) -> Reply:
    """Triage on a ``[status]`` request: call check_status, then answer."""
    if "check_status" not in turn.tool_calls:
        return Reply.call("check_status", {}, **TRIAGE_TOKENS)
    return Reply.text("All systems are operational.", **TRIAGE_TOKENS)


def desk_billing(turn: Turn, scenario: str) -> Reply:
    """Billing: a 500 on ``[fail]``; a refund that fails (handled on ``[refund]``, the model
    answers; unhandled on ``[refund-hard]``); otherwise look the invoice up and answer."""
    if scenario == "[fail]":
        return Reply.fail(500)
    if scenario == "[refund]":
        if "issue_refund" not in turn.tool_calls:
            return Reply.call("issue_refund", {"invoice_id": "INV-3"}, **BILLING_TOKENS)
        return Reply.text("Sorry, the refund could not be issued right now.", **BILLING_TOKENS)
    if scenario == "[refund-hard]":
        return Reply.call("issue_refund", {"invoice_id": "INV-5"}, **BILLING_TOKENS)
    if "lookup_invoice" not in turn.tool_calls:
        return Reply.call("lookup_invoice", {"invoice_id": "INV-1"}, **BILLING_TOKENS)
    return Reply.text("Your invoice of 42.00 is paid.", **BILLING_TOKENS)


def lookup_invoice(invoice_id: str) -> dict:
    """Look up an invoice by id."""
    return {"invoice_id": invoice_id, "amount": 42.0, "status": "paid"}


def check_status() -> dict:
    """Report whether the service is up."""
    return {"status": "all systems operational"}
