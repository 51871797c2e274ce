"""The composition root of ``sloguard run``: build every part once from settings, then serve.

:func:`build` wires metrics, the cardinality guard and the recorder (the same recorder the SDK
and the HTTP ingest feed) onto one registry, and the HTTP app around them; :func:`serve` runs it
under uvicorn until SIGINT/SIGTERM, then shuts down cleanly. Background work (the SLO scheduler
and evaluator of ``--mode evaluator``/``all``) starts and stops in :func:`_lifespan`.

Example::

    daemon = build(load_settings("config/sloguard.yaml"))
    daemon.recorder.agent_call("planner", "success", 1.2)
    asyncio.run(serve(daemon))
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from types import FrameType

import structlog
import uvicorn
from fastapi import FastAPI
from prometheus_client import REGISTRY, CollectorRegistry

from sloguard.alerting.history import alert_moments
from sloguard.alerting.runtime import AlertRuntime
from sloguard.assembly import (
    alert_runtime,
    data_routers,
    ensure_data_dir,
    read_auth,
    readiness_checks,
    recording,
    slo_engine,
    trace_forwarder,
    trace_store,
)
from sloguard.errors import SloguardError
from sloguard.evaluation.engine import SLOEngine
from sloguard.evaluation.scheduler import EvaluationSchedule
from sloguard.ingest.forward import TraceForwarder
from sloguard.ingest.otlpassembly import OtlpAssembly
from sloguard.ingest.router import IngestRouter
from sloguard.logs import configure_logging
from sloguard.malloc import limit_arenas
from sloguard.notify.config import AlertRouting
from sloguard.sdk.guard import CardinalityGuard
from sloguard.sdk.metrics import AgentMetrics
from sloguard.sdk.recorder import Recorder
from sloguard.sdk.telemetry import Telemetry, set_default_telemetry
from sloguard.settings.model import Settings
from sloguard.settings.sections import Mode
from sloguard.settings.webconfig import WebConfig, load_web_config
from sloguard.tracestore.pruner import TracePruner
from sloguard.tracestore.storehealth import StorageFailures
from sloguard.web.auth import ReadAuth
from sloguard.web.historyapi import history_router
from sloguard.web.server import Lifespan, create_app
from sloguard.web.silenceapi import AnyAuth, WriteAccess, silence_router
from sloguard.web.sloapi import alerts_router, slo_router

log = structlog.get_logger(__name__)

#: glibc malloc arenas of a serving daemon (:mod:`sloguard.malloc`; ``MALLOC_ARENA_MAX`` wins).
MALLOC_ARENAS = 2


class StartupFailed(SloguardError):
    """The daemon could not start serving (the reason was logged)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Daemon:
    """Everything one ``sloguard run`` process runs, built once by :func:`build`."""

    settings: Settings
    registry: CollectorRegistry
    metrics: AgentMetrics
    guard: CardinalityGuard
    #: The one recorder of this process (SDK default and HTTP ingest feed it).
    recorder: Recorder
    app: FastAPI
    #: Set while the daemon serves; ``/readyz`` answers from it.
    readiness: threading.Event
    #: The SLO engine (None in exporter mode).
    engine: SLOEngine | None
    #: Alert state, routing and delivery (None in exporter mode).
    alerts: AlertRuntime | None
    #: The web configuration file's users and TLS (None without ``web.config_file``).
    web: WebConfig | None = None


def build(
    settings: Settings,
    *,
    registry: CollectorRegistry = REGISTRY,
    routing: AlertRouting | None = None,
) -> Daemon:
    """Create the daemon's parts from ``settings``, registering metrics on ``registry``.

    ``routing`` replaces the settings' routing file (the demo builds its own). Raise
    :class:`ConfigError` on any problem of the data directory, SLO or routing files.
    """
    ensure_data_dir(settings)
    web = load_web_config(settings.web.config_file) if settings.web.config_file else None
    parts = recording(settings, registry)
    # Agents running inside this process (the demo, embedded use) record into the daemon.
    set_default_telemetry(Telemetry(parts.recorder))
    failures = StorageFailures(registry)
    engine = (
        slo_engine(settings, registry, parts.buckets, failures)
        if settings.mode is not Mode.EXPORTER
        else None
    )
    alerts = None
    traces = trace_store(settings, failures)
    forwarder = trace_forwarder(settings, registry)
    routers = data_routers(settings, parts.recorder, traces, forwarder)
    reads = read_auth(settings, web)
    writes = ReadAuth(
        token=settings.ingest.token.get_secret_value() if settings.ingest.token else None,
        users=web.users if web is not None else None,
    )
    if engine is not None:
        alerts = alert_runtime(settings, registry, engine, traces, routing=routing)
        center = alerts.center
        routers += [
            slo_router(engine.latest, lambda: center.active(time.time())),
            alerts_router(lambda: center.active(time.time())),
            silence_router(center, WriteAccess(writes)),
            history_router(
                lambda: engine.evaluator.slos,
                engine.source,
                lambda i, start, end: alert_moments(center.store, i, start=start, end=end),
            ),
        ]
    readiness = threading.Event()
    app = create_app(
        registry,
        ready=readiness.is_set,
        degraded=readiness_checks(engine, traces),
        details=(lambda: {"leadership": alerts.leadership()}) if alerts is not None else None,
        routers=routers,
        auth=AnyAuth(reads, writes),
        docs=settings.web.docs,
        open_metrics=settings.web.open_metrics,
        lifespan=_lifespan(
            readiness,
            engine,
            alerts,
            settings.evaluation_interval,
            TracePruner(traces, settings.traces.prune_interval),
            [r.assembly for r in routers if isinstance(r, IngestRouter)],
            (forwarder, settings.drain_timeout),
        ),
    )
    return Daemon(
        settings=settings,
        registry=registry,
        metrics=parts.metrics,
        guard=parts.guard,
        recorder=parts.recorder,
        app=app,
        readiness=readiness,
        engine=engine,
        alerts=alerts,
        web=web,
    )


def _lifespan(
    readiness: threading.Event,
    engine: SLOEngine | None,
    alerts: AlertRuntime | None,
    interval: float,
    pruner: TracePruner,
    assemblies: list[OtlpAssembly],
    forwarding: tuple[TraceForwarder | None, float] = (None, 0.0),
) -> Lifespan:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        schedule = None
        loop = asyncio.get_running_loop()
        if alerts is not None:
            alerts.start()
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signal.SIGHUP, alerts.reload)
        if engine is not None and engine.evaluator.slos:

            async def tick(now: float) -> None:
                if alerts is None:
                    await engine.tick(now)
                    return
                alerts.reload_if_changed()
                slos = engine.evaluator.slos
                leaders = await asyncio.to_thread(
                    alerts.leader_results, now, slos, stale_after=2 * interval
                )  # off the event loop, as the publishing below: megabytes at scale
                if leaders is None:  # the leader, or a follower without fresh results
                    results = await engine.tick(now)
                else:  # a follower serves the leader's evaluations
                    results = await engine.follow(leaders, now)
                alerts.after_tick(results, now)  # only the leader commits alert states
                await asyncio.to_thread(alerts.share, results, now)

            schedule = EvaluationSchedule(tick, interval, self_metrics=engine.self_metrics)
            schedule.start()
        forwarder, drain_timeout = forwarding
        if forwarder is not None:
            forwarder.start()
        pruner.start()  # every mode: retention runs in its own thread, off the event loop
        flusher = asyncio.create_task(_flush_assemblies(assemblies)) if assemblies else None
        readiness.set()
        try:
            yield
        finally:
            readiness.clear()
            if flusher is not None:
                flusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await flusher
            for assembly in assemblies:  # no request comes any more: read what still waits
                await asyncio.to_thread(assembly.drain, time.time())
            if forwarder is not None:  # after the assemblies: the traces they stored go too
                await asyncio.to_thread(forwarder.close, drain_timeout)
            if schedule is not None:
                schedule.shutdown()
            if alerts is not None:
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.remove_signal_handler(signal.SIGHUP)
                await alerts.stop()
            if engine is not None:
                await engine.aclose()
            pruner.stop()
            pruner.store.close()

    return lifespan


async def _flush_assemblies(assemblies: list[OtlpAssembly], every: float = 1.0) -> None:
    """Read the OTLP traces whose assembly window has closed, every ``every`` seconds."""
    while True:
        await asyncio.sleep(every)
        for assembly in assemblies:
            try:
                await asyncio.to_thread(assembly.flush, time.time())
            except Exception:
                log.exception("otlp assembly flush failed")


async def serve(daemon: Daemon, *, until: asyncio.Event | None = None) -> None:
    """Serve ``daemon`` until SIGINT/SIGTERM (or ``until`` is set), then shut down and return.

    Raise :class:`StartupFailed` if serving never started (port in use, lifespan failure).
    """
    s = daemon.settings
    tls = daemon.web.tls if daemon.web is not None else None
    config = uvicorn.Config(
        daemon.app,
        host=s.host,
        port=s.port,
        log_config=None,  # logging is configured once, by configure_logging()
        log_level=s.log_level,
        access_log=False,  # one line per scrape is noise; errors are still logged
        server_header=False,
        lifespan="on",
        ssl_certfile=str(tls.cert_file) if tls is not None else None,
        ssl_keyfile=str(tls.key_file) if tls is not None else None,
    )
    server = uvicorn.Server(config)
    arenas = limit_arenas(MALLOC_ARENAS)  # before uvicorn and asyncio start their threads
    log.info(
        "sloguard starting",
        host=s.host,
        port=s.port,
        mode=s.mode.value,
        data_dir=str(s.data_dir),
        sli_source="prometheus" if s.prometheus.url else "embedded",
        ingest_auth=s.ingest.token is not None,
        read_auth=s.web.read_token is not None or bool(daemon.web and daemon.web.users),
        tls=tls is not None,
        malloc_arenas=MALLOC_ARENAS if arenas else "default",
    )
    failed = f"could not start serving on {s.host}:{s.port} (the log says why)"

    async def stop_when_told() -> None:
        if until is not None:
            await until.wait()
            server.should_exit = True

    watcher = asyncio.create_task(stop_when_told())
    with _stop_on_signals(server):
        try:
            await server.serve()
        except SystemExit as exc:  # uvicorn exits when it cannot bind or the lifespan fails
            raise StartupFailed(failed) from exc
        finally:
            watcher.cancel()
    if not server.started:
        raise StartupFailed(failed)
    log.info("sloguard stopped")


@contextmanager
def _stop_on_signals(server: uvicorn.Server) -> Iterator[None]:
    """Make SIGINT/SIGTERM a clean stop that ends in exit status 0.

    uvicorn installs its own handlers while serving and afterwards re-raises the signal it got
    against the handlers that were in place before, so that the default action kills the
    process (status -15). The handler installed here takes that re-raised signal instead (and
    stops the server if a signal arrives before uvicorn's handlers are in place).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        server.should_exit = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(settings: Settings) -> None:
    """Configure logging, build the daemon and serve it until stopped (``sloguard run``)."""
    configure_logging(settings.log_level, settings.log_format)
    daemon = build(settings)
    asyncio.run(serve(daemon))
