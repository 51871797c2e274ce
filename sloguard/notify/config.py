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

Durations (``timeout``, ``resend_after``, ``repeat_interval``) are text in the file and seconds
in the models: they are parsed once, here. A bad one is a problem like any other, reported with
every other problem of the file.

:func:`build_notifiers` makes the notifier of each receiver of a validated routing (the
receiver modules are imported there, on first use).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from sloguard.durations import parse_duration
from sloguard.errors import ConfigError, Problem
from sloguard.notify.model import Notifier
from sloguard.notify.routing import Matcher, Route, receivers_used
from sloguard.yamldoc import YamlDoc, load_yaml, parse_yaml, validation_problems


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _seconds(value: object) -> float:
    """A duration text (``10s``, ``1h30m``) as seconds > 0; the file holds text only."""
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "Input should be a valid string")
    seconds = parse_duration(value)  # ValueError: "not a duration: … (use e.g. 30d, …)"
    if seconds <= 0:
        raise ValueError(f"must be positive (got {value!r})")
    return seconds


#: A duration: text such as ``10s`` in the file, seconds in the model.
Seconds = Annotated[float, BeforeValidator(_seconds, json_schema_input_type=str)]
#: The fields of type :data:`Seconds`: a bad value there does not end the checks.
DURATION_FIELDS = frozenset({"timeout", "resend_after", "repeat_interval"})


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
    timeout: Seconds = 10.0


class AlertmanagerSpec(_Model):
    """Alertmanager v2 API."""

    url: Annotated[str, Field(pattern=r"^https?://")]
    timeout: Seconds = 10.0
    resend_after: Seconds = 60.0


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
    repeat_interval: Seconds | None = None
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
    """A validated routing file.

    ``resend_intervals`` (computed here, once): the receivers that must hear about a firing
    alert at least this often, in seconds: each Alertmanager receiver's ``resend_after``.
    """

    receivers: Mapping[str, Receiver]
    route: Route
    resend_intervals: Mapping[str, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        resend = {
            name: r.spec.resend_after
            for name, r in self.receivers.items()
            if isinstance(r.spec, AlertmanagerSpec)
        }
        object.__setattr__(self, "resend_intervals", MappingProxyType(resend))

    @property
    def resend_floor(self) -> float | None:
        """The shortest of :attr:`resend_intervals` (firing alerts must be re-sent before it),
        or None without Alertmanager receivers."""
        return min(self.resend_intervals.values(), default=None)


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
    return Receiver(spec.name, kind, kspec, secrets)


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
    children = tuple(
        _route(doc, child, (*path, "routes", j), names, problems)
        for j, child in enumerate(spec.routes)
    )
    return Route(spec.receiver, tuple(matchers), spec.continue_, spec.repeat_interval, children)


def _validated(doc: YamlDoc) -> tuple[AlertRoutingSpec | None, list[Problem]]:
    """The document as a model, and its problems of shape and value.

    Bad durations alone do not end the checks: the model is then made without them (their
    defaults), so that what the later checks find (names, environment, routes) is reported too.
    """
    try:
        return AlertRoutingSpec.model_validate(doc.data), []
    except ValidationError as exc:
        problems = validation_problems(exc, doc, model=AlertRoutingSpec)
        errors = exc.errors(include_url=False)
    bad = [e["loc"] for e in errors if e["type"] == "value_error" and _is_duration(e["loc"])]
    if len(bad) < len(errors):
        return None, problems
    return AlertRoutingSpec.model_validate(_without(doc.data, bad)), problems


def _is_duration(loc: tuple[Any, ...]) -> bool:
    return bool(loc) and loc[-1] in DURATION_FIELDS


def _without(data: Any, paths: Collection[tuple[Any, ...]]) -> Any:
    """``data`` (YAML: dicts, lists, scalars) less the values at ``paths``."""
    if isinstance(data, dict):
        return {
            k: _without(v, [p[1:] for p in paths if p[0] == k])
            for k, v in data.items()
            if (k,) not in paths
        }
    if isinstance(data, list):
        return [_without(v, [p[1:] for p in paths if p[0] == i]) for i, v in enumerate(data)]
    return data


def check_routing_doc(
    doc: YamlDoc, env: Mapping[str, str]
) -> tuple[AlertRouting | None, list[Problem]]:
    """Validate a routing document; return it (when clean) and every problem."""
    problems = list(doc.problems)
    if not isinstance(doc.data, dict):
        problems.append(doc.problem((), "expected a mapping with receivers: and route:"))
        return None, problems
    spec, found = _validated(doc)
    if spec is None:
        return None, problems + found
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
    problems += found  # bad durations: on a line, after what the checks above found there
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


def build_notifiers(routing: AlertRouting, *, external_url: str = "") -> dict[str, Notifier]:
    """One notifier per receiver, secrets taken from the validated routing."""
    from sloguard.notify.alertmanager import AlertmanagerNotifier
    from sloguard.notify.log import LogNotifier
    from sloguard.notify.slack.bot import SlackBotNotifier
    from sloguard.notify.slack.webhook import SlackWebhookNotifier
    from sloguard.notify.webhook import WebhookNotifier

    out: dict[str, Notifier] = {}
    for r in routing.receivers.values():
        spec = r.spec
        notifier: Notifier
        if isinstance(spec, LogSpec):
            notifier = LogNotifier(r.name)
        elif isinstance(spec, SlackSpec):
            if spec.base_url:
                notifier = SlackBotNotifier(
                    r.name, r.secrets[0], spec.channel, base_url=spec.base_url
                )
            else:
                notifier = SlackBotNotifier(r.name, r.secrets[0], spec.channel)
        elif isinstance(spec, SlackWebhookSpec):
            notifier = SlackWebhookNotifier(r.name, r.secrets[0])
        elif isinstance(spec, WebhookSpec):
            notifier = WebhookNotifier(
                r.name,
                spec.url,
                secrets=r.secrets,
                timeout=spec.timeout,
                external_url=external_url,
            )
        elif isinstance(spec, AlertmanagerSpec):
            notifier = AlertmanagerNotifier(
                r.name,
                spec.url,
                timeout=spec.timeout,
                resend_after=spec.resend_after,
            )
        else:  # pragma: no cover - the routing models list every kind
            raise TypeError(f"unknown receiver kind {r.kind!r}")
        out[r.name] = notifier
    return out
