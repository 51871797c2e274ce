"""The one-line title of a notification: SLO alerts by their SLO, sloguard's own by summary."""

from __future__ import annotations

from dataclasses import replace

from sloguard.notify.render import fallback_text, title
from tests.support.notifications import notification


def test_an_slo_alert_is_titled_by_its_slo() -> None:
    n = notification(slo="checkout-availability")
    assert title(n) == (
        "[CRITICAL] SLO checkout-availability (agent_name=billing) is burning its error budget"
    )


def test_an_alert_about_sloguard_itself_is_titled_by_its_summary() -> None:
    n = notification(slo="sloguard", instance={"receiver": "ops-slack"})
    own = replace(
        n,
        labels={**n.labels, "alertname": "SloguardReceiverDisabled"},
        annotations={"summary": "receiver ops-slack is disabled: 410 Gone"},
    )
    assert title(own) == "[CRITICAL] receiver ops-slack is disabled: 410 Gone"
    resolved = notification("resolved", slo="sloguard")
    own_resolved = replace(
        resolved,
        labels={**resolved.labels, "alertname": "SloguardReceiverDisabled"},
        annotations={"summary": "receiver ops-slack is disabled: 410 Gone"},
    )
    assert title(own_resolved) == "[RESOLVED] receiver ops-slack is disabled: 410 Gone"
    assert "is burning its error budget" not in fallback_text(own)


def test_an_acknowledgement_says_who_took_it() -> None:
    n = notification("acknowledged")
    n = replace(n, annotations={**n.annotations, "acknowledged_by": "ana",
                                "acknowledged_at": "2027-01-15T08:00:00Z",
                                "acknowledge_comment": "on it"})  # fmt: skip
    assert title(n) == (
        "[ACKNOWLEDGED] SLO checkout-availability (agent_name=billing): "
        "acknowledged by ana at 2027-01-15T08:00:00Z: on it"
    )
    own = replace(n, labels={"alertname": "SloguardOutboxStale", "severity": "warning"},
                  annotations={**n.annotations, "summary": "the outbox is stale"})  # fmt: skip
    assert title(own).startswith("[ACKNOWLEDGED] the outbox is stale: acknowledged by ana")
    assert n.transition.value == "acknowledged"
