"""The HTTP side of :class:`~sloguard.sdk.export.exporter.TraceExporter`: the request and its
answer.

:class:`Endpoint` checks the sidecar's URL and token once, then makes one ``POST`` per attempt
(stdlib ``http.client``, a fresh connection each time; bodies from ``gzip_min_bytes`` on are
gzipped). :func:`classify` says what an answer means:

- 2xx: delivered;
- connection errors, timeouts, 5xx, 408, 425 and 429: retry, after the ``Retry-After`` when one
  is given (:func:`retry_after`);
- anything else is permanent: 401/403 ``unauthorized``, 413 ``too_large``, 400/422 ``invalid``,
  any other ``rejected``.

Every failed attempt names its ``reason`` of ``sloguard_sdk_export_failures_total``
(:data:`FAILURE_REASONS`). :func:`encode_trace` writes one trace in the flat shape the sidecar's
``POST /v1/a2a/traces`` reads. The URL and the token reach no ``repr``, log line or message.

Example::

    endpoint = Endpoint("http://127.0.0.1:9464", token=token)
    one = encode_trace(trace, len(trace.steps), mark_recorded=True)
    body, headers = endpoint.prepare(b'{"traces":[' + one + b"]}")
    answer = endpoint.post(body, headers, timeout=10.0)   # answer.retry, answer.reason
"""

from __future__ import annotations

import email.utils
import gzip
import http.client
import json
import math
import ssl
import time
import urllib.parse
from collections.abc import Mapping
from datetime import UTC
from typing import Final

from sloguard.conventions import A2A_METRICS_RECORDED_ATTR
from sloguard.sdk.trace import ResponseTrace

__all__ = [
    "DEFAULT_PATH",
    "FAILURE_REASONS",
    "Answer",
    "Endpoint",
    "classify",
    "encode_trace",
    "retry_after",
]

#: Path posted to when the URL has none (the sidecar's A2A trace ingest).
DEFAULT_PATH: Final = "/v1/a2a/traces"
#: ``reason`` values of ``sloguard_sdk_export_failures_total`` (one per failed attempt).
FAILURE_REASONS: Final = ("connection", "throttled", "server_error", "client_error")
_RETRY_STATUSES: Final = frozenset({408, 425, 429})
_PERMANENT: Final = {
    401: "unauthorized",
    403: "unauthorized",
    413: "too_large",
    400: "invalid",
    422: "invalid",
}
_MAX_ANSWER: Final = 64 * 1024  # bytes of an answer body read (to log a 422's problems)


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay-seconds or an HTTP date), or None."""
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # "-0000": UTC, not local time
            when = when.replace(tzinfo=UTC)
        return max(0.0, when.timestamp() - now)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def encode_trace(trace: ResponseTrace, steps: int, *, mark_recorded: bool) -> bytes:
    """Return the first ``steps`` steps of ``trace`` as compact flat-shape JSON.

    With ``mark_recorded`` every root step (no parent in the trace) carries
    ``sloguard.metrics_recorded: true``. Raises ValueError when the trace is not valid JSON.
    """
    dicts = [s.as_dict() for s in trace.steps[:steps]]
    if mark_recorded:
        ids = {d["step_id"] for d in dicts}
        for d in dicts:
            if d["parent_step_id"] not in ids:  # as_dict() made a fresh attribute dict
                d["additional_attributes"][A2A_METRICS_RECORDED_ATTR] = True
    data = {"trace_id": trace.trace_id, "steps": dicts}
    return json.dumps(data, separators=(",", ":"), default=str, allow_nan=False).encode()


class Answer:
    """One attempt's outcome: ok, retry (after ``after`` s when the server said) or permanent.

    ``failure``: the ``reason`` label of ``sloguard_sdk_export_failures_total`` this attempt
    counts as (None when delivered).
    """

    __slots__ = ("after", "detail", "failure", "reason", "retry")

    def __init__(
        self,
        retry: bool,
        reason: str | None,
        detail: str = "",
        after: float | None = None,
        failure: str | None = None,
    ) -> None:
        self.retry, self.reason, self.detail, self.after = retry, reason, detail, after
        self.failure = failure


_OK: Final = Answer(False, None)


def classify(status: int, after: str | None, text: str, now: float) -> Answer:
    """Return what the answer ``status`` (``Retry-After`` ``after``, body ``text``) means."""
    if 200 <= status < 300:
        return _OK
    detail = f"HTTP {status}: {' '.join(text.split())[:500]}"
    if status in _RETRY_STATUSES or 500 <= status < 600:
        failure = "server_error" if status >= 500 else "throttled"
        return Answer(True, "retry", detail, retry_after(after, now), failure)
    return Answer(False, _PERMANENT.get(status, "rejected"), detail, failure="client_error")


class Endpoint:
    """The sidecar's trace ingest: one ``POST`` per :meth:`post`, the URL checked once.

    ``url``: ``http(s)://host[:port][/path]`` (without a path: :data:`DEFAULT_PATH`). ``token``:
    sent as a bearer token (None: none). ``ssl_context`` verifies an ``https`` sidecar.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        gzip_min_bytes: int = 4096,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
            raise ValueError("export URL must be http(s)://host[:port][/path]")  # no URL: secrets
        bare = token.strip() if token is not None else None
        if bare is not None and not (bare and bare.isascii() and bare.isprintable()):
            raise ValueError("the export token must be printable ASCII (None: no token)")
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, port
        path = parts.path if parts.path not in ("", "/") else DEFAULT_PATH
        #: The path posted to, with the URL's query.
        self.path = f"{path}?{parts.query}" if parts.query else path
        #: ``scheme://host[:port]``: what log lines name.
        self.origin = f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port else "")
        from sloguard.version import __version__

        self._headers = {
            "Content-Type": "application/json",
            "User-Agent": f"sloguard/{__version__}",
        }
        if bare is not None:
            self._headers["Authorization"] = f"Bearer {bare}"
        self._gzip_min = gzip_min_bytes
        self._ssl = ssl_context

    def prepare(self, body: bytes) -> tuple[bytes, dict[str, str]]:
        """Return the body to send (gzipped from ``gzip_min_bytes`` on) and its headers."""
        headers = dict(self._headers)
        if len(body) >= self._gzip_min:
            body = gzip.compress(body, compresslevel=5, mtime=0)
            headers["Content-Encoding"] = "gzip"
        return body, headers

    def post(self, body: bytes, headers: Mapping[str, str], timeout: float) -> Answer:
        """Make one attempt; a connection error or timeout is an answer too (``connection``)."""
        conn: http.client.HTTPConnection
        if self._https:
            conn = http.client.HTTPSConnection(
                self._host, self._port, timeout=timeout, context=self._ssl
            )
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        try:
            conn.request("POST", self.path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read(_MAX_ANSWER).decode("utf-8", "replace")
            status, after = response.status, response.getheader("Retry-After")
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, timeout, TLS
            return Answer(True, "connection", f"{type(exc).__name__}: {exc}", failure="connection")
        finally:
            conn.close()
        return classify(status, after, text, time.time())

    def __repr__(self) -> str:
        return f"<Endpoint {self.origin}{self.path.split('?')[0]}>"
