"""``python -m sloguard``: the ``sloguard`` command line."""

from sloguard.cli import main

raise SystemExit(main())
