"""The chart's AlertmanagerConfig, loaded into a real Alertmanager: it routes sloguard's alerts
and its inhibit rule mutes exactly the warning of the instance whose critical fires.

The rendered ``spec`` is turned into an Alertmanager configuration the way the Prometheus
operator does with the matcher strategy ``None`` (the object's route becomes a child of a root
route whose receiver takes everything else; matchers, timings and inhibit rules map one to one),
then alerts are posted to ``/api/v2/alerts`` and read back with the receivers they were routed to
and what inhibits them. Needs helm (as tests/packaging/test_helm.py obtains it) and
``prometheus-alertmanager`` (Debian); under ``CI`` a missing one fails.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.packaging.test_helm import helm, one, render, values
from tests.support.amserver import alertmanager_binary
from tests.support.promserver import run_server

__all__ = ["helm"]  # the fixture, imported for this module's tests

Doc = dict[str, Any]
DEADLINE = 20.0


def _matchers(items: list[Doc]) -> list[str]:
    return [f"{m['name']}{m.get('matchType', '=')}{json.dumps(m['value'])}" for m in items]


def _route(route: Doc) -> Doc:
    out: Doc = {"receiver": route["receiver"], "matchers": _matchers(route.get("matchers", []))}
    for key, name in [
        ("groupBy", "group_by"),
        ("groupWait", "group_wait"),
        ("groupInterval", "group_interval"),
        ("repeatInterval", "repeat_interval"),
    ]:
        if key in route:
            out[name] = route[key]
    if route.get("routes"):
        out["routes"] = [_route(r) for r in route["routes"]]
    return out


def alertmanager_config(spec: Doc) -> Doc:
    """Alertmanager's configuration for an AlertmanagerConfig ``spec`` (receivers by name only:
    where notifications would go is not what is checked)."""
    return {
        "route": {"receiver": "everything-else", "routes": [_route(spec["route"])]},
        "receivers": [
            {"name": "everything-else"},
            *({"name": r["name"]} for r in spec["receivers"]),
        ],
        "inhibit_rules": [
            {
                "source_matchers": _matchers(rule["sourceMatch"]),
                "target_matchers": _matchers(rule["targetMatch"]),
                "equal": rule["equal"],
            }
            for rule in spec["inhibitRules"]
        ],
    }


def _alert(name: str, **labels: str) -> Doc:
    return {"labels": {"alertname": name, **labels}, "startsAt": "2026-01-01T00:00:00Z"}


def _key(alert: Doc) -> tuple[str, ...]:
    labels = alert["labels"]
    return (labels["alertname"], labels.get("severity", ""), labels.get("agent_name", ""))


def test_the_rendered_route_and_inhibit_rule_in_a_real_alertmanager(
    helm: str, tmp_path: Path
) -> None:
    exe = alertmanager_binary()
    spec = one(render(helm, "-f", values("alertmanager-values.yaml")), "AlertmanagerConfig")["spec"]
    run_dir = Path(tempfile.mkdtemp(prefix="alertmanager-", dir=tmp_path))
    config = run_dir / "alertmanager.yml"
    config.write_text(yaml.safe_dump(alertmanager_config(spec)), encoding="utf-8")

    def args(base_url: str) -> list[str]:
        return [
            exe,
            f"--config.file={config}",
            f"--storage.path={run_dir / 'data'}",
            f"--web.listen-address={base_url.removeprefix('http://')}",
            "--cluster.listen-address=",
        ]

    posted = [
        _alert("SLOBurn", slo="agent-availability", severity="critical", agent_name="billing"),
        _alert("SLOBurn", slo="agent-availability", severity="warning", agent_name="billing"),
        _alert("SLOBurn", slo="agent-availability", severity="warning", agent_name="shipping"),
        _alert("SLOBurn", slo="workflow-latency", severity="warning", workflow="checkout"),
        _alert("SloguardWatchdog", severity="none"),
        _alert("KubePodCrashLooping", severity="warning"),
    ]
    with run_server("Alertmanager", args, run_dir / "am.log", run_dir, 30.0) as base:
        httpx.post(f"{base}/api/v2/alerts", json=posted, timeout=5).raise_for_status()
        deadline = time.monotonic() + DEADLINE
        while True:  # inhibitions are computed once the alerts are in; give them a moment
            got = httpx.get(f"{base}/api/v2/alerts", timeout=5).json()
            inhibited = {_key(a) for a in got if a["status"]["inhibitedBy"]}
            if (len(got) == len(posted) and inhibited) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    routed = {_key(a): [r["name"] for r in a["receivers"]] for a in got}
    assert routed == {
        ("SLOBurn", "critical", "billing"): ["slack-sre"],
        ("SLOBurn", "warning", "billing"): ["slack-sre"],
        ("SLOBurn", "warning", "shipping"): ["slack-sre"],
        ("SLOBurn", "warning", ""): ["slack-sre"],
        ("SloguardWatchdog", "none", ""): ["heartbeat"],
        ("KubePodCrashLooping", "warning", ""): ["everything-else"],
    }
    # only the warning of the instance whose critical fires; not another agent's, not another
    # SLO's, not an alert that is not sloguard's
    assert inhibited == {("SLOBurn", "warning", "billing")}


@pytest.mark.parametrize("source", ["critical", "page"])
def test_the_translation_keeps_the_rendered_severities(helm: str, source: str) -> None:
    """The checker's translation reads what the chart renders (so the test above can fail)."""
    docs = render(
        helm,
        *("--set", "alertmanagerConfig.enabled=true"),
        *("--set", f"alertmanagerConfig.inhibit.sourceSeverity={source}"),
    )
    config = alertmanager_config(one(docs, "AlertmanagerConfig")["spec"])
    assert config["inhibit_rules"][0]["source_matchers"] == [f'severity="{source}"']
    assert config["route"]["routes"][0]["matchers"] == [
        'alertname=~"SLOBurn|SLONoData|Sloguard.+"',
        'alertname!="SloguardWatchdog"',
    ]
