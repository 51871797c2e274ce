"""A misbehaving HTTP server on 127.0.0.1 for the size and deadline limits of outbound calls.

Not a test module: the source and receiver tests use it. Every request is answered with a
status and headers at once, then a body that never ends: ``flood`` writes 1 MiB chunks as
fast as the client takes them, ``trickle`` one byte every ``every`` seconds (so a per-read
timeout never fires). A response stops when the client hangs up or after ``lifetime``
seconds, so the server always stops by itself. ``tls`` serves https with that context.

Example::

    with HostileServer("trickle", every=0.2) as server:
        ...  # point a client at server.url
    assert server.requests == 1
"""

from __future__ import annotations

import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal

CHUNK = 1024 * 1024
Mode = Literal["flood", "trickle"]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    hostile: HostileServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test output is not the place for access lines."""

    def _answer(self) -> None:
        hostile = self.server.hostile
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        with hostile.lock:
            hostile.requests += 1
            hostile.open += 1
        self.send_response(hostile.status)
        self.send_header("Content-Type", hostile.content_type)
        if hostile.declared is not None:
            self.send_header("Content-Length", str(hostile.declared))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        until = time.monotonic() + hostile.lifetime
        piece = b"x" * CHUNK if hostile.mode == "flood" else b" "
        try:
            while time.monotonic() < until and not hostile.stopping.is_set():
                self.wfile.write(piece)
                self.wfile.flush()
                with hostile.lock:
                    hostile.sent += len(piece)
                if hostile.mode == "trickle":
                    hostile.stopping.wait(hostile.every)
        except OSError:  # the client hung up: what a bounded client does
            pass
        finally:
            with hostile.lock:
                hostile.open -= 1

    do_GET = do_POST = _answer


class HostileServer:
    """Answer every request with ``status`` and a body that never ends (see the module doc).

    ``declared`` sends that ``Content-Length`` (a lie when bigger than what is sent in
    ``lifetime``); ``requests`` and ``sent`` (bytes) count what happened, ``open`` the answers
    still being written (a client still reading).
    """

    def __init__(
        self,
        mode: Mode,
        *,
        status: int = 200,
        content_type: str = "application/json",
        every: float = 0.2,
        lifetime: float = 5.0,
        declared: int | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.mode = mode
        self.status = status
        self.content_type = content_type
        self.every = every
        self.lifetime = lifetime
        self.declared = declared
        self.requests = 0
        self.sent = 0
        self.open = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.hostile = self
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        host, port = self._server.server_address[:2]
        self.url = f"{'https' if tls else 'http'}://{host!s}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,))

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
