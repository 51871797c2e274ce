"""Process settings of the daemon: one YAML file, then ``SLOGUARD_*`` env, then CLI flags.

Precedence (later wins): defaults < settings file < environment < command-line flags. The file is
``--config FILE`` or ``$SLOGUARD_CONFIG``; environment variables are ``SLOGUARD_<FIELD>``, nested
with ``__`` (``SLOGUARD_METRICS__DEFAULT_LABEL_LIMIT=200``); lists and mappings are JSON
(``SLOGUARD_METRICS__BUCKETS__AGENT_LATENCY='[0.5, 1, 2, 5]'``); empty variables are ignored.
A variable that looks like a setting but names none (``SLOGUARD_INGEST_TOKEN``) is a problem, with
the closest setting's variable; other ``SLOGUARD_*`` names (routing secrets such as
``SLOGUARD_SLACK_TOKEN``) are left alone (the rule: :mod:`sloguard.settings.envlayer`).

Secrets (``ingest.token``, ``ingest.forward_token``, ``prometheus.bearer_token``,
``prometheus.basic_auth.password``) are ``SecretStr``, come only from the environment (a settings
file is reviewed and committed like code, so a secret in it is a problem) and are never shown:
not in ``repr``, logs or messages.

The HTTP port defaults to 9464 (the port the OpenTelemetry Prometheus exporter uses; scrape
configs written for an OTel exporter find sloguard there too). The sections (``metrics``,
``prometheus``, ``ingest``, ``traces``) and the value types they use are in
:mod:`sloguard.settings.sections`; this module is :class:`Settings` and how it is loaded.

Example::

    settings = load_settings("config/sloguard.yaml")        # raises ConfigError listing problems
    settings.port, settings.metrics.buckets.agent_latency
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from sloguard.errors import ConfigError, Problem
from sloguard.postgres.url import split_password
from sloguard.settings import envlayer
from sloguard.settings.sections import (
    IngestSettings,
    LogFormat,
    LogLevel,
    MetricsSettings,
    Mode,
    ModeName,
    PrometheusSettings,
    Seconds,
    SelfAlertSettings,
    TracesSettings,
    WebSettings,
)
from sloguard.settings.storage import StorageSettings
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

# The sections and their value types are imported from sloguard.settings.sections.
__all__ = [
    "COMMAND_LINE",
    "CONFIG_ENV",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "ENV_DELIMITER",
    "ENV_PREFIX",
    "SECRET_PATHS",
    "Settings",
    "env_name",
    "load_settings",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9464
ENV_PREFIX = "SLOGUARD_"
ENV_DELIMITER = envlayer.DELIMITER
CONFIG_ENV = "SLOGUARD_CONFIG"
#: ``Problem.file`` of values given as command-line flags.
COMMAND_LINE = "command line"


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
    mode: ModeName = Mode.ALL
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
    silence_retention: Seconds = 7 * 86400.0
    """Seconds an expired silence (and what silences kept from receivers) is kept for audit."""
    metrics: MetricsSettings = MetricsSettings()
    prometheus: PrometheusSettings = PrometheusSettings()
    ingest: IngestSettings = IngestSettings()
    traces: TracesSettings = TracesSettings()
    storage: StorageSettings = StorageSettings()
    web: WebSettings = WebSettings()
    self_alerts: SelfAlertSettings = SelfAlertSettings()

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
    url = _get(data, ("storage", "url"))
    if isinstance(url, str) and split_password(url)[1] is not None:
        message = "a password in the URL is a secret; set SLOGUARD_STORAGE__PASSWORD instead"
        problems.append(doc.problem(("storage", "url"), message))
        data = _without(data, ("storage", "url"))
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
