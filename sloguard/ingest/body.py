"""Read an ingest request body safely: bounded size, bounded nesting, JSON errors located.

- :func:`read_body` stops keeping the body as soon as it passes the limit (a declared
  ``Content-Length`` above it is refused before reading; chunked bodies are counted as they
  arrive) and inflates ``Content-Encoding: gzip`` under the same limit (no zip bombs). A body
  refused for its declared ``Content-Length`` is read on and thrown away, up to
  :data:`DRAIN_BYTES` and :data:`DRAIN_SECONDS`, before the 413 goes out: a client that writes
  its whole body before it reads (Python's urllib, which the SDK exporter uses) would otherwise
  get a connection reset, not the status. A chunked body is cut off at the limit (its clients
  stream, and read the answer while they send).
- :func:`json_depth` measures nesting without recursion over the raw bytes, so a body like
  ``[[[[…]]]]`` a million levels deep is refused before any parser or validator sees it.
- :func:`decode_json` parses with orjson and names the line, column and byte of a syntax error.

Example::

    raw = await read_body(request, max_bytes=4 << 20)
    data = decode_json(raw, max_depth=64)
"""

from __future__ import annotations

import asyncio
import email.message
import re
import zlib
from collections.abc import AsyncIterator
from itertools import accumulate
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request

from sloguard.ingest.problems import Rejected, Result

_ESCAPE = re.compile(rb"\\.", re.DOTALL)
#: Every byte but quotes and brackets, deleted by ``bytes.translate``.
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
_STRING = re.compile(rb'"[^"]*"')
#: Nesting change per byte value: +1 for ``[`` and ``{``, -1 for ``]`` and ``}``.
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1
_PLAIN_JSON = frozenset({"application/json", "application/json; charset=utf-8"})
#: At most this much of a refused body is read (and thrown away) before the 413 is sent.
DRAIN_BYTES = 16 * 1024 * 1024
#: ... and for at most this long: a client trickling bytes does not hold the handler.
DRAIN_SECONDS = 5.0


def json_depth(raw: bytes) -> int:
    """Return the deepest nesting of arrays/objects in ``raw`` (0 for a scalar), iteratively.

    Escapes go first (so an escaped quote cannot end a string), then every byte but quotes and
    brackets, then strings; what is left are the brackets, counted in C (``accumulate``).

    Strings go cheaply when the quotes pair up (any JSON document): deleting two adjacent quotes
    deletes an empty string or the gap between two strings, so it never moves a bracket in or
    out of a string; what is left of the strings is then every other piece between quotes.
    """
    if b"\\" in raw:
        raw = _ESCAPE.sub(b"", raw)
    structure = raw.translate(None, _NOT_STRUCTURE)
    if structure.count(b'"') % 2:  # an unterminated string: not JSON, but measured the same
        brackets = _STRING.sub(b"", structure)
    else:
        brackets = structure.replace(b'""', b"")
        if b'"' in brackets:
            brackets = b"".join(brackets.split(b'"')[::2])
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def decode_json(raw: bytes, *, max_depth: int) -> Any:
    """Parse ``raw`` as JSON; raise :class:`Rejected` (400) naming what and where is wrong."""
    if not raw.strip():
        raise Rejected.malformed("empty body: expected a JSON document")
    depth = json_depth(raw)
    if depth > max_depth:
        raise Rejected.malformed(f"JSON nested {depth} levels deep; at most {max_depth} allowed")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Rejected.malformed(
            f"invalid JSON at line {exc.lineno}, column {exc.colno} (byte {exc.pos}): {exc.msg}"
        ) from None


def check_json_content_type(value: str | None) -> None:
    """Refuse (415) anything but ``application/json`` or ``application/*+json``.

    Requiring it also keeps browsers from posting to the ingest cross-site without a CORS
    preflight (a "simple" request cannot carry a JSON content type).
    """
    if value in _PLAIN_JSON:  # what nearly every client sends: no header parsing needed
        return
    if value:
        message = email.message.Message()
        message["content-type"] = value
        subtype = message.get_content_subtype()
        if message.get_content_maintype() == "application" and (
            subtype == "json" or subtype.endswith("+json")
        ):
            return
    raise Rejected.unsupported(
        f"Content-Type must be application/json, got {value!r}"
        if value
        else "Content-Type must be application/json (the header is missing)"
    )


async def read_body(request: Request, max_bytes: int) -> bytes:
    """Return the request body (gunzipped if so encoded); raise :class:`Rejected` past the limit.

    ``max_bytes`` bounds both what is received and what it inflates to.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        if int(declared) <= DRAIN_BYTES:
            await _drain(request.stream(), DRAIN_BYTES)
        raise Rejected.too_large(max_bytes)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip"):
        raise Rejected.unsupported(f"Content-Encoding must be gzip or identity, got {encoding!r}")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS) if encoding == "gzip" else None
    body = bytearray()
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_bytes:
                raise Rejected.too_large(max_bytes)
            if inflater is None:
                body += chunk
            else:
                body += inflater.decompress(chunk, max_bytes + 1 - len(body))
                if len(body) > max_bytes:
                    raise Rejected.too_large(max_bytes)
        if inflater is not None:
            body += inflater.flush()
            if len(body) > max_bytes:
                raise Rejected.too_large(max_bytes)
            if not inflater.eof:
                raise Rejected.malformed("gzip body is truncated")
    except zlib.error as exc:
        raise Rejected.malformed(f"gzip body cannot be inflated: {exc}") from None
    except ClientDisconnect:
        raise Rejected(400, Result.ABORTED, "the client disconnected while sending") from None
    return bytes(body)


async def _drain(chunks: AsyncIterator[bytes], budget: int) -> None:
    """Read and drop what is left of a refused body, up to ``budget`` bytes and DRAIN_SECONDS."""
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            async for chunk in chunks:
                budget -= len(chunk)
                if budget < 0:
                    return
    except (TimeoutError, ClientDisconnect):
        return
