"""Structured agent logs (structlog) that carry the current trace and step ids (seed 000).

:class:`AgentLogger` writes seed 000's events — ``agent.decision``, ``agent.tool_call``,
``agent.handoff``, ``agent.error`` — with tool arguments redacted and long text truncated, and
feeds decisions and handoffs into the metrics. Each event carries ``trace_id`` and ``step_id``
when it is logged inside a step, whatever structlog configuration the application uses.

:func:`add_trace_context` is a structlog processor that adds the same ids to *every* event;
:func:`configure_logging` sets up JSON lines with it. An application with its own structlog
setup keeps it and may put :func:`add_trace_context` into its own processor chain.

Example::

    configure_logging()                         # JSON lines on stdout, INFO and above
    log = AgentLogger("supervisor", "wf-001")
    with sloguard.workflow("support", "wf-001"):
        log.decision("routing", "billing-agent",
                     ["billing-agent", "shipping-agent"], "refund requested", confidence=0.92)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final, Protocol, TextIO

from sloguard.errors import MissingExtra
from sloguard.sdk.context import current_ids
from sloguard.sdk.recorder import Recorder
from sloguard.sdk.redact import Redactor
from sloguard.sdk.telemetry import current_telemetry

try:
    import structlog
    from structlog.typing import EventDict, Processor, WrappedLogger
except ImportError as exc:  # pragma: no cover - exercised only without structlog
    raise MissingExtra("AgentLogger (structured logging)", "logging", "structlog") from exc

__all__ = [
    "AgentLogger",
    "LogLimits",
    "StructLogger",
    "add_trace_context",
    "configure_logging",
    "trace_fields",
]

#: Level names accepted by :func:`configure_logging` (the stdlib numbers).
LEVELS: Final[Mapping[str, int]] = {
    "critical": 50,
    "error": 40,
    "warning": 30,
    "info": 20,
    "debug": 10,
}


@dataclass(frozen=True, slots=True)
class LogLimits:
    """Maximum characters kept of each free-text field (seed 000's limits by default)."""

    reasoning: int = 500
    arg_value: int = 200
    summary: int = 300
    message: int = 1000


class StructLogger(Protocol):
    """What :class:`AgentLogger` needs of a structlog logger (any configured wrapper fits)."""

    def bind(self, **new_values: Any) -> StructLogger:
        """Return a logger with ``new_values`` added to its context."""
        ...

    def info(self, event: str, **kw: Any) -> Any:
        """Log ``event`` at INFO."""
        ...

    def error(self, event: str, **kw: Any) -> Any:
        """Log ``event`` at ERROR."""
        ...


def trace_fields() -> dict[str, str]:
    """Return ``trace_id`` and ``step_id`` of this context (only those that are set)."""
    trace_id, step_id = current_ids()
    fields: dict[str, str] = {}
    if trace_id:
        fields["trace_id"] = trace_id
    if step_id:
        fields["step_id"] = step_id
    return fields


def add_trace_context(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: add the current ``trace_id``/``step_id`` unless already present."""
    for key, value in trace_fields().items():
        event_dict.setdefault(key, value)
    return event_dict


def configure_logging(
    json: bool = True, level: str | int = "INFO", stream: TextIO | None = None
) -> None:
    """Configure structlog: ids, ISO-8601 UTC ``timestamp`` and ``level`` on every event.

    ``json`` writes one JSON object per line, otherwise a human-readable console format.
    ``stream`` defaults to standard output. This replaces structlog's global configuration;
    applications that configure structlog themselves should not call it.
    """
    if isinstance(level, str):
        threshold = LEVELS.get(level.lower())
        if threshold is None:
            raise ValueError(f"level must be one of {sorted(LEVELS)}, got {level!r}")
    else:
        threshold = level
    processors: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        add_trace_context,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    if json:
        processors += [structlog.processors.dict_tracebacks, structlog.processors.JSONRenderer()]
    else:
        processors.append(structlog.dev.ConsoleRenderer(colors=False))
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )


def _clip(text: object, limit: int) -> str:
    s = str(text)
    return s if len(s) <= limit else f"{s[:limit]}…[+{len(s) - limit} chars]"


class AgentLogger:
    """Log an agent's decisions, tool calls, handoffs and errors as structured events.

    Events are bound to ``agent`` and ``workflow_id`` and carry the current ``trace_id`` and
    ``step_id``. ``decision`` also counts ``agent_decisions_total`` (and observes
    ``agent_decision_confidence``); ``handoff`` counts ``agent_handoffs_total``. Metrics go to
    ``recorder``, by default the recorder of the telemetry current at each call.

    A handoff to an agent that runs as a nested agent step is already counted by that step:
    log such handoffs with ``count=False``.

    Example::

        log = AgentLogger("supervisor", "wf-001")
        log.tool_call("search", {"q": "refund policy", "api_key": "…"}, "3 hits", 120)
        log.handoff("billing-agent", "refund request", "order 42, paid by card")
    """

    __slots__ = ("_derived", "_log", "_recorder", "_redactor", "agent_name", "limits",
                 "workflow_id")

    def __init__(
        self,
        agent_name: str,
        workflow_id: str | None = None,
        *,
        logger: StructLogger | None = None,
        recorder: Recorder | None = None,
        redactor: Redactor | None = None,
        limits: LogLimits | None = None,
    ) -> None:
        self.agent_name = agent_name
        self.workflow_id = workflow_id
        self.limits = limits if limits is not None else LogLimits()
        base: StructLogger = (
            logger if logger is not None else structlog.get_logger("sloguard.agent")
        )
        bound: dict[str, str] = {"agent": agent_name}
        if workflow_id is not None:
            bound["workflow_id"] = workflow_id
        self._log = base.bind(**bound)
        self._recorder = recorder
        self._redactor = redactor
        self._derived: tuple[Redactor, Redactor] | None = None

    @property
    def recorder(self) -> Recorder:
        """The recorder decisions and handoffs go to."""
        return self._recorder if self._recorder is not None else current_telemetry().recorder

    def _args_redactor(self) -> Redactor:
        # The telemetry's redactor (its sensitive keys), with strings cut at the arg limit.
        source = self._redactor if self._redactor is not None else current_telemetry().redactor
        if self._derived is None or self._derived[0] is not source:
            limit = min(source.max_string, self.limits.arg_value)
            self._derived = (source, replace(source, max_string=limit))
        return self._derived[1]

    def decision(
        self,
        decision_type: str,
        choice: str,
        alternatives: Iterable[str],
        reasoning: str,
        confidence: float | None = None,
    ) -> None:
        """Log ``agent.decision`` and count it; raise ``InvalidRecord`` (logging nothing) if bad."""
        self.recorder.decision(self.agent_name, decision_type, confidence)
        fields: dict[str, Any] = {
            "decision_type": decision_type,
            "choice": _clip(choice, self.limits.summary),
            "alternatives": [_clip(a, self.limits.summary) for a in alternatives],
            "reasoning": _clip(reasoning, self.limits.reasoning),
        }
        if confidence is not None:
            fields["confidence"] = confidence
        self._log.info("agent.decision", **fields, **trace_fields())

    def tool_call(
        self,
        tool_name: str,
        args: Mapping[str, Any] | None,
        result_summary: str,
        duration_ms: float,
    ) -> None:
        """Log ``agent.tool_call`` with redacted, truncated ``args`` (metrics come from steps)."""
        self._log.info(
            "agent.tool_call",
            tool=tool_name,
            args=self._args_redactor().clean(args),
            result_summary=_clip(result_summary, self.limits.summary),
            duration_ms=duration_ms,
            **trace_fields(),
        )

    def handoff(
        self, target_agent: str, reason: str, context_summary: str, *, count: bool = True
    ) -> None:
        """Log ``agent.handoff`` and, with ``count``, count it in ``agent_handoffs_total``."""
        if count:
            self.recorder.handoff(self.agent_name, target_agent)
        self._log.info(
            "agent.handoff",
            target=target_agent,
            reason=_clip(reason, self.limits.summary),
            context_summary=_clip(context_summary, self.limits.summary),
            **trace_fields(),
        )

    def error(self, error_type: str, message: str, recoverable: bool) -> None:
        """Log ``agent.error`` at ERROR level."""
        self._log.error(
            "agent.error",
            error_type=error_type,
            message=_clip(message, self.limits.message),
            recoverable=recoverable,
            **trace_fields(),
        )
