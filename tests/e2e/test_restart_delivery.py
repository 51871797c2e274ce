"""The daemon SIGKILLed between evaluation and delivery: after a restart the queued alert is
delivered exactly once, and nothing delivered before the kill is sent again."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.processes import STOP_DEADLINE, Spawn, _stderr, _wait_healthy, free_port
from tests.support.webhookreceiver import WebhookReceiver

SECRET = "whsec_cmVzdGFydC10ZXN0LXNlY3JldA=="
BURN = "SLO demo-agent-availability (agent_name=billing) is burning its error budget"


def billing_critical_firing(body: Any) -> bool:
    return isinstance(body, dict) and any(
        a["status"] == "firing"
        and a["labels"].get("agent_name") == "billing"
        and a["labels"].get("slo") == "demo-agent-availability"
        and a["labels"].get("severity") == "critical"
        for a in body.get("alerts", [])
    )


def test_sigkill_between_evaluation_and_delivery(spawn: Spawn, tmp_path: Path) -> None:
    data = tmp_path / "state"
    with WebhookReceiver([SECRET]) as hook:
        hook.script(503, count=100_000)  # down: everything stays in the outbox
        routing = tmp_path / "routing.yaml"
        routing.write_text(
            "receivers:\n  - name: console\n    log: {}\n"
            f"  - name: hook\n    webhook: {{url: '{hook.url}', secret_envs: [HOOK_SECRET]}}\n"
            "route:\n  receiver: console\n  routes:\n"
            "    - {receiver: console, continue: true}\n    - {receiver: hook}\n",
            encoding="utf-8",
        )
        env = {"SLOGUARD_ROUTING_FILE": str(routing), "HOOK_SECRET": SECRET}
        args = ["--interval", "1", "--rate", "25", "--data-dir", str(data)]
        port = free_port()
        first = spawn("demo", "--port", str(port), "--incident-after", "3", *args, env=env)
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(first, base, tmp_path)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if BURN in _stderr(tmp_path, 0) and any(
                billing_critical_firing(r.json) for r in hook.requests
            ):
                break
            time.sleep(0.3)
        assert BURN in _stderr(tmp_path, 0), "the console never got the alert"
        attempts_before = [r for r in hook.requests if billing_critical_firing(r.json)]
        assert attempts_before and all(r.status == 503 for r in attempts_before)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=STOP_DEADLINE)

        hook.unscript()  # the webhook is back
        port2 = free_port()
        second = spawn("demo", "--port", str(port2), "--incident-after", "0", *args, env=env)
        _wait_healthy(second, f"http://127.0.0.1:{port2}", tmp_path)
        hook.wait_for(lambda h: any(billing_critical_firing(r.json) for r in h.deliveries), 60)
        time.sleep(3)  # a duplicate would arrive by now
        delivered = [r for r in hook.deliveries if billing_critical_firing(r.json)]
        assert len(delivered) == 1
        assert delivered[0].verified
        # the same notification (same webhook-id) as the attempts before the kill
        assert delivered[0].webhook_id == attempts_before[0].webhook_id
        assert not hook.duplicates
        # the console already had it before the kill: the restart does not repeat it
        assert BURN not in _stderr(tmp_path, 1)
        alerts = httpx.get(f"http://127.0.0.1:{port2}/api/v1/alerts", timeout=5).json()["alerts"]
        assert any(a["labels"].get("agent_name") == "billing" for a in alerts)


def test_sigkill_after_the_receiver_took_it_before_the_answer(spawn: Spawn, tmp_path: Path) -> None:
    """The at-least-once window: the receiver has the notification, the daemon dies before the
    answer and its commit. After the restart it is sent again with the same ``webhook-id`` (the
    idempotency key), which a consumer drops as a duplicate: delivered once, never lost."""
    data = tmp_path / "state"
    with WebhookReceiver([SECRET]) as hook:
        hook.script(200, count=100_000, delay=6.0)  # accepts, but answers only after 6 s
        routing = tmp_path / "routing.yaml"
        routing.write_text(
            f"receivers:\n  - name: hook\n    webhook: {{url: '{hook.url}', "
            "secret_envs: [HOOK_SECRET], timeout: 20s}\nroute:\n  receiver: hook\n",
            encoding="utf-8",
        )
        env = {"SLOGUARD_ROUTING_FILE": str(routing), "HOOK_SECRET": SECRET}
        args = ["--interval", "1", "--rate", "25", "--data-dir", str(data)]
        port = free_port()
        first = spawn("demo", "--port", str(port), "--incident-after", "3", *args, env=env)
        _wait_healthy(first, f"http://127.0.0.1:{port}", tmp_path)
        hook.wait_for(lambda h: any(billing_critical_firing(b) for b in h.arrived), 90)
        first.send_signal(signal.SIGKILL)  # while the receiver holds the request
        first.wait(timeout=STOP_DEADLINE)
        hook.unscript()
        # the held request completes at the receiver: it took the notification
        hook.wait_for(lambda h: any(billing_critical_firing(r.json) for r in h.deliveries), 15)
        taken = [r for r in hook.deliveries if billing_critical_firing(r.json)]
        assert len(taken) == 1

        port2 = free_port()
        second = spawn("demo", "--port", str(port2), "--incident-after", "0", *args, env=env)
        _wait_healthy(second, f"http://127.0.0.1:{port2}", tmp_path)
        hook.wait_for(lambda h: any(billing_critical_firing(r.json) for r in h.duplicates), 60)
        again = [r for r in hook.duplicates if billing_critical_firing(r.json)]
        # sent again after the restart (at least once), under the same idempotency key
        assert [r.webhook_id for r in again] == [taken[0].webhook_id]
        assert again[0].verified
        time.sleep(3)  # a third copy would arrive by now
        assert len([r for r in hook.deliveries if billing_critical_firing(r.json)]) == 1
        assert len([r for r in hook.duplicates if billing_critical_firing(r.json)]) == 1
