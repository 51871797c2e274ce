"""OTLP for tests: a local OTLP/HTTP receiver feeding a recorder, and span trees to emit to it.

Not a test module. :func:`receiving` serves a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 whose
only route calls ``handle_otlp`` the way the daemon's router does; :func:`exporting` gives a
tracer provider whose batches reach it by the real OTLP/HTTP exporter, one request per
:func:`flush`. :class:`S` and its shorthands (``agent``, ``tool``, ``workflow``, ``span``) describe
span trees that :func:`emit` starts and ends at fixed times after :data:`T0`.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.util.types import AttributeValue

from sloguard.ingest.otlp import JSON, export_response, handle_otlp, media_type
from sloguard.sdk.recorder import Recorder

T0 = 1_700_000_000_000_000_000  # epoch nanoseconds of every test trace's start


# --- the receiver ------------------------------------------------------------------------------
@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes


@dataclass
class Receiver:
    """A local OTLP/HTTP endpoint feeding ``recorder``; keeps every answer it gave."""

    recorder: Recorder
    url: str = ""
    answers: list[Answer] = field(default_factory=list)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            content_type = self.headers.get("Content-Type") or ""
            if self.path != "/v1/traces":
                self._answer(404, JSON, b"{}")
            elif media_type(content_type) is None:
                self._answer(415, JSON, json.dumps({"problems": ["unsupported"]}).encode())
            else:
                accepted, problems = handle_otlp(receiver.recorder, body, content_type)
                if problems:
                    payload = json.dumps({"problems": list(problems)}).encode()
                    self._answer(400, JSON, payload)
                else:
                    assert accepted > 0 or body in (b"", b"{}")
                    payload, response_type = export_response(content_type)
                    self._answer(200, response_type, payload)

        def _answer(self, status: int, content_type: str, body: bytes) -> None:
            receiver.answers.append(Answer(status, content_type, body))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextlib.contextmanager
def receiving(recorder: Recorder) -> Iterator[Receiver]:
    """Serve a receiver on a free port of 127.0.0.1 for the duration of the block."""
    receiver = Receiver(recorder)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    receiver.url = f"http://127.0.0.1:{server.server_port}/v1/traces"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextlib.contextmanager
def exporting(receiver: Receiver) -> Iterator[TracerProvider]:
    """A tracer provider whose batches go to ``receiver`` by the real OTLP/HTTP exporter.

    Batches leave only on ``force_flush`` (or shutdown), so one flush is one request.
    """
    provider = TracerProvider()
    exporter = OTLPSpanExporter(endpoint=receiver.url, timeout=5)
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=60_000))
    try:
        yield provider
    finally:
        provider.shutdown()


def flush(provider: TracerProvider, receiver: Receiver) -> Answer:
    before = len(receiver.answers)
    assert provider.force_flush(10_000)
    assert len(receiver.answers) == before + 1
    return receiver.answers[-1]


# --- declarative span trees --------------------------------------------------------------------
@dataclass
class S:
    """A span to emit: name, attributes, start/end seconds after T0, error status, children."""

    name: str
    attrs: Mapping[str, AttributeValue]
    start: float
    end: float
    children: list[S] = field(default_factory=list)
    error: bool = False
    kind: SpanKind = SpanKind.INTERNAL


def emit(tracer: Tracer, spec: S, parent: Span | None = None) -> Span:
    context = trace.set_span_in_context(parent) if parent is not None else None
    span = tracer.start_span(
        spec.name,
        context=context,
        kind=spec.kind,
        attributes=spec.attrs,
        start_time=T0 + round(spec.start * 1e9),
    )
    for child in spec.children:
        emit(tracer, child, span)
    if spec.error:
        span.set_status(Status(StatusCode.ERROR, "failed"))
    span.end(end_time=T0 + round(spec.end * 1e9))
    return span


def dotted(attrs: Mapping[str, AttributeValue]) -> dict[str, AttributeValue]:
    """``gen_ai__agent__name=...`` keyword arguments → ``{"gen_ai.agent.name": ...}``."""
    return {k.replace("__", "."): v for k, v in attrs.items()}


def op(operation: str, **attrs: AttributeValue) -> dict[str, AttributeValue]:
    return {"gen_ai.operation.name": operation, **dotted(attrs)}


def span(
    name: str,
    attrs: Mapping[str, AttributeValue],
    start: float,
    end: float,
    *children: S,
    error: bool = False,
) -> S:
    return S(name, attrs, start, end, list(children), error)


def agent(name: str, start: float, end: float, *children: S, error: bool = False,
          **attrs: AttributeValue) -> S:  # fmt: skip
    attributes = op("invoke_agent", gen_ai__agent__name=name, **attrs)
    return span(f"invoke_agent {name}", attributes, start, end, *children, error=error)


def tool(name: str, start: float, end: float, **attrs: AttributeValue) -> S:
    return span(f"execute_tool {name}", op("execute_tool", gen_ai__tool__name=name, **attrs),
                start, end)  # fmt: skip


def workflow(name: str, start: float, end: float, *children: S) -> S:
    attributes = op("invoke_workflow", gen_ai__workflow__name=name)
    return span(f"invoke_workflow {name}", attributes, start, end, *children)
