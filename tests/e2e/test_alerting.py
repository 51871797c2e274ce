"""End to end: Prometheus scrapes sloguard, an SDK-driven outage fires the critical tier, and
the alert reaches Slack (a local fake driven through slack-sdk), a signed webhook, and a real
Alertmanager whose own webhook then gets it; recovery resolves it exactly once everywhere."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.amserver import start_alertmanager
from tests.support.fakeslack import DEFAULT_TOKEN, FakeSlack
from tests.support.processes import Spawn, _stderr, _wait_healthy, free_port
from tests.support.promserver import scrape_config, start_prometheus
from tests.support.webhookreceiver import WebhookReceiver

SECRET = "whsec_c2xvZ3VhcmQtZTJlLXNlY3JldA=="
DEADLINE = 150.0


def billing_critical(labels: dict[str, Any]) -> bool:
    return (
        labels.get("slo") == "demo-agent-availability"
        and labels.get("agent_name") == "billing"
        and labels.get("severity") == "critical"
        and labels.get("alertname") == "SLOBurn"
    )


def wait(what: str, done: Callable[[], bool], tmp_path: Path) -> None:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if done():
            return
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}\n{_stderr(tmp_path)[-4000:]}")


def hook_alerts(receiver: WebhookReceiver, status: str) -> list[dict[str, Any]]:
    return [
        a
        for r in receiver.deliveries
        if isinstance(r.json, dict)
        for a in r.json.get("alerts", [])
        if a["status"] == status and billing_critical(a["labels"])
    ]


def test_outage_reaches_slack_webhook_and_alertmanager_then_resolves_once(
    spawn: Spawn, tmp_path: Path
) -> None:
    port = free_port()
    with (
        FakeSlack() as slack,
        WebhookReceiver([SECRET]) as hook,
        WebhookReceiver() as am_hook,
        start_alertmanager(tmp_path, am_hook.url) as am,
        start_prometheus(tmp_path, config_yaml=scrape_config(f"127.0.0.1:{port}")) as prom,
    ):
        routing = tmp_path / "routing.yaml"
        routing.write_text(
            "receivers:\n"
            "  - name: slack\n"
            "    slack: {channel: alerts, token_env: E2E_SLACK_TOKEN,"
            f" base_url: '{slack.base_url}'}}\n"
            "  - name: hook\n"
            f"    webhook: {{url: '{hook.url}', secret_envs: [E2E_HOOK_SECRET]}}\n"
            "  - name: am\n"
            f"    alertmanager: {{url: '{am}', resend_after: 5s}}\n"
            "route:\n"
            "  receiver: slack\n"
            "  routes:\n"
            "    - {receiver: slack, continue: true}\n"
            "    - {receiver: hook, continue: true}\n"
            "    - {receiver: am}\n",
            encoding="utf-8",
        )
        proc = spawn(
            "demo",
            "--port",
            str(port),
            "--incident-after",
            "5",
            "--incident-duration",
            "25",
            "--interval",
            "1",
            "--rate",
            "25",
            "--data-dir",
            str(tmp_path / "demo"),
            env={
                "SLOGUARD_PROMETHEUS__URL": prom,
                "SLOGUARD_PROMETHEUS__SCRAPE_INTERVAL": "1",
                "SLOGUARD_ROUTING_FILE": str(routing),
                "SLOGUARD_EXTERNAL_URL": f"http://127.0.0.1:{port}",
                "E2E_SLACK_TOKEN": DEFAULT_TOKEN,
                "E2E_HOOK_SECRET": SECRET,
            },
        )
        _wait_healthy(proc, f"http://127.0.0.1:{port}", tmp_path)

        def slack_posts() -> list[Any]:
            return [
                c
                for c in slack.calls_to("chat.postMessage")
                if "demo-agent-availability (agent_name=billing)" in json.dumps(c.params)
                and "CRITICAL" in json.dumps(c.params)
            ]

        # --- firing reaches all three (Alertmanager through its own webhook)
        wait("slack firing", lambda: bool(slack_posts()), tmp_path)
        wait("webhook firing", lambda: bool(hook_alerts(hook, "firing")), tmp_path)
        wait("alertmanager firing", lambda: bool(hook_alerts(am_hook, "firing")), tmp_path)

        firing = slack_posts()[0]
        blocks = firing.params["blocks"]
        blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
        assert blocks[0]["type"] == "header"
        assert "[CRITICAL] SLO demo-agent-availability" in blocks[0]["text"]["text"]
        fields = [f["text"] for b in blocks if b["type"] == "section" for f in b.get("fields", [])]
        assert any(f.startswith("*Budget left*") for f in fields)
        assert any("agent_name=billing" in f for f in fields)
        assert any(
            "*Fired*" in b.get("text", {}).get("text", "") for b in blocks if b["type"] == "section"
        )
        assert firing.params["text"]  # fallback text

        signed = [r for r in hook.deliveries if r.verified]
        assert signed and all(r.verified for r in hook.requests if r.json)
        body = next(r.json for r in hook.deliveries if hook_alerts_in(r.json, "firing"))
        assert body["version"] == "4" and body["receiver"] == "hook"
        assert body["sloguard"]["slo"] == "demo-agent-availability"
        assert body["sloguard"]["tiers"]

        # --- recovery: exactly one resolved per receiver, Slack threaded under the firing
        wait("webhook resolved", lambda: bool(hook_alerts(hook, "resolved")), tmp_path)
        wait("alertmanager resolved", lambda: bool(hook_alerts(am_hook, "resolved")), tmp_path)
        # The resolved title names no severity: the critical's resolution is the one with its
        # fingerprint. The same instance's warning fires once the critical no longer inhibits
        # it and resolves later, a second "[RESOLVED] … (agent_name=billing)" that is not a
        # duplicate (the webhook's count filters on the critical's labels too).
        critical = f"fingerprint `{body['alerts'][0]['fingerprint']}`"
        assert critical in json.dumps(firing.params)

        firing_index = slack.calls_to("chat.postMessage").index(firing)
        firing_ts = list(slack.messages)[firing_index][1]

        def slack_resolved() -> list[Any]:
            # the critical's end in its thread: "[RESOLVED]" when its warning no longer fires,
            # else one "[DOWNGRADED]" (the warning burns on, in the same thread)
            return [
                c
                for c in slack.calls_to("chat.postMessage")
                if c.params.get("thread_ts") == firing_ts
                and (
                    (
                        "[RESOLVED] SLO demo-agent-availability (agent_name=billing)"
                        in json.dumps(c.params)
                        and critical in json.dumps(c.params)
                    )
                    or "[DOWNGRADED]" in json.dumps(c.params)
                )
            ]

        wait("slack resolved", lambda: bool(slack_resolved()), tmp_path)
        time.sleep(3)  # anything sent twice would arrive by now
        assert len(hook_alerts(hook, "firing")) == 1
        assert len(hook_alerts(hook, "resolved")) == 1
        assert not hook.duplicates
        resolved = slack_resolved()
        assert len(resolved) == 1
        posts = slack.calls_to("chat.postMessage")
        assert any(c.params.get("ts") == firing_ts for c in slack.calls_to("chat.update"))
        # and no alert's resolution was posted twice into its thread
        threads = [
            c.params["thread_ts"]
            for c in posts
            if "thread_ts" in c.params and "[RESOLVED]" in c.params.get("text", "")
        ]
        assert len(threads) == len(set(threads))
        assert len(hook_alerts(am_hook, "resolved")) >= 1
        assert proc.poll() is None


def hook_alerts_in(body: Any, status: str) -> bool:
    return isinstance(body, dict) and any(
        a["status"] == status and billing_critical(a["labels"]) for a in body.get("alerts", [])
    )
