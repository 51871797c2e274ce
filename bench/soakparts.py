"""Parts of ``bench/soak.py``: the files it writes, the processes it runs (through
:class:`Processes`, which kills what still runs when the soak ends, also on an exception or
Ctrl-C), the load it sends, what it samples and how it sums that up. Not run on its own."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from bench.ingest import a2a_body, otlp_body, trace_spec
from tests.support.processes import _env, free_port

#: The trace store's limits written by :func:`write_config`, for the report.
LIMITS = {"traces_max_bytes": 16 * 1024 * 1024, "traces_max_steps": 100_000}
SECRET = "whsec_c29hay1iZW5jaC1zZWNyZXQtc29hay1iZW5jaA=="
BURNER = "soak-burner"
JSON = {"content-type": "application/json"}
SLOS = """\
apiVersion: sloguard/v1
policies:
  soak:
    - {severity: critical, long_window: 12s, short_window: 4s, burn_rate: 10}
    - {severity: warning, long_window: 30s, short_window: 4s, burn_rate: 5}
slos:
  - name: soak-availability
    objective: 99
    period: 1h
    sli: {kind: success_rate}
    selector: {agent_name: soak-burner}
    min_events: 10
    alerting: {policy: soak}
"""


def write_config(root: Path, port: int, hook_url: str, prometheus: str | None) -> Path:
    """Write settings, SLOs and routing under ``root``; return the settings file."""
    (root / "slos.yaml").write_text(SLOS, encoding="utf-8")
    (root / "routing.yaml").write_text(
        "receivers:\n  - name: hook\n"
        f"    webhook: {{url: '{hook_url}', secret_envs: [SOAK_HOOK_SECRET], timeout: 2s}}\n"
        "route:\n  receiver: hook\n  repeat_interval: 1h\n",
        encoding="utf-8",
    )
    source = (
        f"prometheus: {{url: '{prometheus}', scrape_interval: 1, timeout: 2}}\n"
        if prometheus
        else ""
    )
    settings = root / "sloguard.yaml"
    settings.write_text(
        f"host: 127.0.0.1\nport: {port}\nmode: all\ndata_dir: {root / 'data'}\n"
        f"log_level: info\nlog_format: json\nslo_files: ['{root / 'slos.yaml'}']\n"
        f"evaluation_interval: 1\nrouting_file: {root / 'routing.yaml'}\n"
        "metrics: {label_limits: {agent_name: 200, tool_name: 300}}\n"  # as config/sloguard.yaml
        "traces: {max_bytes: 16MiB, max_steps: 100000, prune_interval: 5s}\n" + source,
        encoding="utf-8",
    )
    return settings


class Processes:
    """Start processes with their output in ``root``; :meth:`close` kills the live ones."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.started: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = []

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> Any:
        log = (self.root / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            args, cwd=self.root, env=_env(env or {}), stdout=log, stderr=subprocess.STDOUT
        )
        self.started.append((proc, log))
        return proc

    def close(self) -> None:
        for proc, log in self.started:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=15)
            log.close()


def wait_http(url: str, proc: subprocess.Popen[bytes], deadline: float = 30.0) -> float:
    """Wait until ``url`` answers 200; return the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return time.monotonic() - start
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} not ready within {deadline}s")


@dataclass
class Daemon:
    """``sloguard run`` on a fixed port and data dir, restartable."""

    procs: Processes
    settings: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None
    starts: list[float] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        args = [sys.executable, "-m", "sloguard", "run", "--config", str(self.settings)]
        self.proc = self.procs.start("sloguard", args, {"SOAK_HOOK_SECRET": SECRET})
        self.starts.append(time.monotonic())
        return wait_http(f"{self.base}/healthz", self.proc)

    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=15)

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


@dataclass
class Prometheus:
    """The Debian ``prometheus`` scraping the daemon every second; stoppable, same port."""

    procs: Processes
    exe: str
    root: Path
    target: str
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        config = self.root / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            f"scrape_configs:\n  - job_name: sloguard\n    static_configs: "
            f"[{{targets: ['{self.target}']}}]\n",
            encoding="utf-8",
        )
        data, listen = self.root / "prometheus-data", f"127.0.0.1:{self.port}"
        args = [self.exe, f"--config.file={config}", f"--storage.tsdb.path={data}"]
        args.append(f"--web.listen-address={listen}")
        self.proc = self.procs.start("prometheus", args)
        return wait_http(f"{self.url}/-/ready", self.proc)

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(timeout=30)


# --- load --------------------------------------------------------------------------------------


def burner_events(bad: bool, n: int = 20) -> bytes:
    """``n`` agent calls of the burning agent: half of them fail while ``bad``."""
    events = [
        {
            "type": "agent_call",
            "agent": BURNER,
            "status": "error" if bad and i % 2 else "success",
            "duration_seconds": 0.2,
        }
        for i in range(n)
    ]
    return json.dumps({"events": events}).encode()


def adversarial_batches(batch: int = 1000) -> Iterator[bytes]:
    """Defect 1's label load: 60k tool events (200 agents × 300 tools) and 100k usage events
    (200 agents × 500 models), ``batch`` events per body."""
    events: list[dict[str, Any]] = []
    for a in range(200):
        for t in range(300):
            events.append({"type": "tool_call", "agent": f"agent-{a}", "tool": f"tool-{t}",
                           "status": "success", "duration_seconds": 0.1})  # fmt: skip
            if len(events) == batch:
                yield json.dumps({"events": events}).encode()
                events = []
    for a in range(200):
        for m in range(500):
            events.append({"type": "usage", "agent": f"agent-{a}", "model": f"model-{m}",
                           "input_tokens": 5, "output_tokens": 5})  # fmt: skip
            if len(events) == batch:
                yield json.dumps({"events": events}).encode()
                events = []
    if events:
        yield json.dumps({"events": events}).encode()


def trace_body(kind: str, first: int, n: int = 10) -> tuple[str, bytes, str]:
    """(path, body, content type) of ``n`` workload traces from index ``first``."""
    specs = [trace_spec(first + i) for i in range(n)]
    if kind == "a2a":
        return "/v1/a2a/traces", a2a_body(specs), "application/json"
    return "/v1/traces", otlp_body(specs), "application/x-protobuf"


@dataclass
class Timings:
    """Latencies (seconds) by kind, and failures (no answer or not 2xx) by kind."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    seconds: dict[str, list[float]] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)

    def timed(
        self, kind: str, call: Callable[..., httpx.Response], *args: Any, **kwargs: Any
    ) -> httpx.Response | None:
        """``call(*args, **kwargs)``, timed as ``kind``; None when there was no answer."""
        start = time.perf_counter()
        try:
            answer: httpx.Response | None = call(*args, **kwargs)
        except httpx.HTTPError:
            answer = None
        took = time.perf_counter() - start
        with self.lock:
            if answer is not None and answer.is_success:
                self.seconds.setdefault(kind, []).append(took)
            else:
                self.failures[kind] = self.failures.get(kind, 0) + 1
        return answer


# --- samples -----------------------------------------------------------------------------------


def rss_bytes(pid: int) -> int | None:
    """VmRSS of ``pid`` in bytes (None once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def disk_use(data: Path) -> dict[str, int]:
    """Bytes of each file directly in ``data`` (SQLite files with their WAL and SHM)."""
    try:
        return {p.name: p.stat().st_size for p in data.iterdir() if p.is_file()}
    except OSError:
        return {}


def outbox(data: Path) -> list[tuple[str, str, int, str, float, float | None]]:
    """(id, state, attempts, receiver, created_at, done_at) of every outbox row, read without
    disturbing the daemon."""
    path = data / "alerts.sqlite"
    if not path.exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        sql = "SELECT id, state, attempts, receiver, created_at, done_at FROM outbox"
        return list(db.execute(sql))
    finally:
        db.close()


def rss_report(rss: list[tuple[float, int, int]], duration: float, loaded: float) -> dict[str, Any]:
    """RSS of the last process: the median over 10 % of the run after warm-up (20 % of the run,
    or until the label load is in, at ``loaded``) vs the median over the last 10 % and the max."""
    last = max((g for _, g, _ in rss), default=0)
    samples = [(t, b) for t, g, b in rss if g == last]
    start = max(0.2 * duration, loaded)
    after = [b for t, b in samples if t >= start]
    warm = [b for t, b in samples if start <= t <= start + 0.1 * duration]
    tail = [b for t, b in samples if t >= 0.9 * duration]
    first = [b for _, g, b in rss if g == 1]
    if not (after and warm and tail):
        return {"samples": len(samples)}
    base, end, mib = statistics.median(warm), statistics.median(tail), 2**20
    step = max(1, len(samples) // 24)
    return {
        "samples": len(samples),
        "process": last,
        "warm_from_s": round(start),
        "first_process_max_mib": round(max(first) / mib, 1),
        "warm_mib": round(base / mib, 1),
        "end_mib": round(end / mib, 1),
        "max_after_warmup_mib": round(max(after) / mib, 1),
        "end_over_warm": round(end / base, 3),
        "max_over_warm": round(max(after) / base, 3),
        "over_time_mib": [(round(t), round(b / mib, 1)) for t, b in samples[::step]],
    }


def disk_report(disk: list[tuple[float, dict[str, int]]]) -> dict[str, Any]:
    """Peak bytes of each store (with its WAL) and of the data dir, the end, and the limits."""

    def part(files: dict[str, int], stem: str) -> int:
        return sum(size for name, size in files.items() if name.startswith(stem))

    peaks: dict[str, int] = {}
    for _, files in disk:
        for stem in ("traces.sqlite", "samples.sqlite", "alerts.sqlite"):
            peaks[stem] = max(peaks.get(stem, 0), part(files, stem))
        peaks["total"] = max(peaks.get("total", 0), sum(files.values()))
    last = disk[-1][1] if disk else {}
    return {"peak_bytes": peaks, "end_bytes": sum(last.values()), **LIMITS}


def log_report(log: Path) -> dict[str, Any]:
    """Lines of the daemon's JSON log by level, and tracebacks."""
    levels: Counter[str] = Counter()
    tracebacks = 0
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        tracebacks += "Traceback" in line
        try:
            levels[str(json.loads(line).get("level"))] += 1
        except (ValueError, AttributeError):
            levels["not json"] += 1
    return {"levels": dict(levels), "tracebacks": tracebacks}


def arrival_order(alerts: list[dict[str, Any]]) -> dict[str, int]:
    """``out_of_order``: alerts (in arrival order) older, by (``startsAt``, firing < resolved),
    than one of their fingerprint that came before; ``stale_last``: fingerprints whose last
    delivery is not their newest transition (the receiver is left in a wrong state)."""
    newest: dict[str, tuple[str, int]] = {}
    last: dict[str, tuple[str, int]] = {}
    late = 0
    for a in alerts:
        key = (a["startsAt"], 0 if a["status"] == "firing" else 1)
        fp = a["fingerprint"]
        late += fp in newest and key < newest[fp]
        newest[fp] = max(newest.get(fp, key), key)
        last[fp] = key
    return {"out_of_order": late, "stale_last": sum(last[fp] != newest[fp] for fp in last)}


def delay_report(rows: list[tuple[str, str, int, str, float, float | None]]) -> dict[str, Any]:
    """Seconds from a notification's commit to its delivery, and the most attempts one took."""
    waits = [done - created for _, state, _, _, created, done in rows if done is not None]
    return {
        "commit_to_delivery": percentiles(waits),
        "max_attempts": max((r[2] for r in rows), default=0),
    }


def percentiles(values: list[float]) -> dict[str, float | int | None]:
    """n, p50, p95, p99 and max (milliseconds) of ``values`` (seconds)."""
    if not values:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {"n": len(ordered), "p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99),
            "max_ms": round(ordered[-1] * 1000, 1)}  # fmt: skip


def kill_tree_on_term() -> None:
    """SIGTERM and SIGINT (even when inherited as ignored) end the soak with KeyboardInterrupt."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def machine_extra() -> dict[str, Any]:
    """Memory of the machine, for the report."""
    pages = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {"memory_gib": round(pages / 2**30, 1)}
