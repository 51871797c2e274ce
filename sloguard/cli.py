"""The ``sloguard`` command line: one subcommand per module of :mod:`sloguard.commands`.

Exit status: 0 ok, 1 problems (every problem on stderr, one per line, ``file:line: field:
message``; with ``--json`` one JSON object ``{"error": …, "problems": [...]}`` on stdout
instead), 2 usage errors.
"""

from __future__ import annotations

import argparse
import sys

from sloguard.commands import Command, report_failure
from sloguard.commands.convert import CONVERT
from sloguard.commands.demo import DEMO
from sloguard.commands.rules import RULES
from sloguard.commands.run import RUN
from sloguard.commands.silence import ACK, SILENCE
from sloguard.commands.simulate import SIMULATE
from sloguard.commands.status import STATUS
from sloguard.commands.trace import TRACE
from sloguard.commands.validate import VALIDATE
from sloguard.errors import SloguardError

#: Every subcommand, in the order ``sloguard --help`` lists them.
COMMANDS: tuple[Command, ...] = (
    RUN,
    DEMO,
    VALIDATE,
    CONVERT,
    STATUS,
    SIMULATE,
    RULES,
    TRACE,
    SILENCE,
    ACK,
)

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2


def build_parser(commands: tuple[Command, ...] = COMMANDS) -> argparse.ArgumentParser:
    """Return the ``sloguard`` parser with ``commands`` registered."""
    from sloguard.version import __version__

    examples = "\n".join(f"  {e}" for cmd in commands for e in cmd.examples)
    parser = argparse.ArgumentParser(
        prog="sloguard",
        description="Keep multi-agent AI systems inside their SLOs: agent metrics,\n"
        "SLO evaluation, error budgets and burn-rate alerts.",
        epilog=f"examples:\n{examples}\n\nRun 'sloguard COMMAND --help' for a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for command in commands:
        command.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``sloguard`` command line on ``argv`` and return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(handler(args))
    except SloguardError as exc:  # ConfigError and CommandFailed included
        report_failure(exc, as_json=bool(getattr(args, "json", False)))
        return EXIT_PROBLEMS
