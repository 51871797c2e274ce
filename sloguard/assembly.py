"""The parts of ``sloguard run``, each built from settings; :mod:`sloguard.daemon` wires them.

One function per part: the data directory check, the metrics and recorder, the trace store,
the ingest and data routers, the SLO engine and its SLI source (Prometheus or embedded), the
alert runtime, who may read and what readiness checks. Each raises :class:`ConfigError` on a
problem of the settings or the files they name; none starts a thread or serves.

Example::

    ensure_data_dir(settings)
    parts = recording(settings, registry)
    traces = trace_store(settings, StorageFailures(registry))
"""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import APIRouter
from prometheus_client import CollectorRegistry, disable_created_metrics

from sloguard.alerting.leader import LeaseTiming
from sloguard.alerting.leading import replica_id
from sloguard.alerting.runtime import AlertRuntime
from sloguard.alerting.selfcheck import SelfCheckRules
from sloguard.alerting.storebase import AlertStore
from sloguard.errors import ConfigError, MissingExtra, Problem
from sloguard.evaluation.engine import SLOEngine
from sloguard.evaluation.selfmetrics import SelfMetrics
from sloguard.evaluation.slostate import SLOStateCollector
from sloguard.ingest.forward import TraceForwarder
from sloguard.ingest.pricing import ModelPrice, load_pricing
from sloguard.ingest.router import ingest_router
from sloguard.notify.config import AlertRouting
from sloguard.sdk.guard import CardinalityGuard
from sloguard.sdk.metrics import AgentMetrics, Buckets
from sloguard.sdk.recorder import Recorder
from sloguard.settings.model import Settings
from sloguard.settings.sections import Mode, SelfAlertSettings
from sloguard.settings.webconfig import WebConfig
from sloguard.slo.loader import load_slo_files
from sloguard.sources.base import SLISource
from sloguard.sources.embedded import EmbeddedSource, open_sample_store
from sloguard.tracestore.base import TraceStore
from sloguard.tracestore.store import SqliteTraceStore
from sloguard.tracestore.storehealth import StorageFailures, StoreHealth
from sloguard.web.auth import ReadAuth
from sloguard.web.tracesapi import traces_router
from sloguard.web.ui import ui_router

# Named as the daemon: these lines were logged from there before the split, keep their name.
log = structlog.get_logger("sloguard.daemon")


@dataclass(frozen=True, slots=True)
class Recording:
    """The agent metrics on one registry, their cardinality guard and the recorder over both."""

    buckets: Buckets
    metrics: AgentMetrics
    guard: CardinalityGuard
    recorder: Recorder


def recording(settings: Settings, registry: CollectorRegistry) -> Recording:
    """The agent metrics (with the settings' buckets), the guard and the recorder."""
    m = settings.metrics
    buckets = Buckets(
        agent_latency=m.buckets.agent_latency,
        tool_duration=m.buckets.tool_duration,
        decision_confidence=m.buckets.decision_confidence,
        workflow_duration=m.buckets.workflow_duration,
        workflow_cost=m.buckets.workflow_cost,
        workflow_tokens=m.buckets.workflow_tokens,
    )
    metrics = AgentMetrics(
        registry=registry,
        buckets=buckets,
        created_series=m.created_series,
        gen_ai=m.gen_ai_metrics,
    )
    if not m.created_series:
        # The daemon's own process: its self metrics drop _created as well (process-wide).
        disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus_client
    guard = CardinalityGuard(
        limits=m.label_limits,
        allowlists=m.label_allowlists,
        default_limit=m.default_label_limit,
        series_budget=m.series_budget,
        family_series_budgets=m.family_series_budgets,
    )
    return Recording(buckets, metrics, guard, Recorder(metrics, guard))


def read_auth(settings: Settings, web: WebConfig | None) -> ReadAuth:
    """Who may read: the read token and the web configuration file's users (none: open)."""
    token = settings.web.read_token
    return ReadAuth(
        token=token.get_secret_value() if token is not None else None,
        users=web.users if web is not None else None,
    )


def readiness_checks(
    engine: SLOEngine | None, traces: TraceStore
) -> list[Callable[[], str | None]]:
    """The readiness checks: the SLI source, the embedded samples, the trace store."""
    checks: list[Callable[[], str | None]] = [traces.health.degraded]
    if engine is not None:
        checks.insert(0, engine.health.degraded)
        if engine.embedded is not None:
            checks.insert(1, engine.embedded.health.degraded)
    return checks


def self_check_rules(settings: Settings) -> SelfCheckRules | None:
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


def alert_runtime(
    settings: Settings,
    registry: CollectorRegistry,
    engine: SLOEngine,
    traces: TraceStore,
    *,
    routing: AlertRouting | None,
) -> AlertRuntime:
    """Alert state, routing and delivery, watching the trace store and embedded samples; on
    the shared PostgreSQL database when ``storage.url`` is set (replicas then compete for the
    leadership lease, timed from the evaluation interval)."""
    store, lease = alert_store(settings)
    alerts = AlertRuntime(
        settings.data_dir,
        registry=registry,
        routing_file=settings.routing_file,
        routing=routing,
        external_url=settings.external_url,
        no_data_after=settings.no_data_after,
        drain_timeout=settings.drain_timeout,
        silence_retention=settings.silence_retention,
        traces=traces,
        self_check=self_check_rules(settings),
        store=store,
        lease=lease,
    )
    alerts.watch("traces", traces.health.degraded)
    if engine.embedded is not None:
        alerts.watch("samples", engine.embedded.health.degraded)
    return alerts


def alert_store(settings: Settings) -> tuple[AlertStore | None, LeaseTiming | None]:
    """The alert store on the shared database and its lease timing, or (None, None): SQLite
    in ``data_dir``, one replica, always the leader. Its own small pool (the trace store keeps
    its own). An unusable database is a ConfigError."""
    storage = settings.storage
    if storage.url is None:
        return None, None
    try:  # psycopg is imported only when a database is configured
        from sloguard.alerting.pgstore import ALERTS, PgAlertStore
        from sloguard.postgres.pool import connect
    except ImportError as exc:
        if not (exc.name or "").startswith("psycopg"):
            raise
        raise MissingExtra("storage.url", "postgres", exc.name or "psycopg") from None
    password = storage.password.get_secret_value() if storage.password else None
    db = connect(
        storage.url,
        password=password,
        components=[ALERTS],
        max_size=min(4, storage.pool_size),
        timeout=storage.timeout,
        application_name="sloguard-alerts",
    )
    lease = LeaseTiming.of(settings.evaluation_interval)
    store = PgAlertStore(db, holder=replica_id(), claim_ttl=lease.ttl, owns_db=True)
    return store, lease


def trace_store(settings: Settings, failures: StorageFailures) -> TraceStore:
    """The trace store, bounded as the settings say: on the shared PostgreSQL database when
    ``storage.url`` is set (every mode: sidecars write there, evaluators read), else
    ``<data_dir>/traces.sqlite``. An unusable database is a ConfigError."""
    t = settings.traces
    bounds: dict[str, Any] = {
        "max_age_seconds": t.max_age,
        "max_steps": t.max_steps,
        "max_decisions": t.max_decisions,
        "max_events": t.max_events,
        "max_bytes": t.max_bytes,
        "on_failure": failures,
    }
    storage = settings.storage
    if storage.url is not None:
        try:  # psycopg is imported only when a database is configured
            from sloguard.tracestore.pgstore import open_pg_trace_store
        except ImportError as exc:
            if not (exc.name or "").startswith("psycopg"):
                raise
            raise MissingExtra("storage.url", "postgres", exc.name or "psycopg") from None
        password = storage.password.get_secret_value() if storage.password else None
        return open_pg_trace_store(
            storage.url,
            password=password,
            pool_size=storage.pool_size,
            timeout=storage.timeout,
            **bounds,
        )
    return SqliteTraceStore(
        settings.data_dir / "traces.sqlite", min_free_bytes=t.min_free_bytes, **bounds
    )


def data_routers(
    settings: Settings,
    recorder: Recorder,
    traces: TraceStore,
    forwarder: TraceForwarder | None = None,
) -> list[APIRouter]:
    """The traces API, the web page and (but in evaluator mode) the ingest router, which tells
    ``forwarder`` of every trace it stores; an evaluator with an ingest token serves only the
    store-only endpoint of forwarded traces."""
    routers = [
        traces_router(
            traces,
            low_confidence=settings.ingest.low_confidence,
            max_tool_calls=settings.ingest.max_tool_calls,
        ),
        ui_router(),
    ]
    if settings.mode is not Mode.EVALUATOR:
        routers.append(ingest(settings, recorder, traces, forwarder))
    elif settings.ingest.token is not None:
        routers.append(ingest(settings, recorder, traces, store_only=True))
    return routers


def trace_forwarder(settings: Settings, registry: CollectorRegistry) -> TraceForwarder | None:
    """What sends stored traces to ``ingest.forward_traces_to`` (None: not set, or evaluator)."""
    i = settings.ingest
    if i.forward_traces_to is None or settings.mode is Mode.EVALUATOR:
        return None
    token = i.forward_token.get_secret_value() if i.forward_token is not None else None
    return TraceForwarder(i.forward_traces_to, token=token, registry=registry)


def ingest(
    settings: Settings,
    recorder: Recorder,
    traces: TraceStore,
    forwarder: TraceForwarder | None = None,
    *,
    store_only: bool = False,
) -> APIRouter:
    """The ingest router (A2A traces, OTLP traces, events, forwarded traces; ``store_only``:
    the last alone); pricing file errors are ConfigErrors."""
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
        otlp_window=i.otlp_window,
        otlp_max_waiting_spans=i.otlp_max_waiting_spans,
        on_stored=forwarder.forward if forwarder is not None else None,
        store_only=store_only,
    )


def slo_engine(
    settings: Settings, registry: CollectorRegistry, buckets: Buckets, failures: StorageFailures
) -> SLOEngine:
    """Load the SLO files (refusing to start on any problem) and pick the SLI source."""
    embedded = settings.prometheus.url is None
    interval = settings.evaluation_interval
    resolution = 4 * interval if embedded else 4 * settings.prometheus.scrape_interval
    slos = load_slo_files(
        [str(p) for p in settings.slo_files],
        latency_buckets=buckets.agent_latency,
        workflow_buckets=(buckets.workflow_duration, buckets.workflow_cost),
        resolution=resolution,
        embedded=embedded,
        on_notice=lambda notice: log.info("slo file notice", notice=str(notice)),
    )
    self_metrics = SelfMetrics(registry)
    source: SLISource
    if embedded:  # samples in data_dir, or shared: each replica writes as host:port
        s = settings.storage
        store = open_sample_store(
            settings.data_dir / "samples.sqlite",
            url=s.url,
            password=s.password.get_secret_value() if s.password else None,
            pool_size=min(2, s.pool_size),
            timeout=s.timeout,
            process=f"{socket.gethostname()}:{settings.port}",
        )
        health = StoreHealth("samples", on_failure=failures)
        source = EmbeddedSource(registry, slos, interval=interval, health=health, store=store)
    else:
        source = prometheus_source(settings, resolution, self_metrics)
    engine = SLOEngine(slos, source, self_metrics=self_metrics)
    registry.register(SLOStateCollector(engine.latest))
    return engine


def prometheus_source(
    settings: Settings, resolution: float, self_metrics: SelfMetrics
) -> SLISource:
    """The Prometheus SLI source of ``settings.prometheus`` (its URL is set)."""
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


def ensure_data_dir(settings: Settings) -> None:
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
