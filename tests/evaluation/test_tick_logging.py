"""What the daemon's logging setup prints per evaluation tick: no library noise, no secrets.

Runs :func:`sloguard.logs.configure_logging` for real (JSON lines into a buffer), then a
schedule whose ticks query a Prometheus source through httpx: APScheduler's and httpx's
per-tick INFO lines (httpx's carry the request URL, user info included) must not appear, and a
failing tick is one line, not a traceback.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
import structlog

from sloguard.evaluation.scheduler import EvaluationSchedule
from sloguard.logs import QUIET_LOGGERS, configure_logging
from sloguard.notify.model import Outcome
from sloguard.notify.webhook import WebhookNotifier
from sloguard.sources.prometheus import PrometheusSource
from tests.support.notifications import notification

PASSWORD = "S3cretPassw0rd"


@pytest.fixture
def logged() -> Iterator[io.StringIO]:
    """``configure_logging("info")`` into a buffer; the previous logging state restored after."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    levels = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    out = io.StringIO()
    configure_logging("info", "json", stream=out)
    try:
        yield out
    finally:
        root.handlers = saved[0]
        root.setLevel(saved[1])
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        structlog.reset_defaults()


def _lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def _answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"status": "success", "data": {"version": "2.53.0"}})


def _accept(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200)


async def _run_ticks(tick_fails: bool) -> int:
    source = PrometheusSource(
        f"http://sloguard:{PASSWORD}@prometheus.example:9090?token={PASSWORD}",
        transport=httpx.MockTransport(_answer),
    )
    hook = WebhookNotifier(
        "audit",
        f"http://sloguard:{PASSWORD}@hooks.example/hook?token={PASSWORD}",
        transport=httpx.MockTransport(_accept),
    )
    seen = 0

    async def tick(now: float) -> None:
        nonlocal seen
        seen += 1
        await source.check()
        assert (await hook.send(notification(), None)).outcome is Outcome.OK
        if tick_fails:
            raise RuntimeError("the store is full")

    schedule = EvaluationSchedule(tick, 0.05)
    schedule.start()
    try:
        for _ in range(100):
            if seen >= 3:
                break
            await asyncio.sleep(0.02)
    finally:
        schedule.shutdown()
        await source.aclose()
        await hook.aclose()
    return seen


async def test_ticks_log_no_library_lines_and_no_credentials(logged: io.StringIO) -> None:
    assert await _run_ticks(tick_fails=False) >= 3
    text = logged.getvalue()
    assert PASSWORD not in text
    loggers = {str(line.get("logger")) for line in _lines(logged)}
    assert not {name for name in loggers if name.startswith(QUIET_LOGGERS)}, text


async def test_a_failed_tick_is_one_error_line_without_traceback(logged: io.StringIO) -> None:
    ticks = await _run_ticks(tick_fails=True)
    lines = _lines(logged)
    failures = [line for line in lines if "failed" in str(line.get("event"))]
    assert len(failures) == ticks, logged.getvalue()  # one line per failed tick, nothing else
    assert all(line["level"] == "error" for line in failures)
    assert all("the store is full" in str(line["event"]) for line in failures)
    assert "Traceback" not in logged.getvalue()
    assert not any("exception" in line for line in lines)


def test_quiet_loggers_stay_at_warning_even_at_debug(logged: io.StringIO) -> None:
    configure_logging("debug", "json", stream=logged)
    assert all(logging.getLogger(n).getEffectiveLevel() == logging.WARNING for n in QUIET_LOGGERS)
