"""Sloth's common SLI plugins (``slok/sloth-common-sli-plugins``) sloguard can read. Pure.

An SLI plugin renders an error-ratio query from options. sloguard runs no plugins; the plugins
whose query is one counter's error events over all its events, with only a ``filter`` option,
are read as the same error and total queries (a table: plugin id → counter, error matchers).
Every other plugin is a problem naming it, with the fix: write ``sli.events``.

Example::

    events = plugin_events("sloth-common/kubernetes/apiserver/availability",
                           {"filter": 'job="apiserver"'})
    events.error_query
    # 'sum(increase(apiserver_request_total{job="apiserver",code=~"(5..|429)"}[{{.window}}]))'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["PLUGINS", "PluginEvents", "plugin_events"]


@dataclass(frozen=True, slots=True)
class _Plugin:
    """A counter-ratio plugin: error events of ``error_metric`` matching ``error_matchers`` over
    all events of ``total_metric``."""

    error_metric: str
    error_matchers: str
    total_metric: str


#: plugin id → what it counts (read from each plugin's query template).
PLUGINS: Mapping[str, _Plugin] = {
    "sloth-common/kubernetes/apiserver/availability": _Plugin(
        "apiserver_request_total", 'code=~"(5..|429)"', "apiserver_request_total"
    ),
    "sloth-common/slok-go-http-metrics/availability": _Plugin(
        "http_request_duration_seconds_count",
        'code=~"(5..|429)"',
        "http_request_duration_seconds_count",
    ),
    "sloth-common/kubernetes/nginx-ingress/availability": _Plugin(
        "nginx_ingress_controller_requests",
        'status=~"(5..|429)"',
        "nginx_ingress_controller_requests",
    ),
    "sloth-common/haproxy/frontend/availability": _Plugin(
        "haproxy_frontend_http_responses_total",
        'code="5xx"',
        "haproxy_frontend_http_responses_total",
    ),
    "sloth-common/prometheus/rules/eval-availability": _Plugin(
        "prometheus_rule_evaluation_failures_total", "", "prometheus_rule_evaluations_total"
    ),
}
_MATCHER = re.compile(r'[a-zA-Z_][a-zA-Z0-9_]*\s*(?:=|!=|=~|!~)\s*"[^"]*"')


@dataclass(frozen=True, slots=True)
class PluginEvents:
    """The events queries a plugin stands for, or why it cannot be read (``problem``, with the
    option it concerns or None for the plugin itself)."""

    error_query: str = ""
    total_query: str = ""
    problem: str | None = None
    option: str | None = None


def _filter(text: str) -> str | None:
    """The matchers of a ``filter`` option (``{a="x",b="y"}`` or ``a="x",b="y"``), or None."""
    inner = text.strip().strip("{},").strip()
    if not inner:
        return ""
    parts = [p.strip() for p in _split(inner)]
    return ",".join(parts) if all(_MATCHER.fullmatch(p) for p in parts) else None


def _split(text: str) -> list[str]:
    out, quoted, start = [], False, 0
    for i, ch in enumerate(text):
        if ch == '"' and (i == 0 or text[i - 1] != "\\"):
            quoted = not quoted
        elif ch == "," and not quoted:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return out


def plugin_events(plugin_id: str, options: Mapping[str, object]) -> PluginEvents:
    """The error and total queries of a known plugin with these options."""
    plugin = PLUGINS.get(plugin_id)
    if plugin is None:
        known = ", ".join(sorted(PLUGINS))
        return PluginEvents(
            problem=f"SLI plugin {plugin_id!r} cannot be represented: sloguard runs no Sloth "
            "plugins and reads only the plugins that count one metric's errors over its events "
            f"({known}); write sli.events with the plugin's error_query and total_query instead"
        )
    for key, value in options.items():
        if key != "filter":
            return PluginEvents(
                problem=f"option {key!r} of plugin {plugin_id!r} cannot be represented (sloguard "
                "reads only 'filter'); write sli.events with the plugin's queries instead",
                option=key,
            )
        if not isinstance(value, str):
            return PluginEvents(problem=f"must be a string (got {value!r})", option=key)
    matchers = _filter(str(options.get("filter") or ""))
    if matchers is None:
        return PluginEvents(
            problem=f"invalid Prometheus filter {options.get('filter')!r}: write label "
            'matchers such as job="api",env="prod"',
            option="filter",
        )
    error = ",".join(m for m in (matchers, plugin.error_matchers) if m)
    return PluginEvents(_rate(plugin.error_metric, error), _rate(plugin.total_metric, matchers))


def _rate(metric: str, matchers: str) -> str:
    selector = f"{metric}{{{matchers}}}" if matchers else metric
    return f"sum(increase({selector}[{{{{.window}}}}]))"
