"""Pydantic AI conformance workload: Triage delegates to Billing through a tool, offline.

Instrumentation ``native``: Pydantic AI's own OpenTelemetry spans (``Agent.instrument_all``
with ``InstrumentationSettings(tracer_provider=...)``, default data format version), exported
OTLP/HTTP to the capture. The model is ``OpenAIChatModel`` on conformance/fakemodel.py.

    PYTHONPATH=<repo> python conformance/pydantic-ai/workload.py --out tests/data/frameworks
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections import defaultdict
from importlib.metadata import version
from pathlib import Path

os.environ["OPENAI_API_KEY"] = "test"
os.environ.pop("OTEL_SDK_DISABLED", None)
os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
os.environ.pop("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None)

from openai import AsyncOpenAI
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from pydantic_ai import Agent, ModelRetry, RunContext
from pydantic_ai.models.instrumented import InstrumentationSettings
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from conformance.capture import OtlpCapture
from conformance.fakemodel import FakeModel, Reply, Turn

FRAMEWORK = "pydantic-ai"
INSTRUMENTATION = "native"
PIPELINE = "Support pipeline"
TRIAGE_TOKENS = {"input_tokens": 100, "output_tokens": 10}
BILLING_TOKENS = {"input_tokens": 200, "output_tokens": 20}

SCENARIOS = [
    ("success-1", "[invoice] What is on my invoice INV-1?"),
    ("success-2", "[invoice] Please check invoice INV-2."),
    ("tool-error-handled", "[refund] Refund invoice INV-3, please."),
    ("tool-error-unhandled", "[refund-hard] Refund invoice INV-5 now."),
    ("model-500", "[fail] Invoice INV-4 looks wrong."),
    ("direct-tool", "[status] Is the service up?"),
    ("pipeline", "[pipeline] Invoice INV-6 question."),
    ("rate-limited", "[ratelimit] Where is invoice INV-8?"),
]
MARKERS = (
    "[status]",
    "[fail]",
    "[refund-hard]",
    "[refund]",
    "[invoice]",
    "[pipeline]",
    "[ratelimit]",
)


def marker(turn: Turn) -> str:
    return next((m for m in MARKERS if m in turn.user), "")


def decide(turn: Turn) -> Reply:
    scenario = marker(turn)
    if "ROLE:TRIAGE" in turn.system:
        if scenario == "[ratelimit]":
            return Reply.fail(429)  # max_retries=0: the rate limit fails Triage's run at once
        if scenario == "[pipeline]":
            return Reply.text("This is a billing question.", **TRIAGE_TOKENS)
        if scenario == "[status]":
            if "check_status" not in turn.tool_calls:
                return Reply.call("check_status", {}, **TRIAGE_TOKENS)
            return Reply.text("All systems are operational.", **TRIAGE_TOKENS)
        if "ask_billing" not in turn.tool_calls:
            return Reply.call("ask_billing", {"question": turn.user}, **TRIAGE_TOKENS)
        return Reply.text("Billing has answered your question.", **TRIAGE_TOKENS)
    if "ROLE:BILLING" in turn.system:
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
    raise AssertionError(f"unknown caller: {turn.system[:80]!r}")


def build(model_url: str) -> tuple[Agent, Agent]:
    # max_retries=0 on the OpenAI client: an injected 500 fails the run at once.
    client = AsyncOpenAI(base_url=model_url, api_key="test", max_retries=0)
    model = OpenAIChatModel("gpt-4o-mini", provider=OpenAIProvider(openai_client=client))

    billing = Agent(
        model,
        name="Billing",
        instructions="ROLE:BILLING You are the billing agent. Use your tools.",
    )

    @billing.tool_plain
    def lookup_invoice(invoice_id: str) -> dict:
        """Look up an invoice by id."""
        return {"invoice_id": invoice_id, "amount": 42.0, "status": "paid"}

    @billing.tool_plain
    def issue_refund(invoice_id: str) -> dict:
        """Issue a refund for an invoice."""
        if invoice_id == "INV-3":
            # ModelRetry: Pydantic AI's way for a tool to fail and tell the model (run goes on).
            raise ModelRetry(f"refund service unavailable for {invoice_id}")
        raise RuntimeError(f"refund service unavailable for {invoice_id}")

    triage = Agent(
        model,
        name="Triage",
        instructions="ROLE:TRIAGE You are the triage agent. Ask Billing about invoices.",
    )

    @triage.tool
    async def ask_billing(ctx: RunContext[None], question: str) -> str:
        """Delegate a billing question to the Billing agent."""
        result = await billing.run(question, usage=ctx.usage)
        return result.output

    @triage.tool_plain
    def check_status() -> dict:
        """Report whether the service is up."""
        return {"status": "all systems operational"}

    return triage, billing


async def run_all(model_url: str, provider: TracerProvider) -> list[dict]:
    triage, billing = build(model_url)
    tracer = provider.get_tracer("conformance.workload")
    outcomes = []
    for name, text in SCENARIOS:
        error = None
        try:
            if name == "pipeline":
                # Programmatic hand-off: the app runs Triage, then Billing, in one trace under a
                # parent span named after the workflow.
                with tracer.start_as_current_span(PIPELINE):
                    routed = await triage.run(text)
                    await billing.run(f"{text} (triage said: {routed.output})")
            else:
                await triage.run(text)
        except Exception as exc:
            error = f"{type(exc).__name__}: {str(exc)[:120]}"
        outcomes.append({"scenario": name, "error": error})
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("tests/data/frameworks"))
    args = parser.parse_args()
    with OtlpCapture() as capture, FakeModel(decide) as model:
        provider = TracerProvider(
            resource=Resource.create({"service.name": f"conformance-{FRAMEWORK}"})
        )
        provider.add_span_processor(
            BatchSpanProcessor(
                OTLPSpanExporter(endpoint=capture.endpoint),
                max_export_batch_size=4,
                schedule_delay_millis=50,
            )
        )
        Agent.instrument_all(InstrumentationSettings(tracer_provider=provider))
        outcomes = asyncio.run(run_all(model.base_url, provider))
        provider.force_flush()
        provider.shutdown()
        folder = args.out / f"{FRAMEWORK}-{INSTRUMENTATION}"
        paths = capture.save(folder)
    for outcome in outcomes:
        print("  ", json.dumps(outcome))
    calls: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for turn, reply in model.log:
        who = "Triage" if "ROLE:TRIAGE" in turn.system else "Billing"
        calls[who][0] += 1
        calls[who][1] += reply.input_tokens
        calls[who][2] += reply.output_tokens
    print("   model calls [n, input, output]:", json.dumps(calls))
    print(
        f"   {len(paths)} exports to {folder}; versions",
        {p: version(p) for p in ("pydantic-ai-slim", "openai", "opentelemetry-sdk")},
    )


if __name__ == "__main__":
    main()
