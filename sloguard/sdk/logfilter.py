"""Bind the current trace and step ids into stdlib ``logging`` records (no structlog needed).

Example::

    handler = logging.StreamHandler()
    handler.addFilter(TraceContextFilter())
    handler.setFormatter(logging.Formatter("%(trace_id)s %(step_id)s %(message)s"))
"""

from __future__ import annotations

import logging
from typing import TextIO

from sloguard.sdk.context import current_ids

DEFAULT_FORMAT = (
    "%(asctime)s %(levelname)s [trace:%(trace_id)s step:%(step_id)s] %(name)s: %(message)s"
)


class TraceContextFilter(logging.Filter):
    """Set ``record.trace_id`` and ``record.step_id`` (``-`` outside a trace); never drops."""

    def filter(self, record: logging.LogRecord) -> bool:
        trace_id, step_id = current_ids()
        if not getattr(record, "trace_id", None):
            record.trace_id = trace_id or "-"
        if not getattr(record, "step_id", None):
            record.step_id = step_id or "-"
        return True


class TracingLogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler (seed 001's name) that prefixes every line with the trace and step."""

    def __init__(self, stream: TextIO | None = None, fmt: str = DEFAULT_FORMAT) -> None:
        super().__init__(stream)
        self.addFilter(TraceContextFilter())
        self.setFormatter(logging.Formatter(fmt))
