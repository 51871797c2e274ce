"""Real VictoriaMetrics (single node, Debian ``victoria-metrics``) for tests, on loopback.

Not a test module: tests import these helpers and wrap them in fixtures, as with
``tests/support/promserver.py``.

What VictoriaMetrics 1.79 (Debian) needs, found by trying:

- History is written with ``POST /api/v1/import/prometheus`` (exposition text with a
  **millisecond** timestamp per sample) and becomes searchable after
  ``GET /internal/force_flush``.
- By default it hides the newest 30 s of data from queries (``-search.latencyOffset``) and
  caches query answers; tests turn both off so an answer depends only on what was written.
- It scrapes with a Prometheus configuration, but refuses fields it does not know (a global
  ``evaluation_interval``) unless ``-promscrape.config.strictParse=false``.
- It answers Prometheus's ``/-/ready`` and the query API at the same paths.
- ``increase`` does not extrapolate: it is the last sample minus the sample before the window
  (or the first in it when a counter starts inside, from 0). ``rate`` divides that by the time
  between those samples, not by the window: on the same data, ``rate(x[5m])`` with samples 60 s
  apart is 5× Prometheus's answer. sloguard asks for ``increase`` everywhere it counts events.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.promserver import Family, _number, binary, run_server

__all__ = ["import_families", "start_victoria", "victoria_binary"]


def victoria_binary() -> str:
    """Path of ``victoria-metrics``; fail under CI (never skip silently there), else skip."""
    return binary("victoria-metrics", "victoria-metrics")


@contextmanager
def start_victoria(
    tmp_path: Path,
    *,
    scrape_config: str | None = None,
    extra_args: Sequence[str] = (),
    ready_timeout: float = 30.0,
) -> Iterator[str]:
    """Run VictoriaMetrics on 127.0.0.1 (a free port) until the block exits; yield its URL.

    ``scrape_config`` (Prometheus's format) makes it scrape like a Prometheus would.
    """
    exe = victoria_binary()
    run_dir = Path(tempfile.mkdtemp(prefix="victoria-", dir=tmp_path))
    log = run_dir / "victoria.log"
    scrape: list[str] = []
    if scrape_config is not None:
        config = run_dir / "scrape.yml"
        config.write_text(scrape_config, encoding="utf-8")
        # Prometheus's global evaluation_interval is unknown to it: a fatal error unless told
        scrape = [f"-promscrape.config={config}", "-promscrape.config.strictParse=false"]

    def args(base_url: str) -> list[str]:
        return [
            exe,
            f"-storageDataPath={run_dir / 'data'}",
            f"-httpListenAddr={base_url.removeprefix('http://')}",
            "-retentionPeriod=100y",
            "-search.latencyOffset=0s",
            "-search.disableCache",
            "-loggerLevel=ERROR",
            *scrape,
            *extra_args,
        ]

    with run_server("VictoriaMetrics", args, log, run_dir, ready_timeout) as base_url:
        yield base_url


def import_families(base_url: str, families: Iterable[Family]) -> int:
    """Write every sample of ``families`` and make it searchable; return the sample count."""
    lines = []
    for fam in families:
        for s in fam.series:
            inner = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            head = f"{s.name}{{{inner}}}" if inner else s.name
            lines += [f"{head} {_number(v)} {int(ts * 1000)}" for ts, v in s.samples]
    with httpx.Client(base_url=base_url, timeout=30) as client:
        answer = client.post("/api/v1/import/prometheus", content="\n".join(lines) + "\n")
        if answer.status_code >= 300:
            pytest.fail(f"VictoriaMetrics refused the import: {answer.status_code} {answer.text}")
        client.get("/internal/force_flush").raise_for_status()
    return len(lines)
