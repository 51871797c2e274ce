"""LangGraph multi-agent supervisor conformance workload (offline, fake model).

A ``langgraph-supervisor`` graph "Customer support": a "Supervisor" react agent that hands off
to a "Billing" react agent (``transfer_to_billing``) and has one tool of its own
(``check_status``); Billing has ``lookup_invoice`` (works) and ``issue_refund`` (raises).
Each instrumentation runs in its own subprocess (both patch langchain-core's callback manager,
so they would see each other's runs in one process), with a fresh tracer provider::

    workload.py --out tests/data/frameworks                      # both, in subprocesses
    workload.py --out tests/data/frameworks --instrumentation X  # one (openinference|openllmetry)
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

# Offline and no phone-home: no LangSmith tracing, no Traceloop telemetry.
os.environ["LANGSMITH_TRACING"] = "false"
os.environ["LANGCHAIN_TRACING_V2"] = "false"
os.environ["LANGSMITH_API_KEY"] = ""
os.environ["TRACELOOP_TELEMETRY"] = "false"
os.environ["OPENAI_API_KEY"] = "test"
os.environ.pop("OTEL_SDK_DISABLED", None)
warnings.filterwarnings("ignore")

from conformance import harness  # noqa: E402
from conformance.fakemodel import Reply, Turn  # noqa: E402

FRAMEWORK = "langgraph"
INSTRUMENTATIONS = ("openinference", "openllmetry")
GRAPH = "Customer support"
SUPERVISOR_PROMPT = "You are Supervisor, the customer support supervisor. Route billing questions."
BILLING_PROMPT = "You are Billing, the billing specialist."
# Distinct usage per agent so tokens attributed to the wrong agent show up.
TOKENS = {"Supervisor": (100, 10), "Billing": (200, 20)}


def decide(turn: Turn) -> Reply:
    if "You are Billing" in turn.system:
        inp, out = TOKENS["Billing"]
        if "BROKEN" in turn.user:
            return Reply.fail(500)
        if "refund" in turn.user:
            if "issue_refund" not in turn.tool_calls:
                return Reply.call(
                    "issue_refund", {"invoice_id": "INV-7"}, input_tokens=inp, output_tokens=out
                )
            return Reply.text(
                "Sorry, the refund could not be issued right now.",
                input_tokens=inp,
                output_tokens=out,
            )
        if "lookup_invoice" not in turn.tool_calls:
            return Reply.call(
                "lookup_invoice", {"invoice_id": "INV-1"}, input_tokens=inp, output_tokens=out
            )
        return Reply.text("Invoice INV-1 is 42 EUR, paid.", input_tokens=inp, output_tokens=out)
    if "You are Supervisor" in turn.system:
        inp, out = TOKENS["Supervisor"]
        if "transfer_back_to_supervisor" in turn.tool_calls:
            return Reply.text(
                "Billing has answered your question.", input_tokens=inp, output_tokens=out
            )
        if "status" in turn.user:
            if "check_status" not in turn.tool_calls:
                return Reply.call(
                    "check_status", {"order_id": "A-1"}, input_tokens=inp, output_tokens=out
                )
            return Reply.text("Your order A-1 has shipped.", input_tokens=inp, output_tokens=out)
        return Reply.call("transfer_to_billing", {}, input_tokens=inp, output_tokens=out)
    raise AssertionError(f"unknown caller: {turn.system[:60]!r}")


TOOL_RAISED: dict[str, int] = {}
TOOL_OK: dict[str, int] = {}


def build(base_url: str):
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI
    from langgraph.prebuilt import ToolNode, create_react_agent
    from langgraph_supervisor import create_supervisor

    def model():
        return ChatOpenAI(base_url=base_url, api_key="test", max_retries=0, model="gpt-4o-mini")

    @tool
    def lookup_invoice(invoice_id: str) -> str:
        """Look up an invoice by id."""
        TOOL_OK["lookup_invoice"] = TOOL_OK.get("lookup_invoice", 0) + 1
        return f"{invoice_id}: 42 EUR, paid"

    @tool
    def issue_refund(invoice_id: str) -> str:
        """Issue a refund for an invoice."""
        TOOL_RAISED["issue_refund"] = TOOL_RAISED.get("issue_refund", 0) + 1
        raise RuntimeError("refund service unavailable")

    @tool
    def check_status(order_id: str) -> str:
        """Check the shipping status of an order."""
        TOOL_OK["check_status"] = TOOL_OK.get("check_status", 0) + 1
        return f"{order_id}: shipped"

    # langgraph-prebuilt 1.x: ToolNode's default handler only turns ToolInvocationError (bad
    # arguments) into a ToolMessage and re-raises everything else, so ask for True explicitly.
    billing = create_react_agent(
        model(),
        tools=ToolNode([lookup_invoice, issue_refund], handle_tool_errors=True),
        prompt=BILLING_PROMPT,
        name="Billing",
    )
    return create_supervisor(
        [billing],
        model=model(),
        tools=[check_status],
        prompt=SUPERVISOR_PROMPT,
        supervisor_name="Supervisor",
    ).compile(name=GRAPH)


# (description, user message, whether the run fails)
SCENARIOS = [
    (
        "a1 success: Supervisor -> transfer_to_billing -> Billing calls lookup_invoice (ok) and "
        "answers -> back to Supervisor, which answers",
        "What is on my invoice INV-1?",
        False,
    ),
    ("a2 success: same as a1 (second run)", "Please check invoice INV-1 again.", False),
    (
        "b handled tool failure: Supervisor -> Billing; issue_refund raises RuntimeError, ToolNode("
        "handle_tool_errors=True) returns the error as a ToolMessage, Billing answers text -> back "
        "to Supervisor, which answers; the run succeeds",
        "I want a refund for INV-7.",
        False,
    ),
    (
        "c failing run: Supervisor -> Billing; Billing's model call gets HTTP 500 (max_retries=0), "
        "openai.InternalServerError propagates out of Billing and the graph; run fails",
        "BROKEN billing request",
        True,
    ),
    (
        "d direct tool: Supervisor calls its own tool check_status (ok) and answers, no handoff",
        "What is the status of order A-1?",
        False,
    ),
]


def instrument(instrumentation: str, provider) -> list[str]:
    """Instrument langchain-core with ``instrumentation``; the packages whose versions count."""
    if instrumentation == "openinference":
        from openinference.instrumentation.langchain import LangChainInstrumentor

        LangChainInstrumentor().instrument(tracer_provider=provider)
        pkgs = [
            "openinference-instrumentation-langchain",
            "openinference-instrumentation",
            "openinference-semantic-conventions",
        ]
    else:
        from opentelemetry.instrumentation.langchain import LangchainInstrumentor

        LangchainInstrumentor().instrument(tracer_provider=provider)
        pkgs = ["opentelemetry-instrumentation-langchain", "opentelemetry-semantic-conventions-ai"]
    return pkgs


def expected(instrumentation: str, pkgs: list[str], log, outcomes) -> dict:
    # Per-scenario contributions, from the script above; tokens are re-derived from the fake
    # model's log and checked against these.
    agents = {
        "Supervisor": {"ok": 2 + 2 + 2 + 1 + 1, "error": 0},
        "Billing": {"ok": 3, "error": 1},
    }
    calls = {"Supervisor": 2 + 2 + 2 + 1 + 2, "Billing": 2 + 2 + 2 + 1}
    for name, agent in agents.items():
        inp, _ = TOKENS[name]
        prompt = SUPERVISOR_PROMPT if name == "Supervisor" else BILLING_PROMPT
        mine = [r for t, r in log if prompt in t.system]
        assert len(mine) == calls[name], (name, len(mine))
        agent["input_tokens"] = sum(r.input_tokens for r in mine)
        agent["output_tokens"] = sum(r.output_tokens for r in mine)
        # the failed call (500) reports no usage
        assert agent["input_tokens"] == inp * sum(1 for r in mine if r.status == 200)
    assert TOOL_OK == {"lookup_invoice": 2, "check_status": 1}, TOOL_OK
    assert TOOL_RAISED == {"issue_refund": 1}, TOOL_RAISED
    assert outcomes == [False, False, False, True, False], outcomes
    vers = harness.versions(
        [
            "langgraph",
            "langgraph-prebuilt",
            "langgraph-supervisor",
            "langchain-core",
            "langchain-openai",
            "openai",
            "opentelemetry-sdk",
            *pkgs,
        ]
    )
    return {
        "framework": FRAMEWORK,
        "instrumentation": instrumentation,
        "versions": vers,
        "scenarios": [d for d, _, _ in SCENARIOS]
        + ["all five runs are app.invoke() of the same compiled graph, each its own trace"],
        "workflows": {GRAPH: {"ok": 4, "error": 1}},
        "agents": agents,
        "tools": [
            {"agent": "Billing", "tool": "lookup_invoice", "ok": 2, "error": 0},
            {"agent": "Billing", "tool": "issue_refund", "ok": 0, "error": 1},
            {"agent": "Supervisor", "tool": "check_status", "ok": 1, "error": 0},
        ],
        "handoffs": [
            {"source": "Supervisor", "target": "Billing", "count": 4},
            {"source": "Billing", "target": "Supervisor", "count": 3},
        ],
        "not_agents": [
            GRAPH,
            f"{GRAPH}.workflow",
            "agent",
            "tools",
            "call_agent",
            "call_model",
            "should_continue",
            "RunnableSequence",
            "Prompt",
            "ChatOpenAI",
            "ChatOpenAI.chat",
            "transfer_to_billing",
            "transfer_back_to_supervisor",
        ],
        "why": {
            "workflows.Customer support": "the compiled supervisor graph (compile(name=...)) is "
            "the "
            "root of every run: 5 invokes, 4 returned, 1 (scenario c) raised InternalServerError",
            "agents.Supervisor ok=8": "the Supervisor node (a create_react_agent subgraph) is "
            "entered twice in each run that goes to Billing (start, then again after Billing "
            "returns through the graph edge Billing->Supervisor): a1, a2, b = 6; once in c (it "
            "handed off and ended normally; the failure is in Billing, and the graph never came "
            "back); once in d = 8. None of them ended by an exception of their own: the handoff "
            "is a ParentCommand (control flow), not a failure",
            "agents.Billing ok=3 error=1": "Billing was entered in a1, a2, b (ok; b's tool error "
            "was handled and Billing answered) and c, where its model call got HTTP 500 and the "
            "exception failed the run",
            "agents.*.tokens": "Supervisor made 9 model calls at 100 in/10 out (2 each in a1, a2, "
            "b, d; 1 in c); Billing made 7 successful calls at 200/20 (2 each in a1, a2, b) plus "
            "the failed 500 call in c, which has no usage",
            "tools.issue_refund error=1": "issue_refund raised RuntimeError; ToolNode("
            "handle_tool_errors=True) turned it into a ToolMessage (status='error') and the run "
            "went on",
            "tools.check_status": "Supervisor's own tool, scenario d; transfer_to_billing is the "
            "handoff tool, not counted as a tool",
            "handoffs.Supervisor->Billing=4": "transfer_to_billing was called in a1, a2, b, c and "
            "each time returned Command(goto='Billing', graph=PARENT), so Billing ran",
            "handoffs.Billing->Supervisor=3": "in a1, a2, b Billing finished and the graph edge "
            "Billing->Supervisor really ran the Supervisor node again (it made a model call that "
            "saw the synthetic transfer_back_to_supervisor messages). transfer_back_to_supervisor "
            "is not a real tool call: langgraph-supervisor appends an AIMessage+ToolMessage pair "
            "to Billing's output, no tool runs. In c Billing failed, so there is no handback",
            "not_agents": "the graph name (openllmetry even emits it as gen_ai.agent.name on its "
            "root 'invoke_agent Customer support' span), react-agent nodes ('agent', 'tools'; "
            "openinference gives 'agent' and 'call_agent' openinference.span.kind=AGENT only "
            "because their names contain 'agent'), plumbing runnables and the handoff tools",
            **NOTES[instrumentation],
        },
    }


NOTES = {
    "openinference": {
        "reading.ParentCommand": "the handoff's ParentCommand is recorded as an 'exception' event "
        "(exception.type langgraph.errors.ParentCommand) on the Supervisor node/subgraph spans "
        "and on the Supervisor's 'tools' span, but their status is OK: not an error",
        "reading.agents": "an invocation is a CHAIN span named like a top-level graph node "
        "(metadata.langgraph_node == span name) whose parent is the graph root span "
        "'Customer support'; the subgraph repeats the name one level down (do not count twice)",
    },
    "openllmetry": {
        "reading.ParentCommand": "openllmetry marks the handoff's ParentCommand as ERROR (status "
        "message 'Command(graph=...', error.type=ParentCommand, gen_ai.task.status=failure) on "
        "both 'execute_task Supervisor' spans, 'invoke_agent Supervisor' and the Supervisor's "
        "'execute_task tools': 4 ERROR invoke_agent Supervisor spans that are NOT failures",
        "reading.agents": "an invocation is an 'invoke_agent <name>' span (gen_ai.agent.name) "
        "whose parent is an execute_task span; the root 'invoke_agent Customer support' is the "
        "workflow; 'create_agent X' spans are build-time, one-span traces, not invocations",
        "reading.handoffs": "each handoff yields TWO 'goto Billing' spans (Command.__init__ runs "
        "twice): count only the one under 'execute_tool transfer_to_billing', or the tool spans",
    },
}


def run_one(instrumentation: str, out: Path) -> None:
    folder = out / f"{FRAMEWORK}-{instrumentation}"
    with harness.session(decide, "customer-support", folder) as run:
        pkgs = instrument(instrumentation, run.provider)
        app = build(run.fake.base_url)
        outcomes = []
        for desc, message, _ in SCENARIOS:
            try:
                app.invoke({"messages": [{"role": "user", "content": message}]})
                outcomes.append(False)
            except Exception as exc:
                print(f"  {desc[:2]}: run failed: {type(exc).__name__}: {exc}")
                outcomes.append(True)
        run.finish()
    exp = expected(instrumentation, pkgs, run.fake.log, outcomes)
    (folder / "expected.json").write_text(json.dumps(exp, indent=2) + "\n")
    run.report(agent_of)


def agent_of(turn: Turn) -> str:
    return "Billing" if BILLING_PROMPT in turn.system else "Supervisor"


if __name__ == "__main__":
    harness.main(FRAMEWORK, INSTRUMENTATIONS, run_one)
