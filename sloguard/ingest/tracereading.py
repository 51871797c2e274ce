"""Read each trace of a batch in its framework's dialect (pure): roles, names, errors fixed.

:func:`read_traces` takes the span-by-span :class:`~sloguard.ingest.semconv.Meaning` of every
span and corrects them with what the trace's shape says, by the trace's
:class:`~sloguard.ingest.dialects.Dialect` (the first span of a known instrumentation decides):

1. control flow marked ERROR (LangGraph's ``ParentCommand``) is not a failure;
2. LiteLLM-style model names lose their provider prefix;
3. handoff tools and ``handoff to X`` spans become handoffs (source: the span's agent; target:
   named, else the next agent run after it — see :func:`next_agent`), not tool calls;
4. the root: a nameless agent root, or a root of no role, is the workflow (its name without
   the dialect's suffixes); in graph dialects the root is the workflow and only its top-level
   nodes are agents (every other agent- or workflow-looking span is plumbing, read as no role);
5. delegation tools are the coworker's run when the coworker has no span of its own;
6. where the dialect says so, only model calls report tokens.

It returns the dialect of each trace, for what the mapping derives from the tree (handoffs of
agents run one after another).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from typing import Final

from sloguard import conventions as c
from sloguard.ingest.dialects import DEFAULT, Dialect, dialect_of, is_handoff_tool, model_name
from sloguard.ingest.semconv import NAME_KEYS, Meaning, Role, SpanRecord

__all__ = ["SpanKey", "next_agent", "read_traces"]

#: (trace id, span id)
SpanKey = tuple[str, str]
_WORKFLOW_SUFFIX: Final = ".workflow"


def _trace_dialects(spans: Mapping[SpanKey, SpanRecord]) -> dict[str, Dialect]:
    found: dict[str, Dialect] = {}
    for (trace_id, _), span in spans.items():
        if found.get(trace_id, DEFAULT) is DEFAULT:
            found[trace_id] = dialect_of(span.scope)
    return found


def _control_flow(dialect: Dialect, span: SpanRecord) -> bool:
    """Whether the span's ERROR is the dialect's control flow, not a failure."""
    if not dialect.control_flow_errors:
        return False
    kind = span.attributes.get(c.ERROR_TYPE)
    for marker in dialect.control_flow_errors:
        if kind == marker or span.status_message.startswith(marker):
            return True
    return False


def _span_fixes(dialect: Dialect, span: SpanRecord, m: Meaning) -> Meaning:
    """Rules 1–3 on one span."""
    if m.failed and _control_flow(dialect, span):
        m = m._replace(failed=False)
    if m.model is not None and "/" in m.model:
        m = m._replace(model=model_name(m.model))
    if m.role is Role.TOOL and m.name is not None:
        if is_handoff_tool(dialect, m.name):
            return m._replace(role=Role.OTHER, name=None, handoff=(None, None))
        for prefix in dialect.handoff_span_prefixes:
            if span.name.startswith(prefix):
                target = span.name[len(prefix) :].strip() or None
                return m._replace(role=Role.OTHER, name=None, handoff=(None, target))
    return m


def _named_by_attribute(span: SpanRecord) -> bool:
    return any(span.attributes.get(k) for k in NAME_KEYS[Role.AGENT])


class _Trace:
    """One trace's spans with their parents and children (ordered by start), and the
    batch's meanings the rules correct."""

    def __init__(
        self,
        keys: list[SpanKey],
        spans: Mapping[SpanKey, SpanRecord],
        parents: Mapping[SpanKey, SpanKey | None],
        meanings: dict[SpanKey, Meaning],
    ) -> None:
        self.keys = keys
        self.spans = spans
        self.meanings = meanings  # the batch's, corrected in place
        self.roots = [k for k in keys if parents[k] is None]
        self.children: dict[SpanKey, list[SpanKey]] = defaultdict(list)
        for k in sorted(keys, key=lambda k: spans[k].start_ns):
            parent = parents[k]
            if parent is not None:
                self.children[parent].append(k)

    def descendants(self, key: SpanKey) -> list[SpanKey]:
        found, todo = [], list(self.children[key])
        while todo:
            k = todo.pop()
            found.append(k)
            todo.extend(self.children[k])
        return found


def _graph_nodes(trace: _Trace, dialect: Dialect) -> None:
    """Rule 4 for graph dialects: the root is the workflow, its top-level nodes the agents."""
    spans, meanings = trace.spans, trace.meanings
    for root in trace.roots:
        orphan = spans[root].parent_span_id is not None  # its parent never arrived
        if not trace.children[root] or (orphan and not spans[root].name.endswith(_WORKFLOW_SUFFIX)):
            # a one-span trace (building an agent): nothing ran; or a span of a trace read
            # when its window closed that is not the graph's own: left as it reads
            continue
        m = meanings[root]
        name = m.name or spans[root].name.removesuffix(_WORKFLOW_SUFFIX)
        meanings[root] = m._replace(role=Role.WORKFLOW, name=name)
        containers = [root] + [
            k for k in trace.children[root] if spans[k].name == name + _WORKFLOW_SUFFIX
        ]
        nodes = {k for box in containers for k in trace.children[box] if k not in containers}
        for k in trace.keys:
            if k == root:
                continue
            node = _node(dialect, spans[k].name)
            mk = meanings[k]
            if k in nodes and node not in dialect.plumbing:
                meanings[k] = mk._replace(role=Role.AGENT, name=node)
            elif mk.role in (Role.AGENT, Role.WORKFLOW):
                meanings[k] = mk._replace(role=Role.OTHER, name=None)
    for k in trace.keys:  # whatever the trace lacks, plumbing is never an agent or workflow
        mk = meanings[k]
        plumbing = _node(dialect, spans[k].name) in dialect.plumbing
        if plumbing and mk.role in (Role.AGENT, Role.WORKFLOW):
            meanings[k] = mk._replace(role=Role.OTHER, name=None)


def _node(dialect: Dialect, span_name: str) -> str:
    for prefix in dialect.node_prefixes:
        span_name = span_name.removeprefix(prefix)
    return span_name


def _first_agent(trace: _Trace) -> str | None:
    spans, meanings = trace.spans, trace.meanings
    runs = [k for k in trace.keys if meanings[k].role is Role.AGENT]
    first = min(runs, key=lambda k: spans[k].start_ns, default=None)
    return meanings[first].name if first is not None else None


def _coworker(span: SpanRecord, key: str) -> str | None:
    """The agent a delegation tool's JSON input names under ``key``."""
    raw = span.attributes.get("input.value")
    if not isinstance(raw, str) or key not in raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    name = data.get(key) if isinstance(data, dict) else None
    return name.strip() if isinstance(name, str) and name.strip() else None


def _delegations(trace: _Trace, dialect: Dialect) -> None:
    """Delegation tools: the coworker's run when no agent span is below them, else plumbing."""
    spans, meanings = trace.spans, trace.meanings
    for k in trace.keys:
        m = meanings[k]
        if m.role is not Role.TOOL or m.name not in dialect.delegate_tools:
            continue
        below = [d for d in trace.descendants(k) if meanings[d].role is Role.AGENT]
        coworker = None if below else _coworker(spans[k], dialect.delegate_input_key)
        if coworker is None:
            meanings[k] = m._replace(role=Role.OTHER, name=None)
            continue
        calls = [d for d in trace.children[k] if meanings[d].role is Role.INFERENCE]
        failed = m.failed or (bool(calls) and meanings[calls[-1]].failed)
        meanings[k] = m._replace(role=Role.AGENT, name=coworker, failed=failed)


def _roots(trace: _Trace, dialect: Dialect) -> None:
    """Rule 4 outside graph dialects."""
    spans, meanings = trace.spans, trace.meanings
    for root in trace.roots:
        m = meanings[root]
        if m.role is Role.WORKFLOW and m.name is not None:
            for suffix in dialect.root_suffixes:
                if m.name.endswith(suffix) and len(m.name) > len(suffix):
                    m = meanings[root] = m._replace(name=m.name.removesuffix(suffix))
        if m.role is Role.AGENT and dialect.root_agent_is_workflow:
            if not _named_by_attribute(spans[root]):
                meanings[root] = m._replace(role=Role.WORKFLOW)
        elif m.role is Role.OTHER and dialect.anonymous_root_is_workflow:
            name = _first_agent(trace)
            if name is not None:
                meanings[root] = m._replace(role=Role.WORKFLOW, name=name)


def read_traces(
    spans: Mapping[SpanKey, SpanRecord],
    parents: Mapping[SpanKey, SpanKey | None],
    meanings: dict[SpanKey, Meaning],
) -> dict[str, Dialect]:
    """Correct ``meanings`` in place (see the module docstring); return each trace's dialect."""
    dialects = _trace_dialects(spans)
    by_trace: dict[str, list[SpanKey]] = defaultdict(list)
    for key in spans:
        by_trace[key[0]].append(key)
    for trace_id, keys in by_trace.items():
        dialect = dialects[trace_id]
        for k in keys:
            meanings[k] = _span_fixes(dialect, spans[k], meanings[k])
        if dialect is DEFAULT:
            continue
        trace = _Trace(keys, spans, parents, meanings)
        if dialect.graph_nodes:
            _graph_nodes(trace, dialect)
        else:
            _roots(trace, dialect)
        if dialect.delegate_tools:
            _delegations(trace, dialect)
        if dialect.usage_from_inference_only:
            for k in keys:
                mk = meanings[k]
                if mk.role is not Role.INFERENCE and mk.has_usage:
                    meanings[k] = mk._replace(
                        input_tokens=None, output_tokens=None, total_tokens=None, cost=None
                    )
    return dialects


def next_agent(
    keys: list[SpanKey],
    spans: Mapping[SpanKey, SpanRecord],
    meanings: Mapping[SpanKey, Meaning],
    after: SpanKey,
    source: str | None,
) -> str | None:
    """The agent of the first agent run of ``keys`` starting at or after span ``after`` starts
    whose agent is not ``source``: the target of a handoff that does not name it."""
    start = spans[after].start_ns
    runs = [
        (spans[k].start_ns, m.name)
        for k in keys
        if (m := meanings[k]).role is Role.AGENT
        and m.name
        and m.name != source
        and spans[k].start_ns >= start
    ]
    return min(runs)[1] if runs else None
