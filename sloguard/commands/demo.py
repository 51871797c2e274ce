"""``sloguard demo``: the all-in-one daemon plus a synthetic multi-agent workload."""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from sloguard.commands import Command, add_web_config_argument


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9464, help="HTTP port (default: 9464)")
    parser.add_argument("--data-dir", metavar="D", help="state directory (default: a temp dir)")
    add_web_config_argument(parser)
    parser.add_argument(
        "--rate", type=float, default=10.0, help="customer requests per second (default: 10)"
    )
    parser.add_argument(
        "--incident-after",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds before billing starts failing (default: 60)",
    )
    parser.add_argument(
        "--incident-duration",
        type=float,
        metavar="S",
        help="seconds the incident lasts (default: until the demo stops)",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=5.0,
        metavar="S",
        help="seconds between SLO evaluations (default: 5)",
    )
    parser.add_argument(
        "--duration",
        type=float,
        metavar="S",
        help="stop after S seconds (default: run until Ctrl-C)",
    )


async def _main(args: argparse.Namespace, data_dir: Path) -> int:
    from sloguard.commands.workload import Incident, Workload, demo_routing, demo_slo_file
    from sloguard.daemon import build, serve
    from sloguard.logs import configure_logging
    from sloguard.sdk.export.exporter import TraceExporter, enable_export
    from sloguard.sdk.telemetry import set_default_telemetry
    from sloguard.settings.model import load_settings

    settings = load_settings(
        None,
        overrides={
            "host": args.host,
            "port": args.port,
            "data_dir": str(data_dir),
            "evaluation_interval": args.interval,
            "slo_files": [str(demo_slo_file())],
            "log_level": "warning",
            "log_format": "console",
            **({"web": {"config_file": args.web_config_file}} if args.web_config_file else {}),
        },
    )
    configure_logging(settings.log_level, settings.log_format)
    daemon = build(settings, routing=None if settings.routing_file else demo_routing(os.environ))
    stop = asyncio.Event()
    scheme = "https" if daemon.web is not None and daemon.web.tls is not None else "http"
    base = f"{scheme}://{args.host}:{args.port}"
    print(
        "sloguard demo: a supervisor routes requests to billing, shipping and research agents.\n"
        f"  web page:    {base}/ui/\n"
        f"  metrics:     {base}/metrics\n"
        f"  SLO status:  {base}/api/v1/slos\n"
        f"  table:       sloguard status --url {base}\n"
        f"  data:        {data_dir}\n"
        f"Billing starts failing after {args.incident_after:g}s; "
        "watch demo-agent-availability{agent_name=billing} go burning.",
        flush=True,
    )
    workload = Workload(Incident(started_at=time.monotonic()))

    async def drive() -> None:
        while not daemon.readiness.is_set():  # noqa: ASYNC110 - a threading.Event
            await asyncio.sleep(0.05)
        # The workload's finished traces go to the daemon's own ingest, as an agent's would go
        # to its sidecar, so the web page and `sloguard trace` have runs to show.
        token = settings.ingest.token
        local = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(args.host, args.host)
        exporter = TraceExporter(
            f"{scheme}://{local}:{args.port}",
            token=token.get_secret_value() if token is not None else None,
            registry=daemon.registry,
            max_delay=0.5,
        )
        set_default_telemetry(enable_export(exporter))
        try:
            await workload.run(
                rate=args.rate,
                incident_after=args.incident_after,
                incident_duration=args.incident_duration,
                stop=stop,
            )
        finally:
            await asyncio.to_thread(exporter.close, 2.0)

    async def timer() -> None:
        if args.duration is not None:
            await asyncio.sleep(args.duration)
            stop.set()

    driver, countdown = asyncio.create_task(drive()), asyncio.create_task(timer())
    try:
        await serve(daemon, until=stop)
    finally:
        stop.set()
        countdown.cancel()  # stopped early (SIGTERM, Ctrl-C): do not sit out --duration
        await asyncio.gather(driver, countdown, return_exceptions=True)
    return 0


def _demo(args: argparse.Namespace) -> int:
    if args.data_dir:
        return asyncio.run(_main(args, Path(args.data_dir)))
    with tempfile.TemporaryDirectory(prefix="sloguard-demo-") as tmp:
        return asyncio.run(_main(args, Path(tmp)))


DEMO = Command(
    name="demo",
    summary="run the all-in-one daemon with a synthetic multi-agent workload and an incident",
    examples=(
        "sloguard demo",
        "sloguard demo --port 9465 --incident-after 30 --duration 300",
    ),
    add_arguments=_add_arguments,
    handler=_demo,
)
