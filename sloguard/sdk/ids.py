"""Identifiers of traces and steps."""

from __future__ import annotations

import random

_getrandbits = random.getrandbits


def new_id() -> str:
    """Return a fresh random identifier (32 hex digits, W3C trace-id sized).

    Like OpenTelemetry's id generator this uses ``random.getrandbits``: ids must be unique,
    not secret, and ``uuid4`` (a system call per id) was a third of a step's cost.
    """
    return "%032x" % _getrandbits(128)  # noqa: UP031 - fastest formatting here
