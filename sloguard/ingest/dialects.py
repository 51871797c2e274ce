"""How each agent framework × instrumentation records agents, as data (pure).

The attribute tables of :mod:`.semconv` read one span at a time. Frameworks also say things
through the *shape* of a trace — which spans are graph plumbing, where a handoff's target is,
which ERROR is only control flow. A :class:`Dialect` describes that for the spans of one
instrumentation scope (the library that made them); :mod:`.tracereading` applies it to a trace.
Spans of a scope not listed here are read by the GenAI semantic conventions alone.

==========================================  ====================================================
instrumentation scope                       what the dialect adds
==========================================  ====================================================
``openinference.instrumentation.            the root AGENT span without ``agent.name`` is the
openai_agents`` (OpenAI Agents SDK)          workflow; ``handoff to X`` tool spans are handoffs
``opentelemetry.instrumentation.            ``handoff`` spans name only the source: the target
openai_agents`` (OpenLLMetry)                is the next agent run
``openinference.instrumentation.langchain`` the graph's top-level nodes are the agents; nodes
``opentelemetry.instrumentation.langchain`` such as ``agent``/``tools`` and ``transfer_*`` tools
(LangGraph; OpenLLMetry)                     are plumbing; ``ParentCommand`` is control flow
``gcp.vertex.agent`` (Google ADK)           ``transfer_to_agent`` is a handoff, not a tool; a
                                             root ``invocation`` span is the workflow
``pydantic-ai`` (native)                    agents run one after another under an app span
``openinference.instrumentation.crewai``    the root ``<crew>.kickoff`` is the workflow; a
(CrewAI, hierarchical)                       delegation tool without an agent span below it is
                                             the coworker's run (named in the tool's input);
                                             tokens only from model calls
==========================================  ====================================================

In every dialect but the GenAI default, agent runs that follow one another under the same
parent (the second starting after the first ended) are a handoff from the first to the second:
that is how these frameworks pass control (the SDK's own spans nest a callee in its caller).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = ["DEFAULT", "DIALECTS", "PROVIDER_PREFIXES", "Dialect", "dialect_of"]


@dataclass(frozen=True, slots=True)
class Dialect:
    """What one instrumentation's spans mean beyond the semantic-convention tables."""

    name: str
    #: Agent runs in sequence under one parent are handoffs (see the module docstring).
    sequence_handoffs: bool = False
    #: A root span read as an agent without an agent-name attribute is the workflow.
    root_agent_is_workflow: bool = False
    #: The root's children (or those of its ``<root>.workflow`` child) are the agents: graph
    #: nodes; every other agent-looking span is plumbing.
    graph_nodes: bool = False
    #: Node or span names that are framework plumbing, never agents (with prefixes stripped).
    plumbing: frozenset[str] = frozenset()
    #: Span-name prefixes stripped to get a node's name (``execute_task Billing``).
    node_prefixes: tuple[str, ...] = ()
    #: Tool names (exact, or prefixes ending in ``*``) that pass control: handoffs, not tools.
    handoff_tools: tuple[str, ...] = ()
    #: Span-name prefixes of handoff spans naming the target after them (``handoff to X``).
    handoff_span_prefixes: tuple[str, ...] = ()
    #: ``error.type`` values and status-message prefixes that are control flow, not failures.
    control_flow_errors: tuple[str, ...] = ()
    #: A root span of no role is the workflow, named after the first agent run below it.
    anonymous_root_is_workflow: bool = False
    #: Suffixes stripped from the root's span name to name the workflow (``X.kickoff``).
    root_suffixes: tuple[str, ...] = ()
    #: Tools that run a coworker agent, and the key of their JSON input naming it: without
    #: an agent span below, the tool span is that agent's run; with one, plumbing.
    delegate_tools: tuple[str, ...] = ()
    delegate_input_key: str = ""
    #: Tokens count only from model-call spans (others repeat wrong totals).
    usage_from_inference_only: bool = False


_LANGGRAPH_PLUMBING: Final = frozenset(
    {
        "agent",
        "tools",
        "call_model",
        "call_agent",
        "should_continue",
        "RunnableSequence",
        "RunnableLambda",
        "RunnableCallable",
        "Prompt",
        "ChatPromptTemplate",
        "pre_model_hook",
        "post_model_hook",
        "generate_structured_response",
        "__start__",
        "__end__",
    }
)
_LANGGRAPH = Dialect(
    "langgraph",
    sequence_handoffs=True,
    graph_nodes=True,
    plumbing=_LANGGRAPH_PLUMBING,
    node_prefixes=("execute_task ", "invoke_agent "),
    handoff_tools=("transfer_to_*", "transfer_back_to_*"),
    control_flow_errors=("ParentCommand", "GraphInterrupt", "Command("),
)

_CREWAI = Dialect(
    "crewai",
    root_suffixes=(".kickoff",),
    delegate_tools=(
        "Delegate work to coworker",
        "Ask question to coworker",
        "Delegate work to co-worker",
        "Ask question to co-worker",
        "delegate_work_to_coworker",  # the names the model sees (the event-listener spans')
        "ask_question_to_coworker",
    ),
    delegate_input_key="coworker",
    usage_from_inference_only=True,
)

#: Instrumentation scope name → dialect.
DIALECTS: Final[Mapping[str, Dialect]] = {
    "openinference.instrumentation.openai_agents": Dialect(
        "openai-agents/openinference",
        sequence_handoffs=True,
        root_agent_is_workflow=True,
        handoff_span_prefixes=("handoff to ",),
    ),
    "opentelemetry.instrumentation.openai_agents": Dialect(
        "openai-agents/openllmetry", sequence_handoffs=True
    ),
    "openinference.instrumentation.langchain": _LANGGRAPH,
    "opentelemetry.instrumentation.langchain": _LANGGRAPH,
    "gcp.vertex.agent": Dialect(
        "google-adk",
        sequence_handoffs=True,
        handoff_tools=("transfer_to_agent",),
        anonymous_root_is_workflow=True,
    ),
    "pydantic-ai": Dialect("pydantic-ai", sequence_handoffs=True),
    "openinference.instrumentation.crewai": _CREWAI,
    "openinference.instrumentation.crewai._event_listener": _CREWAI,
}
#: Spans of any other scope: the GenAI semantic conventions, then the generic reading.
DEFAULT: Final = Dialect("genai")

#: Provider prefixes of LiteLLM-style model names (``openai/gpt-4o-mini`` → ``gpt-4o-mini``).
PROVIDER_PREFIXES: Final = frozenset(
    {
        "openai",
        "azure",
        "anthropic",
        "gemini",
        "vertex_ai",
        "bedrock",
        "groq",
        "mistral",
        "ollama",
        "ollama_chat",
        "together_ai",
        "deepseek",
        "xai",
        "cohere",
        "fireworks_ai",
        "openrouter",
        "hosted_vllm",
    }
)


def dialect_of(scope: str) -> Dialect:
    """The dialect of spans made by instrumentation ``scope`` (:data:`DEFAULT` if unknown)."""
    found = DIALECTS.get(scope)
    if found is not None:
        return found
    if scope.startswith("pydantic-ai") or scope.startswith("pydantic_ai"):
        return DIALECTS["pydantic-ai"]
    return DEFAULT


def is_handoff_tool(dialect: Dialect, tool: str) -> bool:
    """Whether ``tool`` passes control in ``dialect`` (see :attr:`Dialect.handoff_tools`)."""
    for pattern in dialect.handoff_tools:
        if (pattern.endswith("*") and tool.startswith(pattern[:-1])) or tool == pattern:
            return True
    return False


def model_name(model: str | None) -> str | None:
    """``model`` without a LiteLLM provider prefix (``openai/gpt-4o-mini`` → ``gpt-4o-mini``)."""
    if model is None or "/" not in model:
        return model
    provider, _, rest = model.partition("/")
    return rest if provider in PROVIDER_PREFIXES and rest else model
