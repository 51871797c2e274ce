"""Routing files: receivers and the route tree, validated with every problem at once.

```yaml
receivers:
  - name: console
    log: {}
  - name: oncall
    slack: {channel: "#oncall", token_env: SLOGUARD_SLACK_TOKEN}
  - name: team-hook
    slack_webhook: {url_env: SLOGUARD_SLACK_WEBHOOK_URL}
  - name: audit
    webhook: {url: "https://hooks.example/sloguard", secret_envs: [SLOGUARD_WEBHOOK_SECRET]}
  - name: am
    alertmanager: {url: "http://127.0.0.1:9093", resend_after: 60s}
route:
  receiver: console
  repeat_interval: 4h
  routes:
    - match: {severity: critical}
      match_re: {slo: "agent-.*"}
      receiver: oncall
      continue: true
      repeat_interval: 1h
```

Secrets (tokens, webhook URLs with credentials, signing secrets) are never in the file: it
names the environment variables that hold them, and a variable that is not set is a problem.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sloguard.durations import parse_duration
from sloguard.errors import ConfigError, Problem
from sloguard.notify.routing import Matcher, Route, receivers_used
from sloguard.yamldoc import YamlDoc, load_yaml, parse_yaml, validation_problems


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LogSpec(_Model):
    """Console receiver: one readable block per notification on stderr."""


class SlackSpec(_Model):
    """Slack bot: ``chat.postMessage`` to a channel; resolved messages thread and update."""

    channel: Annotated[str, Field(min_length=1)]
    token_env: Annotated[str, Field(min_length=1)] = "SLOGUARD_SLACK_TOKEN"
    base_url: str | None = None


class SlackWebhookSpec(_Model):
    """Slack incoming webhook."""

    url_env: Annotated[str, Field(min_length=1)] = "SLOGUARD_SLACK_WEBHOOK_URL"


class WebhookSpec(_Model):
    """Generic JSON webhook (Alertmanager v4 body), signed per Standard Webhooks."""

    url: Annotated[str, Field(pattern=r"^https?://")]
    secret_envs: tuple[str, ...] = ()
    timeout: str = "10s"


class AlertmanagerSpec(_Model):
    """Alertmanager v2 API."""

    url: Annotated[str, Field(pattern=r"^https?://")]
    resend_after: str = "60s"
    timeout: str = "10s"


class ReceiverSpec(_Model):
    """One receiver: a name and exactly one kind."""

    name: Annotated[str, Field(min_length=1)]
    log: LogSpec | None = None
    slack: SlackSpec | None = None
    slack_webhook: SlackWebhookSpec | None = None
    webhook: WebhookSpec | None = None
    alertmanager: AlertmanagerSpec | None = None

    @property
    def kinds(self) -> list[str]:
        """The kinds set on this receiver (valid when exactly one)."""
        return [k for k in KINDS if getattr(self, k) is not None]


KINDS = ("log", "slack", "slack_webhook", "webhook", "alertmanager")


class RouteSpec(_Model):
    """One route."""

    receiver: str | None = None
    match: dict[str, str] = {}
    match_re: dict[str, str] = {}
    continue_: bool = Field(False, alias="continue")
    repeat_interval: str | None = None
    routes: list[RouteSpec] = []


class AlertRoutingSpec(_Model):
    """A whole routing file."""

    receivers: list[ReceiverSpec]
    route: RouteSpec


@dataclass(frozen=True, slots=True)
class Receiver:
    """A validated receiver with its secrets resolved from the environment."""

    name: str
    kind: str
    spec: Any  # the kind's spec model
    secrets: tuple[str, ...] = ()  # token / webhook URL / signing secrets


@dataclass(frozen=True, slots=True)
class AlertRouting:
    """A validated routing file."""

    receivers: Mapping[str, Receiver]
    route: Route


def _secrets(
    doc: YamlDoc,
    path: tuple[Any, ...],
    names: tuple[str, ...],
    env: Mapping[str, str],
    problems: list[Problem],
) -> tuple[str, ...]:
    values = []
    for name in names:
        value = env.get(name)
        if not value:
            problems.append(doc.problem(path, f"environment variable {name} is not set"))
        else:
            values.append(value)
    return tuple(values)


def _receiver(
    doc: YamlDoc, i: int, spec: ReceiverSpec, env: Mapping[str, str], problems: list[Problem]
) -> Receiver | None:
    at = ("receivers", i)
    kinds = spec.kinds
    if len(kinds) != 1:
        got = ", ".join(kinds) if kinds else "none"
        problems.append(doc.problem(at, f"needs exactly one of {', '.join(KINDS)} (got {got})"))
        return None
    kind = kinds[0]
    kspec = getattr(spec, kind)
    secrets: tuple[str, ...] = ()
    if isinstance(kspec, SlackSpec):
        secrets = _secrets(doc, (*at, kind, "token_env"), (kspec.token_env,), env, problems)
    elif isinstance(kspec, SlackWebhookSpec):
        secrets = _secrets(doc, (*at, kind, "url_env"), (kspec.url_env,), env, problems)
    elif isinstance(kspec, WebhookSpec):
        secrets = _secrets(doc, (*at, kind, "secret_envs"), kspec.secret_envs, env, problems)
    for field_name in ("timeout", "resend_after"):
        value = getattr(kspec, field_name, None)
        if value is not None:
            _duration(doc, (*at, kind, field_name), value, problems)
    return Receiver(spec.name, kind, kspec, secrets)


def _duration(doc: YamlDoc, path: tuple[Any, ...], text: str, problems: list[Problem]) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        problems.append(doc.problem(path, str(exc)))
        return 0.0
    if seconds <= 0:
        problems.append(doc.problem(path, f"must be positive (got {text!r})"))
    return seconds


def _route(
    doc: YamlDoc, spec: RouteSpec, path: tuple[Any, ...], names: set[str], problems: list[Problem]
) -> Route:
    if spec.receiver is not None and spec.receiver not in names:
        known = ", ".join(sorted(names)) or "none"
        problems.append(
            doc.problem((*path, "receiver"), f"unknown receiver {spec.receiver!r} (known: {known})")
        )
    matchers = [Matcher(k, v) for k, v in spec.match.items()]
    for label, pattern in spec.match_re.items():
        try:
            re.compile(pattern)  # errors with positions in the user's own pattern
            matchers.append(Matcher(label, pattern, regex=True))
        except re.error as exc:
            problems.append(
                doc.problem(
                    (*path, "match_re", label), f"bad regular expression {pattern!r}: {exc}"
                )
            )
    repeat = (
        _duration(doc, (*path, "repeat_interval"), spec.repeat_interval, problems)
        if spec.repeat_interval is not None
        else None
    )
    children = tuple(
        _route(doc, child, (*path, "routes", j), names, problems)
        for j, child in enumerate(spec.routes)
    )
    return Route(spec.receiver, tuple(matchers), spec.continue_, repeat, children)


def check_routing_doc(
    doc: YamlDoc, env: Mapping[str, str]
) -> tuple[AlertRouting | None, list[Problem]]:
    """Validate a routing document; return it (when clean) and every problem."""
    problems = list(doc.problems)
    if not isinstance(doc.data, dict):
        problems.append(doc.problem((), "expected a mapping with receivers: and route:"))
        return None, problems
    try:
        spec = AlertRoutingSpec.model_validate(doc.data)
    except ValidationError as exc:
        return None, problems + validation_problems(exc, doc, model=AlertRoutingSpec)
    receivers: dict[str, Receiver] = {}
    first_line: dict[str, int | None] = {}
    for i, r in enumerate(spec.receivers):
        if r.name in receivers or r.name in first_line:
            problems.append(
                doc.problem(
                    ("receivers", i, "name"),
                    f"duplicate receiver name {r.name!r} (first on line {first_line[r.name]})",
                )
            )
            continue
        first_line[r.name] = doc.line(("receivers", i, "name"))
        built = _receiver(doc, i, r, env, problems)
        if built is not None:
            receivers[r.name] = built
    names = set(first_line)
    if spec.route.receiver is None:
        problems.append(doc.problem(("route",), "the root route needs a receiver (the default)"))
    route = _route(doc, spec.route, ("route",), names, problems)
    unused = names - receivers_used(route)
    for name in sorted(unused):
        i = next(j for j, r in enumerate(spec.receivers) if r.name == name)
        problems.append(doc.problem(("receivers", i, "name"), f"receiver {name!r} is never used"))
    problems.sort(key=lambda p: p.line or 0)
    return (AlertRouting(receivers, route) if not problems else None), problems


def load_routing(path: str, env: Mapping[str, str]) -> AlertRouting:
    """Load and validate a routing file; raise :class:`ConfigError` listing every problem."""
    routing, problems = check_routing_doc(load_yaml(path), env)
    if problems or routing is None:
        raise ConfigError(problems)
    return routing


def parse_routing(text: str, env: Mapping[str, str], file: str = "<string>") -> AlertRouting:
    """Like :func:`load_routing` for text."""
    routing, problems = check_routing_doc(parse_yaml(text, file), env)
    if problems or routing is None:
        raise ConfigError(problems)
    return routing


def default_routing() -> AlertRouting:
    """Everything to the console (the demo's default)."""
    return AlertRouting(
        {"console": Receiver("console", "log", LogSpec())}, Route(receiver="console")
    )


def is_routing_doc(doc: YamlDoc) -> bool:
    """True when a YAML document looks like a routing file."""
    return isinstance(doc.data, dict) and bool({"receivers", "route"} & set(doc.data))
