"""The PromQL of ``kind: ratio`` SLIs, parsed with a real parser (``promql-parser``). Pure.

:func:`check_query` reads one ``good`` / ``bad`` / ``total`` expression as sloguard runs it
(``$window`` / ``{{.window}}`` substituted) and reports what cannot work:

- a **syntax error**, with the character of the expression it is at, the parser's message and,
  where a few obvious repairs (a missing ``}``, ``)`` or ``]``) make it parse, the repaired text;
- an expression that is neither a counter selector (sloguard wraps it in ``increase(…[W])``) nor
  uses the window placeholder;
- a **counter** (``*_total``, ``*_count``, ``*_bucket``, ``*_sum``) read without ``rate``,
  ``increase`` or ``irate``: its raw value counts since the process started;
- a **selector that can never match** what sloguard emits: an ``agent_*`` family sloguard does not
  have, a sloguard label the family lacks, or a value outside a label's fixed set
  (``status`` is ``success`` or ``error``);
- a **rate** that cannot be read as event counts (below).

Rates. ``rate(x[W])`` is events per second; the low-traffic guard (``min_events`` and the events a
tier needs, :func:`sloguard.slo.budget.min_events_to_judge`) and the recorded 5-minute rates
compare the SLI's ``total`` with a number of *events*, so a Sloth-style total would page only
above that many requests per second. sloguard therefore reads every ``rate(x[$window])`` as
``increase(x[$window])`` (:func:`counts_form`): Prometheus defines ``increase`` as ``rate`` times
the range, so the ratio is unchanged and every count is a count. That is sound when the
expression is linear in its rates (sums, ``+``/``-``, ``max``/``min``/``avg``, scaling by a number,
``or``/``and``/``unless``) and every rate spans the window; otherwise (``irate``, a rate over
another range, a ratio of rates) the expression is a problem with the ``increase`` form as the fix.
The guard is never silently switched off. :func:`check_ratio_sli` returns the SLI to run (rates
as counts) with problems and notices per field.

Example::

    check_query('sum(rate(foo{code=~"5.."[5m])')[0].text()
    # 'PromQL syntax error at character 25: unexpected character inside braces: '[' ...'
    counts_form("sum(rate(x_total[$window]))")  # 'sum(increase(x_total[$window]))'
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from sloguard import conventions as c
from sloguard.slo.spec import SLI, SLIKind

__all__ = [
    "FAMILY_LABELS",
    "QueryIssue",
    "SLICheck",
    "check_query",
    "check_ratio_sli",
    "counts_form",
    "syntax_issue",
]


def _suggest(word: str, choices: Iterable[str]) -> str:
    """``, did you mean 'x'?`` for the closest of ``choices``, or nothing."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f", did you mean {close[0]}?" if close else ""


#: Each placeholder with a duration of the same length, so positions match the text as written.
_SENTINELS = {p: "123457s".rjust(len(p), "0") for p in ("{{ .window }}", "{{.window}}", "$window")}
_SENTINEL_SECONDS = 123457.0
_COUNTER_SUFFIXES = ("_total", "_count", "_bucket", "_sum")
_COUNTING = frozenset({"rate", "increase", "irate"})
_LINEAR_AGG = frozenset({"sum", "max", "min", "avg"})
_SET_OPS = frozenset({"or", "and", "unless"})
_TOKENS = re.compile(
    r"(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|`[^`]*`)|(?<![\w:])rate(?=\s*\()", re.DOTALL
)

_CLIENT = (c.L_AGENT,)
_HIST = ("le",)
#: The labels of every counter and histogram family sloguard emits (besides target labels such
#: as ``job`` that Prometheus adds, which are never flagged).
FAMILY_LABELS: dict[str, frozenset[str]] = {
    c.AGENT_CALLS: frozenset({c.L_AGENT, c.L_STATUS}),
    f"{c.AGENT_LATENCY}_bucket": frozenset({c.L_AGENT, *_HIST}),
    f"{c.AGENT_LATENCY}_count": frozenset(_CLIENT),
    f"{c.AGENT_LATENCY}_sum": frozenset(_CLIENT),
    c.AGENT_TOKENS: frozenset({c.L_AGENT, c.L_MODEL, c.L_DIRECTION}),
    c.AGENT_COST: frozenset({c.L_AGENT, c.L_MODEL}),
    c.ACTIVE_AGENTS: frozenset(_CLIENT),
    c.AGENT_HANDOFFS: frozenset({c.L_SOURCE, c.L_TARGET}),
    c.TOOL_CALLS: frozenset({c.L_AGENT, c.L_TOOL, c.L_STATUS}),
    c.DECISIONS: frozenset({c.L_AGENT, c.L_DECISION_TYPE}),
    c.ROUTING_OUTCOMES: frozenset({c.L_AGENT, c.L_OUTCOME}),
    c.ANOMALIES: frozenset({c.L_AGENT, c.L_ANOMALY}),
    c.WORKFLOW_RUNS: frozenset({c.L_WORKFLOW, c.L_STATUS}),
}
for _h, _labels in (
    (c.TOOL_DURATION, {c.L_AGENT, c.L_TOOL}),
    (c.DECISION_CONFIDENCE, {c.L_AGENT, c.L_DECISION_TYPE}),
    (c.WORKFLOW_DURATION, {c.L_WORKFLOW}),
    (c.WORKFLOW_COST, {c.L_WORKFLOW}),
    (c.WORKFLOW_TOKENS, {c.L_WORKFLOW}),
):
    FAMILY_LABELS[f"{_h}_bucket"] = frozenset({*_labels, *_HIST})
    FAMILY_LABELS[f"{_h}_count"] = FAMILY_LABELS[f"{_h}_sum"] = frozenset(_labels)
_SLOGUARD_LABELS = frozenset().union(*FAMILY_LABELS.values())
#: Labels with a fixed set of values.
_VALUES = {
    c.L_STATUS: frozenset(s.value for s in c.Status),
    c.L_OUTCOME: frozenset(o.value for o in c.RoutingOutcome),
    c.L_DIRECTION: frozenset(d.value for d in c.Direction),
}


@dataclass(frozen=True, slots=True)
class QueryIssue:
    """One thing wrong with an expression; ``position`` is 1-based in the text as written."""

    message: str
    position: int | None = None
    fix: str | None = None

    def text(self) -> str:
        """The message with its position and fix, as one line."""
        where = f" at character {self.position}" if self.position is not None else ""
        fix = f"; did you mean: {self.fix}" if self.fix else ""
        return f"{self.message.replace('{where}', where)}{fix}"


def _parser() -> Any:
    import promql_parser  # a compiled extension: loaded only where PromQL is read

    return promql_parser


def _substituted(expr: str) -> str:
    out = expr
    for placeholder, sentinel in _SENTINELS.items():
        out = out.replace(placeholder, sentinel)
    return out


def _parse(text: str) -> tuple[Any, str | None]:
    try:
        return _parser().parse(text), None
    except ValueError as exc:
        return None, str(exc)


def _unclosed(text: str, opening: str, closing: str) -> int | None:
    """0-based index of the last unmatched ``opening`` outside string literals."""
    stack: list[int] = []
    quote = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'`":
            quote = ch
        elif ch == opening:
            stack.append(i)
        elif ch == closing and stack:
            stack.pop()
        i += 1
    return stack[-1] if stack else None


def _position(text: str, message: str) -> int | None:
    """The 1-based character the parser stops at: the shortest prefix failing the same way."""
    for opening, closing, what in (
        ("(", ")", "parenthesis"),
        ("{", "}", "brace"),
        ("[", "]", "bracket"),
    ):
        if f"unclosed left {what}" in message:
            at = _unclosed(text, opening, closing)
            return None if at is None else at + 1
    if "end of input" in message:
        return len(text)
    for k in range(1, len(text) + 1):
        if _parse(text[:k])[1] == message:
            return k
    return None


#: Obvious repairs: (message fragment, edit of (text, 0-based error index) → text).
_REPAIRS: tuple[tuple[str, Callable[[str, int], str]], ...] = (
    ("unexpected character inside braces", lambda t, i: f"{t[:i]}}}{t[i:]}"),
    ("end of input inside braces", lambda t, i: f"{t}}}"),
    ("end of input inside brackets", lambda t, i: f"{t}]"),
    ("unclosed left parenthesis", lambda t, i: f"{t})"),
    ("unclosed left bracket", lambda t, i: f"{t}]"),
    ("unclosed left brace", lambda t, i: f"{t}}}"),
)


def _repair(text: str, message: str, position: int | None) -> str | None:
    """The text after at most four obvious repairs, if it then parses."""
    for _ in range(4):
        edit = next((e for frag, e in _REPAIRS if frag in message), None)
        if edit is None:
            return None
        text = edit(text, (position or len(text)) - 1)
        _, error = _parse(text)
        if error is None:
            return text
        message, position = error, _position(text, error)
    return None


def syntax_issue(expr: str) -> QueryIssue | None:
    """A syntax error of ``expr`` (placeholders substituted), or None when it parses."""
    text = _substituted(expr)
    _, error = _parse(text)
    if error is None:
        return None
    position = _position(text, error)
    fixed = _repair(text, error, position)
    for placeholder, sentinel in _SENTINELS.items():
        fixed = fixed.replace(sentinel, placeholder) if fixed else None
    return QueryIssue(f"PromQL syntax error{{where}}: {error}", position, fixed)


def _children(node: Any) -> Iterator[Any]:
    for attr in ("expr", "lhs", "rhs", "param"):
        child = getattr(node, attr, None)
        if child is not None and hasattr(child, "parse"):
            yield child
    yield from getattr(node, "args", None) or ()


def _walk(node: Any, counted: bool = False) -> Iterator[tuple[Any, bool]]:
    """Every node with whether a rate/increase/irate reads it."""
    yield node, counted
    kind = type(node).__name__
    if kind == "MatrixSelector":
        yield node.vector_selector, counted
        return
    inner = kind == "Call" and node.func.name in _COUNTING
    for child in _children(node):
        yield from _walk(child, inner)


def _selector_issues(vs: Any) -> Iterator[str]:
    name = vs.name
    matchers = vs.matchers.matchers if vs.matchers is not None else []
    if name is None:
        name = next((m.value for m in matchers if m.name == "__name__"), None)
    if name is None:
        return
    family = FAMILY_LABELS.get(name)
    if family is None:
        if name.startswith("agent_"):
            yield f"{name} is not a metric sloguard emits{_suggest(name, FAMILY_LABELS)}"
        return
    for m in matchers:
        op = str(m.op).rsplit(".", 1)[-1]
        if m.name in _SLOGUARD_LABELS and m.name not in family and op == "Equal" and m.value:
            labels = ", ".join(sorted(family))
            yield f"{name} has no label {m.name!r} (its labels: {labels}): it can never match"
        allowed = _VALUES.get(m.name)
        if allowed is None or m.name not in family:
            continue
        hits = _value_hits(op, m.value, allowed)
        if hits is not None and not hits:
            yield (
                f'{name}{{{m.name}{_OPS.get(op, "=")}"{m.value}"}} can never match: '
                f"sloguard writes {m.name} as {' or '.join(sorted(allowed))}"
            )


_OPS = {"Equal": "=", "Re": "=~"}


def _value_hits(op: str, value: str, allowed: frozenset[str]) -> list[str] | None:
    if op == "Equal":
        return [v for v in allowed if v == value]
    if op == "Re":
        try:
            pattern = re.compile(value)
        except re.error:
            return None
        return [v for v in allowed if pattern.fullmatch(v)]
    return None


def _linear(node: Any) -> bool:
    """Whether ``node`` is linear in rates over the window (so rate → increase scales it)."""
    kind = type(node).__name__
    if kind == "ParenExpr":
        return _linear(node.expr)
    if kind == "AggregateExpr":
        return str(node.op) in _LINEAR_AGG and _linear(node.expr)
    if kind == "Call" and node.func.name == "rate":
        (arg,) = node.args
        return bool(abs(arg.range.total_seconds() - _SENTINEL_SECONDS) < 1e-6)
    if kind == "BinaryExpr":
        op = str(node.op)
        if op in ("+", "-"):
            return _linear(node.lhs) and _linear(node.rhs)
        if op in _SET_OPS:
            return _linear(node.lhs) and (op != "or" or _linear(node.rhs))
        number = [type(n).__name__ == "NumberLiteral" for n in (node.lhs, node.rhs)]
        if op == "*" and any(number):
            return _linear(node.rhs if number[0] else node.lhs)
        return op == "/" and number[1] and _linear(node.lhs)
    return False


def _has_rates(tree: Any) -> bool:
    return any(
        type(n).__name__ == "Call" and n.func.name in ("rate", "irate") for n, _ in _walk(tree)
    )


def counts_form(expr: str) -> str | None:
    """``expr`` with ``rate`` read as ``increase`` when that is sound; None when it has no
    rates or cannot be converted (``expr`` must parse)."""
    tree, error = _parse(_substituted(expr))
    if error is not None or not _has_rates(tree) or not _linear(tree):
        return None
    return _TOKENS.sub(lambda m: m.group(1) or "increase", expr)


def check_query(expr: str) -> tuple[QueryIssue, ...]:
    """Everything wrong with one ratio expression (empty when it can run as written, or after
    :func:`counts_form`)."""
    syntax = syntax_issue(expr)
    if syntax is not None:
        return (syntax,)
    tree, _ = _parse(_substituted(expr))
    issues: list[QueryIssue] = []
    placeholder = any(p in expr for p in _SENTINELS)
    if not placeholder and type(tree).__name__ != "VectorSelector":
        issues.append(
            QueryIssue(
                "an expression must use the window: write $window (or {{.window}}) as the range "
                "of its rate/increase, or give a plain counter selector (sloguard wraps it in "
                "increase(...[window]))"
            )
        )
    for node, counted in _walk(tree):
        if type(node).__name__ != "VectorSelector":
            continue
        issues += (QueryIssue(m) for m in _selector_issues(node))
        name = node.name or ""
        if placeholder and not counted and name.endswith(_COUNTER_SUFFIXES):
            issues.append(
                QueryIssue(
                    f"the counter {name} is used without rate/increase: its value counts since "
                    "the process started",
                    fix=f"increase({name}[$window])",
                )
            )
    if placeholder and not issues and _has_rates(tree) and counts_form(expr) is None:
        issues.append(
            QueryIssue(
                "a per-second rate that sloguard cannot read as event counts (only sums of "
                "rate(...[$window]) can be): min_events and the low-traffic guard need counts; "
                "use increase(...[$window])",
                fix=counts_form(re.sub(r"(?<![\w:])irate(?=\s*\()", "rate", expr)),
            )
        )
    return tuple(issues)


@dataclass(frozen=True, slots=True)
class SLICheck:
    """A ratio SLI as sloguard runs it, with (field, message) problems and notices."""

    sli: SLI
    problems: tuple[tuple[str, str], ...] = ()
    notices: tuple[tuple[str, str], ...] = ()


def check_ratio_sli(sli: SLI) -> SLICheck:
    """Check every expression of a ``kind: ratio`` SLI and read its rates as counts."""
    if sli.kind is not SLIKind.RATIO:
        return SLICheck(sli)
    problems: list[tuple[str, str]] = []
    notices: list[tuple[str, str]] = []
    changes: dict[str, Any] = {}
    for key in ("good", "bad", "total"):
        expr = getattr(sli, key)
        if expr is None:
            continue
        issues = check_query(expr)
        problems += ((key, i.text()) for i in issues)
        counted = None if issues else counts_form(expr)
        if counted is not None:
            changes[key] = counted
            notices.append(
                (
                    key,
                    "rate(...[$window]) is read as increase(...[$window]) (the same ratio) so "
                    f"that min_events and the low-traffic guard count events: {counted}",
                )
            )
    return SLICheck(replace(sli, **changes), tuple(problems), tuple(notices))
