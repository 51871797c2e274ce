"""The ``sloguard`` subcommands: one module per command, each exporting one :class:`Command`.

Adding a command is a new module here plus one entry in ``sloguard.cli.COMMANDS``. Every
command's output may go to a pipe that closes early (``sloguard status --json | head``): that
ends the command quietly, with status :data:`EXIT_CLOSED_PIPE`, not with a traceback.

May import every package below it (``daemon``, ``settings``, ``rules``, ``web`` …); only
``cli`` imports it.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    #: What ``ArgumentParser.add_subparsers()`` returns.
    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


@dataclass(frozen=True, slots=True)
class Command:
    """One subcommand: its name, one-line summary, examples, arguments and handler.

    ``handler`` returns the exit status (0 ok, 1 problems); it may raise ``ConfigError``,
    which the CLI prints one problem per line and turns into status 1.
    """

    name: str
    summary: str
    examples: tuple[str, ...]
    add_arguments: Callable[[argparse.ArgumentParser], None]
    handler: Callable[[argparse.Namespace], int]

    def register(self, subparsers: Subparsers) -> argparse.ArgumentParser:
        """Add this command's parser to ``subparsers``."""
        parser: argparse.ArgumentParser = subparsers.add_parser(
            self.name,
            help=self.summary,
            description=self.summary,
            epilog="examples:\n" + "\n".join(f"  {e}" for e in self.examples),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        self.add_arguments(parser)
        parser.set_defaults(handler=quiet_on_closed_pipe(self.handler))
        return parser


#: The status of a command whose reader closed stdout (128 + SIGPIPE, as a shell reports a
#: tool that SIGPIPE ended: ``yes | head``).
EXIT_CLOSED_PIPE = 141


def quiet_on_closed_pipe(
    handler: Callable[[argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    """Wrap ``handler`` so that a reader closing stdout early ends it quietly.

    Python ignores SIGPIPE, so the write fails with BrokenPipeError instead: in a ``print`` of
    the handler, or only when stdout is flushed at exit (output that fit in the buffer), which
    is why the handler's output is flushed here. stdout then points at /dev/null, so the
    interpreter's own last flush has nothing left to complain about.
    """

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            status = handler(args)
            sys.stdout.flush()
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            return EXIT_CLOSED_PIPE
        return status

    return run


def add_web_config_argument(parser: argparse.ArgumentParser) -> None:
    """``--web.config.file``, as Prometheus spells it (``run`` and ``demo`` serve the same web)."""
    parser.add_argument(
        "--web.config.file",
        dest="web_config_file",
        metavar="FILE",
        help="web configuration file: basic auth users and TLS, as Prometheus's (env "
        "SLOGUARD_WEB__CONFIG_FILE)",
    )
