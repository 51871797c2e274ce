"""Three ``sloguard run`` replicas on one PostgreSQL: exactly one leads, an outage pages exactly
once per receiver, and neither a SIGKILLed leader nor a paused (SIGSTOPped) one makes a
notification go out twice under two ids or at all after it was fenced.

Everything is real: PostgreSQL (``tests/support/pgserver.py``), a ``sloguard run --mode
exporter`` sidecar ingesting A2A traces (failing ``billing`` calls make the outage), a
Prometheus scraping it, three ``sloguard run --mode evaluator`` replicas reading the SLI from
Prometheus with ``storage.url`` set, routing every alert to a signed webhook receiver and the
fake Slack Web API.

The scenario:

1. One replica leads (``/readyz`` says so), the other two follow: they serve the leader's
   evaluations (``/readyz`` says so) and evaluate nothing themselves.
2. The outage fires; the webhook receiver holds the leader's request (a slow receiver: the
   delivery is in flight) and the leader is SIGKILLed; another replica is SIGSTOPped at once.
   The third takes over (measured from the kill: within two evaluation intervals) and
   delivers what was in flight once its claim expired. The stopped replica gets SIGCONT and
   stays a follower.
3. The outage ends; the receiver holds the new leader's next request and that leader is
   SIGSTOPped mid-delivery: the resumed replica takes over and delivers. The paused leader
   gets SIGCONT: it finds its lease lost and sends nothing more.

"Exactly once" is by notification id (the webhook's ``webhook-id``, Slack's message
metadata): every id the shared outbox holds reached every receiver, no receiver got an id the
outbox does not hold, and Slack got each id once. The webhook receiver sees a second request
with the *same* id only for the deliveries that were in flight when their sender was killed or
paused (the receiver had it, the sender never heard back: at-least-once, deduplicated by the
id); there are at most those two.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.support import fleet
from tests.support.fakeslack import DEFAULT_TOKEN, FakeSlack
from tests.support.fleet import SLOS, trace
from tests.support.pgserver import start_postgres
from tests.support.processes import Spawn, _stderr, _wait_healthy, free_port
from tests.support.promserver import scrape_config, start_prometheus
from tests.support.webhookreceiver import WebhookReceiver

TOKEN = "ha-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SECRET = "whsec_aGEtdGVzdC1zZWNyZXQtMTIzNA=="
INTERVAL = 2.0
#: How late the test may notice a takeover (it polls ``/readyz`` every 0.1 s, over HTTP).
OBSERVED_WITHIN = 1.0
HOLD = 8.0  # seconds the receiver holds a request: a delivery in flight
DEADLINE = 150.0


def wait(what: str, done: Callable[[], bool], tmp_path: Path, procs: int = 5) -> None:
    fleet.wait(what, done, tmp_path, procs, deadline=DEADLINE, every=0.1)


def leadership(base: str) -> dict[str, Any] | None:
    try:
        answer = httpx.get(f"{base}/readyz", timeout=0.5)
    except httpx.TransportError:
        return None
    got: dict[str, Any] | None = answer.json().get("leadership")
    return got


def leader_of(bases: list[str]) -> str | None:
    roles = {b: leadership(b) for b in bases}
    leaders = [b for b, r in roles.items() if r is not None and r["role"] == "leader"]
    return leaders[0] if len(leaders) == 1 else None


def evaluations(base: str) -> float:
    """SLO evaluations the replica made itself (``sloguard_slo_evaluations_total``)."""
    text = httpx.get(f"{base}/metrics", timeout=5).text
    found = re.findall(r"^sloguard_slo_evaluations_total\{[^}]*\} (\S+)$", text, re.M)
    return sum(float(v) for v in found)


def slack_ids(slack: FakeSlack) -> list[str]:
    out = []
    for call in slack.calls_to("chat.postMessage"):
        meta = call.params.get("metadata")
        parsed: Any = json.loads(meta) if isinstance(meta, str) else meta
        out.append(str(parsed["event_payload"]["id"]))
    return out


def outbox(database: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(database) as conn:
        rows = conn.execute("SELECT id, receiver, state FROM outbox ORDER BY seq").fetchall()
    return [(str(i), str(r), str(s)) for i, r, s in rows]


class Traffic:
    """Calls of ``billing`` into the sidecar, failing or not, until stopped."""

    def __init__(self, sidecar: str) -> None:
        self.sidecar = sidecar
        self.failing = True
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        i = 0
        with httpx.Client(timeout=10, headers=AUTH) as client:
            while not self.stop.is_set():
                body = trace(f"t-{i}", "billing", failed=self.failing)
                client.post(f"{self.sidecar}/v1/a2a/traces", json=body)
                i += 1
                self.stop.wait(0.1)


def spawn_replicas(
    spawn: Spawn, tmp_path: Path, database: str, prom: str, routing: Path, count: int
) -> tuple[list[subprocess.Popen[bytes]], list[str]]:
    procs, bases = [], []
    for n in range(count):
        port = free_port()
        proc = spawn(
            "run", "--mode", "evaluator", "--port", str(port),
            "--data-dir", str(tmp_path / f"replica-{n}"),
            env={
                "SLOGUARD_STORAGE__URL": database,
                "SLOGUARD_SLO_FILES": f'["{tmp_path / "slos.yaml"}"]',
                "SLOGUARD_ROUTING_FILE": str(routing),
                "SLOGUARD_EVALUATION_INTERVAL": str(INTERVAL),
                "SLOGUARD_PROMETHEUS__URL": prom,
                "SLOGUARD_PROMETHEUS__SCRAPE_INTERVAL": "1",
                "SLOGUARD_SELF_ALERTS__ENABLED": "false",
                "E2E_SLACK_TOKEN": DEFAULT_TOKEN,
                "E2E_HOOK_SECRET": SECRET,
            },
        )  # fmt: skip
        procs.append(proc)
        bases.append(f"http://127.0.0.1:{port}")
    for proc, base in zip(procs, bases, strict=True):
        _wait_healthy(proc, base, tmp_path)
    return procs, bases


def take_over(bases: list[str], start: float, tmp_path: Path) -> tuple[str, float]:
    """Wait until one of ``bases`` leads; return it and the seconds since ``start``."""
    found: list[str] = []

    def led() -> bool:
        leader = leader_of(bases)
        if leader is not None:
            found.append(leader)
        return leader is not None

    wait("a takeover", led, tmp_path)
    return found[-1], time.monotonic() - start


def test_three_replicas_page_exactly_once_through_a_kill_and_a_pause(
    spawn: Spawn, tmp_path: Path
) -> None:
    sidecar_port = free_port()
    with (
        start_postgres(tmp_path) as database,
        FakeSlack() as slack,
        WebhookReceiver([SECRET]) as hook,
        start_prometheus(tmp_path, config_yaml=scrape_config(f"127.0.0.1:{sidecar_port}")) as prom,
    ):
        sidecar = f"http://127.0.0.1:{sidecar_port}"
        side = spawn(
            "run", "--mode", "exporter", "--port", str(sidecar_port),
            "--data-dir", str(tmp_path / "sidecar"), env={"SLOGUARD_INGEST__TOKEN": TOKEN},
        )  # fmt: skip
        _wait_healthy(side, sidecar, tmp_path)
        (tmp_path / "slos.yaml").write_text(SLOS, encoding="utf-8")
        routing = tmp_path / "routing.yaml"
        routing.write_text(
            "receivers:\n"
            f"  - name: hook\n    webhook: {{url: '{hook.url}', secret_envs: [E2E_HOOK_SECRET]}}\n"
            "  - name: slack\n"
            "    slack: {channel: C123, token_env: E2E_SLACK_TOKEN,"  # an id: lookups work
            f" base_url: '{slack.base_url}'}}\n"
            "route:\n  receiver: hook\n  routes:\n"
            "    - {receiver: hook, continue: true}\n    - {receiver: slack}\n",
            encoding="utf-8",
        )
        procs, bases = spawn_replicas(spawn, tmp_path, database, prom, routing, 3)

        # --- 1. one leader, two followers, all ready
        wait("a leader", lambda: leader_of(bases) is not None, tmp_path)
        first = leader_of(bases)
        assert first is not None
        roles = [leadership(b) for b in bases]
        assert sorted(r["role"] for r in roles if r) == ["follower", "follower", "leader"]
        assert all(httpx.get(f"{b}/readyz", timeout=5).status_code == 200 for b in bases)
        metrics = {b: httpx.get(f"{b}/metrics", timeout=5).text for b in bases}
        assert "sloguard_is_leader 1.0" in metrics[first]
        assert all("sloguard_is_leader 0.0" in m for b, m in metrics.items() if b != first)
        changes = [
            re.search(r"^sloguard_leader_changes_total (\S+)$", m, re.M) for m in metrics.values()
        ]
        assert all(c is not None and float(c.group(1)) >= 1 for c in changes), changes
        # followers serve the leader's evaluations and stop querying Prometheus themselves
        followers = [b for b in bases if b != first]
        serving = [(leadership(b) or {}).get("evaluations") for b in followers]
        wait("the followers to serve the leader's evaluations", lambda: all(
            (leadership(b) or {}).get("evaluations") == "leader" for b in followers
        ), tmp_path)  # fmt: skip
        assert set(serving) <= {"leader", "own"}
        before = {b: evaluations(b) for b in bases}
        wait("two more leader ticks", lambda: evaluations(first) > before[first] + 1, tmp_path)
        assert [evaluations(b) for b in followers] == [before[b] for b in followers]

        # --- 2. the outage; the leader is killed with the webhook delivery in flight
        hook.script(200, count=1, delay=HOLD)
        traffic = Traffic(sidecar)
        traffic.thread.start()
        try:
            wait("the firing in flight", lambda: bool(hook.arrived), tmp_path)
            killed = bases.index(first)
            kill_at = time.monotonic()
            procs[killed].send_signal(signal.SIGKILL)
            others = [i for i in range(3) if i != killed]
            paused, survivor = others[0], others[1]
            procs[paused].send_signal(signal.SIGSTOP)
            second, took = take_over([bases[survivor]], kill_at, tmp_path)
            assert took <= 2 * INTERVAL + OBSERVED_WITHIN, f"takeover took {took:.2f} s"
            held = hook.arrived[0]
            wait("the redelivery", lambda: len([r for r in hook.requests if r.status == 200]) >= 1,
                 tmp_path)  # fmt: skip
            procs[paused].send_signal(signal.SIGCONT)
            wait("the resumed replica to follow", lambda: (leadership(bases[paused]) or {}).get(
                "leader") == (leadership(second) or {}).get("replica"), tmp_path)  # fmt: skip
            assert (leadership(bases[paused]) or {})["role"] == "follower"
            assert leader_of([bases[paused], second]) == second

            # --- 3. recovery; the new leader is paused with its next delivery in flight
            seen = len(hook.arrived)
            hook.script(200, count=1, delay=HOLD)
            traffic.failing = False
            wait("the next delivery in flight", lambda: len(hook.arrived) > seen, tmp_path)
            pause_at = time.monotonic()
            procs[survivor].send_signal(signal.SIGSTOP)
            third, took2 = take_over([bases[paused]], pause_at, tmp_path)
            assert took2 <= 2 * INTERVAL + OBSERVED_WITHIN, f"takeover took {took2:.2f} s"
            second_held = hook.arrived[seen]
            wait(
                "every queued notification delivered",
                lambda: all(s == "delivered" for _, _, s in outbox(database)),
                tmp_path,
            )
            time.sleep(HOLD)  # the held requests are answered by now
            before_wake = (len(hook.arrived), len(slack.calls_to("chat.postMessage")))
            procs[survivor].send_signal(signal.SIGCONT)
            wait("the paused leader to find it lost", lambda: (leadership(bases[survivor]) or {})
                 .get("role") == "follower", tmp_path)  # fmt: skip
            time.sleep(3 * INTERVAL)  # anything it still wanted to send would arrive by now
            after_wake = (len(hook.arrived), len(slack.calls_to("chat.postMessage")))
        finally:
            traffic.stop.set()
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGCONT)

        # --- the fenced old leader sent nothing after it woke up
        assert after_wake == before_wake
        assert "leadership lost" in _stderr(tmp_path, 1 + survivor)

        # --- exactly once per receiver, by notification id
        rows = outbox(database)
        assert rows and all(state == "delivered" for _, _, state in rows), rows
        hook_ids = [i for i, r, _ in rows if r == "hook"]
        slack_rows = [i for i, r, _ in rows if r == "slack"]
        firing = [r for r in hook.requests if r.json and r.json["status"] == "firing"]
        assert firing, "the outage never paged the webhook"
        delivered = [str(r.webhook_id) for r in hook.requests if r.status == 200]
        assert sorted(set(delivered)) == sorted(hook_ids)
        assert all(r.verified for r in hook.requests)
        # a second request with the same id only for the two held when their sender stopped
        held_ids = {r.webhook_id for r in hook.requests if r.json in (held, second_held)}
        repeated = {i for i in delivered if delivered.count(i) > 1}
        assert repeated <= held_ids, (repeated, held_ids)
        assert all(delivered.count(i) <= 2 for i in delivered)
        assert sorted(slack_ids(slack)) == sorted(slack_rows)  # Slack: each id posted once
        assert len(set(slack_ids(slack))) == len(slack_ids(slack))
        assert third in bases and procs[killed].poll() is not None
        requests = [(r.webhook_id, r.status, r.json["status"]) for r in hook.requests]
        print(  # seen with -s: the measured takeovers and what each receiver got
            f"takeovers {took:.2f} s and {took2:.2f} s (interval {INTERVAL:g} s); outbox {rows};"
            f" webhook requests {requests}; slack posts {slack_ids(slack)}"
        )
