"""What the SDK reports into: a recorder, a redactor and step listeners, with a default.

The default telemetry records into prometheus_client's global registry. A program (or a test)
passes its own :class:`Telemetry` to ``TraceStep``/decorators, or makes one current for a block
with :func:`use_telemetry` (a context variable, so it is async-safe), or for the whole process
with :func:`set_default_telemetry` (the composition root of the daemon does this).

Example::

    telemetry = Telemetry(Recorder(AgentMetrics(registry=CollectorRegistry())))
    with use_telemetry(telemetry):
        await supervisor("task")
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol, runtime_checkable

from sloguard.sdk.feed import feed_step
from sloguard.sdk.recorder import Recorder
from sloguard.sdk.redact import Redactor
from sloguard.sdk.trace import ResponseTrace, TraceRecord, on_step_ended


@runtime_checkable
class StepListener(Protocol):
    """Observer of step lifecycles (the OTel bridge, trace exporters)."""

    def step_started(self, step: TraceRecord) -> None:
        """Called when a step opens (inside the step's own context)."""

    def step_ended(self, step: TraceRecord) -> None:
        """Called when a step completes, after its metrics were recorded."""

    def trace_ended(self, trace: ResponseTrace) -> None:
        """Called when the root step of a trace completes."""


class Telemetry:
    """A recorder plus redaction settings and listeners; immutable once built."""

    __slots__ = ("exemplars", "listeners", "recorder", "redactor")

    def __init__(
        self,
        recorder: Recorder | None = None,
        *,
        redactor: Redactor | None = None,
        listeners: Sequence[StepListener] = (),
        exemplars: bool = True,
    ) -> None:
        self.recorder = recorder if recorder is not None else Recorder()
        self.redactor = redactor if redactor is not None else Redactor()
        self.listeners: tuple[StepListener, ...] = tuple(listeners)
        self.exemplars = exemplars


_current: ContextVar[Telemetry | None] = ContextVar("sloguard_telemetry", default=None)
_default: Telemetry | None = None
_lock = threading.Lock()


def default_telemetry() -> Telemetry:
    """Return the process default (created on first use, on the global registry)."""
    global _default  # noqa: PLW0603 - the one process-wide default, like prometheus REGISTRY
    if _default is None:
        with _lock:
            if _default is None:
                _default = Telemetry()
    return _default


def set_default_telemetry(telemetry: Telemetry) -> None:
    """Make ``telemetry`` the process default (the daemon's composition root calls this)."""
    global _default  # noqa: PLW0603
    with _lock:
        _default = telemetry


def current_telemetry() -> Telemetry:
    """Return the telemetry of this context, else the process default."""
    t = _current.get()
    return t if t is not None else default_telemetry()


@contextmanager
def use_telemetry(telemetry: Telemetry) -> Iterator[Telemetry]:
    """Make ``telemetry`` current for the block (and tasks started inside it)."""
    token = _current.set(telemetry)
    try:
        yield telemetry
    finally:
        _current.reset(token)


def _record_hand_ended(step: TraceRecord) -> None:
    """Feed a step ended by hand (``TraceRecord(...).end_step()``) to the current telemetry."""
    t = current_telemetry()
    feed_step(t.recorder, step, exemplars=t.exemplars)


on_step_ended(_record_hand_ended)
