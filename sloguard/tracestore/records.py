"""Decision records and plain events as rows of the trace store, and back.

Pure: values in, row tuples out (and the reverse). Every text is bounded before it is stored, so
one client cannot fill the store with a single record: names (agent, decision type, option,
workflow) keep :data:`MAX_NAME` characters, ``reasoning`` and ``input_summary``
:data:`MAX_TEXT`, and at most :data:`MAX_OPTIONS` options are kept. A clipped text ends with
``…[+N chars]``, as the redactor marks clipped parameters. Events are cleaned by the store's
:class:`~sloguard.sdk.redact.Redactor` (sensitive keys redacted, strings, lists and nesting
bounded).

Decision times are stored as integer microseconds since the epoch plus the record's UTC offset,
so a record reads back equal to the one stored (same instant, same offset).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson

from sloguard.analysis.decisionrecord import DecisionRecord, Option
from sloguard.errors import InvalidRecord
from sloguard.sdk.redact import Redactor

#: Characters kept of agent ids, decision types, chosen options, option names and workflow ids.
MAX_NAME = 256
#: Characters kept of ``reasoning`` and ``input_summary``.
MAX_TEXT = 4000
#: Options kept per decision.
MAX_OPTIONS = 50

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

#: ``(at_us, utc_offset_s, stored_at, workflow_id, agent, decision_type, chosen, confidence,
#: options JSON, reasoning, input_summary)``
DecisionRow = tuple[int, int, float, str | None, str, str, str, float, bytes, str, str]
#: ``(received_at, type, agent, trace_id, body JSON)``
EventRow = tuple[float, str, str | None, str | None, bytes]


def clip(text: str, limit: int) -> str:
    """Return ``text`` cut to ``limit`` characters, marked with how many were cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[+{len(text) - limit} chars]"


def micros(when: datetime) -> int:
    """Return a timezone-aware time as integer microseconds since the epoch (exact)."""
    return (when - _EPOCH) // _MICROSECOND


def micros_of_seconds(seconds: float) -> int:
    """Return unix seconds as integer microseconds (the unit decision times are stored in)."""
    return round(seconds * 1_000_000)


def _check_decisions(records: Sequence[Any]) -> None:
    if isinstance(records, str | bytes | Mapping) or not isinstance(records, Sequence):
        raise InvalidRecord(
            f"decisions must be a sequence of DecisionRecord, got {type(records).__name__}"
        )
    problems = [
        f"decisions[{i}]: expected a DecisionRecord, got {type(r).__name__}"
        for i, r in enumerate(records)
        if not isinstance(r, DecisionRecord)
    ]
    if problems:
        raise InvalidRecord("; ".join(problems) + " (DecisionRecord.from_dict reads JSON)")


def decision_rows(records: Sequence[DecisionRecord], stored_at: float) -> list[DecisionRow]:
    """Return the rows of ``records``; raise :class:`InvalidRecord` naming every bad item."""
    _check_decisions(records)
    rows: list[DecisionRow] = []
    for r in records:
        offset = r.timestamp.utcoffset() or timedelta(0)
        options = [[clip(o.name, MAX_NAME), o.score] for o in r.options_considered[:MAX_OPTIONS]]
        rows.append(
            (
                micros(r.timestamp),
                offset // timedelta(seconds=1),
                stored_at,
                None if r.workflow_id is None else clip(r.workflow_id, MAX_NAME),
                clip(r.agent_id, MAX_NAME),
                clip(r.decision_type, MAX_NAME),
                clip(r.chosen_option, MAX_NAME),
                float(r.confidence),
                orjson.dumps(options),
                clip(r.reasoning, MAX_TEXT),
                clip(r.input_summary, MAX_TEXT),
            )
        )
    return rows


def decision_of_row(row: Sequence[Any]) -> DecisionRecord:
    """Return the record of a row selected as :data:`DECISION_COLUMNS`."""
    at_us, offset_s, workflow_id, agent, decision_type, chosen, confidence, options = row[:8]
    reasoning, input_summary = row[8:10]
    tz = UTC if offset_s == 0 else timezone(timedelta(seconds=offset_s))
    return DecisionRecord(
        agent_id=agent,
        timestamp=(_EPOCH + at_us * _MICROSECOND).astimezone(tz),
        decision_type=decision_type,
        chosen_option=chosen,
        confidence=confidence,
        options_considered=tuple(Option(name, score) for name, score in orjson.loads(options)),
        reasoning=reasoning,
        workflow_id=workflow_id,
        input_summary=input_summary,
    )


#: The columns :func:`decision_of_row` reads, in order.
DECISION_COLUMNS = (
    "at_us, utc_offset_s, workflow_id, agent, decision_type, chosen, confidence, options, "
    "reasoning, input_summary"
)


def _optional_name(event: Mapping[str, Any], key: str, where: str, problems: list[str]) -> None:
    value = event.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        problems.append(f"{where}.{key}: must be a non-empty string, got {value!r}")


def event_rows(
    events: Sequence[Mapping[str, Any]], received_at: float, redactor: Redactor
) -> list[EventRow]:
    """Return the rows of ``events``; raise :class:`InvalidRecord` naming every bad item.

    Each event needs a non-empty string ``type``; ``agent`` (or, for handoffs,
    ``source_agent``) and ``trace_id`` are indexed when present and must be strings.
    """
    if isinstance(events, str | bytes | Mapping) or not isinstance(events, Sequence):
        raise InvalidRecord(f"events must be a sequence of mappings, got {type(events).__name__}")
    problems: list[str] = []
    for i, e in enumerate(events):
        where = f"events[{i}]"
        if not isinstance(e, Mapping):
            problems.append(f"{where}: expected a mapping, got {type(e).__name__}")
            continue
        kind = e.get("type")
        if not isinstance(kind, str) or not kind:
            problems.append(f"{where}.type: must be a non-empty string, got {kind!r}")
        for key in ("agent", "source_agent", "trace_id"):
            _optional_name(e, key, where, problems)
    if problems:
        raise InvalidRecord("invalid events: " + "; ".join(problems))
    rows: list[EventRow] = []
    for e in events:
        clean = redactor.clean(e)
        agent = clean.get("agent") or clean.get("source_agent")
        rows.append(
            (
                received_at,
                clean["type"],
                agent,
                clean.get("trace_id"),
                orjson.dumps(clean, option=orjson.OPT_NON_STR_KEYS),
            )
        )
    return rows


def event_of_row(body: bytes | str, received_at: float) -> dict[str, Any]:
    """Return a stored event with its ``received_at`` (unix seconds)."""
    event: dict[str, Any] = orjson.loads(body)
    event["received_at"] = received_at
    return event
