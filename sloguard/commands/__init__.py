"""The ``sloguard`` subcommands: one module per command, each exporting one :class:`Command`.

Adding a command is a new module here plus one entry in ``sloguard.cli.COMMANDS``.

May import every package below it (``daemon``, ``settings``, ``rules``, ``web`` …); only
``cli`` imports it.
"""

from __future__ import annotations

import argparse
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
        parser.set_defaults(handler=self.handler)
        return parser
