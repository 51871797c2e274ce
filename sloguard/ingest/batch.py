"""Atomic batches: plan every recorder update, validate them all, then apply all or none.

An ingest request becomes a list of *operations* — each a call into the recorder, the same
calls the SDK makes (``feed_step`` for trace steps). :meth:`Batch.add` first runs an operation
against a *dry-run recorder*: a :class:`Recorder` over unregistered metric families with its own
cardinality guard, so it enforces exactly the recorder's own rules (negative tokens, total below
the split, exemplar size …) while touching nothing anyone scrapes; its label children are bounded
by its guard as the real recorder's are. Only a batch without a single problem is committed to
the real recorder; a rejected batch records nothing, not even an overflow count.

Example::

    batch = Batch(dry_run_recorder(), pricing)
    batch.add(0, "events[0]", lambda r: r.agent_call("planner", "success", 1.2))
    batch.raise_problems()           # Rejected (422) listing every problem
    batch.commit(recorder, metrics)
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, cast

from sloguard.conventions import UNKNOWN_VALUE
from sloguard.errors import InvalidRecord
from sloguard.ingest.metrics import IngestMetrics
from sloguard.ingest.pricing import PriceTable
from sloguard.ingest.problems import MAX_LISTED, BatchProblem, Rejected, problem
from sloguard.sdk.arguments import split_tokens
from sloguard.sdk.guard import CardinalityGuard
from sloguard.sdk.metrics import AgentMetrics
from sloguard.sdk.recorder import Recorder

#: One planned update: called once on the dry-run recorder, then once on the real one.
Operation = Callable[[Recorder], None]

_LEADING_NAME = re.compile(r"([a-z_]+)\b")


class _NullChild:
    """A label child that accepts every update and keeps nothing."""

    def inc(self, amount: float = 1, exemplar: Any = None) -> None:
        """Drop it."""

    def dec(self, amount: float = 1) -> None:
        """Drop it."""

    def observe(self, amount: float, exemplar: Any = None) -> None:
        """Drop it."""


class _NullFamily:
    _child = _NullChild()

    def labels(self, *values: str) -> _NullChild:
        return self._child


class _NullMetrics:
    """Stands in for :class:`AgentMetrics`: every family is a :class:`_NullFamily`."""

    registry = None

    def __getattr__(self, name: str) -> _NullFamily:
        family = _NullFamily()
        setattr(self, name, family)  # found without __getattr__ from now on
        return family


def dry_run_recorder() -> Recorder:
    """Return a recorder that validates exactly like the real one and records nothing.

    Its checks are the Recorder's own (the same code runs); only the metric updates are no-ops,
    so validating a batch costs the checks, not a second set of updates.
    """
    return Recorder(cast(AgentMetrics, _NullMetrics()), CardinalityGuard())


class CostBook:
    """Price tokens reported without a cost; keep the tokens that cannot be priced.

    Example::

        book = CostBook(load_pricing())
        usd = book.cost("gpt-4o", 1200, 300, None)   # None, and counted, when it cannot be priced
        book.count(recorder.guard, metrics)           # once the batch is committed
    """

    def __init__(self, pricing: PriceTable) -> None:
        self._pricing = pricing
        #: Unpriced tokens by model (``unknown`` when none was given).
        self.unpriced: Counter[str] = Counter()

    def cost(
        self,
        model: str | None,
        input_tokens: int | None,
        output_tokens: int | None,
        total_tokens: int | None,
    ) -> float | None:
        """Return the cost of tokens reported without one, from the pricing table.

        Tokens that cannot be priced (no price for the model, or no input/output split) are
        kept as unpriced and None is returned: never a silent zero.
        """
        try:
            i, o, unsplit = split_tokens(input_tokens, output_tokens, total_tokens)
        except InvalidRecord:
            return None  # the recorder reports the inconsistency when the step is validated
        if i is None and o is None and unsplit is None:
            return None
        tokens = (i or 0) + (o or 0) + (unsplit or 0)
        if tokens == 0:
            return 0.0  # whatever the model costs
        if unsplit is None:
            usd = self._pricing.cost(model, i or 0, o or 0)
            if usd is not None:
                return usd
        self.unpriced[model or UNKNOWN_VALUE] += tokens
        return None

    def count(self, guard: CardinalityGuard, metrics: IngestMetrics) -> None:
        """Add the unpriced tokens to ``sloguard_unpriced_tokens_total`` (models pass ``guard``)."""
        for model, tokens in self.unpriced.items():
            metrics.unpriced(guard, model, tokens)


class Batch:
    """The planned, validated updates of one request, and every problem found on the way."""

    def __init__(self, validator: Recorder, pricing: PriceTable) -> None:
        self._validator = validator
        self._costs = CostBook(pricing)
        self._operations: list[Operation] = []
        #: The first problems found (as many as an answer lists); ``problem_count`` counts all.
        self.problems: list[BatchProblem] = []
        self.problem_count = 0

    def problem(self, item: int | None, field: str, message: str) -> None:
        """Note a problem of ``item`` at ``field``."""
        self.problem_count += 1
        if len(self.problems) < MAX_LISTED:
            self.problems.append(problem(item, field, message))

    def add(
        self, item: int, field: str, operation: Operation, fields: Mapping[str, str] | None = None
    ) -> None:
        """Validate ``operation`` on the dry-run recorder; keep it, or note why it fails.

        The recorder names the argument it rejects (``duration must be …``); ``fields`` maps
        such names to the request's own field names to locate the problem under ``field``.
        """
        try:
            operation(self._validator)
        except ValueError as exc:  # InvalidRecord, and prometheus_client's own checks
            message = str(exc)
            match = _LEADING_NAME.match(message)
            name = (fields or {}).get(match.group(1)) if match else None
            self.problem(item, f"{field}.{name}" if name else field, message)
            return
        self._operations.append(operation)

    def cost(
        self,
        model: str | None,
        input_tokens: int | None,
        output_tokens: int | None,
        total_tokens: int | None,
    ) -> float | None:
        """Return the cost of tokens reported without one (see :meth:`CostBook.cost`).

        Tokens that cannot be priced are counted as unpriced when the batch commits.
        """
        return self._costs.cost(model, input_tokens, output_tokens, total_tokens)

    def raise_problems(self) -> None:
        """Raise :class:`Rejected` (422) if any problem was found."""
        if self.problem_count:
            raise Rejected.invalid(self.problems, total=self.problem_count)

    def commit(self, recorder: Recorder, metrics: IngestMetrics) -> None:
        """Apply every operation to ``recorder`` (call only after :meth:`raise_problems`)."""
        assert not self.problem_count, "a batch with problems must not be committed"
        for operation in self._operations:
            operation(recorder)
        self._costs.count(recorder.guard, metrics)
