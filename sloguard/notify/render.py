"""Render one :class:`Notification` for each kind of receiver. Pure.

- Slack: Block Kit blocks plus fallback text, within Slack's limits (≤ 50 blocks, header
  ≤ 150 characters, section text ≤ 3000, ≤ 10 fields of ≤ 2000);
- webhook: the Alertmanager v4 webhook body plus a ``sloguard`` object with the numbers;
- Alertmanager: one v2 API alert (``POST /api/v2/alerts``).

Window lengths are seconds in the model and become ``1h``-style text here. In the webhook's
``sloguard.tiers`` each tier's factor F is ``factor``; ``threshold``, its name before 0.2.0, is
still written as an alias and is removed in 0.3.0 (``docs/json-aliases.md``). The Slack text is
unchanged ("threshold 14.4x").

Times read at 3 am: "since" is when the incident began (the episode's start, or the critical's
for a warning downgraded from it — :attr:`Notification.began`), a resolved message says how long
it lasted, and its burn rates are labelled as taken at resolution (the long windows still hold
the incident and decay as it ages out), never shown like those of an ongoing incident. A
``downgraded`` notification (the critical resolved, its warning still fires) says both.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sloguard.durations import format_duration
from sloguard.notify.model import Notification, Transition
from sloguard.slo.budget import Severity

ZERO_TIME = "0001-01-01T00:00:00Z"
MAX_BLOCKS = 50
MAX_HEADER = 150
MAX_SECTION = 3000
MAX_FIELD = 2000
MAX_FIELDS = 10


def rfc3339(ts: float) -> str:
    """Unix seconds → ``2026-01-02T03:04:05.678Z``."""
    text = datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _pct(v: float | None, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v * 100:.{digits}f}%"


def human_duration(seconds: float | None) -> str:
    """``3d 4h``, ``2h 5m``, ``45s``; ``n/a`` for None."""
    if seconds is None:
        return "n/a"
    s = round(seconds)
    days, s = divmod(s, 86_400)
    hours, s = divmod(s, 3_600)
    minutes, s = divmod(s, 60)
    parts = [
        f"{days}d" if days else "",
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
        f"{s}s" if s and not days else "",
    ]
    return " ".join(p for p in parts if p)[:16] or "0s"


def _instance(n: Notification) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(n.instance.items())) or "(all)"


#: Alerts about sloguard itself are named ``Sloguard…`` (``sloguard.alerting.selfcheck``).
_OWN_ALERT_PREFIX = "Sloguard"
#: Alert names a title leaves out (the default burn alert's, and the no-data alert's).
_PLAIN_ALERTS = frozenset({"SLOBurn", "SLONoData"})


def title(n: Notification) -> str:
    """One-line summary: ``[CRITICAL] SLO agent-availability (agent_name=billing) is burning``.

    An alert about sloguard itself (``Sloguard…``) is titled by its summary; an SLO's burn alert
    named by its ``alerting.name`` (not ``SLOBurn``) starts with that name:
    ``[CRITICAL] CheckoutBurn: SLO checkout is burning its error budget``.
    """
    name = n.labels.get("alertname", "")
    own = name.startswith(_OWN_ALERT_PREFIX)
    named = f"{name}: " if name and not own and name not in _PLAIN_ALERTS else ""
    inst = f" ({_instance(n)})" if n.instance else ""
    if own and n.annotations.get("summary") and n.transition is Transition.ACKNOWLEDGED:
        return f"[ACKNOWLEDGED] {n.annotations['summary']}: {acknowledgement(n)}"
    if own and n.annotations.get("summary"):
        state = "RESOLVED" if n.transition is Transition.RESOLVED else n.severity.upper()
        return f"[{state}] {n.annotations['summary']}"
    if n.transition is Transition.RESOLVED:
        return f"[RESOLVED] {named}SLO {n.slo}{inst} is back within its error budget"
    if n.transition is Transition.ACKNOWLEDGED:
        return f"[ACKNOWLEDGED] {named}SLO {n.slo}{inst}: {acknowledgement(n)}"
    if n.transition is Transition.DOWNGRADED:
        return (
            f"[DOWNGRADED] {named}SLO {n.slo}{inst} is no longer critical, still burning its "
            "error budget (warning)"
        )
    again = " (still)" if n.transition is Transition.REPEAT else ""
    return f"[{n.severity.upper()}] {named}SLO {n.slo}{inst} is burning its error budget{again}"


def acknowledgement(n: Notification) -> str:
    """``acknowledged by ana at 2026-…Z: on it`` (from the annotations the center set)."""
    who = n.annotations.get("acknowledged_by", "someone")
    at = n.annotations.get("acknowledged_at", "")
    comment = n.annotations.get("acknowledge_comment", "")
    return (
        f"acknowledged by {who}" + (f" at {at}" if at else "") + (f": {comment}" if comment else "")
    )


def _span(n: Notification) -> tuple[str, float] | None:
    """("Lasted", seconds) on a resolved notification, ("Critical lasted", seconds) on a
    downgraded one; None otherwise or when the end is unknown."""
    if n.transition is Transition.RESOLVED:
        end, what = (n.ends_at if n.ends_at is not None else n.at), "Lasted"
    elif n.transition is Transition.DOWNGRADED:
        end, what = n.at, "Critical lasted"
    else:
        return None
    return None if end is None else (what, max(0.0, end - n.began))


def lasted(n: Notification) -> str:
    """How long the incident lasted, on a resolved notification:
    ``lasted 35m (since 2026-01-02T02:01:00.000Z)``; on a downgraded one, how long the critical
    lasted; ``""`` otherwise (or when the end is unknown)."""
    span = _span(n)
    if span is None:
        return ""
    return f"{span[0].lower()} {human_duration(span[1])} (since {rfc3339(n.began)})"


def burn_rates_text(n: Notification) -> str:
    """``5m 0.1x · 1h 3.2x · …``, prefixed ``at resolution, decaying:`` on a resolved
    notification (the long windows still hold the incident)."""
    rates = " · ".join(
        f"{format_duration(w)} {'n/a' if b is None else f'{b:.1f}x'}"
        for w, b in sorted(n.burn_rates.items())
    )
    if not rates or n.transition is not Transition.RESOLVED:
        return rates
    return f"at resolution, decaying: {rates}"


def _tier_lines(n: Notification) -> list[str]:
    lines = []
    for t in n.tiers:
        lb = "n/a" if t.long_burn is None else f"{t.long_burn:.1f}x"
        sb = "n/a" if t.short_burn is None else f"{t.short_burn:.1f}x"
        lines.append(
            f"{t.tier.severity} tier {t.tier.name}: burn {lb} over the long window and {sb} over "
            f"the short window (threshold {t.tier.factor:g}x)"
        )
    return lines


def fallback_text(n: Notification) -> str:
    """Plain text for notifications and clients without Block Kit."""
    parts = [title(n)]
    if lasted(n):
        parts.append(lasted(n))
    if n.transition is not Transition.RESOLVED:
        parts += _tier_lines(n)
        parts.append(
            f"budget left {_pct(n.budget_remaining, 1)}, exhausted in "
            f"{human_duration(n.time_to_exhaustion)}"
        )
    elif n.burn_rates:
        parts.append(f"burn rates {burn_rates_text(n)}")
    if n.runbook_url:
        parts.append(f"runbook: {n.runbook_url}")
    return _clip("\n".join(parts), 4000)


def slack_message(n: Notification) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, Block Kit blocks) for Slack."""
    emoji = (
        ":white_check_mark:"
        if n.transition is Transition.RESOLVED
        else (":rotating_light:" if n.severity is Severity.CRITICAL else ":warning:")
    )
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": _clip(f"{emoji} {title(n)}", MAX_HEADER),
                "emoji": True,
            },
        },
    ]
    description = n.annotations.get("description") or n.annotations.get("summary")
    if description:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _clip(description, MAX_SECTION)}}
        )
    fields = [
        f"*SLO*\n{n.slo}",
        f"*Instance*\n{_instance(n)}",
        f"*Severity*\n{n.severity}",
        f"*Objective*\n{_pct(n.objective)}",
        f"*SLI (period)*\n{_pct(n.sli)}",
        f"*Budget left*\n{_pct(n.budget_remaining, 1)}",
    ]
    if n.transition is not Transition.RESOLVED:
        fields.append(f"*Exhausted in*\n{human_duration(n.time_to_exhaustion)}")
    span = _span(n)
    if span is not None:
        fields.append(f"*{span[0]}*\n{human_duration(span[1])}")
    blocks.append(
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": _clip(f, MAX_FIELD)} for f in fields[:MAX_FIELDS]
            ],
        }
    )
    blocks += _detail_sections(n)
    links = [
        f"<{url}|{label}>"
        for label, url in (
            ("Runbook", n.runbook_url),
            ("Dashboard", n.dashboard_url),
            ("Source", n.generator_url),
        )
        if url
    ]
    context = [f"fingerprint `{n.fingerprint}`", f"since {rfc3339(n.began)}", *links]
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": _clip(" · ".join(context), MAX_SECTION)}],
        }
    )
    return fallback_text(n), blocks[:MAX_BLOCKS]


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, MAX_SECTION)}}


def _detail_sections(n: Notification) -> list[dict[str, Any]]:
    """The fired tiers, the decaying burn rates of a resolve, the failing traces."""
    out = []
    if n.transition is not Transition.RESOLVED and n.tiers:
        out.append(_section("*Fired*\n" + "\n".join(f"• {line}" for line in _tier_lines(n))))
    if n.transition is Transition.RESOLVED and n.burn_rates:
        rates = burn_rates_text(n).removeprefix("at resolution, decaying: ")
        out.append(_section(f"*Burn rates at resolution (decaying)*\n{rates}"))
    if n.trace_ids:
        ids = ", ".join(_trace_link(n, i) for i in range(min(len(n.trace_ids), 3)))
        out.append(_section(f"*Recent failing traces*\n{ids}"))
    return out


def _trace_link(n: Notification, i: int) -> str:
    """A trace id as a Slack link to its page when there is one, else as code."""
    tid = n.trace_ids[i]
    if i < len(n.trace_urls):
        return f"<{n.trace_urls[i]}|{_slack_escape(tid)}>"
    return f"`{_slack_escape(tid)}`"


def _slack_escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _alert(n: Notification) -> dict[str, Any]:
    return {
        "status": n.status.value,
        "labels": dict(n.labels),
        "annotations": dict(n.annotations),
        "startsAt": rfc3339(n.starts_at),
        "endsAt": rfc3339(n.ends_at) if n.ends_at is not None else ZERO_TIME,
        "generatorURL": n.generator_url or "",
        "fingerprint": n.fingerprint,
    }


def previous_alert(n: Notification) -> dict[str, Any] | None:
    """A downgraded notification's critical alert, resolved at the downgrade (Alertmanager
    webhook shape); None for other notifications or rows without the critical's identity."""
    if (
        n.transition is not Transition.DOWNGRADED
        or n.previous_fingerprint is None
        or n.incident_starts_at is None
    ):
        return None
    end = n.at if n.at is not None else n.starts_at
    return {
        "status": "resolved",
        "labels": {**n.labels, "severity": Severity.CRITICAL.value},
        "annotations": dict(n.annotations),
        "startsAt": rfc3339(n.incident_starts_at),
        "endsAt": rfc3339(end),
        "generatorURL": n.generator_url or "",
        "fingerprint": n.previous_fingerprint,
    }


def _previous(n: Notification) -> dict[str, Any] | None:
    alert, span = previous_alert(n), _span(n)
    if alert is None:
        return None
    return {
        "fingerprint": alert["fingerprint"], "severity": Severity.CRITICAL.value,
        "started_at": alert["startsAt"], "ended_at": alert["endsAt"],
        "duration_seconds": span[1] if span is not None else None,
    }  # fmt: skip


def numbers(n: Notification) -> dict[str, Any]:
    """The ``sloguard`` object: every number behind the alert.

    ``since`` is when the incident began; ``duration_seconds`` how long it lasted (resolved
    only); ``burn_rates_decaying`` says the ``burn_rates`` were taken at resolution (the long
    windows still hold the incident); ``previous`` is the critical a ``downgraded`` replaces.
    """
    span = _span(n)
    resolved = n.transition is Transition.RESOLVED
    return {
        "id": n.id,
        "slo": n.slo,
        "instance": n.instance,
        "severity": n.severity.value,
        "objective": n.objective,
        "sli": n.sli,
        "error_budget_remaining": n.budget_remaining,
        "time_to_exhaustion_seconds": n.time_to_exhaustion,
        "burn_rates": {format_duration(w): b for w, b in sorted(n.burn_rates.items())},
        "tiers": [
            {
                "severity": t.tier.severity.value,
                "tier": t.tier.name,
                "long_window_seconds": t.tier.long_window,
                "short_window_seconds": t.tier.short_window,
                "factor": t.tier.factor,
                "threshold": t.tier.factor,  # alias of factor until 0.3.0
                "long_burn": t.long_burn,
                "short_burn": t.short_burn,
            }
            for t in n.tiers
        ],
        "runbook_url": n.runbook_url,
        "dashboard_url": n.dashboard_url,
        "trace_ids": list(n.trace_ids),
        "trace_urls": list(n.trace_urls),
        "repeat": n.transition is Transition.REPEAT,
        "transition": n.transition.value,
        "since": rfc3339(n.began),
        "duration_seconds": span[1] if resolved and span is not None else None,
        "burn_rates_decaying": resolved,
        "previous": _previous(n),
    }


def webhook_payload(n: Notification, *, external_url: str = "") -> dict[str, Any]:
    """The Alertmanager v4 webhook body for one alert, plus ``sloguard``; a ``downgraded``
    carries two alerts: the warning firing and the critical it replaces, resolved (what an
    Alertmanager-only consumer needs), still one delivery."""
    group = {"alertname": n.labels.get("alertname", "SLOBurn"), "slo": n.slo}
    group_key = "{}:{" + ", ".join(f'{k}="{v}"' for k, v in sorted(group.items())) + "}"
    return {
        "receiver": n.receiver,
        "status": n.status.value,
        "alerts": [_alert(n), *filter(None, [previous_alert(n)])],
        "groupLabels": group,
        "commonLabels": dict(n.labels),
        "commonAnnotations": dict(n.annotations),
        "externalURL": external_url,
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "sloguard": numbers(n),
    }


def alertmanager_alert(n: Notification, *, ends_at: float) -> dict[str, Any]:
    """One alert for ``POST /api/v2/alerts``; a firing alert carries a near ``endsAt`` so
    Alertmanager resolves it by itself if sloguard stops re-posting."""
    return {
        "labels": dict(n.labels),
        "annotations": dict(n.annotations),
        "startsAt": rfc3339(n.starts_at),
        "endsAt": rfc3339(n.ends_at if n.ends_at is not None else ends_at),
        "generatorURL": n.generator_url or "",
    }
