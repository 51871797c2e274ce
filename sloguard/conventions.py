"""Names every part of sloguard agrees on: metric names, label keys, enums, default buckets.

Pure module: values only, no I/O.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class CallType(StrEnum):
    """What a trace step represents (the A2A traceability ``call_type``)."""

    AGENT = "AGENT"
    TOOL = "TOOL"
    HOST = "HOST"


class Status(StrEnum):
    """Outcome label of calls."""

    SUCCESS = "success"
    ERROR = "error"


class Direction(StrEnum):
    """Token direction label. ``total`` is used only when a caller gave no input/output split;
    each direction's series appears on its first count, so none stays at 0."""

    INPUT = "input"
    OUTPUT = "output"
    TOTAL = "total"


class RoutingOutcome(StrEnum):
    """Whether a routing decision turned out right (feeds routing-accuracy SLOs)."""

    CORRECT = "correct"
    INCORRECT = "incorrect"


# --- metric names (DESIGN §4; seed 000 names, Prometheus conventions) -----------------------
AGENT_CALLS: Final = "agent_calls_total"
AGENT_LATENCY: Final = "agent_latency_seconds"
AGENT_TOKENS: Final = "agent_token_usage_total"
AGENT_COST: Final = "agent_cost_usd_total"
ACTIVE_AGENTS: Final = "active_agents"
AGENT_HANDOFFS: Final = "agent_handoffs_total"
TOOL_DURATION: Final = "agent_tool_call_seconds"
TOOL_CALLS: Final = "agent_tool_calls_total"
DECISIONS: Final = "agent_decisions_total"
DECISION_CONFIDENCE: Final = "agent_decision_confidence"
ROUTING_OUTCOMES: Final = "agent_routing_outcomes_total"
ANOMALIES: Final = "agent_anomalies_total"
# End-to-end runs (one per trace root / SDK workflow): seed 001's trace-level view.
WORKFLOW_RUNS: Final = "agent_workflow_runs_total"
WORKFLOW_DURATION: Final = "agent_workflow_duration_seconds"
WORKFLOW_COST: Final = "agent_workflow_cost_usd"
WORKFLOW_TOKENS: Final = "agent_workflow_tokens"

#: The agent metric families the recorder feeds (what a series budget can name).
AGENT_FAMILIES: Final = frozenset(
    {
        AGENT_CALLS,
        AGENT_LATENCY,
        AGENT_TOKENS,
        AGENT_COST,
        ACTIVE_AGENTS,
        AGENT_HANDOFFS,
        TOOL_DURATION,
        TOOL_CALLS,
        DECISIONS,
        DECISION_CONFIDENCE,
        ROUTING_OUTCOMES,
        ANOMALIES,
        WORKFLOW_RUNS,
        WORKFLOW_DURATION,
        WORKFLOW_COST,
        WORKFLOW_TOKENS,
    }
)

# OpenTelemetry GenAI client metrics (semantic conventions, as Prometheus names them), recorded
# beside the agent_* families when ``metrics.gen_ai_metrics`` is on.
GEN_AI_TOKEN_USAGE: Final = "gen_ai_client_token_usage"
GEN_AI_OPERATION_DURATION: Final = "gen_ai_client_operation_duration_seconds"
#: The optional GenAI families (a series budget can name them too).
GEN_AI_FAMILIES: Final = frozenset({GEN_AI_TOKEN_USAGE, GEN_AI_OPERATION_DURATION})

# self metrics
LABEL_OVERFLOW: Final = "sloguard_label_overflow_total"
SERIES_OVERFLOW: Final = "sloguard_series_overflow_total"

# --- label keys --------------------------------------------------------------------------------
L_AGENT: Final = "agent_name"
L_STATUS: Final = "status"
L_MODEL: Final = "model"
L_DIRECTION: Final = "direction"
L_AGENT_TYPE: Final = "agent_type"
L_SOURCE: Final = "source_agent"
L_TARGET: Final = "target_agent"
L_TOOL: Final = "tool_name"
L_DECISION_TYPE: Final = "decision_type"
L_OUTCOME: Final = "outcome"
L_ANOMALY: Final = "anomaly"
L_WORKFLOW: Final = "workflow"
# GenAI families' labels (OTel attribute keys with dots as underscores).
L_GEN_AI_OPERATION: Final = "gen_ai_operation_name"
L_GEN_AI_AGENT: Final = "gen_ai_agent_name"
L_GEN_AI_MODEL: Final = "gen_ai_request_model"
L_GEN_AI_TOKEN_TYPE: Final = "gen_ai_token_type"
L_ERROR_TYPE: Final = "error_type"
#: ``gen_ai.operation.name`` of an agent call; ``error.type`` when the cause is not known.
GEN_AI_INVOKE_AGENT: Final = "invoke_agent"
GEN_AI_OTHER_ERROR: Final = "_OTHER"

#: Label keys whose values come from clients and therefore pass the cardinality guard.
CLIENT_LABELS: Final = frozenset(
    {
        L_AGENT,
        L_MODEL,
        L_AGENT_TYPE,
        L_SOURCE,
        L_TARGET,
        L_TOOL,
        L_DECISION_TYPE,
        L_ANOMALY,
        L_WORKFLOW,
    }
)

OVERFLOW_VALUE: Final = "_other"
UNKNOWN_VALUE: Final = "unknown"

# --- buckets ------------------------------------------------------------------------------------
#: Agent latency buckets: a superset of seed 000's (0.5 1 2 5 10 30 60).
AGENT_LATENCY_BUCKETS: Final[tuple[float, ...]] = (
    0.1,
    0.25,
    0.5,
    1.0,
    2.0,
    5.0,
    10.0,
    20.0,
    30.0,
    60.0,
    120.0,
)
#: Tool duration buckets: a superset of seed 000's (0.1 0.5 1 2 5 10).
TOOL_DURATION_BUCKETS: Final[tuple[float, ...]] = (
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.0,
    5.0,
    10.0,
    30.0,
)
#: Bucket bounds the GenAI conventions recommend for token usage and operation duration.
GEN_AI_TOKEN_BUCKETS: Final[tuple[float, ...]] = tuple(float(4**i) for i in range(14))
GEN_AI_DURATION_BUCKETS: Final[tuple[float, ...]] = tuple(0.01 * 2**i for i in range(14))
DECISION_CONFIDENCE_BUCKETS: Final[tuple[float, ...]] = (
    0.1,
    0.2,
    0.3,
    0.4,
    0.5,
    0.6,
    0.7,
    0.8,
    0.9,
    0.95,
    1.0,
)

#: Workflow (end-to-end run) duration buckets, seconds: runs span several agent calls.
WORKFLOW_DURATION_BUCKETS: Final[tuple[float, ...]] = (
    1.0,
    2.0,
    5.0,
    10.0,
    20.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
)
#: Cost of one run, US dollars: "99 % of conversations cost under $0.05" needs 0.05 as a bound.
WORKFLOW_COST_BUCKETS: Final[tuple[float, ...]] = (
    0.001,
    0.005,
    0.01,
    0.02,
    0.05,
    0.1,
    0.2,
    0.5,
    1.0,
    5.0,
)
#: Tokens of one run (input + output, or the total when only that is known).
WORKFLOW_TOKEN_BUCKETS: Final[tuple[float, ...]] = (
    100.0,
    500.0,
    1000.0,
    2000.0,
    5000.0,
    10000.0,
    20000.0,
    50000.0,
    100000.0,
    500000.0,
)

# --- A2A traceability (DESIGN §5) ---------------------------------------------------------------
A2A_TRACEABILITY_URI: Final = "https://github.com/a2aproject/a2a-samples/extensions/traceability/v1"
A2A_TRACEABILITY_METADATA_KEY: Final = (
    "github.com/a2aproject/a2a-samples/extensions/traceability/v1/traceability"
)

# --- OpenTelemetry GenAI semantic-convention attribute keys --------------------------------------
GEN_AI_OPERATION: Final = "gen_ai.operation.name"
GEN_AI_AGENT_NAME: Final = "gen_ai.agent.name"
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
ERROR_TYPE: Final = "error.type"

#: Root-step attribute of a callee trace whose sloguard already recorded its steps' metrics:
#: whoever receives it records only the handoff to it, so no call is counted twice.
A2A_METRICS_RECORDED_ATTR: Final = "sloguard.metrics_recorded"

#: Parameter keys redacted before they are stored (matched as whole words of the key).
DEFAULT_SENSITIVE_KEYS: Final = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "token",
        "secret",
        "api_key",
        "apikey",
        "authorization",
        "auth",
        "cookie",
        "session",
        "private_key",
        "credential",
        "credentials",
        "access_key",
        "client_secret",
        "refresh_token",
        "access_token",
        "bearer",
        "ssn",
        "credit_card",
    }
)
REDACTED: Final = "[REDACTED]"
