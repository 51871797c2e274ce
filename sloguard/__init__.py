"""sloguard: keep multi-agent AI systems inside their service-level objectives.

The agent SDK lives here and needs only prometheus_client: trace steps and decorators that feed
Prometheus metrics, the seed's ``MetricsCollector``, trace analysis. ``AgentLogger`` (structlog)
and ``enable_otel`` (OpenTelemetry) are imported on first use.

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
    from sloguard.sdk.export.exporter import TraceExporter, enable_export
    from sloguard.sdk.logging import AgentLogger
    from sloguard.sdk.otel import OTelBridge, enable_otel

__version__ = "0.1.0"

#: Seed 001's name for :class:`CallType`.
CallTypeEnum = CallType

_LAZY = {
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
    """Import the optional parts (structlog, OpenTelemetry, a2a-sdk) on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sloguard' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "AgentLogger",
    "AgentMetrics",
    "Buckets",
    "CallType",
    "CallTypeEnum",
    "CardinalityGuard",
    "ConfigError",
    "Direction",
    "InvalidRecord",
    "MetricsCollector",
    "MissingExtra",
    "OTelBridge",
    "Recorder",
    "Redactor",
    "ResponseTrace",
    "RoutingOutcome",
    "SloguardError",
    "Status",
    "Step",
    "StepListener",
    "Telemetry",
    "TraceContextFilter",
    "TraceError",
    "TraceExporter",
    "TracePerformance",
    "TraceRecord",
    "TraceStep",
    "TraceabilityExtension",
    "TracingLogHandler",
    "__version__",
    "add_usage",
    "analyze_trace_performance",
    "current_step",
    "current_telemetry",
    "current_trace",
    "enable_export",
    "enable_otel",
    "feed_trace",
    "set_default_telemetry",
    "trace_agent_call",
    "trace_tool_call",
    "use_telemetry",
    "workflow",
    "wrap_client",
    "wrap_executor",
]
