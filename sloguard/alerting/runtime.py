"""The daemon's alerting side: state store, routing, alert center, outbox worker, reloads.

The routing file is reloaded on SIGHUP and when it changes on disk; a bad file keeps the last
good routing running and logs every problem.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from prometheus_client import CollectorRegistry

from sloguard.alerting.center import AlertCenter
from sloguard.alerting.store import StateStore
from sloguard.errors import ConfigError
from sloguard.notify.config import AlertRouting, build_notifiers, default_routing, load_routing
from sloguard.notify.model import Notifier
from sloguard.notify.outbox import NotifyMetrics, OutboxWorker
from sloguard.tracestore.store import TraceStore

_log = logging.getLogger(__name__)


class AlertRuntime:
    """Everything that turns evaluations into delivered notifications."""

    def __init__(
        self,
        data_dir: Path,
        *,
        registry: CollectorRegistry,
        routing_file: Path | None = None,
        routing: AlertRouting | None = None,
        env: Mapping[str, str] | None = None,
        external_url: str = "",
        no_data_after: float | None = 600.0,
        drain_timeout: float = 10.0,
        traces: TraceStore | None = None,
    ) -> None:
        self.routing_file = routing_file
        self.env = env if env is not None else os.environ
        self.external_url = external_url
        self.drain_timeout = drain_timeout
        if routing is None:
            routing = (
                load_routing(str(routing_file), self.env) if routing_file else default_routing()
            )
        self.routing = routing
        self.store = StateStore(data_dir / "alerts.sqlite")
        self.center = AlertCenter(
            self.store,
            routing,
            no_data_after=no_data_after,
            external_url=external_url,
            min_repeat=routing.resend_floor,
        )
        self.worker = OutboxWorker(
            self.store,
            build_notifiers(routing, external_url=external_url),
            metrics=NotifyMetrics(registry),
        )
        self.center.on_queued = self.worker.wake
        if traces is not None:
            self.center.evidence = lambda r: [
                t.trace_id
                for t in traces.failing(
                    agent=r.labels.get("agent_name") or r.slo.selector.get("agent_name"), limit=3
                )
            ]
        self._mtime = self._file_mtime()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _file_mtime(self) -> float | None:
        if self.routing_file is None:
            return None
        try:
            return self.routing_file.stat().st_mtime
        except OSError:
            return None

    def reload(self) -> bool:
        """Re-read the routing file; on problems keep the running routing. True if replaced."""
        if self.routing_file is None:
            return False
        self._mtime = self._file_mtime()
        try:
            routing = load_routing(str(self.routing_file), self.env)
        except ConfigError as exc:
            _log.error(
                "routing file %s has problems; keeping the last good routing:\n%s",
                self.routing_file,
                exc,
            )
            return False
        old: dict[str, Notifier] = self.worker.notifiers
        self.worker.notifiers = build_notifiers(routing, external_url=self.external_url)
        self.center.replace_routing(routing, routing.resend_floor)
        self.routing = routing
        _log.info("routing reloaded from %s", self.routing_file)
        for name, notifier in old.items():
            if name not in self.worker.notifiers:
                asyncio.get_running_loop().create_task(notifier.aclose())
        return True

    def reload_if_changed(self) -> bool:
        """Reload when the routing file's modification time changed."""
        if self.routing_file is not None and self._file_mtime() != self._mtime:
            return self.reload()
        return False

    def start(self) -> None:
        """Start delivering in the background."""
        self._stop.clear()
        self._task = asyncio.get_running_loop().create_task(self.worker.run(self._stop))

    async def stop(self) -> None:
        """Stop the loops, deliver what can be delivered in time, keep the rest."""
        self._stop.set()
        if self._task is not None:
            await self._task
        await self.worker.drain(self.drain_timeout)
        await self.worker.aclose()
        self.store.close()
