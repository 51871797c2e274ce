"""A real webhook receiver for tests: an HTTP server on 127.0.0.1 in a thread.

Not a test module. It checks Standard Webhooks signatures with
:func:`sloguard.notify.signing.verify` (when given secrets), records every request, keeps the
accepted ones unique by ``webhook-id`` (a second accepted request with a known id goes to
``duplicates``, as a real consumer would drop it), and can be scripted to fail::

    with WebhookReceiver(secrets=["whsec_..."]) as hook:
        hook.script(429, retry_after="7")          # the next request gets 429 + Retry-After
        ... send to hook.url ...
        hook.wait_for(lambda h: len(h.deliveries) == 1, timeout=5)

Answers, in order of precedence: a scripted answer (after its delay); 401 when secrets are set
and the signature does not verify; else 200. Requests without ``webhook-id`` (Alertmanager's own
webhook notifications) are all deliveries. Every response closes its connection, so stopping the
server never waits on an idle keep-alive connection.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sloguard.notify import signing


@dataclass(frozen=True)
class Scripted:
    """One canned answer."""

    status: int
    retry_after: str | None = None
    delay: float = 0.0
    body: bytes = b""


@dataclass(frozen=True)
class Request:
    """One request the receiver got, and what it answered."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    json: Any  # None when the body is not JSON
    verified: bool | None  # None: no secrets configured, nothing checked
    error: str | None  # why verification failed
    status: int  # the status answered

    @property
    def webhook_id(self) -> str | None:
        return self.headers.get(signing.ID_HEADER)


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins the handler threads
    receiver: WebhookReceiver

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout) makes the answer fail to send; that is expected."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 5.0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, answer = self.server.receiver._handle(self.command, self.path, headers, body)
        if status is None:  # stopping while delayed: just drop the connection
            self.close_connection = True
            return
        self.send_response(status)
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(answer)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(answer)
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class WebhookReceiver:
    """Context manager: a recording, verifying, scriptable webhook endpoint at ``.url``."""

    def __init__(
        self,
        secrets: Sequence[str] = (),
        *,
        clock: Callable[[], float] = time.time,
        tolerance: float = signing.TOLERANCE,
    ) -> None:
        self.secrets = tuple(secrets)
        self.requests: list[Request] = []
        self.deliveries: list[Request] = []
        self.duplicates: list[Request] = []
        #: the parsed body of every request as it arrives, before any scripted delay: a
        #: request is "in flight" from here until it is in ``requests``
        self.arrived: list[Any] = []
        self._clock = clock
        self._tolerance = tolerance
        self._scripted: deque[Scripted] = deque()
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.receiver = self
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,))

    def script(
        self,
        status: int,
        count: int = 1,
        *,
        retry_after: str | None = None,
        delay: float = 0.0,
        body: bytes = b"",
    ) -> None:
        """Answer the next ``count`` requests with ``status`` (after ``delay`` seconds)."""
        with self._changed:
            self._scripted.extend([Scripted(status, retry_after, delay, body)] * count)

    def unscript(self) -> None:
        """Drop the remaining canned answers: answer normally from now on."""
        with self._changed:
            self._scripted.clear()

    def wait_for(self, done: Callable[[WebhookReceiver], bool], timeout: float) -> None:
        """Block until ``done(self)`` holds; AssertionError with what arrived after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not done(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    got = [(r.status, r.json) for r in self.requests]
                    raise AssertionError(f"receiver condition not met in {timeout}s; got {got}")
                self._changed.wait(left)

    def _handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int | None, dict[str, str], bytes]:
        verified: bool | None = None
        error = None
        if self.secrets:
            try:
                signing.verify(
                    self.secrets, headers, body, now=self._clock(), tolerance=self._tolerance
                )
                verified = True
            except signing.SignatureError as exc:
                verified, error = False, str(exc)
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        with self._changed:
            self.arrived.append(parsed)
            self._changed.notify_all()
            scripted = self._scripted.popleft() if self._scripted else None
        extra: dict[str, str] = {}
        if scripted is not None:
            if scripted.delay and self._stopping.wait(scripted.delay):
                return None, {}, b""
            status, answer = scripted.status, scripted.body
            if scripted.retry_after is not None:
                extra["Retry-After"] = scripted.retry_after
        elif verified is False:
            status, answer = 401, f"signature: {error}".encode()
        else:
            status, answer = 200, b"ok"
        request = Request(method, path, headers, body, parsed, verified, error, status)
        with self._changed:
            self.requests.append(request)
            if 200 <= status < 300:
                known = {r.webhook_id for r in self.deliveries if r.webhook_id is not None}
                if request.webhook_id is not None and request.webhook_id in known:
                    self.duplicates.append(request)
                else:
                    self.deliveries.append(request)
            self._changed.notify_all()
        return status, extra, answer

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
