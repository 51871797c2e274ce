"""``sloguard run``: the daemon (exporter, evaluator or both) until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
from typing import Any

from sloguard.commands import Command, add_web_config_argument
from sloguard.settings.sections import Mode

#: Flags that override settings, by settings field (flags > env > file).
_OVERRIDES = ("host", "port", "mode", "data_dir")


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="FILE", help="settings YAML file (default: $SLOGUARD_CONFIG)"
    )
    parser.add_argument(
        "--mode",
        choices=[m.value for m in Mode],
        help="what to run (default: all; env SLOGUARD_MODE)",
    )
    parser.add_argument("--host", metavar="H", help="listen address (default: 127.0.0.1)")
    parser.add_argument("--port", metavar="P", type=int, help="HTTP port (default: 9464)")
    parser.add_argument(
        "--data-dir", metavar="D", help="state directory: samples, alert state, outbox"
    )
    add_web_config_argument(parser)


def _run(args: argparse.Namespace) -> int:
    from sloguard.daemon import run
    from sloguard.settings.model import load_settings

    overrides: dict[str, Any] = {
        name: getattr(args, name) for name in _OVERRIDES if getattr(args, name) is not None
    }
    if args.web_config_file is not None:
        overrides["web"] = {"config_file": args.web_config_file}
    run(load_settings(args.config, overrides=overrides))
    return 0


RUN = Command(
    name="run",
    summary="run the daemon: /metrics, ingest API and scheduled SLO evaluation",
    examples=(
        "sloguard run --config config/sloguard.yaml",
        "sloguard run --mode exporter --host 0.0.0.0 --port 9464",
        "SLOGUARD_PROMETHEUS__URL=http://prometheus:9090 sloguard run --mode evaluator",
    ),
    add_arguments=_add_arguments,
    handler=_run,
)
