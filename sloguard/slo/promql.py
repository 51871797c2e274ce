"""SLI specification + window → what to count, as structured terms and as PromQL. Pure.

Every built-in SLI kind is a pair of signed sums of counter series (``bad`` and ``total``); the
embedded source evaluates those terms on its own samples, and :func:`window_query` renders them
as one PromQL query per SLO × window that returns both numbers for every instance, so both are
evaluated at the same timestamp (outcome SLIs read each series once instead:
:func:`outcome_query`)::

    label_replace(sum by (agent_name) (increase(agent_calls_total{status="error"}[1h])),
                  "sloguard_part", "bad", "", "")
    or
    label_replace(sum by (agent_name) (increase(agent_calls_total[1h])),
                  "sloguard_part", "total", "", "")

``kind: ratio`` SLIs carry raw PromQL: a selector (wrapped in ``increase(…[W])``) or an
expression containing ``$window`` / ``{{.window}}`` (substituted, used as is).

Long windows can instead be read from recorded rates (:func:`rate_exprs`, recorded by
``sloguard rules`` every :data:`RATE_INTERVAL` as :data:`BAD_RATE` and :data:`TOTAL_RATE`):
the events in W are the sum of the records in W times the interval, for bad and total
separately (weighted by events, not an average of ratios); see :func:`recorded_window_query`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sloguard import conventions as c
from sloguard.durations import format_duration
from sloguard.slo.spec import SLI, SLO, SLIKind

PART_LABEL = "sloguard_part"
#: The label naming each window's part of a query for several windows (seconds, as ``%g``).
WINDOW_LABEL = "sloguard_window"
SLO_LABEL = "sloguard_slo"
#: The recorded rates: per SLO instance, bad and total events per second over the last
#: RATE_WINDOW, recorded every RATE_INTERVAL (equal: each event is counted in one record).
RATE_WINDOW = 300.0
RATE_INTERVAL = 300.0
BAD_RATE = "slo:sli_bad:rate5m"
TOTAL_RATE = "slo:sli_total:rate5m"
#: A recorded window is trusted when a record exists this close to the window's start.
COVERAGE_SLACK = 2 * RATE_INTERVAL
#: The part of a recorded window query saying the records reach back to the window's start.
COVERED = "covered"
WINDOW_PLACEHOLDERS = ("$window", "{{.window}}", "{{ .window }}")


@dataclass(frozen=True, slots=True)
class Selector:
    """A counter series selector with exact label matches."""

    metric: str
    matchers: tuple[tuple[str, str], ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True when every matcher equals the series' label."""
        return all(labels.get(k, "") == v for k, v in self.matchers)

    def promql(self) -> str:
        """``metric{a="x",b="y"}``."""
        if not self.matchers:
            return self.metric
        inner = ",".join(f'{k}="{escape(v)}"' for k, v in self.matchers)
        return f"{self.metric}{{{inner}}}"


#: A signed sum of counters: ((+1, sel), (-1, sel)) means sel1 - sel2.
Terms = tuple[tuple[int, Selector], ...]


@dataclass(frozen=True, slots=True)
class CounterSLI:
    """An SLI as counts of bad and total events."""

    bad: Terms
    total: Terms

    def selectors(self) -> tuple[Selector, ...]:
        """Every selector used."""
        return tuple(s for _, s in (*self.bad, *self.total))


def escape(value: str) -> str:
    """Escape a label value for a PromQL string literal."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def le_value(threshold: float) -> str:
    """Render a bucket bound the way prometheus_client does (``5.0``, ``0.25``, ``+Inf``)."""
    if threshold == float("inf"):
        return "+Inf"
    text = repr(float(threshold))
    return text


#: kind → (metric, label, bad value) for the kinds that count outcomes.
#: Outcome SLIs: kind → (counter, outcome label, good value, bad value).
OUTCOME_KINDS: Mapping[SLIKind, tuple[str, str, str, str]] = {
    SLIKind.SUCCESS_RATE: (c.AGENT_CALLS, c.L_STATUS, c.Status.SUCCESS, c.Status.ERROR),
    SLIKind.TOOL_SUCCESS_RATE: (c.TOOL_CALLS, c.L_STATUS, c.Status.SUCCESS, c.Status.ERROR),
    SLIKind.ROUTING_ACCURACY: (
        c.ROUTING_OUTCOMES,
        c.L_OUTCOME,
        c.RoutingOutcome.CORRECT,
        c.RoutingOutcome.INCORRECT,
    ),
    SLIKind.WORKFLOW_SUCCESS_RATE: (c.WORKFLOW_RUNS, c.L_STATUS, c.Status.SUCCESS, c.Status.ERROR),
}
#: Histogram SLIs, the share of observations at or under a bound: kind → (histogram, the SLI
#: field holding the bound).
BOUND_KINDS: Mapping[SLIKind, tuple[str, str]] = {
    SLIKind.LATENCY: (c.AGENT_LATENCY, "threshold"),
    SLIKind.WORKFLOW_LATENCY: (c.WORKFLOW_DURATION, "threshold"),
    SLIKind.WORKFLOW_COST: (c.WORKFLOW_COST, "max_cost"),
}


def counter_sli(slo: SLO) -> CounterSLI | None:
    """The counters behind a built-in SLI kind; None for ``kind: ratio`` (raw PromQL)."""
    sel = tuple(sorted(slo.selector.items()))
    kind = slo.sli.kind
    if kind in OUTCOME_KINDS:
        metric, label, _, bad_value = OUTCOME_KINDS[kind]
        total = Selector(metric, sel)
        bad = Selector(metric, tuple(sorted((*sel, (label, bad_value)))))
        return CounterSLI(bad=((1, bad),), total=((1, total),))
    if kind in BOUND_KINDS:
        histogram, field = BOUND_KINDS[kind]
        bound = getattr(slo.sli, field)
        if bound is None:
            raise ValueError(f"SLO {slo.name!r}: {kind} SLI without {field}")
        count = Selector(f"{histogram}_count", sel)
        good = Selector(f"{histogram}_bucket", tuple(sorted((*sel, ("le", le_value(bound))))))
        return CounterSLI(bad=((1, count), (-1, good)), total=((1, count),))
    return None


def _sum(expr: str, group_by: tuple[str, ...]) -> str:
    by = f" by ({', '.join(group_by)})" if group_by else ""
    return f"sum{by} ({expr})"


def terms_promql(terms: Terms, window: float, group_by: tuple[str, ...]) -> str:
    """PromQL of a signed sum of counter increases over ``window``."""
    w = format_duration(window)
    parts = []
    for sign, sel in terms:
        expr = _sum(f"increase({sel.promql()}[{w}])", group_by)
        parts.append(expr if sign > 0 else f"- {expr}")
    return " ".join(parts) if len(parts) == 1 else "(" + " ".join(parts) + ")"


def raw_promql(expr: str, window: float, group_by: tuple[str, ...]) -> str:
    """A ``kind: ratio`` expression for ``window``: substituted, or wrapped as a selector."""
    w = format_duration(window)
    if any(p in expr for p in WINDOW_PLACEHOLDERS):
        out = expr
        for p in WINDOW_PLACEHOLDERS:
            out = out.replace(p, w)
        return _sum(out, group_by)
    return _sum(f"increase({expr.strip()}[{w}])", group_by)


def bad_and_total(slo: SLO, window: float) -> tuple[str, str]:
    """PromQL for (bad events, all events) of ``slo`` over ``window``, per instance."""
    counters = counter_sli(slo)
    g = slo.group_by
    if counters is not None:
        return terms_promql(counters.bad, window, g), terms_promql(counters.total, window, g)
    sli: SLI = slo.sli
    if sli.total is None:
        raise ValueError(f"SLO {slo.name!r}: ratio SLI without total")
    total = raw_promql(sli.total, window, g)
    if sli.bad is not None:
        return raw_promql(sli.bad, window, g), total
    if sli.good is None:
        raise ValueError(f"SLO {slo.name!r}: ratio SLI needs good or bad")
    return f"({total} - {raw_promql(sli.good, window, g)})", total


#: Parts of an outcome query (:func:`outcome_query`): series that are bad (and count in the
#: total), and series that count in the total only (one per other outcome).
FAILED_PART = "failed"
PASSED_PART = "passed"


def outcome_query(slo: SLO, window: float) -> str | None:
    """Bad and total of an outcome SLI (``success_rate`` …) reading each series once: the
    increases summed per instance and outcome, the bad outcome's labelled ``failed``, the others
    ``passed`` (bad = failed, total = failed + passed); None for other SLIs, and where the
    outcome label is grouped by or selected.

    ``bad`` and ``total`` as two sums read the bad series twice: for the usual two outcomes a
    third of Prometheus's work on a window.
    """
    if slo.sli.kind not in OUTCOME_KINDS:
        return None
    metric, label, _, bad_value = OUTCOME_KINDS[slo.sli.kind]
    if label in slo.group_by or label in slo.selector or not bad_value.isalnum():
        return None
    selector = Selector(metric, tuple(sorted(slo.selector.items())))
    summed = _sum(
        f"increase({selector.promql()}[{format_duration(window)}])", (*slo.group_by, label)
    )
    failed = f'label_replace({summed}, "{PART_LABEL}", "{FAILED_PART}", "{label}", "{bad_value}")'
    return f'label_replace({failed}, "{PART_LABEL}", "{PASSED_PART}", "{PART_LABEL}", "")'


def window_query(slo: SLO, window: float) -> str:
    """One query returning both bad and total for every instance (label ``sloguard_part``):
    :func:`outcome_query` where it applies, else the two sums."""
    outcomes = outcome_query(slo, window)
    if outcomes is not None:
        return outcomes
    bad, total = bad_and_total(slo, window)
    return (
        f'label_replace({bad}, "{PART_LABEL}", "bad", "", "")'
        f' or label_replace({total}, "{PART_LABEL}", "total", "", "")'
    )


def rate_exprs(slo: SLO) -> tuple[str, str]:
    """PromQL for (bad, total) events per second over :data:`RATE_WINDOW`, per instance.

    The bad rate is 0 (not absent) where an instance has events but no bad series yet, so a
    sum over a long window never skips the time before the first failure.
    """
    bad, total = bad_and_total(slo, RATE_WINDOW)
    per = f"{RATE_WINDOW:g}"
    return f"(\n  {bad}\n  or\n  0 * {total}\n)\n/ {per}", f"{total}\n/ {per}"


def recorded_window_query(slo: SLO, window: float, *, covered: bool = True) -> str:
    """Like :func:`window_query`, from the recorded rates: the events of the records in
    ``(t - window, t]`` at evaluation time ``t``; with ``covered``, plus a ``covered`` series
    (the number of instances recorded within :data:`COVERAGE_SLACK` of the window's start) that
    is absent when the records do not reach back that far (rules not loaded, or loaded lately).

    The range is written in milliseconds and 1 ms short of ``window``, so a record on the
    window's start is left out by Prometheus 2 (closed ranges) as by Prometheus 3 and
    VictoriaMetrics (open on the left): windows read in adjacent pieces
    (:mod:`sloguard.sources.splitwindow`) never count a record twice.
    """
    if window <= (COVERAGE_SLACK if covered else 0.002):
        raise ValueError(f"window {format_duration(window)} is too short for the recorded rates")
    ident = f'{{{SLO_LABEL}="{escape(slo.name)}"}}'
    w = f"{round(window * 1000) - 1}ms"
    parts = []
    for name, metric in (("bad", BAD_RATE), ("total", TOTAL_RATE)):
        events = f"{_sum(f'sum_over_time({metric}{ident}[{w}])', slo.group_by)} * {RATE_INTERVAL:g}"
        parts.append(f'label_replace({events}, "{PART_LABEL}", "{name}", "", "")')
    if covered:
        start = f"{round((window - COVERAGE_SLACK) * 1000)}ms"
        slack = format_duration(COVERAGE_SLACK)
        have = f"count(last_over_time({TOTAL_RATE}{ident}[{slack}] offset {start}))"
        parts.append(f'label_replace({have}, "{PART_LABEL}", "{COVERED}", "", "")')
    return " or ".join(parts)
