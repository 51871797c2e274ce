"""Table tests of the pure self-checks: each condition fires, and resolves when it clears."""

from __future__ import annotations

import pytest

from sloguard.alerting.selfcheck import (
    CHECKS,
    EVALUATION_ERRORS,
    OUTBOX_STALE,
    RECEIVER_DISABLED,
    STORAGE_FAILURE,
    WATCHDOG,
    SelfCheckRules,
    SelfProblem,
    SelfState,
    broken,
    firing,
    labels_of,
    receivers,
    summary,
    track_errors,
)

NOW = 1_800_000_000.0
RULES = SelfCheckRules(interval=30.0, error_for=5, outbox_age=900.0, watchdog=False)


def names(state: SelfState, rules: SelfCheckRules = RULES) -> list[tuple[str, ...]]:
    """(alertname, severity, subject…) of every firing self-alert."""
    return [
        (a.alertname, a.labels["severity"], *(v for k, v in sorted(a.labels.items())
                                               if k not in {"alertname", "severity"}))
        for a in firing(state, rules, NOW)
    ]  # fmt: skip


CASES = [
    # (case, state, rules, firing)
    ("nothing wrong", SelfState(), RULES, []),
    (
        "errors for 4 intervals: not yet",
        SelfState(error_since={"avail": NOW - 4 * 30}),
        RULES,
        [],
    ),
    (
        "errors for 5 intervals: fires",
        SelfState(error_since={"avail": NOW - 5 * 30}),
        RULES,
        [(EVALUATION_ERRORS, "critical", "avail")],
    ),
    (
        "error_for counts intervals",
        SelfState(error_since={"avail": NOW - 60}),
        SelfCheckRules(interval=30.0, error_for=2),
        [(EVALUATION_ERRORS, "critical", "avail")],
    ),
    (
        "outbox 14m59s: not yet",
        SelfState(pending_since={"slack": NOW - 899}),
        RULES,
        [],
    ),
    (
        "outbox 15m: fires",
        SelfState(pending_since={"slack": NOW - 900}),
        RULES,
        [(OUTBOX_STALE, "warning", "slack")],
    ),
    (
        "a disabled receiver's outbox is the disabled alert's business",
        SelfState(pending_since={"slack": NOW - 3600}, disabled={"slack": "410 Gone"}),
        RULES,
        [(RECEIVER_DISABLED, "critical", "slack")],
    ),
    (
        "storage failure, one alert per component",
        SelfState(problems=(SelfProblem("traces", "disk full"), SelfProblem("traces", "again"))),
        RULES,
        [(STORAGE_FAILURE, "critical", "traces")],
    ),
    (
        "watchdog on",
        SelfState(),
        SelfCheckRules(interval=30.0, watchdog=True),
        [(WATCHDOG, "none")],
    ),
    ("watchdog unset is off here (the center decides)", SelfState(), SelfCheckRules(30.0), []),
]


@pytest.mark.parametrize(("case", "state", "rules", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_condition(
    case: str, state: SelfState, rules: SelfCheckRules, expected: list[tuple[str, ...]]
) -> None:
    assert names(state, rules) == expected


def test_every_condition_clears_with_its_cause() -> None:
    """A tick that finds nothing wrong fires nothing: the center resolves what fired."""
    bad = SelfState(
        error_since={"avail": NOW - 3600},
        pending_since={"webhook": NOW - 3600},
        disabled={"slack": "token revoked"},
        problems=(SelfProblem("samples", "disk I/O error"),),
    )
    assert len(firing(bad, RULES, NOW)) == 4
    assert firing(SelfState(), RULES, NOW) == []


def test_error_runs_start_at_the_first_error_and_end_at_the_first_success() -> None:
    runs = track_errors({}, {"a": True, "b": False}, 100.0)
    assert runs == {"a": 100.0}
    runs = track_errors(runs, {"a": True, "b": True}, 130.0)
    assert runs == {"a": 100.0, "b": 130.0}
    runs = track_errors(runs, {"a": False, "b": True}, 160.0)
    assert runs == {"b": 130.0}
    assert track_errors(runs, {}, 190.0) == {}  # an SLO no longer evaluated drops out


def test_descriptions_and_summaries_name_the_subject() -> None:
    [a] = firing(SelfState(pending_since={"slack": NOW - 1200}), RULES, NOW)
    assert summary(a.labels) == "sloguard cannot deliver notifications to slack"
    assert "20m" in a.description and "15m" in a.description
    assert set(CHECKS) == {
        EVALUATION_ERRORS,
        OUTBOX_STALE,
        STORAGE_FAILURE,
        RECEIVER_DISABLED,
        WATCHDOG,
    }


ROUTING_CASES = [
    # (case, alertname, wanted, broken, expected)
    ("every working receiver", OUTBOX_STALE, (), {"slack"}, ["am", "log", "webhook"]),
    ("the configured ones", RECEIVER_DISABLED, ("webhook",), {"slack"}, ["webhook"]),
    ("configured but broken: every working", RECEIVER_DISABLED, ("slack",), {"slack"},
     ["am", "log", "webhook"]),
    ("watchdog: Alertmanager only", WATCHDOG, ("webhook",), set(), ["am"]),
    ("watchdog: not to a broken Alertmanager", WATCHDOG, (), {"am"}, []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "alertname", "wanted", "bad", "expected"),
    ROUTING_CASES,
    ids=[c[0] for c in ROUTING_CASES],
)
def test_routing(
    case: str, alertname: str, wanted: tuple[str, ...], bad: set[str], expected: list[str]
) -> None:
    configured = ["slack", "webhook", "am", "log"]
    labels = labels_of(alertname, receiver="slack")
    assert receivers(labels, configured, {"am"}, bad, wanted) == expected


def test_broken_receivers_are_the_disabled_and_the_stale() -> None:
    state = SelfState(pending_since={"a": NOW - 900, "b": NOW - 10}, disabled={"c": "gone"})
    assert broken(state, RULES, NOW) == {"a", "c"}
