"""Settings: file < environment < flags, every problem located and named with its value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from sloguard import conventions as c
from sloguard.errors import ConfigError
from sloguard.settings.model import (
    DEFAULT_PORT,
    SECRET_PATHS,
    Settings,
    env_name,
    load_settings,
)
from sloguard.settings.sections import Mode

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def write(tmp_path: Path) -> Any:
    def write(text: str) -> str:
        path = tmp_path / "sloguard.yaml"
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write


def _problems(path: str | None, env: dict[str, str] | None = None, **flags: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(path, env or {}, overrides=flags)
    return [str(p).replace(path or "\0", "FILE") for p in info.value.problems]


def test_defaults_without_file_or_env() -> None:
    s = load_settings(None, {})
    assert (s.host, s.port, s.mode, s.data_dir) == ("127.0.0.1", 9464, Mode.ALL, Path("data"))
    assert DEFAULT_PORT == 9464
    assert (s.log_level, s.log_format) == ("info", "json")
    assert s.metrics.buckets.agent_latency == c.AGENT_LATENCY_BUCKETS
    assert s.prometheus.url is None
    assert s.ingest.token is None


def test_example_config_loads() -> None:
    s = load_settings(str(REPO / "config" / "sloguard.yaml"), {})
    assert (s.host, s.port, s.mode) == ("127.0.0.1", 9464, Mode.ALL)
    assert s.metrics.label_limits == {"agent_name": 200, "tool_name": 300}
    # The seed's buckets are bounds of the example's buckets.
    assert {0.5, 1, 2, 5, 10, 30, 60} <= set(s.metrics.buckets.agent_latency)
    assert {0.1, 0.5, 1, 2, 5, 10} <= set(s.metrics.buckets.tool_duration)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "host: h\nprot: 8080\n",
            "FILE:2: prot: unknown key 'prot', did you mean 'port'?",
            id="unknown-key-suggestion",
        ),
        pytest.param(
            "metrics:\n  default_label_limt: 3\n",
            "FILE:2: metrics.default_label_limt: unknown key 'default_label_limt', did you mean "
            "'default_label_limit'?",
            id="unknown-nested-key",
        ),
        pytest.param(
            "port: 9464\nmetrics:\n  default_label_limit: lots\n",
            "FILE:3: metrics.default_label_limit: Input should be a valid integer, unable to "
            "parse string as an integer (got 'lots')",
            id="wrong-type",
        ),
        pytest.param(
            "port: 70000\n",
            "FILE:1: port: Input should be less than or equal to 65535 (got 70000)",
            id="port-too-big",
        ),
        pytest.param(
            "port: 0\n",
            "FILE:1: port: Input should be greater than or equal to 1 (got 0)",
            id="port-zero",
        ),
        pytest.param(
            "metrics:\n  buckets:\n    agent_latency: [0.5, 1, 1, 2]\n",
            "FILE:3: metrics.buckets.agent_latency: bucket bounds must be strictly increasing, "
            "1.0 follows 1.0 (got [0.5, 1, 1, 2])",
            id="buckets-not-increasing",
        ),
        pytest.param(
            "metrics:\n  buckets:\n    tool_duration: [0, 1]\n",
            "FILE:3: metrics.buckets.tool_duration: bucket bounds must be positive and finite, "
            "0.0 is not (+Inf is added automatically) (got [0, 1])",
            id="buckets-not-positive",
        ),
        pytest.param(
            "metrics:\n  buckets:\n    agent_latency: []\n",
            "FILE:3: metrics.buckets.agent_latency: must list at least one bucket bound (got [])",
            id="buckets-empty",
        ),
        pytest.param(
            "metrics:\n  buckets:\n    decision_confidence: [0.5, 2]\n",
            "FILE:3: metrics.buckets.decision_confidence: confidence buckets must be within "
            "0..1, 2.0 is not (got [0.5, 2])",
            id="confidence-above-one",
        ),
        pytest.param(
            "metrics:\n  label_limits:\n    agnet_name: 10\n",
            "FILE:3: metrics.label_limits.agnet_name: unknown client label 'agnet_name', "
            "did you mean 'agent_name'?",
            id="unknown-label",
        ),
        pytest.param(
            "mode: sideways\n",
            "FILE:1: mode: Input should be 'all', 'exporter' or 'evaluator' (got 'sideways')",
            id="bad-mode",
        ),
        pytest.param(
            "prometheus:\n  url: prometheus:9090\n",
            "FILE:2: prometheus.url: must be an http:// or https:// URL (got 'prometheus:9090')",
            id="bad-url",
        ),
        pytest.param(
            "ingest:\n  token: hunter2\n",
            "FILE:2: ingest.token: secrets are not read from settings files; set "
            "SLOGUARD_INGEST__TOKEN instead",
            id="secret-in-file",
        ),
        pytest.param(
            "- port: 1\n",
            "FILE: expected a mapping of settings (got [{'port': 1}])",
            id="not-a-mapping",
        ),
        pytest.param(
            "_cli_parse_args: true\n",
            "FILE:1: _cli_parse_args: unknown key '_cli_parse_args' (allowed: data_dir, "
            "drain_timeout, evaluation_interval, external_url, host, ingest, log_format, "
            "log_level, metrics, mode, no_data_after, port, prometheus, routing_file, self_alerts, "
            "silence_retention, slo_files, storage, traces, web)",
            id="private-init-argument",
        ),
        pytest.param(
            "port: 1\nport: 2\n",
            "FILE:2: port: duplicate key 'port' (first on line 1)",
            id="duplicate-key",
        ),
        pytest.param(
            "port: [1\n",
            "FILE:2: invalid YAML: expected ',' or ']', but got '<stream end>' (while parsing a "
            "flow sequence)",
            id="yaml-syntax",
        ),
    ],
)
def test_file_problems(write: Any, text: str, expected: str) -> None:
    assert _problems(write(text)) == [expected]


def test_odd_top_level_keys(write: Any) -> None:
    assert _problems(write("1: x\n_port: 2\n")) == [
        "FILE:1: [1]: unknown key 1 (allowed: data_dir, drain_timeout, "
        "evaluation_interval, external_url, host, ingest, log_format, log_level, metrics, mode, "
        "no_data_after, port, prometheus, routing_file, self_alerts, silence_retention, "
        "slo_files, storage, traces, web)",
        "FILE:2: _port: unknown key '_port', did you mean 'port'?",
    ]


def test_every_problem_at_once(write: Any) -> None:
    path = write(
        "prot: 1\n"
        "metrics:\n"
        "  buckets:\n"
        "    agent_latency: [2, 1]\n"
        "prometheus:\n"
        "  timeout: -1\n"
    )
    problems = _problems(path, {"SLOGUARD_LOG_LEVEL": "loud"})
    assert [p.split(": ")[0] for p in problems] == [
        "FILE:1",
        "FILE:4",
        "FILE:6",
        "$SLOGUARD_LOG_LEVEL",
    ]


def test_missing_file() -> None:
    assert _problems("/nonexistent/sloguard.yaml") == [
        "FILE: cannot read file: No such file or directory"
    ]


def test_env_overrides_file_and_flags_override_env(write: Any) -> None:
    path = write("port: 1000\nhost: 10.0.0.1\nmetrics:\n  default_label_limit: 7\n")
    env = {"SLOGUARD_PORT": "2000", "SLOGUARD_METRICS__LABEL_LIMITS__AGENT_NAME": "5"}
    s = load_settings(path, env)
    assert (s.port, s.host) == (2000, "10.0.0.1")
    # Nested env merges into the file's section instead of replacing it.
    assert (s.metrics.default_label_limit, s.metrics.label_limits) == (7, {"agent_name": 5})
    s = load_settings(path, env, overrides={"port": 3000, "mode": "exporter"})
    assert (s.port, s.mode) == (3000, Mode.EXPORTER)


def test_config_file_from_env(write: Any) -> None:
    path = write("port: 1234\n")
    assert load_settings(None, {"SLOGUARD_CONFIG": path}).port == 1234


@pytest.mark.parametrize(
    ("env", "check"),
    [
        ({"SLOGUARD_MODE": "EVALUATOR"}, lambda s: s.mode is Mode.EVALUATOR),
        ({"sloguard_host": "0.0.0.0"}, lambda s: s.host == "0.0.0.0"),
        ({"SLOGUARD_LOG_FORMAT": "Console"}, lambda s: s.log_format == "console"),
        ({"SLOGUARD_PORT": ""}, lambda s: s.port == 9464),  # empty means unset
        ({"SLOGUARD_DATA_DIR": "/srv/sloguard"}, lambda s: s.data_dir == Path("/srv/sloguard")),
        (
            {"SLOGUARD_METRICS__BUCKETS__AGENT_LATENCY": "[0.5, 1, 2]"},
            lambda s: s.metrics.buckets.agent_latency == (0.5, 1.0, 2.0),
        ),
        (
            {"SLOGUARD_METRICS": '{"default_label_limit": 9}'},
            lambda s: s.metrics.default_label_limit == 9,
        ),
        (
            {"SLOGUARD_METRICS__LABEL_ALLOWLISTS__MODEL": '["gpt-4o"]'},
            lambda s: s.metrics.label_allowlists == {"model": frozenset({"gpt-4o"})},
        ),
        (
            {"SLOGUARD_PROMETHEUS__URL": "http://prom:9090/", "SLOGUARD_PROMETHEUS__TIMEOUT": "2"},
            lambda s: (s.prometheus.url, s.prometheus.timeout) == ("http://prom:9090", 2.0),
        ),
        ({"OTHER_PORT": "1", "SLOGUARD_CONFIG": ""}, lambda s: s.port == 9464),
    ],
)
def test_env_values(env: dict[str, str], check: Any) -> None:
    assert check(load_settings(None, env))


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param(
            {"SLOGUARD_PORT": "abc"},
            "$SLOGUARD_PORT: port: Input should be a valid integer, unable to parse string as an "
            "integer (got 'abc')",
            id="port-not-int",
        ),
        pytest.param(
            {"SLOGUARD_PORT": "99999"},
            "$SLOGUARD_PORT: port: Input should be less than or equal to 65535 (got '99999')",
            id="port-range",
        ),
        pytest.param(
            {"SLOGUARD_METRICS__BUCKETS__TOOL_DURATION": "1,2"},
            "$SLOGUARD_METRICS__BUCKETS__TOOL_DURATION: metrics.buckets.tool_duration: invalid "
            "JSON list/mapping (got '1,2')",
            id="bad-json",
        ),
        pytest.param(
            {"SLOGUARD_METRICS__DEFAULT_LABLE_LIMIT": "3"},
            "$SLOGUARD_METRICS__DEFAULT_LABLE_LIMIT: metrics.default_lable_limit: unknown key "
            "'default_lable_limit', did you mean 'default_label_limit'?",
            id="unknown-nested-env",
        ),
        pytest.param(
            {"SLOGUARD_METRICS": '{"default_label_limit": 0}'},
            "$SLOGUARD_METRICS: metrics.default_label_limit: Input should be greater than or "
            "equal to 1 (got 0)",
            id="json-section",
        ),
    ],
)
def test_env_problems_name_the_variable_and_value(env: dict[str, str], expected: str) -> None:
    assert _problems(None, env) == [expected]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param(
            {"SLOGUARD_INGEST_TOKEN": "abc"},
            "$SLOGUARD_INGEST_TOKEN: ingest_token: unknown setting, did you mean "
            "SLOGUARD_INGEST__TOKEN?",
            id="section-one-underscore",
        ),
        pytest.param(
            {"SLOGUARD_TRACES_MAX_AGE": "1d"},
            "$SLOGUARD_TRACES_MAX_AGE: traces_max_age: unknown setting, did you mean "
            "SLOGUARD_TRACES__MAX_AGE?",
            id="other-section",
        ),
        pytest.param(
            {"SLOGUARD_INGST__TOKEN": "abc"},
            "$SLOGUARD_INGST__TOKEN: ingst.token: unknown setting, did you mean "
            "SLOGUARD_INGEST__TOKEN?",
            id="misspelt-section",
        ),
        pytest.param(
            {"SLOGUARD_DATADIR": "/srv"},
            "$SLOGUARD_DATADIR: datadir: unknown setting, did you mean SLOGUARD_DATA_DIR?",
            id="field-without-underscores",
        ),
        pytest.param(
            {"SLOGUARD_PORT__NUMBER": "1"},
            "$SLOGUARD_PORT__NUMBER: port.number: unknown setting: port has no fields, did you "
            "mean SLOGUARD_PORT?",
            id="below-a-plain-field",
        ),
        pytest.param(
            {"SLOGUARD_FOO__BAR": "1"},
            "$SLOGUARD_FOO__BAR: foo.bar: unknown setting (a setting is SLOGUARD_<FIELD>, "
            "nested with __)",
            id="nothing-close",
        ),
    ],
)
def test_unknown_setting_variables_are_problems(env: dict[str, str], expected: str) -> None:
    # Ignoring them would silently drop the setting: SLOGUARD_INGEST_TOKEN left ingest open.
    assert _problems(None, {**env, "SLOGUARD_PORT": "9999"}) == [expected]


def test_other_sloguard_variables_are_not_settings_problems() -> None:
    env = {
        "SLOGUARD_CONFIG": "",
        # the routing file's default secret names, and the demo's Slack variables
        "SLOGUARD_SLACK_TOKEN": "xoxb-1",
        "SLOGUARD_SLACK_WEBHOOK_URL": "https://hooks.example/x",
        "SLOGUARD_WEBHOOK_SECRET": "s",
        "SLOGUARD_SLACK_CHANNEL": "#alerts",
        "SLOGUARD_SLACK_BASE_URL": "http://127.0.0.1:1",
        "SLOGUARD_MODEL": "gpt",  # an agent's own variable: not close enough to `mode`
        # keys of mappings are the mappings' own (checked by the section)
        "SLOGUARD_METRICS__LABEL_LIMITS__AGENT_NAME": "3",
        "SLOGUARD_INGEST__TOKEN": "t",
    }
    s = load_settings(None, env)
    assert s.metrics.label_limits == {"agent_name": 3}


def test_flag_problems_name_the_command_line() -> None:
    assert _problems(None, port=0) == [
        "command line: port: Input should be greater than or equal to 1 (got 0)"
    ]


def test_secrets_come_from_env_and_are_never_shown() -> None:
    env = {
        "SLOGUARD_INGEST__TOKEN": "tok-s3cret",
        "SLOGUARD_PROMETHEUS__BASIC_AUTH__USERNAME": "sloguard",
        "SLOGUARD_PROMETHEUS__BASIC_AUTH__PASSWORD": "pw-s3cret",
    }
    s = load_settings(None, env)
    assert isinstance(s.ingest.token, SecretStr)
    assert s.ingest.token.get_secret_value() == "tok-s3cret"
    assert s.prometheus.basic_auth is not None
    assert s.prometheus.basic_auth.password.get_secret_value() == "pw-s3cret"
    for text in (repr(s), str(s), s.model_dump_json()):
        assert "s3cret" not in text


def test_secret_problems_hide_the_value() -> None:
    env = {
        "SLOGUARD_PROMETHEUS__BEARER_TOKEN": "tok-s3cret",
        "SLOGUARD_PROMETHEUS__BASIC_AUTH": '{"username": "u", "password": "pw-s3cret", "x": 1}',
    }
    problems = _problems(None, env)
    assert not any("s3cret" in p for p in problems)
    assert "$SLOGUARD_PROMETHEUS__BASIC_AUTH: prometheus.basic_auth.x: unknown key 'x'" in (
        problems[0]
    )


def test_bearer_and_basic_auth_are_exclusive() -> None:
    env = {
        "SLOGUARD_PROMETHEUS__BEARER_TOKEN": "t",
        "SLOGUARD_PROMETHEUS__BASIC_AUTH__USERNAME": "u",
        "SLOGUARD_PROMETHEUS__BASIC_AUTH__PASSWORD": "p",
    }
    (problem,) = _problems(None, env)
    assert problem.startswith("$SLOGUARD_PROMETHEUS__")
    assert "set either bearer_token or basic_auth, not both" in problem


def test_tls_files_must_exist(write: Any, tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    path = write(f"prometheus:\n  tls:\n    ca_file: {tmp_path / 'missing.pem'}\n")
    (problem,) = _problems(path)
    assert problem.startswith("FILE:3: prometheus.tls.ca_file: Path does not point to a file")
    tls = f"prometheus:\n  tls:\n    cert_file: {cert}\n    key_file: {cert}\n"
    s = load_settings(write(tls), {})
    assert s.prometheus.tls.key_file == cert


def test_settings_are_frozen() -> None:
    s = load_settings(None, {})
    with pytest.raises(ValidationError):
        s.port = 1
    with pytest.raises(ValidationError):
        s.metrics.default_label_limit = 1


def test_constructing_settings_reads_only_its_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLOGUARD_PORT", "1111")
    assert Settings().port == 9464
    assert load_settings(None).port == 1111  # load_settings reads os.environ by default


def test_secret_paths_and_env_names() -> None:
    assert set(SECRET_PATHS) == {
        ("prometheus", "bearer_token"),
        ("prometheus", "basic_auth", "password"),
        ("ingest", "token"),
        ("ingest", "forward_token"),
        ("storage", "password"),
        ("web", "read_token"),
    }
    assert env_name(("prometheus", "basic_auth", "password")) == (
        "SLOGUARD_PROMETHEUS__BASIC_AUTH__PASSWORD"
    )
