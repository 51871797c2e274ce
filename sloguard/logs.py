"""Process-wide logging of the daemon: structlog and stdlib (uvicorn) as one stream.

Every record, from structlog or from stdlib loggers such as uvicorn's, goes through one handler:
JSON lines (``{"event": …, "level": …, "timestamp": …}``) or a console rendering, to stderr.
Only the daemon's composition root calls :func:`configure_logging`; the agent SDK never
configures logging of the process it runs in.

Libraries that log every request or tick at INFO (:data:`QUIET_LOGGERS`: httpx and httpcore
print each request's full URL, user info and query included, so a ``http://user:PASS@host``
Prometheus URL or a webhook's ``?token=`` would reach the log; APScheduler two lines per
evaluation) are held at WARNING, whatever ``level`` is: sloguard logs what matters about its
queries and deliveries itself, without secrets.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog
from structlog.typing import Processor

#: Loggers held at WARNING or above: per-request or per-tick INFO lines, and request URLs
#: (with their credentials) in httpx's.
QUIET_LOGGERS = ("httpx", "httpcore", "apscheduler")


def configure_logging(level: str = "info", fmt: str = "json", stream: TextIO | None = None) -> None:
    """Send structlog and stdlib logging at ``level`` to ``stream`` (stderr) as ``fmt``."""
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    out = stream if stream is not None else sys.stderr
    render: list[Processor] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        if fmt == "json"
        else [structlog.dev.ConsoleRenderer(colors=out.isatty())]
    )
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *render],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    quiet = max(logging.WARNING, root.level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(quiet)
