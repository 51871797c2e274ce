"""Table tests of silence matchers and states (Alertmanager's semantics), with explicit ``now``."""

from __future__ import annotations

import pytest

from sloguard.alerting.silences import (
    Matcher,
    MatchType,
    SilenceError,
    SilenceState,
    expire,
    matcher_from_dict,
    mutes,
    new_silence,
    parse_matcher,
    silence_dict,
    silence_from_dict,
    silenced_by,
)

LABELS = {"alertname": "SLOBurn", "slo": "checkout-latency", "severity": "critical", "env": ""}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("slo=checkout-latency", True),
        ('slo="checkout-latency"', True),
        ("slo = checkout-latency", True),
        ("slo=checkout", False),  # equality is exact
        ("slo!=checkout", True),
        ("slo=~checkout", False),  # regexes are anchored at both ends, like Alertmanager's
        ("slo=~checkout.*", True),
        ("slo=~.*latency", True),
        ('slo=~"checkout-(latency|errors)"', True),
        ("slo=~latency|checkout", False),  # the alternation is inside the anchors
        ("slo!~checkout.*", False),
        ("severity!~warning", True),
        ("team=", True),  # a missing label is the empty string
        ("team!=", False),
        ("team=~.+", False),
        ("env=~.*", True),
        ('summary="a \\"quoted\\" value"', False),
    ],
)
def test_a_matcher_matches_like_alertmanager(text: str, expected: bool) -> None:
    m = parse_matcher(text)
    assert m.matches(LABELS.get(m.name, "")) is expected


def test_a_parsed_matcher_keeps_the_operator_and_unquoted_value() -> None:
    assert parse_matcher('slo=~"a\\"b"') == Matcher("slo", MatchType.REGEX, 'a"b')
    assert parse_matcher("a!=b=c") == Matcher("a", MatchType.NOT_EQUAL, "b=c")
    assert str(Matcher("slo", MatchType.NOT_REGEX, 'x"y')) == 'slo!~"x\\"y"'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("slo", "expected name=value"),
        ("1slo=x", "expected name=value"),
        ("slo=~(", "bad regex"),
        ('slo="unbalanced', "unbalanced double quote"),
        ('slo="a"b"', "unescaped double quote"),
    ],
)
def test_a_bad_matcher_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(SilenceError, match=message):
        parse_matcher(text)


def test_alertmanagers_api_form_is_read() -> None:
    assert matcher_from_dict({"name": "slo", "value": "x", "isRegex": True}) == Matcher(
        "slo", MatchType.REGEX, "x"
    )
    assert matcher_from_dict(
        {"name": "slo", "value": "x", "isRegex": False, "isEqual": False}
    ) == Matcher("slo", MatchType.NOT_EQUAL, "x")
    assert (
        matcher_from_dict({"name": "slo", "type": "!~", "value": "x"}).type is MatchType.NOT_REGEX
    )
    with pytest.raises(SilenceError, match="missing field 'value'"):
        matcher_from_dict({"name": "slo"})
    with pytest.raises(SilenceError, match="type must be one of"):
        matcher_from_dict({"name": "slo", "type": "==", "value": "x"})


def _silence(start: float, end: float, *matchers: str, now: float = 0.0):  # type: ignore[no-untyped-def]
    return new_silence(
        "s1",
        [parse_matcher(m) for m in matchers],
        starts_at=start,
        ends_at=end,
        created_by="ana",
        comment="maintenance",
        now=now,
    )


def test_a_maintenance_window_mutes_exactly_its_time_range() -> None:
    s = _silence(100.0, 200.0, "slo=checkout-latency")
    assert [s.state(t) for t in (99.9, 100.0, 199.9, 200.0)] == [
        SilenceState.PENDING,
        SilenceState.ACTIVE,
        SilenceState.ACTIVE,
        SilenceState.EXPIRED,
    ]
    assert [mutes(s, LABELS, t) for t in (99.9, 100.0, 199.9, 200.0)] == [
        False,
        True,
        True,
        False,
    ]
    assert silenced_by(LABELS, [s], 150.0) == ("s1",)
    assert silenced_by({"slo": "other"}, [s], 150.0) == ()


def test_every_matcher_must_match() -> None:
    s = _silence(0.0, 10.0, "slo=checkout-latency", "severity=warning")
    assert not mutes(s, LABELS, 5.0)


def test_a_start_in_the_past_means_now_and_expiring_ends_it_now() -> None:
    s = _silence(-50.0, 100.0, "slo=x", now=10.0)
    assert s.starts_at == 10.0
    gone = expire(s, 20.0)
    assert (gone.starts_at, gone.ends_at, gone.state(20.0)) == (10.0, 20.0, SilenceState.EXPIRED)
    assert expire(gone, 30.0) == gone  # expiring again changes nothing
    window = expire(_silence(100.0, 200.0, "slo=x"), 20.0)  # a window that never started
    assert (window.starts_at, window.ends_at) == (20.0, 20.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"matchers": []}, "matchers: a silence needs at least one matcher"),
        ({"matchers": ["team=~.*"]}, "matchers: at least one matcher must not match the empty"),
        ({"matchers": ["team!=x"]}, "matchers: at least one matcher must not match the empty"),
        ({"created_by": " "}, "created_by: say who"),
        ({"comment": ""}, "comment: say why"),
        ({"ends_at": 5.0}, "ends_at: the end must be after the start"),
        ({"starts_at": -20.0, "ends_at": -10.0}, "ends_at: the end is in the past"),
    ],
)
def test_a_bad_silence_says_which_field(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "matchers": ["slo=x"],
        "starts_at": 10.0,
        "ends_at": 20.0,
        "created_by": "ana",
        "comment": "why",
    }
    args.update(kwargs)
    matchers = [parse_matcher(str(m)) for m in args.pop("matchers")]  # type: ignore[attr-defined]
    with pytest.raises(SilenceError, match=message):
        new_silence("s", matchers, now=0.0, **args)  # type: ignore[arg-type]


def test_the_json_form_round_trips() -> None:
    s = _silence(0.0, 10.0, 'slo=~"a|b"', "severity!=warning")
    d = silence_dict(s, 5.0)
    assert d["status"] == "active"
    assert d["matchers"][0] == {"name": "slo", "type": "=~", "value": "a|b"}
    assert silence_from_dict(d) == s
