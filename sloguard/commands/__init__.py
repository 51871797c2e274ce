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
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO, TypeAlias

from sloguard.errors import ConfigError, SloguardError

__all__ = [
    "EXIT_CLOSED_PIPE",
    "Command",
    "CommandFailed",
    "add_web_config_argument",
    "failure_document",
    "quiet_on_closed_pipe",
    "report_failure",
    "reporting_failures",
]

if TYPE_CHECKING:
    #: What ``ArgumentParser.add_subparsers()`` returns.
    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


class CommandFailed(SloguardError):
    """A command could not do its work (a daemon unreachable, an unknown id, a bad option).

    The CLI prints the message (``sloguard: …`` on stderr, or a JSON error object with
    ``--json``) and exits with status 1; a handler raises it instead of printing.
    """


@dataclass(frozen=True, slots=True)
class Command:
    """One subcommand: its name, one-line summary, examples, arguments and handler.

    ``handler`` returns the exit status (0 ok, 1 problems); it may raise ``ConfigError`` or
    :class:`CommandFailed`, which the CLI reports (:func:`report_failure`) with status 1.
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


def failure_document(exc: SloguardError) -> dict[str, Any]:
    """The JSON error object of a failed command (what ``--json`` prints).

    Example::

        failure_document(CommandFailed("cannot read http://127.0.0.1:9464/api/v1/slos: …"))
        # {"error": "cannot read …", "problems": []}
    """
    if isinstance(exc, ConfigError):
        problems = [
            {"file": p.file, "line": p.line, "field": p.field, "message": p.message}
            for p in exc.problems
        ]
        count = len(problems)
        first = str(exc.problems[0]) if exc.problems else "invalid input"
        more = f" (and {count - 1} more problem(s))" if count > 1 else ""
        return {"error": first + more, "problems": problems}
    return {"error": str(exc), "problems": []}


def report_failure(
    exc: SloguardError, *, as_json: bool, out: TextIO | None = None, err: TextIO | None = None
) -> None:
    """Print a failed command's error: with ``as_json`` one JSON object on ``out`` (stdout, where
    the command's JSON would have gone), otherwise readable lines on ``err`` (stderr): a
    ``ConfigError`` one problem per line (``file:line: field: message``), others
    ``sloguard: message``."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    try:
        if as_json:
            print(json.dumps(failure_document(exc), indent=2, ensure_ascii=False), file=out)
            out.flush()
        elif isinstance(exc, ConfigError):
            for problem in exc.problems:
                print(problem, file=err)
        else:
            print(f"sloguard: {exc}", file=err)
    except BrokenPipeError:  # the reader is gone: nobody is left to tell
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        os.close(devnull)


def reporting_failures(
    handler: Callable[[argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    """Wrap ``handler`` so that a :class:`~sloguard.errors.SloguardError` it raises is reported
    (:func:`report_failure`, as JSON when ``args.json``) and becomes exit status 1, also when the
    handler is called without the CLI around it."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except SloguardError as exc:
            report_failure(exc, as_json=bool(getattr(args, "json", False)))
            return 1

    return run
