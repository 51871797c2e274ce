"""Map a batch of spans to metric updates (pure): the span table of DESIGN §4.

:class:`SpanMapping` reads every span once (:func:`~sloguard.ingest.semconv.interpret`), corrects
the readings by each trace's framework dialect (:mod:`.tracereading`), builds each trace's span
tree and turns it into updates (:mod:`.updates`):

=============  ===============================================================================
span           updates
=============  ===============================================================================
agent          agent call (count, latency with the trace id as exemplar, its own usage);
               a handoff when its nearest agent ancestor is another agent
tool           tool call of the owner; its own usage, to the owner
inference      usage to the owner with the model, unless the owner agent's span reports
               tokens itself (GenAI agent spans carry the agent's total: no double count)
workflow       only its own usage, to the workflow name
any            explicit handoff attributes (and handoff tools and spans of a dialect); a
               missing source is the span's agent, a missing target the next agent run
trace root     one workflow run: failed when the root or any agent run failed (frameworks
               leave the root OK on failed runs), its cost and tokens the sum of the trace's
=============  ===============================================================================

The owner is the nearest agent ancestor, else an agent named on the span, else the nearest
workflow ancestor, else ``unknown`` (as :mod:`sloguard.sdk.feed` does for SDK steps). Per trace
and agent pair, the handoffs counted are the larger of the tree-derived and the explicit ones:
both describe the same handoffs when an instrumentation emits both. In framework dialects, agent
runs one after another under the same parent are tree-derived handoffs too.

Inference spans wrapping another inference span that reports tokens repeat its usage: only the
inner one counts.

One call seen from both sides counts once: an agent or tool span of kind ``client`` whose
nearest agent/tool descendant (through spans of no role, such as HTTP spans) is a non-client
span of the same role and name is the caller's view of the callee's span. The callee's span
counts (its duration is the call's own, and it carries the callee's tokens); the caller's
becomes a span of no role, so it counts neither a call nor a handoff.

Only spans in the same batch form a tree: the ingest hands it whole traces
(:mod:`.otlpassembly` waits for the spans a trace's exporter sends later; spans arriving after
their trace are mapped with it as ``context``, and only they are counted).

Example::

    mapping = SpanMapping(parse_otlp(body, PROTOBUF), price=book.cost)
    apply(recorder, mapping.updates())
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import pairwise
from typing import Final

from sloguard import conventions as c
from sloguard.ingest import updates as kinds
from sloguard.ingest.otlpwire import InvalidOtlp
from sloguard.ingest.semconv import Meaning, Role, SpanRecord, interpret
from sloguard.ingest.spanscopes import Scope, SpanKey, span_scopes
from sloguard.ingest.tracereading import next_agent, read_traces
from sloguard.ingest.updates import AgentCall, Handoff, ToolCall, Update, Usage, WorkflowRun

__all__ = [
    "AgentCall",
    "Handoff",
    "PriceFn",
    "SpanKey",
    "SpanMapping",
    "ToolCall",
    "Update",
    "Usage",
    "WorkflowRun",
    "interpret_all",
    "map_spans",
]

#: ``price(model, input_tokens, output_tokens, total_tokens)`` → USD, or ``None`` when the tokens
#: cannot be priced (:meth:`~sloguard.ingest.batch.CostBook.cost` is one).
PriceFn = Callable[[str | None, int | None, int | None, int | None], float | None]


_CALLS: Final = (Role.AGENT, Role.TOOL)


def interpret_all(spans: Iterable[SpanRecord]) -> dict[SpanKey, Meaning]:
    """Every span's meaning by key; raise :class:`InvalidOtlp` naming every bad attribute."""
    problems: list[str] = []
    meanings: dict[SpanKey, Meaning] = {}
    for span in spans:
        meanings[span.trace_id, span.span_id], span_problems = interpret(span)
        if span_problems:
            problems.extend(span_problems)
    if problems:
        raise InvalidOtlp(problems)
    return meanings


class SpanMapping:
    """One batch of spans, read and linked: its updates (see the module table), its trees.

    Raises :class:`~sloguard.ingest.otlpwire.InvalidOtlp` naming every attribute of the wrong
    type. ``price`` fills in the cost of spans that report tokens but no cost; it is asked at
    most once per span. ``context``: spans of the same traces read and counted before (a late
    span's trace, as handed over): read with ``spans``, so that a span is owned by the agent
    above it, but none of their updates is given again (a handoff only when the late spans add
    one to the trace's; a run only when its root is late).
    """

    def __init__(
        self,
        spans: Sequence[SpanRecord],
        price: PriceFn | None = None,
        meanings: Mapping[SpanKey, Meaning] | None = None,
        context: Sequence[SpanRecord] = (),
    ) -> None:
        self.price = price
        self._given = meanings
        self.spans: dict[SpanKey, SpanRecord] = {(s.trace_id, s.span_id): s for s in context}
        self.spans.update(((s.trace_id, s.span_id), s) for s in spans)
        #: The spans whose updates this mapping gives (all but the context's).
        self.counted: frozenset[SpanKey] | None = (
            frozenset((s.trace_id, s.span_id) for s in spans) if context else None
        )
        if not meanings:
            self.meanings = interpret_all(self.spans.values())
        else:  # read before (by the ingest, when the spans arrived)
            self.meanings = {key: meanings[key] for key in self.spans}
        parents: dict[SpanKey, SpanKey | None] = {}
        for key, span in self.spans.items():
            parent = (span.trace_id, span.parent_span_id) if span.parent_span_id else None
            parents[key] = parent if parent in self.spans else None
        #: Each span's parent span in the batch (None: a root, or its parent is elsewhere).
        self.parents = parents
        #: Each trace's dialect (its meanings corrected by it: :mod:`.tracereading`).
        self.dialects = read_traces(self.spans, parents, self.meanings)
        self._merge_client_views()
        self.scopes = span_scopes(parents, self.meanings)
        self._covered = self._covered_inference()
        self._costs: dict[SpanKey, float | None] = {}
        self._by_trace: dict[str, list[SpanKey]] | None = None

    def _covered_inference(self) -> set[SpanKey]:
        """Inference spans wrapping another inference span that reports tokens (ADK's
        ``call_llm`` over ``generate_content``): the inner one counts, the outer repeats it."""
        covered: set[SpanKey] = set()
        meanings = self.meanings
        for key, m in meanings.items():
            if m.role is not Role.INFERENCE or not m.has_tokens:
                continue
            parent, hops = self.parents[key], 0
            while parent is not None and hops < 64:
                role = meanings[parent].role
                if role is Role.INFERENCE:
                    covered.add(parent)
                elif role is not Role.OTHER:
                    break
                parent, hops = self.parents[parent], hops + 1
        return covered

    def _merge_client_views(self) -> None:
        """Demote the client span of a call whose callee's span is in the batch (see above)."""
        meanings, spans = self.meanings, self.spans
        for key, m in meanings.items():
            if m.role not in _CALLS or spans[key].kind == "client":
                continue
            parent, hops = self.parents[key], 0
            while parent is not None and meanings[parent].role is Role.OTHER and hops < 64:
                parent, hops = self.parents[parent], hops + 1
            if parent is None or spans[parent].kind != "client":
                continue
            caller = meanings[parent]
            if caller.role is m.role and caller.name == m.name:
                meanings[parent] = caller._replace(role=Role.OTHER, name=None)

    # --- reading ------------------------------------------------------------------------------
    def name(self, key: SpanKey | None) -> str | None:
        """The agent, tool or workflow name of a span (None for other spans, or no span)."""
        return self.meanings[key].name if key is not None else None

    def above(self, key: SpanKey) -> Scope:
        """The nearest agent and workflow spans strictly above ``key``."""
        parent = self.parents[key]
        return self.scopes[parent] if parent is not None else Scope()

    def owner(self, key: SpanKey) -> str:
        """The agent a tool or inference span works for (see the module docstring)."""
        above = self.above(key)
        return (
            self.name(above.agent)
            or self.meanings[key].owner_hint
            or self.name(above.workflow)
            or c.UNKNOWN_VALUE
        )

    def cost(self, key: SpanKey) -> float | None:
        """The span's cost: its own figure, else priced from its tokens (asked once)."""
        if key in self._costs:
            return self._costs[key]
        m = self.meanings[key]
        usd = m.cost
        if usd is None and self.price is not None and m.has_tokens:
            usd = self.price(m.model, m.input_tokens, m.output_tokens, m.total_tokens)
        self._costs[key] = usd
        return usd

    def counts_usage(self, key: SpanKey) -> bool:
        """False for an inference span whose agent's span already reports the tokens."""
        if self.meanings[key].role is not Role.INFERENCE:
            return True
        if key in self._covered:
            return False
        agent = self.above(key).agent
        return agent is None or not self.meanings[agent].has_tokens

    # --- updates ------------------------------------------------------------------------------
    def _usage(self, owner: str, key: SpanKey) -> list[Update]:
        m = self.meanings[key]
        if not m.has_tokens and m.cost is None:
            return []
        i, o, t = m.input_tokens, m.output_tokens, m.total_tokens
        return [Usage(owner, m.model, i, o, t if i is None or o is None else None, self.cost(key))]

    @staticmethod
    def _status(m: Meaning) -> c.Status:
        return c.Status.ERROR if m.failed else c.Status.SUCCESS

    def _span_updates(self, key: SpanKey) -> list[Update]:
        m = self.meanings[key]
        role = m.role
        if role is Role.AGENT:
            span = self.spans[key]
            i, o, t = m.input_tokens, m.output_tokens, m.total_tokens
            call = AgentCall(
                m.name or c.UNKNOWN_VALUE,
                self._status(m),
                span.duration,
                m.model,
                i,
                o,
                t if i is None or o is None else None,
                self.cost(key),
                span.trace_id,
            )
            return [call]
        if role is Role.TOOL:
            span = self.spans[key]
            owner = self.owner(key)
            tool = ToolCall(
                owner, m.name or c.UNKNOWN_VALUE, self._status(m), span.duration, span.trace_id
            )
            return [tool, *self._usage(owner, key)] if m.has_usage else [tool]
        if role is Role.INFERENCE:
            return self._usage(self.owner(key), key) if self.counts_usage(key) else []
        if role is Role.WORKFLOW:
            return self._usage(m.name or c.UNKNOWN_VALUE, key)
        return []  # other spans: no update of their own

    def _handoffs(self) -> list[Update]:
        """The handoffs of the batch; with a context, those the late spans add: the trace's
        pairs now less the pairs its context gave when it was read (a late agent span can add
        the tree-derived twin of a handoff its delegation tool already counted)."""
        pairs = self._pairs()
        if self.counted is not None:
            before = [s for key, s in self.spans.items() if key not in self.counted]
            pairs -= SpanMapping(before, meanings=self._given)._pairs()
        return [Handoff(s, t) for (_, s, t), n in pairs.items() for _ in range(n)]

    def _pairs(self) -> Counter[tuple[str, str, str]]:
        """Handoffs per (trace, source, target): the larger of tree-derived and explicit."""
        tree: Counter[tuple[str, str, str]] = Counter()
        explicit: Counter[tuple[str, str, str]] = Counter()
        for key, m in self.meanings.items():
            if m.role is Role.AGENT:
                above = self.name(self.above(key).agent)
                if above is not None and above != m.name and m.name is not None:
                    tree[key[0], above, m.name] += 1
            if m.handoff is not None:
                mine = self.name(self.scopes[key].agent)
                source = m.handoff[0] or mine
                target = m.handoff[1] or next_agent(
                    self._trace_keys(key[0]), self.spans, self.meanings, key, source
                )
                if source and target and source != target:
                    explicit[key[0], source, target] += 1
        tree.update(self._sequences())
        return tree | explicit  # the larger count of each (trace, source, target)

    def _trace_keys(self, trace_id: str) -> list[SpanKey]:
        by_trace = self._by_trace
        if by_trace is None:
            by_trace = self._by_trace = {}
            for key in self.spans:
                by_trace.setdefault(key[0], []).append(key)
        return by_trace.get(trace_id, [])

    def _sequences(self) -> Counter[tuple[str, str, str]]:
        """Agent runs one after another under one parent, in dialects that pass control so."""
        found: Counter[tuple[str, str, str]] = Counter()
        siblings: dict[SpanKey | None, list[SpanKey]] = {}
        for key, m in self.meanings.items():
            if m.role is Role.AGENT and self.dialects[key[0]].sequence_handoffs:
                siblings.setdefault(self.parents[key], []).append(key)
        spans = self.spans
        for runs in siblings.values():
            runs.sort(key=lambda k: spans[k].start_ns)
            for a, b in pairwise(runs):
                first, then = self.meanings[a].name, self.meanings[b].name
                if first and then and first != then and spans[b].start_ns >= spans[a].end_ns:
                    found[a[0], first, then] += 1
        return found

    def updates(self) -> list[Update]:
        """Return the metric updates of the batch (see the module table)."""
        out: list[Update] = []
        usage: dict[str, list[float | None]] = {}  # trace id -> [cost, tokens]
        counted = self.counted
        for key in self.spans if counted is None else [k for k in self.spans if k in counted]:
            found = self._span_updates(key)
            for u in found:
                if isinstance(u, AgentCall | Usage):
                    kinds.add_usage(usage.setdefault(key[0], [None, None]), u)
            out.extend(found)
        out.extend(self._handoffs())
        out.extend(self._runs(usage))
        return out

    def _runs(self, usage: dict[str, list[float | None]]) -> list[Update]:
        """One run per trace whose root is here and that holds an agent or workflow span."""
        roots: dict[str, SpanKey] = {}
        busy: set[str] = set()
        failed: set[str] = set()
        for key, m in self.meanings.items():
            span = self.spans[key]
            if m.role in (Role.AGENT, Role.WORKFLOW):
                busy.add(key[0])
            if m.role is Role.AGENT and m.failed:
                failed.add(key[0])
            entry = span.parent_span_id is None or (
                self.parents[key] is None and span.kind in ("server", "consumer")
            )
            if entry and (
                key[0] not in roots or span.start_ns < self.spans[roots[key[0]]].start_ns
            ):
                roots[key[0]] = key
        runs: list[Update] = []
        for trace_id, root in roots.items():
            if trace_id not in busy or (self.counted is not None and root not in self.counted):
                continue
            m, span = self.meanings[root], self.spans[root]
            cost, tokens = usage.get(trace_id, (None, None))
            status = c.Status.ERROR if m.failed or trace_id in failed else c.Status.SUCCESS
            runs.append(
                WorkflowRun(
                    m.name or span.name.strip() or c.UNKNOWN_VALUE,
                    status,
                    span.duration,
                    cost,
                    None if tokens is None else int(tokens),
                    trace_id,
                )
            )
        return runs


def map_spans(spans: Sequence[SpanRecord], *, price: PriceFn | None = None) -> list[Update]:
    """Return the metric updates of a batch of spans (see the module table).

    ``price`` fills in the cost of spans that report tokens but no cost. Raises
    :class:`~sloguard.ingest.otlpwire.InvalidOtlp` naming every attribute of the wrong type.
    """
    return SpanMapping(spans, price).updates()
