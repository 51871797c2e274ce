"""The queue of traces a sidecar forwards to the central daemon: batches, backoff, bounds (pure).

:class:`ForwardQueue` holds traces by id, oldest first, and says when a batch is due and what
it is; the caller sends it and reports the outcome. No clock: every call takes ``now``
(``time.monotonic()`` seconds).

- **Bounded**: at most ``max_queue`` traces wait (the one in flight included); beyond, the
  oldest are dropped (the newest are what an incident is about) and :meth:`add` says how many.
- **One entry per trace id**: a trace stored again (OTLP spans arriving later, merged) replaces
  the queued one in place, so the central daemon gets the newest version once.
- **Batches**: up to ``max_batch`` traces and ``max_batch_bytes`` (by the ``size`` given; the
  first trace goes even when larger), due when that many wait, when the oldest has waited
  ``max_delay`` seconds, or at once when flushing (shutdown). One batch is in flight at a time.
- **Backoff**: a failed batch goes back to the front (unless a newer version of a trace was
  queued meanwhile) and nothing is due for ``backoff_initial * 2**(failures-1)`` seconds (at
  most ``backoff_max``, times the caller's ``jitter``), or the server's ``Retry-After``.

Example::

    q: ForwardQueue[str] = ForwardQueue(ForwardPolicy(max_batch=2, max_delay=1.0))
    q.add([("t1", "trace 1")], now=0.0)
    q.take(now=0.5)            # None: not due yet
    batch = q.take(now=1.0)    # ["trace 1"]
    q.failed(now=1.0)          # 0.5: retry in half a second
    q.take(now=1.2)            # None: backing off
    q.take(now=1.5)            # ["trace 1"] again
    q.delivered()
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["ForwardPolicy", "ForwardQueue"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ForwardPolicy:
    """How many traces wait and go together, and how long failed sends wait.

    Example::

        ForwardPolicy(max_queue=10_000, max_batch=100, max_delay=1.0)
    """

    max_queue: int = 10_000
    max_batch: int = 100
    max_batch_bytes: int = 1 << 20
    max_delay: float = 1.0
    backoff_initial: float = 0.5
    backoff_max: float = 5.0  # as Prometheus's remote write: back soon after an outage

    def __post_init__(self) -> None:
        if min(self.max_queue, self.max_batch, self.max_batch_bytes) < 1:
            raise ValueError("max_queue, max_batch and max_batch_bytes must be >= 1")
        if self.max_delay < 0 or self.backoff_initial <= 0 or self.backoff_max <= 0:
            raise ValueError("max_delay must be >= 0, backoff_initial and backoff_max > 0")


class ForwardQueue(Generic[T]):
    """Traces waiting to be forwarded, keyed by trace id; see the module docstring.

    ``size``: an item's bytes, for ``max_batch_bytes`` (None: batches bounded by count only).
    """

    def __init__(
        self, policy: ForwardPolicy | None = None, *, size: Callable[[T], int] | None = None
    ) -> None:
        self.policy = policy or ForwardPolicy()
        self._size = size
        self._waiting: OrderedDict[str, tuple[T, float]] = OrderedDict()  # id -> (item, since)
        self._flight: list[tuple[str, T, float]] = []
        self._failures = 0
        self._retry_at = 0.0

    @property
    def depth(self) -> int:
        """Traces waiting or in flight."""
        return len(self._waiting) + len(self._flight)

    @property
    def failures(self) -> int:
        """Failed sends in a row (0: the last send worked, or none failed yet)."""
        return self._failures

    def add(self, items: Iterable[tuple[str, T]], now: float) -> int:
        """Queue ``(trace id, item)`` pairs; return how many of the oldest were dropped."""
        for key, item in items:
            found = self._waiting.get(key)
            self._waiting[key] = (item, found[1] if found is not None else now)
        return self._trim()

    def _trim(self) -> int:
        dropped = 0
        while self.depth > self.policy.max_queue and self._waiting:
            self._waiting.popitem(last=False)
            dropped += 1
        return dropped

    def due_at(self, now: float, *, flush: bool = False) -> float | None:
        """When :meth:`take` returns a batch (``now`` or later); None: nothing waits."""
        if self._flight or not self._waiting:
            return None
        start = self._retry_at
        if not flush and len(self._waiting) < self.policy.max_batch:
            oldest = next(iter(self._waiting.values()))[1]
            start = max(start, oldest + self.policy.max_delay)
        return max(now, start)

    def take(self, now: float, *, flush: bool = False) -> list[T] | None:
        """Return the next batch (oldest first) when one is due at ``now``, else None."""
        due = self.due_at(now, flush=flush)
        if due is None or due > now:
            return None
        total = 0
        while self._waiting and len(self._flight) < self.policy.max_batch:
            key, (item, since) = next(iter(self._waiting.items()))
            total += self._size(item) if self._size is not None else 0
            if self._flight and total > self.policy.max_batch_bytes:
                break
            del self._waiting[key]
            self._flight.append((key, item, since))
        return [item for _, item, _ in self._flight]

    def delivered(self) -> int:
        """The batch in flight arrived; return its size."""
        n = len(self._flight)
        self._flight = []
        self._failures = 0
        self._retry_at = 0.0
        return n

    def rejected(self) -> int:
        """The batch in flight was refused for good; forget it and return its size."""
        n = len(self._flight)
        self._flight = []
        return n

    def failed(self, now: float, *, after: float | None = None, jitter: float = 1.0) -> float:
        """The batch in flight may work later: queue it again at the front and back off.

        Return the seconds until the next attempt (``after``, the server's ``Retry-After``, wins
        over the exponential delay). Traces queued again meanwhile keep their newer version;
        the bound holds (the batch counted while in flight).
        """
        for key, item, since in reversed(self._flight):
            if key not in self._waiting:
                self._waiting[key] = (item, since)
                self._waiting.move_to_end(key, last=False)
        self._flight = []
        self._failures += 1
        p = self.policy
        delay = (
            after
            if after is not None
            else (min(p.backoff_max, p.backoff_initial * 2.0 ** (self._failures - 1)) * jitter)
        )
        self._retry_at = now + delay
        return delay

    def drain(self) -> int:
        """Forget everything (shutdown); return how many traces were waiting or in flight."""
        n = self.depth
        self._waiting.clear()
        self._flight = []
        return n
