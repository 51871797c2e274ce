from __future__ import annotations

import pytest

from sloguard import Redactor
from sloguard.conventions import REDACTED


@pytest.mark.parametrize(
    ("key", "sensitive"),
    [
        ("password", True),
        ("userPassword", True),
        ("access_token", True),
        ("X-Api-Key", True),
        ("apiKey", True),
        ("Authorization", True),
        ("client_secret", True),
        ("max_tokens", False),
        ("tokenizer", False),
        ("user_id", False),
        ("query", False),
    ],
)
def test_sensitive_keys_match_whole_words(key: str, sensitive: bool) -> None:
    assert Redactor().is_sensitive(key) is sensitive


def test_clean_redacts_nested_and_truncates() -> None:
    r = Redactor(max_string=10, max_items=3)
    out = r.clean(
        {
            "user": "kim",
            "auth": {"password": "hunter2", "note": "abcdefghijklmnop"},
            "items": list(range(5)),
        }
    )
    assert out == {
        "user": "kim",
        "auth": REDACTED,
        "items": [0, 1, 2, "…[+2 items]"],
    }
    assert r.clean({"note": "abcdefghijklmnop"}) == {"note": "abcdefghij…[+6 chars]"}


def test_extra_keys_are_configurable_and_objects_become_strings() -> None:
    r = Redactor().with_keys({"ssn_number", "card"})
    out = r.clean({"card": "4111", "when": object()})
    assert out["card"] == REDACTED
    assert isinstance(out["when"], str)


def test_depth_is_bounded() -> None:
    nested: dict[str, object] = {}
    cur = nested
    for _ in range(20):
        nxt: dict[str, object] = {}
        cur["k"] = nxt
        cur = nxt
    out = Redactor(max_depth=3).clean(nested)
    assert out == {"k": {"k": {"k": "…[nested too deep]"}}}


# --- step attributes (issue 13, defect 6a) ----------------------------------------------------


def test_step_attributes_are_redacted_when_the_step_ends_and_when_exported() -> None:
    from sloguard import CallType, ResponseTrace, TraceRecord

    trace = ResponseTrace("t")
    step = TraceRecord(CallType.TOOL, "search", trace=trace)
    step.end_step(
        model="gpt-4o",
        input_tokens=3,
        additional_attributes={"password": "hunter2", "api_key": "k", "hits": 4},
    )
    assert step.additional_attributes == {"password": REDACTED, "api_key": REDACTED, "hits": 4}
    step.additional_attributes["session_cookie"] = "set directly"  # bypassing end_step
    attrs = step.as_dict()["additional_attributes"]
    assert attrs["session_cookie"] == REDACTED
    assert attrs["hits"] == 4
    assert attrs["gen_ai.request.model"] == "gpt-4o"  # the metrics' attributes are kept
    assert attrs["gen_ai.usage.input_tokens"] == 3


def test_step_attributes_use_the_steps_own_redactor() -> None:
    from sloguard import CallType, TraceRecord

    step = TraceRecord(CallType.TOOL, "lookup", redactor=Redactor().with_keys({"iban"}))
    step.end_step(additional_attributes={"iban": "DE00", "bank": "x"})
    assert step.additional_attributes == {"iban": REDACTED, "bank": "x"}
