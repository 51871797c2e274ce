"""Routing trees (pure) and routing files (every problem at once)."""

from __future__ import annotations

import pytest

from sloguard.errors import ConfigError
from sloguard.notify.config import (
    AlertmanagerSpec,
    WebhookSpec,
    default_routing,
    parse_routing,
)
from sloguard.notify.routing import Matcher, Route, Target, shortest_repeat, targets

TREE = Route(
    receiver="console",
    repeat_interval=14400.0,
    routes=(
        Route(
            receiver="oncall",
            matchers=(Matcher("severity", "critical"),),
            continue_=True,
            repeat_interval=3600.0,
        ),
        Route(receiver="ai-team", matchers=(Matcher("slo", "agent-.*", regex=True),)),
        Route(receiver="never", matchers=(Matcher("slo", "agent-.*", regex=True),)),
    ),
)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (
            {"severity": "critical", "slo": "agent-x"},
            [Target("oncall", 3600.0), Target("ai-team", 14400.0)],
        ),
        ({"severity": "warning", "slo": "agent-x"}, [Target("ai-team", 14400.0)]),
        ({"severity": "warning", "slo": "xagent-x"}, [Target("console", 14400.0)]),
        ({"severity": "critical", "slo": "other"}, [Target("oncall", 3600.0)]),
    ],
)
def test_targets(labels: dict[str, str], expected: list[Target]) -> None:
    assert targets(TREE, labels) == expected


def test_regex_is_anchored_and_shortest_repeat() -> None:
    assert not Matcher("slo", "agent").matches({"slo": "agent-1"})
    assert not Matcher("slo", "agent", regex=True).matches({"slo": "agent-1"})
    assert shortest_repeat(TREE) == 3600.0


GOOD = """\
receivers:
  - name: console
    log: {}
  - name: oncall
    slack: {channel: "#oncall", token_env: SLACK_TOKEN}
  - name: audit
    webhook: {url: "http://127.0.0.1:1/hook", secret_envs: [HOOK_SECRET]}
route:
  receiver: console
  routes:
    - match: {severity: critical}
      receiver: oncall
      continue: true
    - match_re: {slo: "agent-.*"}
      receiver: audit
"""


def test_good_file() -> None:
    routing = parse_routing(GOOD, {"SLACK_TOKEN": "xoxb-1", "HOOK_SECRET": "whsec_c2VjcmV0"})
    assert set(routing.receivers) == {"console", "oncall", "audit"}
    assert routing.receivers["oncall"].secrets == ("xoxb-1",)
    assert targets(routing.route, {"severity": "critical", "slo": "agent-a"}) == [
        Target("oncall", 14400.0),
        Target("audit", 14400.0),
    ]


def test_bad_file_lists_every_problem() -> None:
    text = """\
receivers:
  - name: console
    log: {}
  - name: oncall
    slack: {channel: "#oncall", token_env: SLACK_TOKEN}
  - name: console
    log: {}
  - name: both
    log: {}
    webhook: {url: "http://x"}
route:
  receiver: pager
  routes:
    - match_re: {slo: "agent-("}
      receiver: oncall
      repeat_interval: soon
"""
    with pytest.raises(ConfigError) as info:
        parse_routing(text, {}, file="routing.yaml")
    assert [str(p) for p in info.value.problems] == [
        "routing.yaml:2: receivers[0].name: receiver 'console' is never used",
        "routing.yaml:5: receivers[1].slack.token_env: environment variable SLACK_TOKEN is not set",
        "routing.yaml:6: receivers[2].name: duplicate receiver name 'console' (first on line 2)",
        "routing.yaml:8: receivers[3]: needs exactly one of log, slack, slack_webhook, webhook, "
        "alertmanager (got log, webhook)",
        "routing.yaml:8: receivers[3].name: receiver 'both' is never used",
        "routing.yaml:12: route.receiver: unknown receiver 'pager' (known: both, console, oncall)",
        "routing.yaml:14: route.routes[0].match_re.slo: bad regular expression 'agent-(': "
        "missing ), unterminated subpattern at position 6",
        "routing.yaml:16: route.routes[0].repeat_interval: not a duration: 'soon' "
        "(use e.g. 30d, 6h, 5m, 1h30m)",
    ]


def test_unknown_keys_are_reported_with_a_suggestion() -> None:
    text = "receivers:\n  - name: c\n    log: {}\nroute:\n  reciever: c\n"
    with pytest.raises(ConfigError) as info:
        parse_routing(text, {}, file="r.yaml")
    assert "did you mean 'receiver'" in str(info.value)


def problems(text: str) -> list[str]:
    """Every problem ``parse_routing`` finds in ``text`` (file ``r.yaml``, no environment)."""
    with pytest.raises(ConfigError) as info:
        parse_routing(text, {}, file="r.yaml")
    return [str(p) for p in info.value.problems]


DURATIONS = """\
receivers:
  - name: console
    log: {}
  - name: audit
    webhook: {url: "http://127.0.0.1:1/hook", timeout: 2500ms}
  - name: am
    alertmanager: {url: "http://127.0.0.1:9093", resend_after: 90s, timeout: 1m}
  - name: am-default
    alertmanager: {url: "http://127.0.0.1:9094"}
route:
  receiver: console
  repeat_interval: 4h
  routes:
    - {receiver: audit, repeat_interval: 1h30m, continue: true}
    - {receiver: am, continue: true}
    - {receiver: am-default}
"""


def test_durations_are_seconds_once_loaded() -> None:
    routing = parse_routing(DURATIONS, {})
    audit, am, default = (routing.receivers[n].spec for n in ("audit", "am", "am-default"))
    assert isinstance(audit, WebhookSpec) and audit.timeout == 2.5
    assert isinstance(am, AlertmanagerSpec) and (am.resend_after, am.timeout) == (90.0, 60.0)
    assert isinstance(default, AlertmanagerSpec)
    assert (default.resend_after, default.timeout) == (60.0, 10.0)  # the defaults
    assert routing.route.repeat_interval == 14400.0
    assert routing.route.routes[0].repeat_interval == 5400.0
    assert routing.resend_intervals == {"am": 90.0, "am-default": 60.0}
    assert routing.resend_floor == 60.0
    assert default_routing().resend_intervals == {} and default_routing().resend_floor is None


def test_bad_durations_are_reported_with_every_other_problem() -> None:
    text = """\
receivers:
  - name: audit
    webhook: {url: "http://127.0.0.1:1/hook", timeout: soon, secret_envs: [HOOK_SECRET]}
  - name: am
    alertmanager: {url: "http://127.0.0.1:9093", resend_after: 0s}
route:
  receiver: audit
  routes:
    - {receiver: pager, repeat_interval: 1 hour}
"""
    assert problems(text) == [
        "r.yaml:3: receivers[0].webhook.secret_envs: environment variable HOOK_SECRET is not set",
        "r.yaml:3: receivers[0].webhook.timeout: not a duration: 'soon' "
        "(use e.g. 30d, 6h, 5m, 1h30m)",
        "r.yaml:4: receivers[1].name: receiver 'am' is never used",
        "r.yaml:5: receivers[1].alertmanager.resend_after: must be positive (got '0s')",
        "r.yaml:9: route.routes[0].receiver: unknown receiver 'pager' (known: am, audit)",
        "r.yaml:9: route.routes[0].repeat_interval: not a duration: '1 hour' "
        "(use e.g. 30d, 6h, 5m, 1h30m)",
    ]


def test_a_duration_is_text_as_before() -> None:
    text = "receivers:\n  - name: c\n    log: {}\nroute:\n  receiver: c\n  repeat_interval: 10\n"
    assert problems(text) == [
        "r.yaml:6: route.repeat_interval: Input should be a valid string (got 10)"
    ]
