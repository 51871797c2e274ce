"""Soak and faults: the real daemon under ingest, scrapes and API reads for a bounded time,
with faults injected; RSS over time, disk use against the limits, latency percentiles, and
every accepted notification counted at the receiver.

What runs, all on 127.0.0.1 and all stopped at the end (also on Ctrl-C or an error):

- ``sloguard run`` (a subprocess, temp data dir) with one SLO on the agent ``soak-burner``
  (objective 99 %, 12 s and 30 s burn tiers) that the load makes burn 15 s out of every 50 s, so
  alerts fire and resolve all along; every alert goes to one signed webhook receiver;
- the Debian ``prometheus`` scraping the daemon every second as its SLI source (without the
  binary: the embedded source, and the "Prometheus down" fault is skipped);
- load: agent-call events, A2A and OTLP traces (10 per request) in a loop; ``/metrics`` every
  second; ``/api/v1/slos`` and ``/api/v1/traces`` every second; defect 1's adversarial label load
  (60k tool events over 200 agents × 300 tools, 100k usage events over 200 agents × 500 models)
  posted to ``/v1/events`` after each start of the daemon;
- faults, in fractions of the run: the receiver answers 500 from the start; once it has refused
  an alert (which is then in the outbox) the daemon is SIGKILLed and restarted on the same data
  dir; the receiver answers 200 from 35 %, hangs (answers nothing within the daemon's 2 s
  timeout) from 45 % to 60 %; Prometheus is stopped from 65 % to 80 %.

At the end the load stops, the outbox is given time to drain, the daemon is stopped with
SIGTERM, and every outbox row of the receiver is matched against the 2xx requests the receiver
saw, by ``webhook-id`` (the notification id, the idempotency key) and by alert transition
(fingerprint, status, ``startsAt``); the order in which each alert's transitions arrived is
checked too. The drain waits up to 360 s (120 s with ``--quick``): the outbox backs off up to
300 s between attempts, so a notification refused for a long time can wait that long after the
receiver recovers.

Example::

    .venv/bin/python bench/soak.py --quick             # 90 s of load, plus the drain
    .venv/bin/python bench/soak.py --duration 300 --json soak.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import machine_info  # noqa: E402
from bench.soakparts import (  # noqa: E402
    JSON,
    SECRET,
    Daemon,
    Processes,
    Prometheus,
    Timings,
    adversarial_batches,
    arrival_order,
    burner_events,
    delay_report,
    disk_report,
    disk_use,
    kill_tree_on_term,
    log_report,
    machine_extra,
    outbox,
    percentiles,
    rss_bytes,
    rss_report,
    trace_body,
    write_config,
)
from tests.support.processes import free_port  # noqa: E402
from tests.support.webhookreceiver import WebhookReceiver  # noqa: E402

CYCLE, BAD = 50.0, 15.0  # the burner fails half its calls for BAD seconds of every CYCLE
HANG = 5.0  # seconds a hanging receiver holds a request (the daemon gives up after 2)
FOREVER = 1_000_000


@dataclass
class Run:
    """Everything one soak shares between its threads."""

    duration: float
    root: Path
    procs: Processes
    hook: WebhookReceiver
    daemon: Daemon
    prometheus: Prometheus | None
    t0: float = field(default_factory=time.monotonic)
    stop: threading.Event = field(default_factory=threading.Event)
    timings: Timings = field(default_factory=Timings)
    flooded: threading.Event = field(default_factory=threading.Event)
    rss: list[tuple[float, int, int]] = field(default_factory=list)  # (t, generation, bytes)
    disk: list[tuple[float, dict[str, int]]] = field(default_factory=list)
    events: list[tuple[float, str]] = field(default_factory=list)
    series: list[int] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)
    loaded: float = 0.0  # when the last adversarial label load was in

    def now(self) -> float:
        return time.monotonic() - self.t0

    def mark(self, what: str) -> None:
        self.events.append((round(self.now(), 1), what))
        print(f"[{self.now():6.1f}s] {what}", file=sys.stderr, flush=True)


def loop(run: Run, every: float, body: Any) -> None:
    """Call ``body(client)`` every ``every`` seconds until the soak stops."""
    with httpx.Client(base_url=run.daemon.base, timeout=10.0) as client:
        while not run.stop.is_set():
            body(client)
            run.stop.wait(every)


def ingest(run: Run) -> None:
    index = [0]

    def once(client: httpx.Client) -> None:
        bad = run.now() % CYCLE < BAD
        body = burner_events(bad)
        run.timings.timed("events", client.post, "/v1/events", content=body, headers=JSON)
        for kind in ("a2a", "otlp"):
            path, data, ctype = trace_body(kind, index[0])
            index[0] += 10
            run.timings.timed(
                kind, client.post, path, content=data, headers={"content-type": ctype}
            )

    loop(run, 0.05, once)


def scrape(run: Run) -> None:
    def once(client: httpx.Client) -> None:
        kind = "metrics" if run.flooded.is_set() else "metrics_before_flood"
        answer = run.timings.timed(kind, client.get, "/metrics")
        if answer is not None and answer.is_success and kind == "metrics":
            run.series.append(sum(1 for ln in answer.text.splitlines() if ln[:1] not in "#"))

    loop(run, 1.0, once)


def reads(run: Run) -> None:
    def once(client: httpx.Client) -> None:
        run.timings.timed("api_slos", client.get, "/api/v1/slos")
        run.timings.timed("api_traces", client.get, "/api/v1/traces", params={"limit": 20})

    loop(run, 1.0, once)


def sample(run: Run) -> None:
    data = run.root / "data"
    while not run.stop.is_set():
        pid = run.daemon.pid()
        rss = rss_bytes(pid) if pid is not None else None
        if rss is not None:
            run.rss.append((run.now(), len(run.daemon.starts), rss))
        run.disk.append((run.now(), disk_use(data)))
        run.stop.wait(2.0)


def flood(run: Run) -> None:
    """Admit the soak's own names first, then post defect 1's label load (stops early when
    this daemon process is killed or the soak ends)."""
    generation = len(run.daemon.starts)
    run.flooded.clear()
    with httpx.Client(base_url=run.daemon.base, timeout=30.0) as client:
        try:
            client.post("/v1/events", content=burner_events(False), headers=JSON)
            for kind in ("a2a", "otlp"):
                path, data, ctype = trace_body(kind, 10_000_000)
                client.post(path, content=data, headers={"content-type": ctype})
        except httpx.HTTPError:  # killed meanwhile: the next process floods again
            return
        start = time.perf_counter()
        for n, body in enumerate(adversarial_batches(), 1):
            if run.stop.is_set() or len(run.daemon.starts) != generation or not run.daemon.pid():
                run.mark(f"adversarial label load cut after {n - 1} requests")
                return
            run.timings.timed(
                "adversarial_1000", client.post, "/v1/events", content=body, headers=JSON
            )
    run.mark(f"adversarial label load posted in {time.perf_counter() - start:.1f}s")
    run.loaded = run.now()
    run.flooded.set()


def background(run: Run, target: Any) -> None:
    thread = threading.Thread(target=target, args=(run,), daemon=True)
    run.threads.append(thread)
    thread.start()


def wait_until(run: Run, fraction: float) -> None:
    """Sleep until ``fraction`` of the run has passed."""
    left = fraction * run.duration - run.now()
    if left > 0:
        time.sleep(left)


def kill_and_restart(run: Run) -> None:
    """Once the receiver has refused an alert (it is in the outbox), SIGKILL and restart."""
    deadline = run.now() + 0.3 * run.duration
    while run.now() < deadline and not any(r.status == 500 for r in list(run.hook.requests)):
        time.sleep(0.2)
    time.sleep(1.0)
    pending = sum(1 for row in outbox(run.root / "data") if row[1] == "pending")
    run.daemon.kill()
    run.mark(f"SIGKILL (outbox: {pending} pending)")
    time.sleep(2.0)
    took = run.daemon.start()
    run.mark(f"restarted on the same data dir, healthy in {took:.2f}s")
    background(run, flood)


def faults(run: Run) -> None:
    """The fault timeline, in fractions of the run."""
    kill_and_restart(run)
    wait_until(run, 0.35)
    run.hook.unscript()
    run.mark("receiver: answers 200 again")
    wait_until(run, 0.45)
    run.hook.script(503, FOREVER, delay=HANG)
    run.mark(f"receiver: hangs {HANG:.0f}s per request (client timeout 2s)")
    wait_until(run, 0.60)
    run.hook.unscript()
    run.mark("receiver: answers 200 again")
    if run.prometheus is not None:
        wait_until(run, 0.65)
        run.prometheus.stop()
        run.mark("Prometheus: stopped")
        wait_until(run, 0.80)
        took = run.prometheus.start()
        run.mark(f"Prometheus: started again, ready in {took:.2f}s")
    wait_until(run, 1.0)


def drain(run: Run, timeout: float) -> float:
    """Wait until no notification is pending; return the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if not any(row[1] == "pending" for row in outbox(run.root / "data")):
            break
        time.sleep(0.5)
    took = time.monotonic() - start
    time.sleep(3.0)  # a duplicate would arrive by now
    return took


def soak(run: Run, drain_timeout: float) -> dict[str, Any]:
    run.hook.script(500, FOREVER)
    run.mark("receiver: answers 500")
    if run.prometheus is not None:
        run.mark(f"Prometheus ready in {run.prometheus.start():.2f}s")
    run.mark(f"sloguard healthy in {run.daemon.start():.2f}s")
    for target in (ingest, scrape, reads, sample, flood):
        background(run, target)
    try:
        faults(run)
    finally:
        run.stop.set()
        for t in run.threads:
            t.join(timeout=40)
    run.mark("load stopped; draining the outbox")
    drained = drain(run, drain_timeout)
    code = run.daemon.stop()
    run.mark(f"drained in {drained:.1f}s; SIGTERM: exit {code}")
    return {"drain_seconds": round(drained, 1), "exit_code": code}


def delivery_report(run: Run) -> dict[str, Any]:
    rows = [r for r in outbox(run.root / "data") if r[3] == "hook"]
    accepted = {r[0] for r in rows}
    ok = [r for r in list(run.hook.requests) if 200 <= r.status < 300]
    by_id = Counter(r.webhook_id for r in ok)
    semantic = Counter(
        (a["fingerprint"], a["status"], a["startsAt"])
        for r in ok if isinstance(r.json, dict) for a in r.json.get("alerts", [])
    )  # fmt: skip
    alerts = [r.json["alerts"][0] for r in ok if isinstance(r.json, dict) and r.json["alerts"]]
    names = Counter(f"{a['labels'].get('alertname')}/{a['status']}" for a in alerts)
    return {
        "accepted": len(accepted),
        "states": dict(Counter(r[1] for r in rows)),
        "requests": len(run.hook.requests),
        "refused_or_hung": len(run.hook.requests) - len(ok),
        "delivered_raw": len(ok),
        "delivered_distinct_ids": len(by_id),
        "lost": len(accepted - set(by_id)),
        "duplicated_by_id": sum(c - 1 for c in by_id.values()),
        "duplicated_by_alert_transition": sum(c - 1 for c in semantic.values()),
        "unknown_ids": len(set(by_id) - accepted),
        "unverified": sum(1 for r in ok if r.verified is not True),
        "by_alert": dict(sorted(names.items())),
        **arrival_order(alerts),
        **delay_report(rows),
    }


def report(run: Run, end: dict[str, Any]) -> dict[str, Any]:
    lat = {kind: percentiles(v) for kind, v in sorted(run.timings.seconds.items())}
    return {
        "machine": machine_info(("httpx", "uvicorn", "prometheus-client"), **machine_extra()),
        "duration_s": run.duration,
        "source": "prometheus" if run.prometheus is not None else "embedded",
        "timeline": run.events,
        "latency": lat,
        "failures": dict(run.timings.failures),
        "metrics_series_max": max(run.series, default=0),
        "rss": rss_report(run.rss, run.duration, run.loaded),
        "disk": disk_report(run.disk),
        "log": log_report(run.root / "sloguard.log"),
        "delivery": delivery_report(run),
        **end,
    }


def verdict(r: dict[str, Any]) -> dict[str, bool]:
    d, rss = r["delivery"], r["rss"]
    return {
        "rss_flat_within_10pct": rss.get("max_over_warm", 9.0) <= 1.10,
        "metrics_p99_under_1s": (r["latency"].get("metrics", {}).get("p99_ms") or 1e9) < 1000,
        "no_lost": d["lost"] == 0 and d["accepted"] > 0,
        "no_duplicates": d["duplicated_by_id"] == 0 and d["duplicated_by_alert_transition"] == 0,
        "in_order (extra)": d["out_of_order"] == 0 and d["stale_last"] == 0,
        "traces_within_max_bytes": r["disk"]["peak_bytes"].get("traces.sqlite", 0)
        <= r["disk"]["traces_max_bytes"],
    }


def render(r: dict[str, Any]) -> str:
    lines = [f"soak: {r['duration_s']:.0f}s, source {r['source']}", f"machine: {r['machine']}"]
    lines += [f"  [{t:6.1f}s] {what}" for t, what in r["timeline"]]
    lines.append("latency (ms):  kind  n  p50  p95  p99  max")
    for kind, p in r["latency"].items():
        cells = " ".join(str(p[k]) for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))
        lines.append(f"  {kind:20} {p['n']:6} {cells}")
    lines.append(f"failed requests (no answer or not 2xx, mostly while down): {r['failures']}")
    lines.append(f"/metrics series (max): {r['metrics_series_max']}")
    rss = {k: v for k, v in r["rss"].items() if k != "over_time_mib"}
    lines.append(f"rss: {rss}")
    lines.append(f"rss over time (s, MiB): {r['rss'].get('over_time_mib')}")
    lines.append(f"disk: {r['disk']}")
    lines.append(f"delivery: {r['delivery']}")
    lines.append(f"daemon log: {r['log']}")
    lines.append(f"drain {r['drain_seconds']}s, exit code {r['exit_code']}")
    lines.append(f"verdict: {r['verdict']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, help="seconds of load (default 600)")
    parser.add_argument("--quick", action="store_true", help="90 s of load (CI)")
    parser.add_argument("--json", metavar="OUT", help="write the result as JSON to OUT")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, data)")
    args = parser.parse_args(argv)
    duration = args.duration or (90.0 if args.quick else 600.0)
    kill_tree_on_term()
    root = Path(tempfile.mkdtemp(prefix="sloguard-soak-"))
    procs = Processes(root)
    exe = shutil.which("prometheus")
    try:
        with WebhookReceiver([SECRET]) as hook:
            try:
                port = free_port()
                prom = Prometheus(procs, exe, root, f"127.0.0.1:{port}") if exe else None
                settings = write_config(root, port, hook.url, prom.url if prom else None)
                run = Run(duration, root, procs, hook, Daemon(procs, settings, port), prom)
                result = report(run, soak(run, 120.0 if args.quick else 360.0))
            finally:
                procs.close()  # before the receiver stops: nothing still sends to it
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    result["verdict"] = verdict(result)
    print(render(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
