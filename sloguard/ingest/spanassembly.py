"""Hold the spans of unfinished traces until each trace is whole (pure: ``now`` passed in).

Batch span processors export spans as they end, so a trace's children usually arrive in
earlier requests than their parents, and one request may hold pieces of many traces. Mapping
each request alone reads a child without its agent above it. :class:`SpanAssembler` keeps
spans per trace and hands a trace over once:

=============  =================================================================================
outcome        when
=============  =================================================================================
``complete``   it has a root and every span's parent is in it (a span without a parent, or a
               ``server``/``consumer`` span whose parent is elsewhere, is a root): at once
``window``     ``window`` seconds after its first span arrived, whole or not
``memory``     more than ``max_spans`` spans wait in all: the oldest traces go first, whole or not
``flush``      :meth:`SpanAssembler.drain` (shutdown): everything left
``late``       spans of a trace handed over lately (within ``window``) that are whole with it:
               at once, with the handed-over spans as their ``context``
=============  =================================================================================

A span can end after its parent (OpenTelemetry allows it: a streamed answer read after the agent
returned; CrewAI's event listener ends spans from a thread pool, so after a failed run a span can
end after the run's root), and an exporter groups a request's spans by instrumentation scope, so
one request can carry a root before a model call traced by another library. A span arriving
after its trace was handed over is read with that trace (kept for ``window`` seconds, at most
``keep_spans`` spans in all) as its context, so it is owned by the agent above it, and only the
late spans are counted. Past that, it waits and is read alone, as before. When the spans came
with their readings (the ingest's case) the kept spans keep only the attributes reading a trace
looks at again (:data:`CONTEXT_KEYS`), not prompts and answers: ~20 000 spans kept of a busy
ingest must not hold megabytes of model input.

Every span is handed over once: a span id already waiting or handed over lately (the last
``remember`` spans, 50 000 by default: an exporter retries within seconds) is a duplicate and
dropped, and counted. Handed-over spans are remembered by a 64-bit hash of their ids (a
collision, about one in 10¹⁴ pairs, would drop one span).

Example::

    assembler = SpanAssembler(window=30.0, max_spans=100_000)
    ready = assembler.add(spans, now)          # traces made whole by these spans
    ready += assembler.expire(now)             # and those whose window closed
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final, NamedTuple

from sloguard import conventions as c
from sloguard.ingest.semconv import NAME_KEYS, Meaning, Role, SpanRecord

__all__ = ["Outcome", "ReadyTrace", "SpanAssembler", "SpanKey"]

#: (trace id, span id)
SpanKey = tuple[str, str]

#: Span kinds whose span starts the local part of a trace (a remote parent is expected).
_ENTRY_KINDS: Final = frozenset({"server", "consumer"})
#: The attributes a kept span keeps (with its reading): those :mod:`.tracereading` and
#: :mod:`.spantrace` read from spans besides the reading; ``input.value`` (a delegation tool's
#: JSON input naming the coworker) only up to :data:`CONTEXT_VALUE_MAX` characters.
CONTEXT_KEYS: Final = frozenset({c.ERROR_TYPE, *NAME_KEYS[Role.AGENT], "input.value"})
CONTEXT_VALUE_MAX: Final = 4096


def _slim(span: SpanRecord) -> SpanRecord:
    """``span`` with only the :data:`CONTEXT_KEYS` attributes (short values)."""
    attributes = span.attributes
    kept = {}
    for k in CONTEXT_KEYS:  # a handful of keys, not the span's dozens of attributes
        v = attributes.get(k)
        if v is not None and not (isinstance(v, str) and len(v) > CONTEXT_VALUE_MAX):
            kept[k] = v
    return SpanRecord._make((*span[:8], kept, *span[9:]))  # _replace, a third of its cost


class Outcome(StrEnum):
    """Why a trace was handed over (see the module table)."""

    COMPLETE = "complete"
    WINDOW = "window"
    MEMORY = "memory"
    FLUSH = "flush"
    LATE = "late"


class ReadyTrace(NamedTuple):
    """The spans of one trace, handed over for mapping, why now, and what each span was read
    to mean when it arrived (when :meth:`SpanAssembler.add` was given the readings; the
    context's too). ``context``: spans of the trace handed over before, to read the new ones
    with, not to count again (outcome ``late``, or a late piece whose window closed)."""

    trace_id: str
    spans: tuple[SpanRecord, ...]
    outcome: Outcome
    meanings: Mapping[SpanKey, Meaning] = MappingProxyType({})
    context: tuple[SpanRecord, ...] = ()


@dataclass
class _Pending:
    first_seen: float
    spans: dict[str, SpanRecord] = field(default_factory=dict)
    meanings: dict[SpanKey, Meaning] = field(default_factory=dict)
    context: _Pending | None = None  # the trace as handed over lately


def is_whole(spans: Iterable[SpanRecord], context: Iterable[SpanRecord] = ()) -> bool:
    """Whether ``spans`` (of one trace) with ``context`` have a root and every parent."""
    spans = [*spans, *context]
    ids = {s.span_id for s in spans}
    root = False
    for s in spans:
        if s.parent_span_id is None:
            root = True
        elif s.parent_span_id not in ids:
            if s.kind not in _ENTRY_KINDS:
                return False
            root = True
    return root


class SpanAssembler:
    """Spans per trace until whole, their window closes or memory runs short (see above)."""

    def __init__(
        self,
        *,
        window: float = 30.0,
        max_spans: int = 100_000,
        remember: int = 50_000,
        keep_spans: int = 20_000,
    ):
        if window < 0 or max_spans < 1 or remember < 0 or keep_spans < 0:
            raise ValueError(
                "window must be >= 0, max_spans >= 1, remember >= 0 and keep_spans >= 0"
            )
        self.window = window
        self.max_spans = max_spans
        self.remember = remember
        self.keep_spans = keep_spans
        self._pending: OrderedDict[str, _Pending] = OrderedDict()  # oldest first
        # hashes of (trace id, span id) handed over lately: ~100 bytes each, not ~300
        self._handed: OrderedDict[int, None] = OrderedDict()
        # traces handed over within the window (first_seen: when), for late spans' context
        self._recent: OrderedDict[str, _Pending] = OrderedDict()
        #: Spans waiting now.
        self.waiting = 0
        #: Spans of traces handed over lately, kept as late spans' context.
        self.kept = 0
        #: Duplicate spans dropped so far.
        self.duplicates = 0

    def add(
        self,
        spans: Sequence[SpanRecord],
        now: float,
        meanings: Mapping[SpanKey, Meaning] | None = None,
    ) -> list[ReadyTrace]:
        """Take ``spans`` (with their ``meanings``, kept with them while they wait); return
        the traces they made whole, and those pushed out by memory."""
        touched: dict[str, _Pending] = {}
        for span in spans:
            ids = (span.trace_id, span.span_id)
            key = hash(ids)
            pending = self._pending.get(span.trace_id)
            if key in self._handed or (pending is not None and span.span_id in pending.spans):
                self.duplicates += 1
                continue
            if pending is None:
                context = self._recent.get(span.trace_id)
                pending = self._pending[span.trace_id] = _Pending(now, context=context)
            pending.spans[span.span_id] = span
            if meanings is not None:
                pending.meanings[ids] = meanings[ids]
            self.waiting += 1
            touched[span.trace_id] = pending
        ready = []
        for trace_id, pending in touched.items():
            context = pending.context
            if is_whole(pending.spans.values(), context.spans.values() if context else ()):
                outcome = Outcome.COMPLETE if context is None else Outcome.LATE
                ready.append(self._hand(trace_id, outcome, now))
        while self.waiting > self.max_spans and self._pending:
            ready.append(self._hand(next(iter(self._pending)), Outcome.MEMORY, None))
        return ready

    def expire(self, now: float) -> list[ReadyTrace]:
        """Return the traces whose window has closed at ``now`` (oldest first).

        Traces wait in the order they first arrived, so the scan stops at the first one whose
        window is still open: every request calls this, whatever waits.
        """
        due = []
        for trace_id, pending in self._pending.items():
            if now - pending.first_seen < self.window:
                break
            due.append(trace_id)
        ready = [self._hand(trace_id, Outcome.WINDOW, now) for trace_id in due]
        recent = self._recent
        while recent and now - next(iter(recent.values())).first_seen >= self.window:
            self.kept -= len(recent.popitem(last=False)[1].spans)
        return ready

    def drain(self) -> list[ReadyTrace]:
        """Return every waiting trace (at shutdown)."""
        return [self._hand(trace_id, Outcome.FLUSH, None) for trace_id in list(self._pending)]

    def _hand(self, trace_id: str, outcome: Outcome, now: float | None) -> ReadyTrace:
        """Hand a waiting trace over; keep it as later spans' context (``now`` given)."""
        pending = self._pending.pop(trace_id)
        self.waiting -= len(pending.spans)
        if self.remember:
            handed = self._handed
            for span_id in pending.spans:
                handed[hash((trace_id, span_id))] = None
            while len(handed) > self.remember:
                handed.popitem(last=False)
        context = pending.context
        meanings = pending.meanings
        if context is not None and meanings:
            meanings = {**context.meanings, **meanings}
        if now is not None:
            self._keep(trace_id, pending, now)
        return ReadyTrace(
            trace_id,
            tuple(pending.spans.values()),
            outcome,
            meanings,
            () if context is None else tuple(context.spans.values()),
        )

    def _keep(self, trace_id: str, pending: _Pending, now: float) -> None:
        """Keep a handed-over trace's spans (with those kept of it before) for ``window``."""
        if not self.keep_spans or not self.window:
            return
        base = self._recent.pop(trace_id, None)
        if base is not None:
            self.kept -= len(base.spans)
        else:
            base = pending.context
        spans = pending.spans
        if pending.meanings:  # read already: keep what a reading looks at again, not prompts
            spans = {span_id: _slim(span) for span_id, span in spans.items()}
        kept = _Pending(now, dict(spans), dict(pending.meanings))
        if base is not None:
            kept.spans = {**base.spans, **kept.spans}
            kept.meanings = {**base.meanings, **kept.meanings}
        self._recent[trace_id] = kept
        self.kept += len(kept.spans)
        while self.kept > self.keep_spans and self._recent:
            self.kept -= len(self._recent.popitem(last=False)[1].spans)
