"""Conformance workload: OpenAI Agents SDK (openai-agents), offline against the fake model.

Each instrumentation runs in its own subprocess (both register a processor with the SDK's one
global trace provider, so they cannot be isolated from each other in one process):

    workload.py --out tests/data/frameworks                 # every instrumentation
    workload.py --out DIR --instrumentation openinference   # one

Scenarios, all ``Runner.run`` with ``RunConfig(workflow_name="Customer support")``:
  a. (x2) Triage hands off to Billing (transfer_to_billing), Billing calls lookup_invoice, answers.
  b. Triage hands off to Billing, Billing's issue_refund raises; the SDK's default
     failure_error_function puts an error message in the tool output, Billing answers, run ok.
  c. Triage hands off to Billing, the model answers 500 on Billing's call (max_retries=0):
     the run raises openai.InternalServerError (caught here).
  d. Triage calls its own tool lookup_faq (no handoff) and answers.
Tokens: every Triage model call reports 100 input / 10 output, every Billing call 200 / 20.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from pathlib import Path

from conformance import harness

INSTRUMENTATIONS = ("openinference", "openllmetry")
FRAMEWORK = "openai-agents"
WORKFLOW = "Customer support"

# What the runs must do, checked against the fake model's log and the tool calls made, so a
# capture that was produced by a different behaviour is never saved.
EXPECTED_MODEL_CALLS = {"Triage": 6, "Billing": 7}  # Billing: 6 answered + 1 injected 500
EXPECTED_TOKENS = {"Triage": (600, 60), "Billing": (1200, 120)}
EXPECTED_TOOLS = {
    ("Billing", "lookup_invoice", "ok"): 2,
    ("Billing", "issue_refund", "error"): 1,
    ("Triage", "lookup_faq", "ok"): 1,
}


def _agent_of(system: str) -> str:
    if "You are Billing" in system:
        return "Billing"
    if "You are Triage" in system:
        return "Triage"
    return "?"


def run_one(instrumentation: str, out: Path) -> None:
    os.environ["OPENAI_API_KEY"] = "test"
    os.environ.pop("OPENAI_BASE_URL", None)
    os.environ.pop("OPENAI_AGENTS_DISABLE_TRACING", None)
    os.environ.pop("OTEL_SDK_DISABLED", None)
    os.environ["TRACELOOP_METRICS_ENABLED"] = "false"  # no meter provider here anyway

    import agents
    from agents import Agent, OpenAIResponsesModel, RunConfig, Runner, function_tool
    from openai import AsyncOpenAI, InternalServerError

    from conformance.fakemodel import Reply, Turn

    tool_log: Counter[tuple[str, str, str]] = Counter()

    @function_tool
    def lookup_invoice(invoice_id: str) -> str:
        """Look up an invoice by its id."""
        tool_log["Billing", "lookup_invoice", "ok"] += 1
        return f"Invoice {invoice_id}: 42.00 EUR, paid."

    @function_tool
    def issue_refund(invoice_id: str) -> str:
        """Issue a refund for an invoice."""
        tool_log["Billing", "issue_refund", "error"] += 1
        raise RuntimeError(f"refund backend unavailable for {invoice_id}")

    @function_tool
    def lookup_faq(topic: str) -> str:
        """Look up the FAQ entry for a topic."""
        tool_log["Triage", "lookup_faq", "ok"] += 1
        return f"FAQ on {topic}: we are open 9-17."

    def decide(turn: Turn) -> Reply:
        agent = _agent_of(turn.system)
        if agent == "Triage":
            kw = dict(input_tokens=100, output_tokens=10)
            if "[faq]" in turn.user:
                if "lookup_faq" not in turn.tool_calls:
                    return Reply.call("lookup_faq", {"topic": "opening hours"}, **kw)
                return Reply.text("We are open 9-17.", **kw)
            return Reply.call("transfer_to_billing", {}, **kw)
        if agent == "Billing":
            kw = dict(input_tokens=200, output_tokens=20)
            if "[fail]" in turn.user:
                return Reply.fail(500)
            tool = "issue_refund" if "[refund]" in turn.user else "lookup_invoice"
            if tool not in turn.tool_calls:
                return Reply.call(tool, {"invoice_id": "INV-7"}, **kw)
            if tool == "issue_refund":
                return Reply.text("Sorry, the refund could not be issued right now.", **kw)
            return Reply.text("Invoice INV-7 is paid: 42.00 EUR.", **kw)
        raise AssertionError(f"unknown agent for system prompt {turn.system[:60]!r}")

    folder = out / f"{FRAMEWORK}-{instrumentation}"
    with harness.session(decide, f"conformance-{FRAMEWORK}-{instrumentation}", folder) as run:
        provider, fake = run.provider, run.fake
        # The SDK's default trace processor exports to OpenAI's backend: drop it before
        # instrumenting (both instrumentors also replace it below). Do NOT call
        # set_tracing_disabled(True): it stops the SDK from creating spans at all, so the
        # instrumentations (which are SDK trace processors) would see nothing.
        agents.set_trace_processors([])
        if instrumentation == "openinference":
            from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor

            # exclusive_processor defaults to True: ours becomes the only SDK processor.
            instrumentor = OpenAIAgentsInstrumentor()
            instrumentor.instrument(tracer_provider=provider)
        elif instrumentation == "openllmetry":
            from opentelemetry.instrumentation.openai_agents import OpenAIAgentsInstrumentor

            instrumentor = OpenAIAgentsInstrumentor(replace_existing_processors=True)
            instrumentor.instrument(tracer_provider=provider)
        else:
            raise SystemExit(f"unknown instrumentation {instrumentation}")

        # Nothing may reach OpenAI's trace ingest: the SDK's default BatchTraceProcessor must
        # be gone.
        from agents.tracing.processors import BatchTraceProcessor

        registered = getattr(
            getattr(agents.tracing.get_trace_provider(), "_multi_processor", None),
            "_processors",
            (),
        )
        assert registered and not any(isinstance(p, BatchTraceProcessor) for p in registered), (
            registered
        )

        client = AsyncOpenAI(base_url=fake.base_url, api_key="test", max_retries=0)
        model = OpenAIResponsesModel("gpt-4o-mini", client)
        billing = Agent(
            name="Billing",
            model=model,
            instructions="You are Billing. Answer invoice and refund questions with your tools.",
            handoff_description="Handles invoices and refunds.",
            tools=[lookup_invoice, issue_refund],
        )
        triage = Agent(
            name="Triage",
            model=model,
            instructions=(
                "You are Triage. Route billing questions to Billing; answer FAQs yourself."
            ),
            tools=[lookup_faq],
            handoffs=[billing],
        )
        config = RunConfig(workflow_name=WORKFLOW, tracing_disabled=False)

        scenarios = [
            ("a1", "What is the status of invoice INV-7?"),
            ("a2", "Is invoice INV-7 paid?"),
            ("b", "[refund] Please refund invoice INV-7."),
            ("c", "[fail] Why was I charged twice on INV-7?"),
            ("d", "[faq] When are you open?"),
        ]

        async def run_all() -> dict[str, str]:
            outcome = {}
            for key, question in scenarios:
                try:
                    result = await Runner.run(triage, question, run_config=config)
                    outcome[key] = f"ok ({result.last_agent.name}): {result.final_output}"
                except InternalServerError as exc:
                    outcome[key] = f"error: {type(exc).__name__}: {exc}"
            return outcome

        outcome = asyncio.run(run_all())
        run.finish()

    usage = run.report(
        lambda turn: _agent_of(turn.system),
        outcomes=[f"{key}: {text}" for key, text in outcome.items()],
        tools={" ".join(key): n for key, n in tool_log.items()},
    )
    calls = {agent: u["calls"] for agent, u in usage.items()}
    tokens = {agent: (u["input_tokens"], u["output_tokens"]) for agent, u in usage.items()}
    assert calls == EXPECTED_MODEL_CALLS, calls
    assert tokens == EXPECTED_TOKENS, tokens
    assert dict(tool_log) == EXPECTED_TOOLS, tool_log
    assert [k for k, v in outcome.items() if v.startswith("error")] == ["c"], outcome


if __name__ == "__main__":
    harness.main(FRAMEWORK, INSTRUMENTATIONS, run_one)
