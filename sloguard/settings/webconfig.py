"""The web configuration file: who may read the daemon, and whether it serves HTTPS.

The format is Prometheus's ``--web.config.file`` (the exporter toolkit's), the part sloguard
serves; relative paths are relative to the file's directory, as there::

    tls_server_config:
      cert_file: server.crt
      key_file: server.key
    basic_auth_users:
      # bcrypt hashes, e.g. from: htpasswd -nbBC 10 "" 'the password' | tr -d ':\\n'
      alice: $2y$10$…

Keys of Prometheus's format that sloguard does not serve (client certificates, TLS versions,
cipher suites, ``http_server_config``) are reported as problems, never silently ignored, and so
is anything else wrong: every problem of the file at once, with file, line and field
(:class:`~sloguard.errors.ConfigError`). A password hash is never shown in a message.

Example::

    web = load_web_config("config/web.yml")
    web.tls.cert_file if web.tls else None, sorted(web.users)
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from sloguard.errors import ConfigError, Problem
from sloguard.yamldoc import ANY, YamlDoc, load_yaml, show, validation_problems

__all__ = ["TLSServerConfig", "WebConfig", "load_web_config"]

_BCRYPT = re.compile(r"\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{53}")
#: Keys of Prometheus's web configuration that sloguard does not serve, by section.
_UNSUPPORTED: Mapping[tuple[str, ...], frozenset[str]] = {
    (): frozenset({"http_server_config", "rate_limit"}),
    ("tls_server_config",): frozenset(
        {
            "client_auth_type",
            "client_ca_file",
            "client_allowed_sans",
            "cipher_suites",
            "curve_preferences",
            "min_version",
            "max_version",
            "prefer_server_cipher_suites",
            "cert",
            "key",
        }
    ),
}


def _bcrypt_hash(value: str) -> str:
    if not _BCRYPT.fullmatch(value):
        raise ValueError(
            "must be a bcrypt hash ($2y$…), e.g. from htpasswd -nbBC 10 \"\" 'password'"
        )
    return value


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TLSServerConfig(_Model):
    """The certificate and key to serve HTTPS with (PEM files)."""

    cert_file: Path
    key_file: Path


UserName = Annotated[str, Field(min_length=1)]
BcryptHash = Annotated[str, AfterValidator(_bcrypt_hash)]


class WebConfig(_Model):
    """A valid web configuration file: TLS (or None: plain HTTP) and basic-auth users."""

    tls_server_config: TLSServerConfig | None = None
    basic_auth_users: dict[UserName, BcryptHash] = {}

    @property
    def tls(self) -> TLSServerConfig | None:
        """The certificate and key, or None for plain HTTP."""
        return self.tls_server_config

    @property
    def users(self) -> Mapping[str, str]:
        """User name → bcrypt hash of the password."""
        return self.basic_auth_users


def _unsupported(doc: YamlDoc, data: dict[str, Any], problems: list[Problem]) -> dict[str, Any]:
    """Note (and drop) the keys of Prometheus's format that sloguard does not serve."""
    out = dict(data)
    for section, keys in _UNSUPPORTED.items():
        node = out if not section else out.get(section[0])
        if not isinstance(node, dict):
            continue
        kept = dict(node)
        for key in keys & node.keys():
            why = "is a key of Prometheus's web config that sloguard does not serve"
            problems.append(doc.problem((*section, key), why))
            kept.pop(key)
        if section:
            out[section[0]] = kept
        else:
            out = kept
    return out


def _tls_problems(doc: YamlDoc, tls: TLSServerConfig) -> list[Problem]:
    where = ("tls_server_config",)
    problems = [
        doc.problem((*where, name), f"no such file: {path}")
        for name, path in (("cert_file", tls.cert_file), ("key_file", tls.key_file))
        if not path.is_file()
    ]
    if problems:
        return problems
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
            tls.cert_file, tls.key_file
        )
    except (ssl.SSLError, OSError) as exc:
        message = f"cannot be used with cert_file: {exc.strerror or exc}"
        return [doc.problem((*where, "key_file"), message)]
    return []


def _resolved(tls: TLSServerConfig, base: Path) -> TLSServerConfig:
    return TLSServerConfig(cert_file=base / tls.cert_file, key_file=base / tls.key_file)


def load_web_config(path: str | Path) -> WebConfig:
    """Read and check the web configuration file at ``path``; raise ConfigError listing all."""
    doc = load_yaml(path)
    problems = list(doc.problems)
    data: Any = {} if doc.data is None else doc.data
    if not isinstance(data, dict):
        problems.append(doc.problem((), f"expected a mapping (got {show(data)})"))
        raise ConfigError(problems)
    data = _unsupported(doc, data, problems)
    config: WebConfig | None = None
    try:
        config = WebConfig.model_validate(data)
    except ValidationError as exc:
        problems += validation_problems(
            exc, doc, model=WebConfig, secrets=[("basic_auth_users", ANY)]
        )
    if config is not None and config.tls is not None:
        tls = _resolved(config.tls, Path(path).parent)
        problems += _tls_problems(doc, tls)
        config = config.model_copy(update={"tls_server_config": tls})
    if problems or config is None:
        raise ConfigError(sorted(problems, key=lambda p: p.line or 0))
    return config
