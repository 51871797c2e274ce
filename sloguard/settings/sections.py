"""The sections of the daemon's settings and the value types they are made of.

``metrics`` (:class:`MetricsSettings`: histogram buckets, the cardinality guard), ``prometheus``
(:class:`PrometheusSettings`: the queried API, its auth and TLS), ``ingest``
(:class:`IngestSettings`: the HTTP ingest endpoints, prices, anomaly thresholds) and ``traces``
(:class:`TracesSettings`: the trace store's retention) are frozen pydantic models that refuse
unknown keys; each field's docstring is its documentation. The value types (:data:`Bounds`,
:data:`Seconds`, :data:`Duration`, :data:`StoreBytes`, …) check and normalise one value each;
``7d`` and ``512MiB`` are read here. Where the values come from, and which win:
:mod:`sloguard.settings.model`.

Example::

    TracesSettings(max_age="7d", max_bytes="2GiB").max_bytes   # 2147483648
"""

from __future__ import annotations

import math
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ByteSize,
    ConfigDict,
    Field,
    FilePath,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from sloguard import conventions as c
from sloguard.durations import parse_duration
from sloguard.sdk.guard import DEFAULT_LIMIT, DEFAULT_SERIES_BUDGET
from sloguard.yamldoc import suggest

__all__ = [
    "BasicAuth",
    "Bounds",
    "BucketSettings",
    "ClientLabel",
    "Duration",
    "IngestSettings",
    "LogFormat",
    "LogLevel",
    "MetricsSettings",
    "Mode",
    "ModeName",
    "ModelPriceSettings",
    "PositiveInt",
    "PrometheusSettings",
    "Seconds",
    "SelfAlertSettings",
    "StoreBytes",
    "TLSSettings",
    "TracesSettings",
    "WebSettings",
]


class Mode(StrEnum):
    """What ``sloguard run`` runs (DESIGN §1)."""

    ALL = "all"
    EXPORTER = "exporter"
    EVALUATOR = "evaluator"


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _bounds(bounds: tuple[float, ...]) -> tuple[float, ...]:
    if not bounds:
        raise ValueError("must list at least one bucket bound")
    for b in bounds:
        if not math.isfinite(b) or b <= 0:
            raise ValueError(
                f"bucket bounds must be positive and finite, {b} is not "
                "(+Inf is added automatically)"
            )
    for a, b in pairwise(bounds):
        if b <= a:
            raise ValueError(f"bucket bounds must be strictly increasing, {b} follows {a}")
    return bounds


def _confidence_bounds(bounds: tuple[float, ...]) -> tuple[float, ...]:
    if bounds and bounds[-1] > 1:
        raise ValueError(f"confidence buckets must be within 0..1, {bounds[-1]} is not")
    return bounds


def _client_label(label: str) -> str:
    if label not in c.CLIENT_LABELS:
        raise ValueError(f"unknown client label {label!r}{suggest(label, c.CLIENT_LABELS)}")
    return label


def _http_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL")
    return url.rstrip("/")


Bounds = Annotated[tuple[float, ...], AfterValidator(_bounds)]
ClientLabel = Annotated[str, AfterValidator(_client_label)]
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
LogLevel = Annotated[
    Literal["debug", "info", "warning", "error", "critical"], BeforeValidator(_lower)
]
LogFormat = Annotated[Literal["json", "console"], BeforeValidator(_lower)]

#: A :class:`Mode` in any case (``ALL`` is ``all``).
ModeName = Annotated[Mode, BeforeValidator(_lower)]

PositiveInt = Annotated[int, Field(ge=1)]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class BucketSettings(_Section):
    """Histogram bucket bounds; defaults contain the seed's. +Inf is added automatically."""

    agent_latency: Bounds = c.AGENT_LATENCY_BUCKETS
    """Seconds; latency SLO thresholds must be one of these bounds."""
    tool_duration: Bounds = c.TOOL_DURATION_BUCKETS
    """Seconds."""
    decision_confidence: Annotated[Bounds, AfterValidator(_confidence_bounds)] = (
        c.DECISION_CONFIDENCE_BUCKETS
    )
    """Confidence, within 0..1."""
    workflow_duration: Bounds = c.WORKFLOW_DURATION_BUCKETS
    """Seconds per end-to-end run; workflow_latency SLO thresholds must be one of these."""
    workflow_cost: Bounds = c.WORKFLOW_COST_BUCKETS
    """US dollars per run; workflow_cost SLO budgets (max_cost_usd) must be one of these."""
    workflow_tokens: Bounds = c.WORKFLOW_TOKEN_BUCKETS
    """Tokens per run."""


class MetricsSettings(_Section):
    """Metric families: buckets and the cardinality guard for client-given label values."""

    buckets: BucketSettings = BucketSettings()
    default_label_limit: PositiveInt = DEFAULT_LIMIT
    """Distinct values per client label before new ones become ``_other``."""
    label_limits: dict[ClientLabel, PositiveInt] = {}
    """Per-label limits, e.g. ``{agent_name: 100}``."""
    label_allowlists: dict[ClientLabel, frozenset[str]] = {}
    """Per-label allowlists: only these values pass, others become ``_other``."""
    series_budget: PositiveInt = DEFAULT_SERIES_BUDGET
    """Series all agent metric families may hold together; combinations of label values beyond
    it are recorded under ``_other``. The default keeps a full ``/metrics`` under ~10k series."""
    family_series_budgets: dict[str, PositiveInt] = {}
    """Per-family budgets, e.g. ``{agent_tool_call_seconds: 2600}``; other families get their
    default share of ``series_budget`` (the GenAI families: the whole ``series_budget``)."""
    created_series: bool = False
    """Expose the ``_created`` series of counters and histograms (off: one series less per
    counter and histogram child; the daemon then drops them from its own metrics too)."""
    gen_ai_metrics: bool = False
    """Also record the OpenTelemetry GenAI client metrics ``gen_ai_client_token_usage`` and
    ``gen_ai_client_operation_duration_seconds`` for agent calls, beside ``agent_*``."""

    @field_validator("family_series_budgets")
    @classmethod
    def _known_families(cls, budgets: dict[str, int]) -> dict[str, int]:
        known = c.AGENT_FAMILIES | c.GEN_AI_FAMILIES
        for family in budgets:
            if family not in known:
                hint = suggest(family, known)
                raise ValueError(f"unknown metric family {family!r}{hint}")
        return budgets


class BasicAuth(_Section):
    """HTTP basic auth towards Prometheus."""

    username: Annotated[str, Field(min_length=1)]
    password: SecretStr


class TLSSettings(_Section):
    """TLS towards Prometheus; relative paths are relative to the working directory."""

    ca_file: FilePath | None = None
    cert_file: FilePath | None = None
    key_file: FilePath | None = None
    insecure_skip_verify: bool = False

    @model_validator(mode="after")
    def _key_needs_cert(self) -> TLSSettings:
        if self.key_file is not None and self.cert_file is None:
            raise ValueError("key_file needs cert_file")
        return self


class PrometheusSettings(_Section):
    """The Prometheus HTTP API the evaluator queries; without ``url`` SLIs are embedded."""

    url: Annotated[str, AfterValidator(_http_url)] | None = None
    timeout: Seconds = 10.0
    """Deadline of one query in seconds, the whole answer included (a slow or endless answer is
    an evaluation error, not a hang)."""
    bearer_token: SecretStr | None = None
    basic_auth: BasicAuth | None = None
    tls: TLSSettings = TLSSettings()
    scrape_interval: Seconds = 15.0
    """How often Prometheus scrapes the agents: windows below 4 intervals are raised."""
    recorded_long_windows: (
        Literal["auto", False] | Annotated[float, Field(ge=3600, allow_inf_nan=False)]
    ) = "auto"
    """Where long windows are read from. ``auto`` (the default): from the rates that
    ``sloguard rules`` records (``slo:sli_total:rate5m``, …) for the SLOs whose records are in
    Prometheus (checked every 10 minutes), windows of 6h and more, as far as the records reach
    back; raw counters otherwise. A duration (seconds or e.g. ``1d``): every window at least
    this long is asked of the records first (an SLO whose records are missing is read from raw
    counters, logged as a warning, counted). ``false``: always raw counters."""

    @field_validator("recorded_long_windows", mode="before")
    @classmethod
    def _recorded_duration(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.lower() in ("false", "off", "no"):
                return False
            if text.lower() == "auto":
                return "auto"
            try:
                return float(text)
            except ValueError:
                return parse_duration(text)
        return value

    @model_validator(mode="after")
    def _one_auth(self) -> PrometheusSettings:
        if self.bearer_token is not None and self.basic_auth is not None:
            raise ValueError("set either bearer_token or basic_auth, not both")
        return self


class ModelPriceSettings(_Section):
    """The price of one model, in US dollars per 1M tokens."""

    input: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    output: Annotated[float, Field(ge=0, allow_inf_nan=False)]


class IngestSettings(_Section):
    """The HTTP ingest endpoints (/v1/traces, /v1/a2a/traces, /v1/events)."""

    token: SecretStr | None = None
    """When set, ingest requests need ``Authorization: Bearer <token>``."""
    max_body_bytes: PositiveInt = 4 * 1024 * 1024
    """Larger request bodies are answered with 413."""
    max_items: PositiveInt = 1000
    """Traces or events per request; more are answered with 422."""
    pricing_file: FilePath | None = None
    """A pricing table replacing the packaged, dated one (same format as
    ``sloguard/data/pricing.yaml``)."""
    prices: dict[Annotated[str, Field(min_length=1)], ModelPriceSettings] = {}
    """Per-model prices over the table, e.g. ``{my-model: {input: 3.0, output: 12.0}}``."""
    low_confidence: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 0.3
    """Decisions with a lower confidence count as ``low_confidence`` anomalies."""
    max_tool_calls: Annotated[int, Field(ge=0)] = 20
    """More tool calls in one agent invocation (or turn of decisions) count as
    ``runaway_tool_calls`` anomalies."""
    otlp_window: Duration = 30.0
    """How long OTLP spans wait for the rest of their trace (exporters send children before
    parents, in several requests); a trace whose spans all arrived is read at once."""
    otlp_max_waiting_spans: PositiveInt = 100_000
    """Spans that may wait in all; beyond, the oldest traces are read as they are."""
    forward_traces_to: Annotated[str, AfterValidator(_http_url)] | None = None
    """A sidecar without a shared database sends every trace it stores to this central
    daemon (``http://central:9464``; its ``/v1/traces/store``, counting nothing again)."""
    forward_token: SecretStr | None = None
    """The central daemon's ingest token, sent with forwarded traces."""


def _duration(value: object) -> object:
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            return parse_duration(text)  # ValueError: "not a duration: … (use e.g. 30d, …)"
    return value


_BYTES = TypeAdapter(ByteSize)


def _byte_size(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("must be a number of bytes or a size such as 512MiB or 2GiB")
    try:
        return int(_BYTES.validate_python(value))
    except ValidationError:
        raise ValueError("must be a number of bytes or a size such as 512MiB or 2GiB") from None


#: Seconds as a number, or a duration such as ``7d``, ``12h``, ``90s`` or ``1h30m``.
Duration = Annotated[float, BeforeValidator(_duration), Field(gt=0, allow_inf_nan=False)]
#: Bytes as a number, or a size such as ``512MiB``, ``2GiB`` or ``500MB``; at least 1 MiB.
StoreBytes = Annotated[int, BeforeValidator(_byte_size), Field(ge=1024 * 1024)]


class TracesSettings(_Section):
    """The trace store (``<data_dir>/traces.sqlite``): traces, decision records and events for
    ``sloguard trace`` and the traces API, bounded by age and size and pruned in the background
    in every mode."""

    max_age: Duration = 7 * 86400.0
    """How long anything is kept after it was stored: seconds or a duration (``7d``, ``12h``)."""
    max_steps: PositiveInt = 1_000_000
    """Trace steps kept in all; the oldest traces go first."""
    max_decisions: PositiveInt = 1_000_000
    """Decision records kept; the oldest go first."""
    max_events: PositiveInt = 1_000_000
    """Plain events kept; the oldest go first."""
    max_bytes: StoreBytes = 512 * 1024 * 1024
    """Size of the database file: bytes or a size (``512MiB``, ``2GiB``), at least 1 MiB.
    Pruning starts at 90 % and frees down to 80 %."""
    prune_interval: Duration = 60.0
    """Seconds or a duration between retention passes (a filling store also starts one)."""
    min_free_bytes: Annotated[int, BeforeValidator(_byte_size), Field(ge=0)] = 64 * 1024 * 1024
    """Free space kept on the data dir's file system: bytes or a size (``64MiB``; 0: off).
    Below it the trace store refuses writes (counted in ``sloguard_storage_failures_total``,
    ``/readyz`` degraded) and prunes what it holds by the shortfall; the SLO samples and the
    alert state, which share the directory, keep the space they need."""


class WebSettings(_Section):
    """Who may read the daemon (``/api/v1/*``, ``/ui/``, ``/metrics``, ``/openapi.json``) and
    how it serves. Without ``config_file`` and ``read_token`` everything is open, as before; the
    ingest (``/v1/*``) has its own token and ``/healthz``, ``/readyz`` stay open for probes."""

    config_file: FilePath | None = None
    """A web configuration file in Prometheus's ``--web.config.file`` format:
    ``basic_auth_users`` (bcrypt hashes) and ``tls_server_config`` (``cert_file``,
    ``key_file``: serve HTTPS)."""
    read_token: SecretStr | None = None
    """When set, reads are also allowed with ``Authorization: Bearer <token>``."""
    docs: bool = False
    """Serve the API documentation page at ``/docs`` (rendered by the daemon, no scripts)."""
    open_metrics: bool = False
    """Serve ``/metrics`` without credentials even when reads need them (for a scraper that
    cannot send any; prefer giving it the read token or a basic-auth user)."""


class SelfAlertSettings(_Section):
    """Alerts sloguard raises about itself, sent through the receivers that still work:
    ``SloguardEvaluationErrors``, ``SloguardOutboxStale``, ``SloguardStorageFailure``,
    ``SloguardReceiverDisabled`` and the always-firing ``SloguardWatchdog`` for Alertmanager."""

    enabled: bool = True
    """False: no self-alerts at all."""
    error_for: PositiveInt = 5
    """Evaluation intervals an SLO's evaluations must stay ``error`` before it alerts."""
    outbox_age: Duration = 900.0
    """Seconds or a duration (``15m``) a notification may wait for delivery before its
    receiver's outbox alerts."""
    watchdog: bool | None = None
    """The always-firing ``SloguardWatchdog`` (a dead man's switch, re-sent at each
    Alertmanager receiver's ``resend_after``); unset: on when an Alertmanager receiver exists."""
    repeat_interval: Duration = 4 * 3600.0
    """Seconds or a duration between reminders of a firing self-alert (Alertmanager receivers
    are re-sent at their ``resend_after``)."""
    receivers: tuple[Annotated[str, Field(min_length=1)], ...] = ()
    """Receivers of the routing file for self-alerts; empty: every receiver. Disabled or failing
    receivers are skipped; if none of these works, every working receiver gets them."""
