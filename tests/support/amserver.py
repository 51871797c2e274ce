"""A real Alertmanager for tests (Debian's ``prometheus-alertmanager``) on a free loopback port.

Not a test module. :func:`start_alertmanager` writes a configuration whose single route sends
every alert to one webhook receiver URL (a :class:`tests.support.webhookreceiver.WebhookReceiver`),
starts the binary with clustering disabled, waits for ``/-/ready`` and stops it on exit,
writing its log to stderr when the block fails.

What Alertmanager 0.25 (Debian) does, found by trying:

- ``--cluster.listen-address=`` (empty) disables the gossip cluster. With it on, a lone
  Alertmanager first waits for the cluster to "settle" before sending any notification.
- ``group_wait: 0s`` sends the first notification of a group as soon as the alert arrives; a
  resolved alert reaches the webhook at the group's next ``group_interval`` tick, and only when
  the receiver has ``send_resolved: true``.
- ``GET /api/v2/alerts`` lists only alerts whose ``endsAt`` is still ahead: a resolved alert
  disappears from it at once.
- It writes times with Go's RFC 3339 (``RFC3339Nano``), trimming trailing zeros
  (``…23.33Z``, ``…23Z``): compare parsed times, not strings.
- ``--web.external-url`` sets the ``externalURL`` of its webhook bodies (default: the host name).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.promserver import binary, run_server

CONFIG = """\
route:
  receiver: hook
  group_by: [alertname, slo]
  group_wait: {group_wait}
  group_interval: {group_interval}
  repeat_interval: {repeat_interval}
receivers:
  - name: hook
    webhook_configs:
      - url: {url!r}
        send_resolved: true
"""


def alertmanager_binary() -> str:
    """Path of ``prometheus-alertmanager`` (fail under CI, else skip, when missing)."""
    return binary("prometheus-alertmanager", "prometheus-alertmanager")


@contextmanager
def start_alertmanager(
    tmp_path: Path,
    webhook_url: str,
    *,
    group_wait: str = "0s",
    group_interval: str = "1s",
    repeat_interval: str = "1h",
    ready_timeout: float = 30.0,
) -> Iterator[str]:
    """Run Alertmanager on 127.0.0.1 (a free port) until the block exits; yield its base URL.

    Every alert goes to ``webhook_url`` (``send_resolved: true``), grouped by alertname and slo.
    """
    exe = alertmanager_binary()
    run_dir = Path(tempfile.mkdtemp(prefix="alertmanager-", dir=tmp_path))
    config = run_dir / "alertmanager.yml"
    config.write_text(
        CONFIG.format(
            url=webhook_url,
            group_wait=group_wait,
            group_interval=group_interval,
            repeat_interval=repeat_interval,
        ),
        encoding="utf-8",
    )
    log = run_dir / "alertmanager.log"

    def args(base_url: str) -> list[str]:
        return [
            exe,
            f"--config.file={config}",
            f"--storage.path={run_dir / 'data'}",
            f"--web.listen-address={base_url.removeprefix('http://')}",
            f"--web.external-url={base_url}",
            "--cluster.listen-address=",
            "--log.level=debug",
        ]

    with run_server("Alertmanager", args, log, run_dir, ready_timeout) as base_url:
        yield base_url
