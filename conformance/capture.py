"""Capture what an OTLP/HTTP exporter sends, byte for byte, for the conformance test data.

A stdlib server on 127.0.0.1 that answers every ``POST /v1/traces`` with an empty
``ExportTraceServiceResponse`` (200, no body) and keeps each request body in arrival order. Point
the framework's ``OTLPSpanExporter(endpoint=capture.endpoint)`` at it, run the workload, flush the
tracer provider, then :meth:`OtlpCapture.save` writes ``export-001.pb``, ``export-002.pb``, …
into the capture's folder: the exact protobuf requests a sidecar would have received.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["OtlpCapture"]


class OtlpCapture:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self._lock = threading.Lock()
        capture = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.headers.get("content-encoding") == "gzip":
                    import gzip

                    data = gzip.decompress(data)
                with capture._lock:
                    capture.bodies.append(data)
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1/traces"

    def __enter__(self) -> OtlpCapture:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def save(self, folder: Path) -> list[Path]:
        """Write the bodies kept so far as ``export-NNN.pb`` (old captures there are removed)."""
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("export-*.pb"):
            old.unlink()
        paths = []
        with self._lock:
            for n, body in enumerate(self.bodies, 1):
                path = folder / f"export-{n:03d}.pb"
                path.write_bytes(body)
                paths.append(path)
        return paths
