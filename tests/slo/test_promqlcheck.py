"""The PromQL of ``kind: ratio`` SLIs parsed with promql-parser: positions, fixes, counters,
selectors that never match, and rates read as event counts (or refused)."""

from __future__ import annotations

import pytest

from sloguard.rules.compiler import compile_group
from sloguard.slo.loader import check_slo_text
from sloguard.slo.promql import bad_and_total
from sloguard.slo.promqlcheck import check_query, check_ratio_sli, counts_form, syntax_issue
from sloguard.slo.spec import SLI, SLIKind


@pytest.mark.parametrize(
    ("expr", "position", "message", "fix"),
    [
        (  # the issue's example: a matcher block never closed
            'sum(rate(foo{code=~"5.."[5m])',
            25,
            "unexpected character inside braces: '['",
            'sum(rate(foo{code=~"5.."}[5m]))',
        ),
        ("sum(rate(foo[$window])", 4, "unclosed left parenthesis", "sum(rate(foo[$window]))"),
        ('foo{a="b"', 9, "unexpected end of input inside braces", 'foo{a="b"}'),
        (  # positions count the placeholder as written
            "sum(rate(foo{{{.window}}]))",
            None,
            "",
            None,
        ),
        ("sum(rate(foo[5x]))", None, "bad number or duration syntax", None),
        ("nosuchfn(foo)", None, "unknown function with name 'nosuchfn'", None),
    ],
)
def test_syntax_errors_carry_the_position_and_a_fix(
    expr: str, position: int | None, message: str, fix: str | None
) -> None:
    issue = syntax_issue(expr)
    assert issue is not None
    if position is not None:
        assert issue.position == position
    assert message in issue.message
    assert issue.fix == fix
    assert issue.text().startswith("PromQL syntax error")


def test_position_is_in_the_text_as_written_with_placeholders() -> None:
    expr = 'sum(rate(x{{.window}}[{{.window}}])) + sum(rate(y{a="b"[$window]))'
    issue = syntax_issue(expr)
    assert issue is not None
    assert issue.position is not None
    # {{.window}} directly after a metric name is not a duration; the first error is there
    assert expr[issue.position - 1] in "{[."


def test_valid_expressions_have_no_syntax_issue() -> None:
    assert syntax_issue('sum(rate(foo{code=~"5.."}[{{.window}}])) by (job)') is None
    assert syntax_issue("agent_calls_total") is None


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ("sum(x_total) + sum(increase(y_total[$window]))", "counter x_total is used without"),
        ("sum(agent_latency_seconds_count)", None),  # no window: must be a plain selector
        ("sum(rate(x[5m]))", "must use the window"),
        ('agent_calls_total{status="failed"}', "can never match: sloguard writes status as"),
        ('agent_routing_outcomes_total{outcome=~"ok|fine"}', "can never match"),
        ('agent_calls_total{tool_name="search"}', "has no label 'tool_name'"),
        ("agent_call_total", "did you mean agent_calls_total"),
        ("sum(irate(x_total[$window]))", "cannot read as event counts"),
        ("sum(rate(a[$window])) / sum(rate(b[$window]))", "cannot read as event counts"),
        ("sum(rate(a[1h])) + sum(increase(b[$window]))", "cannot read as event counts"),
    ],
)
def test_expressions_that_cannot_work(expr: str, fragment: str | None) -> None:
    issues = check_query(expr)
    assert issues
    assert fragment is None or any(fragment in i.text() for i in issues)


@pytest.mark.parametrize(
    "expr",
    [
        "agent_calls_total",
        'agent_calls_total{status="error", job="agents"}',  # target labels are never flagged
        'agent_calls_total{status=~"err.*"}',
        "sum by (job) (increase(http_requests_total[$window]))",
        "http_requests_total{code=~'5..'}",
    ],
)
def test_expressions_that_work(expr: str) -> None:
    assert check_query(expr) == ()


def test_irate_fix_is_the_counts_form() -> None:
    (issue,) = check_query("sum(irate(x_total[$window]))")
    assert issue.fix == "sum(increase(x_total[$window]))"


@pytest.mark.parametrize(
    ("expr", "counted"),
    [
        ("sum(rate(x[$window]))", "sum(increase(x[$window]))"),
        (
            'sum by (job) (rate(x{code=~"5..", name="rate(x)"}[{{.window}}]))',
            'sum by (job) (increase(x{code=~"5..", name="rate(x)"}[{{.window}}]))',
        ),
        (
            "sum(rate(a[$window])) - 2 * sum(rate(b[$window])) or vector(0) * 0 + rate(c[$window])",
            None,  # vector(0) has no rate: `or` needs both sides linear
        ),
        ("max(rate(a[$window])) / 60", "max(increase(a[$window])) / 60"),
        ("sum(increase(x[$window]))", None),  # already counts
        ("sum(rate(x[5m]))", None),  # not over the window
    ],
)
def test_counts_form(expr: str, counted: str | None) -> None:
    assert counts_form(expr) == counted


def test_sloth_style_sli_runs_as_counts_so_the_guard_counts_events() -> None:
    text = """
slos:
  - name: requests
    objective: 99.9
    min_events: 100
    sli:
      kind: ratio
      bad: sum(rate(http_requests_total{code=~"(5..|429)"}[{{.window}}]))
      total: sum(rate(http_requests_total[{{.window}}]))
"""
    check = check_slo_text(text, "slos.yaml")
    assert check.problems == ()
    assert [(n.line, n.field) for n in check.notices] == [
        (8, "slos[0].sli.bad"),
        (9, "slos[0].sli.total"),
    ]
    assert "read as increase" in check.notices[0].message
    (slo,) = check.raise_for_problems().slos
    bad, total = bad_and_total(slo, 3600)
    assert total == "sum (sum(increase(http_requests_total[1h])))"
    assert "rate(" not in bad.replace("increase(", "")
    # the low-traffic guard compares an event count with the events a tier needs
    group = compile_group(slo)
    (total_1h,) = [r for r in group["rules"] if r.get("record") == "slo:sli_total:increase1h"]
    assert "increase(http_requests_total[1h])" in total_1h["expr"]


def test_problems_name_file_line_and_field() -> None:
    text = """
slos:
  - name: broken
    objective: 99
    sli:
      kind: ratio
      bad: sum(rate(foo{code=~"5.."[5m])
      total: sum(foo_total)
"""
    check = check_slo_text(text, "slos.yaml")
    assert [(p.file, p.line, p.field) for p in check.problems] == [
        ("slos.yaml", 7, "slos[0].sli.bad"),
        ("slos.yaml", 8, "slos[0].sli.total"),
    ]
    assert "at character 25" in check.problems[0].message
    assert 'did you mean: sum(rate(foo{code=~"5.."}[5m]))' in check.problems[0].message
    assert "must use the window" in check.problems[1].message
    assert check.slo_file is None


def test_other_kinds_are_left_alone() -> None:
    sli = SLI(SLIKind.SUCCESS_RATE)
    assert check_ratio_sli(sli).sli is sli
