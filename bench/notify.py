"""Measure notification delivery through the outbox: throughput, and delay from evaluation.

Throughput: ``AlertCenter.process`` queues N firing notifications (N instances of one SLO,
one receiver) into a fresh SQLite outbox file in one commit, then ``OutboxWorker.run_once``
delivers them all (one pass of the worker's per-receiver loop; no poll sleeps). Cases, each in
the same run, interleaved over rounds with the order rotated:

- ``recording``   the in-memory ``RecordingNotifier``: the outbox and SQLite cost alone;
- ``webhook``     the real ``WebhookNotifier`` (httpx, signed) to the local ``WebhookReceiver``
                  of ``tests/support/webhookreceiver.py`` (a threaded ``http.server`` on 127.0.0.1
                  that verifies each signature and closes each connection);
- ``http_only``   diagnostic: the same N notifications sent with ``WebhookNotifier.send`` in a
                  loop, no outbox: the HTTP cost alone;
- ``recording_normal``  diagnostic: ``recording`` with the store's connection switched to
                  ``PRAGMA synchronous=NORMAL`` (sloguard ships FULL): what the fsync of each
                  commit costs.

Every case checks that exactly N notifications arrived (no duplicate ``webhook-id``) and that
the outbox is empty afterwards. The store lives in a temporary directory (``--dir``; the default
is the system's, which must be a real disk for the fsync cost to show).

Delay: the worker runs its normal ``run(stop)`` loop with ``poll`` = 0.5 s (the default) and
with short polls, delivering to the webhook receiver. Every ``gap`` seconds on average (uniform
random, so events fall at random phases of the poll) one new instance starts firing:
``AlertCenter.process([result], now=time.time())`` on the event loop, as the daemon does. The
delay is from just before that call to the moment the receiver's handler gets the request
(``time.monotonic`` in both threads); reported as median, p90, p99 and max.

Exit status is 0 whatever the numbers; this is a measurement.

Usage (from the repository root)::

    .venv/bin/python bench/notify.py            # full run, about 1 minute
    .venv/bin/python bench/notify.py --quick    # smoke run, a few seconds
    .venv/bin/python bench/notify.py --json     # machine-readable result on stdout
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# bench.common, tests.support.webhookreceiver
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine_info as common_machine_info
from sloguard.alerting.center import AlertCenter
from sloguard.alerting.store import StateStore
from sloguard.durations import DAY
from sloguard.evaluation.evaluator import InstanceResult
from sloguard.notify.config import AlertRouting, LogSpec, Receiver, WebhookSpec
from sloguard.notify.model import Notification, Notifier
from sloguard.notify.outbox import OutboxWorker
from sloguard.notify.recording import RecordingNotifier
from sloguard.notify.routing import Route
from sloguard.notify.webhook import WebhookNotifier
from sloguard.slo.budget import Counts, evaluate
from sloguard.slo.spec import SLOInstance
from tests.support.slos import make_slo
from tests.support.webhookreceiver import WebhookReceiver

SLO = make_slo("bench-availability", group_by=("agent_name",))
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
RECEIVER = "bench"
DEFAULT_POLL = 0.5  # OutboxWorker's default, as the daemon builds it


@dataclass(frozen=True)
class Mode:
    """How much to measure."""

    notifications: int  # per throughput case per round
    rounds: int
    events: int  # delay samples per poll setting
    gap: float  # mean seconds between two events in the delay part


FULL = Mode(notifications=1000, rounds=5, events=300, gap=0.05)
QUICK = Mode(notifications=200, rounds=2, events=40, gap=0.05)


def firing(i: int, at: float) -> InstanceResult:
    """Instance ``agent-i`` of the SLO with 5 % errors in every window: it fires (critical)."""
    windows = {w: Counts(5e3, 1e5) for w in SLO.windows()}
    ev = evaluate(
        objective=SLO.objective, period=30 * DAY, policy=SLO.alerting.policy, windows=windows
    )
    return InstanceResult(SLO, SLOInstance(SLO.name, (("agent_name", f"agent-{i:05d}"),)), ev, at)


def routing(receiver: Receiver) -> AlertRouting:
    """Everything to one receiver."""
    return AlertRouting({receiver.name: receiver}, Route(receiver=receiver.name))


class TimedReceiver(WebhookReceiver):
    """The test receiver, also noting when each ``webhook-id`` first arrived."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__(secrets)
        self.arrivals: dict[str, float] = {}
        self._arrivals_lock = threading.Lock()

    def _handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int | None, dict[str, str], bytes]:
        # the request has been read; noted before it is verified, recorded and answered, so it
        # is in ``arrivals`` before ``deliveries`` (what ``wait_for`` looks at) can count it
        at = time.monotonic()
        msg_id = headers.get("webhook-id")
        if msg_id is not None:
            with self._arrivals_lock:
                self.arrivals.setdefault(msg_id, at)
        return super()._handle(method, path, headers, body)


# --- throughput -------------------------------------------------------------------------------


@dataclass
class Sample:
    """One round of one throughput case."""

    enqueue_s: float  # AlertCenter.process of N instances (one commit); 0 for http_only
    deliver_s: float  # delivering all N


@dataclass
class Case:
    """A throughput case and its samples."""

    name: str
    what: str
    run: Callable[[Path, int], Awaitable[Sample]]
    samples: list[Sample] = field(default_factory=list)


async def _through_outbox(
    db: Path, n: int, receiver: Receiver, notifier: Notifier, *, sync_normal: bool = False
) -> tuple[Sample, StateStore]:
    store = StateStore(db)
    if sync_normal:
        store._db.execute("PRAGMA synchronous=NORMAL")  # diagnostic only: sloguard ships FULL
    center = AlertCenter(store, routing(receiver))
    worker = OutboxWorker(store, {receiver.name: notifier})
    now = time.time()
    results = [firing(i, now) for i in range(n)]
    t0 = time.perf_counter()
    queued = center.process(results, now)
    t1 = time.perf_counter()
    tried = await worker.run_once(receiver.name)
    t2 = time.perf_counter()
    if len(queued) != n or tried != n or store.depth():
        raise RuntimeError(f"queued {len(queued)}, tried {tried}, left {store.depth()}; want {n}")
    return Sample(t1 - t0, t2 - t1), store


async def recording_case(db: Path, n: int, *, sync_normal: bool = False) -> Sample:
    rec = RecordingNotifier(RECEIVER)
    sample, store = await _through_outbox(
        db, n, Receiver(RECEIVER, "log", LogSpec()), rec, sync_normal=sync_normal
    )
    store.close()
    if len(rec.sent) != n:
        raise RuntimeError(f"recording got {len(rec.sent)} of {n}")
    return sample


async def recording_normal_case(db: Path, n: int) -> Sample:
    return await recording_case(db, n, sync_normal=True)


async def webhook_case(db: Path, n: int) -> Sample:
    with WebhookReceiver(secrets=[SECRET]) as hook:
        notifier = WebhookNotifier(RECEIVER, hook.url, secrets=[SECRET], timeout=10.0)
        receiver = Receiver(RECEIVER, "webhook", WebhookSpec(url=hook.url), (SECRET,))
        try:
            sample, store = await _through_outbox(db, n, receiver, notifier)
        finally:
            await notifier.aclose()
        store.close()
        _check_hook(hook, n)
    return sample


async def http_only_case(db: Path, n: int) -> Sample:
    with WebhookReceiver(secrets=[SECRET]) as hook:
        receiver = Receiver(RECEIVER, "webhook", WebhookSpec(url=hook.url), (SECRET,))
        scratch = StateStore(":memory:")  # only to render the same notifications
        now = time.time()
        notes: list[Notification] = AlertCenter(scratch, routing(receiver)).process(
            [firing(i, now) for i in range(n)], now
        )
        scratch.close()
        notifier = WebhookNotifier(RECEIVER, hook.url, secrets=[SECRET], timeout=10.0)
        try:
            t0 = time.perf_counter()
            for note in notes:
                delivery = await notifier.send(note, None)
                if delivery.reason != "delivered":
                    raise RuntimeError(delivery.reason)
            t1 = time.perf_counter()
        finally:
            await notifier.aclose()
        _check_hook(hook, n)
    return Sample(0.0, t1 - t0)


def _check_hook(hook: WebhookReceiver, n: int) -> None:
    if len(hook.deliveries) != n or hook.duplicates:
        raise RuntimeError(
            f"receiver got {len(hook.deliveries)} of {n}, {len(hook.duplicates)} duplicates"
        )
    if any(r.verified is not True for r in hook.deliveries):
        raise RuntimeError("a delivery failed signature verification")


def build_cases() -> list[Case]:
    return [
        Case("recording", "outbox + SQLite (FULL), in-memory notifier", recording_case),
        Case("webhook", "outbox + SQLite (FULL) + signed HTTP POST", webhook_case),
        Case("http_only", "signed HTTP POST alone, no outbox (diagnostic)", http_only_case),
        Case(
            "recording_normal",
            "recording with synchronous=NORMAL (diagnostic)",
            recording_normal_case,
        ),
    ]


async def run_throughput(cases: list[Case], mode: Mode, base: Path) -> None:
    await cases[0].run(base / "warmup.sqlite", 50)  # imports, first connections
    for r in range(mode.rounds):
        shift = r % len(cases)
        for case in cases[shift:] + cases[:shift]:
            db = base / f"{case.name}-{r}.sqlite"
            case.samples.append(await case.run(db, mode.notifications))
            remove_db(db)


def remove_db(db: Path) -> None:
    """Delete a store file and its WAL companions (keeps the page cache and disk small)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def throughput_summary(cases: list[Case], n: int) -> dict[str, Any]:
    by_name = {c.name: c for c in cases}
    base = statistics.median(s.deliver_s for s in by_name["recording"].samples)
    base_min = min(s.deliver_s for s in by_name["recording"].samples)
    rows = []
    for c in cases:
        deliver = [s.deliver_s for s in c.samples]
        med = statistics.median(deliver)
        rows.append(
            {
                "case": c.name,
                "what": c.what,
                "notifications": n,
                "rounds": len(deliver),
                "deliver_median_s": med,
                "deliver_min_s": min(deliver),
                "per_second_median": n / med,
                "per_notification_ms": 1e3 * med / n,
                "x_recording": med / base,
                "x_recording_min": min(deliver) / base_min,
                "deliver_s_per_round": deliver,
                "enqueue_median_ms": 1e3 * statistics.median(s.enqueue_s for s in c.samples),
            }
        )
    # the ratio per round (same round, same machine state), then its median
    pairs = zip(by_name["webhook"].samples, by_name["recording"].samples, strict=True)
    per_round = [w.deliver_s / r.deliver_s for w, r in pairs]
    return {
        "cases": rows,
        "webhook_x_recording_per_round": per_round,
        "webhook_x_recording_median": statistics.median(per_round),
    }


# --- delay from evaluation to receipt ---------------------------------------------------------


async def measure_delay(poll: float, mode: Mode, db: Path, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    hook = TimedReceiver([SECRET])
    with hook:
        store = StateStore(db)
        receiver = Receiver(RECEIVER, "webhook", WebhookSpec(url=hook.url), (SECRET,))
        center = AlertCenter(store, routing(receiver))
        notifier = WebhookNotifier(RECEIVER, hook.url, secrets=[SECRET], timeout=10.0)
        worker = OutboxWorker(store, {RECEIVER: notifier}, poll=poll)
        center.on_queued = worker.wake  # as the daemon wires it (AlertRuntime)
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        evaluated: dict[str, float] = {}
        process_s: list[float] = []
        try:
            await asyncio.sleep(rng.uniform(0, poll))
            for i in range(mode.events):
                await asyncio.sleep(rng.uniform(0, 2 * mode.gap))
                t = time.monotonic()
                [note] = center.process([firing(i, time.time())], time.time())
                process_s.append(time.monotonic() - t)
                evaluated[note.id] = t
            n = mode.events
            await asyncio.to_thread(hook.wait_for, lambda h: len(h.deliveries) >= n, 30 + 2 * poll)
        finally:
            stop.set()
            await task
            await worker.aclose()
            store.close()
        _check_hook(hook, mode.events)
        delays = [hook.arrivals[nid] - t for nid, t in evaluated.items()]
    cuts = statistics.quantiles(delays, n=100, method="inclusive")
    return {
        "poll_s": poll,
        "events": len(delays),
        "median_ms": 1e3 * statistics.median(delays),
        "p90_ms": 1e3 * cuts[89],
        "p99_ms": 1e3 * cuts[98],
        "max_ms": 1e3 * max(delays),
        "min_ms": 1e3 * min(delays),
        "process_median_ms": 1e3 * statistics.median(process_s),
    }


# --- report -----------------------------------------------------------------------------------


def machine_info(base: Path) -> dict[str, Any]:
    """What the numbers depend on."""
    return common_machine_info(("httpx",), sqlite=sqlite3.sqlite_version, store_dir=str(base))


def render(summary: dict[str, Any]) -> str:
    m, t = summary["machine"], summary["throughput"]
    lines = [
        f"sloguard notification delivery: {summary['mode']['notifications']} notifications per "
        f"case, {summary['mode']['rounds']} rounds, order rotated",
        f"python {m['python']}, {m['cpus']} CPUs, sqlite {m['sqlite']}, httpx {m['httpx']}, "
        f"store in {m['store_dir']}",
        "",
        f"{'case':<17} {'notif/s':>8} {'ms/notif':>9} {'x rec':>7} {'x (min)':>7} "
        f"{'enqueue ms':>10}  what",
    ]
    for r in t["cases"]:
        lines.append(
            f"{r['case']:<17} {r['per_second_median']:>8.0f} {r['per_notification_ms']:>9.3f} "
            f"{r['x_recording']:>6.2f}x {r['x_recording_min']:>6.2f}x "
            f"{r['enqueue_median_ms']:>10.1f}  {r['what']}"
        )
    per_round = ", ".join(f"{x:.2f}" for x in t["webhook_x_recording_per_round"])
    lines += [
        "",
        "notif/s, ms/notif: median over rounds of delivering all N; x rec = median / median of "
        "recording; x (min) = fastest round / fastest recording round",
        f"webhook / recording delivery time, per round: {per_round}; "
        f"median {t['webhook_x_recording_median']:.2f}x",
        "",
        "delay from AlertCenter.process to receipt (worker.run loop, webhook receiver):",
        f"{'poll s':>7} {'events':>6} {'median ms':>9} {'p90 ms':>8} {'p99 ms':>8} "
        f"{'max ms':>8} {'process() ms':>12}",
    ]
    for d in summary["delay"]:
        lines.append(
            f"{d['poll_s']:>7g} {d['events']:>6} {d['median_ms']:>9.1f} {d['p90_ms']:>8.1f} "
            f"{d['p99_ms']:>8.1f} {d['max_ms']:>8.1f} {d['process_median_ms']:>12.2f}"
        )
    return "\n".join(lines)


async def run(mode: Mode, base: Path, polls: list[float]) -> dict[str, Any]:
    cases = build_cases()
    await run_throughput(cases, mode, base)
    delay = [
        await measure_delay(p, mode, base / f"delay-{i}.sqlite", seed=i)
        for i, p in enumerate(polls)
    ]
    return {
        "mode": {
            "notifications": mode.notifications,
            "rounds": mode.rounds,
            "events": mode.events,
            "gap_s": mode.gap,
        },
        "machine": machine_info(base),
        "throughput": throughput_summary(cases, mode.notifications),
        "delay": delay,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table (or JSON); always return 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smoke run, a few seconds")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--polls",
        type=lambda s: [float(x) for x in s.split(",")],
        default=[DEFAULT_POLL, 0.05, 0.01],
        help="worker poll intervals for the delay part, comma-separated (default 0.5,0.05,0.01)",
    )
    parser.add_argument("--dir", type=Path, default=None, help="where the SQLite files go")
    args = parser.parse_args(argv)
    mode = QUICK if args.quick else FULL
    # the worker logs nothing on success; keep a failure visible but out of the table
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    base = Path(tempfile.mkdtemp(prefix="sloguard-bench-notify-", dir=args.dir))
    try:
        summary = asyncio.run(run(mode, base, args.polls))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(json.dumps(summary, indent=2) if args.json else render(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
