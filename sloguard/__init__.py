"""sloguard: keep multi-agent AI systems inside their service-level objectives.

The agent SDK lives here and needs only prometheus_client: trace steps and decorators that feed
Prometheus metrics, the seed's ``MetricsCollector``, trace analysis. ``DecisionTracker`` (it
brings the decision-chain analysis), ``AgentLogger`` (structlog), ``enable_otel``
(OpenTelemetry), the A2A extension (a2a-sdk) and the trace exporter are imported on first use.

Example::

    from sloguard import CallType, ResponseTrace, TraceStep, trace_agent_call, trace_tool_call

    @trace_agent_call
    async def researcher(topic: str) -> str: ...
"""

from __future__ import annotations

import typing as _typing

from sloguard.analysis.performance import TracePerformance, analyze_trace_performance
from sloguard.conventions import CallType, Direction, RoutingOutcome, Status
from sloguard.errors import ConfigError, InvalidRecord, MissingExtra, SloguardError, TraceError
from sloguard.sdk.collector import MetricsCollector
from sloguard.sdk.context import current_step, current_trace
from sloguard.sdk.decorators import trace_agent_call, trace_tool_call
from sloguard.sdk.feed import feed_trace
from sloguard.sdk.guard import CardinalityGuard
from sloguard.sdk.logfilter import TraceContextFilter, TracingLogHandler
from sloguard.sdk.metrics import AgentMetrics, Buckets
from sloguard.sdk.recorder import Recorder
from sloguard.sdk.redact import Redactor
from sloguard.sdk.step import TraceStep, add_usage, workflow
from sloguard.sdk.telemetry import (
    StepListener,
    Telemetry,
    current_telemetry,
    set_default_telemetry,
    use_telemetry,
)
from sloguard.sdk.trace import ResponseTrace, Step, TraceRecord

if _typing.TYPE_CHECKING:
    from sloguard.sdk.a2a.extension import TraceabilityExtension, wrap_client, wrap_executor
    from sloguard.sdk.decisions import DecisionTracker
    from sloguard.sdk.export.exporter import TraceExporter, enable_export
    from sloguard.sdk.logging import AgentLogger
    from sloguard.sdk.otel import OTelBridge, enable_otel

from sloguard.version import __version__ as __version__

#: Seed 001's name for :class:`CallType`.
CallTypeEnum = CallType

_LAZY = {
    "DecisionTracker": "sloguard.sdk.decisions",
    "AgentLogger": "sloguard.sdk.logging",
    "enable_otel": "sloguard.sdk.otel",
    "OTelBridge": "sloguard.sdk.otel",
    "TraceabilityExtension": "sloguard.sdk.a2a.extension",
    "wrap_client": "sloguard.sdk.a2a.extension",
    "wrap_executor": "sloguard.sdk.a2a.extension",
    "TraceExporter": "sloguard.sdk.export.exporter",
    "enable_export": "sloguard.sdk.export.exporter",
}


def __getattr__(name: str) -> _typing.Any:
    """Import the optional parts (analysis, structlog, OpenTelemetry, a2a-sdk) on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sloguard' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


# Grouped by purpose, each group sorted (RUF022 would merge the groups into one list).
__all__ = [  # noqa: RUF022
    # core SDK: the trace model, steps, decorators, decisions, analysis, errors
    "CallType",
    "ConfigError",
    "DecisionTracker",
    "Direction",
    "InvalidRecord",
    "MissingExtra",
    "ResponseTrace",
    "RoutingOutcome",
    "SloguardError",
    "Status",
    "TraceError",
    "TracePerformance",
    "TraceRecord",
    "TraceStep",
    "__version__",
    "add_usage",
    "analyze_trace_performance",
    "current_step",
    "current_trace",
    "feed_trace",
    "trace_agent_call",
    "trace_tool_call",
    "workflow",
    # setup: where steps are recorded, with which limits and redaction, and who listens
    "AgentMetrics",
    "Buckets",
    "CardinalityGuard",
    "Recorder",
    "Redactor",
    "StepListener",
    "Telemetry",
    "current_telemetry",
    "set_default_telemetry",
    "use_telemetry",
    # integrations: logging, OpenTelemetry, A2A, the sidecar exporter (most imported lazily)
    "AgentLogger",
    "OTelBridge",
    "TraceContextFilter",
    "TraceExporter",
    "TraceabilityExtension",
    "TracingLogHandler",
    "enable_export",
    "enable_otel",
    "wrap_client",
    "wrap_executor",
    # seed aliases: the names the seed documents use
    "CallTypeEnum",
    "MetricsCollector",
    "Step",
]
