"""Parse ResponseTrace JSON in both shapes of DESIGN §5 into trace objects.

The parser sits below the model it fills: :meth:`ResponseTrace.from_dict
<sloguard.sdk.trace.ResponseTrace.from_dict>` hands it the two classes (so the model imports the
parser, never the reverse), and it sets their fields directly, without the constructors' checks
that do not apply to recorded data. Use :func:`sloguard.sdk.trace.parse_trace`.

- flat (sample library): ``step_id, trace_id, parent_step_id, call_type, name, parameters,
  requests, step_type, cost, total_tokens, additional_attributes, latency (ms), start_time,
  end_time, error``;
- nested (spec): ``step_action: {tool_invocation: {tool_name, parameters}} |
  {agent_invocation: {agent_url, agent_name, requests, response_trace}}``.

camelCase keys (protobuf JSON) are accepted too. Every problem is collected and reported at once
as ``steps[2].cost: must be a number >= 0, got -1``; nesting depth and step count are bounded.
"""

from __future__ import annotations

import contextlib
import functools
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sloguard import conventions as c
from sloguard.conventions import CallType
from sloguard.errors import TraceError

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


@functools.lru_cache(maxsize=1024)
def _snake(key: str) -> str:
    # snake_case keys (the common case) pass through; camelCase ones are converted once
    return key if key.islower() or key.isdigit() else _CAMEL.sub("_", key).lower()


def _norm(d: Mapping[str, Any]) -> dict[str, Any]:
    return {_snake(str(k)): v for k, v in d.items()}


class _Parser:
    def __init__(
        self,
        trace_cls: Callable[[str | None], Any],
        record_cls: type[Any],
        max_depth: int,
        max_steps: int,
    ) -> None:
        self.trace_cls = trace_cls
        self.record_cls = record_cls
        self.max_depth = max_depth
        self.max_steps = max_steps
        self.count = 0
        self.problems: list[str] = []

    def bad(self, path: str, msg: str) -> None:
        self.problems.append(f"{path}: {msg}" if path else msg)

    def trace(self, data: Any, path: str, depth: int) -> Any:
        if depth > self.max_depth:
            self.bad(path, f"nesting deeper than {self.max_depth} traces")
            return None
        if not isinstance(data, Mapping):
            self.bad(path, f"must be an object, got {type(data).__name__}")
            return None
        d = _norm(data)
        trace_id = d.get("trace_id")
        if trace_id is not None and not isinstance(trace_id, str):
            self.bad(f"{path}.trace_id" if path else "trace_id", "must be a string")
            trace_id = None
        steps = d.get("steps", [])
        spath = f"{path}.steps" if path else "steps"
        if not isinstance(steps, list):
            self.bad(spath, f"must be a list, got {type(steps).__name__}")
            return None
        out = self.trace_cls(trace_id or None)
        for i, raw in enumerate(steps):
            self.count += 1
            if self.count > self.max_steps:
                self.bad(spath, f"more than {self.max_steps} steps in all")
                return None
            step = self.step(raw, f"{spath}[{i}]", out.trace_id, depth)
            if step is not None:
                out.steps.append(step)
                step.trace = out
        return out

    def step(self, raw: Any, path: str, trace_id: str, depth: int) -> Any:
        if not isinstance(raw, Mapping):
            self.bad(path, f"must be an object, got {type(raw).__name__}")
            return None
        d = _norm(raw)
        rec = object.__new__(self.record_cls)
        ct = d.get("call_type", "AGENT")
        try:
            rec.call_type = CallType(str(ct).upper()) if not isinstance(ct, int) else _enum_num(ct)
        except ValueError:
            self.bad(f"{path}.call_type", f"must be AGENT, TOOL or HOST, got {ct!r}")
            rec.call_type = CallType.AGENT
        rec.step_id = self.string(d, "step_id", path) or f"{trace_id}-{self.count}"
        rec.trace_id = self.string(d, "trace_id", path) or trace_id
        rec.parent_step_id = self.string(d, "parent_step_id", path) or None
        rec.step_type = self.string(d, "step_type", path)
        rec.name = self.string(d, "name", path) or ""
        rec.parameters = self.mapping(d, "parameters", path)
        rec.requests = d.get("requests")
        rec.agent_url = None
        rec.response_trace = None
        action = d.get("step_action")
        if action is not None:
            self.action(rec, action, f"{path}.step_action", depth)
        if not rec.name:
            rec.name = rec.call_type.value.lower()
        rec.cost = self.number(d, "cost", path)
        attrs = self.mapping(d, "additional_attributes", path)
        rec.additional_attributes = attrs
        rec.model = _str_or_none(attrs.pop(c.GEN_AI_REQUEST_MODEL, None))
        rec.input_tokens = self.int_attr(attrs, c.GEN_AI_INPUT_TOKENS, path)
        rec.output_tokens = self.int_attr(attrs, c.GEN_AI_OUTPUT_TOKENS, path)
        total = self.number(d, "total_tokens", path)
        rec.total_tokens = int(total) if total is not None else None
        if rec.total_tokens is None and (
            rec.input_tokens is not None or rec.output_tokens is not None
        ):
            rec.total_tokens = (rec.input_tokens or 0) + (rec.output_tokens or 0)
        start = self.time(d, "start_time", path)
        rec.end_time = self.time(d, "end_time", path)
        latency = self.number(d, "latency", path)
        if latency is not None:
            rec.duration = latency / 1000.0
        elif start is not None and rec.end_time is not None:
            rec.duration = max(0.0, (rec.end_time - start).total_seconds())
        else:
            rec.duration = None
        rec.start_time = start if start is not None else datetime.fromtimestamp(0, UTC)
        if rec.end_time is None and rec.duration is not None:
            try:
                rec.end_time = rec.start_time + timedelta(seconds=rec.duration)
            except OverflowError:  # past what a datetime holds (year 9999)
                self.bad(f"{path}.latency", f"must end before the year 10000, got {latency!r}")
                rec.duration = None
        rec.latency = round(rec.duration * 1000) if rec.duration is not None else None
        err = d.get("error")
        rec.error = None if err in (None, "", {}) else (err if isinstance(err, str) else repr(err))
        etype = attrs.get(c.ERROR_TYPE)
        rec.error_type = str(etype) if etype is not None else ("error" if rec.error else None)
        rec.scope_agent = None
        rec.scope_host = None
        rec.ext = {}
        rec._ended = True
        rec._managed = False
        rec._fixed_ms = rec.latency
        rec._t0 = 0.0
        return rec

    def action(self, rec: Any, action: Any, path: str, depth: int) -> None:
        if not isinstance(action, Mapping):
            self.bad(path, "must be an object")
            return
        a = _norm(action)
        tool, agent = a.get("tool_invocation"), a.get("agent_invocation")
        if (tool is None) == (agent is None):
            self.bad(path, "must hold exactly one of tool_invocation, agent_invocation")
            return
        if tool is not None:
            if not isinstance(tool, Mapping):
                self.bad(f"{path}.tool_invocation", "must be an object")
                return
            t = _norm(tool)
            rec.call_type = CallType.TOOL
            rec.name = self.string(t, "tool_name", f"{path}.tool_invocation") or rec.name
            rec.parameters = self.mapping(t, "parameters", f"{path}.tool_invocation")
            return
        if not isinstance(agent, Mapping):
            self.bad(f"{path}.agent_invocation", "must be an object")
            return
        g = _norm(agent)
        apath = f"{path}.agent_invocation"
        rec.call_type = CallType.AGENT
        rec.name = self.string(g, "agent_name", apath) or rec.name
        rec.agent_url = self.string(g, "agent_url", apath)
        rec.requests = g.get("requests")
        nested = g.get("response_trace")
        if nested is not None:
            rec.response_trace = self.trace(nested, f"{apath}.response_trace", depth + 1)

    def string(self, d: Mapping[str, Any], key: str, path: str) -> str | None:
        v = d.get(key)
        if v is None:
            return None
        if not isinstance(v, str):
            self.bad(f"{path}.{key}", f"must be a string, got {type(v).__name__} {v!r}")
            return None
        return v

    def mapping(self, d: Mapping[str, Any], key: str, path: str) -> dict[str, Any]:
        v = d.get(key)
        if v is None:
            return {}
        if not isinstance(v, Mapping):
            self.bad(f"{path}.{key}", f"must be an object, got {type(v).__name__}")
            return {}
        return dict(v)

    def number(self, d: Mapping[str, Any], key: str, path: str) -> float | None:
        v = d.get(key)
        if v is None:
            return None
        if isinstance(v, str):  # protobuf JSON renders int64 as strings
            with contextlib.suppress(ValueError):
                v = float(v)
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
            self.bad(f"{path}.{key}", f"must be a number >= 0, got {v!r}")
            return None
        return float(v)

    def int_attr(self, attrs: dict[str, Any], key: str, path: str) -> int | None:
        v = attrs.pop(key, None)
        if v is None:
            return None
        try:
            n = int(v)
        except (TypeError, ValueError):
            n = -1
        if n < 0 or (isinstance(v, float) and not v.is_integer()) or isinstance(v, bool):
            self.bad(f"{path}.additional_attributes.{key}", f"must be an integer >= 0, got {v!r}")
            return None
        return n

    def time(self, d: Mapping[str, Any], key: str, path: str) -> datetime | None:
        v = d.get(key)
        if v is None:
            return None
        try:
            if isinstance(v, int | float) and not isinstance(v, bool):
                return datetime.fromtimestamp(float(v), UTC)
            if isinstance(v, str):
                t = datetime.fromisoformat(v)
                return t if t.tzinfo is not None else t.replace(tzinfo=UTC)
        except (ValueError, OverflowError, OSError):
            pass
        self.bad(f"{path}.{key}", f"must be an ISO 8601 time, got {v!r}")
        return None


def _enum_num(n: int) -> CallType:
    table = {1: CallType.AGENT, 2: CallType.TOOL, 3: CallType.HOST}
    if n not in table:
        raise ValueError(n)
    return table[n]


def _str_or_none(v: Any) -> str | None:
    return None if v is None else str(v)


def parse_into(
    trace_cls: Callable[[str | None], Any],
    record_cls: type[Any],
    data: Any,
    max_depth: int,
    max_steps: int,
) -> Any:
    """Parse one trace into ``trace_cls``/``record_cls``; raise :class:`TraceError` listing every
    problem."""
    p = _Parser(trace_cls, record_cls, max_depth, max_steps)
    trace = p.trace(data, "", 0)
    if p.problems or trace is None:
        raise TraceError("invalid trace: " + "; ".join(p.problems or ["empty"]))
    resolve_scopes(trace)
    return trace


def resolve_scopes(trace: Any, agent: str | None = None, host: str | None = None) -> None:
    """Set each step's enclosing agent/host from its parent chain (parsed traces lack context).

    Roots of a callee trace nested in an agent invocation are scoped under the invoking step.
    """
    by_id = {s.step_id: s for s in trace.steps}
    done: dict[str, tuple[str | None, str | None]] = {}

    def scope_of(step: Any) -> tuple[str | None, str | None]:
        # Walk up to a step already resolved (or the root, or a parent cycle), then resolve the
        # walked steps top-down: every step once, no recursion (chains are thousands deep).
        path: list[tuple[Any, Any]] = []
        seen: set[str] = set()
        cur = step
        while cur.step_id not in done:
            parent = by_id.get(cur.parent_step_id or "")
            if parent is None or parent.step_id in seen or parent.step_id == cur.step_id:
                done[cur.step_id] = (agent, host)
                break
            path.append((cur, parent))
            seen.add(cur.step_id)
            cur = parent
        for child, parent in reversed(path):
            pa, ph = done[parent.step_id]
            done[child.step_id] = (
                parent.name if parent.call_type is CallType.AGENT else pa,
                parent.name if parent.call_type is CallType.HOST else ph,
            )
        return done[step.step_id]

    for s in trace.steps:
        s.scope_agent, s.scope_host = scope_of(s)
        if s.response_trace is not None:
            inner_agent = s.name if s.call_type is CallType.AGENT else s.scope_agent
            resolve_scopes(s.response_trace, inner_agent, s.scope_host)
