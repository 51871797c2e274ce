"""The daemon names an SLO's burn alerts by its ``alerting.name`` (issue 14: Sloth's
``alerting.name``), as the compiled rules do; SLOs that name none keep ``SLOBurn`` and so
their label sets, fingerprints and stored states."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sloguard.alerting.center import AlertCenter
from sloguard.alerting.state import BURN_ALERT, fingerprint, new_instance
from sloguard.alerting.store import StateStore
from sloguard.evaluation.evaluator import InstanceResult
from sloguard.notify.config import AlertRouting, LogSpec, Receiver
from sloguard.notify.model import Notification, Transition
from sloguard.notify.render import alertmanager_alert, slack_message, title, webhook_payload
from sloguard.notify.routing import Route
from sloguard.slo.budget import Counts, Severity, evaluate
from sloguard.slo.loader import check_slo_text
from sloguard.slo.spec import SLO, SLOInstance
from tests.support.slos import make_slo

PLAIN = make_slo("checkout", group_by=("agent_name",))
NAMED = replace(PLAIN, alerting=replace(PLAIN.alerting, name="CheckoutBurn"))
BILLING = SLOInstance.of("checkout", {"agent_name": "billing"})
T0 = 1_800_000_000.0


def result(slo: SLO, error_ratio: float, at: float) -> InstanceResult:
    windows = {w: Counts(error_ratio * 1e5, 1e5) for w in slo.windows()}
    ev = evaluate(
        objective=slo.objective, period=slo.period, policy=slo.alerting.policy, windows=windows
    )
    return InstanceResult(slo, BILLING, ev, at)


def notifications(slo: SLO) -> tuple[AlertCenter, list[Notification]]:
    """A critical outage, then recovery, through a center with one receiver."""
    routing = AlertRouting({"console": Receiver("console", "log", LogSpec())}, Route("console"))
    center = AlertCenter(StateStore(), routing)
    sent = center.process([result(slo, 0.05, T0)], T0)
    sent += center.process([result(slo, 0.0, T0 + 600)], T0 + 600)
    return center, sent


def test_a_named_slo_fires_and_resolves_under_its_name_in_every_receiver() -> None:
    _, sent = notifications(NAMED)
    firing = [n for n in sent if n.transition is Transition.FIRING]
    resolved = [n for n in sent if n.transition is Transition.RESOLVED]
    assert firing and resolved
    for n in sent:
        assert n.labels["alertname"] == "CheckoutBurn"
        assert n.fingerprint == fingerprint(n.labels)
    crit = next(n for n in firing if n.severity is Severity.CRITICAL)
    # the tiers that fired are those of the alert's severity (not every firing tier)
    assert crit.tiers and {t.tier.severity for t in crit.tiers} == {Severity.CRITICAL}
    assert title(crit) == (
        "[CRITICAL] CheckoutBurn: SLO checkout (agent_name=billing) is burning its error budget"
    )
    text, _ = slack_message(crit)
    assert "CheckoutBurn" in text
    assert title(resolved[0]).startswith("[RESOLVED] CheckoutBurn: SLO checkout")
    hook = webhook_payload(crit)
    assert hook["groupLabels"]["alertname"] == "CheckoutBurn"
    assert hook["alerts"][0]["labels"]["alertname"] == "CheckoutBurn"
    assert alertmanager_alert(crit, ends_at=T0 + 300)["labels"]["alertname"] == "CheckoutBurn"


def test_api_alerts_lists_the_named_alert() -> None:
    routing = AlertRouting({"console": Receiver("console", "log", LogSpec())}, Route("console"))
    center = AlertCenter(StateStore(), routing)
    center.process([result(NAMED, 0.05, T0)], T0)
    names = {a.labels["alertname"] for a in center.active(T0)}
    assert names == {"CheckoutBurn"}


def test_an_slo_naming_none_keeps_slo_burn_and_its_fingerprints() -> None:
    assert PLAIN.alerting.name == BURN_ALERT == "SLOBurn"
    _, sent = notifications(PLAIN)
    crit = next(n for n in sent if n.transition is Transition.FIRING)
    assert crit.labels["alertname"] == "SLOBurn"
    labels = {"agent_name": "billing", "alertname": "SLOBurn", "slo": "checkout"}
    assert crit.fingerprint == fingerprint({**labels, "severity": "critical"})
    assert title(crit) == (
        "[CRITICAL] SLO checkout (agent_name=billing) is burning its error budget"
    )
    # the default of new_instance is the stored states' alert name
    old = new_instance("checkout", {"agent_name": "billing"})
    assert old.critical.fingerprint == crit.fingerprint


@pytest.mark.parametrize("name", ["SLONoData", "SloguardEvaluationErrors"])
def test_an_slo_cannot_take_sloguards_own_alert_names(name: str) -> None:
    text = f"""\
apiVersion: sloguard/v1
slos:
  - name: checkout
    objective: 99.5
    sli: {{kind: success_rate}}
    alerting:
      name: {name}
"""
    check = check_slo_text(text, "slos.yaml")
    assert [str(p) for p in check.problems] == [
        f"slos.yaml:7: slos[0].alerting.name: {name!r} is sloguard's own alert name "
        "(SLONoData, Sloguard…); name the burn alert otherwise"
    ]
