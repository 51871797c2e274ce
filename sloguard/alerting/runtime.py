"""The daemon's alerting side: state store, routing, alert center, outbox worker, reloads, and
on a shared store the leadership loop (only the leader commits alert states and delivers).

The routing file is reloaded on SIGHUP and when it changes on disk; a bad file keeps the last
good routing running and logs every problem.

After each tick's results, :meth:`AlertRuntime.check_self` raises sloguard's alerts about itself
(:mod:`sloguard.alerting.selfcheck`) from its own state: the runs of ``error`` evaluations, the
outbox worker's oldest waiting notification per receiver, the disabled receivers, and whatever
the problem sources registered with :meth:`AlertRuntime.watch` report (storage failures).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry

from sloguard.alerting.center import AlertCenter
from sloguard.alerting.following import ResultSharing
from sloguard.alerting.leader import LeaseTiming
from sloguard.alerting.leading import Elector, LeaseStore, leader_gauge
from sloguard.alerting.pgresults import SharedResults
from sloguard.alerting.selfcheck import (
    SelfCheckRules,
    SelfProblem,
    SelfState,
    broken,
    track_errors,
)
from sloguard.alerting.store import StateStore
from sloguard.alerting.storebase import AlertStore, NotLeader
from sloguard.errors import ConfigError
from sloguard.evaluation.evaluator import InstanceResult
from sloguard.notify.config import AlertRouting, build_notifiers, default_routing, load_routing
from sloguard.notify.model import Notification, Notifier
from sloguard.notify.outbox import NotifyMetrics, OutboxWorker
from sloguard.slo.budget import State
from sloguard.slo.spec import SLO
from sloguard.tracestore.base import TraceStore
from sloguard.tracestore.storehealth import StorageFailure

_log = logging.getLogger(__name__)


#: How long delivered (or given up) notifications and their message references are kept.
OUTBOX_RETENTION = 7 * 86400.0
PRUNE_EVERY = 3600.0
#: How long an expired silence is kept for audit (the ``silence_retention`` setting).
SILENCE_RETENTION = 7 * 86400.0


def failing_evidence(traces: TraceStore, result: InstanceResult) -> list[str]:
    """The newest failing trace ids in ``result``'s scope (an alert's evidence); none when the
    trace store cannot answer (a shared database down must not hold the notification back)."""
    agent = result.labels.get("agent_name") or result.slo.selector.get("agent_name")
    try:
        return [t.trace_id for t in traces.failing(agent=agent, limit=3)]
    except StorageFailure as exc:
        _log.warning("failing traces unavailable for a notification: %s", exc)
        return []


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
        self_check: SelfCheckRules | None = None,
        silence_retention: float = SILENCE_RETENTION,
        store: AlertStore | None = None,
        lease: LeaseTiming | None = None,
    ) -> None:
        """``self_check``: thresholds of the alerts about sloguard itself (None: none);
        ``silence_retention``: seconds an expired silence is kept for audit; ``store``: the
        alert store (default: ``<data_dir>/alerts.sqlite``); ``lease``: compete for the
        leadership lease with this timing (a shared store: ``store`` is then a
        :class:`~sloguard.alerting.leading.LeaseStore`; None: always the leader)."""
        self.silence_retention = silence_retention
        self.routing_file = routing_file
        self.env = env if env is not None else os.environ
        self.external_url = external_url
        self.drain_timeout = drain_timeout
        if routing is None:
            routing = (
                load_routing(str(routing_file), self.env) if routing_file else default_routing()
            )
        self.routing = routing
        self.store: AlertStore = (
            store if store is not None else StateStore(data_dir / "alerts.sqlite")
        )
        self._pruned_at = float("-inf")
        self.center = AlertCenter(
            self.store,
            routing,
            no_data_after=no_data_after,
            external_url=external_url,
            min_repeat=routing.resend_floor,
            self_rules=self_check,
            registry=registry,
        )
        self.worker = OutboxWorker(
            self.store,
            build_notifiers(routing, external_url=external_url),
            metrics=NotifyMetrics(registry),
            may_send=self.store.still_leader,
        )
        self.center.on_queued = self.worker.wake
        if traces is not None:
            self.center.evidence = lambda r: failing_evidence(traces, r)
        #: Components to watch: name → a callable answering why it fails now, or None.
        self.watched: dict[str, Callable[[], str | None]] = {}
        self._error_since: dict[str, float] = {}
        self._stranded = False  # no receiver works: said once in the log
        self._mtime = self._file_mtime()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._elector_task: asyncio.Task[None] | None = None
        #: The leadership loop (None: a store of one replica, always the leader).
        self.elector: Elector | None = None
        if lease is not None:
            lease_store: LeaseStore = self.store  # type: ignore[assignment]
            self.elector = Elector(
                lease_store,
                lease,
                registry=registry,
                on_acquired=self._took_over,
            )
        else:
            leader_gauge(registry).set(1)  # one replica on its own store: always the leader
        #: Leader's results for followers (a shared store that can hold them; else None).
        self.sharing = (
            ResultSharing(self.store)
            if self.elector is not None and isinstance(self.store, SharedResults)
            else None
        )

    def leader_results(
        self, now: float, slos: Sequence[SLO], stale_after: float
    ) -> tuple[InstanceResult, ...] | None:
        """A follower's view: the leader's latest results when fresh (None: evaluate here).
        Thread-safe: the daemon calls it in a worker thread (reading and decoding 10 000
        instances takes ~0.75 s, which would stall the event loop's HTTP answers)."""
        if self.sharing is None or self.leads():
            return None
        return self.sharing.read(now, slos, stale_after)

    def leads(self) -> bool:
        """Does this replica lead (evaluate alerts and deliver)? Always without a lease."""
        return self.elector is None or self.elector.leads()

    def leadership(self) -> dict[str, object]:
        """``/readyz`` details: this replica's role (a follower is ready: it serves)."""
        if self.elector is None:
            return {"role": "leader", "shared": False}
        serving = {} if self.sharing is None else {"evaluations": self.sharing.serving}
        return {**self.elector.details(), "shared": True, **serving}

    def _took_over(self) -> None:
        """A new term: read what other leaders committed before the first commit, and look
        at the outbox now."""
        self.center.reload()
        self.worker.wake()

    def after_tick(self, results: Sequence[InstanceResult], now: float) -> None:
        """The leader commits the tick's alert states and notifications (and sloguard's alerts
        about itself); a follower commits nothing and reloads the states the leader committed,
        so its API and page show them. A commit the lease no longer covers is refused
        (:class:`NotLeader`): logged, the next leader decides again."""
        if not self.leads():
            try:
                self.center.reload()
            except Exception as exc:  # a follower's view may lag; it keeps serving
                _log.warning("cannot read the alert states from the store: %s", exc)
            return
        try:
            if self.elector is not None:  # silences made through a follower's API count too
                self.center.silences.by_id = {s.id: s for s in self.store.silences()}
            self.center.process(results, now)
            self.check_self(results, now)
        except NotLeader as exc:
            _log.warning("alert states not committed: %s", exc)

    def share(self, results: Sequence[InstanceResult], now: float) -> None:
        """The leader publishes the tick's results for its followers (thread-safe: the daemon
        calls it in a worker thread; at 10 000 instances it is a 5 MB row, ~0.3 s)."""
        if self.sharing is not None and self.leads():
            self.sharing.publish(results, now)

    def watch(self, component: str, failing: Callable[[], str | None]) -> None:
        """Raise ``SloguardStorageFailure{component=…}`` while ``failing()`` answers a reason
        (a store's ``health.degraded``)."""
        self.watched[component] = failing

    def problems(self) -> list[SelfProblem]:
        """What the watched components report now (a component that raises reports that)."""
        out = []
        for component, failing in sorted(self.watched.items()):
            try:
                reason = failing()
            except Exception as exc:  # a broken probe must not stop the tick
                reason = f"health check raised {type(exc).__name__}: {exc}"
            if reason:
                out.append(SelfProblem(component, reason))
        return out

    def snapshot(self, results: Sequence[InstanceResult], now: float) -> SelfState:
        """Fold one tick's results into the ``error`` runs; return the daemon's own state."""
        errors: dict[str, bool] = {}
        for r in results:
            errors[r.slo.name] = errors.get(r.slo.name, False) or (
                r.evaluation.state is State.ERROR
            )
        self._error_since = track_errors(self._error_since, errors, now)
        disabled = self.store.disabled()
        return SelfState(
            error_since=dict(self._error_since),
            pending_since=self.worker.pending_since(),
            disabled={r: why for r, why in disabled.items() if r in self.routing.receivers},
            problems=self.problems(),
        )

    def check_self(self, results: Sequence[InstanceResult], now: float) -> list[Notification]:
        """Raise, repeat and resolve sloguard's alerts about itself after a tick (and, once an
        hour, forget notifications delivered or given up more than a week ago)."""
        if now - self._pruned_at >= PRUNE_EVERY:
            self._pruned_at = now
            try:
                pruned = self.store.prune(now - OUTBOX_RETENTION)
            except Exception as exc:  # SQLite or PostgreSQL: pruning waits an hour
                _log.warning("cannot prune the outbox: %s", exc)
            else:
                if pruned:
                    _log.info("outbox pruned: %d notifications older than a week", pruned)
            try:
                gone = self.center.silences.prune(now - self.silence_retention)
            except Exception as exc:  # SQLite or PostgreSQL: pruning waits an hour
                _log.warning("cannot prune expired silences: %s", exc)
            else:
                if gone:
                    _log.info("%d expired silences pruned", gone)
        state = self.snapshot(results, now)
        rules = self.center.self_rules
        if rules is not None:
            stranded = not set(self.routing.receivers) - broken(state, rules, now)
            if stranded and not self._stranded:
                _log.error("no receiver works: alerts about sloguard itself cannot be sent")
            self._stranded = stranded
        return self.center.check_self(state, now)

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
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self.worker.run(self._stop))
        if self.elector is not None:
            self._elector_task = loop.create_task(self.elector.run(self._stop))

    async def stop(self) -> None:
        """Stop the loops, deliver what can be delivered in time, keep the rest."""
        self._stop.set()
        if self._task is not None:
            await self._task
        if self._elector_task is not None:
            await self._elector_task
        if self.leads():  # a follower's claims would be refused: nothing to drain
            await self.worker.drain(self.drain_timeout)
        if self.elector is not None:
            await asyncio.to_thread(self.elector.release)
        await self.worker.aclose()
        self.store.close()
