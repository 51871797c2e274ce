"""The JSON Schema of routing files agrees with their reader (``sloguard validate``).

1. **Drift guard**: the schema's keys are the routing models' fields (by their file names), its
   receiver kinds are ``KINDS``, its required keys the models' required fields, and every
   duration field (``DURATION_FIELDS``) is a duration in the schema.
2. **Agreement**: the same documents go through ``jsonschema`` and ``check_routing_doc`` (with
   the environment variables they name set). Good ones, ``config/routing.yaml`` included, pass
   both; bad ones fail both, with the reader's file, line and field. What needs names defined
   elsewhere in the file, the environment or a regular-expression compiler is refused by
   ``validate`` only, listed apart with the reason.
"""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator, Draft202012Validator
from pydantic import BaseModel

from sloguard.errors import Problem
from sloguard.notify.config import (
    DURATION_FIELDS,
    KINDS,
    AlertmanagerSpec,
    AlertRoutingSpec,
    LogSpec,
    ReceiverSpec,
    RouteSpec,
    SlackSpec,
    SlackWebhookSpec,
    WebhookSpec,
    check_routing_doc,
)
from sloguard.yamldoc import dotted, parse_yaml
from tests.slo.test_schema import helm_documents

REPO = Path(__file__).resolve().parents[2]
FILE = "routing.yaml"
SCHEMA: dict[str, Any] = json.loads(
    (files("sloguard") / "schemas" / "routing-v1.schema.json").read_text(encoding="utf-8")
)
VALIDATOR = Draft202012Validator(SCHEMA)
DEFS = SCHEMA["$defs"]
ENV = {
    "SLOGUARD_SLACK_TOKEN": "xoxb-test",
    "SLOGUARD_SLACK_WEBHOOK_URL": "https://hooks.slack.example/T/B/x",
    "SLOGUARD_WEBHOOK_SECRET": "whsec_dGVzdA==",
    "TEAM_TOKEN": "xoxb-team",
}
MODELS: list[tuple[type[BaseModel], dict[str, Any]]] = [
    (AlertRoutingSpec, SCHEMA),
    (ReceiverSpec, DEFS["receiver"]),
    (RouteSpec, DEFS["route"]),
    (LogSpec, DEFS["log"]),
    (SlackSpec, DEFS["slack"]),
    (SlackWebhookSpec, DEFS["slack_webhook"]),
    (WebhookSpec, DEFS["webhook"]),
    (AlertmanagerSpec, DEFS["alertmanager"]),
]


def schema_errors(text: str) -> list[tuple[str, str]]:
    """(dotted path, message) of every schema error of the document ``text``."""
    data = parse_yaml(text, FILE).data
    return [(dotted(e.absolute_path), e.message) for e in VALIDATOR.iter_errors(data)]


def problems(text: str) -> list[Problem]:
    return check_routing_doc(parse_yaml(text, FILE), ENV)[1]


# --- 1. drift guard --------------------------------------------------------------------------


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize(("model", "where"), MODELS, ids=[m.__name__ for m, _ in MODELS])
def test_the_schema_has_exactly_the_models_keys(
    model: type[BaseModel], where: dict[str, Any]
) -> None:
    fields = {f.alias or name: f for name, f in model.model_fields.items()}
    assert set(where.get("properties", {})) == set(fields)
    assert where["additionalProperties"] is False  # extra="forbid"
    assert set(where.get("required", [])) == {k for k, f in fields.items() if f.is_required()}
    for key, prop in where.get("properties", {}).items():
        assert prop.get("description"), f"{key} has no description (editor hover help)"
        if key in DURATION_FIELDS:
            durations = [prop, *prop.get("anyOf", [])]
            assert {"$ref": "#/$defs/duration"} in durations or prop.get("$ref") == (
                "#/$defs/duration"
            ), key


def test_a_receiver_has_exactly_one_of_the_kinds() -> None:
    receiver = DEFS["receiver"]
    assert set(receiver["properties"]) - {"name"} == set(KINDS)
    assert [branch["required"] for branch in receiver["oneOf"]] == [[k] for k in KINDS]


def test_the_root_route_needs_a_receiver() -> None:
    assert SCHEMA["properties"]["route"]["required"] == ["receiver"]


# --- 2. agreement ----------------------------------------------------------------------------

_RECEIVERS = """\
receivers:
  - name: console
    log: {}
"""
_ROUTE = "route:\n  receiver: console\n"

GOOD = {
    **helm_documents("routing"),
    "config/routing.yaml": (REPO / "config" / "routing.yaml").read_text(encoding="utf-8"),
    "smallest": _RECEIVERS + _ROUTE,
    "every kind and field": """\
receivers:
  - name: console
    log: {}
  - name: oncall
    slack: {channel: C0123456789, token_env: TEAM_TOKEN, base_url: "http://127.0.0.1:1/api/"}
  - name: team-hook
    slack_webhook: {url_env: SLOGUARD_SLACK_WEBHOOK_URL}
  - name: default-hook
    slack_webhook: {}
  - name: audit
    webhook: {url: "https://hooks.example/sloguard", secret_envs: [SLOGUARD_WEBHOOK_SECRET],
              timeout: 5s}
  - name: am
    alertmanager: {url: "http://127.0.0.1:9093", timeout: 2s, resend_after: 1m}
route:
  receiver: console
  repeat_interval: 4h
  routes:
    - {match: {severity: critical}, receiver: oncall, continue: true, repeat_interval: 1h}
    - {match_re: {slo: "agent-.*"}, receiver: team-hook, continue: true}
    - {match: {team: x}, receiver: default-hook}
    - match: {severity: warning}
      routes:
        - {receiver: audit, continue: true}
        - {receiver: am}
""",
    "empty optional values": _RECEIVERS
    + "  - {name: b, log: null, slack: {channel: '#b'}}\n"
    + "route:\n  receiver: console\n  repeat_interval:\n  routes:\n    - {receiver: b}\n",
}


@pytest.mark.parametrize("text", list(GOOD.values()), ids=list(GOOD))
def test_good_routing_files_pass_both(text: str) -> None:
    assert schema_errors(text) == []
    assert problems(text) == []


def bad(text: str, field: str, line: int | None, message: str, id: str) -> Any:
    return pytest.param(text, field, line, message, id=id)


BAD = [
    bad(_RECEIVERS + _ROUTE + "groups: []\n", "groups", 6, "unknown key 'groups'",
        "unknown key"),
    bad(_RECEIVERS + "    email: {to: x}\n" + _ROUTE, "receivers[0].email", 4,
        "unknown key 'email' (allowed: alertmanager, log, name, slack", "unknown receiver kind"),
    bad("receivers:\n  - name: two\n    log: {}\n    slack: {channel: '#a'}\n"
        "route: {receiver: two}\n", "receivers[0]", 2,
        "needs exactly one of log, slack, slack_webhook, webhook, alertmanager (got log, slack)",
        "two kinds"),
    bad("receivers:\n  - name: none\nroute: {receiver: none}\n", "receivers[0]", 2,
        "(got none)", "no kind"),
    bad("receivers:\n  - log: {}\nroute: {receiver: x}\n", "receivers[0].name", 2,
        "required field is missing", "receiver without name"),
    bad("receivers:\n  - name: s\n    slack: {token_env: T}\nroute: {receiver: s}\n",
        "receivers[0].slack.channel", 3, "required field is missing", "slack without channel"),
    bad("receivers:\n  - name: s\n    slack: {channel: ''}\nroute: {receiver: s}\n",
        "receivers[0].slack.channel", 3, "at least 1 character", "empty channel"),
    bad("receivers:\n  - name: w\n    webhook: {url: hooks.example/x}\nroute: {receiver: w}\n",
        "receivers[0].webhook.url", 3, "should match pattern", "url without scheme"),
    bad("receivers:\n  - name: w\n    webhook: {url: 'https://h.example', timeout: 10}\n"
        "route: {receiver: w}\n", "receivers[0].webhook.timeout", 3, "valid string",
        "duration as a number"),
    bad("receivers:\n  - name: a\n    alertmanager: {url: 'http://am:9093', resend_after: 1 min}"
        "\nroute: {receiver: a}\n", "receivers[0].alertmanager.resend_after", 3,
        "not a duration", "bad duration"),
    bad(_RECEIVERS + "route:\n  receiver: console\n  repeat_interval: 0s\n",
        "route.repeat_interval", 6, "must be positive", "zero duration"),
    bad("receivers:\n  - name: w\n    webhook: {url: 'https://h.example', secret_envs: S}\n"
        "route: {receiver: w}\n", "receivers[0].webhook.secret_envs", 3, "valid tuple",
        "secret_envs not a list"),
    bad(_RECEIVERS + "route:\n  receiver: console\n  match: {severity: 1}\n",
        "route.match.severity", 6, "valid string", "match value not a string"),
    bad(_RECEIVERS + "route:\n  receiver: console\n  routes: {receiver: console}\n",
        "route.routes", 6, "valid list", "routes not a list"),
    bad(_RECEIVERS + "route:\n  receiver: console\n  continue: maybe\n", "route.continue", 6,
        "valid boolean", "continue not a boolean"),
    bad(_RECEIVERS + "route:\n  routes: [{receiver: console}]\n", "route", 4,
        "the root route needs a receiver", "root without receiver"),
    bad(_ROUTE, "receivers", None, "required field is missing", "no receivers"),
    bad(_RECEIVERS, "route", None, "required field is missing", "no route"),
    bad("- receivers\n", "", None, "expected a mapping with receivers: and route:",
        "not a mapping"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "field", "line", "message"), BAD)
def test_bad_routing_files_fail_both_and_validate_says_where(
    text: str, field: str, line: int | None, message: str
) -> None:
    errors = schema_errors(text)
    assert errors, "the schema accepts it"
    found = [p for p in problems(text) if p.field == field]
    assert found, f"no problem at {field}: {[str(p) for p in problems(text)]}"
    assert (found[0].file, found[0].line) == (FILE, line)
    assert message in found[0].message, str(found[0])
    closest = max((path for path, _ in errors if field.startswith(path)), key=len, default=None)
    assert closest is not None, (errors, field)
    assert closest or not re.search(r"[.\[]", field), (errors, field)


def refused(text: str, why: str, says: str, id: str) -> Any:
    return pytest.param(text, why, says, id=id)


#: Files the schema accepts and only ``validate`` refuses (``says``), and why.
VALIDATE_ONLY = [
    refused(_RECEIVERS + "route: {receiver: oncall}\n", "a route's receiver must be defined",
            "unknown receiver 'oncall'", "unknown receiver"),
    refused(_RECEIVERS + "  - {name: console, log: {}}\n" + _ROUTE,
            "receiver names must be unique", "duplicate receiver name 'console'", "duplicate"),
    refused(_RECEIVERS + "  - {name: spare, log: {}}\n" + _ROUTE,
            "every receiver must be used by a route", "receiver 'spare' is never used", "unused"),
    refused("receivers:\n  - {name: s, slack: {channel: '#a', token_env: NOT_SET_ANYWHERE}}\n"
            "route: {receiver: s}\n", "the environment is read when the file is",
            "environment variable NOT_SET_ANYWHERE is not set", "unset secret"),
    refused(_RECEIVERS + "route:\n  receiver: console\n  match_re: {slo: 'agent-(.*'}\n",
            "patterns are compiled by Python's re", "bad regular expression", "bad regex"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "why", "says"), VALIDATE_ONLY)
def test_what_only_validate_refuses(text: str, why: str, says: str) -> None:
    assert schema_errors(text) == [], why
    found = problems(text)
    assert any(says in p.message and p.line for p in found), [str(p) for p in found]


def test_what_only_the_schema_refuses() -> None:
    """pydantic reads ``continue: "yes"`` (a quoted string) as true; the schema wants a
    boolean, as YAML's own ``yes`` / ``true`` are."""
    text = _RECEIVERS + "route:\n  receiver: console\n  continue: 'yes'\n"
    assert schema_errors(text)
    assert problems(text) == []


def test_editors_on_draft_07_get_the_same_verdicts() -> None:
    """The YAML language server checks schemas and documents as draft-07: same verdicts."""
    Draft7Validator.check_schema(SCHEMA)
    draft7 = Draft7Validator(SCHEMA)
    texts = [*GOOD.values(), *(p.values[0] for p in [*BAD, *VALIDATE_ONLY])]
    docs = [parse_yaml(text, FILE).data for text in texts]
    assert [draft7.is_valid(d) for d in docs] == [VALIDATOR.is_valid(d) for d in docs]
