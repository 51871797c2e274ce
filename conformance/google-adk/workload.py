"""Google ADK conformance workload: Triage transfers to Billing (``transfer_to_agent``), offline.

Instrumentation ``builtin``: ADK's own OpenTelemetry spans (tracer ``gcp.vertex.agent``), sent
to our TracerProvider (set globally before the run) and exported OTLP/HTTP to the capture;
``builtin-legacy``: the same with ADK_TELEMETRY_SCHEMA_VERSION_OPT_IN=1 (ADK 1.x span schema).
The model is LiteLLM's OpenAI route pointed at conformance/fakemodel.py.

    PYTHONPATH=<repo> python conformance/google-adk/workload.py --out tests/data/frameworks
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

# Offline: LiteLLM must not fetch its model price map, nothing may phone home.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ["OPENAI_API_KEY"] = "test"
os.environ.pop("OTEL_SDK_DISABLED", None)
os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
os.environ.pop("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None)
# Content capture stays at ADK's defaults (none on semconv spans, on for legacy spans).
os.environ.pop("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", None)
os.environ.pop("OTEL_SEMCONV_STABILITY_OPT_IN", None)
os.environ.pop("ADK_EXPERIMENTAL_TELEMETRY", None)

from opentelemetry import trace

from conformance import harness
from conformance.fakemodel import Reply, Turn
from conformance.harness import TRIAGE_TOKENS, check_status, lookup_invoice

FRAMEWORK = "google-adk"
APP = "Customer support"
SCENARIOS = harness.DESK_SCENARIOS  # the desk of conformance/harness.py


def issue_refund(invoice_id: str) -> dict:
    """Issue a refund for an invoice."""
    raise RuntimeError(f"refund service unavailable for {invoice_id}")


def on_tool_error(tool, args, tool_context, error):
    """Billing's ``on_tool_error_callback``: ADK re-raises a tool's exception (failing the run)
    unless a callback returns a result. Handle INV-3 (the model sees the error), not INV-5."""
    if args.get("invoice_id") == "INV-3":
        return {"error": f"{type(error).__name__}: {error}"}
    return None


def marker(turn: Turn) -> str:
    """The scenario marker of the first user message (ADK re-sends other agents' turns to the
    next agent as "For context:" user messages, so the *last* user message is not the request)."""
    text = json.dumps(turn.body.get("messages", []))
    return next((m for m in harness.DESK_MARKERS if m in text), "")


def decide(turn: Turn) -> Reply:
    scenario = marker(turn)
    if "ROLE:TRIAGE" in turn.system:
        if scenario == "[status]":
            return harness.desk_status(turn)
        return Reply.call("transfer_to_agent", {"agent_name": "Billing"}, **TRIAGE_TOKENS)
    if "ROLE:BILLING" in turn.system:
        return harness.desk_billing(turn, scenario)
    raise AssertionError(f"unknown caller: {turn.system[:80]!r}")


async def run_all(model_url: str) -> list[dict]:
    from google.adk.agents import LlmAgent
    from google.adk.models.lite_llm import LiteLlm
    from google.adk.runners import Runner
    from google.adk.sessions import InMemorySessionService
    from google.genai import types

    def llm() -> LiteLlm:
        # max_retries=0 goes to the OpenAI client LiteLLM builds: an injected 500 fails at once.
        return LiteLlm(
            model="openai/gpt-4o-mini",
            api_base=model_url,
            api_key="test",
            max_retries=0,
            num_retries=0,
        )

    billing = LlmAgent(
        name="Billing",
        model=llm(),
        description="Handles invoices and refunds.",
        instruction="ROLE:BILLING You are the billing agent. Use your tools.",
        tools=[lookup_invoice, issue_refund],
        on_tool_error_callback=on_tool_error,
    )
    triage = LlmAgent(
        name="Triage",
        model=llm(),
        description="Routes customer requests.",
        instruction="ROLE:TRIAGE You are the triage agent. Transfer billing questions to Billing.",
        tools=[check_status],
        sub_agents=[billing],
    )
    sessions = InMemorySessionService()
    runner = Runner(agent=triage, app_name=APP, session_service=sessions)
    outcomes = []
    for name, text in SCENARIOS:
        session = await sessions.create_session(app_name=APP, user_id="user-1")
        message = types.Content(role="user", parts=[types.Part(text=text)])
        authors, error = [], None
        try:
            async for event in runner.run_async(
                user_id="user-1", session_id=session.id, new_message=message
            ):
                if event.author and (not authors or authors[-1] != event.author):
                    authors.append(event.author)
        except Exception as exc:
            error = f"{type(exc).__name__}: {str(exc)[:120]}"
        outcomes.append({"scenario": name, "authors": authors, "error": error})
    return outcomes


# ADK 2.x emits the GenAI-semconv-aligned schema by default (root ``invoke_workflow``, no
# ``call_llm`` span, no content); ADK_TELEMETRY_SCHEMA_VERSION_OPT_IN=1 brings back the legacy
# schema that ADK 1.x emits (root ``invocation``, ``call_llm`` spans, ``gcp.vertex.agent.*``
# content such as ``tool_call_args``). Both are captured, each in its own process (the global
# tracer provider can only be set once, and ADK reads the env var per span).
CAPTURES = {"builtin": "2", "builtin-legacy": "1"}


def capture_one(instrumentation: str, out: Path) -> None:
    folder = out / f"{FRAMEWORK}-{instrumentation}"
    with harness.session(decide, f"conformance-{FRAMEWORK}", folder) as run:
        trace.set_tracer_provider(run.provider)
        outcomes = asyncio.run(run_all(run.fake.base_url))
        run.finish()
    packages = ("google-adk", "litellm", "openai", "opentelemetry-sdk")
    run.report(harness.desk_agent, outcomes=outcomes, packages=packages)


if __name__ == "__main__":
    harness.main(
        FRAMEWORK,
        {
            name: {"ADK_TELEMETRY_SCHEMA_VERSION_OPT_IN": schema}
            for name, schema in CAPTURES.items()
        },
        capture_one,
    )
