"""Whether a store on the data dir can write: failures counted, logged once per change, readiness.

A full disk, an I/O error or a file that SQLite refuses makes every write of a store fail until
an operator acts; logging each one (a traceback per tick or per request) buries the one line
that matters. :class:`StoreHealth` follows the failures of one store by *operation* (``write``,
``free_space``, ``sample``, ``query``, ``compact``, ``prune``): every failure is counted through
``on_failure(store, operation)`` (the daemon's ``sloguard_storage_failures_total``), the first
failure of an operation logs one warning and its first success after that one info line, and
:meth:`StoreHealth.degraded` is the reason ``/readyz`` gives while any operation fails.

:class:`StorageFailures` is that counter. Both are shared by the trace store and the embedded
samples of :mod:`sloguard.sources.embedded`.

Example::

    health = StoreHealth("traces", on_failure=StorageFailures(registry))
    health.failed("write", "database or disk is full", now=time.time())   # logs once
    health.degraded()     # "trace store: write failing since …: database or disk is full"
    health.succeeded("write", now=time.time())                           # logs once
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter

from sloguard.durations import format_instant
from sloguard.errors import SloguardError

_log = logging.getLogger(__name__)

#: The label values of ``store`` and the operations each store reports.
OPERATIONS: dict[str, tuple[str, ...]] = {
    "traces": ("write", "free_space", "prune"),
    "samples": ("sample", "query", "compact"),
}
_NAMES = {"traces": "trace store", "samples": "embedded SLI samples"}


class StorageFailure(SloguardError):
    """A store could not write (disk full, I/O error) or refused to (too little free space)."""


@dataclass(frozen=True, slots=True)
class _Failing:
    since: float
    error: str
    count: int



class StoreHealth:
    """The failing operations of one store (thread-safe; see the module docstring)."""

    def __init__(self, store: str, *, on_failure: Callable[[str, str], None] | None = None) -> None:
        self.store = store
        self.name = _NAMES.get(store, store)
        self._on_failure = on_failure
        self._failing: dict[str, _Failing] = {}
        self._lock = threading.Lock()

    def failed(self, operation: str, error: str, now: float) -> bool:
        """Count a failure of ``operation``; log it if it is the first; return whether it was."""
        if self._on_failure is not None:
            self._on_failure(self.store, operation)
        with self._lock:
            before = self._failing.get(operation)
            self._failing[operation] = _Failing(
                before.since if before else now, error, before.count + 1 if before else 1
            )
        if before is None:
            _log.warning("%s: %s failing: %s", self.name, operation, error)
        return before is None

    def succeeded(self, operations: Iterable[str], now: float) -> bool:
        """Clear ``operations``; log each that was failing; return whether one was."""
        with self._lock:
            cleared = [(op, self._failing.pop(op)) for op in operations if op in self._failing]
        for op, f in cleared:
            _log.info(
                "%s: %s works again after %d failures since %s",
                self.name,
                op,
                f.count,
                format_instant(f.since),
            )
        return bool(cleared)

    def failing(self, operation: str) -> bool:
        """Whether ``operation`` is failing."""
        return operation in self._failing

    def error(self, operation: str) -> str | None:
        """The last error of a failing ``operation`` (with since when), or None."""
        f = self._failing.get(operation)
        return None if f is None else f"{f.error} (failing since {format_instant(f.since)})"

    def degraded(self) -> str | None:
        """Why this store cannot do its job right now, or None."""
        with self._lock:
            failing = sorted(self._failing.items())
        if not failing:
            return None
        parts = [
            f"{op} failing since {format_instant(f.since)} ({f.count} failures): {f.error}"
            for op, f in failing
        ]
        return f"{self.name}: " + "; ".join(parts)


class StorageFailures:
    """``sloguard_storage_failures_total{store, operation}``; call it to count one failure."""

    def __init__(self, registry: CollectorRegistry | None = REGISTRY) -> None:
        self.counter = Counter(
            "sloguard_storage_failures",
            "Failed or refused writes and reads of sloguard's own stores on the data dir "
            "(store: traces, samples; operation: write, free_space, prune, sample, query, "
            "compact).",
            ["store", "operation"],
            registry=registry,
        )
        for store, operations in OPERATIONS.items():
            for operation in operations:
                self.counter.labels(store, operation)

    def __call__(self, store: str, operation: str) -> None:
        self.counter.labels(store, operation).inc()
