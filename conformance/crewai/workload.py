"""CrewAI conformance workload: a hierarchical "Customer support" crew, traced with OpenInference.

Two captures, each in its own process and tracer provider:
  crewai-openinference         ``openinference-instrumentation-crewai`` in its default wrapper
                               mode (crew / task / tool spans) + ``openinference-instrumentation-
                               openai`` (one LLM span per model call; the README sets up only
                               the first).
  crewai-openinference-events  the same package with ``use_event_listener=True`` (spans from
                               CrewAI's event bus, incl. LLM spans and one AGENT span per
                               delegated coworker execution); no OpenAI instrumentation.
CrewAI 1.x calls ``openai/...`` models through its native OpenAI provider (the ``openai``
SDK), not through LiteLLM (LiteLLM is an optional extra and is not installed), so the LiteLLM
instrumentation would see nothing; the OpenAI one is what sees the model calls in the first
capture.

The manager agent is "Triage" (``manager_agent=``); coworkers "Billing" (tools ``lookup_invoice``,
``issue_refund``) and "Refunds" (no tools). The manager reaches them only through CrewAI's
delegation tools ``delegate_work_to_coworker`` / ``ask_question_to_coworker`` (native OpenAI tool
calls; the JSON arguments name the coworker). Runs, one trace each:

  a1, a2  Triage delegates to Billing, Billing calls lookup_invoice, answers; Triage answers.
  b       Triage delegates to Billing, issue_refund raises; CrewAI hands the error text back to
          Billing's model, which answers text; Triage answers. Run succeeds.
  q       Triage asks Refunds a question (ask_question_to_coworker); Refunds answers text.
  c       Triage delegates to Billing; Billing's model call gets HTTP 500 (max_retries=0,
          max_retry_limit=0) and Billing's execute_task raises; the delegation tool swallows it
          and returns an error text to Triage; Triage's next model call gets HTTP 500 too, so
          Crew.kickoff raises (caught here).

Usage per agent (input/output tokens per model call): Triage 100/10, Billing 200/20,
Refunds 300/30; failed calls report none.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

# No telemetry / tracing phone-home; OTEL_SDK_DISABLED must stay unset (it would also disable
# our own SDK).
os.environ["CREWAI_DISABLE_TELEMETRY"] = "true"
os.environ["CREWAI_DISABLE_TRACKING"] = "true"
os.environ["CREWAI_TRACING_ENABLED"] = "false"
os.environ["OPENAI_API_KEY"] = "test"
os.environ.pop("OTEL_SDK_DISABLED", None)

from crewai import LLM, Agent, Crew, Process, Task
from crewai.events import crewai_event_bus
from crewai.tools import tool
from openinference.instrumentation.crewai import CrewAIInstrumentor
from openinference.instrumentation.openai import OpenAIInstrumentor

from conformance import harness
from conformance.fakemodel import Reply, Turn

FRAMEWORK = "crewai"
TOKENS = {"Triage": (100, 10), "Billing": (200, 20), "Refunds": (300, 30)}
TOOL_CALLS: dict[str, int] = defaultdict(int)


def agent_of(turn: Turn) -> str:
    for name in TOKENS:
        if turn.system.startswith(f"You are {name}."):
            return name
    raise AssertionError(f"unknown caller: {turn.system[:60]!r}")


def case_of(turn: Turn) -> str:
    for case in ("a1", "a2", "b", "q", "c"):
        if f"[{case}]" in turn.user:
            return case
    raise AssertionError(f"unknown case: {turn.user[:80]!r}")


def decide(turn: Turn) -> Reply:
    agent, case = agent_of(turn), case_of(turn)
    inp, out = TOKENS[agent]
    if agent == "Triage":
        if not turn.tool_results:
            if case == "q":
                return Reply.call(
                    "ask_question_to_coworker",
                    {
                        "question": "[q] Can a refund be reversed?",
                        "context": "Customer asks.",
                        "coworker": "Refunds",
                    },
                    input_tokens=inp,
                    output_tokens=out,
                )
            what = {
                "a1": "Look up invoice INV-1.",
                "a2": "Look up invoice INV-2.",
                "b": "Refund invoice INV-3.",
                "c": "Look up invoice INV-4.",
            }[case]
            return Reply.call(
                "delegate_work_to_coworker",
                {"task": f"[{case}] {what}", "context": "Customer request.", "coworker": "Billing"},
                input_tokens=inp,
                output_tokens=out,
            )
        if case == "c":
            return Reply.fail(500)
        return Reply.text(
            "Here is the answer for the customer.", input_tokens=inp, output_tokens=out
        )
    if agent == "Billing":
        if case == "c":
            return Reply.fail(500)
        if not turn.tool_results:
            if case == "b":
                return Reply.call(
                    "issue_refund", {"invoice_id": "INV-3"}, input_tokens=inp, output_tokens=out
                )
            return Reply.call(
                "lookup_invoice",
                {"invoice_id": "INV-1" if case == "a1" else "INV-2"},
                input_tokens=inp,
                output_tokens=out,
            )
        if case == "b":
            return Reply.text(
                "The refund could not be issued; please retry later.",
                input_tokens=inp,
                output_tokens=out,
            )
        return Reply.text("The invoice is paid.", input_tokens=inp, output_tokens=out)
    return Reply.text("Yes, within 14 days.", input_tokens=inp, output_tokens=out)


@tool("lookup_invoice")
def lookup_invoice(invoice_id: str) -> str:
    """Look up an invoice by its id."""
    TOOL_CALLS["lookup_invoice"] += 1
    return f"{invoice_id}: 42.00 EUR, paid"


@tool("issue_refund")
def issue_refund(invoice_id: str) -> str:
    """Issue a refund for an invoice."""
    TOOL_CALLS["issue_refund"] += 1
    raise RuntimeError(f"refund service unavailable for {invoice_id}")


def make_crew(base_url: str, case: str) -> Crew:
    # max_retries=0: the OpenAI client does not retry the injected 500.
    llm = LLM(model="openai/gpt-4o-mini", base_url=base_url, api_key="test", max_retries=0)
    # max_retry_limit=0: CrewAI's Agent.execute_task would otherwise re-run the whole task up to
    # 2 more times after an exception (each time calling the model again).
    billing = Agent(
        role="Billing",
        goal="Answer billing questions.",
        backstory="Billing desk.",
        tools=[lookup_invoice, issue_refund],
        llm=llm,
        max_retry_limit=0,
        allow_delegation=False,
    )
    refunds = Agent(
        role="Refunds",
        goal="Answer refund questions.",
        backstory="Refund desk.",
        llm=llm,
        max_retry_limit=0,
        allow_delegation=False,
    )
    triage = Agent(
        role="Triage",
        goal="Route customer requests to coworkers.",
        backstory="Front desk.",
        llm=llm,
        max_retry_limit=0,
        allow_delegation=True,
    )
    task = Task(
        description=f"[{case}] Handle this customer request: {{request}}",
        expected_output="A short answer for the customer.",
    )
    return Crew(
        name="Customer support",
        agents=[billing, refunds],
        tasks=[task],
        process=Process.hierarchical,
        manager_agent=triage,
        tracing=False,
        verbose=False,
    )


def run_all(base_url: str) -> list[str]:
    results = []
    requests = {
        "a1": "Is invoice INV-1 paid?",
        "a2": "Is invoice INV-2 paid?",
        "b": "Please refund INV-3.",
        "q": "Can a refund be reversed?",
        "c": "Is invoice INV-4 paid?",
    }
    for case, request in requests.items():
        try:
            out = make_crew(base_url, case).kickoff(inputs={"request": request})
            results.append(f"{case}: ok: {str(out)[:60]!r}")
        except Exception as e:
            results.append(f"{case}: raised {type(e).__name__}: {str(e)[:80]}")
        finally:
            # CrewAI runs event handlers (the event-listener mode's span starts and ends) in a
            # thread pool and waits for them only after a kickoff that returned: after one that
            # raised, the failed agent's span could still be open when the capture flushes the
            # tracer provider, and was then never exported (a flaky capture with Triage's
            # AGENT span of c missing). A long-running application exports it moments later.
            crewai_event_bus.flush()
    return results


# Each instrumentation in its own process: both patch CrewAI globally.
INSTRUMENTATIONS = ("openinference", "openinference-events")


def capture_one(instrumentation: str, out: Path) -> None:
    folder = out / f"{FRAMEWORK}-{instrumentation}"
    with harness.session(decide, "crewai-conformance", folder) as run:
        if instrumentation == "openinference":
            # Default (wrapper) mode: crew / task / tool spans; no LLM spans of its own, so the
            # model calls are traced by the OpenAI instrumentation.
            CrewAIInstrumentor().instrument(tracer_provider=run.provider)
            OpenAIInstrumentor().instrument(tracer_provider=run.provider)
        else:
            # Event-listener mode (documented option of the same package): spans built from
            # CrewAI's event bus, including one AGENT span per delegated coworker execution and
            # its own LLM spans (create_llm_spans=True), so no OpenAI instrumentation on top
            # (it would duplicate every LLM span and its tokens).
            CrewAIInstrumentor().instrument(tracer_provider=run.provider, use_event_listener=True)
        outcomes = run_all(run.fake.base_url)
        run.finish()
    run.report(agent_of, outcomes=outcomes, tool_calls=dict(TOOL_CALLS))


if __name__ == "__main__":
    harness.main(FRAMEWORK, INSTRUMENTATIONS, capture_one)
