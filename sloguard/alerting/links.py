"""URLs of the daemon's own pages, for notifications (pure).

Example::

    trace_page("https://sloguard.example.com", "4bf92f35")
    # 'https://sloguard.example.com/ui/#/traces/4bf92f35'
"""

from __future__ import annotations

from urllib.parse import quote


def trace_page(external_url: str, trace_id: str) -> str:
    """Return the web page of a stored trace under the daemon's ``external_url``."""
    return f"{external_url.rstrip('/')}/ui/#/traces/{quote(trace_id, safe='')}"
