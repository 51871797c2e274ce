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
import sqlite3
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from types import FrameType

import structlog
import uvicorn
from fastapi import APIRouter, FastAPI
from prometheus_client import REGISTRY, CollectorRegistry

from sloguard.alerting.runtime import AlertRuntime
from sloguard.alerting.selfcheck import SelfCheckRules
from sloguard.errors import ConfigError, Problem, SloguardError
from sloguard.evaluation.engine import SLOEngine
from sloguard.evaluation.scheduler import EvaluationSchedule
from sloguard.evaluation.selfmetrics import SelfMetrics
from sloguard.evaluation.slostate import SLOStateCollector
from sloguard.ingest.pricing import ModelPrice, load_pricing
from sloguard.ingest.router import ingest_router
from sloguard.logs import configure_logging
from sloguard.notify.config import AlertRouting
from sloguard.sdk.guard import CardinalityGuard
from sloguard.sdk.metrics import AgentMetrics, Buckets
from sloguard.sdk.recorder import Recorder
from sloguard.sdk.telemetry import Telemetry, set_default_telemetry
from sloguard.settings.model import Settings
from sloguard.settings.sections import Mode, SelfAlertSettings
from sloguard.settings.webconfig import WebConfig, load_web_config
from sloguard.slo.loader import load_slo_files
from sloguard.sources.base import SLISource
from sloguard.sources.embedded import EmbeddedSource
from sloguard.tracestore.pruner import TracePruner
from sloguard.tracestore.store import TraceStore
from sloguard.tracestore.storehealth import StorageFailures, StoreHealth
from sloguard.web.auth import ReadAuth
from sloguard.web.server import Lifespan, create_app
from sloguard.web.sloapi import alerts_router, slo_router
from sloguard.web.tracesapi import traces_router
from sloguard.web.ui import ui_router

log = structlog.get_logger(__name__)


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
    _ensure_dir(settings)
    web = load_web_config(settings.web.config_file) if settings.web.config_file else None
    m = settings.metrics
    buckets = Buckets(
        agent_latency=m.buckets.agent_latency,
        tool_duration=m.buckets.tool_duration,
        decision_confidence=m.buckets.decision_confidence,
    )
    metrics = AgentMetrics(registry=registry, buckets=buckets)
    guard = CardinalityGuard(
        limits=m.label_limits,
        allowlists=m.label_allowlists,
        default_limit=m.default_label_limit,
        series_budget=m.series_budget,
        family_series_budgets=m.family_series_budgets,
    )
    recorder = Recorder(metrics, guard)
    # Agents running inside this process (the demo, embedded use) record into the daemon.
    set_default_telemetry(Telemetry(recorder))
    failures = StorageFailures(registry)
    engine = (
        _engine(settings, registry, buckets, failures)
        if settings.mode is not Mode.EXPORTER
        else None
    )
    alerts = None
    traces = _trace_store(settings, failures)
    routers: list[APIRouter] = [
        traces_router(
            traces,
            low_confidence=settings.ingest.low_confidence,
            max_tool_calls=settings.ingest.max_tool_calls,
        ),
        ui_router(),
    ]
    if settings.mode is not Mode.EVALUATOR:
        routers.append(_ingest(settings, recorder, traces))
    if engine is not None:
        alerts = AlertRuntime(
            settings.data_dir,
            registry=registry,
            routing_file=settings.routing_file,
            routing=routing,
            external_url=settings.external_url,
            no_data_after=settings.no_data_after,
            drain_timeout=settings.drain_timeout,
            traces=traces,
            self_check=_self_check(settings),
        )
        alerts.watch("traces", traces.health.degraded)
        if engine.embedded is not None:
            alerts.watch("samples", engine.embedded.health.degraded)
        routers += [slo_router(engine.latest), alerts_router(alerts.center.active)]
    readiness = threading.Event()
    app = create_app(
        registry,
        ready=readiness.is_set,
        degraded=_degraded(engine, traces),
        routers=routers,
        auth=_read_auth(settings, web),
        docs=settings.web.docs,
        open_metrics=settings.web.open_metrics,
        lifespan=_lifespan(
            readiness,
            engine,
            alerts,
            settings.evaluation_interval,
            TracePruner(traces, settings.traces.prune_interval),
        ),
    )
    return Daemon(
        settings=settings,
        registry=registry,
        metrics=metrics,
        guard=guard,
        recorder=recorder,
        app=app,
        readiness=readiness,
        engine=engine,
        alerts=alerts,
        web=web,
    )


def _read_auth(settings: Settings, web: WebConfig | None) -> ReadAuth:
    """Who may read: the read token and the web configuration file's users (none: open)."""
    token = settings.web.read_token
    return ReadAuth(
        token=token.get_secret_value() if token is not None else None,
        users=web.users if web is not None else None,
    )


def _degraded(engine: SLOEngine | None, traces: TraceStore) -> list[Callable[[], str | None]]:
    """The readiness checks: the SLI source, the embedded samples, the trace store."""
    checks: list[Callable[[], str | None]] = [traces.health.degraded]
    if engine is not None:
        checks.insert(0, engine.health.degraded)
        if engine.embedded is not None:
            checks.insert(1, engine.embedded.health.degraded)
    return checks


def _self_check(settings: Settings) -> SelfCheckRules | None:
    """The thresholds of sloguard's alerts about itself (None when switched off)."""
    # ``self_alerts`` is read when Settings has it, else the defaults apply
    s: SelfAlertSettings = getattr(settings, "self_alerts", None) or SelfAlertSettings()
    if not s.enabled:
        return None
    return SelfCheckRules(
        interval=settings.evaluation_interval,
        error_for=s.error_for,
        outbox_age=s.outbox_age,
        watchdog=s.watchdog,
        repeat_interval=s.repeat_interval,
        receivers=s.receivers,
    )


def _trace_store(settings: Settings, failures: StorageFailures) -> TraceStore:
    """The trace store of ``<data_dir>/traces.sqlite``, bounded as the settings say."""
    t = settings.traces
    return TraceStore(
        settings.data_dir / "traces.sqlite",
        max_age_seconds=t.max_age,
        max_steps=t.max_steps,
        max_decisions=t.max_decisions,
        max_events=t.max_events,
        max_bytes=t.max_bytes,
        min_free_bytes=t.min_free_bytes,
        on_failure=failures,
    )


def _ingest(settings: Settings, recorder: Recorder, traces: TraceStore) -> APIRouter:
    """The ingest router (A2A traces, OTLP traces, events); pricing file errors are ConfigErrors."""
    i = settings.ingest
    overrides = {model: ModelPrice(p.input, p.output) for model, p in i.prices.items()}
    return ingest_router(
        recorder,
        token=i.token.get_secret_value() if i.token is not None else None,
        max_body_bytes=i.max_body_bytes,
        max_items=i.max_items,
        pricing=load_pricing(i.pricing_file, overrides=overrides),
        traces=traces,
        low_confidence=i.low_confidence,
        max_tool_calls=i.max_tool_calls,
    )


def _engine(
    settings: Settings, registry: CollectorRegistry, buckets: Buckets, failures: StorageFailures
) -> SLOEngine:
    """Load the SLO files (refusing to start on any problem) and pick the SLI source."""
    embedded = settings.prometheus.url is None
    interval = settings.evaluation_interval
    resolution = 4 * interval if embedded else 4 * settings.prometheus.scrape_interval
    slos = load_slo_files(
        [str(p) for p in settings.slo_files],
        latency_buckets=buckets.agent_latency,
        resolution=resolution,
        embedded=embedded,
        on_notice=lambda notice: log.info("slo file notice", notice=str(notice)),
    )
    self_metrics = SelfMetrics(registry)
    source: SLISource
    if embedded:
        samples = settings.data_dir / "samples.sqlite"
        try:
            health = StoreHealth("samples", on_failure=failures)
            source = EmbeddedSource(registry, slos, path=samples, interval=interval, health=health)
        except sqlite3.Error as exc:  # the source opens its file unmapped: say which file
            message = (
                f"cannot open the embedded samples: {exc}; check that the user sloguard runs "
                "as can write this file and its directory"
            )
            raise ConfigError([Problem(str(samples), None, "", message)]) from exc
    else:
        source = _prometheus_source(settings, resolution, self_metrics)
    engine = SLOEngine(slos, source, self_metrics=self_metrics)
    registry.register(SLOStateCollector(engine.latest))
    return engine


def _prometheus_source(
    settings: Settings, resolution: float, self_metrics: SelfMetrics
) -> SLISource:
    from sloguard.sources.prometheus import PrometheusSource

    p = settings.prometheus
    assert p.url is not None

    def fallback(slo: str) -> None:
        self_metrics.recorded_fallbacks.labels(slo).inc()

    return PrometheusSource(
        p.url,
        timeout=p.timeout,
        bearer_token=p.bearer_token.get_secret_value() if p.bearer_token else None,
        basic_auth=(
            (p.basic_auth.username, p.basic_auth.password.get_secret_value())
            if p.basic_auth is not None
            else None
        ),
        verify=_verify(settings),
        cert=_cert(settings),
        resolution=resolution,
        recorded_from=p.recorded_long_windows or None,
        on_fallback=fallback,
    )


def _cert(settings: Settings) -> str | tuple[str, str] | None:
    tls = settings.prometheus.tls
    if tls.cert_file is None:
        return None
    return (str(tls.cert_file), str(tls.key_file)) if tls.key_file else str(tls.cert_file)


def _verify(settings: Settings) -> bool | str:
    tls = settings.prometheus.tls
    if tls.insecure_skip_verify:
        return False
    return str(tls.ca_file) if tls.ca_file is not None else True


def _ensure_dir(settings: Settings) -> None:
    """Create the data dir and make sure files can be created in it (else a ConfigError).

    A read-only data dir would otherwise surface as a raw SQLite traceback from whichever store
    opens first; the probe file is anonymous where the OS allows it (nothing to clean up).
    """
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        problem = Problem(
            str(settings.data_dir), None, "data_dir", f"cannot create directory: {exc.strerror}"
        )
        raise ConfigError([problem]) from exc
    try:
        tempfile.TemporaryFile(dir=settings.data_dir).close()
    except OSError as exc:
        message = (
            f"cannot write here ({exc.strerror}); make the directory writable by the user "
            "sloguard runs as, or set data_dir ($SLOGUARD_DATA_DIR, --data-dir) to one that is"
        )
        raise ConfigError([Problem(str(settings.data_dir), None, "data_dir", message)]) from exc


def _lifespan(
    readiness: threading.Event,
    engine: SLOEngine | None,
    alerts: AlertRuntime | None,
    interval: float,
    pruner: TracePruner,
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
                results = await engine.tick(now)
                alerts.center.process(results, now)
                alerts.check_self(results, now)

            schedule = EvaluationSchedule(tick, interval, self_metrics=engine.self_metrics)
            schedule.start()
        pruner.start()  # every mode: retention runs in its own thread, off the event loop
        readiness.set()
        try:
            yield
        finally:
            readiness.clear()
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
