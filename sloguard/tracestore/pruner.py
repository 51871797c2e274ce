"""Prune a trace store on its own interval, in a thread: the daemon runs one in every mode.

A pass runs at start (a store reopened after downtime may hold expired data), then every
``interval`` seconds, and early when the store reports that a write took it past the point
where pruning starts (``TraceStore.on_full``). A failing pass is logged and the loop goes on
(a storage failure once per change, by the store's health). While the store's health reports a
failure, each pass ends with :meth:`TraceStore.check`, which finds out when writing works again.
Stopping interrupts a running pass between two of its chunks.

Example::

    pruner = TracePruner(store, interval=60)
    pruner.start()
    ...
    pruner.stop()
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable

import structlog

from sloguard.tracestore.base import TraceStore
from sloguard.tracestore.retention import Pruned
from sloguard.tracestore.storehealth import StorageFailure

log = structlog.get_logger(__name__)


class TracePruner:
    """Run :meth:`TraceStore.prune` in a background thread (see the module docstring)."""

    def __init__(
        self, store: TraceStore, interval: float, *, clock: Callable[[], float] = time.time
    ) -> None:
        if not interval > 0:
            raise ValueError(f"interval must be > 0 seconds, got {interval!r}")
        self.store = store
        self.interval = interval
        self._clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Passes completed (successful or not), and the last successful result.
        self.passes = 0
        self.last: Pruned | None = None

    def start(self) -> None:
        """Start the thread and let the store wake it when it fills up."""
        if self._thread is not None:
            raise RuntimeError("the pruner was already started")
        self.store.on_full = self.wake
        self._thread = threading.Thread(target=self._run, name="sloguard-trace-pruner", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Run a pass now (or right after the running one)."""
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        """Stop the thread, interrupting a running pass, and wait for it to end."""
        self.store.on_full = None
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                result = self.store.prune(self._clock(), cancel=self._stop)
            except (sqlite3.Error, StorageFailure):
                pass  # counted and logged once per change by the store's health
            except Exception as exc:  # one failure never stops the loop
                log.warning("trace store prune failed", error=f"{type(exc).__name__}: {exc}")
            else:
                self.last = result
                if result.rows:
                    log.info(
                        "trace store pruned",
                        traces=result.traces,
                        steps=result.steps,
                        decisions=result.decisions,
                        events=result.events,
                        reasons=result.reasons,
                        bytes_before=result.bytes_before,
                        bytes_after=result.bytes_after,
                    )
            if self.store.health.degraded() is not None and not self._stop.is_set():
                self.store.check(self._clock())
            self.passes += 1
            self._wake.wait(self.interval)
