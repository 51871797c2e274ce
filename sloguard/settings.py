"""Process settings of the daemon: one YAML file, then ``SLOGUARD_*`` env, then CLI flags.

Precedence (later wins): defaults < settings file < environment < command-line flags. The file is
``--config FILE`` or ``$SLOGUARD_CONFIG``; environment variables are ``SLOGUARD_<FIELD>``, nested
with ``__`` (``SLOGUARD_METRICS__DEFAULT_LABEL_LIMIT=200``); lists and mappings are JSON
(``SLOGUARD_METRICS__BUCKETS__AGENT_LATENCY='[0.5, 1, 2, 5]'``); empty variables are ignored.

Secrets (``ingest.token``, ``prometheus.bearer_token``, ``prometheus.basic_auth.password``) are
``SecretStr``, come only from the environment (a settings file is reviewed and committed like
code, so a secret in it is a problem) and are never shown: not in ``repr``, logs or messages.

The HTTP port defaults to 9464 (the port the OpenTelemetry Prometheus exporter uses; scrape
configs written for an OTel exporter find sloguard there too).

Example::

    settings = load_settings("config/sloguard.yaml")        # raises ConfigError listing problems
    settings.port, settings.metrics.buckets.agent_latency
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from enum import StrEnum
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal
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
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from sloguard import conventions as c
from sloguard import envlayer
from sloguard.budget import parse_duration
from sloguard.errors import ConfigError, Problem
from sloguard.sdk.guard import DEFAULT_LIMIT
from sloguard.yamldoc import (
    FieldPath,
    YamlDoc,
    dotted,
    error_message,
    is_under,
    load_yaml,
    secret_paths,
    show,
    suggest,
)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9464
ENV_PREFIX = "SLOGUARD_"
ENV_DELIMITER = envlayer.DELIMITER
CONFIG_ENV = "SLOGUARD_CONFIG"
#: ``Problem.file`` of values given as command-line flags.
COMMAND_LINE = "command line"


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


class MetricsSettings(_Section):
    """Metric families: buckets and the cardinality guard for client-given label values."""

    buckets: BucketSettings = BucketSettings()
    default_label_limit: PositiveInt = DEFAULT_LIMIT
    """Distinct values per client label before new ones become ``_other``."""
    label_limits: dict[ClientLabel, PositiveInt] = {}
    """Per-label limits, e.g. ``{agent_name: 100}``."""
    label_allowlists: dict[ClientLabel, frozenset[str]] = {}
    """Per-label allowlists: only these values pass, others become ``_other``."""


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
    """Seconds per query."""
    bearer_token: SecretStr | None = None
    basic_auth: BasicAuth | None = None
    tls: TLSSettings = TLSSettings()
    scrape_interval: Seconds = 15.0
    """How often Prometheus scrapes the agents: windows below 4 intervals are raised."""

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


class Settings(BaseSettings):
    """Settings of one sloguard process; build it with :func:`load_settings`.

    ``Settings(**values)`` validates exactly ``values`` (on top of the defaults);
    :func:`load_settings` assembles them from the file, the environment and flags.
    """

    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        use_attribute_docstrings=True,
        case_sensitive=True,
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER,
        env_ignore_empty=True,
    )

    host: Annotated[str, Field(min_length=1)] = DEFAULT_HOST
    """Address to listen on; 0.0.0.0 to be scraped from other hosts."""
    port: Annotated[int, Field(ge=1, le=65535)] = DEFAULT_PORT
    """The one HTTP port: /metrics, probes, API and ingest (default 9464)."""
    mode: Annotated[Mode, BeforeValidator(_lower)] = Mode.ALL
    data_dir: Path = Path("data")
    """Embedded SLI samples, alert state and the notification outbox."""
    log_level: LogLevel = "info"
    log_format: LogFormat = "json"
    slo_files: tuple[Path, ...] = ()
    """SLO documents to evaluate (``sloguard validate`` checks them)."""
    evaluation_interval: Seconds = 30.0
    """Seconds between SLO evaluations (and embedded samples)."""
    routing_file: Path | None = None
    """Receivers and routes for alerts (default: everything to the console)."""
    external_url: str = ""
    """How people reach this daemon (links in notifications), e.g. https://sloguard.example."""
    no_data_after: Seconds = 600.0
    """Seconds of no data before an SLONoData alert fires."""
    drain_timeout: Seconds = 10.0
    """Seconds to keep delivering queued notifications after SIGTERM."""
    metrics: MetricsSettings = MetricsSettings()
    prometheus: PrometheusSettings = PrometheusSettings()
    ingest: IngestSettings = IngestSettings()
    traces: TracesSettings = TracesSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load_settings() reads the environment itself (so an explicit mapping can stand in
        # for os.environ and every problem names its variable); construction reads only kwargs.
        return (init_settings,)


#: Field paths holding secrets: only from the environment, never shown.
SECRET_PATHS: tuple[FieldPath, ...] = tuple(secret_paths(Settings))


def env_name(path: FieldPath) -> str:
    """Return the environment variable that sets the field at ``path``."""
    return envlayer.env_name(path, ENV_PREFIX)


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        below = out.get(key)
        if isinstance(below, dict) and isinstance(value, Mapping):
            out[key] = _merge(below, value)
        else:
            out[key] = value
    return out


def _file_layer(path: str, problems: list[Problem]) -> tuple[dict[str, Any], YamlDoc | None]:
    try:
        doc = load_yaml(path)
    except ConfigError as exc:
        problems.extend(exc.problems)
        return {}, None
    problems.extend(doc.problems)
    if doc.data is None:
        return {}, doc
    if not isinstance(doc.data, dict):
        problems.append(doc.problem((), f"expected a mapping of settings (got {show(doc.data)})"))
        return {}, doc
    data: dict[str, Any] = {}
    for key, value in doc.data.items():
        # Keys are passed as keyword arguments: never let one reach BaseSettings' own
        # ``_env_file``/``_cli_parse_args``/... parameters.
        if isinstance(key, str) and not key.startswith("_"):
            data[key] = value
        else:
            hint = suggest(str(key), Settings.model_fields)
            problems.append(doc.problem((key,), f"unknown key {key!r}{hint}"))
    for secret in SECRET_PATHS:
        if _get(data, secret) is not None:
            problems.append(
                doc.problem(
                    secret,
                    f"secrets are not read from settings files; set {env_name(secret)} instead",
                )
            )
            data = _without(data, secret)
    return data, doc


def _get(data: Mapping[str, Any], path: FieldPath) -> Any:
    node: Any = data
    for part in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _without(data: dict[str, Any], path: FieldPath) -> dict[str, Any]:
    out = dict(data)
    if len(path) == 1:
        out.pop(path[0], None)
    else:
        out[path[0]] = _without(out[path[0]], path[1:])
    return out


def _locate(
    loc: FieldPath, doc: YamlDoc | None, origins: Mapping[FieldPath, str]
) -> tuple[str, int | None]:
    """Return where the value at ``loc`` came from: (``Problem.file``, line)."""
    given = [p for p in origins if loc[: len(p)] == p]
    if given:
        return origins[max(given, key=len)], None
    if doc is not None:
        return doc.file, doc.line(loc)
    below = [origin for p, origin in origins.items() if p[: len(loc)] == loc]
    return (below[0] if below else "settings"), None


def load_settings(
    config_path: str | None = None,
    env: Mapping[str, str] | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Load settings from the file, ``env`` (default ``os.environ``) and flag ``overrides``.

    The file is ``config_path`` or ``$SLOGUARD_CONFIG``; without either only env and defaults
    apply. Raise :class:`ConfigError` listing every problem: file and line for values from the
    file, ``$SLOGUARD_…`` for values from the environment, ``command line`` for overrides, each
    with the dotted field and the offending value (secrets hidden).
    """
    environ = os.environ if env is None else env
    path: str | None = config_path or environ.get(CONFIG_ENV) or None
    problems: list[Problem] = []
    file_data, doc = _file_layer(path, problems) if path else ({}, None)
    layer = envlayer.read_env(
        Settings, environ, prefix=ENV_PREFIX, skip={CONFIG_ENV}, secrets=SECRET_PATHS
    )
    problems.extend(layer.problems)
    flags = dict(overrides or {})
    origins = {**layer.origins, **{(key,): COMMAND_LINE for key in flags}}
    merged = _merge(_merge(file_data, layer.data), flags)
    settings: Settings | None = None
    try:
        settings = Settings(**merged)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            file, line = _locate(loc, doc, origins)
            hide = is_under(loc, SECRET_PATHS)
            message = error_message(err, model=Settings, hide_input=hide)
            problems.append(Problem(file, line, dotted(loc), message))
    if problems or settings is None:
        first = doc.file if doc is not None else path
        problems.sort(key=lambda p: (p.file != first, p.file, p.line or 0))
        raise ConfigError(problems)
    return settings
