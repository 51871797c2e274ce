"""What a span means for agent metrics: semantic-convention attribute tables (DESIGN §4).

Pure module: values in, values out. A span is read through tables, never through ``if`` chains:

- :data:`ROLE_KEYS` — which attribute says what a span is. Looked up in order; the first key
  whose value is in its table decides (``*`` matches any value):

  ==============================  =============================================================
  attribute                       value → role
  ==============================  =============================================================
  ``gen_ai.operation.name``       invoke_agent → agent; execute_tool → tool; chat,
                                  text_completion, generate_content, embeddings → inference;
                                  invoke_workflow → workflow; create_agent, handoff → other
                                  (creating an agent is not an invocation)
  ``traceloop.span.kind``         agent → agent; tool → tool; workflow, task → workflow
  ``openinference.span.kind``     AGENT → agent; TOOL → tool; LLM, EMBEDDING → inference;
                                  CHAIN → workflow
  ``llm.request.type``            chat, completion, embedding → inference (OpenLLMetry LLM spans)
  ``sloguard.call_type``          AGENT → agent; TOOL → tool; HOST → workflow (our own bridge)
  ``gen_ai.provider.name``,       * → inference (GenAI spans from before ``operation.name``)
  ``gen_ai.system``
  ==============================  =============================================================

- :data:`NAME_KEYS` — where the agent, tool or workflow name is (first non-empty string wins),
  else the span name without its :data:`SPAN_NAME_PREFIXES` (``invoke_agent planner`` →
  ``planner``), else ``unknown``.
- :data:`MODEL_KEYS`, :data:`INPUT_TOKEN_KEYS`, :data:`OUTPUT_TOKEN_KEYS`,
  :data:`TOTAL_TOKEN_KEYS`, :data:`COST_KEYS` — figures, current names before legacy ones.
- :data:`HANDOFF_KEYS` — explicit handoffs as (source key, target key) pairs.
- error: status ERROR, or any of :data:`ERROR_KEYS` present.

Token counts and costs out of the bounds of :mod:`.bounds` (10¹² tokens, 1 000 000 USD) are
problems, like values of the wrong type.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import StrEnum
from typing import Final, NamedTuple

from sloguard import conventions as c
from sloguard.ingest.bounds import MAX_COST_USD, MAX_TOKENS

__all__ = [
    "ANY",
    "COST_KEYS",
    "ERROR_KEYS",
    "HANDOFF_KEYS",
    "INPUT_TOKEN_KEYS",
    "MODEL_KEYS",
    "NAME_KEYS",
    "OUTPUT_TOKEN_KEYS",
    "OWNER_HINT_KEYS",
    "READ_KEYS",
    "ROLE_KEYS",
    "SPAN_NAME_PREFIXES",
    "TOTAL_TOKEN_KEYS",
    "AttributeValue",
    "Meaning",
    "Role",
    "SpanRecord",
    "interpret",
    "role_of",
]

#: An OTLP attribute value: scalars, arrays (tuples) and key-value lists (dicts).
AttributeValue = str | bool | int | float | bytes | tuple[object, ...] | dict[str, object] | None


class Role(StrEnum):
    """What a span is for the metrics."""

    AGENT = "agent"
    TOOL = "tool"
    INFERENCE = "inference"
    WORKFLOW = "workflow"
    OTHER = "other"


class SpanRecord(NamedTuple):
    """One span as received: ids in lowercase hex, times in epoch nanoseconds.

    ``kind`` is ``internal``/``server``/``client``/``producer``/``consumer``/``unspecified``;
    ``status`` is ``unset``/``ok``/``error``, ``status_message`` the status description.
    (A named tuple, not a frozen dataclass: immutable too, and a third of the cost to build,
    which counts at one per span.)
    """

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    start_ns: int
    end_ns: int
    status: str
    attributes: Mapping[str, AttributeValue]
    status_message: str = ""
    scope: str = ""  # the instrumentation scope's name (which library made the span)

    @property
    def duration(self) -> float:
        """Seconds from start to end."""
        return (self.end_ns - self.start_ns) / 1e9

    def ref(self) -> str:
        """Name the span in a problem message."""
        return f"span {self.span_id} {self.name!r} of trace {self.trace_id}"


#: Matches any value in a :data:`ROLE_KEYS` table.
ANY: Final = "*"

_INFERENCE_OPS: Final = ("chat", "text_completion", "generate_content", "embeddings")

#: (attribute, value → role), looked up in this order (see the module table).
ROLE_KEYS: Final[tuple[tuple[str, Mapping[str, Role]], ...]] = (
    (
        c.GEN_AI_OPERATION,
        {
            "invoke_agent": Role.AGENT,
            "create_agent": Role.OTHER,
            "handoff": Role.OTHER,  # OpenLLMetry's handoff span: its attributes name the agents
            "execute_tool": Role.TOOL,
            "invoke_workflow": Role.WORKFLOW,
            **dict.fromkeys(_INFERENCE_OPS, Role.INFERENCE),
        },
    ),
    (
        "traceloop.span.kind",
        {"agent": Role.AGENT, "tool": Role.TOOL, "workflow": Role.WORKFLOW, "task": Role.WORKFLOW},
    ),
    (
        "openinference.span.kind",
        {
            "AGENT": Role.AGENT,
            "TOOL": Role.TOOL,
            "LLM": Role.INFERENCE,
            "EMBEDDING": Role.INFERENCE,
            "CHAIN": Role.WORKFLOW,
        },
    ),
    ("llm.request.type", dict.fromkeys(("chat", "completion", "embedding"), Role.INFERENCE)),
    ("sloguard.call_type", {"AGENT": Role.AGENT, "TOOL": Role.TOOL, "HOST": Role.WORKFLOW}),
    ("gen_ai.provider.name", {ANY: Role.INFERENCE}),
    ("gen_ai.system", {ANY: Role.INFERENCE}),
)

#: Role → attributes naming the agent, tool or workflow, in order of preference.
NAME_KEYS: Final[Mapping[Role, tuple[str, ...]]] = {
    Role.AGENT: (c.GEN_AI_AGENT_NAME, "traceloop.entity.name", "agent.name", "graph.node.id"),
    Role.TOOL: (c.GEN_AI_TOOL_NAME, "traceloop.entity.name", "tool.name"),
    Role.WORKFLOW: ("gen_ai.workflow.name", "traceloop.entity.name", "traceloop.workflow.name"),
}
#: Role → span-name prefixes stripped when no name attribute is set (GenAI span naming).
SPAN_NAME_PREFIXES: Final[Mapping[Role, tuple[str, ...]]] = {
    Role.AGENT: ("invoke_agent ",),
    Role.TOOL: ("execute_tool ",),
    Role.WORKFLOW: ("invoke_workflow ",),
}
#: Attributes naming the agent a tool or inference span works for, used when no agent span
#: above it is in the batch.
OWNER_HINT_KEYS: Final = (c.GEN_AI_AGENT_NAME, "agent.name")

MODEL_KEYS: Final = (c.GEN_AI_REQUEST_MODEL, "gen_ai.response.model", "llm.model_name")
INPUT_TOKEN_KEYS: Final = (
    c.GEN_AI_INPUT_TOKENS,
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
)
OUTPUT_TOKEN_KEYS: Final = (
    c.GEN_AI_OUTPUT_TOKENS,
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
)
TOTAL_TOKEN_KEYS: Final = (
    "sloguard.usage.total_tokens",
    "gen_ai.usage.total_tokens",
    "llm.usage.total_tokens",
    "llm.token_count.total",
)
COST_KEYS: Final = ("sloguard.cost_usd", "llm.cost.total")

#: Explicit handoff attributes: (source key, target key).
HANDOFF_KEYS: Final[tuple[tuple[str, str], ...]] = (
    ("gen_ai.handoff.from_agent", "gen_ai.handoff.to_agent"),
    ("gen_ai.agent.handoff.source.name", "gen_ai.agent.handoff.target.name"),
)
ERROR_STATUSES: Final = frozenset({"error"})
ERROR_KEYS: Final = (c.ERROR_TYPE,)

#: Attributes the dialects of :mod:`.dialects` read beyond these tables (a delegation tool's
#: input names the coworker).
DIALECT_KEYS: Final = ("input.value",)

#: Every attribute :func:`interpret` reads (the decoder may skip all others).
READ_KEYS: Final = frozenset(
    {key for key, _ in ROLE_KEYS}
    | {key for keys in NAME_KEYS.values() for key in keys}
    | {key for pair in HANDOFF_KEYS for key in pair}
    | set(OWNER_HINT_KEYS + MODEL_KEYS + INPUT_TOKEN_KEYS + OUTPUT_TOKEN_KEYS)
    | set(TOTAL_TOKEN_KEYS + COST_KEYS + ERROR_KEYS + DIALECT_KEYS)
)


class Meaning(NamedTuple):
    """What one span says: its role and name, outcome, model, usage and explicit handoff.

    ``name`` is the agent, tool or workflow name (``None`` for inference and other spans);
    ``handoff`` is (source, target) with ``None`` for a side the span leaves implicit;
    ``owner_hint`` is an agent named on the span itself (see :data:`OWNER_HINT_KEYS`).
    """

    role: Role
    name: str | None = None
    failed: bool = False
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cost: float | None = None
    handoff: tuple[str | None, str | None] | None = None
    owner_hint: str | None = None

    @property
    def has_tokens(self) -> bool:
        """Whether the span reports any token count."""
        return (self.input_tokens, self.output_tokens, self.total_tokens) != (None, None, None)

    @property
    def has_usage(self) -> bool:
        """Whether the span reports tokens or cost."""
        return self.has_tokens or self.cost is not None


def role_of(attributes: Mapping[str, AttributeValue]) -> Role:
    """Return the role of a span with ``attributes`` (see :data:`ROLE_KEYS`)."""
    for key, table in ROLE_KEYS:
        value = attributes.get(key)
        if value is None:
            continue
        role = table.get(str(value)) or table.get(ANY)
        if role is not None:
            return role
    return Role.OTHER


class _Reader:
    """Read typed values from a span's attributes, collecting a problem per bad value."""

    __slots__ = ("attributes", "problems", "span")

    def __init__(self, span: SpanRecord) -> None:
        self.span = span
        self.attributes = span.attributes
        self.problems: list[str] = []

    def _bad(self, key: str, expected: str, value: AttributeValue) -> None:
        problem = f"{self.span.ref()}: {key} must be {expected}, got {value!r}"
        if problem not in self.problems:  # a key may be read for two purposes
            self.problems.append(problem)

    def text(self, keys: tuple[str, ...]) -> str | None:
        for key in keys:
            value = self.attributes.get(key)
            if value is None or value == "":
                continue
            if not isinstance(value, str):
                self._bad(key, "a string", value)
                return None
            return value
        return None

    def count(self, keys: tuple[str, ...]) -> int | None:
        for key in keys:
            value = self.attributes.get(key)
            if value is None:
                continue
            # JavaScript SDKs may send whole numbers as doubles.
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                self._bad(key, "an integer >= 0", value)
                return None
            if value > MAX_TOKENS:
                self._bad(key, "at most 10^12 tokens", value)
                return None
            return value
        return None

    def amount(self, keys: tuple[str, ...]) -> float | None:
        for key in keys:
            value = self.attributes.get(key)
            if value is None:
                continue
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value < 0
            ):
                self._bad(key, "a finite number >= 0", value)
                return None
            if value > MAX_COST_USD:
                self._bad(key, f"at most {MAX_COST_USD:.0f} USD", value)
                return None
            return float(value)
        return None


def _span_name(span: SpanRecord, role: Role) -> str:
    for prefix in SPAN_NAME_PREFIXES.get(role, ()):
        if span.name.startswith(prefix):
            return span.name[len(prefix) :].strip() or c.UNKNOWN_VALUE
    return span.name.strip() or c.UNKNOWN_VALUE


_HANDOFF_KEY_SET: Final = frozenset(key for pair in HANDOFF_KEYS for key in pair)


def _handoff(read: _Reader) -> tuple[str | None, str | None] | None:
    if read.attributes.keys().isdisjoint(_HANDOFF_KEY_SET):  # the usual span: none of them
        return None
    for source_key, target_key in HANDOFF_KEYS:
        source, target = read.text((source_key,)), read.text((target_key,))
        if source is not None or target is not None:
            return source, target
    return None


def interpret(span: SpanRecord) -> tuple[Meaning, list[str]]:
    """Return what ``span`` means, and a problem for every attribute of the wrong type."""
    role = role_of(span.attributes)
    read = _Reader(span)
    name = None
    if role in NAME_KEYS:
        name = read.text(NAME_KEYS[role]) or _span_name(span, role)
    meaning = Meaning(
        role=role,
        name=name,
        failed=span.status in ERROR_STATUSES or not span.attributes.keys().isdisjoint(ERROR_KEYS),
        model=read.text(MODEL_KEYS),
        input_tokens=read.count(INPUT_TOKEN_KEYS),
        output_tokens=read.count(OUTPUT_TOKEN_KEYS),
        total_tokens=read.count(TOTAL_TOKEN_KEYS),
        cost=read.amount(COST_KEYS),
        handoff=_handoff(read),
        owner_hint=read.text(OWNER_HINT_KEYS),
    )
    return meaning, read.problems
