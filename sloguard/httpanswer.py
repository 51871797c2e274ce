"""Read an httpx answer within a byte budget: what every outbound call of the daemon uses.

Prometheus, webhook and Alertmanager answers are read through :func:`read_capped`, so an
answer that never ends (or one that declares a huge ``Content-Length``) costs at most
``limit`` bytes of memory; the caller maps ``None`` to its own error (``QueryError``, a retry).
The deadline of the whole request is the caller's (``asyncio.timeout``).

Example::

    async with client.stream("GET", url) as answer:
        body = await read_capped(answer, 1 << 20)   # None: longer than 1 MiB, not read
"""

from __future__ import annotations

import httpx


async def read_capped(answer: httpx.Response, limit: int) -> bytes | None:
    """The body of a streamed ``answer``, or None when it is (or says it is) over ``limit``."""
    declared = answer.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in answer.aiter_bytes():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)
