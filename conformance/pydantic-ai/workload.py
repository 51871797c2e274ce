"""Pydantic AI conformance workload: Triage delegates to Billing through a tool, offline.

Instrumentation ``native``: Pydantic AI's own OpenTelemetry spans (``Agent.instrument_all``
with ``InstrumentationSettings(tracer_provider=...)``, default data format version), exported
OTLP/HTTP to the capture. The model is ``OpenAIChatModel`` on conformance/fakemodel.py.

    PYTHONPATH=<repo> python conformance/pydantic-ai/workload.py --out tests/data/frameworks
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

os.environ["OPENAI_API_KEY"] = "test"
os.environ.pop("OTEL_SDK_DISABLED", None)
os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
os.environ.pop("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None)

from openai import AsyncOpenAI
from opentelemetry.sdk.trace import TracerProvider
from pydantic_ai import Agent, ModelRetry, RunContext
from pydantic_ai.models.instrumented import InstrumentationSettings
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from conformance import harness
from conformance.fakemodel import Reply, Turn
from conformance.harness import TRIAGE_TOKENS, check_status, lookup_invoice

FRAMEWORK = "pydantic-ai"
INSTRUMENTATION = "native"
PIPELINE = "Support pipeline"
# The desk of conformance/harness.py, and two more.
SCENARIOS = [
    *harness.DESK_SCENARIOS,
    ("pipeline", "[pipeline] Invoice INV-6 question."),
    ("rate-limited", "[ratelimit] Where is invoice INV-8?"),
]
MARKERS = (*harness.DESK_MARKERS, "[pipeline]", "[ratelimit]")


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
            return harness.desk_status(turn)
        if "ask_billing" not in turn.tool_calls:
            return Reply.call("ask_billing", {"question": turn.user}, **TRIAGE_TOKENS)
        return Reply.text("Billing has answered your question.", **TRIAGE_TOKENS)
    if "ROLE:BILLING" in turn.system:
        return harness.desk_billing(turn, scenario)
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
    billing.tool_plain(lookup_invoice)

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

    triage.tool_plain(check_status)

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


def capture_one(instrumentation: str, out: Path) -> None:
    folder = out / f"{FRAMEWORK}-{instrumentation}"
    with harness.session(decide, f"conformance-{FRAMEWORK}", folder) as run:
        Agent.instrument_all(InstrumentationSettings(tracer_provider=run.provider))
        outcomes = asyncio.run(run_all(run.fake.base_url, run.provider))
        run.finish()
    packages = ("pydantic-ai-slim", "openai", "opentelemetry-sdk")
    run.report(harness.desk_agent, outcomes=outcomes, packages=packages)


if __name__ == "__main__":
    harness.main(FRAMEWORK, (INSTRUMENTATION,), capture_one)
