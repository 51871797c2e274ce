"""Where ``sloguard trace`` reads from: the trace store file, or a running daemon's API.

Both readers answer the same questions with the JSON shapes of ``/api/v1/traces``
(:mod:`sloguard.web.tracesapi`); what is missing (an unknown trace id or workflow) is a
:class:`~sloguard.commands.CommandFailed` naming it. :class:`StoreReader` opens the SQLite file
itself (the daemon may be down); :class:`ApiReader` asks the daemon (``--url``, with its read
token), which finds anomalies with its own configured thresholds.

Example::

    reader = StoreReader(TraceStore(path))     # or ApiReader(DaemonClient.from_args(args))
    reader.list(agent="writer", status="error", since=None, until=None, limit=50)
"""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import quote

from sloguard.commands import CommandFailed
from sloguard.commands.daemonclient import DaemonClient
from sloguard.sdk.trace import ResponseTrace, parse_trace
from sloguard.tracestore.base import TraceStore

__all__ = ["ApiReader", "StoreReader", "TraceReader"]


class TraceReader(Protocol):
    """What ``sloguard trace`` reads; every answer in the API's JSON shape."""

    def list(
        self,
        *,
        agent: str | None,
        status: str | None,
        since: float | None,
        until: float | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        """Trace summaries, newest first."""
        ...

    def detail(self, trace_id: str) -> dict[str, Any]:
        """A trace, its text tree and its anomalies."""
        ...

    def compare(self, a: str, b: str | None) -> dict[str, Any]:
        """Two runs compared (without ``b``: with the most similar successful run)."""
        ...

    def mermaid(self, trace_id: str) -> str:
        """A trace as a Mermaid sequence diagram."""
        ...

    def trace(self, trace_id: str) -> ResponseTrace:
        """A stored trace."""
        ...

    def decisions(
        self, workflow_id: str, *, low_confidence: float | None, max_tool_calls: int | None
    ) -> dict[str, Any]:
        """A workflow's decisions and the anomalies of its chain."""
        ...

    def close(self) -> None:
        """Release the store or connection."""
        ...


def _missing(trace_id: str) -> CommandFailed:
    return CommandFailed(f"no stored trace with id {trace_id!r}")


class StoreReader:
    """Reads the trace store file."""

    def __init__(self, store: TraceStore) -> None:
        self.store = store

    def list(
        self,
        *,
        agent: str | None,
        status: str | None,
        since: float | None,
        until: float | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        found = self.store.list(
            agent=agent,
            status="ok" if status == "ok" else "error" if status == "error" else None,
            since=since,
            until=until,
            limit=limit,
        )
        return [s.as_dict() for s in found]

    def detail(self, trace_id: str) -> dict[str, Any]:
        from sloguard.web.tracesapi import trace_detail

        return trace_detail(self.trace(trace_id))

    def compare(self, a: str, b: str | None) -> dict[str, Any]:
        from sloguard.web.tracesapi import comparison

        try:
            return comparison(self.store, a, b)
        except LookupError as exc:
            raise CommandFailed(str(exc)) from None

    def mermaid(self, trace_id: str) -> str:
        from sloguard.analysis.views.mermaid import sequence_diagram

        return sequence_diagram(self.trace(trace_id))

    def trace(self, trace_id: str) -> ResponseTrace:
        found = self.store.get(trace_id)
        if found is None:
            raise _missing(trace_id)
        return found

    def decisions(
        self, workflow_id: str, *, low_confidence: float | None, max_tool_calls: int | None
    ) -> dict[str, Any]:
        from sloguard.analysis.anomalies import MAX_TOOL_CALLS
        from sloguard.analysis.decisions import LOW_CONFIDENCE
        from sloguard.web.tracesapi import decision_detail

        try:
            return decision_detail(
                self.store,
                workflow_id,
                low_confidence=LOW_CONFIDENCE if low_confidence is None else low_confidence,
                max_tool_calls=MAX_TOOL_CALLS if max_tool_calls is None else max_tool_calls,
            )
        except LookupError as exc:
            raise CommandFailed(str(exc)) from None

    def close(self) -> None:
        self.store.close()


class ApiReader:
    """Reads a running daemon's ``/api/v1/traces`` and ``/api/v1/decisions``."""

    def __init__(self, client: DaemonClient) -> None:
        self.client = client

    def list(
        self,
        *,
        agent: str | None,
        status: str | None,
        since: float | None,
        until: float | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        params = {"agent": agent, "status": status, "since": since, "until": until, "limit": limit}
        body = self.client.get_json("/api/v1/traces", params)
        traces = body.get("traces") if isinstance(body, dict) else None
        if not isinstance(traces, list):
            raise CommandFailed(f"{self.client.url('/api/v1/traces')}: no 'traces' list")
        return traces

    def detail(self, trace_id: str) -> dict[str, Any]:
        body: dict[str, Any] = self.client.get_json(f"/api/v1/traces/{quote(trace_id, safe='')}")
        return body

    def compare(self, a: str, b: str | None) -> dict[str, Any]:
        body: dict[str, Any] = self.client.get_json("/api/v1/traces/compare", {"a": a, "b": b})
        return body

    def mermaid(self, trace_id: str) -> str:
        return self.client.get_text(f"/api/v1/traces/{quote(trace_id, safe='')}/mermaid")

    def trace(self, trace_id: str) -> ResponseTrace:
        return parse_trace(self.detail(trace_id)["trace"])

    def decisions(
        self, workflow_id: str, *, low_confidence: float | None, max_tool_calls: int | None
    ) -> dict[str, Any]:
        if low_confidence is not None or max_tool_calls is not None:
            raise CommandFailed(
                "with --url the daemon's thresholds apply (its ingest.low_confidence and "
                "ingest.max_tool_calls): drop --low-confidence and --max-tool-calls"
            )
        body: dict[str, Any] = self.client.get_json(
            "/api/v1/decisions", {"workflow_id": workflow_id}
        )
        return body

    def close(self) -> None:
        pass
